//! Effective priority: configured priority adjusted by tracked checks,
//! interfaces, files and processes, with keepalived's semantics.
//!
//! - A check with a positive weight adds it while healthy; a negative weight is
//!   subtracted while failing; weight 0 means "failing puts the instance in Fault".
//!   Before its first result a check adds nothing, and a weight-0 one is a Fault.
//! - Tracked interfaces and processes work the same way, with up/down for
//!   healthy/failing.
//! - A tracked file holds an integer: value x weight is added (the value
//!   limited to -254..=254 first, the product to -254..=253). A product below
//!   -253 is a Fault, and so is any non-zero value with weight 0.
//! - The instance's own interface going down is always a Fault.
//! - The result is clamped to 1..=254; an address owner (255) is never adjusted,
//!   though a weight-0 failure still faults it.

use super::fault::Fault;
use std::fmt;

/// What the state machine needs to know about an instance's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Effective priority to advertise and compare (1..=255).
    pub priority: u8,
    /// `Some(reason)` while the instance must be in Fault.
    pub fault: Option<Fault>,
}

impl Health {
    /// Healthy at `priority`, no fault.
    pub fn up(priority: u8) -> Health {
        Health {
            priority,
            fault: None,
        }
    }
}

/// A check's state, driven by rise/fall counters.
///
/// As keepalived's scripts (without `init_fail`), a check starts with no
/// result: its weight counts for nothing yet (a weight-0 check holds the
/// instance in Fault), and its first result settles it at once whatever
/// `rise` and `fall` say. From then on they apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckTracker {
    /// The check's configured name, which results are reported under.
    pub name: String,
    /// Priority change: a positive weight counts while healthy, a negative one
    /// while failing; 0 means failing is a Fault.
    pub weight: i32,
    rise: u32,
    fall: u32,
    /// `None` until the first result.
    healthy: Option<bool>,
    /// Consecutive results that disagree with `healthy`.
    streak: u32,
}

impl CheckTracker {
    /// A check with no result yet; `rise` and `fall` below 1 count as 1.
    pub fn new(name: impl Into<String>, weight: i32, rise: u32, fall: u32) -> CheckTracker {
        CheckTracker {
            name: name.into(),
            weight,
            rise: rise.max(1),
            fall: fall.max(1),
            healthy: None,
            streak: 0,
        }
    }

    /// Starts the check as failing (keepalived's `init_fail`): `rise`
    /// successes are needed before it counts as healthy.
    pub fn starting_failed(mut self) -> CheckTracker {
        self.healthy = Some(false);
        self
    }

    /// Starts from the state `old` had (a reload keeps what checks told).
    pub fn carrying(mut self, old: &CheckTracker) -> CheckTracker {
        self.healthy = old.healthy;
        self
    }

    /// Healthy once a result said so; false while failing or not reported yet.
    pub fn healthy(&self) -> bool {
        self.healthy == Some(true)
    }

    /// Whether the check has reported at least once (or was carried over).
    pub fn reported(&self) -> bool {
        self.healthy.is_some()
    }

    /// Feeds one result; returns true when the check's health flipped (or
    /// was settled by its first result).
    pub fn record(&mut self, success: bool) -> bool {
        let Some(healthy) = self.healthy else {
            self.healthy = Some(success);
            self.streak = 0;
            return true;
        };
        if success == healthy {
            self.streak = 0;
            return false;
        }
        self.streak += 1;
        let needed = if healthy { self.fall } else { self.rise };
        if self.streak >= needed {
            self.healthy = Some(success);
            self.streak = 0;
            true
        } else {
            false
        }
    }

    /// What this check adds to the priority: a positive weight while
    /// healthy, a negative one while failing, nothing before a result.
    fn adjustment(&self) -> i32 {
        self.healthy.map_or(0, |h| adjustment(self.weight, h))
    }
}

/// A tracked interface, process or file with its weight and what was last
/// recorded of it: up or down (`bool`), or the integer a file held (`i64`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tracked<S> {
    name: String,
    weight: i32,
    state: S,
}

