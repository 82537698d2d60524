//! The keepalived importer over a small in-memory file system: includes
//! (plain and wildcard), `@ID` conditionals, `$NAME` parameters, the lexer,
//! the parser and the translation. What it writes must pass vipd's own
//! validation (an `Internal` error is a bug), and every error must render.
//!
//! Input: one flag byte (bit 0: config id `lb1`), then the files, separated
//! by NUL bytes: the first is /etc/keepalived/keepalived.conf, each later
//! one is `NAME\nTEXT` with NAME relative to /etc/keepalived (so
//! `include conf.d/*.conf` in the main file finds `conf.d/a.conf`).
#![no_main]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use vipd_core::import::{self, ImportError, Loader, Options};

const DIR: &str = "/etc/keepalived";

struct Files(BTreeMap<PathBuf, String>);

impl Loader for Files {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = self
            .0
            .keys()
            .filter_map(|p| p.strip_prefix(dir).ok())
            .filter_map(|rest| rest.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        names.dedup();
        if names.is_empty() {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        Ok(names)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.split('\0');
    let main = Path::new(DIR).join("keepalived.conf");
    let mut files = BTreeMap::new();
    files.insert(main.clone(), parts.next().unwrap_or("").to_owned());
    for part in parts {
        let (name, body) = part.split_once('\n').unwrap_or((part, ""));
        files.insert(Path::new(DIR).join(name), body.to_owned());
    }
    let options = Options {
        config_id: (flags & 1 != 0).then(|| "lb1".to_owned()),
    };
    match import::translate_with(&main, &options, &Files(files)) {
        Ok(t) => {
            for warning in &t.warnings {
                let _ = warning.to_string();
            }
        }
        Err(ImportError::Internal { diagnostics }) => {
            panic!("the importer wrote a file vipd refuses:\n{diagnostics}")
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = e.exit_code();
        }
    }
});
