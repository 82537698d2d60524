//! Pure TOML configuration: text in, validated [`Config`] or located
//! [`Diagnostics`] out.
//!
//! Nothing here reads files, clocks or sockets: the caller reads the file and
//! passes its text together with a display name used in error messages.
//!
//! ```
//! let text = r#"
//! [instances.web]
//! interface = "eth0"
//! vrid = 51
//! virtual_ips = ["192.0.2.50/24"]
//! "#;
//! let config = vipd_core::config::parse(text, "vipd.toml").unwrap();
//! let web = &config.instances["web"];
//! assert_eq!((web.vrid, web.priority), (51, 100));
//! assert_eq!(web.advert_interval, vipd_core::wire::Centis(100));
//! ```
//!
//! Parsing happens in two passes. The first (`de`) deserializes each table
//! into loosely typed `raw` structs, reporting and dropping bad keys one at a
//! time so that every error is found, not just the first. The second
//! (`validate`) checks ranges and cross-references and builds the types
//! below, which hold only values the daemon can use as they are.

mod de;
mod diag;
mod raw;
pub mod reload;
pub mod rules;
mod show;
mod validate;

use core::fmt;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

pub use crate::protocol::{LeaseSettings, OnEtcdLoss};
pub use crate::wire::Family;
use crate::wire::{Centis, VRRP_IPV4_GROUP, VRRP_IPV6_GROUP, Version};

pub use diag::{Diagnostic, Diagnostics, MAX_LOCATED_ERRORS};

/// Parses and validates a configuration file's text.
///
/// `origin` names the file in diagnostics (`origin:line:column: error: ...`).
/// On failure, every error found is returned, in source order.
pub fn parse(text: &str, origin: &str) -> Result<Config, Diagnostics> {
    validate::parse(text, origin)
}

/// Like [`parse`], for a file's bytes as read: text that is not UTF-8 is
/// one diagnostic at the line and column of the first byte that is not.
pub fn parse_bytes(bytes: &[u8], origin: &str) -> Result<Config, Diagnostics> {
    match core::str::from_utf8(bytes) {
        Ok(text) => parse(text, origin),
        Err(e) => Err(diag::not_utf8(bytes, e, origin)),
    }
}

/// Whether `name` may name an instance, check, sync group or tracked
/// object: ASCII letters, digits, '_', '-' and '.', at least one. Names end
/// up in hook arguments, log fields and metric labels, which then need no
/// quoting anywhere.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Whether `text` is an etcd client URL as `[etcd] endpoints` takes it:
/// `http://HOST:PORT` or `https://HOST:PORT`, nothing after.
pub fn is_etcd_client_url(text: &str) -> bool {
    text.strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .is_some_and(|hostport| !hostport.is_empty() && !hostport.contains('/'))
}

/// Default path of the control socket.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/vipd/vipd.sock";
/// Default time a notify hook may run before it is killed.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest weight of a check or tracked interface, as in keepalived.
pub const MAX_WEIGHT: i16 = 253;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The `[global]` table.
    pub global: Global,
    /// Health checks by name.
    pub checks: BTreeMap<String, Check>,
    /// VRRP instances (virtual routers) by name.
    pub instances: BTreeMap<String, InstanceConfig>,
    /// Sync groups by name.
    pub sync_groups: BTreeMap<String, SyncGroupConfig>,
    /// Tracked files by name.
    pub track_files: BTreeMap<String, TrackFile>,
    /// Tracked processes by name.
    pub track_processes: BTreeMap<String, TrackProcess>,
    /// The node's etcd client (`[etcd]`), if leadership is kept there.
    pub etcd: Option<EtcdConfig>,
    /// Instances that follow Patroni's leader instead of running VRRP, by name.
    pub followers: BTreeMap<String, FollowerConfig>,
}

impl Config {
    /// The checks some instance tracks, by name: the only ones that run.
    pub fn tracked_checks(&self) -> BTreeMap<String, Check> {
        self.instances
            .values()
            .flat_map(|i| &i.track_checks)
            .map(|t| (t.name.clone(), self.checks[&t.name].clone()))
            .collect()
    }

