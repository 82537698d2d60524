//! Reloading the configuration (SIGHUP, `vipd reload`) without flapping.
//!
//! The pure [`plan`](crate::config::reload::plan) says what changed; this
//! carries it out on the running daemon. An invalid file changes nothing.
//! Unchanged instances are not touched at all: no transition, no hook, no
//! extra advert. Priority and tracking weights, advert interval, preemption,
//! password, hooks, VIPs, unicast peers and announcement settings change in
//! place; removed instances resign (priority 0) and drop their VIPs; added
//! ones start in Backup; another VRID, interface, family or version restarts
//! the instance (it resigns, then starts afresh). Checks and the tracked-file
//! thread follow changed definitions, and trackers are rebuilt keeping what
//! they knew; sync groups are rebuilt keeping their last reported state.
//! Listener changes are refused for now with a clear message, and the
//! running configuration stays.

use std::collections::{BTreeMap, BTreeSet};

use super::{Daemon, Member, Node, Slot, SyncGroup};
use crate::config::reload::{Aspect, InstanceChange, plan};
use crate::config::{self, Config};
use crate::daemon::control::ReloadOutcome;
use crate::daemon::hooks::{HookQueue, Owner};
use crate::daemon::vips::VipCommand;
use crate::protocol::{Event, InstanceId};

impl Daemon {
    /// Re-reads the configuration file and applies what it can; logs and
    /// returns what happened.
    pub(super) async fn reload(&mut self) -> ReloadOutcome {
        let outcome = match self.try_reload().await {
            Ok(changes) => ReloadOutcome {
                applied: true,
                messages: changes,
            },
            Err(problems) => ReloadOutcome {
                applied: false,
                messages: problems,
            },
        };
        if outcome.applied {
            tracing::info!(
                "reload of {}: {}",
                self.config_path.display(),
                outcome.messages.join("; ")
            );
        } else {
            for problem in &outcome.messages {
                tracing::error!(
                    "reload of {} refused: {problem}",
                    self.config_path.display()
                );
            }
            tracing::warn!("keeping the running configuration");
        }
        outcome
    }

