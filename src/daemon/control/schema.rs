//! The status document `vipd status --json` prints and `/metrics` renders:
//! a stable schema (fields are only ever added).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `vipd status --json`: a stable document (fields are only ever added).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub node: String,
    pub version: String,
    pub pid: u32,
    pub uptime_seconds: f64,
    pub instances: Vec<InstanceStatus>,
    pub sync_groups: Vec<GroupStatus>,
    pub checks: Vec<CheckStatus>,
    /// Packets that could not be attributed to an instance, by reason.
    pub invalid_packets: BTreeMap<String, u64>,
    /// Tracked files some instance tracks, with the value last read.
    #[serde(default)]
    pub tracked_files: Vec<TrackedFileStatus>,
    /// Tracked processes some instance tracks.
    #[serde(default)]
    pub tracked_processes: Vec<TrackedProcessStatus>,
    /// The node's etcd client, when leadership is kept in etcd.
    #[serde(default)]
    pub etcd: Option<EtcdStatus>,
}

/// The etcd client's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtcdStatus {
    pub endpoints: Vec<String>,
    /// The last request was answered.
    pub connected: bool,
    /// The last status probe named a leader.
    pub leader_known: bool,
    /// Seconds since a request was last answered (none yet: `None`).
    pub seconds_since_success: Option<f64>,
    pub requests: u64,
    pub failures: u64,
}

/// An instance's (or sync group's) etcd lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadershipStatus {
    pub key: String,
    pub ttl_seconds: u64,
    /// `step_down` or `keep`.
    pub on_etcd_loss: String,
    /// `held`, `asking`, `free`, or `kept` (held through an etcd outage).
    pub standing: String,
    /// Another node holding the key, as last learnt.
    pub holder: Option<String>,
    /// While held: seconds before the master must step down unless renewed.
    pub seconds_left: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub version: u8,
    pub state: String,
    pub priority: PriorityStatus,
    pub fault: Option<String>,
    /// The master most recently heard (none while we are master and unchallenged).
    pub master: Option<MasterStatus>,
    pub vips: Vec<String>,
    pub holds_vips: bool,
    pub last_transition: Option<TransitionStatus>,
    pub counters: Counters,
    /// The latest hook run that failed or timed out.
    #[serde(default)]
    pub last_hook_failure: Option<RunFailure>,
    /// The etcd lock this instance needs to be master, if any.
    #[serde(default)]
    pub leadership: Option<LeadershipStatus>,
    /// For a `follow_patroni` instance (no VRRP: `vrid` and `version` are 0).
    #[serde(default)]
    pub follow_patroni: Option<FollowStatus>,
}

/// What a `follow_patroni` instance knows of Patroni.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowStatus {
    pub leader_key: String,
    pub member: String,
    /// The leader key's value as last read (`None`: no leader, or not read yet).
    pub leader: Option<String>,
    pub etcd_reachable: bool,
    /// The REST API's last answer to `GET /primary`: `primary`,
    /// `not_primary` or `silent`; `None` before the first, or without `rest_url`.
    pub rest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorityStatus {
    pub configured: u8,
    pub effective: u8,
    /// What moves the effective priority, e.g. "check pg_alive -30".
    pub adjustments: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterStatus {
    pub address: String,
    pub priority: u8,
    pub interval_ms: u64,
    pub seconds_since_heard: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionStatus {
    pub from: String,
    pub to: String,
    pub reason: String,
    /// Wall-clock time of the transition, seconds since the Unix epoch.
    pub unix_time: f64,
    pub seconds_ago: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub advert_send_errors: u64,
    /// Adverts dropped by this instance, by reason.
    pub adverts_dropped: BTreeMap<String, u64>,
    pub transitions: u64,
    /// Transitions by the state entered.
    pub transitions_to: BTreeMap<String, u64>,
    /// Times we were master and heard another, lower-priority master.
    pub split_brain_events: u64,
    pub vip_restores: u64,
    pub announcements: u64,
    pub announce_errors: u64,
    /// Virtual addresses that could not be added or removed.
    pub vip_errors: u64,
    pub hook_runs: u64,
    pub hook_failures: u64,
    pub hook_timeouts: u64,
    pub hooks_skipped: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckStatus {
    pub name: String,
    /// After rise/fall: what the tracking instances act on.
    pub healthy: bool,
    pub runs: u64,
    pub failures: u64,
    pub timeouts: u64,
    /// The latest run that failed or timed out.
    #[serde(default)]
    pub last_failure: Option<RunFailure>,
}

/// A check or hook run that failed, with the end of what it printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    pub command: String,
    /// In words: "exited with status 1", "timed out after 2s; ...".
    pub outcome: String,
    /// Wall-clock time it ended, seconds since the Unix epoch.
    pub unix_time: f64,
    /// Its last lines of stdout and stderr (a bounded tail).
    pub output: Vec<String>,
    /// How much it printed in all.
    pub output_bytes: u64,
}

impl From<&crate::daemon::process::FailedRun> for RunFailure {
    fn from(run: &crate::daemon::process::FailedRun) -> RunFailure {
        RunFailure {
            command: run.command.clone(),
            outcome: run.outcome.to_string(),
            unix_time: run
                .at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            output: run.output.lines.clone(),
            output_bytes: run.output.bytes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedFileStatus {
    pub name: String,
    pub path: String,
    pub value: i64,
    /// Why the value counts as 0 (missing, unreadable, not an integer), if so.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedProcessStatus {
    pub name: String,
    /// Quorum met (after `delay`).
    pub up: bool,
    /// Matching processes at the last scan.
    pub running: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStatus {
    pub name: String,
    pub state: String,
    pub instances: Vec<String>,
    /// The group's etcd lock, if it needs one.
    #[serde(default)]
    pub leadership: Option<LeadershipStatus>,
}
