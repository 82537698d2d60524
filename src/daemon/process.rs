//! Running operator programs (checks and hooks) without ever blocking the
//! protocol loop: each runs in its own process group, is awaited on its own
//! task, and is killed with its whole group when it outlives its timeout.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, User};
use tokio::process::Command;

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
    /// Exited with this status (None: killed by a signal we did not send).
    Exited(Option<i32>),
    /// Outlived its timeout; its process group was killed.
    TimedOut,
    /// Could not be started at all.
    SpawnFailed(String),
}

impl Outcome {
    pub fn success(&self) -> bool {
        *self == Outcome::Exited(Some(0))
    }
}

/// Runs `argv` with `env` added, as `run_as`, for at most `timeout`.
pub async fn run(
    argv: &[String],
    env: &BTreeMap<&str, String>,
    run_as: RunAs,
    timeout: Duration,
) -> Outcome {
    let Some((program, args)) = argv.split_first() else {
        return Outcome::SpawnFailed("empty command".into());
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(gid) = run_as.gid {
        command.gid(gid);
    }
    if let Some(uid) = run_as.uid {
        command.uid(uid);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::SpawnFailed(format!("{program}: {e}")),
    };
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => Outcome::Exited(status.code()),
        Ok(Err(e)) => Outcome::SpawnFailed(format!("{program}: {e}")),
        Err(_elapsed) => {
            // The group may hold children the program started: kill them all.
            if let Some(pgid) = pgid {
                let _ = killpg(pgid, Signal::SIGKILL);
            }
            let _ = child.wait().await;
            Outcome::TimedOut
        }
    }
}
