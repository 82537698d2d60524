//! Commands that talk to an operator rather than run the daemon.

pub mod status_table;
pub mod watch;
