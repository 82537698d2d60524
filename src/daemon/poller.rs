//! Tracked files and processes (keepalived's `track_file` and
//! `vrrp_track_process`): a dedicated thread reads them and sends what
//! changed to the protocol loop, which applies the weights through the pure
//! [`HealthTracker`](crate::protocol::HealthTracker).
//!
//! Polling, not inotify or the kernel's process connector: every
//! [`POLL_INTERVAL`] the thread reads each tracked file and scans /proc once
//! for all tracked processes. Polling sees a file replaced by rename, a file
//! whose directory does not exist yet and any file system alike, and needs
//! no privilege; the price is up to one interval of latency. The thread is
//! its own, so a slow read (a hung network file system) never delays the
//! protocol loop; only changes are sent.
//!
//! Rules, documented in README.md:
//! - A file's value is the decimal integer at its start (leading whitespace
//!   and a sign allowed, anything after the digits ignored). A missing,
//!   unreadable or empty file, or one that does not start with an integer,
//!   reads as 0, as in keepalived.
//! - A process matches when its name (/proc/PID/comm) equals `process`, or
//!   with `full_command` when argv[0] does (its basename, unless `process`
//!   contains a '/'); with `args`, argv[1..] must also equal them exactly.
//!   Zombies do not count.
//! - A process is up while the number of matches is within its quorum; a
//!   change between up and down counts once it has lasted `delay`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::control::{TrackedFileStatus, TrackedProcessStatus};
use crate::config::{Config, TrackFile, TrackProcess};
use crate::protocol::HealthTracker;

/// How often files and /proc are read.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How much of a tracked file is read: a number needs no more.
const READ_LIMIT: u64 = 128;

/// One change, sent to the protocol loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackedUpdate {
    File {
        name: String,
        path: PathBuf,
        value: i64,
        /// Why the value is 0 without the file saying so, if it is.
        problem: Option<String>,
    },
    Process {
        name: String,
        /// The quorum is met (after `delay`).
        up: bool,
        /// Matching processes at the last scan.
        running: usize,
    },
}

/// The value in a tracked file's text, with keepalived's leniency: the
/// decimal integer at the start (after whitespace), or 0 when there is none.
/// Values beyond i64 saturate; the health tracker limits them further.
pub fn parse_value(text: &str) -> Option<i64> {
    let text = text.trim_start();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let magnitude = digits[..end].bytes().fold(0i64, |n, b| {
        n.saturating_mul(10).saturating_add(i64::from(b - b'0'))
    });
    Some(if negative { -magnitude } else { magnitude })
}

/// Reads a tracked file: its value, and why it is 0 if the file did not say.
pub fn read_file(path: &Path) -> (i64, Option<String>) {
    let mut text = String::new();
    // Non-blocking, so a FIFO put there by mistake cannot hang the thread.
    let read = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .and_then(|f| f.take(READ_LIMIT).read_to_string(&mut text));
    match read {
        Err(e) if e.kind() == io::ErrorKind::NotFound => (0, Some("missing".to_owned())),
        Err(e) => (0, Some(format!("unreadable: {e}"))),
        Ok(_) => match parse_value(&text) {
            Some(value) => (value, None),
            None if text.trim().is_empty() => (0, Some("empty".to_owned())),
            None => (0, Some("does not start with an integer".to_owned())),
        },
    }
}

/// What one /proc entry says about a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    pub comm: String,
    /// argv, when it was needed and could be read (empty for kernel threads).
    pub argv: Option<Vec<String>>,
}

/// Whether a process matches a tracked process's `process`, `full_command`
/// and `args`.
pub fn matches(spec: &TrackProcess, info: &ProcInfo) -> bool {
    let argv = info.argv.as_deref();
    let name_ok = if spec.full_command {
        match argv.and_then(<[String]>::first) {
            Some(arg0) if spec.process.contains('/') => *arg0 == spec.process,
            Some(arg0) => arg0.rsplit('/').next() == Some(spec.process.as_str()),
            None => false,
        }
    } else {
        info.comm == spec.process
    };
    name_ok
        && match &spec.args {
            None => true,
            Some(args) => argv.is_some_and(|a| a.len() == args.len() + 1 && a[1..] == args[..]),
        }
}

fn needs_argv(spec: &TrackProcess) -> bool {
    spec.full_command || spec.args.is_some()
}

/// The name and state in /proc/PID/stat: "PID (COMM) S ...". The name may
/// itself contain parentheses and spaces, so it ends at the last ')'.
fn parse_stat(stat: &str) -> Option<(&str, char)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let state = stat.get(close + 1..)?.trim_start().chars().next()?;
    Some((comm, state))
}

