//! Reloading the configuration (SIGHUP, `vipd reload`) without flapping.
//!
//! The pure [`plan`](crate::config::reload::plan) says what changed; this
//! carries it out on the running daemon. An invalid file changes nothing.
//! Unchanged instances are not touched at all: no transition, no hook, no
//! extra advert. Priority and tracking weights, advert interval, preemption,
//! password, hooks, VIPs, unicast peers and announcement settings change in
//! place; removed instances resign (priority 0) and drop their VIPs; added
//! ones start in Backup; another VRID, interface, family or version restarts
//! the instance (it resigns, then starts afresh). Changes that need new
//! watchers (checks, tracked files or processes nothing runs yet), sync
//! groups or listeners are refused for now with a clear message, and the
//! running configuration stays.

use std::collections::BTreeSet;

use super::{Daemon, Member, Node, Slot, SyncGroup};
use crate::config::reload::{Aspect, InstanceChange, plan};
use crate::config::{self, Config};
use crate::daemon::control::ReloadOutcome;
use crate::daemon::hooks::{HookQueue, Owner};
use crate::daemon::vips::{AnnouncePlan, VipCommand};
use crate::protocol::{Event, State, TrackedKind};

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
        if new.global.script_security {
            let problems = super::unsafe_scripts(&new);
            if !problems.is_empty() {
                return Err(problems
                    .into_iter()
                    .map(|p| format!("script_security: {p}"))
                    .collect());
            }
        }
        let plan = plan(&self.config, &new);
        self.refusals(&plan, &new).map_or(Ok(()), Err)?;
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
                // No waiting for a link-local address: the loop must keep advertising.
                let no_wait = std::time::Duration::ZERO;
                let built = self
                    .edge
                    .build_instance(name, cfg, &new, &readings, self.run_as, no_wait)
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
                    self.update_instance(index, &new.instances[name], aspects);
                    let what: Vec<String> = aspects
                        .iter()
                        .map(|a| format!("{a:?}").to_lowercase())
                        .collect();
                    changes.push(format!("instance {name} updated ({})", what.join(", ")));
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
        if !removed.is_empty() || !added.is_empty() {
            self.rebuild_node(&removed, added);
        }
        // New and restarted instances start as at start-up: in Backup.
        for name in started {
            if let Some(index) = self.slots.iter().position(|s| s.name == name) {
                let outputs = self.node.handle(self.now(), index, Event::Startup);
                self.execute(outputs);
            }
        }
        self.config = new;
        if changes.is_empty() {
            changes.push("no change to the running instances".to_owned());
        }
        Ok(changes)
    }

    /// Everything this reload cannot do in place yet, in words.
    fn refusals(&self, plan: &config::reload::Plan, new: &Config) -> Option<Vec<String>> {
        let mut refused: Vec<String> = plan
            .needs_restart
            .iter()
            .map(|w| format!("{w} changed"))
            .collect();
        if without_weights(&self.config) != without_weights(new) {
            refused.push("check, track_file or track_process definitions changed".to_owned());
        }
        if self.config.sync_groups != new.sync_groups {
            refused.push("sync groups changed".to_owned());
        }
        for (name, change) in &plan.instances {
            match change {
                InstanceChange::Added | InstanceChange::Restart(_) => {
                    if let Some(what) = unwatched(&self.config, &new.instances[name]) {
                        refused.push(format!(
                            "instance {name} tracks {what}, which nothing runs yet"
                        ));
                    }
                }
                InstanceChange::Update(aspects) => {
                    for aspect in aspects {
                        let (was, now) = (&self.config.instances[name], &new.instances[name]);
                        let ok = match aspect {
                            Aspect::Protocol
                            | Aspect::Hooks
                            | Aspect::VirtualIps
                            | Aspect::Announcements => true,
                            // A source address can be set or changed; dropping it would need
                            // the interface's primary address looked up again.
                            Aspect::Peers => {
                                !(was.unicast_src_ip.is_some() && now.unicast_src_ip.is_none())
                            }
                            Aspect::Health => same_tracked_names(
                                &self.config.instances[name],
                                &new.instances[name],
                            ),
                            _ => false,
                        };
                        if !ok {
                            refused.push(format!("instance {name}: {aspect:?} changed"));
                        }
                    }
                }
                InstanceChange::Unchanged | InstanceChange::Removed => {}
            }
        }
        (!refused.is_empty()).then(|| {
            refused
                .into_iter()
                .map(|r| format!("{r}: not applied by reload yet; restart vipd for it"))
                .collect()
        })
    }

    fn update_instance(
        &mut self,
        index: usize,
        cfg: &config::Instance,
        aspects: &BTreeSet<Aspect>,
    ) {
        let slot = &mut self.slots[index];
        if aspects.contains(&Aspect::Health) {
            slot.tracker.set_base_priority(cfg.priority);
            let weights = cfg
                .track_checks
                .iter()
                .map(|t| (TrackedKind::Check, &t.name, t.weight))
                .chain(
                    cfg.track_interfaces
                        .iter()
                        .map(|t| (TrackedKind::Interface, &t.name, t.weight)),
                )
                .chain(
                    cfg.track_files
                        .iter()
                        .map(|t| (TrackedKind::File, &t.name, t.weight)),
                )
                .chain(
                    cfg.track_processes
                        .iter()
                        .map(|t| (TrackedKind::Process, &t.name, t.weight)),
                );
            for (kind, name, weight) in weights {
                slot.tracker.reweigh(kind, name, i32::from(weight));
            }
        }
        if aspects.contains(&Aspect::Hooks) {
            let vips = cfg
                .virtual_ips
                .iter()
                .map(|v| v.addr().to_string())
                .collect::<Vec<_>>()
                .join(" ");
            let hooks = HookQueue::spawn(
                Owner::Instance,
                &slot.name,
                cfg.hooks.clone(),
                vips,
                cfg.hook_timeout,
                self.run_as,
            );
            slot.send_vip(VipCommand::SetHooks(hooks.sender()));
            let mut old = std::mem::replace(&mut slot.hooks, hooks);
            // Hooks already queued finish on their own.
            tokio::spawn(async move { old.finish().await });
        }
        if aspects.contains(&Aspect::VirtualIps) || aspects.contains(&Aspect::Announcements) {
            let holding = self.node.instance(index).state() == State::Master;
            let plan = AnnouncePlan {
                repeat: cfg.garp_repeat,
                delay: cfg.garp_delay,
                refresh: cfg.garp_refresh,
            };
            slot.send_vip(VipCommand::Reconfigure {
                vips: cfg.virtual_ips.clone(),
                plan,
                holding,
            });
        }
        if let Some(src) = cfg.unicast_src_ip {
            slot.src = src;
        }
        slot.cfg = cfg.clone();
        if aspects
            .iter()
            .any(|a| matches!(a, Aspect::Protocol | Aspect::VirtualIps | Aspect::Peers))
        {
            let params = super::params(cfg, slot.src);
            self.node.instance_mut(index).update_params(params);
        }
        self.refresh_health(index);
    }

    /// A removed instance resigns like at shutdown; its workers finish on
    /// their own (VIP removal, then notify_stop).
    fn remove_instance(&mut self, index: usize) {
        let outputs = self.node.handle(self.now(), index, Event::Shutdown);
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
        let groups = self
            .config
            .sync_groups
            .iter()
            .map(|(name, group)| SyncGroup {
                name: name.clone(),
                members: group
                    .instances
                    .iter()
                    .filter_map(|m| slots.iter().position(|s| s.name == *m))
                    .collect(),
            })
            .collect();
        self.slots = slots;
        self.node = Node::with_group_states(members, groups, &group_states);
    }
}

