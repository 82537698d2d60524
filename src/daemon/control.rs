//! The control socket: `vipd status` asks the running daemon what it is doing.
//!
//! One request per connection: the client writes a command line ("status"),
//! the daemon answers with one JSON document and closes. The protocol loop
//! builds the answer, so it is always consistent with the state machine.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// What a client may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Status,
    /// Re-read the configuration file (like SIGHUP), answering a [`ReloadOutcome`].
    Reload,
}

/// What `vipd reload` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadOutcome {
    /// False: nothing was changed and `messages` says why.
    pub applied: bool,
    /// The changes made, or the errors found.
    pub messages: Vec<String>,
}

pub struct Request {
    pub command: Command,
    pub reply: oneshot::Sender<String>,
}

/// `vipd status --json`: a stable document (fields are only ever added).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub node: String,
    pub version: String,
    pub pid: u32,
    pub uptime_seconds: f64,
    pub instances: Vec<InstanceStatus>,
    pub sync_groups: Vec<GroupStatus>,
    pub checks: Vec<CheckStatus>,
    /// Packets that could not be attributed to an instance, by reason.
    pub invalid_packets: BTreeMap<String, u64>,
    /// Tracked files some instance tracks, with the value last read.
    #[serde(default)]
    pub tracked_files: Vec<TrackedFileStatus>,
    /// Tracked processes some instance tracks.
    #[serde(default)]
    pub tracked_processes: Vec<TrackedProcessStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub version: u8,
    pub state: String,
    pub priority: PriorityStatus,
    pub fault: Option<String>,
    /// The master most recently heard (none while we are master and unchallenged).
    pub master: Option<MasterStatus>,
    pub vips: Vec<String>,
    pub holds_vips: bool,
    pub last_transition: Option<TransitionStatus>,
    pub counters: Counters,
    /// The latest hook run that failed or timed out.
    #[serde(default)]
    pub last_hook_failure: Option<RunFailure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorityStatus {
    pub configured: u8,
    pub effective: u8,
    /// What moves the effective priority, e.g. "check pg_alive -30".
    pub adjustments: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterStatus {
    pub address: String,
    pub priority: u8,
    pub interval_ms: u64,
    pub seconds_since_heard: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionStatus {
    pub from: String,
    pub to: String,
    pub reason: String,
    /// Wall-clock time of the transition, seconds since the Unix epoch.
    pub unix_time: f64,
    pub seconds_ago: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub advert_send_errors: u64,
    /// Adverts dropped by this instance, by reason.
    pub adverts_dropped: BTreeMap<String, u64>,
    pub transitions: u64,
    /// Transitions by the state entered.
    pub transitions_to: BTreeMap<String, u64>,
    /// Times we were master and heard another, lower-priority master.
    pub split_brain_events: u64,
    pub vip_restores: u64,
    pub announcements: u64,
    pub announce_errors: u64,
    /// Virtual addresses that could not be added or removed.
    pub vip_errors: u64,
    pub hook_runs: u64,
    pub hook_failures: u64,
    pub hook_timeouts: u64,
    pub hooks_skipped: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckStatus {
    pub name: String,
    /// After rise/fall: what the tracking instances act on.
    pub healthy: bool,
    pub runs: u64,
    pub failures: u64,
    pub timeouts: u64,
    /// The latest run that failed or timed out.
    #[serde(default)]
    pub last_failure: Option<RunFailure>,
}

/// A check or hook run that failed, with the end of what it printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    pub command: String,
    /// In words: "exited with status 1", "timed out after 2s; ...".
    pub outcome: String,
    /// Wall-clock time it ended, seconds since the Unix epoch.
    pub unix_time: f64,
    /// Its last lines of stdout and stderr (a bounded tail).
    pub output: Vec<String>,
    /// How much it printed in all.
    pub output_bytes: u64,
}

impl From<&crate::daemon::process::FailedRun> for RunFailure {
    fn from(run: &crate::daemon::process::FailedRun) -> RunFailure {
        RunFailure {
            command: run.command.clone(),
            outcome: run.outcome.to_string(),
            unix_time: run
                .at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            output: run.output.lines.clone(),
            output_bytes: run.output.bytes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedFileStatus {
    pub name: String,
    pub path: String,
    pub value: i64,
    /// Why the value counts as 0 (missing, unreadable, not an integer), if so.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedProcessStatus {
    pub name: String,
    /// Quorum met (after `delay`).
    pub up: bool,
    /// Matching processes at the last scan.
    pub running: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStatus {
    pub name: String,
    pub state: String,
    pub instances: Vec<String>,
}

/// Listens on `path` (replacing a stale socket), mode 0660 and, if given,
/// owned by `group`.
pub fn serve(
    path: &Path,
    group: Option<&str>,
    requests: mpsc::UnboundedSender<Request>,
) -> Result<JoinHandle<()>, String> {
    let shown = path.display();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("control socket directory {}: {e}", dir.display()))?;
    }
    // Only a socket left by an earlier run is removed (the daemon lock says
    // no live daemon owns it). Where there is none, no unlink is tried: on a
    // read-only file system it would fail, blaming an old socket that is not
    // there.
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("control socket {shown}: {e}")),
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(format!(
                "control socket {shown}: the path exists and is not a socket; not replacing it"
            ));
        }
        Ok(_) => std::fs::remove_file(path).map_err(|e| {
            format!("control socket {shown}: cannot remove the one left by an earlier run: {e}")
        })?,
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("control socket {shown}: {e}"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("control socket {shown}: {e}"))?;
    if let Some(group) = group {
        let gid = nix::unistd::Group::from_name(group)
            .map_err(|e| format!("control_group {group:?}: {e}"))?
            .ok_or_else(|| format!("control_group {group:?} does not exist"))?
            .gid;
        nix::unistd::chown(path, None, Some(gid))
            .map_err(|e| format!("control socket {shown}: chown: {e}"))?;
    }
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let requests = requests.clone();
            // Each client on its own task: a slow client never stalls the loop.
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), answer(stream, requests)).await;
            });
        }
    }))
}

async fn answer(
    mut stream: tokio::net::UnixStream,
    requests: mpsc::UnboundedSender<Request>,
) -> io::Result<()> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 256 && stream.read(&mut byte).await? == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let command = match String::from_utf8_lossy(&line).trim() {
        "status" => Some(Command::Status),
        "reload" => Some(Command::Reload),
        _ => None,
    };
    let response = match command {
        Some(command) => {
            let (reply, answer) = oneshot::channel();
            let _ = requests.send(Request { command, reply });
            answer
                .await
                .unwrap_or_else(|_| error_json("daemon is shutting down"))
        }
        None => error_json(&format!(
            "unknown command {:?}",
            String::from_utf8_lossy(&line)
        )),
    };
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn error_json(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

/// Client side: sends `command` and returns the daemon's answer.
pub fn query(path: &Path, command: &str) -> io::Result<String> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(format!("{command}\n").as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// The compact table `vipd status` prints.
pub fn render_table(status: &Status) -> String {
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