    async fn try_reload(&mut self) -> Result<Vec<String>, Vec<String>> {
        let path = self.config_path.display().to_string();
        let text = std::fs::read_to_string(&self.config_path)
            .map_err(|e| vec![format!("cannot read {path}: {e}")])?;
        let mut new = config::parse(&text, &path)
            .map_err(|d| d.iter().map(|d| d.to_string()).collect::<Vec<_>>())?;
        if new.global.node_name.is_none() {
            new.global.node_name = self.config.global.node_name.clone();
        }
        // What start-up would refuse (a missing hook, script_security), a
        // reload refuses too.
        crate::daemon::preflight::check(&new)?;
        let plan = plan(&self.config, &new);
        Self::refusals(&plan).map_or(Ok(()), Err)?;
        if plan.is_noop() {
            self.config = new;
            return Ok(vec!["no change".to_owned()]);
        }

        // Build what is new first: if that fails, nothing has changed yet.
        let readings = self.tracked.updates();
        let mut added = Vec::new();
        for (name, change) in &plan.instances {
            if matches!(change, InstanceChange::Added | InstanceChange::Restart(_)) {
                let cfg = &new.instances[name];
                let built = self
                    .edge
                    .build_instance(
                        name,
                        cfg,
                        &new,
                        &readings,
                        self.run_as,
                        super::build::Start::Reload,
                    )
                    .await;
                match built {
                    Ok(parts) => added.push(parts),
                    Err(e) => {
                        for (slot, _) in added {
                            discard(slot);
                        }
                        return Err(vec![e]);
                    }
                }
            }
        }

        // Checks and the tracked-file thread follow the new definitions; the
        // new trackers take the fresh readings.
        let retuned = self.restart_watchers(&new)?;
        for update in self.tracked.updates() {
            for (slot, _) in &mut added {
                update.apply(&mut slot.tracker);
            }
        }
        for (slot, member) in &mut added {
            // Still in Initialize: this only records the health it starts with.
            member.instance.handle(
                crate::protocol::Time::ZERO,
                Event::Health(&slot.health(&self.edge.links, &self.edge.sockets)),
            );
        }

        let mut changes = Vec::new();
        let mut removed = BTreeSet::new();
        for (name, change) in &plan.instances {
            let Some(index) = self.slots.iter().position(|s| s.name == *name) else {
                continue;
            };
            match change {
                InstanceChange::Removed => {
                    self.remove_instance(index);
                    removed.insert(name.clone());
                    changes.push(format!("instance {name} removed"));
                }
                InstanceChange::Restart(r) => {
                    self.remove_instance(index);
                    removed.insert(name.clone());
                    changes.push(format!(
                        "instance {name} restarted ({})",
                        r.reasons.join(", ")
                    ));
                }
                InstanceChange::Update(aspects) => {
                    self.update_instance(index, &new.instances[name], aspects)
                        .await;
                    let what: Vec<String> = aspects
                        .iter()
                        .map(|a| format!("{a:?}").to_lowercase())
                        .collect();
                    changes.push(format!("instance {name} updated ({})", what.join(", ")));
                }
                InstanceChange::Unchanged if tracks_any(&new.instances[name], &retuned) => {
                    self.rebuild_tracker(index, &new.instances[name]).await;
                    changes.push(format!("instance {name}: tracked definitions updated"));
                }
                InstanceChange::Unchanged | InstanceChange::Added => {}
            }
        }
        for (name, change) in &plan.instances {
            if *change == InstanceChange::Added {
                changes.push(format!("instance {name} added"));
            }
        }
        let started: Vec<String> = added.iter().map(|(slot, _)| slot.name.clone()).collect();
        let groups_changed = self.config.sync_groups != new.sync_groups;
        let rebuilt = !removed.is_empty() || !added.is_empty() || groups_changed;
        if rebuilt {
            self.rebuild_node(&removed, added);
            // A socket no instance uses any more (its instances moved to
            // another interface, or went) stops listening.
            for (index, socket) in self.edge.sockets.iter_mut().enumerate() {
                if !self.slots.iter().any(|s| s.socket == index) {
                    socket.close();
                }
            }
        }
        if groups_changed {
            changes.push("sync groups updated".to_owned());
        }
        // New and restarted instances start as at start-up: in Backup.
        for name in started {
            if let Some(index) = self.slots.iter().position(|s| s.name == name) {
                self.start_instance(index);
            }
        }
        if rebuilt {
            // Release members a removed or changed group held in FAULT.
            let outputs = self.node.regroup(self.now());
            self.execute(outputs);
        }
        self.config = new;
        self.pending = None;
        if changes.is_empty() {
            changes.push("no change to the running instances".to_owned());
        }
        Ok(changes)
    }

    /// Everything this reload cannot do in place yet, in words.
    fn refusals(plan: &config::reload::Plan) -> Option<Vec<String>> {
        let refused: Vec<String> = plan
            .needs_restart
            .iter()
            .map(|w| format!("{w} changed"))
            .collect();
        (!refused.is_empty()).then(|| {
            refused
                .into_iter()
                .map(|r| format!("{r}: not applied by reload yet; restart vipd for it"))
                .collect()
        })
    }

