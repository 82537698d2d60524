//! `vipd import-vip-manager FILE`: the translation is pure (in the core);
//! this reads the file and says what came of it.

use std::path::Path;
use std::process::ExitCode;

use crate::import::vip_manager;

/// Exit status when the file cannot be read, as for a YAML error.
const EXIT_UNREADABLE: u8 = 2;

/// Prints the TOML on stdout and the notes, then a summary, on stderr.
pub fn run(file: &Path) -> ExitCode {
    let shown = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("vipd: cannot read {shown}: {err}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    match vip_manager::translate(&text, &shown) {
        Ok(t) => {
            print!("{}", t.toml);
            for note in &t.notes {
                eprintln!("{note}");
            }
            let mut summary = format!(
                "vipd: imported 1 instance following Patroni from {shown}; {} note(s) above",
                t.notes.len()
            );
            if !t.missing.is_empty() {
                summary.push_str(&format!(
                    "; fill in {} before `vipd check` accepts the output",
                    t.missing.join(", ")
                ));
            }
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            for note in err.notes() {
                eprintln!("{note}");
            }
            eprintln!("vipd: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
