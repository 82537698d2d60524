//! The vipd configuration being built, shaped like vipd's TOML sections.
//! `None` means "leave the key out": vipd's default is what keepalived did.

use core::time::Duration;
use std::net::IpAddr;

use ipnet::IpNet;

use super::report::Location;
use crate::config::Hooks;

#[derive(Debug, Default)]
pub(super) struct Output {
    pub global: Global,
    pub checks: Vec<Check>,
    pub track_files: Vec<TrackFile>,
    pub track_processes: Vec<TrackProcess>,
    pub instances: Vec<VrrpInstance>,
    pub sync_groups: Vec<SyncGroup>,
    /// `vrrp_instance` blocks left out, with the reason, for comments.
    pub skipped: Vec<(Location, String, String)>,
}

#[derive(Debug, Default)]
pub(super) struct Global {
    pub node_name: Option<String>,
    pub script_user: Option<String>,
    pub script_security: Option<bool>,
}

#[derive(Debug)]
pub(super) struct Check {
    /// The vipd name; the keepalived name is in `source`.
    pub name: String,
    pub source: Origin,
    pub command: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
    pub weight: Option<i16>,
}

/// `track_file NAME { ... }` as `[track_files.NAME]`.
#[derive(Debug)]
pub(super) struct TrackFile {
    pub name: String,
    pub source: Origin,
    pub path: String,
    pub weight: Option<i16>,
}

/// `vrrp_track_process NAME { ... }` as `[track_processes.NAME]`.
#[derive(Debug)]
pub(super) struct TrackProcess {
    pub name: String,
    pub source: Origin,
    pub process: String,
    pub args: Option<Vec<String>>,
    pub full_command: bool,
    pub weight: Option<i16>,
    pub quorum: Option<u32>,
    pub quorum_max: Option<u32>,
    pub delay: Option<Duration>,
}

#[derive(Debug)]
pub(super) struct VrrpInstance {
    pub name: String,
    pub source: Origin,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    pub version: u8,
    /// Where `version` came from, for a comment next to it.
    pub version_from: &'static str,
    pub advert_interval: Duration,
    pub preempt: bool,
    pub preempt_delay: Option<Duration>,
    pub virtual_ips: Vec<IpNet>,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peers: Vec<IpAddr>,
    pub auth_pass: Option<String>,
    pub track_checks: Vec<Track>,
    pub track_interfaces: Vec<Track>,
    pub track_files: Vec<Track>,
    pub track_processes: Vec<Track>,
    pub garp_repeat: Option<u32>,
    pub garp_delay: Option<Duration>,
    pub garp_refresh: Option<Duration>,
    pub hooks: Hooks,
}

/// A tracked check, interface, file or process; no weight means the
/// table's own (checks, files, processes) or 0 (interfaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Track {
    pub name: String,
    pub weight: Option<i16>,
}

#[derive(Debug)]
pub(super) struct SyncGroup {
    pub name: String,
    pub source: Origin,
    pub instances: Vec<String>,
    pub hooks: Hooks,
}

/// The keepalived block a vipd table came from.
#[derive(Debug, Clone)]
pub(super) struct Origin {
    pub at: Location,
    /// `vrrp_instance VI_1` and so on.
    pub block: String,
}
