//! Reloading the configuration (SIGHUP, `vipd reload`) without flapping and
//! without stalling the loop.
//!
//! A reload has two halves. [`prepare`] runs off the loop: it reads and
//! validates the file, runs the start-up checks on it (hook files,
//! `script_security`), lets the pure [`plan`] decide everything (what
//! changes in place, what restarts, what is refused and why), takes the
//! tracked files' first reading when the poller restarts and looks up the
//! interfaces new instances need. The loop keeps sending adverts meanwhile.
//! [`Daemon::apply`] then carries the plan out on the loop: it waits for
//! nothing and reads no file; it only builds instances from the lookups,
//! swaps workers and updates the state machine. An invalid file changes
//! nothing, and the running configuration stays.

use std::collections::{BTreeMap, BTreeSet};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::build::{Lookups, announce_plan, build_tracker, instance_hooks};
use super::watchers::start_poller;
use super::{Daemon, Input, InstanceEdge, group_hook_queue, on_workers, params, sync_groups};
use crate::config::reload::{Aspect, InstanceChange, Plan, plan};
use crate::config::{self, Config};
use crate::daemon::control::{self, ReloadOutcome};
use crate::daemon::hooks::HookQueue;
use crate::daemon::netlink::Netlink;
use crate::daemon::poller::{Poller, TrackedUpdate};
use crate::daemon::vips::VipCommand;
use crate::protocol::{Event, InstanceId, Member, Node, Time};

/// A reload read, checked and planned, ready for the loop to apply.
pub(super) struct Prepared {
    result: Result<Ready, Vec<String>>,
}

struct Ready {
    new: Config,
    plan: Plan,
    lookups: Lookups,
    /// A new poller and its first reading, when the plan restarts it.
    poller: Option<(Poller, Vec<TrackedUpdate>)>,
}

/// Who waits for a reload's outcome: `vipd reload`, or nobody (SIGHUP).
type Requester = Option<oneshot::Sender<control::Reply>>;

/// Reloads asked for and not answered yet.
#[derive(Default)]
pub(super) struct Reloads {
    /// A preparation is under way; these get its outcome.
    in_flight: Option<Vec<Requester>>,
    /// Asked while one was under way: they get the next one, which reads
    /// the file again (it may have changed since).
    waiting: Vec<Requester>,
    /// Link states the loop learnt while a preparation was under way: newer
    /// than (or as new as) what the preparation looked up.
    links_seen: BTreeMap<String, bool>,
}

impl Reloads {
    pub(super) fn saw_link(&mut self, name: &str, up: bool) {
        if self.in_flight.is_some() {
            self.links_seen.insert(name.to_owned(), up);
        }
    }
}

/// Reads, checks and plans the new configuration against `old`, off the
/// loop (file reads and permission walks on a blocking thread).
async fn prepare(path: std::path::PathBuf, old: Config, netlink: Netlink) -> Prepared {
    let planned = tokio::task::spawn_blocking(move || read_and_plan(&path, &old)).await;
    let result = match planned {
        Ok(Ok((new, plan, poller))) => {
            match Lookups::gather(&netlink, &new, plan.starting()).await {
                Ok(lookups) => Ok(Ready {
                    new,
                    plan,
                    lookups,
                    poller,
                }),
                Err(e) => Err(vec![e]),
            }
        }
        Ok(Err(problems)) => Err(problems),
        Err(e) => Err(vec![format!("reload preparation failed: {e}")]),
    };
    Prepared { result }
}

type Planned = (Config, Plan, Option<(Poller, Vec<TrackedUpdate>)>);

fn read_and_plan(path: &std::path::Path, old: &Config) -> Result<Planned, Vec<String>> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| vec![format!("cannot read {shown}: {e}")])?;
    let mut new = config::parse_bytes(&bytes, &shown)
        .map_err(|d| d.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    if new.global.node_name.is_none() {
        new.global.node_name = old.global.node_name.clone();
    }
    // What start-up would refuse (a missing hook, script_security), a
    // reload refuses too.
    crate::daemon::preflight::check(&new)?;
    let plan = plan(old, &new);
    let refusals = plan.refusals();
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let poller = plan.poller_restarts.then(|| {
        let mut poller = Poller::new(&new);
        let first = poller.poll(std::time::Instant::now());
        (poller, first)
    });
    Ok((new, plan, poller))
}

impl Daemon {
    /// Starts a reload (or joins the next one when one is under way);
    /// `requester` gets the outcome.
    pub(super) fn request_reload(&mut self, requester: Requester) {
        match &mut self.reloads.in_flight {
            Some(_) => self.reloads.waiting.push(requester),
            None => {
                self.reloads.in_flight = Some(vec![requester]);
                self.spawn_prepare();
            }
        }
    }

