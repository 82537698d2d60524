//! The checks and the tracked file and process poller: what runs beside the
//! loop and reports health into it, and what the loop remembers of their
//! results for `vipd status`.

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Input, forward, on_workers};
use crate::config::reload::Plan;
use crate::config::{self, Config};
use crate::daemon::checks::{self, CheckResult};
use crate::daemon::poller::{self, Poller, TrackedUpdate};
use crate::daemon::process::{FailedRun, RunAs};

/// What a check has done so far.
#[derive(Debug, Default, Clone)]
pub(super) struct CheckCounters {
    pub runs: u64,
    pub failures: u64,
    pub timeouts: u64,
    pub last_failure: Option<FailedRun>,
}

pub(super) struct Watchers {
    /// Running checks by name, with the definition they run.
    running: BTreeMap<String, (config::Check, JoinHandle<()>)>,
    check_tx: mpsc::UnboundedSender<CheckResult>,
    /// Forwards the poller thread's updates; aborting it stops the thread.
    poller_task: JoinHandle<()>,
    run_as: RunAs,
    /// Where the checks run, away from the protocol loop.
    workers: tokio::runtime::Handle,
    /// Each check's counters, by name.
    pub counters: BTreeMap<String, CheckCounters>,
    /// The latest reading of every tracked file and process.
    pub latest: poller::Latest,
}

impl Watchers {
    /// Starts the checks `config`'s instances track and the poller, whose
    /// first reading (`first`) was taken already.
    pub(super) fn start(
        config: &Config,
        run_as: RunAs,
        input_tx: &mpsc::UnboundedSender<Input>,
        poller: Poller,
        first: &[TrackedUpdate],
        workers: tokio::runtime::Handle,
    ) -> Result<(Watchers, JoinHandle<()>), String> {
        let (check_tx, check_rx) = mpsc::unbounded_channel();
        let forwarder = forward(check_rx, input_tx.clone(), Input::Check);
        let mut watchers = Watchers {
            running: BTreeMap::new(),
            check_tx,
            poller_task: start_poller(poller, input_tx)?,
            run_as,
            workers,
            counters: BTreeMap::new(),
            latest: poller::Latest::default(),
        };
        for update in first {
            tracing::info!("{}", update.describe());
            watchers.latest.record(update);
        }
        for (name, check) in config.tracked_checks() {
            watchers.start_check(name, check);
        }
        Ok((watchers, forwarder))
    }

    fn start_check(&mut self, name: String, check: config::Check) {
        let (run_as, results) = (self.run_as, self.check_tx.clone());
        let task = on_workers(&self.workers, || checks::spawn(&check, run_as, results));
        self.running.insert(name, (check, task));
    }

    /// Stops and starts checks as the reload plan says, and swaps in the
    /// new poller (already started) with its first reading.
    pub(super) fn follow(
        &mut self,
        plan: &Plan,
        new: &Config,
        poller: Option<(JoinHandle<()>, Vec<TrackedUpdate>)>,
    ) {
        for name in &plan.checks_stopped {
            if let Some((_, task)) = self.running.remove(name) {
                task.abort();
            }
        }
        for name in &plan.checks_started {
            self.start_check(name.clone(), new.checks[name].clone());
        }
        if let Some((task, first)) = poller {
            std::mem::replace(&mut self.poller_task, task).abort();
            for update in &first {
                self.latest.record(update);
            }
        }
    }

    /// Counts a check's run.
    pub(super) fn record(&mut self, result: &CheckResult) {
        let counters = self.counters.entry(result.name.clone()).or_default();
        counters.runs += 1;
        counters.failures += u64::from(!result.outcome.success());
        counters.timeouts += u64::from(result.outcome.timed_out());
        if result.failure.is_some() {
            counters.last_failure = result.failure.clone();
        }
    }

    pub(super) fn stop(&mut self) {
        for (_, task) in self.running.values() {
            task.abort();
        }
        self.poller_task.abort();
    }
}

/// Starts the tracked file and process thread and the task forwarding its
/// updates into the loop (aborting that task stops the thread).
pub(super) fn start_poller(
    poller: Poller,
    input_tx: &mpsc::UnboundedSender<Input>,
) -> Result<JoinHandle<()>, String> {
    let (tracked_tx, tracked_rx) = mpsc::unbounded_channel();
    let task = forward(tracked_rx, input_tx.clone(), Input::Tracked);
    poller::spawn(poller, tracked_tx)
        .map_err(|e| format!("cannot start the tracked file and process thread: {e}"))?;
    Ok(task)
}