fn read_argv(dir: &Path) -> Option<Vec<String>> {
    let bytes = fs::read(dir.join("cmdline")).ok()?;
    let mut argv: Vec<String> = bytes
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    // cmdline ends with a NUL, which leaves one empty piece.
    if argv.last().is_some_and(String::is_empty) {
        argv.pop();
    }
    Some(argv)
}

/// Counts the live processes in `proc_root` matching each spec, in order.
/// Processes that exit during the scan are skipped.
pub fn count_processes(proc_root: &Path, specs: &[&TrackProcess]) -> Vec<usize> {
    let mut counts = vec![0; specs.len()];
    let Ok(entries) = fs::read_dir(proc_root) else {
        return counts;
    };
    let want_argv = specs.iter().any(|s| needs_argv(s));
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let dir = entry.path();
        let Ok(stat) = fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        let Some((comm, state)) = parse_stat(&stat) else {
            continue;
        };
        // Zombies (Z) and dead tasks (X) are not running.
        if matches!(state, 'Z' | 'X') {
            continue;
        }
        let info = ProcInfo {
            comm: comm.to_owned(),
            argv: if want_argv { read_argv(&dir) } else { None },
        };
        for (count, spec) in counts.iter_mut().zip(specs) {
            if matches(spec, &info) {
                *count += 1;
            }
        }
    }
    counts
}

/// A tracked process's up/down as reported, with its `delay` applied.
#[derive(Debug, Clone)]
pub struct Debounce {
    delay: Duration,
    reported: Option<bool>,
    /// A different state seen since this instant, not yet reported.
    pending: Option<(bool, Instant)>,
}

impl Debounce {
    pub fn new(delay: Duration) -> Debounce {
        Debounce {
            delay,
            reported: None,
            pending: None,
        }
    }

    /// Feeds the state seen at `now`; returns the state to report when it
    /// changes. The first observation is reported at once.
    pub fn observe(&mut self, up: bool, now: Instant) -> Option<bool> {
        let Some(reported) = self.reported else {
            self.reported = Some(up);
            return Some(up);
        };
        if up == reported {
            self.pending = None;
            return None;
        }
        let since = match self.pending {
            Some((state, since)) if state == up => since,
            _ => {
                self.pending = Some((up, now));
                now
            }
        };
        if now.saturating_duration_since(since) >= self.delay {
            self.reported = Some(up);
            self.pending = None;
            return Some(up);
        }
        None
    }

    pub fn reported(&self) -> Option<bool> {
        self.reported
    }
}

struct FileWatch {
    spec: TrackFile,
    last: Option<(i64, Option<String>)>,
}

struct ProcessWatch {
    spec: TrackProcess,
    debounce: Debounce,
    running: Option<usize>,
}

/// Everything tracked, with what was last sent.
pub struct Poller {
    proc_root: PathBuf,
    files: Vec<FileWatch>,
    processes: Vec<ProcessWatch>,
}

impl Poller {
    /// The files and processes some instance tracks; the others are never read.
    pub fn new(config: &Config) -> Poller {
        let instances = config.instances.values();
        // Each name once, in name order as the maps keep them.
        let files: BTreeSet<&String> = instances
            .clone()
            .flat_map(|i| &i.track_files)
            .map(|t| &t.name)
            .collect();
        let processes: BTreeSet<&String> = instances
            .flat_map(|i| &i.track_processes)
            .map(|t| &t.name)
            .collect();
        Poller::with(
            files
                .into_iter()
                .filter_map(|n| config.track_files.get(n))
                .cloned(),
            processes
                .into_iter()
                .filter_map(|n| config.track_processes.get(n))
                .cloned(),
        )
    }

    /// A poller of exactly these, reading processes from /proc.
    pub fn with(
        files: impl IntoIterator<Item = TrackFile>,
        processes: impl IntoIterator<Item = TrackProcess>,
    ) -> Poller {
        Poller {
            proc_root: PathBuf::from("/proc"),
            files: files
                .into_iter()
                .map(|spec| FileWatch { spec, last: None })
                .collect(),
            processes: processes
                .into_iter()
                .map(|spec| ProcessWatch {
                    debounce: Debounce::new(spec.delay),
                    spec,
                    running: None,
                })
                .collect(),
        }
    }

    /// Reads processes from another directory laid out like /proc (tests).
    pub fn with_proc_root(mut self, root: impl Into<PathBuf>) -> Poller {
        self.proc_root = root.into();
        self
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.processes.is_empty()
    }

