//! What a configuration reload must do, decided without touching anything.
//!
//! vipd's reload contract: instances whose settings did not change keep their
//! state, timers and VIPs (no transition, no hook, no extra advert); changed
//! instances are updated in place where RFC 9568 allows it and restarted only
//! where they must be (another VRID, interface, address family or VRRP
//! version is another virtual router); removed instances resign and drop their
//! VIPs; added ones start in Backup. The daemon carries the plan out.

use std::collections::BTreeSet;

use super::{Config, InstanceConfig};

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
    pub watchers_changed: bool,
    /// Global settings that only take effect at the next start.
    pub needs_restart: Vec<String>,
}

impl Plan {
    /// True when the reload changes nothing anywhere.
    pub fn is_noop(&self) -> bool {
        !self.watchers_changed
            && self.needs_restart.is_empty()
            && self
                .instances
                .iter()
                .all(|(_, c)| *c == InstanceChange::Unchanged)
    }
}

/// Compares the running configuration with the new one.
pub fn plan(old: &Config, new: &Config) -> Plan {
    let names: BTreeSet<&String> = old.instances.keys().chain(new.instances.keys()).collect();
    let instances = names
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
    Plan {
        instances,
        watchers_changed: old.checks != new.checks
            || old.track_files != new.track_files
            || old.track_processes != new.track_processes,
        needs_restart,
    }
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
    touch(
        a.priority != b.priority
            || a.track_checks != b.track_checks
            || a.track_interfaces != b.track_interfaces
            || a.track_files != b.track_files
            || a.track_processes != b.track_processes,
        Aspect::Health,
    );
    touch(
        a.advert_interval != b.advert_interval
            || a.preempt != b.preempt
            || a.preempt_delay != b.preempt_delay
            || a.auth_pass != b.auth_pass,
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
