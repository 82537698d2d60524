//! Following interfaces by name, and telling the truth about what an
//! instance can serve.
//!
//! An interface may disappear and come back with a new index (a veth or VLAN
//! recreated by the network manager), change its MAC, or lose the address
//! adverts go out from. Any kernel notification about an interface an
//! instance runs on triggers a fresh lookup of it; the result reopens its
//! VRRP socket and packet socket when the index changed, re-targets the VIP
//! workers, and re-picks each instance's source address.
//!
//! Whatever keeps an instance from serving is a fault the state machine
//! sees like a failing weight-0 check: no interface, no usable source
//! address, no socket, adverts that cannot be sent for two advert intervals,
//! or addresses that cannot be installed. The last two have no kernel event
//! that says they are fixed, so the instance retries after a back-off.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::time::Instant;

use super::build::SocketEntry;
use super::ids::{ById, SocketId};
use super::{Daemon, Input, InstanceEdge, params};
use crate::daemon::announce::Announcer;
use crate::daemon::netlink::{InterfaceInfo, NetEvent, NetlinkError};
use crate::daemon::vips::{Attachment, VipCommand, VipFailure};
use crate::protocol::{Event, Fault, Health, InstanceId, State};
use crate::wire::{AdvertRepr, Auth, Family};

/// The first retry after sending or installing addresses failed; doubled on
/// each failure in a row, up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// What the loop knows of one interface instances run on.
#[derive(Default)]
pub(super) struct Followed {
    /// The interface as last looked up; `None` while it does not exist.
    pub info: Option<InterfaceInfo>,
    /// Sends gratuitous ARPs and NAs from the interface's current MAC.
    pub announcer: Option<Arc<Announcer>>,
    announcer_error: Option<String>,
    /// A lookup is under way; `Some(true)`: more changed since it was asked.
    lookup: Option<bool>,
    /// Answers thrown away in a row for being older than the last event.
    stale_answers: u32,
}

/// Answers older than the last event are asked again, but no more than
/// this many times in a row: a constant stream of events must not starve
/// the instance of any answer.
const MAX_STALE_ANSWERS: u32 = 3;
/// How soon a lookup that failed (not "no such interface") is tried again.
const LOOKUP_RETRY: Duration = Duration::from_secs(1);

impl Followed {
    /// Records a lookup's result, reopening the packet socket for a new
    /// index or MAC.
    pub fn set(&mut self, info: Option<InterfaceInfo>) {
        let key = |i: &InterfaceInfo| (i.index, i.mac);
        if self.info.as_ref().map(key) != info.as_ref().map(key) || self.announcer.is_none() {
            self.announcer = None;
            self.announcer_error = None;
            if let Some(i) = &info {
                match Announcer::open(i.index, i.mac.unwrap_or([0; 6])) {
                    Ok(a) => self.announcer = Some(Arc::new(a)),
                    Err(e) => {
                        let why = format!("cannot open a packet socket on {}: {e}", i.name);
                        tracing::error!("{why}");
                        self.announcer_error = Some(why);
                    }
                }
            }
        }
        self.info = info;
    }
}

/// Failures with no kernel event to say they are over.
///
/// `sending_since` and `suspect` describe the current mastership only: a
/// successful advert clears them, and so does leaving MASTER.
#[derive(Debug, Default)]
pub(super) struct Trouble {
    /// Since when adverts have failed to go out, and the latest error.
    sending_since: Option<(Instant, String)>,
    /// Why the instance is held in Fault until `retry_at`.
    fault: Option<String>,
    pub retry_at: Option<Instant>,
    backoff: Duration,
    /// Sending failed before the last retry and has not worked since: the
    /// next failure trips at once.
    suspect: bool,
}

impl Trouble {
    /// Holds the instance in Fault for a back-off that grows while the
    /// failures go on.
    fn trip(&mut self, now: Instant, why: String) {
        self.backoff = (self.backoff * 2).clamp(RETRY_MIN, RETRY_MAX);
        self.retry_at = Some(now + self.backoff);
        self.fault = Some(why);
        self.sending_since = None;
        self.suspect = true;
    }

    /// Adverts went out: whatever failed before is over.
    fn sent(&mut self) {
        self.sending_since = None;
        self.backoff = Duration::ZERO;
        self.suspect = false;
    }