    /// Reads everything once; returns what changed since the last poll (on
    /// the first poll, everything).
    pub fn poll(&mut self, now: Instant) -> Vec<TrackedUpdate> {
        let mut updates = Vec::new();
        for file in &mut self.files {
            let reading = read_file(&file.spec.path);
            if file.last.as_ref() != Some(&reading) {
                updates.push(TrackedUpdate::File {
                    name: file.spec.name.clone(),
                    path: file.spec.path.clone(),
                    value: reading.0,
                    problem: reading.1.clone(),
                });
                file.last = Some(reading);
            }
        }
        if !self.processes.is_empty() {
            let specs: Vec<&TrackProcess> = self.processes.iter().map(|p| &p.spec).collect();
            let counts = count_processes(&self.proc_root, &specs);
            for (watch, running) in self.processes.iter_mut().zip(counts) {
                let flipped = watch
                    .debounce
                    .observe(watch.spec.quorum_met(running), now)
                    .is_some();
                if flipped || watch.running != Some(running) {
                    watch.running = Some(running);
                    updates.push(TrackedUpdate::Process {
                        name: watch.spec.name.clone(),
                        up: watch.debounce.reported().unwrap_or(true),
                        running,
                    });
                }
            }
        }
        updates
    }
}

/// Polls on a thread of its own every [`POLL_INTERVAL`] and sends changes;
/// the thread ends when the receiving side is gone.
pub fn spawn(mut poller: Poller, updates: mpsc::UnboundedSender<TrackedUpdate>) -> io::Result<()> {
    if poller.is_empty() {
        return Ok(());
    }
    std::thread::Builder::new()
        .name("tracked".into())
        .spawn(move || {
            loop {
                std::thread::sleep(POLL_INTERVAL);
                if updates.is_closed() {
                    return;
                }
                for update in poller.poll(Instant::now()) {
                    if updates.send(update).is_err() {
                        return;
                    }
                }
            }
        })
        .map(drop)
}

impl TrackedUpdate {
    /// Feeds the update to an instance's tracker; true if it tracks it.
    pub fn apply(&self, tracker: &mut HealthTracker) -> bool {
        match self {
            TrackedUpdate::File { name, value, .. } => tracker.file_value(name, *value),
            TrackedUpdate::Process { name, up, .. } => tracker.process_up(name, *up),
        }
    }

    /// One log line.
    pub fn describe(&self) -> String {
        match self {
            TrackedUpdate::File {
                name,
                path,
                value,
                problem: None,
            } => format!("tracked file {name}: value {value} ({})", path.display()),
            TrackedUpdate::File {
                name,
                path,
                problem: Some(problem),
                ..
            } => format!(
                "tracked file {name}: {} {problem}; counts as value 0",
                path.display()
            ),
            TrackedUpdate::Process { name, up, running } => format!(
                "tracked process {name}: {running} running, {}",
                if *up { "up" } else { "down" }
            ),
        }
    }
}

/// The latest update of each tracked file and process, for status.
#[derive(Debug, Default)]
pub struct Latest {
    files: BTreeMap<String, TrackedUpdate>,
    processes: BTreeMap<String, TrackedUpdate>,
}

impl Latest {
    /// Every latest update, to bring a new tracker up to date.
    pub fn updates(&self) -> Vec<TrackedUpdate> {
        self.files
            .values()
            .chain(self.processes.values())
            .cloned()
            .collect()
    }

    pub fn record(&mut self, update: &TrackedUpdate) {
        let (map, name) = match update {
            TrackedUpdate::File { name, .. } => (&mut self.files, name),
            TrackedUpdate::Process { name, .. } => (&mut self.processes, name),
        };
        map.insert(name.clone(), update.clone());
    }

    pub fn files(&self) -> Vec<TrackedFileStatus> {
        self.files
            .values()
            .filter_map(|u| match u {
                TrackedUpdate::File {
                    name,
                    path,
                    value,
                    problem,
                } => Some(TrackedFileStatus {
                    name: name.clone(),
                    path: path.display().to_string(),
                    value: *value,
                    problem: problem.clone(),
                }),
                TrackedUpdate::Process { .. } => None,
            })
            .collect()
    }

    pub fn processes(&self) -> Vec<TrackedProcessStatus> {
        self.processes
            .values()
            .filter_map(|u| match u {
                TrackedUpdate::Process { name, up, running } => Some(TrackedProcessStatus {
                    name: name.clone(),
                    up: *up,
                    running: *running,
                }),
                TrackedUpdate::File { .. } => None,
            })
            .collect()
    }
}
