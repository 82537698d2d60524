//! `vipd import-keepalived`: keepalived.conf in, vipd TOML and a list of
//! what could not be carried over out. `vipd import-vip-manager` lives in
//! [`vip_manager`] and shares only the TOML text helpers.
//!
//! Pure: every file is read through the caller's [`Loader`], so tests use an
//! in-memory one and the CLI a file-system one.
//!
//! ```
//! use std::path::Path;
//!
//! let conf = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  \
//!             state MASTER\n  virtual_ipaddress {\n    192.0.2.50/24\n  }\n}\n";
//! let loader = |_: &Path| Ok(conf.to_owned());
//! let t = vipd_core::import::translate(Path::new("keepalived.conf"), &loader).unwrap();
//! assert!(t.toml.contains("version = 2"));
//! assert_eq!(
//!     t.warnings[0].to_string(),
//!     "keepalived.conf:4: state MASTER: vipd elects by priority; the start state is ignored"
//! );
//! vipd_core::config::parse(&t.toml, "vipd.toml").unwrap();
//! ```
//!
//! The stages, one per file: `source` (includes, comments, conditionals,
//! parameters), `lexer` (words, quotes, braces), `parser` (blocks),
//! `translate` and `instance` (keepalived meaning to vipd settings), `emit`
//! (TOML text); `report` holds what is said to the user.

mod emit;
mod glob;
mod instance;
mod keywords;
mod lexer;
mod model;
mod parser;
mod report;
mod source;
mod tracked;
mod translate;
mod values;
pub mod vip_manager;

use std::io;
use std::path::Path;

pub use report::{ImportError, Location, Warning};

/// Reads the files of a keepalived configuration for the importer.
pub trait Loader {
    /// The text of a file: the main one, or one named by `include`.
    fn read(&self, path: &Path) -> io::Result<String>;

    /// The entry names of a directory, to expand `include` wildcards such as
    /// `conf.d/*.conf`. The default supports no wildcards.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("cannot list {} to expand an include pattern", dir.display()),
        ))
    }
}

/// A closure that reads files is a loader without wildcard support.
impl<F> Loader for F
where
    F: Fn(&Path) -> io::Result<String>,
{
    fn read(&self, path: &Path) -> io::Result<String> {
        self(path)
    }
}

/// Settings that change what keepalived itself would read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// keepalived's config id (`-i`), which selects `@ID` conditional lines.
    /// keepalived defaults it to the host name up to the first dot; `None`
    /// keeps only the lines that apply to no id in particular.
    pub config_id: Option<String>,
}

/// A successful import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// The vipd configuration; it passes [`crate::config::parse`].
    pub toml: String,
    /// What was not carried over or was changed, in file order.
    pub warnings: Vec<Warning>,
    /// Number of instances translated.
    pub instances: usize,
    /// Number of checks translated.
    pub checks: usize,
    /// Number of sync groups translated.
    pub sync_groups: usize,
}

/// Translates the keepalived configuration at `main` with default options.
pub fn translate<L: Loader + ?Sized>(main: &Path, loader: &L) -> Result<Translation, ImportError> {
    translate_with(main, &Options::default(), loader)
}

/// Translates the keepalived configuration at `main`, following its
/// includes through `loader`.
pub fn translate_with<L: Loader + ?Sized>(
    main: &Path,
    options: &Options,
    loader: &L,
) -> Result<Translation, ImportError> {
    let mut report = report::Report::default();
    let lines = source::read(main, options.config_id.as_deref(), loader, &mut report)?;
    let tree = parser::parse(&lines, &mut report)?;
    let translated = translate::translate(&tree, &mut report);
    in_file_order(&mut report.warnings, &lines);
    let out = translated.output;
    if out.instances.is_empty() {
        return Err(ImportError::NoInstances {
            found: translated.declared_instances,
            warnings: report.warnings,
        });
    }
    let toml = emit::render(&out, &main.display().to_string());
    // A check on the importer itself: what it writes, vipd must accept.
    if let Err(diagnostics) = crate::config::parse(&toml, "generated.toml") {
        return Err(ImportError::Internal {
            diagnostics: diagnostics.render(),
        });
    }
    Ok(Translation {
        toml,
        warnings: report.warnings,
        instances: out.instances.len(),
        checks: out.checks.len(),
        sync_groups: out.sync_groups.len(),
    })
}

/// Sorts warnings by file (in the order the files were read) and line:
/// some are only known once a whole block has been read.
fn in_file_order(warnings: &mut [Warning], lines: &[source::Line]) {
    let mut rank: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for line in lines {
        let next = rank.len();
        rank.entry(line.at.file.as_str()).or_insert(next);
    }
    let rank_of = |w: &Warning| rank.get(w.at.file.as_str()).copied().unwrap_or(usize::MAX);
    warnings.sort_by_key(|w| (rank_of(w), w.at.line));
}