    /// An advert could not be sent; says why the instance must stop
    /// serving when the failures have lasted two advert intervals, or at
    /// once after a retry.
    fn send_failed(&mut self, now: Instant, error: String, interval: Duration) -> Option<String> {
        let since = self.sending_since.get_or_insert((now, String::new()));
        since.1 = error;
        let failing_for = now - since.0;
        if self.suspect {
            // After a retry, one more failure is enough: the trouble is still there.
            Some(format!(
                "still cannot send adverts after a retry: {}",
                since.1
            ))
        } else if failing_for >= interval * 2 {
            Some(format!(
                "cannot send adverts for {:.1} s: {}",
                failing_for.as_secs_f64(),
                since.1
            ))
        } else {
            None
        }
    }

    /// The mastership these failures were about is over.
    pub fn left_master(&mut self) {
        self.sending_since = None;
        self.suspect = false;
    }
}

/// What the VIP worker was attached to: a change means a new attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AttachKey {
    ifindex: u32,
    mac: Option<[u8; 6]>,
    link_local: Option<Ipv6Addr>,
    /// Whether the packet socket could be opened.
    announces: bool,
}

impl AttachKey {
    /// What a VIP worker on `followed` is attached to; `None` while the
    /// interface does not exist.
    pub(super) fn of(followed: &Followed, all_vips: &[IpAddr]) -> Option<AttachKey> {
        let info = followed.info.as_ref()?;
        Some(AttachKey {
            ifindex: info.index,
            mac: info.mac,
            link_local: link_local_of(info, all_vips),
            announces: followed.announcer.is_some(),
        })
    }

    pub(super) fn ifindex(&self) -> u32 {
        self.ifindex
    }

    pub(super) fn link_local(&self) -> Option<Ipv6Addr> {
        self.link_local
    }
}

impl InstanceEdge {
    /// Re-reads the instance's interface: the VIP worker's attachment, the
    /// link state and the source address. Returns true when the source
    /// address changed.
    pub(super) fn follow_interface(
        &mut self,
        links: &BTreeMap<String, Followed>,
        all_vips: &[IpAddr],
    ) -> bool {
        let followed = &links[&self.cfg.interface];
        let info = followed.info.as_ref();
        let link_local = info.and_then(|i| link_local_of(i, all_vips));
        // Detached only when the interface is gone: the worker must still be
        // able to remove the addresses when only its packet socket failed.
        let attach = AttachKey::of(followed, all_vips);
        if attach != self.attachment {
            self.attachment = attach;
            self.send_vip(VipCommand::Attach(attach.map(|k| Attachment {
                ifindex: k.ifindex,
                announcer: followed.announcer.clone(),
                link_local,
            })));
        }
        self.tracker
            .link(&self.cfg.interface, info.is_some_and(|i| i.up));

        let src = match (self.cfg.unicast_src_ip, self.cfg.family) {
            (Some(configured), _) => Some(configured),
            (None, Family::Ipv6) => link_local.map(IpAddr::V6),
            (None, Family::Ipv4) => info.and_then(|i| primary_ipv4(i, all_vips, self.src)),
        };
        if src == self.src {
            return false;
        }
        match (self.src, src) {
            (Some(old), Some(new)) => tracing::warn!(
                "instance {}: adverts now go out from {new} on {} (was {old})",
                self.name,
                self.cfg.interface
            ),
            (None, Some(new)) => tracing::info!(
                "instance {}: adverts go out from {new} on {}",
                self.name,
                self.cfg.interface
            ),
            (Some(old), None) => tracing::warn!(
                "instance {}: {old} is no longer usable on {} and no other address can send adverts",
                self.name,
                self.cfg.interface
            ),
            (None, None) => {}
        }
        self.src = src;
        true
    }

    /// The source address, or the unspecified address of the family while
    /// there is none (the instance is in Fault then and sends nothing).
    pub(super) fn src_or_unspecified(&self) -> IpAddr {
        self.src.unwrap_or(match self.cfg.family {
            Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        })
    }

    /// The health the state machine sees: what the tracker computes, unless
    /// the edge cannot serve this instance at all.
    pub(super) fn health(
        &self,
        links: &BTreeMap<String, Followed>,
        sockets: &ById<SocketId, SocketEntry>,
    ) -> Health {
        let mut health = self.tracker.health();
        if let Some(why) = self.edge_fault(links, sockets, health.fault.is_some()) {
            health.fault = Some(Fault::Edge(why));
        }
        health
    }

