//! `script_security`: refuse to run checks or hooks that anyone but root could
//! change. A program, or any directory on its path, that is owned by another
//! user or writable by group or others could be swapped for something else by
//! that user, who would then run code as vipd's script user.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const GROUP_WRITE: u32 = 0o020;
const OTHER_WRITE: u32 = 0o002;
const STICKY: u32 = 0o1000;

/// Checks every program; returns one message per unsafe file or directory,
/// naming the scripts it endangers.
pub fn unsafe_programs<'a>(programs: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let unique: BTreeSet<&str> = programs.into_iter().collect();
    let mut findings: BTreeMap<(PathBuf, String), Vec<&str>> = BTreeMap::new();
    for program in unique {
        if let Err((path, problem)) = check_program(Path::new(program)) {
            findings.entry((path, problem)).or_default().push(program);
        }
    }
    findings
        .into_iter()
        .map(|((path, problem), scripts)| {
            if scripts.len() == 1 && Path::new(scripts[0]) == path {
                format!("script {} {problem}", path.display())
            } else {
                format!(
                    "{} {problem} (on the path of {})",
                    path.display(),
                    scripts.join(", ")
                )
            }
        })
        .collect()
}

/// The first unsafe path on the way to `program`, and what is wrong with it.
fn check_program(program: &Path) -> Result<(), (PathBuf, String)> {
    let resolved = program
        .canonicalize()
        .map_err(|e| (program.to_path_buf(), format!("cannot be checked: {e}")))?;
    check_one(&resolved, false).map_err(|p| (program.to_path_buf(), p))?;
    // Both the path as written (its symlinks live in those directories) and the
    // resolved one must be safe.
    for path in [program.to_path_buf(), resolved.clone()] {
        for dir in path.ancestors().skip(1) {
            check_one(dir, true).map_err(|p| (dir.to_path_buf(), p))?;
        }
    }
    Ok(())
}

fn check_one(path: &Path, is_dir: bool) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot be checked: {e}"))?;
    let mode = meta.mode();
    if meta.uid() != 0 {
        return Err(format!("is owned by uid {}, not root", meta.uid()));
    }
    if mode & GROUP_WRITE != 0 && meta.gid() != 0 {
        return Err(format!("is writable by group gid {}", meta.gid()));
    }
    // A sticky world-writable directory (like /tmp) lets others create files
    // but not replace root's: the root-owned entries in it stay safe.
    if mode & OTHER_WRITE != 0 && !(is_dir && mode & STICKY != 0) {
        return Err("is writable by everyone".to_owned());
    }
    Ok(())
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
