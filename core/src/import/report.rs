//! What the importer tells the user: where a keepalived setting is, what
//! could not be carried over or was changed, and why an import failed.

use core::fmt;

/// A line of a keepalived file: the file as named by the caller (or as
/// resolved from an `include`) and the 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file's name.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A keepalived setting that was not carried over, or was changed to fit
/// vipd. Displayed as `FILE:LINE: SUBJECT: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where the setting is.
    pub at: Location,
    /// The keepalived keyword, usually with its argument (`state MASTER`).
    pub subject: String,
    /// What happened to it and why.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.at, self.subject, self.message)
    }
}

/// Why nothing was translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// A file cannot be read: the main file, or one named by an `include`
    /// (then `at` is the include line).
    #[error("{}cannot read {path}: {message}", at.as_ref().map(|a| format!("{a}: ")).unwrap_or_default())]
    Read {
        /// The file that cannot be read.
        path: String,
        /// The `include` line naming it; `None` for the main file.
        at: Option<Location>,
        /// The reason, from the loader.
        message: String,
    },
    /// The text is not keepalived syntax: unbalanced braces, an unterminated
    /// quote, or a parameter expansion that never ends.
    #[error("{at}: {message}")]
    Syntax {
        /// The offending line.
        at: Location,
        /// What is wrong with it.
        message: String,
    },
    /// The files hold no `vrrp_instance` (`found` = 0), or none that vipd can
    /// run. The warnings say what was seen instead.
    #[error("{}", no_instances(*found))]
    NoInstances {
        /// How many `vrrp_instance` blocks were seen.
        found: usize,
        /// Every warning of the attempt: what was seen, and why it was not carried over.
        warnings: Vec<Warning>,
    },
    /// The generated TOML does not pass vipd's validation: a bug in the
    /// importer, reported with vipd's diagnostics.
    #[error(
        "internal error: the generated configuration does not validate (please report this with the keepalived file):\n{diagnostics}"
    )]
    Internal {
        /// vipd's diagnostics for the generated text.
        diagnostics: String,
    },
}

fn no_instances(found: usize) -> String {
    match found {
        0 => "no vrrp_instance found: nothing to import".to_owned(),
        1 => "the only vrrp_instance cannot be carried over (see the warnings)".to_owned(),
        n => format!("none of the {n} vrrp_instance blocks can be carried over (see the warnings)"),
    }
}

impl ImportError {
    /// The exit status `vipd import-keepalived` uses: 1 when the file has no
    /// usable VRRP instance, 2 when it cannot be read, parsed or translated.
    pub fn exit_code(&self) -> u8 {
        match self {
            ImportError::NoInstances { .. } => 1,
            _ => 2,
        }
    }

    /// Warnings gathered before the import gave up, if any.
    pub fn warnings(&self) -> &[Warning] {
        match self {
            ImportError::NoInstances { warnings, .. } => warnings,
            _ => &[],
        }
    }
}

/// Collects warnings in the order they are found.
#[derive(Debug, Default)]
pub(super) struct Report {
    pub warnings: Vec<Warning>,
}

impl Report {
    pub(super) fn warn(
        &mut self,
        at: &Location,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.warnings.push(Warning {
            at: at.clone(),
            subject: subject.into(),
            message: message.into(),
        });
    }
}
