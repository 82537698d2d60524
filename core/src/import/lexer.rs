//! keepalived's words: whitespace-separated, with `"` or `'` quoting and
//! escapes inside quotes, `{` and `}` as words of their own, and `#` or `!`
//! starting a comment anywhere outside quotes (keepalived.conf(5), "Quoted
//! strings").

/// One word of a line, or a brace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    Word(String),
    Open,
    Close,
}

/// The line up to its comment, if any. Quotes protect `#` and `!`, as
/// keepalived reads `priority "2#0"` as the word `2#0`.
pub(super) fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' || c == '!' => return &line[..i],
            None => {}
        }
    }
    line
}

/// Splits a comment-free line into words and braces. Braces split words
/// even without spaces around them (`VI_1{` is `VI_1` then `{`), as in
/// keepalived. Fails only on an unterminated quote.
pub(super) fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    split(line, true)
}

/// Splits a script or notify command into its argv the way keepalived does:
/// unquoted whitespace separates arguments and quotes group them, so
/// `"/bin/check 'two words'"` is two arguments. Braces are ordinary here.
pub(super) fn split_command(command: &str) -> Result<Vec<String>, String> {
    Ok(split(command, false)?
        .into_iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some(w),
            Token::Open | Token::Close => None,
        })
        .collect())
}

fn split(text: &str, braces: bool) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    // The word being built; `None` between words, so that `""` is an empty word.
    let mut word: Option<String> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    tokens.push(Token::Word(w));
                }
            }
            '{' | '}' if braces => {
                if let Some(w) = word.take() {
                    tokens.push(Token::Word(w));
                }
                tokens.push(if c == '{' { Token::Open } else { Token::Close });
            }
            '"' | '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated {c} quote")),
                        Some(q) if q == c => break,
                        Some('\\') => w.push_str(&unescape(&mut chars)),
                        Some(other) => w.push(other),
                    }
                }
            }
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    if let Some(w) = word {
        tokens.push(Token::Word(w));
    }
    Ok(tokens)
}

/// The character(s) an escape inside quotes stands for; the backslash has
/// been consumed. Supports the escapes keepalived.conf(5) lists.
fn unescape(chars: &mut core::iter::Peekable<core::str::Chars<'_>>) -> String {
    let Some(c) = chars.next() else {
        return "\\".to_owned();
    };
    let simple = match c {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'E' => Some('\x1b'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        _ => None,
    };
    if let Some(s) = simple {
        return s.to_string();
    }
    match c {
        '0'..='7' => {
            let mut value = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match chars.peek().and_then(|d| d.to_digit(8)) {
                    Some(d) => {
                        value = value * 8 + d;
                        chars.next();
                    }
                    None => break,
                }
            }
            char::from_u32(value).map(String::from).unwrap_or_default()
        }
        'x' => {
            let mut value = 0u32;
            let mut digits = 0;
            while digits < 2 {
                match chars.peek().and_then(|d| d.to_digit(16)) {
                    Some(d) => {
                        value = value * 16 + d;
                        digits += 1;
                        chars.next();
                    }
                    None => break,
                }
            }
            if digits == 0 {
                return "x".to_owned();
            }
            char::from_u32(value).map(String::from).unwrap_or_default()
        }
        'c' => match chars.next() {
            Some(ctl) if ctl.is_ascii() => char::from(ctl as u8 & 0x1f).to_string(),
            Some(other) => other.to_string(),
            None => "c".to_owned(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        tokenize(line)
            .unwrap()
            .into_iter()
            .map(|t| match t {
                Token::Word(w) => w,
                Token::Open => "{".to_owned(),
                Token::Close => "}".to_owned(),
            })
            .collect()
    }

    #[test]
    fn comments_stop_outside_quotes_only() {
        assert_eq!(strip_comment("advert_int 1 # one"), "advert_int 1 ");
        assert_eq!(strip_comment("advert_int 1!one"), "advert_int 1");
        assert_eq!(strip_comment(r#"priority "2#0""#), r#"priority "2#0""#);
        assert_eq!(strip_comment(r##"x "a\"#b" # c"##), r##"x "a\"#b" "##);
    }

    #[test]
    fn quotes_group_and_are_removed() {
        assert_eq!(words(r#"abcd" efg h jkl "mnop"#), ["abcd efg h jkl mnop"]);
        assert_eq!(
            words(r#"abcd "efg h jkl" mnop"#),
            ["abcd", "efg h jkl", "mnop"]
        );
        assert_eq!(words(r#"a "" b"#), ["a", "", "b"]);
        assert_eq!(words(r#""x\ty\101\x41\cA\q""#), ["x\tyAA\u{1}q"]);
    }

    #[test]
    fn braces_split_words() {
        assert_eq!(words("vrrp_instance VI_1{"), ["vrrp_instance", "VI_1", "{"]);
        assert_eq!(words("x {1.2.3.4}"), ["x", "{", "1.2.3.4", "}"]);
        assert_eq!(words("\"{a}\""), ["{a}"]);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        assert!(tokenize("script \"/bin/true").is_err());
    }

    #[test]
    fn commands_split_like_keepalived() {
        assert_eq!(
            split_command("/usr/local/bin/vrrp.sh  BACKUP   VI_1").unwrap(),
            ["/usr/local/bin/vrrp.sh", "BACKUP", "VI_1"]
        );
        assert_eq!(
            split_command("bash -c '</dev/tcp/127.0.0.1/80'").unwrap(),
            ["bash", "-c", "</dev/tcp/127.0.0.1/80"]
        );
        assert_eq!(split_command("/bin/x {a}").unwrap(), ["/bin/x", "{a}"]);
    }
}
