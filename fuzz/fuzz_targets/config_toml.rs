//! The TOML configuration through deserialization and validation, as
//! `vipd check`, `vipd run` and a reload see it: a valid file is listed
//! (`vipd check`) and planned as a reload against itself, which must change
//! nothing; an invalid one renders its diagnostics (file:line:column).
//! Bytes that are not UTF-8 are refused by the caller before parsing; here
//! they are read lossily so the parser sees the replacement characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vipd_core::config;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match config::parse(&text, "fuzz.toml") {
        Ok(parsed) => {
            let _ = parsed.to_string();
            let plan = config::reload::plan(&parsed, &parsed);
            assert!(
                plan.is_noop(),
                "a reload to the same file changes something: {:?}",
                plan.describe()
            );
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty());
            let _ = diagnostics.render();
        }
    }
});
