//! Notify hooks with keepalived's conventions.
//!
//! notify_master / notify_backup / notify_fault / notify_stop run as written;
//! the generic `notify` gets `INSTANCE|GROUP NAME STATE PRIORITY` appended.
//! Hooks of one instance (or group) run one at a time in transition order; if
//! transitions pile up while a hook runs, only the latest state's hooks run next
//! and the skipped ones are logged. A hanging hook is killed at its timeout and
//! never holds up the protocol loop or another instance.
//!
//! A hook's stdout and stderr are logged as they come, each line prefixed
//! with the instance (or group) and the hook, at most 20 lines per run; a
//! failed run's last lines are also kept for `vipd status`.
//!
//! At shutdown ([`HookQueue::begin_stop`]) every hook gets a stop grace: one
//! running then is killed with its process group when the grace runs out
//! (or at its own timeout, if sooner), and the hooks that still follow
//! (`notify_stop`, `notify ... STOP`) each get at most the same grace.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::process::{self, FailedRun, RunAs, StopSignal, Stopper};
use crate::config::Hooks;
use crate::protocol::State;

/// How many lines of each hook run's output are logged (as they come).
const LOGGED_LINES: usize = 20;

/// Whether the hooks belong to an instance or a sync group (keepalived's `$1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Instance,
    Group,
}

