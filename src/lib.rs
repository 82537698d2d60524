//! vipd: a VRRP daemon that keeps a virtual IP on exactly one healthy node.
//!
//! The pure core (codec, state machine, configuration, simulator, importer)
//! is the `vipd-core` crate, re-exported here under its module names; this
//! crate is the edge ([`daemon`]: sockets, netlink, processes, signals, the
//! control socket and metrics) and what the command line shows an operator
//! ([`cli`]: the status table, `vipd watch`).

pub mod cli;
pub mod daemon;
pub use vipd_core::{config, import, protocol, sim, wire};
