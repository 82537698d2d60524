//! Commands that talk to an operator rather than run the daemon.

pub mod import_vip_manager;
pub mod status_table;
pub mod watch;