    fn spawn_prepare(&self) {
        let task = prepare(
            self.running.path.clone(),
            self.running.config.clone(),
            self.edge.netlink.clone(),
        );
        let tx = self.edge.input_tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(Input::Reload(Box::new(task.await)));
        });
    }

    /// Applies a prepared reload, answers who asked for it, and starts the
    /// next one if more were asked for meanwhile.
    pub(super) fn on_reload_prepared(&mut self, prepared: Box<Prepared>) {
        let outcome = match prepared.result.and_then(|ready| self.apply(ready)) {
            Ok(changes) => ReloadOutcome {
                applied: true,
                messages: changes,
            },
            Err(problems) => ReloadOutcome {
                applied: false,
                messages: problems,
            },
        };
        let path = self.running.path.display();
        if outcome.applied {
            tracing::info!(
                event = "reload",
                "reload of {path}: {}",
                outcome.messages.join("; ")
            );
        } else {
            for problem in &outcome.messages {
                tracing::error!(
                    event = "reload_refused",
                    "reload of {path} refused: {problem}"
                );
            }
            tracing::warn!("keeping the running configuration");
        }
        self.reloads.links_seen.clear();
        let requesters = self.reloads.in_flight.take().into_iter().flatten();
        for reply in requesters.flatten() {
            let _ = reply.send(control::Reply::Reload(outcome.clone()));
        }
        if !self.reloads.waiting.is_empty() {
            self.reloads.in_flight = Some(std::mem::take(&mut self.reloads.waiting));
            self.spawn_prepare();
        }
    }

    /// Carries out a plan on the loop. What can fail (the poller thread,
    /// building an instance) is done first, so a failure changes nothing.
    fn apply(&mut self, ready: Ready) -> Result<Vec<String>, Vec<String>> {
        let Ready {
            new,
            plan,
            mut lookups,
            poller,
        } = ready;
        lookups.links_up.append(&mut self.reloads.links_seen);
        if plan.is_noop() {
            self.running.config = new;
            return Ok(plan.describe());
        }
        let poller = match poller {
            Some((poller, first)) => {
                let task = start_poller(poller, &self.edge.input_tx).map_err(|e| vec![e])?;
                Some((task, first))
            }
            None => None,
        };
        // Trackers apply readings in order: the new poller's first reading
        // comes last and wins.
        let mut readings = self.watchers.latest.updates();
        readings.extend(poller.iter().flat_map(|(_, first)| first.iter().cloned()));
        let newly_followed: Vec<String> = lookups
            .interfaces
            .keys()
            .filter(|name| !self.edge.links.contains_key(*name))
            .cloned()
            .collect();
        let built = match self.build_started(&plan, &new, &lookups, &readings) {
            Ok(built) => built,
            Err(e) => {
                if let Some((task, _)) = poller {
                    task.abort();
                }
                return Err(vec![e]);
            }
        };
        self.watchers.follow(&plan, &new, poller);

        for (name, change) in &plan.instances {
            let Some(id) = self.instances.find(|s| s.name == *name) else {
                continue;
            };
            match change {
                InstanceChange::Removed | InstanceChange::Restart(_) => self.resign(id),
                InstanceChange::Update(aspects) => {
                    self.update_instance(id, &new, &lookups, aspects)
                }
                InstanceChange::Unchanged if plan.retrack.contains(name) => {
                    self.rebuild_tracker(id, &new, &lookups)
                }
                InstanceChange::Unchanged | InstanceChange::Added => {}
            }
        }
        if plan.regroups() {
            self.regroup(&plan, built, &new);
        }
        self.index_instances();
        self.running.config = new;
        // The lookups were made before the loop saw the events since: ask
        // again for interfaces followed for the first time.
        for name in newly_followed {
            self.request_lookup(&name);
        }
        Ok(plan.describe())
    }

    /// Builds the added and restarted instances, or none of them.
    fn build_started(
        &mut self,
        plan: &Plan,
        new: &Config,
        lookups: &Lookups,
        readings: &[TrackedUpdate],
    ) -> Result<Vec<(InstanceEdge, Member)>, String> {
        let mut built = Vec::new();
        for name in plan.starting() {
            let run_as = self.running.run_as;
            match self
                .edge
                .build_instance(name, new, lookups, readings, run_as)
            {
                Ok((instance, mut member)) => {
                    // Still in Initialize: this only records the health it starts with.
                    let health = instance.health(&self.edge.links, &self.edge.sockets);
                    member.instance.handle(Time::ZERO, Event::Health(&health));
                    built.push((instance, member));
                }
                Err(e) => {
                    built
                        .into_iter()
                        .for_each(|(instance, _)| discard(instance));
                    return Err(e);
                }
            }
        }
        Ok(built)
    }

    fn update_instance(
        &mut self,
        id: InstanceId,
        new: &Config,
        lookups: &Lookups,
        aspects: &BTreeSet<Aspect>,
    ) {
        let cfg = &new.instances[&self.instances[id].name];
        if aspects.contains(&Aspect::Health) {
            self.rebuild_tracker(id, new, lookups);
        }
        let instance = &mut self.instances[id];
        if aspects.contains(&Aspect::Hooks) {
            let run_as = self.running.run_as;
            let hooks = on_workers(&self.edge.workers, || {
                instance_hooks(&instance.name, cfg, run_as)
            });
            instance.send_vip(VipCommand::SetHooks(hooks.sender()));
            let old = std::mem::replace(&mut instance.hooks, hooks);
            // Hooks already queued finish on their own.
            finish_later(old, None);
        }
        if aspects.contains(&Aspect::VirtualIps) || aspects.contains(&Aspect::Announcements) {
            instance.send_vip(VipCommand::Reconfigure {
                vips: cfg.virtual_ips.clone(),
                plan: announce_plan(cfg),
            });
        }
        instance.cfg = cfg.clone();
        // A configured source replaces the interface's address, or the other
        // way round.
        self.follow_interface(id, &new.all_vips());
        if aspects
            .iter()
            .any(|a| matches!(a, Aspect::Protocol | Aspect::VirtualIps | Aspect::Peers))
        {
            let params = params(cfg, self.instances[id].src_or_unspecified());
            self.node.update_params(id, params);
        }
        self.refresh_health(id);
    }

    /// Rebuilds an instance's tracker from the new definitions, keeping
    /// what it already knew (check health, link states), and applies the
    /// resulting health.
    fn rebuild_tracker(&mut self, id: InstanceId, new: &Config, lookups: &Lookups) {
        let instance = &self.instances[id];
        let cfg = &new.instances[&instance.name];
        let old = &instance.tracker;
        let up = old.link_state(&cfg.interface).unwrap_or(true);
        let readings = self.watchers.latest.updates();
        let tracker = build_tracker(cfg, new, lookups, &readings, up, Some(old));
        self.instances[id].tracker = tracker;
        self.refresh_health(id);
    }

    /// A removed or restarted instance resigns like at shutdown; its workers
    /// finish on their own (VIP removal, then notify_stop).
    fn resign(&mut self, id: InstanceId) {
        let outputs = self.node.handle(self.now(), id, Event::Shutdown);
        self.execute(outputs);
        let instance = &mut self.instances[id];
        instance.vip_tx = None;
        let worker = instance.vip_task.take();
        let hooks = std::mem::replace(&mut instance.hooks, HookQueue::idle());
        finish_later(hooks, worker);
    }

    /// Rebuilds the node and the instances' edges together: the resigned
    /// instances go, the `built` ones join and start; everyone else keeps
    /// its state and the sync groups their last reported states.
    fn regroup(&mut self, plan: &Plan, built: Vec<(InstanceEdge, Member)>, new: &Config) {
        let resigned: Vec<&str> = plan.resigning().collect();
        let node = std::mem::replace(&mut self.node, Node::new(Vec::new(), Vec::new()));
        let (members, group_states) = node.into_parts();
        let instances = std::mem::take(&mut self.instances).into_vec();
        let kept = members
            .into_iter()
            .zip(instances)
            .filter(|(member, _)| !resigned.contains(&member.name.as_str()))
            .chain(
                built
                    .into_iter()
                    .map(|(instance, member)| (member, instance)),
            );
        let (members, instances): (Vec<Member>, Vec<InstanceEdge>) = kept.unzip();
        self.instances = instances.into();
        let groups = sync_groups(new, &self.instances);
        self.node = Node::with_group_states(members, groups, &group_states);
        self.regroup_hooks(new);

        // A socket no instance uses any more (its instances moved to
        // another interface, or went) stops listening.
        for socket in self.edge.sockets.ids() {
            if !self.instances.values().any(|i| i.socket == socket) {
                self.edge.sockets[socket].close();
            }
        }
        // New and restarted instances start as at start-up: in Backup.
        for name in plan.starting() {
            if let Some(id) = self.instances.find(|s| s.name == name) {
                self.start_instance(id);
            }
        }
        // Release members a removed or changed group held in FAULT.
        let outputs = self.node.regroup(self.now());
        self.execute(outputs);
    }

    /// One hook queue per sync group of `new`, reusing the queues of groups
    /// whose hooks did not change.
    fn regroup_hooks(&mut self, new: &Config) {
        let mut old: Vec<(String, config::Hooks, HookQueue)> = self
            .running
            .config
            .sync_groups
            .iter()
            .map(|(name, g)| (name.clone(), g.hooks.clone()))
            .zip(std::mem::take(&mut self.group_hooks).into_vec())
            .map(|((name, hooks), queue)| (name, hooks, queue))
            .collect();
        for (name, group) in &new.sync_groups {
            let reuse = old
                .iter()
                .position(|(n, h, _)| n == name && *h == group.hooks);
            let queue = match reuse {
                Some(i) => old.remove(i).2,
                None => on_workers(&self.edge.workers, || {
                    group_hook_queue(name, group, new, self.running.run_as)
                }),
            };
            self.group_hooks.push(queue);
        }
        for (_, _, queue) in old {
            finish_later(queue, None);
        }
    }
}

/// Lets a hook queue finish what it has queued, after `worker` (a VIP
/// worker removing addresses) when there is one.
fn finish_later(mut hooks: HookQueue, worker: Option<JoinHandle<()>>) {
    tokio::spawn(async move {
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        hooks.finish().await;
    });
}

/// Throws away an instance built for a reload that is not going ahead.
fn discard(mut instance: InstanceEdge) {
    instance.vip_tx = None;
    let hooks = std::mem::replace(&mut instance.hooks, HookQueue::idle());
    finish_later(hooks, None);
}
