//! Logical lines to a tree of statements: `keyword args...`, optionally
//! followed by a `{ ... }` block of further statements.

use super::lexer::{Token, tokenize};
use super::report::{ImportError, Location, Report};
use super::source::Line;

/// Deeper nesting than any keepalived configuration uses: a sign of garbage.
const MAX_DEPTH: usize = 64;

/// One statement: its words (keyword first) and its block, if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Node {
    pub at: Location,
    pub words: Vec<String>,
    pub block: Option<Vec<Node>>,
}

impl Node {
    pub(super) fn keyword(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    pub(super) fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or_default()
    }

    pub(super) fn arg(&self, i: usize) -> Option<&str> {
        self.args().get(i).map(String::as_str)
    }

    /// The statements of its block; empty without one.
    pub(super) fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or_default()
    }

    /// The keyword and its arguments as written, for messages.
    pub(super) fn text(&self) -> String {
        self.words.join(" ")
    }
}

/// A block being filled: the statement that opened it (none at top level,
/// or for a stray `{` whose contents are dropped) and what it holds so far.
struct Frame {
    owner: Option<(Location, Vec<String>)>,
    nodes: Vec<Node>,
    opened_at: Option<Location>,
}

/// Builds the statement tree. Braces must balance.
pub(super) fn parse(lines: &[Line], report: &mut Report) -> Result<Vec<Node>, ImportError> {
    let mut stack = vec![Frame {
        owner: None,
        nodes: Vec::new(),
        opened_at: None,
    }];
    for line in lines {
        let tokens = tokenize(&line.text).map_err(|message| ImportError::Syntax {
            at: line.at.clone(),
            message,
        })?;
        let mut words: Vec<String> = Vec::new();
        for token in tokens {
            match token {
                Token::Word(w) => words.push(w),
                Token::Open => {
                    if stack.len() > MAX_DEPTH {
                        return Err(ImportError::Syntax {
                            at: line.at.clone(),
                            message: format!("blocks are nested more than {MAX_DEPTH} deep"),
                        });
                    }
                    let owner = if !words.is_empty() {
                        Some((line.at.clone(), core::mem::take(&mut words)))
                    } else {
                        reopen(stack.last_mut(), &line.at, report)
                    };
                    stack.push(Frame {
                        owner,
                        nodes: Vec::new(),
                        opened_at: Some(line.at.clone()),
                    });
                }
                Token::Close => {
                    flush(&mut stack, &line.at, &mut words);
                    if stack.len() == 1 {
                        return Err(ImportError::Syntax {
                            at: line.at.clone(),
                            message: "`}` without a matching `{`".to_owned(),
                        });
                    }
                    if let Some(frame) = stack.pop()
                        && let Some(parent) = stack.last_mut()
                        && let Some((at, words)) = frame.owner
                    {
                        parent.nodes.push(Node {
                            at,
                            words,
                            block: Some(frame.nodes),
                        });
                    }
                }
            }
        }
        flush(&mut stack, &line.at, &mut words);
    }
    if stack.len() > 1 {
        let at = stack
            .last()
            .and_then(|f| f.opened_at.clone())
            .unwrap_or(Location {
                file: String::new(),
                line: 0,
            });
        return Err(ImportError::Syntax {
            at,
            message: "this `{` is never closed".to_owned(),
        });
    }
    Ok(stack.pop().map(|f| f.nodes).unwrap_or_default())
}

/// A `{` at the start of a line opens the block of the statement before it
/// (`vrrp_instance VI_1` then `{` on the next line), as keepalived allows.
fn reopen(
    frame: Option<&mut Frame>,
    at: &Location,
    report: &mut Report,
) -> Option<(Location, Vec<String>)> {
    if let Some(frame) = frame
        && frame.nodes.last().is_some_and(|n| n.block.is_none())
        && let Some(node) = frame.nodes.pop()
    {
        return Some((node.at, node.words));
    }
    report.warn(
        at,
        "{",
        "a block without a keyword before it; its contents are ignored, as keepalived does",
    );
    None
}

fn flush(stack: &mut [Frame], at: &Location, words: &mut Vec<String>) {
    if words.is_empty() {
        return;
    }
    if let Some(frame) = stack.last_mut() {
        frame.nodes.push(Node {
            at: at.clone(),
            words: core::mem::take(words),
            block: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<Line> {
        text.lines()
            .enumerate()
            .map(|(i, t)| Line {
                at: Location {
                    file: "k.conf".to_owned(),
                    line: i + 1,
                },
                text: t.to_owned(),
            })
            .collect()
    }

    #[test]
    fn blocks_nest_and_keep_lines() {
        let mut report = Report::default();
        let tree = parse(
            &lines("a 1\nb {\n  c 2 3\n  d { e }\n}\nf\n{\ng\n}"),
            &mut report,
        )
        .unwrap();
        assert_eq!(tree.len(), 3);
        assert_eq!(tree[0].words, ["a", "1"]);
        assert_eq!(tree[1].keyword(), "b");
        assert_eq!(tree[1].children()[0].args(), ["2", "3"]);
        assert_eq!(tree[1].children()[1].children()[0].keyword(), "e");
        assert_eq!(tree[1].children()[1].at.line, 4);
        assert_eq!(tree[2].keyword(), "f");
        assert_eq!(tree[2].children()[0].keyword(), "g");
        assert!(report.warnings.is_empty());
    }

    #[test]
    fn unbalanced_braces_are_errors_with_lines() {
        let mut report = Report::default();
        let err = parse(&lines("a {\nb\n"), &mut report).unwrap_err();
        assert_eq!(err.to_string(), "k.conf:1: this `{` is never closed");
        let err = parse(&lines("a\n}\n"), &mut report).unwrap_err();
        assert_eq!(err.to_string(), "k.conf:2: `}` without a matching `{`");
    }
}
