//! Running operator programs (checks and hooks) without ever blocking the
//! protocol loop: each runs in its own process group, is awaited on its own
//! task, and is killed with its whole group when it outlives its timeout, or
//! its stop grace once shutdown has begun.
//!
//! Their stdout and stderr go to one pipe that is always drained (a program
//! printing without end never blocks on a full pipe) into a bounded tail:
//! the last [`TAIL_BYTES`] bytes, of which the last [`TAIL_LINES`] lines are
//! kept for the log and status. Nothing is copied to vipd's own log
//! unbounded or unlabelled: a [`LiveLog`] logs a bounded number of lines per
//! run, each prefixed with who printed it.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, User};
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::process::Command;
use tokio::sync::watch;
use tokio::time::Instant;

/// Bytes of a run's output kept (the end of it).
pub const TAIL_BYTES: usize = 4096;
/// Lines of that tail shown in the log and in status.
pub const TAIL_LINES: usize = 10;
/// How long a run's output may still arrive after it exited. A program that
/// left a daemon holding the pipe is not waited for beyond this; the pipe is
/// still drained (so the daemon never gets EPIPE), just no longer watched.
const OUTPUT_GRACE: Duration = Duration::from_millis(200);

/// Who a program runs as: `script_user`, or the daemon's own user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunAs {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl RunAs {
    /// Looks `script_user` up in the user database.
    pub fn user(name: &str) -> Result<RunAs, String> {
        match User::from_name(name) {
            Ok(Some(user)) => Ok(RunAs {
                uid: Some(user.uid.as_raw()),
                gid: Some(user.gid.as_raw()),
            }),
            Ok(None) => Err(format!("script_user {name:?} does not exist")),
            Err(e) => Err(format!("cannot look up script_user {name:?}: {e}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal, which we did not send.
    Signalled(i32),
    /// Outlived its timeout; its process group was killed.
    TimedOut(Duration),
    /// Still running when the stop grace after shutdown ran out; its process
    /// group was killed.
    CutAtShutdown(Duration),
    /// Could not be started at all.
    SpawnFailed(String),
}

impl Outcome {
    pub fn success(&self) -> bool {
        *self == Outcome::Exited(0)
    }

    /// Killed by us for running too long (its timeout or the stop grace).
    pub fn timed_out(&self) -> bool {
        matches!(self, Outcome::TimedOut(_) | Outcome::CutAtShutdown(_))
    }
}

/// Words for the log: "exited with status 1", "timed out after 2s".
impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exited(code) => write!(f, "exited with status {code}"),
            Outcome::Signalled(n) => match Signal::try_from(*n) {
                Ok(signal) => write!(f, "killed by signal {n} ({})", signal.as_str()),
                Err(_) => write!(f, "killed by signal {n}"),
            },
            Outcome::TimedOut(after) => write!(
                f,
                "timed out after {}; its process group was killed",
                humantime::format_duration(*after)
            ),
            Outcome::CutAtShutdown(grace) => write!(
                f,
                "still running {} after shutdown began; its process group was killed",
                humantime::format_duration(*grace)
            ),
            Outcome::SpawnFailed(e) => write!(f, "could not start: {e}"),
        }
    }
}

/// How a run ended and the end of what it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub outcome: Outcome,
    pub output: Output,
}

/// The end of a run's combined stdout and stderr.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// The last [`TAIL_LINES`] lines, control characters escaped.
    pub lines: Vec<String>,
    /// Everything the run printed, counted (only the tail is kept).
    pub bytes: u64,
}

impl Output {
    /// "last 3 lines of 12 KiB" and the like, for a log line.
    pub fn describe(&self) -> String {
        let n = self.lines.len();
        let lines = if n == 1 { "line" } else { "lines" };
        format!("its last {n} {lines} ({} printed)", human_bytes(self.bytes))
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// A failed run, kept so status can show the latest one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRun {
    pub command: String,
    pub outcome: Outcome,
    pub at: std::time::SystemTime,
    pub output: Output,
}

impl FailedRun {
    pub fn new(command: String, finished: &Finished) -> FailedRun {
        FailedRun {
            command,
            outcome: finished.outcome.clone(),
            at: std::time::SystemTime::now(),
            output: finished.output.clone(),
        }
    }
}

/// The last [`TAIL_BYTES`] bytes of a stream, and how much went by.
#[derive(Debug, Default)]
struct Tail {
    kept: VecDeque<u8>,
    total: u64,
}

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let bytes = &bytes[bytes.len().saturating_sub(TAIL_BYTES)..];
        let overflow = (self.kept.len() + bytes.len()).saturating_sub(TAIL_BYTES);
        self.kept.drain(..overflow);
        self.kept.extend(bytes);
    }

    fn output(&self) -> Output {
        let (a, b) = self.kept.as_slices();
        let text = String::from_utf8_lossy(&[a, b].concat()).into_owned();
        let mut lines: Vec<&str> = text.lines().collect();
        // The first kept line was cut by the byte bound: a fragment.
        if self.total > self.kept.len() as u64 && lines.len() > 1 {
            lines.remove(0);
        }
        let skip = lines.len().saturating_sub(TAIL_LINES);
        Output {
            lines: lines[skip..].iter().map(|l| printable(l)).collect(),
            bytes: self.total,
        }
    }
}

