//! From files to logical lines: follows `include`, drops comments, applies
//! `@ID` conditionals and `$NAME=VALUE` parameters, in the order
//! keepalived.conf(5) describes ("Conditional configuration", "Parameter
//! substitution"). Each line keeps the file and line it came from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::Loader;
use super::glob;
use super::lexer::strip_comment;
use super::report::{ImportError, Location, Report};

/// A line ready for the tokenizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub at: Location,
    pub text: String,
}

/// keepalived's include variants: they differ only in which errors it reports.
const INCLUDE_KEYWORDS: [&str; 6] = [
    "include", "includer", "includem", "includew", "includeb", "includea",
];
const MAX_INCLUDE_DEPTH: usize = 32;
/// Limits that keep a self-referencing parameter from running away.
const MAX_EXPANSION_DEPTH: usize = 16;
const MAX_LINE_LEN: usize = 64 * 1024;
const MAX_LINES: usize = 200_000;
/// Files read, counting a file read again: files that include each other
/// through a wildcard are each skipped only where they would include
/// themselves, so n of them are read n! times without this bound.
const MAX_FILES_READ: usize = 1000;

/// Reads `main` and everything it includes into logical lines.
pub(super) fn read<L: Loader + ?Sized>(
    main: &Path,
    config_id: Option<&str>,
    loader: &L,
    report: &mut Report,
) -> Result<Vec<Line>, ImportError> {
    let mut reader = Reader {
        loader,
        config_id,
        report,
        params: HashMap::new(),
        stack: Vec::new(),
        lines: Vec::new(),
        produced: 0,
        files_read: 0,
    };
    reader.file(main, None)?;
    Ok(reader.lines)
}

struct Reader<'a, L: ?Sized> {
    loader: &'a L,
    config_id: Option<&'a str>,
    report: &'a mut Report,
    /// `$NAME=VALUE` definitions; multi-line values hold `\n`.
    params: HashMap<String, String>,
    /// The files being read, outermost first, to catch include loops.
    stack: Vec<PathBuf>,
    lines: Vec<Line>,
    produced: usize,
    files_read: usize,
}

/// A `$NAME= \` definition still collecting its continuation lines.
struct Pending {
    name: String,
    lines: Vec<String>,
}

