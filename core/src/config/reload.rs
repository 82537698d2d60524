//! What a configuration reload must do, decided without touching anything.
//!
//! vipd's reload contract: instances whose settings did not change keep their
//! state, timers and VIPs (no transition, no hook, no extra advert); changed
//! instances are updated in place where RFC 9568 allows it and restarted only
//! where they must be (another VRID, interface, address family or VRRP
//! version is another virtual router); removed instances resign and drop their
//! VIPs; added ones start in Backup. Checks and the tracked-file poller follow
//! changed definitions. What cannot change without a restart of vipd is
//! refused, and the running configuration stays. The daemon carries the plan
//! out and decides nothing of its own.

use std::collections::BTreeSet;

use super::{Check, Config, InstanceConfig, LeaseSettings};

/// One instance's fate in a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceChange {
    /// Settings identical: nothing at all happens.
    Unchanged,
    /// Same virtual router; the listed aspects change in place.
    Update(BTreeSet<Aspect>),
    /// Another virtual router under the same name: resign, then start afresh.
    Restart(Restart),
    /// Gone from the new configuration: resign and drop its VIPs.
    Removed,
    /// New in the new configuration: start it.
    Added,
}

/// What an in-place update touches, so the daemon redoes only that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Aspect {
    /// Base priority or anything tracked (checks, interfaces, files,
    /// processes): recompute the effective priority.
    Health,
    /// Advert interval, preemption, password: new protocol parameters.
    Protocol,
    /// The set of virtual addresses: swap them if we hold them.
    VirtualIps,
    /// Unicast peers or source address.
    Peers,
    /// Announcement repeat, delay and refresh.
    Announcements,
    /// Hook commands or their timeout.
    Hooks,
    /// Membership in a sync group.
    SyncGroup,
}

/// Why an instance must be restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restart {
    /// What differs, one per entry (e.g. `vrid 51 -> 52`).
    pub reasons: Vec<String>,
}

/// The whole plan, instance by instance (sorted by name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Every instance of the old and new configuration with its fate.
    pub instances: Vec<(String, InstanceChange)>,
    /// Checks, tracked files or processes whose definition changed: their
    /// runners restart (their results so far are kept by the trackers).
    /// Default weights do not count: they reach the instances through
    /// their [`InstanceConfig::track_checks`] and the like.
    pub watchers_changed: bool,
    /// Running checks to stop: redefined, or tracked by no instance any more.
    pub checks_stopped: BTreeSet<String>,
    /// Checks to start: redefined, or tracked for the first time.
    pub checks_started: BTreeSet<String>,
    /// Whether the tracked file and process poller restarts with the new
    /// definitions (it polls at once, so the new trackers start from fresh
    /// readings).
    pub poller_restarts: bool,
    /// Instances otherwise unchanged that track a redefined check, file or
    /// process: their trackers are rebuilt, keeping what they knew.
    pub retrack: BTreeSet<String>,
    /// Whether the sync groups are rebuilt (keeping their reported states).
    pub groups_changed: bool,
    /// Global settings that only take effect at the next start.
    pub needs_restart: Vec<String>,
    /// Multicast instances that would share a VRRP socket opened for
    /// unicast only (it does not hear the group): `(instance, interface)`.
    pub multicast_on_unicast_socket: Vec<(String, String)>,
}

impl Plan {
    /// True when the reload changes nothing anywhere.
    pub fn is_noop(&self) -> bool {
        !self.watchers_changed
            && !self.groups_changed
            && self.needs_restart.is_empty()
            && self.multicast_on_unicast_socket.is_empty()
            && self
                .instances
                .iter()
                .all(|(_, c)| *c == InstanceChange::Unchanged)
    }

    /// Why this reload cannot go ahead, one line per reason; empty when it can.
    pub fn refusals(&self) -> Vec<String> {
        let settings = self
            .needs_restart
            .iter()
            .map(|what| format!("{what} changed: not applied by reload yet; restart vipd for it"));
        let sockets = self.multicast_on_unicast_socket.iter().map(|(name, interface)| {
            format!(
                "instance {name}: the VRRP socket on {interface} was opened for unicast only; restart vipd to add a multicast instance there"
            )
        });
        settings.chain(sockets).collect()
    }

    /// The instances that resign, restarted ones included.
    pub fn resigning(&self) -> impl Iterator<Item = &str> {
        self.instances
            .iter()
            .filter(|(_, c)| matches!(c, InstanceChange::Removed | InstanceChange::Restart(_)))
            .map(|(name, _)| name.as_str())
    }

    /// The instances built anew, restarted ones included.
    pub fn starting(&self) -> impl Iterator<Item = &str> {
        self.instances
            .iter()
            .filter(|(_, c)| matches!(c, InstanceChange::Added | InstanceChange::Restart(_)))
            .map(|(name, _)| name.as_str())
    }