/// Control characters escaped, so output cannot forge log lines or colours.
fn printable(line: &str) -> String {
    line.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() && c != '\t' {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// Tells running programs that shutdown has begun (see [`stop_signal`]).
#[derive(Debug)]
pub struct Stopper(watch::Sender<Option<(Instant, Duration)>>);

/// What a run watches for shutdown.
#[derive(Debug, Clone)]
pub struct StopSignal(watch::Receiver<Option<(Instant, Duration)>>);

/// A stop signal and its sender. Once [`Stopper::stop`] is called, every run
/// watching the signal gets at most `grace`: a program running then is killed
/// `grace` after that moment (or at its own timeout, if sooner); one started
/// later is killed `grace` after its start (same).
pub fn stop_signal() -> (Stopper, StopSignal) {
    let (tx, rx) = watch::channel(None);
    (Stopper(tx), StopSignal(rx))
}

impl Stopper {
    /// Shutdown begins now (only the first call counts).
    pub fn stop(&self, grace: Duration) {
        self.0.send_if_modified(|at| {
            let first = at.is_none();
            if first {
                *at = Some((Instant::now(), grace));
            }
            first
        });
    }
}

impl StopSignal {
    /// A signal that never fires.
    pub fn never() -> StopSignal {
        stop_signal().1
    }

    /// Whether shutdown has begun.
    pub fn has_begun(&self) -> bool {
        self.0.borrow().is_some()
    }

    /// When a run started at `started` with `timeout` must end, and the
    /// stop grace if that is what ends it.
    fn deadline(&self, started: Instant, timeout: Duration) -> (Instant, Option<Duration>) {
        let own = started + timeout;
        match *self.0.borrow() {
            Some((at, grace)) if at.max(started) + grace < own => {
                (at.max(started) + grace, Some(grace))
            }
            _ => (own, None),
        }
    }

    async fn changed(&mut self) {
        if self.0.changed().await.is_err() {
            // The sender is gone: shutdown can no longer begin.
            std::future::pending::<()>().await;
        }
    }
}

/// Kills the process group if the run is abandoned (its task aborted)
/// before the program was reaped.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// Runs `argv` with `env` added, as `run_as`, for at most `timeout`.
pub async fn run(
    argv: &[String],
    env: &BTreeMap<&str, String>,
    run_as: RunAs,
    timeout: Duration,
) -> Finished {
    run_until(argv, env, run_as, timeout, StopSignal::never(), None).await
}

/// [`run`], cut short by `stop` once shutdown begins, its output logged as
/// it comes by `live`.
pub async fn run_until(
    argv: &[String],
    env: &BTreeMap<&str, String>,
    run_as: RunAs,
    timeout: Duration,
    mut stop: StopSignal,
    live: Option<LiveLog>,
) -> Finished {
    let failed = |e: String| Finished {
        outcome: Outcome::SpawnFailed(e),
        output: Output::default(),
    };
    let Some((program, args)) = argv.split_first() else {
        return failed("empty command".into());
    };
    let (read_end, write_end) = match output_pipe() {
        Ok(ends) => ends,
        Err(e) => return failed(format!("{program}: cannot make an output pipe: {e}")),
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::from(write_end.0))
        .stderr(Stdio::from(write_end.1))
        .process_group(0)
        .kill_on_drop(true);
    if let Some(gid) = run_as.gid {
        command.gid(gid);
    }
    if let Some(uid) = run_as.uid {
        command.uid(uid);
    }
    let spawned = command.spawn();
    // Our copies of the write end must close, or the pipe never ends.
    drop(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return failed(format!("{program}: {e}")),
    };
    let mut guard = GroupGuard(child.id().map(|id| Pid::from_raw(id as i32)));
    let tail = Arc::new(Mutex::new(Tail::default()));
    let mut reader = tokio::spawn(drain(read_end, tail.clone(), live));

    let started = Instant::now();
    let outcome = loop {
        let (deadline, by_stop) = stop.deadline(started, timeout);
        tokio::select! {
            status = child.wait() => {
                guard.0 = None;
                break match status {
                    Ok(s) => match (s.code(), s.signal()) {
                        (Some(code), _) => Outcome::Exited(code),
                        (None, Some(signal)) => Outcome::Signalled(signal),
                        (None, None) => Outcome::SpawnFailed(format!("{program}: no exit status")),
                    },
                    Err(e) => Outcome::SpawnFailed(format!("{program}: {e}")),
                };
            }
            () = tokio::time::sleep_until(deadline) => {
                // The group may hold children the program started: kill them all.
                if let Some(pgid) = guard.0.take() {
                    let _ = killpg(pgid, Signal::SIGKILL);
                }
                let _ = child.wait().await;
                break match by_stop {
                    Some(grace) => Outcome::CutAtShutdown(grace),
                    None => Outcome::TimedOut(timeout),
                };
            }
            () = stop.changed() => {}
        }
    };
    let _ = tokio::time::timeout(OUTPUT_GRACE, &mut reader).await;
    let output = lock(&tail).output();
    Finished { outcome, output }
}

/// A close-on-exec pipe: the read end, and the write end twice (stdout and
/// stderr share it, so their lines keep their order).
fn output_pipe() -> std::io::Result<(pipe::Receiver, (OwnedFd, OwnedFd))> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let write2 = write.try_clone()?;
    Ok((pipe::Receiver::from_owned_fd(read)?, (write, write2)))
}

/// Reads the pipe to its end, keeping only the tail.
async fn drain(mut pipe: pipe::Receiver, tail: Arc<Mutex<Tail>>, mut live: Option<LiveLog>) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n @ 1..) = pipe.read(&mut buf).await {
        lock(&tail).push(&buf[..n]);
        if let Some(live) = &mut live {
            live.feed(&buf[..n]);
        }
    }
    if let Some(live) = &mut live {
        live.finish();
    }
}

