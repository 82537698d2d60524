//! Checks and hooks run as real processes: killed with their whole process
//! group at the timeout, run one at a time per instance, with keepalived's
//! arguments and vipd's environment. No root needed.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use vipd::config::{self, Hooks};
use vipd::daemon::hooks::{HookQueue, Job, Owner};
use vipd::daemon::process::{self, Outcome, RunAs};
use vipd::protocol::State;

use common::temp_dir;

/// The path of `name` in `dir`, as a script names it.
fn file(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn alive(pid: i32) -> bool {
    // Signal 0 probes for existence; a zombie reaped by init disappears.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        && !fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

/// Runs `program` with no arguments, an empty environment and vipd's own user.
fn run_program(program: String, timeout: Duration) -> process::Finished {
    runtime().block_on(process::run(
        &[program],
        &BTreeMap::new(),
        RunAs::default(),
        timeout,
    ))
}

/// The hook queue of instance `db`, inside a runtime.
fn db_queue(hooks: Hooks, vips: String, timeout: Duration) -> HookQueue {
    HookQueue::spawn(
        Owner::Instance,
        "db",
        hooks,
        vips,
        timeout,
        RunAs::default(),
    )
}

fn job(from: State, to: State, priority: u8) -> Job {
    Job { from, to, priority }
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

#[test]
fn exit_status_is_reported() {
    let dir = temp_dir("status");
    let ok = script(&dir, "ok.sh", "exit 0");
    let bad = script(&dir, "bad.sh", "exit 3");
    let run = |program: String| run_program(program, Duration::from_secs(5)).outcome;
    assert_eq!(run(ok), Outcome::Exited(0));
    assert_eq!(run(bad), Outcome::Exited(3));
    let missing = run("/nonexistent/x".into());
    assert!(matches!(missing, Outcome::SpawnFailed(_)), "{missing:?}");
}

#[test]
fn a_hanging_program_and_its_children_are_killed_at_the_timeout() {
    // The script starts a grandchild and then hangs itself: both must die.
    let (hang, pids) = script_with_child("hang", "sleep 300", "wait");
    let outcome = run_program(hang, Duration::from_millis(300));
    assert_eq!(
        outcome.outcome,
        Outcome::TimedOut(Duration::from_millis(300))
    );
    assert_group_gone(&pids);
}

#[test]
fn hooks_get_keepalived_arguments_and_vipd_environment() {
    let dir = temp_dir("args");
    let out = file(&dir, "out");
    let record = script(
        &dir,
        "record.sh",
        &format!(
            "echo \"$0 $* | $VIPD_INSTANCE $VIPD_STATE $VIPD_PREV_STATE $VIPD_PRIORITY $VIPD_VIPS\" >> {out}"
        ),
    );
    let hooks = hooks_toml(&format!(
        "notify_master = [\"{record}\", \"extra\"]\nnotify = [\"{record}\"]\n"
    ));
    runtime().block_on(async {
        let mut q = db_queue(hooks, "192.0.2.50".into(), Duration::from_secs(5));
        q.push(job(State::Backup, State::Master, 150));
        q.finish().await;
    });
    let lines = fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!("{record} extra | db MASTER BACKUP 150 192.0.2.50"),
            format!("{record} INSTANCE db MASTER 150 | db MASTER BACKUP 150 192.0.2.50"),
        ]
    );
}

#[test]
fn hooks_run_one_at_a_time_and_a_backlog_collapses_to_the_latest_state() {
    let dir = temp_dir("serial");
    let out = file(&dir, "out");
    // Each run marks its start and end; overlapping runs would interleave.
    let slow = script(
        &dir,
        "slow.sh",
        &format!("echo \"start $4\" >> {out}; sleep 0.3; echo \"end $4\" >> {out}"),
    );
    let hooks = hooks_toml(&format!("notify = [\"{slow}\"]\n"));
    let stats = runtime().block_on(async {
        let mut q = db_queue(hooks, String::new(), Duration::from_secs(5));
        q.push(job(State::Initialize, State::Backup, 1));
        // Once the first hook has started, pile three transitions up behind it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !fs::read_to_string(&out).is_ok_and(|t| t.contains("start 1"))
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        q.push(job(State::Backup, State::Master, 2));
        q.push(job(State::Master, State::Backup, 3));
        q.push(job(State::Backup, State::Master, 4));
        q.finish().await;
        q.stats.clone()
    });
    let text = fs::read_to_string(&out).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        vec!["start 1", "end 1", "start 4", "end 4"]
    );
    assert_eq!(stats.skipped.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[test]
fn a_hanging_hook_is_killed_and_counted_and_the_next_one_runs() {
    let dir = temp_dir("hook-timeout");
    let out = file(&dir, "out");
    let marker = file(&dir, "hang-started");
    let hang = script(&dir, "hang.sh", &format!("touch {marker}; sleep 300"));
    let record = script(&dir, "record.sh", &format!("echo $VIPD_STATE >> {out}"));
    let hooks = hooks_toml(&format!(
        "notify_master = [\"{hang}\"]\nnotify_backup = [\"{record}\"]\n"
    ));
    let started = Instant::now();
    let stats = runtime().block_on(async {
        let mut q = db_queue(hooks, String::new(), Duration::from_millis(200));
        q.push(job(State::Backup, State::Master, 1));
        wait_for_file(&marker, "the MASTER hook never started").await;
        q.push(job(State::Master, State::Backup, 1));
        q.finish().await;
        q.stats.clone()
    });
    assert!(
        started.elapsed() < Duration::from_secs(300),
        "the hang was not cut short"
    );
    assert_eq!(fs::read_to_string(&out).unwrap().trim(), "BACKUP");
    assert_eq!(stats.timeouts.load(std::sync::atomic::Ordering::Relaxed), 1);
}

fn run_script(body: &str, tag: &str, timeout: Duration) -> process::Finished {
    let dir = temp_dir(tag);
    let program = script(&dir, "run.sh", body);
    run_program(program, timeout)
}

#[test]
fn thirty_megabytes_of_output_neither_block_the_program_nor_are_kept() {
    // A pipe holds 64 KiB: undrained, the program would block until its
    // timeout. Drained, it ends on its own; only a bounded tail is kept.
    let finished = run_script(
        "yes 'a line of output that goes on and on' | head -c 31457280; echo; echo the very end",
        "30mb",
        Duration::from_secs(600),
    );
    assert_eq!(finished.outcome, Outcome::Exited(0));
    assert!(
        finished.output.bytes > 30 * 1024 * 1024,
        "{}",
        finished.output.bytes
    );
    assert!(finished.output.lines.len() <= process::TAIL_LINES);
    let kept: usize = finished.output.lines.iter().map(String::len).sum();
    assert!(kept <= process::TAIL_BYTES, "{kept} bytes kept");
    assert_eq!(finished.output.lines.last().unwrap(), "the very end");
}

#[test]
fn the_tail_is_the_last_lines_of_stdout_and_stderr_in_order() {
    let finished = run_script(
        "for i in $(seq 1 25); do echo out $i; echo err $i >&2; done; exit 4",
        "tail",
        Duration::from_secs(30),
    );
    assert_eq!(finished.outcome, Outcome::Exited(4));
    let expected: Vec<String> = (21..=25)
        .flat_map(|i| [format!("out {i}"), format!("err {i}")])
        .collect();
    assert_eq!(finished.output.lines, expected);
}

#[test]
fn a_timeout_kills_the_group_of_a_program_that_prints_without_end() {
    let (flood, pids) = script_with_child("flood-timeout", "yes child", "yes parent");
    let finished = run_program(flood, Duration::from_millis(300));
    assert_eq!(
        finished.outcome,
        Outcome::TimedOut(Duration::from_millis(300))
    );
    assert!(finished.output.bytes > 0);
    assert!(finished.output.lines.len() <= process::TAIL_LINES);
    assert_group_gone(&pids);
}

#[test]
fn a_daemon_left_holding_the_output_pipe_is_not_waited_for() {
    let dir = temp_dir("daemonized");
    let pid_file = file(&dir, "daemon.pid");
    let program = script(
        &dir,
        "start.sh",
        &format!("sleep 300 & echo $! > {pid_file}; echo started"),
    );
    let finished = run_program(program, Duration::from_secs(600));
    let daemon: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let still_running = alive(daemon);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert_eq!(finished.outcome, Outcome::Exited(0));
    assert_eq!(finished.output.lines, vec!["started"]);
    assert!(still_running, "the run waited for the daemon to end");
}

fn hooks_toml(hooks: &str) -> Hooks {
    let toml = format!(
        "[instances.db]\ninterface = \"eth0\"\nvrid = 51\nvirtual_ips = [\"192.0.2.50/24\"]\n{hooks}"
    );
    config::parse(&toml, "test.toml").unwrap().instances["db"]
        .hooks
        .clone()
}

#[test]
fn a_failed_hook_keeps_the_end_of_its_output_for_status() {
    let dir = temp_dir("hook-output");
    let failing = script(
        &dir,
        "failing.sh",
        "echo starting; echo 'cannot promote: disk full' >&2; exit 2",
    );
    let hooks = hooks_toml(&format!("notify_master = [\"{failing}\"]\n"));
    let stats = runtime().block_on(async {
        let mut q = db_queue(hooks, String::new(), Duration::from_secs(30));
        q.push(job(State::Backup, State::Master, 1));
        q.finish().await;
        q.stats.clone()
    });
    let failure = stats.last_failure().expect("the failure is kept");
    assert_eq!(failure.command, failing);
    assert_eq!(failure.outcome, Outcome::Exited(2));
    assert_eq!(
        failure.output.lines,
        vec!["starting", "cannot promote: disk full"]
    );
    assert_eq!(stats.failures.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[test]
fn at_shutdown_a_running_hook_is_cut_at_the_stop_grace_and_the_stop_hook_runs() {
    let dir = temp_dir("hook-stop");
    let (started, ended, stopped) = (
        file(&dir, "started"),
        file(&dir, "ended"),
        file(&dir, "stopped"),
    );
    let long = script(
        &dir,
        "long.sh",
        &format!("touch {started}; sleep 300; touch {ended}"),
    );
    let stop = script(&dir, "stop.sh", &format!("touch {stopped}"));
    let hooks = hooks_toml(&format!(
        "notify_master = [\"{long}\"]\nnotify_stop = [\"{stop}\"]\n"
    ));
    let stats = runtime().block_on(async {
        // The hooks' own timeout is far longer than the test may take.
        let mut q = db_queue(hooks, String::new(), Duration::from_secs(3600));
        q.push(job(State::Backup, State::Master, 1));
        wait_for_file(&started, "the MASTER hook never started").await;
        q.begin_stop(Duration::from_millis(200));
        // Queued behind the STOP job's arrival: skipped, not run.
        q.push(job(State::Master, State::Backup, 1));
        q.push(job(State::Master, State::Stopped, 0));
        q.finish().await;
        q.stats.clone()
    });
    assert!(Path::new(&stopped).exists(), "notify_stop did not run");
    assert!(
        !Path::new(&ended).exists(),
        "the MASTER hook ran to its end"
    );
    assert_eq!(stats.timeouts.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(
        stats.last_failure().map(|f| f.outcome),
        Some(Outcome::CutAtShutdown(Duration::from_millis(200)))
    );
}

/// A script that starts `child` in the background, writes both PIDs for
/// [`assert_group_gone`], then runs `then`. Returns the script and the PIDs'
/// path.
fn script_with_child(tag: &str, child: &str, then: &str) -> (String, String) {
    let dir = temp_dir(tag);
    let pids = file(&dir, "pids");
    let body = format!("{child} & echo $! > {pids}.child; echo $$ > {pids}.self; {then}");
    (script(&dir, "run.sh", &body), pids)
}

/// The program and the child it started (their PIDs written to `PIDS.self`
/// and `PIDS.child`) are both gone: the whole process group was killed.
fn assert_group_gone(pids: &str) {
    let read = |ext: &str| {
        fs::read_to_string(format!("{pids}.{ext}"))
            .unwrap()
            .trim()
            .parse::<i32>()
            .unwrap()
    };
    let (child, me) = (read("child"), read("self"));
    assert!(
        eventually(Duration::from_secs(5), || !alive(child) && !alive(me)),
        "process group survived its timeout"
    );
}

/// Waits (at most 10 s) until `path` exists; fails the test with `why`.
async fn wait_for_file(path: &str, why: &str) {
    let path = Path::new(path);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(path.exists(), "{why}");
}