/// A check, file or process `cfg` tracks that no running instance tracks
/// (so no check task or watcher runs it).
fn unwatched(running: &Config, cfg: &config::Instance) -> Option<String> {
    let instances = || running.instances.values();
    let checks: BTreeSet<&String> = instances()
        .flat_map(|i| i.track_checks.iter().map(|t| &t.name))
        .collect();
    let files: BTreeSet<&String> = instances()
        .flat_map(|i| i.track_files.iter().map(|t| &t.name))
        .collect();
    let procs: BTreeSet<&String> = instances()
        .flat_map(|i| i.track_processes.iter().map(|t| &t.name))
        .collect();
    let check = cfg
        .track_checks
        .iter()
        .find(|t| !checks.contains(&t.name))
        .map(|t| format!("check {}", t.name));
    let file = cfg
        .track_files
        .iter()
        .find(|t| !files.contains(&t.name))
        .map(|t| format!("track_file {}", t.name));
    let process = cfg
        .track_processes
        .iter()
        .find(|t| !procs.contains(&t.name))
        .map(|t| format!("track_process {}", t.name));
    check.or(file).or(process)
}

/// Throws away an instance built for a reload that is not going ahead.
fn discard(mut slot: Slot) {
    slot.vip_tx = None;
    let mut hooks = std::mem::replace(&mut slot.hooks, HookQueue::idle());
    tokio::spawn(async move { hooks.finish().await });
}

/// The same objects tracked (weights may differ): their state carries over.
fn same_tracked_names(a: &config::Instance, b: &config::Instance) -> bool {
    fn names<T>(items: &[T], name: impl Fn(&T) -> &String) -> BTreeSet<&String> {
        items.iter().map(name).collect()
    }
    a.interface == b.interface
        && names(&a.track_checks, |t| &t.name) == names(&b.track_checks, |t| &t.name)
        && names(&a.track_interfaces, |t| &t.name) == names(&b.track_interfaces, |t| &t.name)
        && names(&a.track_files, |t| &t.name) == names(&b.track_files, |t| &t.name)
        && names(&a.track_processes, |t| &t.name) == names(&b.track_processes, |t| &t.name)
}

/// Watcher definitions with the default weights cleared: a new default
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