impl<L: Loader + ?Sized> Reader<'_, L> {
    fn file(&mut self, path: &Path, from: Option<&Location>) -> Result<(), ImportError> {
        let shown = path.display().to_string();
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(ImportError::Syntax {
                at: from.cloned().unwrap_or(Location {
                    file: shown,
                    line: 0,
                }),
                message: format!(
                    "includes are nested more than {MAX_INCLUDE_DEPTH} deep (a loop through a \
                     symbolic link or `..`?)"
                ),
            });
        }
        if self.stack.iter().any(|p| p == path) {
            if let Some(at) = from {
                self.report.warn(
                    at,
                    format!("include {shown}"),
                    "the file includes itself (directly or through other files); skipped",
                );
            }
            return Ok(());
        }
        self.files_read += 1;
        if self.files_read > MAX_FILES_READ {
            return Err(ImportError::Syntax {
                at: from.cloned().unwrap_or(Location {
                    file: shown,
                    line: 0,
                }),
                message: format!(
                    "more than {MAX_FILES_READ} files read through includes (files that include \
                     each other through a wildcard, or a symbolic link loop?)"
                ),
            });
        }
        let text = self.loader.read(path).map_err(|e| ImportError::Read {
            path: shown.clone(),
            at: from.cloned(),
            message: e.to_string(),
        })?;
        self.stack.push(path.to_owned());
        let dir = path.parent().unwrap_or(Path::new("")).to_owned();
        let mut pending: Option<Pending> = None;
        for (index, raw) in text.lines().enumerate() {
            let at = Location {
                file: shown.clone(),
                line: index + 1,
            };
            let line = strip_comment(raw);
            if let Some(p) = pending.as_mut() {
                let (body, more) = continuation(line);
                if !body.is_empty() {
                    p.lines.push(body.to_owned());
                }
                if !more && let Some(p) = pending.take() {
                    self.params.insert(p.name, p.lines.join("\n"));
                }
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(pattern) = include_argument(line) {
                self.include(pattern, &dir, &at)?;
                continue;
            }
            self.logical(line, &at, &dir, 0, &mut pending)?;
        }
        // A definition continued past the end of its file ends there.
        if let Some(p) = pending {
            self.params.insert(p.name, p.lines.join("\n"));
        }
        self.stack.pop();
        Ok(())
    }

    fn include(&mut self, pattern: &str, dir: &Path, at: &Location) -> Result<(), ImportError> {
        if pattern.is_empty() {
            self.report
                .warn(at, "include", "no file named; nothing included");
            return Ok(());
        }
        // Relative to the including file, as keepalived resolves it.
        let full = dir.join(pattern);
        if !glob::has_wildcards(pattern) {
            return self.file(&full, Some(at));
        }
        let files = glob::expand(&full, self.loader).map_err(|e| ImportError::Read {
            path: full.display().to_string(),
            at: Some(at.clone()),
            message: e.to_string(),
        })?;
        if files.is_empty() {
            self.report.warn(
                at,
                format!("include {pattern}"),
                "matches no file; nothing included",
            );
        }
        for file in files {
            self.file(&file, Some(at))?;
        }
        Ok(())
    }

    /// One line after comment stripping: conditional, definition, or a line
    /// to substitute parameters into and keep.
    fn logical(
        &mut self,
        text: &str,
        at: &Location,
        dir: &Path,
        depth: usize,
        pending: &mut Option<Pending>,
    ) -> Result<(), ImportError> {
        self.produced += 1;
        if self.produced > MAX_LINES {
            return Err(ImportError::Syntax {
                at: at.clone(),
                message: format!(
                    "more than {MAX_LINES} lines after includes and parameter expansion"
                ),
            });
        }
        let mut text = text.trim();
        if let Some(rest) = text.strip_prefix('@') {
            let (condition, body) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let (negated, id) = match condition.strip_prefix('^') {
                Some(id) => (true, id),
                None => (false, condition),
            };
            if (self.config_id == Some(id)) == negated {
                let uses = match self.config_id {
                    Some(own) => format!("this import uses config id `{own}`"),
                    None => "this import uses no config id".to_owned(),
                };
                let when = if negated { "unless" } else { "only when" };
                self.report.warn(
                    at,
                    format!("@{condition}"),
                    format!("line skipped: it applies {when} the config id is `{id}`, and {uses}"),
                );
                return Ok(());
            }
            text = body.trim_start();
            if text.is_empty() {
                return Ok(());
            }
        }
        if let Some((name, value)) = definition(text) {
            let value = value.trim();
            match value.strip_suffix('\\') {
                Some(first) => {
                    let first = first.trim();
                    *pending = Some(Pending {
                        name: name.to_owned(),
                        lines: (!first.is_empty())
                            .then(|| first.to_owned())
                            .into_iter()
                            .collect(),
                    });
                }
                None => {
                    self.params.insert(name.to_owned(), value.to_owned());
                }
            }
            return Ok(());
        }
        if text.starts_with("~SEQ") || text.starts_with("~LST") {
            let word = text.split_whitespace().next().unwrap_or(text);
            self.report.warn(
                at,
                word,
                "sequence and list blocks are not supported by the importer; line skipped (expand it by hand)",
            );
            return Ok(());
        }
        let Some(expanded) = self.substitute(text, dir, at) else {
            self.lines.push(Line {
                at: at.clone(),
                text: text.to_owned(),
            });
            return Ok(());
        };
        if depth >= MAX_EXPANSION_DEPTH || expanded.len() > MAX_LINE_LEN {
            return Err(ImportError::Syntax {
                at: at.clone(),
                message: "parameter expansion does not end (does a parameter refer to itself?)"
                    .to_owned(),
            });
        }
        // A multi-line value becomes several lines, each processed again so
        // that conditionals and definitions inside it take effect.
        for piece in expanded.split('\n') {
            if !piece.trim().is_empty() {
                self.logical(piece, at, dir, depth + 1, pending)?;
            }
        }
        Ok(())
    }

    /// Replaces `${NAME}`, and `$NAME` before whitespace or the end, for
    /// defined names. `None` when nothing was replaced.
    fn substitute(&mut self, text: &str, dir: &Path, at: &Location) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut changed = false;
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            if let Some(inner) = after.strip_prefix('{')
                && let Some(close) = inner.find('}')
            {
                let name = &inner[..close];
                match self.lookup(name, dir) {
                    Some(value) => {
                        out.push_str(&value);
                        changed = true;
                    }
                    None => {
                        if name.starts_with("_RANDOM") {
                            self.report.warn(
                                at,
                                "${_RANDOM}",
                                "random values are not supported by the importer; left as written",
                            );
                        }
                        out.push_str(&rest[dollar..dollar + 2 + close + 1]);
                    }
                }
                rest = &inner[close + 1..];
                continue;
            }
            let len = after
                .char_indices()
                .find(|&(i, c)| {
                    !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
                })
                .map_or(after.len(), |(i, _)| i);
            let name = &after[..len];
            let at_word_end = after[len..].chars().next().is_none_or(char::is_whitespace);
            match (len > 0 && at_word_end)
                .then(|| self.lookup(name, dir))
                .flatten()
            {
                Some(value) => {
                    out.push_str(&value);
                    changed = true;
                }
                None => {
                    out.push('$');
                    out.push_str(name);
                }
            }
            rest = &after[len..];
        }
        out.push_str(rest);
        changed.then_some(out)
    }

    fn lookup(&self, name: &str, dir: &Path) -> Option<String> {
        if let Some(value) = self.params.get(name) {
            return Some(value.clone());
        }
        match name {
            "_PWD" if dir.as_os_str().is_empty() => Some(".".to_owned()),
            "_PWD" => Some(dir.display().to_string()),
            "_INSTANCE" => self.config_id.map(str::to_owned),
            "_HASH" => Some("#".to_owned()),
            "_BANG" => Some("!".to_owned()),
            _ => None,
        }
    }
}

/// The argument of an include line, unquoted; `None` for other lines.
fn include_argument(line: &str) -> Option<&str> {
    let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    if !INCLUDE_KEYWORDS.contains(&keyword) {
        return None;
    }
    let rest = rest.trim();
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|&q| rest.strip_prefix(q).and_then(|r| r.strip_suffix(q)));
    Some(unquoted.unwrap_or(rest))
}

/// `$NAME=VALUE`: a name of letters, digits and `_` not starting with a
/// digit, and `=` right after it.
fn definition(text: &str) -> Option<(&str, &str)> {
    let body = text.strip_prefix('$')?;
    let (name, value) = body.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    let good = (first == '_' || first.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
    good.then_some((name, value))
}

/// A continuation line of a multi-line definition: its text without the
/// trailing `\`, and whether another line follows.
fn continuation(line: &str) -> (&str, bool) {
    let line = line.trim();
    match line.strip_suffix('\\') {
        Some(body) => (body.trim(), true),
        None => (line, false),
    }
}