impl<S: Copy> Tracked<S> {
    fn new(name: impl Into<String>, weight: i32, state: S) -> Tracked<S> {
        Tracked {
            name: name.into(),
            weight,
            state,
        }
    }
}

/// Records `state` for every tracked object named `name`; whether there is one.
fn record<S: Copy>(tracked: &mut [Tracked<S>], name: &str, state: S) -> bool {
    let mut relevant = false;
    for t in tracked.iter_mut().filter(|t| t.name == name) {
        t.state = state;
        relevant = true;
    }
    relevant
}

/// The largest value read from a tracked file that counts; larger ones are
/// limited to it (either sign), as keepalived does.
pub const FILE_VALUE_LIMIT: i64 = 254;

/// Computes an instance's [`Health`] from everything it tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthTracker {
    base_priority: u8,
    interface: String,
    interface_up: bool,
    checks: Vec<CheckTracker>,
    interfaces: Vec<Tracked<bool>>,
    files: Vec<Tracked<i64>>,
    /// Up while enough matching processes run.
    processes: Vec<Tracked<bool>>,
}

impl HealthTracker {
    /// Tracks nothing but its own `interface`, assumed up until told otherwise.
    pub fn new(base_priority: u8, interface: impl Into<String>) -> HealthTracker {
        HealthTracker {
            base_priority,
            interface: interface.into(),
            interface_up: true,
            checks: Vec::new(),
            interfaces: Vec::new(),
            files: Vec::new(),
            processes: Vec::new(),
        }
    }

    /// Tracks another check.
    pub fn with_check(mut self, check: CheckTracker) -> HealthTracker {
        self.checks.push(check);
        self
    }

    /// Tracks another interface; interfaces are assumed up until told otherwise.
    pub fn with_interface(mut self, name: impl Into<String>, weight: i32) -> HealthTracker {
        self.interfaces.push(Tracked::new(name, weight, true));
        self
    }

    /// Tracks a file; its value is 0 (no effect) until told otherwise.
    pub fn with_file(mut self, name: impl Into<String>, weight: i32) -> HealthTracker {
        self.files.push(Tracked::new(name, weight, 0));
        self
    }

    /// Tracks a process; it is assumed up until told otherwise.
    pub fn with_process(mut self, name: impl Into<String>, weight: i32) -> HealthTracker {
        self.processes.push(Tracked::new(name, weight, true));
        self
    }

    /// The configured priority, before any adjustment.
    pub fn base_priority(&self) -> u8 {
        self.base_priority
    }

    /// Changes the configured priority (a reload); tracked state stays.
    pub fn set_base_priority(&mut self, priority: u8) {
        self.base_priority = priority;
    }

    /// The tracked checks, in the order added.
    pub fn checks(&self) -> &[CheckTracker] {
        &self.checks
    }

