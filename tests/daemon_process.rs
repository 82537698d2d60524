//! Checks and hooks run as real processes: killed with their whole process
//! group at the timeout, run one at a time per instance, with keepalived's
//! arguments and vipd's environment. No root needed.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vipd::config::{self, Hooks};
use vipd::daemon::hooks::{HookQueue, Job, Owner};
use vipd::daemon::process::{self, Outcome, RunAs};
use vipd::protocol::State;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vipd-test-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
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
    let rt = runtime();
    let env = BTreeMap::new();
    assert_eq!(
        rt.block_on(process::run(
            &[ok],
            &env,
            RunAs::default(),
            Duration::from_secs(5)
        )),
        Outcome::Exited(Some(0))
    );
    assert_eq!(
        rt.block_on(process::run(
            &[bad],
            &env,
            RunAs::default(),
            Duration::from_secs(5)
        )),
        Outcome::Exited(Some(3))
    );
    let missing = rt.block_on(process::run(
        &["/nonexistent/x".into()],
        &env,
        RunAs::default(),
        Duration::from_secs(5),
    ));
    assert!(matches!(missing, Outcome::SpawnFailed(_)), "{missing:?}");
}

#[test]
fn a_hanging_program_and_its_children_are_killed_at_the_timeout() {
    let dir = temp_dir("hang");
    let pids = dir.join("pids");
    // The script starts a grandchild and then hangs itself: both must die.
    let hang = script(
        &dir,
        "hang.sh",
        &format!(
            "sleep 300 & echo $! > {0}.child; echo $$ > {0}.self; wait",
            pids.display()
        ),
    );
    let rt = runtime();
    let outcome = rt.block_on(process::run(
        &[hang],
        &BTreeMap::new(),
        RunAs::default(),
        Duration::from_millis(300),
    ));
    assert_eq!(outcome, Outcome::TimedOut);
    let read = |ext: &str| {
        fs::read_to_string(format!("{}.{ext}", pids.display()))
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

#[test]
fn hooks_get_keepalived_arguments_and_vipd_environment() {
    let dir = temp_dir("args");
    let out = dir.join("out");
    let record = script(
        &dir,
        "record.sh",
        &format!(
            "echo \"$0 $* | $VIPD_INSTANCE $VIPD_STATE $VIPD_PREV_STATE $VIPD_PRIORITY $VIPD_VIPS\" >> {}",
            out.display()
        ),
    );
    let toml = format!(
        "[instances.db]\ninterface = \"eth0\"\nvrid = 51\nvirtual_ips = [\"192.0.2.50/24\"]\n\
         notify_master = [\"{record}\", \"extra\"]\nnotify = [\"{record}\"]\n"
    );
    let cfg = config::parse(&toml, "test.toml").unwrap();
    let hooks: Hooks = cfg.instances["db"].hooks.clone();
    let rt = runtime();
    rt.block_on(async {
        let mut q = HookQueue::spawn(
            Owner::Instance,
            "db",
            hooks,
            "192.0.2.50".into(),
            Duration::from_secs(5),
            RunAs::default(),
        );
        q.push(Job {
            from: State::Backup,
            to: State::Master,
            priority: 150,
        });
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
    let out = dir.join("out");
    // Each run marks its start and end; overlapping runs would interleave.
    let slow = script(
        &dir,
        "slow.sh",
        &format!(
            "echo \"start $4\" >> {0}; sleep 0.3; echo \"end $4\" >> {0}",
            out.display()
        ),
    );
    let toml = format!(
        "[instances.db]\ninterface = \"eth0\"\nvrid = 51\nvirtual_ips = [\"192.0.2.50/24\"]\nnotify = [\"{slow}\"]\n"
    );
    let cfg = config::parse(&toml, "test.toml").unwrap();
    let rt = runtime();
    let stats = rt.block_on(async {
        let mut q = HookQueue::spawn(
            Owner::Instance,
            "db",
            cfg.instances["db"].hooks.clone(),
            String::new(),
            Duration::from_secs(5),
            RunAs::default(),
        );
        q.push(Job {
            from: State::Initialize,
            to: State::Backup,
            priority: 1,
        });
        // Once the first hook has started, pile three transitions up behind it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !fs::read_to_string(&out).is_ok_and(|t| t.contains("start 1"))
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        q.push(Job {
            from: State::Backup,
            to: State::Master,
            priority: 2,
        });
        q.push(Job {
            from: State::Master,
            to: State::Backup,
            priority: 3,
        });
        q.push(Job {
            from: State::Backup,
            to: State::Master,
            priority: 4,
        });
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
    let out = dir.join("out");
    let marker = dir.join("hang-started");
    let hang = script(
        &dir,
        "hang.sh",
        &format!("touch {}; sleep 300", marker.display()),
    );
    let record = script(
        &dir,
        "record.sh",
        &format!("echo $VIPD_STATE >> {}", out.display()),
    );
    let toml = format!(
        "[instances.db]\ninterface = \"eth0\"\nvrid = 51\nvirtual_ips = [\"192.0.2.50/24\"]\n\
         notify_master = [\"{hang}\"]\nnotify_backup = [\"{record}\"]\n"
    );
    let cfg = config::parse(&toml, "test.toml").unwrap();
    let rt = runtime();
    let started = Instant::now();
    let stats = rt.block_on(async {
        let mut q = HookQueue::spawn(
            Owner::Instance,
            "db",
            cfg.instances["db"].hooks.clone(),
            String::new(),
            Duration::from_millis(200),
            RunAs::default(),
        );
        q.push(Job {
            from: State::Backup,
            to: State::Master,
            priority: 1,
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !marker.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(marker.exists(), "the MASTER hook never started");
        q.push(Job {
            from: State::Master,
            to: State::Backup,
            priority: 1,
        });
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
