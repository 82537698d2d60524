//! keepalived values read the way keepalived reads them, and turned into
//! values vipd accepts: numbers, timers, addresses, names and commands.

use core::time::Duration;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use super::lexer::split_command;
use super::report::{Location, Report};

/// A whole number, strictly: keepalived rejects `2#0` or `1.5` here.
pub(super) fn integer(text: &str) -> Option<i64> {
    text.parse().ok()
}

/// A keepalived timer: seconds, possibly fractional (`0.5`), not negative.
/// keepalived keeps microseconds, and so does this.
pub(super) fn seconds(text: &str) -> Option<Duration> {
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() || !(0.0..=1e9).contains(&value) {
        return None;
    }
    Some(Duration::from_micros((value * 1e6).round() as u64))
}

/// keepalived's `<BOOL>`; a keyword without a value means true.
pub(super) fn boolean(text: Option<&str>) -> Option<bool> {
    match text {
        None => Some(true),
        Some("on" | "true" | "yes") => Some(true),
        Some("off" | "false" | "no") => Some(false),
        Some(_) => None,
    }
}

/// `ADDRESS` or `ADDRESS/PREFIX`.
pub(super) fn network(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// vipd names allow ASCII letters, digits, `_`, `-` and `.`; anything else
/// becomes `_`.
pub(super) fn vipd_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "unnamed".to_owned()
    } else {
        cleaned
    }
}

/// A duration as vipd reads it: `"2s"`, `"1500ms"`, `"250us"`.
pub(super) fn duration_text(d: Duration) -> String {
    let micros = d.as_micros();
    if micros % 1_000_000 == 0 {
        format!("{}s", micros / 1_000_000)
    } else if micros % 1_000 == 0 {
        format!("{}ms", micros / 1_000)
    } else {
        format!("{micros}us")
    }
}

/// Words that only mean something to a shell.
const SHELL_OPERATORS: [&str; 9] = ["|", "||", "&&", ";", "&", ">", ">>", "<", "2>&1"];

/// Turns a keepalived script or notify string into an argv vipd can run:
/// absolute program, no shell, no PATH search. Says on `report` what had
/// to change. `None` (reported) when there is nothing to run.
pub(super) fn command(
    text: &str,
    at: &Location,
    subject: &str,
    report: &mut Report,
) -> Option<Vec<String>> {
    let argv = match split_command(text) {
        Ok(argv) => argv,
        Err(e) => {
            report.warn(at, subject, format!("{e} in the command; not carried over"));
            return None;
        }
    };
    let Some(program) = argv.first() else {
        report.warn(at, subject, "empty command; not carried over");
        return None;
    };
    let shell = program.starts_with(['<', '>', '(', '!'])
        || program.contains('=')
        || argv.iter().any(|w| {
            SHELL_OPERATORS.contains(&w.as_str()) || w.starts_with(['>', '<']) || w.contains("$(")
        });
    if shell {
        report.warn(
            at,
            subject,
            format!(
                "{text:?} is shell syntax and vipd runs no shell: carried over as [\"/bin/sh\", \"-c\", {text:?}]; better move it into a script"
            ),
        );
        return Some(vec!["/bin/sh".to_owned(), "-c".to_owned(), text.to_owned()]);
    }
    if Path::new(program).is_absolute() {
        return Some(argv);
    }
    if !program.contains('/') {
        report.warn(
            at,
            subject,
            format!(
                "`{program}` is not an absolute path and vipd does not search PATH: it runs through /usr/bin/env, which does; better write the full path"
            ),
        );
        let mut wrapped = vec!["/usr/bin/env".to_owned()];
        wrapped.extend(argv);
        return Some(wrapped);
    }
    // A relative path with a directory: take it from the configuration
    // file's directory, where such configs keep their scripts, or from
    // keepalived's usual one when that is not known.
    let dir = Path::new(&at.file)
        .parent()
        .filter(|d| d.is_absolute())
        .unwrap_or(Path::new("/etc/keepalived"));
    let full = dir.join(program);
    report.warn(
        at,
        subject,
        format!(
            "`{program}` is a relative path and vipd needs an absolute one: carried over as {}; check it",
            full.display()
        ),
    );
    let mut absolute = vec![full.display().to_string()];
    absolute.extend(argv.into_iter().skip(1));
    Some(absolute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_and_durations() {
        assert_eq!(seconds("2"), Some(Duration::from_secs(2)));
        assert_eq!(seconds("0.25"), Some(Duration::from_millis(250)));
        assert_eq!(seconds("-1"), None);
        assert_eq!(seconds("nan"), None);
        assert_eq!(duration_text(Duration::from_secs(3)), "3s");
        assert_eq!(duration_text(Duration::from_millis(1500)), "1500ms");
        assert_eq!(duration_text(Duration::from_micros(5)), "5us");
    }

    #[test]
    fn names() {
        assert_eq!(vipd_name("VI_1"), "VI_1");
        assert_eq!(vipd_name("web vip/1"), "web_vip_1");
        assert_eq!(vipd_name(""), "unnamed");
    }

    #[test]
    fn commands() {
        let at = Location {
            file: "/etc/keepalived/keepalived.conf".to_owned(),
            line: 1,
        };
        let mut r = Report::default();
        assert_eq!(
            command("/bin/check 'a b'", &at, "script", &mut r).unwrap(),
            ["/bin/check", "a b"]
        );
        assert!(r.warnings.is_empty());
        assert_eq!(
            command("killall -0 sshd", &at, "script", &mut r).unwrap(),
            ["/usr/bin/env", "killall", "-0", "sshd"]
        );
        assert_eq!(
            command("</dev/tcp/127.0.0.1/80", &at, "script", &mut r).unwrap(),
            ["/bin/sh", "-c", "</dev/tcp/127.0.0.1/80"]
        );
        assert_eq!(
            command("scripts/x.sh a", &at, "script", &mut r).unwrap(),
            ["/etc/keepalived/scripts/x.sh", "a"]
        );
        assert_eq!(r.warnings.len(), 3);
        assert_eq!(command("  ", &at, "script", &mut r), None);
    }
}
