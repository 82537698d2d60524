//! Building one instance's edge: interface lookup, source address, the
//! shared VRRP socket of its interface, its VIP worker, hook queue and
//! health tracker. Start-up and reload both use it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::links::{Followed, Trouble};
use super::{Input, ProtocolCounters, Slot, forward, params, remove_stale_vips};
use crate::config::{self, Config};
use crate::daemon::hooks::{HookQueue, Owner};
use crate::daemon::netlink::{InterfaceInfo, Netlink, NetlinkError};
use crate::daemon::poller::TrackedUpdate;
use crate::daemon::process::RunAs;
use crate::daemon::socket::VrrpSocket;
use crate::daemon::vips::{AnnouncePlan, VipFailure, VipStats, VipWorker};
use crate::protocol::{CheckTracker, HealthTracker, Instance, Member};
use crate::wire::Family;

/// The interfaces' shared sockets, what the loop knows of each interface
/// it follows, and what building an instance needs.
pub(super) struct Edge {
    pub netlink: Netlink,
    /// One VRRP socket per interface name and family, reopened when the
    /// interface comes back with a new index.
    pub sockets: Vec<SocketEntry>,
    /// The interfaces instances run on, followed by name.
    pub links: BTreeMap<String, Followed>,
    pub input_tx: mpsc::UnboundedSender<Input>,
}

impl Edge {
    /// Builds instance `name`; `readings` are the tracked files' and
    /// processes' current values. A missing interface is not an error: the
    /// instance starts in Fault and comes up when the interface appears.
    pub async fn build_instance(
        &mut self,
        name: &String,
        cfg: &config::InstanceConfig,
        config: &Config,
        readings: &[TrackedUpdate],
        run_as: RunAs,
        start: Start,
    ) -> Result<(Slot, Member), String> {
        let netlink = &self.netlink.clone();
        let info = match netlink.interface(&cfg.interface).await {
            Ok(info) => Some(info),
            Err(NetlinkError::NoSuchInterface(_)) => {
                tracing::warn!(
                    "instance {name}: interface {} does not exist; the instance stays in FAULT until it appears",
                    cfg.interface
                );
                None
            }
            Err(e) => return Err(format!("instance {name}: {e}")),
        };
        if let (Some(info), Start::Daemon) = (&info, start) {
            remove_stale_vips(netlink, name, info, &cfg.virtual_ips).await;
        }
        let socket = self.socket_for(name, cfg, config)?;
        let followed = self.follow(&cfg.interface, info);
        let up = followed.info.as_ref().is_some_and(|i| i.up);
        let tracker = build_tracker(netlink, cfg, config, readings, up, None).await;

        let hooks = instance_hooks(name, cfg, run_as);
        let vip_stats = Arc::new(VipStats::default());
        let (vip_tx, vip_task) = VipWorker {
            name: name.clone(),
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
        }
        .spawn();

        let mut slot = Slot {
            name: name.clone(),
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
        };
        let all_vips = all_vips(config);
        slot.follow_interface(&self.links, &all_vips);
        let member = Member {
            name: name.clone(),
            instance: Instance::new(
                params(cfg, slot.src_or_unspecified()),
                slot.health(&self.links, &self.sockets),
            ),
        };
        match slot.src {
            Some(src) => tracing::info!(
                "instance {name}: VRRPv{} vrid {} on {} from {src}, priority {}",
                cfg.version.number(),
                cfg.vrid,
                cfg.interface,
                slot.tracker.health().priority
            ),
            None => tracing::info!(
                "instance {name}: VRRPv{} vrid {} on {}, priority {}; no source address yet",
                cfg.version.number(),
                cfg.vrid,
                cfg.interface,
                slot.tracker.health().priority
            ),
        }
        Ok((slot, member))
    }

    /// Starts following `ifname` (once per name) with what a lookup found.
    fn follow(&mut self, ifname: &str, info: Option<InterfaceInfo>) -> &Followed {
        if !self.links.contains_key(ifname) {
            let mut followed = Followed::default();
            self.reopen_sockets(ifname, info.as_ref());
            followed.set(info);
            self.links.insert(ifname.to_owned(), followed);
        }
        &self.links[ifname]
    }

    /// A channel on which the instance's VIP worker reports addresses it could
    /// not install.
    fn vip_failures(&self, name: &str) -> mpsc::UnboundedSender<VipFailure> {
        let (tx, rx) = mpsc::unbounded_channel();
        let instance = name.to_owned();
        forward(rx, self.input_tx.clone(), move |failure| Input::VipFailed {
            instance: instance.clone(),
            failure,
        });
        tx
    }