    fn edge_fault(
        &self,
        links: &BTreeMap<String, Followed>,
        sockets: &ById<SocketId, SocketEntry>,
        tracker_fault: bool,
    ) -> Option<String> {
        let ifname = &self.cfg.interface;
        let followed = links.get(ifname)?;
        if followed.info.is_none() {
            return Some(format!("interface {ifname} does not exist"));
        }
        if tracker_fault {
            // "interface down", a failing weight-0 check...: already said.
            return None;
        }
        if let Some(e) = &sockets[self.socket].error {
            return Some(e.clone());
        }
        let advert_len = self.advert_len();
        if let Some(mtu) = followed.info.as_ref().and_then(|i| i.mtu) {
            if advert_len > mtu as usize {
                return Some(format!(
                    "an advert with {} addresses is {advert_len} bytes, more than the MTU of {ifname} ({mtu})",
                    self.cfg.virtual_ips.len()
                ));
            }
        }
        if let Some(e) = &followed.announcer_error {
            return Some(e.clone());
        }
        if self.src.is_none() {
            return Some(match self.cfg.family {
                Family::Ipv4 => format!("{ifname} has no IPv4 address to send adverts from"),
                Family::Ipv6 => format!("{ifname} has no usable IPv6 link-local address"),
            });
        }
        self.trouble.fault.clone()
    }

    /// The size of this instance's adverts on the wire, IP header included.
    fn advert_len(&self) -> usize {
        let repr = AdvertRepr {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority: 0,
            max_advert_interval: self.cfg.advert_interval,
            auth: Auth::None,
            addresses: self.cfg.virtual_ips.iter().map(IpNet::addr).collect(),
        };
        self.cfg.family.ip_header_len() + repr.buffer_len()
    }

    /// Whether start-up waits for a link-local address that is on its way
    /// (a fresh interface finishing duplicate address detection).
    pub(super) fn awaits_link_local(&self, links: &BTreeMap<String, Followed>) -> bool {
        self.cfg.family == Family::Ipv6
            && self.src.is_none()
            && links
                .get(&self.cfg.interface)
                .and_then(|f| f.info.as_ref())
                .is_some_and(|i| i.up)
    }
}

impl Daemon {
    /// A kernel notification: link states for trackers, restoring VIPs
    /// removed by hand, and a fresh lookup of any followed interface it
    /// concerns.
    pub(super) fn on_net_event(&mut self, event: NetEvent) {
        match event {
            NetEvent::Link {
                index,
                ref name,
                up,
                ..
            } => {
                self.track_link(name, up);
                if self.edge.links.contains_key(name) {
                    self.request_lookup(name);
                }
                // Renamed: the interface we knew under another name is gone.
                let renamed: Vec<String> = self
                    .followed_with_index(index)
                    .filter(|n| n != name)
                    .collect();
                for other in renamed {
                    self.request_lookup(&other);
                }
            }
            NetEvent::LinkRemoved { index, ref name } => {
                self.track_link(name, false);
                let Some(followed) = self.edge.links.get_mut(name) else {
                    return;
                };
                // A lookup under way may have seen the interface still there.
                if followed.lookup.is_some() {
                    followed.lookup = Some(true);
                }
                if followed.info.as_ref().is_some_and(|i| i.index == index) {
                    self.apply_lookup(name, None);
                }
            }
            NetEvent::AddressRemoved { index, addr } => {
                self.restore_vip(index, addr);
                self.follower_vip_removed(index, addr.addr());
                for name in self.followed_with_index(index).collect::<Vec<_>>() {
                    self.request_lookup(&name);
                }
            }
            NetEvent::AddressAdded { index, .. } => {
                for name in self.followed_with_index(index).collect::<Vec<_>>() {
                    self.request_lookup(&name);
                }
            }
        }
    }

    /// Tracked interfaces (and instances' own ones) by name.
    fn track_link(&mut self, name: &str, up: bool) {
        self.reloads.saw_link(name, up);
        for id in self.instances.ids() {
            let tracker = &mut self.instances[id].tracker;
            if tracker.link_state(name) == Some(up) {
                continue;
            }
            if tracker.link(name, up) {
                tracing::info!(
                    "instance {}: link {name} {}",
                    self.instances[id].name,
                    if up { "up" } else { "down" }
                );
                self.refresh_health(id);
            }
        }
    }

