//! Health checks (keepalived's vrrp_script): each check runs on its own task,
//! every `interval`, killed with its process group at `timeout`; a timeout counts
//! as a failure. Results go to the protocol loop, which applies rise/fall and
//! weights through the pure [`HealthTracker`](crate::protocol::HealthTracker).

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::process::{self, Outcome, RunAs};
use crate::config::Check;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub name: String,
    pub outcome: Outcome,
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
        loop {
            ticks.tick().await;
            let outcome = process::run(&argv, &env, run_as, timeout).await;
            if results
                .send(CheckResult {
                    name: name.clone(),
                    outcome,
                })
                .is_err()
            {
                return;
            }
        }
    })
}
