//! `script_security`: refuse to run checks or hooks that anyone but root could
//! change. A program, or any directory on its path, that is owned by another
//! user or writable by group or others could be swapped for something else by
//! that user, who would then run code as vipd's script user.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const GROUP_WRITE: u32 = 0o020;
const OTHER_WRITE: u32 = 0o002;
const STICKY: u32 = 0o1000;

/// Checks every program; returns one message per unsafe one, naming the
/// file or directory at fault.
pub fn unsafe_programs<'a>(programs: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let unique: BTreeSet<&str> = programs.into_iter().collect();
    unique
        .into_iter()
        .filter_map(|p| check_program(Path::new(p)).err())
        .collect()
}

fn check_program(program: &Path) -> Result<(), String> {
    let resolved = program
        .canonicalize()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    check_one(&resolved, program, false)?;
    // Both the path as written (its symlinks live in those directories) and the
    // resolved one must be safe.
    for path in [program.to_path_buf(), resolved.clone()] {
        for dir in path.ancestors().skip(1) {
            check_one(dir, program, true)?;
        }
    }
    Ok(())
}

fn check_one(path: &Path, program: &Path, is_dir: bool) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mode = meta.mode();
    let what = describe(path, program);
    if meta.uid() != 0 {
        return Err(format!("{what} is owned by uid {}, not root", meta.uid()));
    }
    if mode & GROUP_WRITE != 0 && meta.gid() != 0 {
        return Err(format!("{what} is writable by group gid {}", meta.gid()));
    }
    // A sticky world-writable directory (like /tmp) lets others create files
    // but not replace root's: the root-owned entries in it stay safe.
    if mode & OTHER_WRITE != 0 && !(is_dir && mode & STICKY != 0) {
        return Err(format!("{what} is writable by everyone"));
    }
    Ok(())
}

fn describe(path: &Path, program: &Path) -> String {
    if path == program {
        format!("script {}", program.display())
    } else {
        format!(
            "{} (on the path of script {})",
            PathBuf::from(path).display(),
            program.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_reported() {
        let problems = unsafe_programs(["/nonexistent/vipd-test-script"]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("/nonexistent"), "{problems:?}");
    }
}