    async fn update_instance(
        &mut self,
        index: usize,
        cfg: &config::InstanceConfig,
        aspects: &BTreeSet<Aspect>,
    ) {
        if aspects.contains(&Aspect::Health) {
            self.rebuild_tracker(index, cfg).await;
        }
        let slot = &mut self.slots[index];
        if aspects.contains(&Aspect::Hooks) {
            let hooks = super::build::instance_hooks(&slot.name, cfg, self.run_as);
            slot.send_vip(VipCommand::SetHooks(hooks.sender()));
            let mut old = std::mem::replace(&mut slot.hooks, hooks);
            // Hooks already queued finish on their own.
            tokio::spawn(async move { old.finish().await });
        }
        if aspects.contains(&Aspect::VirtualIps) || aspects.contains(&Aspect::Announcements) {
            slot.send_vip(VipCommand::Reconfigure {
                vips: cfg.virtual_ips.clone(),
                plan: super::build::announce_plan(cfg),
            });
        }
        slot.cfg = cfg.clone();
        // A configured source replaces the interface's address, or the other
        // way round.
        let all_vips = super::build::all_vips(self.pending.as_ref().unwrap_or(&self.config));
        self.follow_interface(index, &all_vips);
        if aspects
            .iter()
            .any(|a| matches!(a, Aspect::Protocol | Aspect::VirtualIps | Aspect::Peers))
        {
            let params = super::params(cfg, self.slots[index].src_or_unspecified());
            self.node
                .instance_mut(InstanceId(index))
                .update_params(params);
        }
        self.refresh_health(index);
    }

    /// Rebuilds an instance's tracker from `cfg` and the new definitions,
    /// keeping what it already knew (check health, link states), and applies
    /// the resulting health.
    async fn rebuild_tracker(&mut self, index: usize, cfg: &config::InstanceConfig) {
        let readings = self.tracked.updates();
        let config = self.pending.clone().unwrap_or_else(|| self.config.clone());
        let old = &self.slots[index].tracker;
        let up = old.link_state(&cfg.interface).unwrap_or(true);
        let tracker =
            super::build::build_tracker(&self.edge.netlink, cfg, &config, &readings, up, Some(old))
                .await;
        self.slots[index].tracker = tracker;
        self.refresh_health(index);
    }

    /// Restarts the checks whose definition changed, starts new ones, stops
    /// those nothing tracks any more, and restarts the tracked-file thread
    /// when its files or processes changed. Returns the names whose
    /// definitions changed (trackers of them need rebuilding).
    fn restart_watchers(&mut self, new: &Config) -> Result<BTreeSet<String>, Vec<String>> {
        let mut retuned = BTreeSet::new();
        let wanted: BTreeMap<String, config::Check> = super::tracked_checks(new)
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
        let running: Vec<String> = self.check_tasks.keys().cloned().collect();
        for name in running {
            let keep = wanted
                .get(&name)
                .is_some_and(|c| same_check(c, &self.check_tasks[&name].0));
            if !keep {
                if let Some((_, task)) = self.check_tasks.remove(&name) {
                    task.abort();
                }
                retuned.insert(name);
            }
        }
        for (name, check) in wanted {
            if !self.check_tasks.contains_key(&name) {
                let task = crate::daemon::checks::spawn(&check, self.run_as, self.check_tx.clone());
                self.check_tasks.insert(name, (check, task));
            }
        }
        let old_watch = crate::daemon::poller::Poller::new(&self.config);
        let mut new_watch = crate::daemon::poller::Poller::new(new);
        if watched(&self.config) != watched(new) {
            retuned.extend(new.track_files.keys().cloned());
            retuned.extend(new.track_processes.keys().cloned());
            for update in new_watch.poll(std::time::Instant::now()) {
                self.tracked.record(&update);
            }
            let task = super::start_watcher(new_watch, &self.edge.input_tx).map_err(|e| vec![e])?;
            std::mem::replace(&mut self.tracked_task, task).abort();
        }
        drop(old_watch);
        self.pending = Some(new.clone());
        Ok(retuned)
    }

    /// A removed instance resigns like at shutdown; its workers finish on
    /// their own (VIP removal, then notify_stop).
    fn remove_instance(&mut self, index: usize) {
        let outputs = self
            .node
            .handle(self.now(), InstanceId(index), Event::Shutdown);
        self.execute(outputs);
        let slot = &mut self.slots[index];
        slot.vip_tx = None;
        let worker = slot.vip_task.take();
        let mut hooks = std::mem::replace(&mut slot.hooks, HookQueue::idle());
        tokio::spawn(async move {
            if let Some(worker) = worker {
                let _ = worker.await;
            }
            hooks.finish().await;
        });
    }

