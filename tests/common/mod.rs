//! Helpers shared by the cargo tests that run real programs.

use std::fs;
use std::path::PathBuf;

/// A fresh directory for one test, under the system's temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vipd-test-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}
