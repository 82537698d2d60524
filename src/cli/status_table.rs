//! `vipd status` without `--json`: the status document as a compact table.

use crate::daemon::control::{RunFailure, Status};

/// The compact table `vipd status` prints.
pub fn render(status: &Status) -> String {
    let mut rows = vec![[
        "INSTANCE".to_owned(),
        "STATE".into(),
        "PRIO".into(),
        "MASTER HEARD".into(),
        "VIPS".into(),
        "LAST CHANGE".into(),
    ]];
    for i in &status.instances {
        let master = i.master.as_ref().map_or("-".to_owned(), |m| {
            format!(
                "{} prio {} ({:.1}s ago)",
                m.address, m.priority, m.seconds_since_heard
            )
        });
        let vips = if i.holds_vips {
            i.vips.join(",")
        } else {
            "-".to_owned()
        };
        let change = i.last_transition.as_ref().map_or("-".to_owned(), |t| {
            format!(
                "{:.1}s ago: {} -> {}: {}",
                t.seconds_ago, t.from, t.to, t.reason
            )
        });
        let state = match &i.fault {
            Some(why) => format!("{} ({why})", i.state),
            None => i.state.clone(),
        };
        rows.push([
            i.name.clone(),
            state,
            format!("{}/{}", i.priority.effective, i.priority.configured),
            master,
            vips,
            change,
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "node {} (vipd {}, up {:.0}s)\n",
        status.node, status.version, status.uptime_seconds
    );
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| {
                if c == 5 {
                    cell.clone()
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    for i in &status.instances {
        if !i.priority.adjustments.is_empty() {
            out.push_str(&format!(
                "{}: priority {}: {}\n",
                i.name,
                i.priority.effective,
                i.priority.adjustments.join(", ")
            ));
        }
    }
    for f in &status.tracked_files {
        let note = f
            .problem
            .as_ref()
            .map_or(String::new(), |p| format!(", {p}"));
        out.push_str(&format!(
            "tracked file {}: value {} ({}{note})\n",
            f.name, f.value, f.path
        ));
    }
    for p in &status.tracked_processes {
        let state = if p.up { "up" } else { "down" };
        out.push_str(&format!(
            "tracked process {}: {state}, {} running\n",
            p.name, p.running
        ));
    }
    for c in status.checks.iter().filter(|c| !c.healthy) {
        out.push_str(&format!("check {}: failing", c.name));
        render_failure(&mut out, c.last_failure.as_ref());
    }
    for i in &status.instances {
        if let Some(failure) = &i.last_hook_failure {
            out.push_str(&format!("{}: last failed hook", i.name));
            render_failure(&mut out, Some(failure));
        }
    }
    for g in &status.sync_groups {
        out.push_str(&format!(
            "sync group {}: {} ({})\n",
            g.name,
            g.state,
            g.instances.join(", ")
        ));
    }
    // A locked group's lock is shown once, for the group, not per member.
    let group_locked = |name: &str| {
        (status.sync_groups.iter())
            .any(|g| g.leadership.is_some() && g.instances.iter().any(|m| m == name))
    };
    let locks = (status.instances.iter())
        .filter(|i| !group_locked(&i.name))
        .filter_map(|i| Some((i.name.clone(), i.leadership.as_ref()?)));
    let group_locks = (status.sync_groups.iter())
        .filter_map(|g| Some((format!("sync group {}", g.name), g.leadership.as_ref()?)));
    for (owner, l) in locks.chain(group_locks) {
        let detail = match (&l.holder, l.seconds_left) {
            (_, Some(left)) => format!("held, {left:.1}s left before renewal is due"),
            (Some(holder), None) => format!("{}, held by {holder}", l.standing),
            (None, None) => l.standing.clone(),
        };
        out.push_str(&format!(
            "{owner}: leadership {} (ttl {}s, on etcd loss {}): {detail}\n",
            l.key, l.ttl_seconds, l.on_etcd_loss
        ));
    }
    if let Some(e) = &status.etcd {
        let state = if e.connected {
            "connected"
        } else {
            "unreachable"
        };
        let leader = if e.leader_known {
            "leader known"
        } else {
            "no leader known"
        };
        let last = e
            .seconds_since_success
            .map_or("never answered".to_owned(), |s| {
                format!("last answer {s:.1}s ago")
            });
        out.push_str(&format!(
            "etcd {}: {state}, {leader}, {last}; {} requests, {} failed\n",
            e.endpoints.join(","),
            e.requests,
            e.failures
        ));
    }
    out
}

/// ": COMMAND OUTCOME" and the run's last output lines, indented.
fn render_failure(out: &mut String, failure: Option<&RunFailure>) {
    match failure {
        Some(f) => {
            out.push_str(&format!(": {} {}\n", f.command, f.outcome));
            for line in &f.output {
                out.push_str(&format!("    | {line}\n"));
            }
        }
        None => out.push('\n'),
    }
}