    /// Drops removed instances from the node, keeping everyone's state and
    /// the sync groups' last reported states.
    fn rebuild_node(&mut self, removed: &BTreeSet<String>, added: Vec<(Slot, Member)>) {
        let node = std::mem::replace(&mut self.node, Node::new(Vec::new(), Vec::new()));
        let (members, group_states) = node.into_parts();
        let kept = members
            .into_iter()
            .zip(std::mem::take(&mut self.slots))
            .filter(|(member, _)| !removed.contains(&member.name))
            .chain(added.into_iter().map(|(slot, member)| (member, slot)));
        let (members, slots): (Vec<Member>, Vec<Slot>) = kept.unzip();
        let config = self.pending.clone().unwrap_or_else(|| self.config.clone());
        let groups = config
            .sync_groups
            .iter()
            .map(|(name, group)| SyncGroup {
                name: name.clone(),
                members: group
                    .instances
                    .iter()
                    .filter_map(|m| slots.iter().position(|s| s.name == *m))
                    .map(InstanceId)
                    .collect(),
            })
            .collect();
        self.slots = slots;
        self.node = Node::with_group_states(members, groups, &group_states);
        self.rebuild_group_hooks(&config);
    }

    /// One hook queue per sync group of `config`, reusing the queues of
    /// groups whose hooks did not change.
    fn rebuild_group_hooks(&mut self, config: &Config) {
        let mut old: Vec<(String, config::Hooks, HookQueue)> = self
            .config
            .sync_groups
            .iter()
            .map(|(name, g)| (name.clone(), g.hooks.clone()))
            .zip(std::mem::take(&mut self.group_hooks))
            .map(|((name, hooks), queue)| (name, hooks, queue))
            .collect();
        for (name, group) in &config.sync_groups {
            let reuse = old
                .iter()
                .position(|(n, h, _)| n == name && *h == group.hooks);
            let queue = match reuse {
                Some(i) => old.remove(i).2,
                None => HookQueue::spawn(
                    Owner::Group,
                    name,
                    group.hooks.clone(),
                    String::new(),
                    config.global.hook_timeout,
                    self.run_as,
                ),
            };
            self.group_hooks.push(queue);
        }
        for (_, _, mut queue) in old {
            tokio::spawn(async move { queue.finish().await });
        }
    }
}

/// Whether `cfg` tracks any of `names` (checks, files or processes).
fn tracks_any(cfg: &config::InstanceConfig, names: &BTreeSet<String>) -> bool {
    cfg.track_checks
        .iter()
        .map(|t| &t.name)
        .chain(cfg.track_files.iter().map(|t| &t.name))
        .chain(cfg.track_processes.iter().map(|t| &t.name))
        .any(|n| names.contains(n))
}

/// Two definitions of a check that run the same way (the default weight
/// only matters through the instances).
fn same_check(a: &config::Check, b: &config::Check) -> bool {
    config::Check {
        weight: 0,
        ..a.clone()
    } == config::Check {
        weight: 0,
        ..b.clone()
    }
}

/// What the tracked-file thread watches, weights aside.
fn watched(c: &Config) -> impl PartialEq + use<> {
    without_weights(c)
}

/// Throws away an instance built for a reload that is not going ahead.
fn discard(mut slot: Slot) {
    slot.vip_tx = None;
    let mut hooks = std::mem::replace(&mut slot.hooks, HookQueue::idle());
    tokio::spawn(async move { hooks.finish().await });
}

/// Poller definitions with the default weights cleared: a new default
/// weight only matters through the instances, which compare on their own.
fn without_weights(c: &Config) -> impl PartialEq + use<> {
    let checks: Vec<_> = c
        .checks
        .values()
        .cloned()
        .map(|mut x| {
            x.weight = 0;
            x
        })
        .collect();
    let files: Vec<_> = c
        .track_files
        .values()
        .cloned()
        .map(|mut x| {
            x.weight = 0;
            x
        })
        .collect();
    let processes: Vec<_> = c
        .track_processes
        .values()
        .cloned()
        .map(|mut x| {
            x.weight = 0;
            x
        })
        .collect();
    (checks, files, processes)
}
