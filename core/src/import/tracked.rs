//! `track_file NAME { ... }` (or the older `vrrp_track_file`) to
//! `[track_files.NAME]`, and `vrrp_track_process NAME { ... }` to
//! `[track_processes.NAME]`. The caller names them and records them for the
//! instances that refer to them.

use core::time::Duration;
use std::path::Path;

use super::keywords::{self, Context};
use super::model::{Origin, TrackFile, TrackProcess};
use super::parser::Node;
use super::report::Report;
use super::translate::REVERSE;
use super::values;

/// The most of a process name the kernel keeps (/proc/PID/comm).
const COMM_MAX: usize = crate::config::COMM_MAX;

/// A weight of a tracked file or process, or of a reference to one.
/// keepalived allows more than vipd's -253..=253 here; larger values are
/// limited, and said so.
pub(super) fn wide_weight(text: &str, item: &Node, report: &mut Report) -> Option<i16> {
    let Some(w) = values::integer(text) else {
        report.warn(
            &item.at,
            item.text(),
            "the weight is not a whole number; keepalived ignores it, so does this import",
        );
        return None;
    };
    let limited = w.clamp(-253, 253);
    if limited != w {
        report.warn(
            &item.at,
            item.text(),
            format!("vipd's weights go from -253 to 253; using {limited}"),
        );
    }
    Some(limited as i16)
}

/// The definition, with an empty name; `None` (reported) when it cannot be
/// carried over.
pub(super) fn track_file(node: &Node, report: &mut Report) -> Option<TrackFile> {
    let mut path: Option<String> = None;
    let mut weight = None;
    let mut unusable_path = false;
    for item in node.children() {
        match (item.keyword(), item.arg(0)) {
            ("file", Some(p)) if Path::new(p).is_absolute() => path = Some(p.to_owned()),
            ("file", Some(_)) => {
                unusable_path = true;
                report.warn(
                    &item.at,
                    item.text(),
                    "vipd needs an absolute path (keepalived resolves a relative one against its working directory)",
                );
            }
            ("weight", Some(w)) => {
                weight = wide_weight(w, item, report);
                if item.args().iter().skip(1).any(|a| a == "reverse") {
                    report.warn(&item.at, item.text(), REVERSE);
                }
            }
            ("init_file", _) => report.warn(
                &item.at,
                item.text(),
                "vipd never creates or writes the file; create it before vipd starts (a missing file counts as 0)",
            ),
            (kw, _) => report.warn(&item.at, item.text(), keywords::reason(Context::Tracked, kw)),
        }
    }
    let Some(path) = path else {
        if !unusable_path {
            report.warn(
                &node.at,
                node.text(),
                "has no `file`; not carried over, and instances tracking it will not",
            );
        } else {
            report.warn(
                &node.at,
                node.text(),
                "not carried over, and instances tracking it will not",
            );
        }
        return None;
    };
    Some(TrackFile {
        name: String::new(),
        source: Origin {
            at: node.at.clone(),
            block: node.text(),
        },
        path,
        weight,
    })
}

/// The definition, with an empty name; `None` (reported) when it cannot be
/// carried over.
pub(super) fn track_process(node: &Node, report: &mut Report) -> Option<TrackProcess> {
    let mut command: Option<&[String]> = None;
    let mut param_match: Option<&Node> = None;
    let mut full_command = false;
    let mut weight = None;
    let mut quorum: Option<u32> = None;
    let mut quorum_max: Option<u32> = None;
    let mut fork_delay: Option<Duration> = None;
    let mut terminate_delay: Option<Duration> = None;
    for item in node.children() {
        let arg = item.arg(0);
        match (item.keyword(), arg) {
            ("process", Some(_)) => command = Some(item.args()),
            ("param_match", _) => param_match = Some(item),
            ("full_command", _) => full_command = true,
            ("weight", Some(w)) => {
                weight = wide_weight(w, item, report);
                if item.args().iter().skip(1).any(|a| a == "reverse") {
                    report.warn(&item.at, item.text(), REVERSE);
                }
            }
            ("quorum" | "quorum_max", Some(v)) => match values::integer(v) {
                Some(n @ 0..=crate::config::rules::MAX_QUORUM)
                    if item.keyword() == "quorum_max" =>
                {
                    quorum_max = Some(n as u32);
                }
                Some(n @ 1..=crate::config::rules::MAX_QUORUM) => quorum = Some(n as u32),
                _ => report.warn(
                    &item.at,
                    item.text(),
                    "out of range; keepalived ignores it, so does this import",
                ),
            },
            ("delay" | "fork_delay" | "terminate_delay", Some(v)) => match values::seconds(v) {
                Some(d) => {
                    if item.keyword() != "terminate_delay" {
                        fork_delay = Some(d);
                    }
                    if item.keyword() != "fork_delay" {
                        terminate_delay = Some(d);
                    }
                }
                None => report.warn(&item.at, item.text(), "not a number of seconds; ignored"),
            },
            (kw, _) => report.warn(
                &item.at,
                item.text(),
                keywords::reason(Context::Tracked, kw),
            ),
        }
    }
    let Some((process, params)) = command.and_then(<[String]>::split_first) else {
        report.warn(
            &node.at,
            node.text(),
            "has no `process`; not carried over, and instances tracking it will not",
        );
        return None;
    };
    // With parameters keepalived matches the command line, not the name.
    let mut full_command = full_command || !params.is_empty();
    let args = match param_match {
        None if params.is_empty() => None,
        None => Some(params.to_vec()),
        // `param_match` without parameters: the command must have none.
        Some(_) if params.is_empty() => Some(Vec::new()),
        Some(item) => {
            report.warn(
                &item.at,
                item.text(),
                "vipd matches the arguments exactly or not at all; the arguments are not carried over, so any arguments match: review it",
            );
            None
        }
    };
    if !full_command && process.len() > COMM_MAX {
        full_command = true;
        report.warn(
            &node.at,
            node.text(),
            format!(
                "the kernel keeps only {COMM_MAX} bytes of a process name; matched against the command line instead (full_command = true)"
            ),
        );
    }
    let delay = match (fork_delay, terminate_delay) {
        (Some(f), Some(t)) if f != t => {
            let longer = f.max(t);
            report.warn(
                &node.at,
                node.text(),
                format!(
                    "vipd has one `delay` for both directions; using the longer, {}",
                    values::duration_text(longer)
                ),
            );
            Some(longer)
        }
        (f, t) => f.or(t),
    };
    // keepalived's `quorum_max 0`: the process must not run at all.
    if let (None, Some(max)) = (quorum, quorum_max)
        && max == 0
    {
        quorum = Some(0);
    }
    if let (Some(q), Some(max)) = (quorum.or(Some(1)), quorum_max)
        && max < q
    {
        report.warn(
            &node.at,
            node.text(),
            format!(
                "quorum_max {max} is below quorum {q}; the process could never count as running, so quorum_max is not carried over"
            ),
        );
        quorum_max = None;
    }
    Some(TrackProcess {
        name: String::new(),
        source: Origin {
            at: node.at.clone(),
            block: node.text(),
        },
        process: process.clone(),
        args,
        full_command,
        weight,
        quorum,
        quorum_max,
        delay: delay.filter(|d| !d.is_zero()),
    })
}