    fn followed_with_index(&self, index: u32) -> impl Iterator<Item = String> + '_ {
        self.edge
            .links
            .iter()
            .filter(move |(_, f)| f.info.as_ref().is_some_and(|i| i.index == index))
            .map(|(name, _)| name.clone())
    }

    /// Whether the leadership lock of instance `id` (its own or its sync
    /// group's) has a fence that has passed: its addresses' lifetime is over.
    /// The kernel counts lifetimes in whole seconds, rounded down when set,
    /// so its removal may come up to a second before the fence.
    fn fence_passed(&self, id: InstanceId) -> bool {
        let lock = (self.node.instance(id).leadership())
            .or_else(|| self.node.group_lock(self.node.group_of(id)?));
        let soon = self.now() + Duration::from_secs(1);
        lock.and_then(|l| l.fence())
            .is_some_and(|fence| fence <= soon)
    }

    /// A VIP of a master removed by someone else goes straight back.
    fn restore_vip(&mut self, ifindex: u32, addr: IpNet) {
        for id in self.instances.ids() {
            let instance = &self.instances[id];
            let on_it = self.edge.links[&instance.cfg.interface]
                .info
                .as_ref()
                .is_some_and(|i| i.index == ifindex);
            let ours = on_it
                && instance
                    .cfg
                    .virtual_ips
                    .iter()
                    .any(|v| v.addr() == addr.addr());
            if ours && self.node.instance(id).state() == State::Master && self.fence_passed(id) {
                // Our own fence: the kernel ended the address's lifetime
                // because the lease was not renewed in time; the instance
                // steps down shortly.
                let key = format!("{}:fenced", instance.name);
                if let Some(suppressed) = self.log_limit.allow(&key) {
                    tracing::warn!(
                        event = "vip_fenced",
                        instance = %instance.name,
                        address = %addr,
                        suppressed,
                        "instance {}: the leadership fence removed {addr} (the lease was not renewed in time); not restoring it{}",
                        instance.name,
                        super::suppressed_note(suppressed)
                    );
                }
            } else if ours && self.node.instance(id).state() == State::Master {
                let key = format!("{}:restore", instance.name);
                if let Some(suppressed) = self.log_limit.allow(&key) {
                    tracing::warn!(
                        event = "vip_restored",
                        instance = %instance.name,
                        address = %addr,
                        suppressed,
                        "instance {}: {addr} was removed by someone else; restoring it{}",
                        instance.name,
                        super::suppressed_note(suppressed)
                    );
                }
                let instance = &mut self.instances[id];
                instance.counters.vip_restores += 1;
                instance.send_vip(VipCommand::Add);
                instance.send_vip(VipCommand::Announce);
            }
        }
    }

    /// Looks `name` up off the loop; a lookup already under way is redone
    /// when it returns, so the last answer is never older than the last
    /// event.
    pub(super) fn request_lookup(&mut self, name: &str) {
        let Some(followed) = self.edge.links.get_mut(name) else {
            return;
        };
        if followed.lookup.is_some() {
            followed.lookup = Some(true);
            return;
        }
        self.spawn_lookup(name, Duration::ZERO);
    }

    pub(super) fn on_lookup(&mut self, name: &str, result: Result<InterfaceInfo, NetlinkError>) {
        let Some(followed) = self.edge.links.get_mut(name) else {
            return;
        };
        let stale = followed.lookup.take() == Some(true);
        if stale && followed.stale_answers < MAX_STALE_ANSWERS {
            // Older than the last event: ask again rather than act on it.
            followed.stale_answers += 1;
            return self.request_lookup(name);
        }
        followed.stale_answers = 0;
        match result {
            Ok(info) => self.apply_lookup(name, Some(info)),
            Err(NetlinkError::NoSuchInterface(_)) => self.apply_lookup(name, None),
            Err(e) => {
                if let Some(suppressed) = self.log_limit.allow(&format!("lookup:{name}")) {
                    tracing::error!("{e}; trying again{}", super::suppressed_note(suppressed));
                }
                return self.spawn_lookup(name, LOOKUP_RETRY);
            }
        }
        if stale {
            self.request_lookup(name);
        }
    }

    /// Marks a lookup of `name` under way and asks netlink after `delay`.
    fn spawn_lookup(&mut self, name: &str, delay: Duration) {
        let Some(followed) = self.edge.links.get_mut(name) else {
            return;
        };
        followed.lookup = Some(false);
        let netlink = self.edge.netlink.clone();
        let tx = self.edge.input_tx.clone();
        let name = name.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let result = netlink.interface(&name).await;
            let _ = tx.send(Input::Lookup { name, result });
        });
    }

    /// Brings everything on interface `name` in line with what it is now.
    fn apply_lookup(&mut self, name: &str, info: Option<InterfaceInfo>) {
        let old_index = self.edge.links[name].info.as_ref().map(|i| i.index);
        let new_index = info.as_ref().map(|i| i.index);
        if old_index != new_index {
            match (old_index, new_index) {
                (_, None) => tracing::warn!("interface {name} no longer exists"),
                (None, Some(i)) => tracing::info!("interface {name} appeared (index {i})"),
                (Some(_), Some(i)) => {
                    tracing::warn!("interface {name} was replaced (new index {i})")
                }
            }
        }
        self.edge.reopen_sockets(name, info.as_ref());
        if let Some(followed) = self.edge.links.get_mut(name) {
            followed.set(info);
        }
        let all_vips = self.running.config.all_vips();
        for id in self.instances.ids() {
            if self.instances[id].cfg.interface != name {
                continue;
            }
            self.follow_interface(id, &all_vips);
            // A socket that failed to open is tried again on the retry timer.
            let socket = &self.edge.sockets[self.instances[id].socket];
            if let (Some(why), None) = (&socket.error, self.instances[id].trouble.retry_at) {
                let why = why.clone();
                self.instances[id].trouble.trip(Instant::now(), why);
            }
            self.refresh_health(id);
        }
        self.followers_link_changed(name);
    }

    /// Re-reads instance `index`'s interface, updates the state machine's
    /// source address, and starts an instance that waited for it.
    pub(super) fn follow_interface(&mut self, id: InstanceId, all_vips: &[IpAddr]) {
        let instance = &mut self.instances[id];
        if instance.follow_interface(&self.edge.links, all_vips) {
            let params = params(&instance.cfg, instance.src_or_unspecified());
            self.node.update_params(id, params);
        }
        if self.instances[id].src.is_some() && self.instances[id].start_by.is_some() {
            self.start_instance(id);
        }
    }

    /// Sends an advert to every destination; failures that outlast two
    /// advert intervals take the instance out of service.
    pub(super) fn send_advert(&mut self, id: InstanceId, advert: &crate::wire::AdvertRepr) {
        let instance = &mut self.instances[id];
        let socket = self.edge.sockets[instance.socket].socket();
        let (Some(src), Some(socket)) = (instance.src, socket) else {
            if advert.priority == 0 {
                // A resignation from an instance that just lost its address or
                // interface: there is no way to send it, and nothing to protect.
                tracing::info!(
                    "instance {}: no priority-0 advert: no usable address or socket on {}",
                    instance.name,
                    instance.cfg.interface
                );
            } else {
                // Not expected (such an instance is in Fault); never claim a
                // mastership that cannot advertise.
                instance.counters.send_errors += 1;
                let why = format!("no usable address or socket on {}", instance.cfg.interface);
                instance.trouble.trip(Instant::now(), why);
                self.health_changed.push(id);
            }
            return;
        };
        let mut errors = Vec::new();
        for dst in instance.cfg.destinations() {
            let sent = advert
                .to_bytes(src, dst)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))
                .and_then(|bytes| socket.send(&bytes, src, dst));
            match sent {
                Ok(()) => instance.counters.adverts_sent += 1,
                Err(e) => errors.push((dst, e.to_string())),
            }
        }
        for (dst, e) in &errors {
            self.instances[id].counters.send_errors += 1;
            self.warn_limited(id, "send", "send_error", *dst, e, |name| {
                format!("instance {name}: cannot send advert to {dst}: {e}")
            });
        }
        let instance = &mut self.instances[id];
        let now = Instant::now();
        let interval = instance.cfg.advert_interval.as_duration();
        match errors.into_iter().next() {
            None => instance.trouble.sent(),
            // A resignation (priority 0) is the last advert: nothing to protect.
            Some(_) if advert.priority == 0 => {}
            Some((_, error)) => {
                if let Some(why) = instance.trouble.send_failed(now, error, interval) {
                    instance.trouble.trip(now, why);
                    self.health_changed.push(id);
                }
            }
        }
    }

    /// A master that could not install its addresses gives up mastership.
    pub(super) fn on_vip_failure(&mut self, instance: &str, VipFailure(why): VipFailure) {
        let Some(id) = self.instances.find(|s| s.name == instance) else {
            return;
        };
        if self.node.instance(id).state() == State::Master {
            self.instances[id].trouble.trip(Instant::now(), why);
            self.refresh_health(id);
        }
    }

    /// The earliest retry or start-up deadline of any instance.
    pub(super) fn edge_deadline(&self) -> Option<Instant> {
        self.instances
            .values()
            .flat_map(|s| [s.trouble.retry_at, s.start_by])
            .flatten()
            .chain(self.edge.quiet_deadline())
            .min()
    }

    /// Retries what failed, and starts instances that waited long enough for
    /// a link-local address.
    pub(super) fn on_edge_timer(&mut self) {
        let now = Instant::now();
        // Sockets paused after a receive error are read again.
        for socket in self.edge.sockets.values_mut() {
            if socket.quiet_until.is_some_and(|t| t <= now) {
                socket.quiet_until = None;
            }
        }
        for id in self.instances.ids() {
            let trouble = &mut self.instances[id].trouble;
            if trouble.retry_at.is_some_and(|t| t <= now) {
                trouble.retry_at = None;
                if let Some(why) = trouble.fault.take() {
                    tracing::info!(
                        "instance {}: retrying after: {why}",
                        self.instances[id].name
                    );
                }
                // A socket that failed to open is opened again with the answer.
                let ifname = self.instances[id].cfg.interface.clone();
                self.request_lookup(&ifname);
                self.refresh_health(id);
            }
            if self.instances[id].start_by.is_some_and(|t| t <= now) {
                self.start_instance(id);
            }
        }
    }

    /// Delivers the Startup event (now, or when the link-local address
    /// arrives: see [`InstanceEdge::awaits_link_local`]).
    pub(super) fn start_instance(&mut self, id: InstanceId) {
        self.instances[id].start_by = None;
        self.refresh_health(id);
        let outputs = self.node.handle(self.now(), id, Event::Startup);
        self.execute(outputs);
    }
}

