//! Building one instance's edge: the shared VRRP socket of its interface,
//! its VIP worker, hook queue and health tracker. Start-up and reload both
//! use it, from [`Lookups`] gathered beforehand, so building never waits.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::ids::{ById, SocketId};
use super::links::{Followed, Trouble};
use super::{Input, InstanceEdge, ProtocolCounters, on_workers, params};
use crate::config::{self, Config};
use crate::daemon::hooks::{HookQueue, Owner};
use crate::daemon::netlink::{InterfaceInfo, Netlink, NetlinkError};
use crate::daemon::poller::TrackedUpdate;
use crate::daemon::process::RunAs;
use crate::daemon::socket::{MAX_DATAGRAM, Received, VrrpSocket};
use crate::daemon::vips::{AnnouncePlan, FailureReport, VipStats, VipWorker};
use crate::protocol::{CheckTracker, HealthTracker, Instance, InstanceId, Member};
use crate::wire::Family;

/// What building instances needs to know of the system, asked for before
/// (off the loop, in a reload), so that building itself never waits.
#[derive(Debug, Default)]
pub(super) struct Lookups {
    /// The interfaces the instances run on; `None`: it does not exist.
    pub interfaces: BTreeMap<String, Option<InterfaceInfo>>,
    /// Link state of every tracked interface (down when missing).
    pub links_up: BTreeMap<String, bool>,
}

impl Lookups {
    /// Looks up the interfaces of `instances` (names in `config`) and every
    /// interface `config` tracks. A missing interface is no error: the
    /// instance starts in Fault and comes up when the interface appears.
    pub async fn gather<'a>(
        netlink: &Netlink,
        config: &Config,
        instances: impl Iterator<Item = &'a str>,
    ) -> Result<Lookups, String> {
        let mut lookups = Lookups::default();
        let vrrp = instances.map(|name| (name, config.instances[name].interface.as_str()));
        let followers = config
            .followers
            .iter()
            .map(|(name, f)| (name.as_str(), f.interface.as_str()));
        for (name, ifname) in vrrp.chain(followers) {
            if lookups.interfaces.contains_key(ifname) {
                continue;
            }
            let info = match netlink.interface(ifname).await {
                Ok(info) => Some(info),
                Err(NetlinkError::NoSuchInterface(_)) => {
                    tracing::warn!(
                        "instance {name}: interface {ifname} does not exist; the instance stays in FAULT until it appears"
                    );
                    None
                }
                Err(e) => return Err(format!("instance {name}: {e}")),
            };
            lookups.interfaces.insert(ifname.to_owned(), info);
        }
        let tracked = config.instances.values().flat_map(|i| &i.track_interfaces);
        for t in tracked {
            if !lookups.links_up.contains_key(&t.name) {
                let up = netlink.interface(&t.name).await.is_ok_and(|i| i.up);
                lookups.links_up.insert(t.name.clone(), up);
            }
        }
        Ok(lookups)
    }
}

/// The interfaces' shared sockets, what the loop knows of each interface
/// it follows, and what building an instance needs.
pub(super) struct Edge {
    pub netlink: Netlink,
    /// One VRRP socket per interface name and family, reopened when the
    /// interface comes back with a new index.
    pub sockets: ById<SocketId, SocketEntry>,
    /// The interfaces instances run on, followed by name.
    pub links: BTreeMap<String, Followed>,
    pub input_tx: mpsc::UnboundedSender<Input>,
    /// The socket read first next time (they take turns).
    pub next_socket: usize,
    /// Numbers each build of an instance (see `InstanceEdge::lock_id`).
    pub next_lock: u64,
    /// Where hook queues, VIP workers and checks run (see `on_workers`).
    pub workers: tokio::runtime::Handle,
}

