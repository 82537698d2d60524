//! Wildcards in `include` patterns: `*`, `?`, `[...]` and csh-style
//! `{a,b}` braces, matched against directory listings that the caller's
//! [`Loader`] provides, so this module never touches the file system.

use std::io;
use std::path::{Path, PathBuf};

use super::Loader;

/// Brace expansion stops here: a pattern is a file name, not a generator.
const MAX_PATTERNS: usize = 256;

/// Whether an include argument needs expanding rather than reading as is.
pub(super) fn has_wildcards(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{'])
}

/// The files matching `pattern`, sorted, as glob(3) returns them. A
/// directory that does not exist matches nothing.
pub(super) fn expand<L: Loader + ?Sized>(pattern: &Path, loader: &L) -> io::Result<Vec<PathBuf>> {
    let text = pattern.to_string_lossy();
    let mut found = Vec::new();
    for one in expand_braces(&text) {
        let absolute = one.starts_with('/');
        let mut candidates = vec![if absolute {
            PathBuf::from("/")
        } else {
            PathBuf::new()
        }];
        for part in one.split('/').filter(|p| !p.is_empty()) {
            let mut next = Vec::new();
            for base in &candidates {
                if !has_wildcards(part) {
                    next.push(base.join(part));
                    continue;
                }
                let dir = if base.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    base.as_path()
                };
                let names = match loader.list(dir) {
                    Ok(names) => names,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                let mut names: Vec<String> =
                    names.into_iter().filter(|n| matches(part, n)).collect();
                names.sort();
                next.extend(names.iter().map(|n| base.join(n)));
            }
            candidates = next;
        }
        found.extend(candidates);
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// `{a,b}c` to `ac`, `bc`; nested braces work, unbalanced ones stay literal.
fn expand_braces(pattern: &str) -> Vec<String> {
    let mut done = Vec::new();
    let mut todo = vec![pattern.to_owned()];
    while let Some(p) = todo.pop() {
        if done.len() + todo.len() >= MAX_PATTERNS {
            done.push(p);
            continue;
        }
        match first_brace_group(&p) {
            Some((open, close, alternatives)) => {
                for alt in alternatives.into_iter().rev() {
                    todo.push(format!("{}{}{}", &p[..open], alt, &p[close + 1..]));
                }
            }
            None => done.push(p),
        }
    }
    done
}

/// The first balanced `{...}` containing a top-level comma, as byte offsets
/// of its braces, and its comma-separated alternatives.
fn first_brace_group(p: &str) -> Option<(usize, usize, Vec<&str>)> {
    for (open, _) in p.match_indices('{') {
        let mut depth = 0usize;
        let mut commas = Vec::new();
        for (i, c) in p[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        if commas.is_empty() {
                            break;
                        }
                        let close = open + i;
                        let mut alts = Vec::new();
                        let mut start = open + 1;
                        for comma in commas {
                            alts.push(&p[start..comma]);
                            start = comma + 1;
                        }
                        alts.push(&p[start..close]);
                        return Some((open, close, alts));
                    }
                }
                ',' if depth == 1 => commas.push(open + i),
                _ => {}
            }
        }
    }
    None
}

/// Shell-style matching of one path component. As in glob(3), a leading
/// `.` must be matched literally, so `*` skips hidden files.
pub(super) fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with one backtrack point for the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => class(&p, pi, n[ni]),
            Some('\\') if pi + 1 < p.len() => (p[pi + 1] == n[ni]).then_some(pi + 2),
            Some(&c) => (c == n[ni]).then_some(pi + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                pi = next;
                ni += 1;
            }
            (None, Some((sp, sn))) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[at] == '['`; the index
/// after the class on a match. An unclosed `[` matches itself.
fn class(p: &[char], at: usize, c: char) -> Option<usize> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while i < p.len() && (first || p[i] != ']') {
        first = false;
        let lo = p[i];
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&hi| hi != ']') {
            hit |= lo <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= lo == c;
            i += 1;
        }
    }
    if i >= p.len() {
        return (c == '[').then_some(at + 1);
    }
    (hit != negate).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*.conf", "a.conf"));
        assert!(!matches("*.conf", "a.conf.bak"));
        assert!(!matches("*.conf", ".hidden.conf"));
        assert!(matches(".*.conf", ".hidden.conf"));
        assert!(matches("vi_?.conf", "vi_1.conf"));
        assert!(matches("vi_[0-9].conf", "vi_7.conf"));
        assert!(!matches("vi_[!0-9].conf", "vi_7.conf"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("[", "["));
    }

    #[test]
    fn braces() {
        assert_eq!(expand_braces("a{b,c}d"), ["abd", "acd"]);
        assert_eq!(
            expand_braces("{foo/{,cat,dog},bar}"),
            ["foo/", "foo/cat", "foo/dog", "bar"]
        );
        assert_eq!(expand_braces("{x}"), ["{x}"]);
        assert_eq!(expand_braces("a{b"), ["a{b"]);
    }
}