    /// Every virtual address of every instance: never a source address.
    pub fn all_vips(&self) -> Vec<IpAddr> {
        let vrrp = self.instances.values().flat_map(|i| &i.virtual_ips);
        let followers = self.followers.values().flat_map(|f| &f.virtual_ips);
        vrrp.chain(followers).map(IpNet::addr).collect()
    }
}

/// The `[global]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// This node's name; `None` means the hostname, which the caller resolves.
    pub node_name: Option<String>,
    /// Unix socket for status queries and commands (default [`DEFAULT_CONTROL_SOCKET`]).
    pub control_socket: PathBuf,
    /// Group given read-write access to the control socket (mode 0660).
    pub control_group: Option<String>,
    /// Where to serve `GET /metrics`; `None`: no metrics endpoint.
    pub metrics_listen: Option<SocketAddr>,
    /// Checks and hooks run as this user; `None` means the daemon's own user.
    pub script_user: Option<String>,
    /// Refuse scripts (or their directories) writable by anyone but root.
    pub script_security: bool,
    /// Default for each instance's [`InstanceConfig::hook_timeout`].
    pub hook_timeout: Duration,
}

/// The node's etcd client (`[etcd]`): one per daemon, shared by every lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// Client URLs, `http://` or `https://`, at least one.
    pub endpoints: Vec<String>,
    /// How long to wait for a connection to an endpoint.
    pub dial_timeout: Duration,
    /// How long to wait for any one request's answer.
    pub request_timeout: Duration,
    /// User and password, if etcd has authentication on.
    pub credentials: Option<(String, String)>,
    /// CA bundle to verify etcd's certificate (`https://` endpoints).
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key, for etcd's client-certificate authentication.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// An instance that holds its addresses while this node is Patroni's leader
/// (`[instances.NAME]` with `follow_patroni`): no VRRP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerConfig {
    /// The key in `[instances.NAME]`.
    pub name: String,
    /// Where the addresses are added.
    pub interface: String,
    /// The address family of every address.
    pub family: Family,
    /// The addresses held while leader.
    pub virtual_ips: Vec<IpNet>,
    /// Patroni's leader key in etcd's v3 keyspace (`/<namespace>/<scope>/leader`).
    pub leader_key: String,
    /// This node's Patroni member name (the key's value while it leads).
    pub member: String,
    /// The local Patroni REST API, asked `GET /primary` before holding.
    pub rest_url: Option<RestUrl>,
    /// Gratuitous ARPs / unsolicited NAs sent at once on taking the addresses.
    pub garp_repeat: u32,
    /// Delay before a second burst; zero means none.
    pub garp_delay: Duration,
    /// Periodic re-announcement while holding.
    pub garp_refresh: Option<Duration>,
    /// Programs run on state changes.
    pub hooks: Hooks,
    /// How long a hook may run before it is killed.
    pub hook_timeout: Duration,
}

/// An `http://HOST:PORT` URL of Patroni's REST API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestUrl {
    /// `HOST:PORT` as written (the request's Host header too).
    pub authority: String,
    /// The URL as written.
    pub url: String,
}

/// A health check (`[checks.NAME]`), keepalived's `vrrp_script`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The key in `[checks.NAME]`.
    pub name: String,
    /// The program to run; it succeeds by exiting with status 0 within `timeout`.
    pub command: Argv,
    /// Time between runs.
    pub interval: Duration,
    /// The check fails if it runs longer than this.
    pub timeout: Duration,
    /// Consecutive successes that turn a failing check healthy.
    pub rise: u32,
    /// Consecutive failures that turn a healthy check failing.
    pub fall: u32,
    /// Default weight for instances tracking this check; see [`CheckUse`].
    pub weight: i16,
}

/// A file holding an integer (`[track_files.NAME]`), keepalived's
/// `track_file`. Instances tracking it get value x weight added to their
/// priority; see [`crate::protocol::HealthTracker`] for the exact rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFile {
    /// The key in `[track_files.NAME]`.
    pub name: String,
    /// Absolute path. A missing or unreadable file, or one that does not
    /// start with a decimal integer, reads as 0.
    pub path: PathBuf,
    /// Default weight for instances tracking this file (default 1). Zero:
    /// a non-zero value puts the instance in Fault.
    pub weight: i16,
}

