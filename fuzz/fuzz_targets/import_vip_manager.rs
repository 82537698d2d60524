//! The vip-manager YAML importer. A complete translation (nothing left for
//! the operator to fill in, nothing noted as refused by `vipd check`) must
//! pass vipd's own validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vipd_core::{config, import::vip_manager};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match vip_manager::translate(&text, "vip-manager.yml") {
        Ok(t) => {
            for note in &t.notes {
                let _ = note.to_string();
            }
            // A value carried over as written says so in a note (vipd
            // check rejects it until fixed); anything else must validate.
            let flagged = t
                .notes
                .iter()
                .any(|n| n.message.contains("`vipd check` rejects"));
            if t.missing.is_empty()
                && !flagged
                && let Err(d) = config::parse(&t.toml, "generated.toml")
            {
                panic!(
                    "the importer wrote a file vipd refuses:\n{}\n{}",
                    t.toml,
                    d.render()
                );
            }
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = e.exit_code();
        }
    }
});
