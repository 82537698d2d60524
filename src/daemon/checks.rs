//! Health checks (keepalived's vrrp_script): each check runs on its own task,
//! every `interval`, killed with its process group at `timeout`; a timeout counts
//! as a failure. Results go to the protocol loop, which applies rise/fall and
//! weights through the pure [`HealthTracker`](crate::protocol::HealthTracker).
//! A failed run's outcome and the end of its output are logged here, at most
//! once a minute per check.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::process::{self, FailedRun, Finished, Outcome, RunAs};
use super::ratelimit::RateLimiter;
use crate::config::Check;

/// How often a failing check's output may be logged.
const FAILURE_LOG_PERIOD: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub name: String,
    pub outcome: Outcome,
    /// The run, with the end of its output, when it failed.
    pub failure: Option<FailedRun>,
}

pub fn spawn(
    check: &Check,
    run_as: RunAs,
    results: mpsc::UnboundedSender<CheckResult>,
) -> JoinHandle<()> {
    let name = check.name.clone();
    let argv = check.command.as_slice().to_vec();
    let (interval, timeout) = (check.interval, check.timeout);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        // A slow check delays the next run instead of bunching runs up.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let env = BTreeMap::from([("VIPD_CHECK", name.clone())]);
        let mut log_limit = RateLimiter::new(FAILURE_LOG_PERIOD);
        loop {
            ticks.tick().await;
            let finished = process::run(&argv, &env, run_as, timeout).await;
            let failure = (!finished.outcome.success()).then(|| {
                if let Some(suppressed) = log_limit.allow(&name) {
                    log_failure(&name, &finished, suppressed);
                }
                FailedRun::new(argv.join(" "), &finished)
            });
            let result = CheckResult {
                name: name.clone(),
                outcome: finished.outcome,
                failure,
            };
            if results.send(result).is_err() {
                return;
            }
        }
    })
}

/// Logs a failed run of check `name`: one line with the outcome, then its
/// output's last lines. Callers rate-limit; `suppressed` failures were not
/// logged since the last.
fn log_failure(name: &str, finished: &Finished, suppressed: u64) {
    let note = match suppressed {
        0 => String::new(),
        n => format!(" ({n} more failed runs since the last report)"),
    };
    let outcome = &finished.outcome;
    if finished.output.lines.is_empty() {
        tracing::warn!(
            event = "check_failed",
            check = %name,
            outcome = %outcome,
            suppressed,
            "check {name}: {outcome}{note}; it printed nothing"
        );
        return;
    }
    tracing::warn!(
        event = "check_failed",
        check = %name,
        outcome = %outcome,
        suppressed,
        "check {name}: {outcome}{note}; {}:",
        finished.output.describe()
    );
    for line in &finished.output.lines {
        tracing::warn!(event = "check_output", check = %name, "check {name}: | {line}");
    }
}