/// Processes whose presence is tracked (`[track_processes.NAME]`),
/// keepalived's `vrrp_track_process`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackProcess {
    /// The key in `[track_processes.NAME]`.
    pub name: String,
    /// Matched exactly against /proc/PID/comm, or with `full_command`
    /// against `argv[0]` (its basename, unless this contains a '/').
    pub process: String,
    /// When set, `argv[1..]` must equal these exactly.
    pub args: Option<Vec<String>>,
    /// Match `argv[0]` from /proc/PID/cmdline instead of the 15-byte comm.
    pub full_command: bool,
    /// Default weight for instances tracking it (default 1); like a check's.
    pub weight: i16,
    /// Up while at least `quorum` and at most `quorum_max` processes match.
    pub quorum: u32,
    /// Upper bound of matching processes; `None`: no bound.
    pub quorum_max: Option<u32>,
    /// How long a change between up and down must last before it counts.
    pub delay: Duration,
}

impl TrackProcess {
    /// Whether `running` matching processes make the process up.
    pub fn quorum_met(&self, running: usize) -> bool {
        let running = u64::try_from(running).unwrap_or(u64::MAX);
        running >= u64::from(self.quorum)
            && self.quorum_max.is_none_or(|max| running <= u64::from(max))
    }
}

/// The most of a process name the kernel keeps in /proc/PID/comm.
pub const COMM_MAX: usize = 15;

/// A VRRP instance (`[instances.NAME]`), keepalived's `vrrp_instance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// The key in `[instances.NAME]`.
    pub name: String,
    /// Where adverts are sent and the virtual addresses added.
    pub interface: String,
    /// Virtual Router Identifier, 1..=255, unique per link and family.
    pub vrid: u8,
    /// Base priority, 1..=255; 255 means this node owns the addresses.
    pub priority: u8,
    /// VRRP version; [`Version::V2`] is IPv4 only.
    pub version: Version,
    /// For [`Version::V2`] always a whole number of seconds.
    pub advert_interval: Centis,
    /// Whether a higher priority takes over from a lower-priority master.
    pub preempt: bool,
    /// How long to tolerate a lower-priority master before preempting it (at most 1000 s).
    pub preempt_delay: Duration,
    /// Beyond the RFC: with `preempt`, take over as soon as the master
    /// advertises a lower priority than ours (after `preempt_delay`)
    /// instead of after Master_Down_Interval.
    pub fast_takeover: bool,
    /// The address family of every address below.
    pub family: Family,
    /// Non-empty, no duplicates; an address written without a prefix gets /32 or /128.
    pub virtual_ips: Vec<IpNet>,
    /// Source address of adverts; `None`: the interface's address.
    pub unicast_src_ip: Option<IpAddr>,
    /// Empty means multicast to [`InstanceConfig::multicast_group`].
    pub unicast_peers: Vec<IpAddr>,
    /// VRRPv2 simple password, 1 to 8 bytes.
    pub auth_pass: Option<String>,
    /// Checks that move this instance's priority.
    pub track_checks: Vec<CheckUse>,
    /// Interfaces whose link state moves this instance's priority.
    pub track_interfaces: Vec<InterfaceUse>,
    /// Tracked files that move this instance's priority.
    pub track_files: Vec<FileUse>,
    /// Tracked processes that move this instance's priority.
    pub track_processes: Vec<ProcessUse>,
    /// Gratuitous ARPs / unsolicited NAs sent at once on becoming master.
    pub garp_repeat: u32,
    /// Delay before a second burst of `garp_repeat`; zero means no second burst.
    pub garp_delay: Duration,
    /// Periodic re-announcement while master.
    pub garp_refresh: Option<Duration>,
    /// Programs run on this instance's state changes.
    pub hooks: Hooks,
    /// How long a hook may run before it is killed.
    pub hook_timeout: Duration,
    /// The sync group this instance belongs to, if any.
    pub sync_group: Option<String>,
    /// The etcd lock this instance must hold to be master, if any.
    pub leadership: Option<LeaseSettings>,
}

impl InstanceConfig {
    /// Priority 255: the node that owns the virtual addresses (RFC 9568).
    pub fn is_address_owner(&self) -> bool {
        self.priority == 255
    }