impl Edge {
    /// Builds every instance of `config`, in order: the edges and the
    /// protocol's members, their ids matching.
    pub fn build_all(
        &mut self,
        config: &Config,
        lookups: &Lookups,
        readings: &[TrackedUpdate],
        run_as: RunAs,
    ) -> Result<(ById<InstanceId, InstanceEdge>, Vec<Member>), String> {
        let mut instances = ById::default();
        let mut members = Vec::new();
        for name in config.instances.keys() {
            let (instance, member) =
                self.build_instance(name, config, lookups, readings, run_as)?;
            instances.push(instance);
            members.push(member);
        }
        Ok((instances, members))
    }

    /// Builds instance `name` of `config`; `readings` are the tracked files'
    /// and processes' current values.
    pub fn build_instance(
        &mut self,
        name: &str,
        config: &Config,
        lookups: &Lookups,
        readings: &[TrackedUpdate],
        run_as: RunAs,
    ) -> Result<(InstanceEdge, Member), String> {
        let cfg = &config.instances[name];
        let info = lookups.interfaces.get(&cfg.interface).cloned().flatten();
        let socket = self.socket_for(name, cfg, config)?;
        let followed = self.follow(&cfg.interface, info);
        let up = followed.info.as_ref().is_some_and(|i| i.up);
        let tracker = build_tracker(cfg, config, lookups, readings, up, None);

        let vip_stats = Arc::new(VipStats::default());
        let (hooks, (vip_tx, vip_task)) = on_workers(&self.workers, || {
            let hooks = instance_hooks(name, cfg, run_as);
            let worker = VipWorker {
                name: name.to_owned(),
                netlink: self.netlink.clone(),
                ifname: cfg.interface.clone(),
                attachment: None,
                vips: cfg.virtual_ips.clone(),
                plan: announce_plan(cfg),
                stats: vip_stats.clone(),
                hooks: hooks.sender(),
                failures: self.vip_failures(name),
                holding: false,
                added_on: None,
                fence: cfg.leadership.as_ref().map(|_| None),
            };
            (hooks, worker.spawn())
        });

        let mut edge = InstanceEdge {
            name: name.to_owned(),
            cfg: cfg.clone(),
            src: None,
            attachment: None,
            socket,
            tracker,
            vip_tx: Some(vip_tx),
            vip_task: Some(vip_task),
            vip_stats,
            hooks,
            counters: ProtocolCounters::default(),
            last_transition: None,
            trouble: Trouble::default(),
            start_by: None,
            lock_id: format!("{name}#{}", self.next_lock),
        };
        self.next_lock += 1;
        edge.follow_interface(&self.links, &config.all_vips());
        let mut instance = Instance::new(
            params(cfg, edge.src_or_unspecified()),
            edge.health(&self.links, &self.sockets),
        );
        instance.set_leadership(cfg.leadership.clone());
        let member = Member {
            name: name.to_owned(),
            instance,
        };
        let priority = edge.tracker.health().priority;
        let (version, vrid, ifname) = (cfg.version.number(), cfg.vrid, &cfg.interface);
        match edge.src {
            Some(src) => tracing::info!(
                "instance {name}: VRRPv{version} vrid {vrid} on {ifname} from {src}, priority {priority}"
            ),
            None => tracing::info!(
                "instance {name}: VRRPv{version} vrid {vrid} on {ifname}, priority {priority}; no source address yet"
            ),
        }
        Ok((edge, member))
    }

    /// Starts following `ifname` (once per name) with what a lookup found.
    pub(super) fn follow(&mut self, ifname: &str, info: Option<InterfaceInfo>) -> &Followed {
        if !self.links.contains_key(ifname) {
            let mut followed = Followed::default();
            self.reopen_sockets(ifname, info.as_ref());
            followed.set(info);
            self.links.insert(ifname.to_owned(), followed);
        }
        &self.links[ifname]
    }

    /// How the instance's VIP worker reports addresses it could not install.
    pub(super) fn vip_failures(&self, name: &str) -> FailureReport {
        let tx = self.input_tx.clone();
        let instance = name.to_owned();
        Arc::new(move |failure| {
            let _ = tx.send(Input::VipFailed {
                instance: instance.clone(),
                failure,
            });
        })
    }

