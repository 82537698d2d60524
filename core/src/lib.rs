//! vipd's pure core: everything that decides, nothing that touches the world.
//!
//! - [`wire`]: the packet codec (VRRP v2/v3, gratuitous ARP, unsolicited NA):
//!   zero-copy views and `Repr` structs; malformed input is an error value.
//! - [`protocol`]: one virtual router's state machine (RFC 9568 section 6),
//!   effective priority, and a node's instances with their sync groups.
//! - [`config`]: the TOML configuration with file:line:column diagnostics,
//!   and the reload plan.
//! - [`sim`]: a deterministic multi-node simulator driving the real state
//!   machine in virtual time.
//! - [`import`]: keepalived.conf and vip-manager YAML translation.
//!
//! The contract: events and the current time go in, actions and the next
//! deadline come out. Nothing here opens a socket, reads a clock, spawns a
//! process or waits; the `vipd` crate wires these to the world. The
//! dependency list in this crate's `Cargo.toml` holds that rule: no I/O
//! crate is in it.

#![warn(missing_docs, unreachable_pub)]

pub mod config;
pub mod import;
pub mod protocol;
pub mod sim;
pub mod wire;
