//! `vipd import-vip-manager`: a vip-manager YAML configuration (0.x, 1.x or
//! 2.x and later key names) in, a vipd instance that follows Patroni's
//! leader key in etcd out, with what could not be carried over.
//!
//! Pure: the caller reads the file and hands its text in.
//!
//! ```
//! use vipd_core::import::vip_manager;
//!
//! let yaml = "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\n\
//!             trigger-key: /service/pg/leader\ntrigger-value: pg-a\n\
//!             dcs-type: etcd3\ndcs-endpoints: [http://192.0.2.11:2379]\n";
//! let t = vip_manager::translate(yaml, "vip.yml").unwrap();
//! assert!(t.toml.contains("[instances.pg]"));
//! assert!(t.toml.contains(r#"member = "pg-a""#));
//! assert!(t.missing.is_empty());
//! ```
//!
//! The stages, one per file: `yaml` (text to positioned top-level entries),
//! `keys` (the names vip-manager reads, old and new), `translate` (their
//! meaning for vipd, and what is said about them), `emit` (TOML text).

mod emit;
mod keys;
mod translate;
mod yaml;

use core::fmt;

/// How a note bears on the translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// What stops the import: a required setting missing or invalid, or a
    /// way of moving the address that vipd does not have.
    Error,
    /// A setting that was not carried over, or was changed.
    Warning,
    /// Something the operator must fill in: `vipd check` rejects the output
    /// until then.
    Required,
    /// Information about how vipd differs; nothing is lost.
    Info,
}

/// What the importer says about one setting (or its absence). Displayed as
/// `FILE:LINE: SUBJECT: MESSAGE`, or `FILE: SUBJECT: MESSAGE` when it is
/// about no line; `error:`, `required:` or `note:` starts the message of
/// those kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The file, as named by the caller.
    pub file: String,
    /// The line of the setting, when the note is about one in the file.
    pub line: Option<usize>,
    /// The vip-manager setting, as written in the file when it is there.
    pub subject: String,
    /// How it bears on the translation.
    pub kind: NoteKind,
    /// What happened and why.
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        let tag = match self.kind {
            NoteKind::Error => "error: ",
            NoteKind::Warning => "",
            NoteKind::Required => "required: ",
            NoteKind::Info => "note: ",
        };
        write!(f, ": {}: {tag}{}", self.subject, self.message)
    }
}

/// A successful translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// The vipd configuration: an `[etcd]` table and one instance.
    pub toml: String,
    /// What was not carried over, must be filled in, or differs, in file
    /// order; notes about no line come last.
    pub notes: Vec<Note>,
    /// The vipd settings left for the operator to fill in (such as
    /// `follow_patroni.member`), each also told by a [`NoteKind::Required`]
    /// note. Empty when the output is complete.
    pub missing: Vec<&'static str>,
}

/// What a note says when the output keeps a value `vipd check` rejects.
const REJECTED: &str = "`vipd check` rejects";

/// The output checked as `vipd check` would: what the rules above did not
/// already flag becomes a note, so an import never hands over a file
/// vipd refuses without saying so.
fn self_check(toml: &str, file: &str, notes: &[Note]) -> Vec<Note> {
    if notes.iter().any(|n| n.message.contains(REJECTED)) {
        return Vec::new();
    }
    let Err(diagnostics) = crate::config::parse(toml, "output") else {
        return Vec::new();
    };
    diagnostics
        .iter()
        .map(|d| Note {
            file: file.to_owned(),
            line: None,
            subject: format!("output line {}", d.line),
            kind: NoteKind::Warning,
            message: format!("{}; {REJECTED} it until it is fixed", d.message),
        })
        .collect()
}

/// Why nothing was translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The text is not YAML, or not a mapping of settings.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The file, as named by the caller.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// The file holds no settings at all.
    #[error("{file}: no vip-manager settings found: nothing to import")]
    Empty {
        /// The file, as named by the caller.
        file: String,
    },
    /// The settings do not describe an address vipd can move: a required
    /// one is missing or invalid, or the VIP is moved some other way than
    /// vipd can. The notes say which.
    #[error(
        "{file}: nothing vipd can run ({} error(s) above)",
        count_errors(notes)
    )]
    Unusable {
        /// The file, as named by the caller.
        file: String,
        /// The notes of the attempt but those about the output
        /// ([`NoteKind::Info`]), in file order; at least one is a
        /// [`NoteKind::Error`].
        notes: Vec<Note>,
    },
}

fn count_errors(notes: &[Note]) -> usize {
    notes.iter().filter(|n| n.kind == NoteKind::Error).count()
}

impl ImportError {
    /// The exit status `vipd import-vip-manager` uses, as `vipd
    /// import-keepalived` does: 1 when the file describes nothing vipd can
    /// run, 2 when it cannot be read or parsed.
    pub fn exit_code(&self) -> u8 {
        match self {
            ImportError::Syntax { .. } => 2,
            ImportError::Empty { .. } | ImportError::Unusable { .. } => 1,
        }
    }

    /// The notes gathered before the import gave up, if any.
    pub fn notes(&self) -> &[Note] {
        match self {
            ImportError::Unusable { notes, .. } => notes,
            _ => &[],
        }
    }
}

/// Translates the vip-manager YAML `text`; `file` names it in notes and
/// errors.
pub fn translate(text: &str, file: &str) -> Result<Translation, ImportError> {
    let doc = yaml::read(text).map_err(|e| ImportError::Syntax {
        file: file.to_owned(),
        line: e.at.line,
        column: e.at.column,
        message: e.message,
    })?;
    let Some(entries) = doc.entries else {
        return Err(ImportError::Empty {
            file: file.to_owned(),
        });
    };
    let mut notes = translate::Notes::new(file);
    if let Some(at) = doc.extra_document {
        notes.warn(
            Some(at.line),
            "---",
            "a second YAML document; vip-manager reads only the first, and so does this import",
        );
    }
    let plan = translate::translate(&entries, &mut notes);
    let notes = notes.into_sorted();
    match plan {
        Some(plan) if !notes.iter().any(|n| n.kind == NoteKind::Error) => {
            let toml = emit::render(&plan, file);
            let missing = plan.missing();
            let mut notes = notes;
            if missing.is_empty() {
                notes.extend(self_check(&toml, file, &notes));
            }
            Ok(Translation {
                toml,
                missing,
                notes,
            })
        }
        // Notes about the output are moot without one.
        _ => Err(ImportError::Unusable {
            file: file.to_owned(),
            notes: notes
                .into_iter()
                .filter(|n| n.kind != NoteKind::Info)
                .collect(),
        }),
    }
}