    /// The VRRP socket for the instance's interface and family; the entry is
    /// made on first use and opened whenever the interface exists.
    fn socket_for(
        &mut self,
        name: &str,
        cfg: &config::InstanceConfig,
        config: &Config,
    ) -> Result<SocketId, String> {
        let multicast = !cfg.is_unicast();
        let found = self
            .sockets
            .find(|s| s.ifname == cfg.interface && s.family == cfg.family);
        let id = match found {
            Some(id) => {
                let entry = &mut self.sockets[id];
                if multicast && !entry.joined {
                    if entry.open.is_some() {
                        // The reload plan refuses this; never send multicast
                        // adverts from a socket that does not hear the group.
                        return Err(format!(
                            "instance {name}: the VRRP socket on {} was opened for unicast only; restart vipd to add a multicast instance there",
                            cfg.interface
                        ));
                    }
                    // Unused since a reload: reopened below, joining the group.
                    entry.joined = true;
                }
                id
            }
            None => self.sockets.push(SocketEntry {
                ifname: cfg.interface.clone(),
                family: cfg.family,
                joined: config.instances.values().any(|i| {
                    i.interface == cfg.interface && i.family == cfg.family && !i.is_unicast()
                }),
                open: None,
                error: None,
                quiet_until: None,
            }),
        };
        // New, or closed by a reload that left it unused: open it.
        let existing = self.links.get(&cfg.interface).and_then(|l| l.info.clone());
        if let (None, Some(info)) = (&self.sockets[id].open, existing) {
            self.sockets[id].reopen(info.index);
        }
        Ok(id)
    }

    /// Opens the sockets of `ifname` for its current incarnation (a socket
    /// already bound to it stays; one that failed to open is tried again), or
    /// closes them (`None`: it no longer exists).
    pub fn reopen_sockets(&mut self, ifname: &str, info: Option<&InterfaceInfo>) {
        for id in self.sockets.ids() {
            let entry = &mut self.sockets[id];
            if entry.ifname != ifname {
                continue;
            }
            match info {
                Some(info) => entry.reopen(info.index),
                None => entry.close(),
            }
        }
    }
}

/// A VRRP socket shared by the instances on one interface and family.
pub(super) struct SocketEntry {
    pub ifname: String,
    pub family: Family,
    /// Whether the socket joins the VRRP multicast group.
    pub joined: bool,
    /// The open socket, bound to the interface's current index; the loop
    /// reads it directly.
    pub open: Option<VrrpSocket>,
    /// Why the socket could not be opened for the current interface.
    pub error: Option<String>,
    /// After a receive error, the socket is not read again before this, so
    /// a persistent error cannot spin the loop.
    pub quiet_until: Option<Instant>,
}

impl SocketEntry {
    pub fn socket(&self) -> Option<&VrrpSocket> {
        self.open.as_ref()
    }

    /// Opens the socket for interface index `ifindex`, replacing any socket
    /// bound to an earlier incarnation of the interface.
    fn reopen(&mut self, ifindex: u32) {
        if self.socket().is_some_and(|s| s.ifindex() == ifindex) {
            return;
        }
        self.close();
        match VrrpSocket::open(self.family, &self.ifname, ifindex, self.joined) {
            Ok(socket) => {
                self.open = Some(socket);
                self.error = None;
            }
            Err(e) => {
                let why = format!("cannot open the VRRP socket on {}: {e}", self.ifname);
                tracing::error!(event = "socket_error", interface = %self.ifname, error = %e, "{why}");
                self.error = Some(why);
            }
        }
    }

    pub fn close(&mut self) {
        self.open = None;
        self.quiet_until = None;
    }
}