    /// Whether the set of instances or groups changes, so the protocol
    /// node's members and groups are rebuilt.
    pub fn regroups(&self) -> bool {
        self.groups_changed || self.resigning().next().is_some() || self.starting().next().is_some()
    }

    /// What the reload does, in words for the log and `vipd reload`.
    pub fn describe(&self) -> Vec<String> {
        if self.is_noop() {
            return vec!["no change".to_owned()];
        }
        let mut lines = Vec::new();
        for (name, change) in &self.instances {
            match change {
                InstanceChange::Removed => lines.push(format!("instance {name} removed")),
                InstanceChange::Restart(r) => lines.push(format!(
                    "instance {name} restarted ({})",
                    r.reasons.join(", ")
                )),
                InstanceChange::Update(aspects) => {
                    let what: Vec<String> = aspects
                        .iter()
                        .map(|a| format!("{a:?}").to_lowercase())
                        .collect();
                    lines.push(format!("instance {name} updated ({})", what.join(", ")));
                }
                InstanceChange::Unchanged if self.retrack.contains(name) => {
                    lines.push(format!("instance {name}: tracked definitions updated"));
                }
                InstanceChange::Unchanged | InstanceChange::Added => {}
            }
        }
        for (name, change) in &self.instances {
            if *change == InstanceChange::Added {
                lines.push(format!("instance {name} added"));
            }
        }
        if self.groups_changed {
            lines.push("sync groups updated".to_owned());
        }
        if lines.is_empty() {
            lines.push("no change to the running instances".to_owned());
        }
        lines
    }
}

/// Compares the running configuration with the new one.
pub fn plan(old: &Config, new: &Config) -> Plan {
    let names: BTreeSet<&String> = old.instances.keys().chain(new.instances.keys()).collect();
    let instances: Vec<(String, InstanceChange)> = names
        .into_iter()
        .map(|name| {
            let change = match (old.instances.get(name), new.instances.get(name)) {
                (Some(a), Some(b)) => compare(a, b),
                (Some(_), None) => InstanceChange::Removed,
                (None, Some(_)) => InstanceChange::Added,
                (None, None) => InstanceChange::Unchanged,
            };
            (name.clone(), change)
        })
        .collect();
    let mut needs_restart = Vec::new();
    let (g, h) = (&old.global, &new.global);
    if g.control_socket != h.control_socket || g.control_group != h.control_group {
        needs_restart.push("control_socket / control_group".to_owned());
    }
    if g.metrics_listen != h.metrics_listen {
        needs_restart.push("metrics_listen".to_owned());
    }
    if g.script_user != h.script_user || g.script_security != h.script_security {
        needs_restart.push("script_user / script_security".to_owned());
    }
    if old.etcd != new.etcd {
        needs_restart.push("[etcd]".to_owned());
    }
    let names = old.followers.keys().chain(new.followers.keys());
    let changed: BTreeSet<&String> = names
        .filter(|name| old.followers.get(*name) != new.followers.get(*name))
        .collect();
    for name in changed {
        needs_restart.push(format!("instance {name}: follow_patroni"));
    }
    // A lock held under the old settings must be released or kept exactly
    // as etcd knows it: only a restart hands it over cleanly.
    for (name, new_instance) in &new.instances {
        let old_lock = old.instances.get(name).and_then(|i| i.leadership.as_ref());
        if old_lock != new_instance.leadership.as_ref() {
            needs_restart.push(format!("instance {name}: leadership"));
        }
    }
    fn lock_of<'a>(config: &'a Config, name: &str) -> Option<&'a LeaseSettings> {
        config.sync_groups.get(name)?.leadership.as_ref()
    }
    let names: BTreeSet<&String> = old
        .sync_groups
        .keys()
        .chain(new.sync_groups.keys())
        .collect();
    for name in names {
        if lock_of(old, name) != lock_of(new, name) {
            needs_restart.push(format!("sync group {name}: leadership"));
        }
    }

    // One socket per interface and family joins the VRRP group only if a
    // multicast instance used it when it was opened; while any instance
    // uses it, it stays as it was.
    let unicast_only = |interface: &str, family| {
        let mut on_socket = old
            .instances
            .values()
            .filter(|i| i.interface == interface && i.family == family)
            .peekable();
        on_socket.peek().is_some() && on_socket.all(InstanceConfig::is_unicast)
    };
    let multicast_on_unicast_socket = new
        .instances
        .values()
        .filter(|i| !i.is_unicast() && unicast_only(&i.interface, i.family))
        .map(|i| (i.name.clone(), i.interface.clone()))
        .collect();

    let running = old.tracked_checks();
    let wanted = new.tracked_checks();
    let checks_stopped: BTreeSet<String> = running
        .iter()
        .filter(|(name, check)| !wanted.get(*name).is_some_and(|w| same_check(w, check)))
        .map(|(name, _)| name.clone())
        .collect();
    let checks_started: BTreeSet<String> = wanted
        .keys()
        .filter(|name| !running.contains_key(*name) || checks_stopped.contains(*name))
        .cloned()
        .collect();
    let poller_restarts = polled(old) != polled(new);
    // Redefined: what a tracker of it must forget (a restarted check's
    // runner, every file and process when the poller restarts).
    let mut redefined = checks_stopped.clone();
    if poller_restarts {
        redefined.extend(new.track_files.keys().cloned());
        redefined.extend(new.track_processes.keys().cloned());
    }
    let retrack = instances
        .iter()
        .filter(|(_, change)| *change == InstanceChange::Unchanged)
        .filter(|(name, _)| {
            new.instances
                .get(name)
                .is_some_and(|cfg| tracks_any(cfg, &redefined))
        })
        .map(|(name, _)| name.clone())
        .collect();
    Plan {
        instances,
        watchers_changed: !checks_stopped.is_empty()
            || !checks_started.is_empty()
            || poller_restarts,
        checks_stopped,
        checks_started,
        poller_restarts,
        retrack,
        groups_changed: old.sync_groups != new.sync_groups,
        needs_restart,
        multicast_on_unicast_socket,
    }
}

