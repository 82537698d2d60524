//! The signals the daemon answers, straight from tokio's signal driver: no
//! thread, no channel.

use std::io;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// What a signal asks of the daemon.
pub(super) enum Request {
    /// SIGTERM or SIGINT: resign, remove the VIPs, run the stop hooks, exit 0.
    Stop(&'static str),
    /// SIGHUP: re-read the configuration.
    Reload,
}

pub(super) struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    /// Installs the handlers; from now on these signals no longer kill the
    /// process.
    pub(super) fn install() -> io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal received.
    pub(super) async fn next(&mut self) -> Request {
        tokio::select! {
            Some(()) = self.term.recv() => Request::Stop("SIGTERM"),
            Some(()) = self.int.recv() => Request::Stop("SIGINT"),
            Some(()) = self.hup.recv() => Request::Reload,
            else => std::future::pending().await,
        }
    }
}