impl Owner {
    fn word(self) -> &'static str {
        match self {
            Owner::Instance => "INSTANCE",
            Owner::Group => "GROUP",
        }
    }

    /// The owner's name as a log field: `instance` or `sync_group`, the
    /// other one left out.
    fn fields(self, name: &str) -> (Option<&str>, Option<&str>) {
        match self {
            Owner::Instance => (Some(name), None),
            Owner::Group => (None, Some(name)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub from: State,
    pub to: State,
    pub priority: u8,
}

#[derive(Debug, Default)]
pub struct HookStats {
    pub runs: AtomicU64,
    pub failures: AtomicU64,
    pub timeouts: AtomicU64,
    pub skipped: AtomicU64,
    /// The latest run that failed or timed out, with the end of its output.
    pub last_failure: Mutex<Option<FailedRun>>,
}

impl HookStats {
    pub fn last_failure(&self) -> Option<FailedRun> {
        self.last_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A serial hook queue for one instance or group.
/// Something to do once the hooks queued before it have run (or were
/// skipped): a lock released only after the step-down hook fenced.
#[derive(Clone)]
pub struct Afterwards(pub Arc<dyn Fn() + Send + Sync>);

impl Afterwards {
    /// Splits `then` into `parts` (each queued behind other work): it runs
    /// once every part has, so a group's lock goes only after every
    /// member's addresses and hooks, and the group's own hooks.
    pub fn after_all(then: Afterwards, parts: usize) -> Vec<Afterwards> {
        let left = Arc::new(std::sync::atomic::AtomicUsize::new(parts));
        (0..parts)
            .map(|_| {
                let (left, then) = (left.clone(), then.clone());
                Afterwards(Arc::new(move || {
                    if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                        (then.0)();
                    }
                }))
            })
            .collect()
    }
}

impl std::fmt::Debug for Afterwards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Afterwards")
    }
}

/// Does `then` once the hooks queued on `queue` before it have run, or at
/// once if there is no queue (or it has stopped).
pub fn then_after(queue: Option<&mpsc::UnboundedSender<Queued>>, then: Afterwards) {
    let direct = then.clone();
    let queued = queue.is_some_and(|tx| tx.send(Queued::Then(then)).is_ok());
    if !queued {
        (direct.0)();
    }
}

/// What a hook queue takes, in order.
#[derive(Debug, Clone)]
pub enum Queued {
    /// Run the hooks of a transition.
    Run(Job),
    /// Then do this.
    Then(Afterwards),
}

pub struct HookQueue {
    tx: Option<mpsc::UnboundedSender<Queued>>,
    task: Option<JoinHandle<()>>,
    stopper: Stopper,
    pub stats: Arc<HookStats>,
}

struct Runner {
    owner: Owner,
    name: String,
    hooks: Hooks,
    vips: String,
    timeout: Duration,
    run_as: RunAs,
    stop: StopSignal,
    stats: Arc<HookStats>,
}

impl HookQueue {
    pub fn spawn(
        owner: Owner,
        name: &str,
        hooks: Hooks,
        vips: String,
        timeout: Duration,
        run_as: RunAs,
    ) -> HookQueue {
        let stats = Arc::new(HookStats::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let (stopper, stop) = process::stop_signal();
        let runner = Runner {
            owner,
            name: name.to_owned(),
            hooks,
            vips,
            timeout,
            run_as,
            stop,
            stats: stats.clone(),
        };
        let task = tokio::spawn(runner.serve(rx));
        HookQueue {
            tx: Some(tx),
            task: Some(task),
            stopper,
            stats,
        }
    }

    /// A queue that runs nothing (what a removed instance leaves behind).
    pub fn idle() -> HookQueue {
        HookQueue {
            tx: None,
            task: None,
            stopper: process::stop_signal().0,
            stats: Arc::new(HookStats::default()),
        }
    }

    /// A sender for jobs, for a worker that must order hooks after its own work.
    pub fn sender(&self) -> Option<mpsc::UnboundedSender<Queued>> {
        self.tx.clone()
    }

    pub fn push(&self, job: Job) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Queued::Run(job));
        }
    }

    /// Does `then` once the hooks queued before it have run.
    pub fn then(&self, then: Afterwards) {
        then_after(self.tx.as_ref(), then);
    }

    /// Shutdown has begun: the hook running now, and each one after it, gets
    /// at most `grace` (see the module documentation).
    pub fn begin_stop(&self, grace: Duration) {
        self.stopper.stop(grace);
    }

    /// Lets queued hooks finish (each bounded by its timeout, and by the
    /// stop grace after [`HookQueue::begin_stop`]), then stops.
    pub async fn finish(&mut self) {
        self.tx = None;
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Runner {
    async fn serve(mut self, mut rx: mpsc::UnboundedReceiver<Queued>) {
        let mut backlog = std::collections::VecDeque::new();
        loop {
            if backlog.is_empty() {
                match rx.recv().await {
                    Some(queued) => backlog.push_back(queued),
                    None => break,
                }
            }
            while let Ok(queued) = rx.try_recv() {
                backlog.push_back(queued);
            }
            let mut job = match backlog.pop_front() {
                Some(Queued::Run(job)) => job,
                Some(Queued::Then(Afterwards(then))) => {
                    then();
                    continue;
                }
                None => continue,
            };
            // Collapse a backlog to its latest state (up to the next
            // afterwards): the shipped scripts are idempotent, and running
            // stale states would only flap the services.
            while let Some(Queued::Run(newer)) = backlog.front() {
                let newer = newer.clone();
                backlog.pop_front();
                self.skip(&job, "superseded", &format!("superseded by {}", newer.to));
                self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                job = Job {
                    from: job.from,
                    ..newer
                };
            }
            // Once shutdown has begun only the STOP hooks are worth running.
            if self.stop.has_begun() && job.to != State::Stopped {
                self.skip(&job, "shutting_down", "shutting down");
                self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.run(&job).await;
        }
    }

    /// Logs that `job`'s hooks are skipped, `reason` as a field and `why`
    /// in words.
    fn skip(&self, job: &Job, reason: &str, why: &str) {
        let (instance, sync_group) = self.owner.fields(&self.name);
        tracing::info!(
            event = "hooks_skipped",
            instance,
            sync_group,
            from = %job.from,
            to = %job.to,
            reason,
            "{} {}: skipping hooks for {} -> {}: {why}",
            self.owner.word().to_lowercase(),
            self.name,
            job.from,
            job.to
        );
    }

    async fn run(&mut self, job: &Job) {
        let specific = match job.to {
            State::Master => self.hooks.master.as_ref(),
            State::Backup => self.hooks.backup.as_ref(),
            State::Fault => self.hooks.fault.as_ref(),
            State::Stopped => self.hooks.stop.as_ref(),
            State::Initialize => None,
        };
        let env = BTreeMap::from([
            ("VIPD_INSTANCE", self.name.clone()),
            ("VIPD_STATE", job.to.keepalived_name().to_owned()),
            ("VIPD_PREV_STATE", job.from.keepalived_name().to_owned()),
            ("VIPD_PRIORITY", job.priority.to_string()),
            ("VIPD_VIPS", self.vips.clone()),
        ]);
        if let Some(argv) = specific {
            self.run_one(argv.as_slice().to_vec(), &env).await;
        }
        if let Some(argv) = &self.hooks.notify {
            let mut argv = argv.as_slice().to_vec();
            argv.extend([
                self.owner.word().to_owned(),
                self.name.clone(),
                job.to.keepalived_name().to_owned(),
                job.priority.to_string(),
            ]);
            self.run_one(argv, &env).await;
        }
    }

    async fn run_one(&mut self, argv: Vec<String>, env: &BTreeMap<&str, String>) {
        self.stats.runs.fetch_add(1, Ordering::Relaxed);
        let command = argv.join(" ");
        let what = format!(
            "{} {}: hook {command}",
            self.owner.word().to_lowercase(),
            self.name,
        );
        let live = process::LiveLog::new(what.clone(), LOGGED_LINES);
        let stop = self.stop.clone();
        let finished =
            process::run_until(&argv, env, self.run_as, self.timeout, stop, Some(live)).await;
        if finished.outcome.success() {
            tracing::debug!("{what} succeeded");
            return;
        }
        let counter = if finished.outcome.timed_out() {
            &self.stats.timeouts
        } else {
            &self.stats.failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // Its output, if any, is in the log above.
        let (instance, sync_group) = self.owner.fields(&self.name);
        tracing::warn!(
            event = "hook_failed",
            instance,
            sync_group,
            hook = %command,
            outcome = %finished.outcome,
            "{what} {}",
            finished.outcome
        );
        *self
            .stats
            .last_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(FailedRun::new(command, &finished));
    }
}