/// Logs a run's output as it comes, line by line, each prefixed with who
/// printed it, up to a number of lines per run; the rest is not logged.
/// For hooks: they run once per transition, and what they say while they
/// promote or fence is wanted in the log as it happens.
#[derive(Debug)]
pub struct LiveLog {
    prefix: String,
    lines_left: usize,
    partial: Vec<u8>,
}

impl LiveLog {
    pub fn new(prefix: String, max_lines: usize) -> LiveLog {
        LiveLog {
            prefix,
            lines_left: max_lines,
            partial: Vec::new(),
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        while self.lines_left > 0 && !bytes.is_empty() {
            let (line, rest, complete) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (&bytes[..i], &bytes[i + 1..], true),
                None => (bytes, &[][..], false),
            };
            // A line is cut at the tail's size; the cut-off rest is dropped.
            let room = TAIL_BYTES.saturating_sub(self.partial.len());
            self.partial
                .extend_from_slice(&line[..line.len().min(room)]);
            if complete {
                self.emit();
            }
            bytes = rest;
        }
    }

    fn finish(&mut self) {
        if !self.partial.is_empty() && self.lines_left > 0 {
            self.emit();
        }
    }

    fn emit(&mut self) {
        let line = printable(&String::from_utf8_lossy(&self.partial));
        self.partial.clear();
        tracing::info!("{} | {line}", self.prefix);
        self.lines_left -= 1;
        if self.lines_left == 0 {
            tracing::info!("{}: more output, not logged", self.prefix);
        }
    }
}

fn lock(tail: &Mutex<Tail>) -> std::sync::MutexGuard<'_, Tail> {
    tail.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines_and_drops_a_cut_first_line() {
        let mut tail = Tail::default();
        for i in 0..10_000 {
            tail.push(format!("line {i}\n").as_bytes());
        }
        let out = tail.output();
        assert_eq!(out.lines.len(), TAIL_LINES);
        assert_eq!(out.lines.last().unwrap(), "line 9999");
        assert_eq!(out.lines[0], "line 9990");
        assert!(tail.kept.len() <= TAIL_BYTES);
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut tail = Tail::default();
        tail.push(b"a\x1b[31mred\rb\n");
        assert_eq!(tail.output().lines, vec!["a\\u{1b}[31mred\\rb"]);
    }

    #[test]
    fn outcomes_read_as_words() {
        assert_eq!(Outcome::Exited(1).to_string(), "exited with status 1");
        assert_eq!(
            Outcome::Signalled(9).to_string(),
            "killed by signal 9 (SIGKILL)"
        );
        assert!(
            Outcome::TimedOut(Duration::from_secs(2))
                .to_string()
                .starts_with("timed out after 2s")
        );
        assert_eq!(
            Outcome::SpawnFailed("x: No such file".into()).to_string(),
            "could not start: x: No such file"
        );
    }
}
