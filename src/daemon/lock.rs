//! One daemon per configuration: `vipd run` holds an exclusive lock on
//! `<control_socket>.lock` for its whole life, so a second `vipd run` with the
//! same configuration refuses to start before it touches any address or the
//! control socket. The kernel drops the lock when the process dies, however
//! it dies; the file itself stays (deleting it could let two daemons lock
//! two different files of the same name). It holds the owner's PID for the
//! message a second daemon prints.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// Held for the daemon's lifetime; dropping it releases the lock.
#[derive(Debug)]
pub struct DaemonLock {
    _file: Flock<File>,
}

/// The lock file for a control socket path.
pub fn lock_path(control_socket: &Path) -> PathBuf {
    let mut name = control_socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Why the lock was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockError {
    /// Another daemon holds it: this one must not start.
    Held(String),
    /// The lock file cannot be made (e.g. a read-only directory): like the
    /// control socket, this must not keep failover from working.
    Unavailable(String),
}

/// Takes the lock next to `control_socket`, or says who holds it.
pub fn acquire(control_socket: &Path) -> Result<DaemonLock, LockError> {
    let path = lock_path(control_socket);
    let shown = path.display();
    let unavailable = |e: std::io::Error| LockError::Unavailable(format!("lock file {shown}: {e}"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            LockError::Unavailable(format!("lock file directory {}: {e}", dir.display()))
        })?;
    }
    // Opened close-on-exec (std's default): checks and hooks, which may
    // outlive us, must never inherit the lock.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&path)
        .map_err(unavailable)?;
    let mut locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => locked,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = match text.trim().parse::<u32>() {
                Ok(pid) => format!("PID {pid}"),
                Err(_) => "PID unknown".to_owned(),
            };
            return Err(LockError::Held(format!(
                "another vipd ({holder}) holds {shown}: refusing to start a second daemon for the same configuration"
            )));
        }
        Err((_, e)) => return Err(unavailable(e.into())),
    };
    let pid = std::process::id();
    locked
        .set_len(0)
        .and_then(|()| locked.rewind())
        .and_then(|()| writeln!(locked, "{pid}"))
        .map_err(unavailable)?;
    Ok(DaemonLock { _file: locked })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = std::env::temp_dir().join(format!("vipd-lock-{}", std::process::id()));
        let socket = dir.join("vipd.sock");
        let first = acquire(&socket).expect("first lock");
        let second = acquire(&socket).expect_err("second lock");
        assert_eq!(
            second,
            LockError::Held(format!(
                "another vipd (PID {}) holds {}: refusing to start a second daemon for the same configuration",
                std::process::id(),
                lock_path(&socket).display()
            ))
        );
        drop(first);
        acquire(&socket).expect("the lock is free again");
        let _ = std::fs::remove_dir_all(dir);
    }
}
