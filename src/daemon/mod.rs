//! The edge: everything that touches the world. It translates between the
//! kernel (raw sockets, netlink, packet sockets, processes, signals, the clock)
//! and the pure core in [`crate::protocol`], and does nothing else.

pub mod announce;
pub mod checks;
pub mod control;
mod etcd;
pub mod hooks;
mod lock;
pub mod metrics;
pub mod netlink;
pub mod poller;
pub mod preflight;
pub mod process;
mod ratelimit;
mod runtime;
mod sdnotify;
mod security;
pub mod socket;
mod vips;

pub use runtime::run;
