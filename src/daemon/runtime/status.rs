//! The snapshot `vipd status` and the metrics show, built from the protocol
//! loop's own state so it is always consistent with the state machine.

use std::time::UNIX_EPOCH;

use super::{Daemon, InstanceEdge, control};
use crate::daemon::control::InstanceStatus;
use crate::protocol::follow::RestAnswer;
use crate::protocol::leadership::Standing;
use crate::protocol::{GroupId, InstanceId, Leadership, State, Time};

impl Daemon {
    /// The snapshot `vipd status` shows.
    pub(super) fn status(&self) -> control::Status {
        let now = self.now();
        let instances = self
            .instances
            .iter()
            .map(|(id, edge)| self.instance_status(id, edge, now))
            .chain(self.followers.iter().map(follower_status))
            .collect();
        let sync_groups = self
            .node
            .groups()
            .iter()
            .enumerate()
            .map(|(g, group)| control::GroupStatus {
                name: group.name.clone(),
                state: self.node.group_state(GroupId(g)).to_string(),
                instances: group
                    .members
                    .iter()
                    .map(|&m| self.instances[m].name.clone())
                    .collect(),
                leadership: self
                    .node
                    .group_lock(GroupId(g))
                    .map(|lock| leadership_status(lock, now)),
            })
            .collect();
        let checks = self
            .watchers
            .counters
            .iter()
            .map(|(name, c)| control::CheckStatus {
                name: name.clone(),
                healthy: self
                    .instances
                    .values()
                    .flat_map(|s| s.tracker.checks())
                    .find(|t| t.name == *name)
                    .is_none_or(|t| t.healthy()),
                runs: c.runs,
                failures: c.failures,
                timeouts: c.timeouts,
                last_failure: c.last_failure.as_ref().map(control::RunFailure::from),
            })
            .collect();
        control::Status {
            node: self
                .running
                .config
                .global
                .node_name
                .clone()
                .unwrap_or_default(),
            checks,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            uptime_seconds: self.clock.uptime().as_secs_f64(),
            instances,
            sync_groups,
            invalid_packets: self.invalid.by_label(),
            tracked_files: self.watchers.latest.files(),
            tracked_processes: self.watchers.latest.processes(),
            etcd: self.etcd.as_ref().map(|etcd| {
                use std::sync::atomic::Ordering::Relaxed;
                let h = &etcd.health;
                control::EtcdStatus {
                    endpoints: etcd.endpoints.clone(),
                    connected: h.connected.load(Relaxed),
                    leader_known: h.leader.load(Relaxed) != 0,
                    seconds_since_success: h
                        .last_success
                        .lock()
                        .ok()
                        .and_then(|last| *last)
                        .and_then(|t| t.elapsed().ok())
                        .map(|d| d.as_secs_f64()),
                    requests: h.requests.load(Relaxed),
                    failures: h.failures.load(Relaxed),
                }
            }),
        }
    }

    fn instance_status(&self, id: InstanceId, edge: &InstanceEdge, now: Time) -> InstanceStatus {
        use std::sync::atomic::Ordering::Relaxed;
        let instance = self.node.instance(id);
        let (c, h, v) = (&edge.counters, &edge.hooks.stats, &edge.vip_stats);
        InstanceStatus {
            name: edge.name.clone(),
            interface: edge.cfg.interface.clone(),
            vrid: edge.cfg.vrid,
            version: edge.cfg.version.number(),
            state: instance.state().to_string(),
            priority: control::PriorityStatus {
                configured: edge.cfg.priority,
                effective: instance.priority(),
                adjustments: edge
                    .tracker
                    .adjustments()
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            },
            fault: instance.fault_reason().map(ToString::to_string),
            // A master hears itself; what it heard as a backup is history.
            master: instance
                .heard_master()
                .filter(|_| instance.state() != State::Master)
                .map(|m| control::MasterStatus {
                    address: m.address.to_string(),
                    priority: m.priority,
                    interval_ms: m.interval.as_duration().as_millis() as u64,
                    seconds_since_heard: (now - m.at).as_secs_f64(),
                }),
            vips: edge
                .cfg
                .virtual_ips
                .iter()
                .map(ToString::to_string)
                .collect(),
            holds_vips: instance.state() == State::Master,
            last_transition: edge.last_transition.as_ref().map(transition_status),
            counters: control::Counters {
                adverts_sent: c.adverts_sent,
                adverts_received: c.adverts_received,
                advert_send_errors: c.send_errors,
                adverts_dropped: c
                    .dropped
                    .iter()
                    .map(|(k, v)| (k.label().to_owned(), *v))
                    .collect(),
                transitions: c.transitions,
                transitions_to: c
                    .transitions_to
                    .iter()
                    .map(|(k, v)| (k.keepalived_name().to_owned(), *v))
                    .collect(),
                split_brain_events: c.lower_priority_masters,
                vip_restores: c.vip_restores,
                announcements: v.announcements.load(Relaxed),
                announce_errors: v.announce_errors.load(Relaxed),
                vip_errors: v.netlink_errors.load(Relaxed),
                hook_runs: h.runs.load(Relaxed),
                hook_failures: h.failures.load(Relaxed),
                hook_timeouts: h.timeouts.load(Relaxed),
                hooks_skipped: h.skipped.load(Relaxed),
            },
            last_hook_failure: h.last_failure().as_ref().map(control::RunFailure::from),
            follow_patroni: None,
            // A member of a locked sync group shows its group's lock.
            leadership: instance
                .leadership()
                .or_else(|| {
                    let group = self.node.group_of(id)?;
                    self.node.group_lock(group)
                })
                .map(|lock| leadership_status(lock, now)),
        }
    }
}

