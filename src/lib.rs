//! vipd: a VRRP daemon that keeps a virtual IP on exactly one healthy node.
//!
//! Layers (see `docs` in the README):
//! - [`wire`]: pure packet codec (VRRP v2/v3, gratuitous ARP, unsolicited NA).
//! - [`protocol`]: pure per-instance state machine, effective priority and sync groups.
//! - [`config`]: pure TOML configuration with file/line/column diagnostics.
//! - [`sim`]: pure deterministic multi-node simulator driving the real state machine.
//!
//! Pure modules never import I/O code; the daemon wires them to the world.

pub mod config;
pub mod daemon;
pub mod import;
pub mod protocol;
pub mod sim;
pub mod wire;
