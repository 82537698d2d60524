//! Located error messages: `FILE:LINE:COL: error: MESSAGE`.

use core::fmt;
use core::ops::Range;
use std::cell::OnceCell;

/// Errors past this many are counted, not located: a file with thousands
/// of errors (a generator gone wrong) gains nothing from thousands of
/// excerpts, and the count still tells its size.
pub const MAX_LOCATED_ERRORS: usize = 100;

/// One configuration error, located in the source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The display name of the file, as given to [`parse`](super::parse).
    pub file: String,
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
    /// Byte offsets of the offending text in the source.
    pub span: Range<usize>,
    /// The source line the error points into, without its line ending.
    pub source_line: String,
}

impl Diagnostic {
    /// The diagnostic followed by the quoted source line and a caret underline.
    pub fn render(&self) -> String {
        let mut out = format!("{self}\n");
        if self.source_line.trim().is_empty() {
            return out;
        }
        let gutter = self.line.to_string();
        let pad = " ".repeat(gutter.len());
        // Keep tabs in the padding so the caret lines up under tabbed text.
        let lead: String = self
            .source_line
            .chars()
            .take(self.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        // Underline the span, but never past the end of this line.
        let at = self
            .source_line
            .char_indices()
            .nth(self.column - 1)
            .map_or(self.source_line.len(), |(i, _)| i);
        let end = (at + self.span.len()).min(self.source_line.len());
        let end = (end..=self.source_line.len())
            .find(|&i| self.source_line.is_char_boundary(i))
            .unwrap_or(self.source_line.len());
        let width = self.source_line[at..end].chars().count().max(1);
        out.push_str(&format!("{gutter} | {}\n", self.source_line));
        out.push_str(&format!("{pad} | {lead}{}\n", "^".repeat(width)));
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Every error found in one configuration file, in source order: the
/// first [`MAX_LOCATED_ERRORS`] found located, the rest counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    origin: String,
    unshown: usize,
}

impl Diagnostics {
    /// The diagnostics in source order.
    pub fn iter(&self) -> core::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// The diagnostics in source order.
    pub fn as_slice(&self) -> &[Diagnostic] {
        &self.items
    }

    /// How many errors were found, located or not.
    pub fn len(&self) -> usize {
        self.items.len() + self.unshown
    }

    /// How many errors were found past the [`MAX_LOCATED_ERRORS`] located ones.
    pub fn unshown(&self) -> usize {
        self.unshown
    }

    fn unshown_line(&self) -> Option<String> {
        (self.unshown > 0).then(|| {
            format!(
                "{}: error: {} more error(s) not shown (only the first {MAX_LOCATED_ERRORS} are)",
                self.origin, self.unshown
            )
        })
    }

    /// True when there is no error (never for the result of a failed parse).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// All diagnostics with source excerpts, ready for a terminal.
    pub fn render(&self) -> String {
        let mut out: String = self.items.iter().map(Diagnostic::render).collect();
        if let Some(line) = self.unshown_line() {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

/// One line per diagnostic, without source excerpts.
impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.items {
            writeln!(f, "{d}")?;
        }
        match self.unshown_line() {
            Some(line) => writeln!(f, "{line}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Diagnostics {}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = core::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// Accumulates diagnostics against one source text.
pub(crate) struct Collector<'s> {
    src: &'s str,
    origin: &'s str,
    items: Vec<Diagnostic>,
    unshown: usize,
    /// Byte offset of each line's start, built at the first error: locating
    /// an error is then a binary search, not a scan of the text before it.
    line_starts: OnceCell<Vec<usize>>,
}

impl<'s> Collector<'s> {
    pub(crate) fn new(src: &'s str, origin: &'s str) -> Self {
        Collector {
            src,
            origin,
            items: Vec::new(),
            unshown: 0,
            line_starts: OnceCell::new(),
        }
    }

    pub(crate) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        if self.items.len() >= MAX_LOCATED_ERRORS {
            self.unshown += 1;
            return;
        }
        let start = floor_char_boundary(self.src, span.start.min(self.src.len()));
        let end = span.end.clamp(start, self.src.len());
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.src.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        // The line holding `start`: the last one starting at or before it.
        let line = starts.partition_point(|&s| s <= start);
        let line_start = starts[line - 1];
        let line_end = self.src[start..]
            .find('\n')
            .map_or(self.src.len(), |i| start + i);
        let column = self.src[line_start..start].chars().count() + 1;
        let source_line = self.src[line_start..line_end].trim_end_matches('\r');
        self.items.push(Diagnostic {
            file: self.origin.to_owned(),
            line,
            column,
            message: message.into(),
            span: start..end,
            source_line: source_line.to_owned(),
        });
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.items.is_empty()
    }

    /// Sorted by position so the output reads top to bottom.
    pub(crate) fn finish(mut self) -> Diagnostics {
        self.items.sort_by_key(|d| (d.line, d.column));
        Diagnostics {
            items: self.items,
            origin: self.origin.to_owned(),
            unshown: self.unshown,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The diagnostic for a file that is not UTF-8, placed at its first bad byte.
pub(super) fn not_utf8(bytes: &[u8], e: core::str::Utf8Error, origin: &str) -> Diagnostics {
    let good = e.valid_up_to();
    // The text before the bad byte is valid by definition.
    let before = core::str::from_utf8(&bytes[..good]).unwrap_or_default();
    let mut c = Collector::new(before, origin);
    c.error(
        good..good,
        format!(
            "not UTF-8 text: byte 0x{:02x} cannot be read as a character here; vipd reads \
             configuration files as UTF-8",
            bytes[good]
        ),
    );
    c.finish()
}