    /// Whether adverts go to unicast peers rather than the multicast group.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    /// The multicast group for this instance's family (used when not unicast).
    pub fn multicast_group(&self) -> IpAddr {
        match self.family {
            Family::Ipv4 => IpAddr::V4(VRRP_IPV4_GROUP),
            Family::Ipv6 => IpAddr::V6(VRRP_IPV6_GROUP),
        }
    }

    /// Where advertisements go: the unicast peers, or the multicast group.
    pub fn destinations(&self) -> Vec<IpAddr> {
        if self.is_unicast() {
            self.unicast_peers.clone()
        } else {
            vec![self.multicast_group()]
        }
    }
}

/// An instance's use of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckUse {
    /// The check's name, a key of [`Config::checks`].
    pub name: String,
    /// Effective weight: the instance's override, else the check's own.
    /// Non-zero: added to the priority while the check fails (negative) or
    /// succeeds (positive). Zero: a failing check puts the instance in Fault.
    pub weight: i16,
}

/// An instance's use of an interface's link state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceUse {
    /// The interface's name.
    pub name: String,
    /// Non-zero: added to the priority while the link is down (negative) or
    /// up (positive). Zero: a down link puts the instance in Fault.
    pub weight: i16,
}

/// An instance's use of a tracked file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUse {
    /// The file's name, a key of [`Config::track_files`].
    pub name: String,
    /// Effective weight: the instance's override, else the file's own.
    pub weight: i16,
}

/// An instance's use of a tracked process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessUse {
    /// The process's name, a key of [`Config::track_processes`].
    pub name: String,
    /// Effective weight: the instance's override, else the process's own.
    /// Positive: added while up; negative: added while down; zero: down
    /// puts the instance in Fault.
    pub weight: i16,
}

/// Programs run on state changes. Each is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// Run on becoming Master.
    pub master: Option<Argv>,
    /// Run on becoming Backup.
    pub backup: Option<Argv>,
    /// Run on entering Fault.
    pub fault: Option<Argv>,
    /// Run when the instance stops.
    pub stop: Option<Argv>,
    /// Run on every change with `INSTANCE|GROUP NAME STATE PRIORITY` appended.
    pub notify: Option<Argv>,
}

impl Hooks {
    /// Whether no hook is set.
    pub fn is_empty(&self) -> bool {
        *self == Hooks::default()
    }

    /// Each hook with its key in the file, in the file's order.
    pub fn by_key(&self) -> [(&'static str, Option<&Argv>); 5] {
        [
            ("notify_master", self.master.as_ref()),
            ("notify_backup", self.backup.as_ref()),
            ("notify_fault", self.fault.as_ref()),
            ("notify_stop", self.stop.as_ref()),
            ("notify", self.notify.as_ref()),
        ]
    }
}

/// `[sync_groups.NAME]`, keepalived's `vrrp_sync_group`: instances that
/// change state together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupConfig {
    /// The key in `[sync_groups.NAME]`.
    pub name: String,
    /// Member instance names, each a key of [`Config::instances`].
    pub instances: Vec<String>,
    /// Programs run once per state change of the whole group.
    pub hooks: Hooks,
    /// The lock in etcd the group must hold for its members to be MASTER
    /// (`leadership = { ... }`, as on an instance).
    pub leadership: Option<LeaseSettings>,
}

/// A program with its arguments, run without a shell. Never empty; the
/// program is an absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv(Vec<String>);

impl Argv {
    /// `argv` if it is a program with an absolute path and its arguments.
    pub(crate) fn new(argv: Vec<String>) -> Option<Argv> {
        let program = argv.first()?;
        std::path::Path::new(program)
            .is_absolute()
            .then_some(Argv(argv))
    }

    /// The program's absolute path.
    pub fn program(&self) -> &str {
        &self.0[0]
    }

    /// The arguments after the program.
    pub fn args(&self) -> &[String] {
        &self.0[1..]
    }

    /// Program and arguments together.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// Shell-like quoting, for display only.
impl fmt::Display for Argv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c));
            if plain {
                f.write_str(arg)?;
            } else {
                write!(f, "'{}'", arg.replace('\'', r"'\''"))?;
            }
        }
        Ok(())
    }
}