/// Two definitions of a check that run the same way (the default weight
/// only matters through the instances).
fn same_check(a: &Check, b: &Check) -> bool {
    Check {
        weight: 0,
        ..a.clone()
    } == Check {
        weight: 0,
        ..b.clone()
    }
}

/// What the tracked file and process poller watches, default weights aside.
fn polled(
    c: &Config,
) -> (
    Vec<(&String, &std::path::PathBuf)>,
    Vec<super::TrackProcess>,
) {
    let files = c.track_files.values().map(|f| (&f.name, &f.path)).collect();
    let processes = c
        .track_processes
        .values()
        .map(|p| super::TrackProcess {
            weight: 0,
            ..p.clone()
        })
        .collect();
    (files, processes)
}

/// Whether `cfg` tracks any of `names` (checks, files or processes).
fn tracks_any(cfg: &InstanceConfig, names: &BTreeSet<String>) -> bool {
    cfg.track_checks
        .iter()
        .map(|t| &t.name)
        .chain(cfg.track_files.iter().map(|t| &t.name))
        .chain(cfg.track_processes.iter().map(|t| &t.name))
        .any(|n| names.contains(n))
}

fn compare(a: &InstanceConfig, b: &InstanceConfig) -> InstanceChange {
    if a == b {
        return InstanceChange::Unchanged;
    }
    let mut reasons = Vec::new();
    if a.interface != b.interface {
        reasons.push(format!("interface {} -> {}", a.interface, b.interface));
    }
    if a.vrid != b.vrid {
        reasons.push(format!("vrid {} -> {}", a.vrid, b.vrid));
    }
    if a.family != b.family {
        reasons.push(format!("address family {} -> {}", a.family, b.family));
    }
    if a.version != b.version {
        reasons.push(format!(
            "VRRP version {} -> {}",
            a.version.number(),
            b.version.number()
        ));
    }
    // Multicast and unicast use different group memberships on the socket.
    if a.is_unicast() != b.is_unicast() {
        reasons.push("multicast <-> unicast".to_owned());
    }
    if !reasons.is_empty() {
        return InstanceChange::Restart(Restart { reasons });
    }
    let mut aspects = BTreeSet::new();
    let mut touch = |changed: bool, aspect: Aspect| {
        if changed {
            aspects.insert(aspect);
        }
    };
    touch(health_settings(a) != health_settings(b), Aspect::Health);
    touch(
        protocol_settings(a) != protocol_settings(b),
        Aspect::Protocol,
    );
    touch(a.virtual_ips != b.virtual_ips, Aspect::VirtualIps);
    touch(
        a.unicast_peers != b.unicast_peers || a.unicast_src_ip != b.unicast_src_ip,
        Aspect::Peers,
    );
    touch(
        a.garp_repeat != b.garp_repeat
            || a.garp_delay != b.garp_delay
            || a.garp_refresh != b.garp_refresh,
        Aspect::Announcements,
    );
    touch(
        a.hooks != b.hooks || a.hook_timeout != b.hook_timeout,
        Aspect::Hooks,
    );
    touch(a.sync_group != b.sync_group, Aspect::SyncGroup);
    InstanceChange::Update(aspects)
}

/// What the effective priority is computed from.
fn health_settings(i: &InstanceConfig) -> impl PartialEq + '_ {
    let tracked = (&i.track_checks, &i.track_interfaces);
    (i.priority, tracked, &i.track_files, &i.track_processes)
}

/// The protocol parameters an instance advertises and elects with.
fn protocol_settings(i: &InstanceConfig) -> impl PartialEq + '_ {
    let preemption = (i.preempt, i.fast_takeover, i.preempt_delay);
    (i.advert_interval, preemption, &i.auth_pass)
}