/// The first IPv4 address on the interface that is not a VIP of ours,
/// keeping the current one while it is still there.
fn primary_ipv4(info: &InterfaceInfo, vips: &[IpAddr], current: Option<IpAddr>) -> Option<IpAddr> {
    let candidates = || {
        info.addresses
            .iter()
            .map(IpNet::addr)
            .filter(|a| a.is_ipv4() && !vips.contains(a))
    };
    current
        .filter(|c| candidates().any(|a| a == *c))
        .or_else(|| candidates().next())
}

/// The interface's link-local address, never a link-local VIP of ours.
fn link_local_of(info: &InterfaceInfo, vips: &[IpAddr]) -> Option<Ipv6Addr> {
    info.addresses.iter().find_map(|a| match a.addr() {
        IpAddr::V6(v6) if v6.is_unicast_link_local() && !vips.contains(&a.addr()) => Some(v6),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(addresses: &[&str]) -> InterfaceInfo {
        InterfaceInfo {
            index: 2,
            name: "eth0".into(),
            mac: None,
            mtu: Some(1500),
            up: true,
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
        }
    }

    fn ip(a: &str) -> IpAddr {
        a.parse().unwrap()
    }

    #[test]
    fn a_link_local_vip_is_never_the_source() {
        // A stale link-local VIP can be listed first: taking it as the source
        // would make two nodes send from the same address.
        let i = info(&["fe80::1/64", "fe80::200:5eff:fe10:11/64"]);
        assert_eq!(
            link_local_of(&i, &[ip("fe80::1")]),
            Some("fe80::200:5eff:fe10:11".parse().unwrap())
        );
        assert_eq!(
            link_local_of(&info(&["fe80::1/64"]), &[ip("fe80::1")]),
            None
        );
    }

    #[test]
    fn the_source_stays_while_it_is_there_and_moves_when_it_goes() {
        let vips = [ip("192.0.2.50")];
        let both = info(&["192.0.2.50/24", "192.0.2.11/24", "192.0.2.21/24"]);
        assert_eq!(primary_ipv4(&both, &vips, None), Some(ip("192.0.2.11")));
        assert_eq!(
            primary_ipv4(&both, &vips, Some(ip("192.0.2.21"))),
            Some(ip("192.0.2.21"))
        );
        let moved = info(&["192.0.2.50/24", "192.0.2.21/24"]);
        assert_eq!(
            primary_ipv4(&moved, &vips, Some(ip("192.0.2.11"))),
            Some(ip("192.0.2.21"))
        );
        assert_eq!(primary_ipv4(&info(&["192.0.2.50/24"]), &vips, None), None);
    }

    #[test]
    fn failures_back_off_up_to_a_minute() {
        let now = Instant::now();
        let mut t = Trouble::default();
        let mut waits = Vec::new();
        for _ in 0..8 {
            t.trip(now, "x".into());
            waits.push((t.retry_at.unwrap() - now).as_secs());
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