    /// The last known state of a link this tracker follows (its own
    /// interface or a tracked one).
    pub fn link_state(&self, name: &str) -> Option<bool> {
        if name == self.interface {
            return Some(self.interface_up);
        }
        self.interfaces
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.state)
    }

    /// Feeds a result of the named check; returns true if health may have changed.
    pub fn check_result(&mut self, name: &str, success: bool) -> bool {
        let mut changed = false;
        for check in self.checks.iter_mut().filter(|c| c.name == name) {
            changed |= check.record(success);
        }
        changed
    }

    /// Records a link state; returns true if this tracker cares about `name`.
    pub fn link(&mut self, name: &str, up: bool) -> bool {
        let own = name == self.interface;
        if own {
            self.interface_up = up;
        }
        let tracked = record(&mut self.interfaces, name, up);
        own || tracked
    }

    /// Records the value read from the named tracked file; returns true if
    /// this tracker tracks it.
    pub fn file_value(&mut self, name: &str, value: i64) -> bool {
        record(&mut self.files, name, value)
    }

    /// Records whether the named tracked process is up (its quorum met);
    /// returns true if this tracker tracks it.
    pub fn process_up(&mut self, name: &str, up: bool) -> bool {
        record(&mut self.processes, name, up)
    }

    /// The effective priority and fault reason from everything tracked now.
    pub fn health(&self) -> Health {
        Health {
            priority: self.effective_priority(),
            fault: self.fault_reason(),
        }
    }

    fn fault_reason(&self) -> Option<Fault> {
        if !self.interface_up {
            return Some(Fault::InterfaceDown {
                interface: self.interface.clone(),
            });
        }
        if let Some(i) = self.interfaces.iter().find(|i| i.weight == 0 && !i.state) {
            return Some(Fault::TrackedInterfaceDown {
                interface: i.name.clone(),
            });
        }
        if let Some(c) = self.checks.iter().find(|c| c.weight == 0 && !c.healthy()) {
            let check = c.name.clone();
            return Some(if c.reported() {
                Fault::CheckFailing { check }
            } else {
                Fault::CheckPending { check }
            });
        }
        if let Some(f) = self
            .files
            .iter()
            .find(|f| file_adjustment(f.weight, f.state).is_none())
        {
            return Some(Fault::TrackedFile {
                file: f.name.clone(),
                value: f.state,
                weight: f.weight,
            });
        }
        if let Some(p) = self.processes.iter().find(|p| p.weight == 0 && !p.state) {
            return Some(Fault::ProcessDown {
                process: p.name.clone(),
            });
        }
        None
    }

    fn effective_priority(&self) -> u8 {
        if self.base_priority == 255 {
            return 255;
        }
        let from_checks = self.checks.iter().map(CheckTracker::adjustment);
        let from_links = self
            .interfaces
            .iter()
            .map(|i| adjustment(i.weight, i.state));
        let from_files = self
            .files
            .iter()
            .map(|f| file_adjustment(f.weight, f.state).unwrap_or(0));
        let from_processes = self.processes.iter().map(|p| adjustment(p.weight, p.state));
        let sum: i32 = from_checks
            .chain(from_links)
            .chain(from_files)
            .chain(from_processes)
            .sum();
        (i32::from(self.base_priority) + sum).clamp(1, 254) as u8
    }

    /// Human-readable list of what currently moves the priority, for status output.
    pub fn adjustments(&self) -> Vec<Adjustment> {
        let checks = self
            .checks
            .iter()
            .map(|c| (format!("check {}", c.name), c.adjustment()));
        let links = self.interfaces.iter().map(|i| {
            (
                format!("interface {}", i.name),
                adjustment(i.weight, i.state),
            )
        });
        let files = self.files.iter().map(|f| {
            let delta = file_adjustment(f.weight, f.state).unwrap_or(0);
            (format!("file {}", f.name), delta)
        });
        let processes = self
            .processes
            .iter()
            .map(|p| (format!("process {}", p.name), adjustment(p.weight, p.state)));
        checks
            .chain(links)
            .chain(files)
            .chain(processes)
            .filter(|(_, delta)| *delta != 0)
            .map(|(what, delta)| Adjustment { what, delta })
            .collect()
    }
}

/// keepalived's rule for a tracked file: `None` means Fault. With weight 0
/// any non-zero value is a Fault; otherwise the value (limited to
/// -254..=254) times the weight, limited to -254..=253, where -254 (a product
/// below -253) is a Fault.
fn file_adjustment(weight: i32, value: i64) -> Option<i32> {
    let value = value.clamp(-FILE_VALUE_LIMIT, FILE_VALUE_LIMIT) as i32;
    if weight == 0 {
        return (value == 0).then_some(0);
    }
    let delta = value.saturating_mul(weight).clamp(-254, 253);
    (delta >= -253).then_some(delta)
}

/// keepalived's rule: positive weights count while healthy, negative while failing.
fn adjustment(weight: i32, healthy: bool) -> i32 {
    match (weight.signum(), healthy) {
        (1, true) | (-1, false) => weight,
        _ => 0,
    }
}

/// One tracked object currently moving the effective priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// The tracked object, e.g. `check web` or `interface eth1`.
    pub what: String,
    /// What it adds to the priority (negative: subtracts).
    pub delta: i32,
}

impl fmt::Display for Adjustment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:+}", self.what, self.delta)
    }
}