    /// The VRRP socket for the instance's interface and family; the entry is
    /// made on first use and opened whenever the interface exists.
    fn socket_for(
        &mut self,
        name: &str,
        cfg: &config::InstanceConfig,
        config: &Config,
    ) -> Result<usize, String> {
        let found = self
            .sockets
            .iter()
            .position(|s| s.ifname == cfg.interface && s.family == cfg.family);
        if let Some(i) = found {
            if !cfg.is_unicast() && !self.sockets[i].joined {
                return Err(format!(
                    "instance {name}: the VRRP socket on {} was opened for unicast only; restart vipd to add a multicast instance there",
                    cfg.interface
                ));
            }
            // Closed by a reload that left it unused: open it again.
            let existing = self.links.get(&cfg.interface).and_then(|l| l.info.clone());
            if let (None, Some(info)) = (&self.sockets[i].open, existing) {
                self.sockets[i].reopen(i, info.index, &self.input_tx);
            }
            return Ok(i);
        }
        let joined = config
            .instances
            .values()
            .any(|i| i.interface == cfg.interface && i.family == cfg.family && !i.is_unicast());
        self.sockets.push(SocketEntry {
            ifname: cfg.interface.clone(),
            family: cfg.family,
            joined,
            open: None,
            error: None,
        });
        let index = self.sockets.len() - 1;
        let existing = self.links.get(&cfg.interface).and_then(|l| l.info.clone());
        if let Some(info) = existing {
            self.sockets[index].reopen(index, info.index, &self.input_tx);
        }
        Ok(index)
    }

    /// Opens the sockets of `ifname` for its current incarnation (a socket
    /// already bound to it stays; one that failed to open is tried again), or
    /// closes them (`None`: it no longer exists).
    pub fn reopen_sockets(&mut self, ifname: &str, info: Option<&InterfaceInfo>) {
        for index in 0..self.sockets.len() {
            if self.sockets[index].ifname != ifname {
                continue;
            }
            match info {
                Some(info) => self.sockets[index].reopen(index, info.index, &self.input_tx),
                None => self.sockets[index].close(),
            }
        }
    }
}

/// Why an instance is being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    /// At start-up: VIPs found on the interface were left by a crashed run.
    Daemon,
    /// By a reload: VIPs on the interface may belong to a running instance
    /// (a restarted master resigning, a VIP moving between instances).
    Reload,
}

/// A VRRP socket shared by the instances on one interface and family.
pub(super) struct SocketEntry {
    pub ifname: String,
    pub family: Family,
    /// Whether the socket joins the VRRP multicast group.
    pub joined: bool,
    /// The open socket, bound to the interface's current index, and its reader.
    pub open: Option<(Arc<VrrpSocket>, JoinHandle<()>)>,
    /// Why the socket could not be opened for the current interface.
    pub error: Option<String>,
}

impl SocketEntry {
    pub fn socket(&self) -> Option<&VrrpSocket> {
        self.open.as_ref().map(|(s, _)| &**s)
    }

    /// Opens the socket for interface index `ifindex`, replacing any socket
    /// bound to an earlier incarnation of the interface.
    fn reopen(&mut self, index: usize, ifindex: u32, input_tx: &mpsc::UnboundedSender<Input>) {
        if self.socket().is_some_and(|s| s.ifindex() == ifindex) {
            return;
        }
        self.close();
        match VrrpSocket::open(self.family, &self.ifname, ifindex, self.joined) {
            Ok(socket) => {
                let socket = Arc::new(socket);
                let reader = spawn_reader(index, socket.clone(), input_tx.clone());
                self.open = Some((socket, reader));
                self.error = None;
            }
            Err(e) => {
                tracing::error!("cannot open the VRRP socket on {}: {e}", self.ifname);
                self.error = Some(format!(
                    "cannot open the VRRP socket on {}: {e}",
                    self.ifname
                ));
            }
        }
    }

    pub fn close(&mut self) {
        if let Some((_, reader)) = self.open.take() {
            reader.abort();
        }
    }
}

fn spawn_reader(
    index: usize,
    socket: Arc<VrrpSocket>,
    tx: mpsc::UnboundedSender<Input>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let received = socket.recv().await;
            let fatal = received.is_err();
            if tx
                .send(Input::Packet {
                    socket: index,
                    received,
                })
                .is_err()
                || fatal
            {
                // Back off so a persistent socket error cannot spin the loop.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    })
}

/// An instance's hook queue; hooks see its VIPs in `VIPD_VIPS`.
pub(super) fn instance_hooks(name: &str, cfg: &config::InstanceConfig, run_as: RunAs) -> HookQueue {
    let vips = cfg
        .virtual_ips
        .iter()
        .map(|v| v.addr().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    HookQueue::spawn(
        Owner::Instance,
        name,
        cfg.hooks.clone(),
        vips,
        cfg.hook_timeout,
        run_as,
    )
}

/// How a new master of this instance announces itself.
pub(super) fn announce_plan(cfg: &config::InstanceConfig) -> AnnouncePlan {
    AnnouncePlan {
        repeat: cfg.garp_repeat,
        delay: cfg.garp_delay,
        refresh: cfg.garp_refresh,
    }
}

/// Every virtual address of the configuration: never a source address.
pub(super) fn all_vips(config: &Config) -> Vec<IpAddr> {
    config
        .instances
        .values()
        .flat_map(|i| i.virtual_ips.iter().map(IpNet::addr))
        .collect()
}

/// An instance's health tracker as `cfg` describes it. With `carry`, the
/// state of what the old tracker already tracked carries over (a reload):
/// check health after rise/fall and link states; files and processes come
/// from `readings`.
pub(super) async fn build_tracker(
    netlink: &Netlink,
    cfg: &config::InstanceConfig,
    config: &Config,
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
        let up = match carry.and_then(|old| old.link_state(&tracked.name)) {
            Some(up) => up,
            None => netlink
                .interface(&tracked.name)
                .await
                .is_ok_and(|other| other.up),
        };
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