/// An instance's or sync group's etcd lock as status shows it.
fn leadership_status(lock: &Leadership, now: Time) -> control::LeadershipStatus {
    let settings = lock.settings();
    control::LeadershipStatus {
        key: settings.key.clone(),
        ttl_seconds: settings.ttl.as_secs(),
        on_etcd_loss: settings.on_etcd_loss.as_str().to_owned(),
        standing: match lock.standing() {
            Standing::Free => "free",
            Standing::Asking => "asking",
            Standing::Held { .. } => "held",
            Standing::Kept { .. } => "kept",
        }
        .to_owned(),
        holder: lock.holder().map(str::to_owned),
        seconds_left: lock.deadline().map(|d| (d - now).as_secs_f64()),
    }
}

/// A `follow_patroni` instance as `vipd status` shows it.
fn follower_status(edge: &super::follow::FollowerEdge) -> InstanceStatus {
    use std::sync::atomic::Ordering::Relaxed;
    let f = &edge.follower;
    let (h, v) = (&edge.hooks.stats, &edge.vip_stats);
    InstanceStatus {
        name: edge.name.clone(),
        interface: edge.cfg.interface.clone(),
        vrid: 0,
        version: 0,
        state: f.state().to_string(),
        priority: control::PriorityStatus {
            configured: 0,
            effective: 0,
            adjustments: Vec::new(),
        },
        fault: None,
        master: None,
        vips: edge
            .cfg
            .virtual_ips
            .iter()
            .map(ToString::to_string)
            .collect(),
        holds_vips: f.state() == State::Master,
        last_transition: edge.last_transition.as_ref().map(transition_status),
        counters: control::Counters {
            transitions: edge.transitions,
            transitions_to: edge
                .transitions_to
                .iter()
                .map(|(k, v)| (k.keepalived_name().to_owned(), *v))
                .collect(),
            announcements: v.announcements.load(Relaxed),
            announce_errors: v.announce_errors.load(Relaxed),
            vip_errors: v.netlink_errors.load(Relaxed),
            hook_runs: h.runs.load(Relaxed),
            hook_failures: h.failures.load(Relaxed),
            hook_timeouts: h.timeouts.load(Relaxed),
            hooks_skipped: h.skipped.load(Relaxed),
            ..control::Counters::default()
        },
        last_hook_failure: h.last_failure().as_ref().map(control::RunFailure::from),
        leadership: None,
        follow_patroni: Some(control::FollowStatus {
            leader_key: edge.cfg.leader_key.clone(),
            member: edge.cfg.member.clone(),
            leader: f.leader().flatten().map(str::to_owned),
            etcd_reachable: f.etcd_up(),
            rest: f.rest().map(|r| {
                match r {
                    RestAnswer::Primary => "primary",
                    RestAnswer::NotPrimary => "not_primary",
                    RestAnswer::Silent => "silent",
                }
                .to_owned()
            }),
        }),
    }
}

/// The last transition as status shows it.
fn transition_status(
    (wall, at, t): &(
        std::time::SystemTime,
        tokio::time::Instant,
        crate::protocol::Transition,
    ),
) -> control::TransitionStatus {
    control::TransitionStatus {
        from: t.from.to_string(),
        to: t.to.to_string(),
        reason: t.reason.to_string(),
        unix_time: wall
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        seconds_ago: at.elapsed().as_secs_f64(),
    }
}