impl Edge {
    /// Receives the next datagram waiting on any open socket into `buf`,
    /// taking the sockets in turn so a busy one cannot starve the others.
    pub fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8; MAX_DATAGRAM],
    ) -> Poll<(SocketId, RecvResult)> {
        let ids = self.sockets.ids();
        let now = Instant::now();
        for k in 0..ids.len() {
            let id = ids[(self.next_socket + k) % ids.len()];
            let entry = &mut self.sockets[id];
            // Cleared by the edge timer (`on_edge_timer`) when the pause ends.
            if entry.quiet_until.is_some_and(|t| now < t) {
                continue;
            }
            let Some(socket) = &entry.open else { continue };
            if let Poll::Ready(received) = socket.poll_recv(cx, buf) {
                if received.is_err() {
                    entry.quiet_until = Some(now + RECEIVE_ERROR_PAUSE);
                }
                self.next_socket = (self.next_socket + k + 1) % ids.len();
                return Poll::Ready((id, received));
            }
        }
        Poll::Pending
    }

    /// When a socket paused after a receive error is read again.
    pub fn quiet_deadline(&self) -> Option<Instant> {
        self.sockets.values().filter_map(|s| s.quiet_until).min()
    }
}

/// What reading a socket gave: a datagram, a malformed IPv4 header, or the
/// socket's error.
pub(super) type RecvResult = io::Result<Result<Received, crate::wire::Error>>;

/// How long a socket that failed to receive is left alone.
const RECEIVE_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// An instance's hook queue; hooks see its VIPs in `VIPD_VIPS`.
pub(super) fn instance_hooks(name: &str, cfg: &config::InstanceConfig, run_as: RunAs) -> HookQueue {
    hook_queue(name, &cfg.hooks, &cfg.virtual_ips, cfg.hook_timeout, run_as)
}

/// The hook queue of an instance (VRRP or `follow_patroni`) named `name`:
/// its hooks get the addresses in `VIPD_VIPS`.
pub(super) fn hook_queue(
    name: &str,
    hooks: &config::Hooks,
    vips: &[ipnet::IpNet],
    timeout: std::time::Duration,
    run_as: RunAs,
) -> HookQueue {
    let vips = vips
        .iter()
        .map(|v| v.addr().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    HookQueue::spawn(Owner::Instance, name, hooks.clone(), vips, timeout, run_as)
}

/// How a new master of this instance announces itself.
pub(super) fn announce_plan(cfg: &config::InstanceConfig) -> AnnouncePlan {
    AnnouncePlan {
        repeat: cfg.garp_repeat,
        delay: cfg.garp_delay,
        refresh: cfg.garp_refresh,
    }
}

/// An instance's health tracker as `cfg` describes it. With `carry`, the
/// state of what the old tracker already tracked carries over (a reload):
/// check health after rise/fall and link states; files and processes come
/// from `readings`, other links from `lookups`.
pub(super) fn build_tracker(
    cfg: &config::InstanceConfig,
    config: &Config,
    lookups: &Lookups,
    readings: &[TrackedUpdate],
    interface_up: bool,
    carry: Option<&HealthTracker>,
) -> HealthTracker {
    let mut tracker = HealthTracker::new(cfg.priority, &cfg.interface);
    tracker.link(&cfg.interface, interface_up);
    for tracked in &cfg.track_checks {
        let check = &config.checks[&tracked.name];
        let fresh = CheckTracker::new(
            &tracked.name,
            i32::from(tracked.weight),
            check.rise,
            check.fall,
        );
        // A reload keeps what the check has told so far; a new check starts
        // with no result, as keepalived's do.
        let old = carry.and_then(|old| old.checks().iter().find(|c| c.name == tracked.name));
        tracker = tracker.with_check(match old {
            Some(old) => fresh.carrying(old),
            None => fresh,
        });
    }
    for tracked in &cfg.track_interfaces {
        tracker = tracker.with_interface(&tracked.name, i32::from(tracked.weight));
        let up = carry
            .and_then(|old| old.link_state(&tracked.name))
            .or_else(|| lookups.links_up.get(&tracked.name).copied())
            .unwrap_or(false);
        tracker.link(&tracked.name, up);
    }
    for t in &cfg.track_files {
        tracker = tracker.with_file(&t.name, i32::from(t.weight));
    }
    for t in &cfg.track_processes {
        tracker = tracker.with_process(&t.name, i32::from(t.weight));
    }
    for update in readings {
        update.apply(&mut tracker);
    }
    tracker
}
