//! vipd: a VRRP daemon that keeps a virtual IP on exactly one healthy node.
//!
//! The pure core (codec, state machine, configuration, simulator, importer)
//! is the `vipd-core` crate, re-exported here under its module names; this
//! crate is the edge ([`daemon`]: sockets, netlink, processes, signals) and
//! the command line.

pub mod daemon;
pub use vipd_core::{config, import, protocol, sim, wire};
