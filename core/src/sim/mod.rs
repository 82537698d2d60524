//! A deterministic multi-node simulator driving the real protocol core.
//!
//! Several nodes, each running a [`protocol::Node`](crate::protocol::Node),
//! share one simulated L2 segment. Time is virtual: a binary heap of jobs
//! ordered by (time, sequence number) decides what happens next, so a
//! [`Setup`] plus its seed and the injected [`Incident`]s reproduce a run
//! exactly. Everything observable goes into a [`Timeline`].
//!
//! - [`rng`]: the seeded PRNG.
//! - [`scenario`]: nodes, network and incidents as plain data.
//! - [`segment`]: delay, jitter, loss and partitions.
//! - [`timeline`]: the record of a run and the queries on it.
//! - [`check`]: invariants over a timeline, shared by the property tests.
//!
//! No I/O, no clock, no threads.

pub mod check;
pub mod etcd;
pub mod rng;
pub mod scenario;
pub mod segment;
pub mod timeline;

use core::cmp::Ordering;
use core::time::Duration;
use std::collections::{BTreeMap, BinaryHeap};

pub use check::{Contender, Violation};
pub use etcd::{EtcdSpec, LockOf};
pub use rng::Rng;
pub use scenario::{Incident, InstanceSpec, Network, NodeSpec, Setup};
pub use segment::Segment;
pub use timeline::{Entry, Record, Sent, Span, Timeline, View};

use crate::protocol::{
    Action, Event, GroupId, Health, Instance, InstanceId, LeaseAction, LeaseEvent, LeaseSettings,
    Member, Node, Output, State, SyncGroup, Time,
};
use crate::wire::AdvertRepr;
use etcd::{Etcd, Reply, Request};

/// Something due at a point in virtual time.
#[derive(Debug, Clone)]
enum Job {
    Deliver {
        from: usize,
        to: usize,
        advert: AdvertRepr,
    },
    /// Valid only while `generation` matches the node's armed timer.
    Timer {
        node: usize,
        generation: u64,
    },
    Inject(Incident),
    /// A node's request reaches etcd.
    EtcdArrive(Call, Request),
    /// etcd's answer (or a watch notification, or a timeout) reaches a node.
    EtcdAnswer(Call, Reply),
    /// A lease may have run out.
    EtcdExpire(u64),
    /// The node's client renews a held lease (every `ttl / 4`, like the daemon).
    Renew {
        node: usize,
        life: u64,
        lock: LockOf,
        lease: u64,
        attempt: u64,
    },
}

/// Who asked etcd, and when: what an answer needs to find its way back.
#[derive(Debug, Clone, Copy)]
struct Call {
    node: usize,
    /// The node's boot count when it asked.
    life: u64,
    lock: LockOf,
    /// The lock attempt (0 for watch notifications and releases).
    attempt: u64,
    sent: Time,
}

impl Job {
    /// The node that must be running (not hung) to handle this job.
    fn handler(&self) -> Option<usize> {
        match self {
            Job::Deliver { to, .. } => Some(*to),
            Job::Timer { node, .. }
            | Job::EtcdAnswer(Call { node, .. }, _)
            | Job::Renew { node, .. } => Some(*node),
            Job::Inject(_) | Job::EtcdArrive(..) | Job::EtcdExpire(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Queued {
    at: Time,
    seq: u64,
    job: Job,
}

// The heap is a max-heap: invert so the earliest (time, seq) pops first.
impl Ord for Queued {
    fn cmp(&self, other: &Queued) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Queued) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Queued) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Queued {}

#[derive(Debug, Clone)]
struct SimNode {
    /// `None` while the machine is down (never booted or crashed).
    core: Option<Node>,
    /// Per instance; survives restarts, like the checks that produce it.
    health: Vec<Health>,
    /// The deadline a Timer job is queued for, and that job's generation.
    armed: Option<Time>,
    generation: u64,
    /// Counts boots: etcd answers meant for an earlier life are dropped.
    life: u64,
    /// While hung: the daemon handles nothing before this.
    frozen_until: Option<Time>,
    /// Per lock: the lease its etcd client keeps alive, and the attempt
    /// that created it.
    leases: BTreeMap<LockOf, (u64, u64)>,
}

/// The simulated segment and its nodes.
///
/// ```
/// use std::time::Duration;
/// use vipd_core::protocol::Time;
/// use vipd_core::sim::{Setup, Incident, InstanceSpec, Network, NodeSpec, Sim};
/// use vipd_core::wire::{Auth, Centis, Family, Version};
///
/// let node = |priority| NodeSpec::single(InstanceSpec::new(priority, Centis::ONE_SECOND));
/// let mut sim = Sim::new(Setup {
///     version: Version::V3,
///     family: Family::Ipv4,
///     auth: Auth::None,
///     nodes: vec![node(100), node(200)],
///     network: Network::fixed(Duration::from_millis(1)),
///     seed: 7,
/// });
/// let secs = |s| Time::from_duration(Duration::from_secs(s));
/// sim.schedule(secs(10), Incident::Crash(1));
/// sim.run_until(secs(20));
/// let view = sim.timeline().view(0);
/// assert_eq!(view.masters_at(secs(9)), vec![1]);
/// assert_eq!(view.masters_at(secs(20)), vec![0]);
/// ```
#[derive(Debug, Clone)]
pub struct Sim {
    config: Setup,
    now: Time,
    queue: BinaryHeap<Queued>,
    seq: u64,
    step: u64,
    nodes: Vec<SimNode>,
    segment: Segment,
    timeline: Timeline,
    etcd: Option<Etcd>,
}

impl Sim {
    /// Like [`Sim::new`], with an etcd cluster whose locks gate the instances.
    pub fn with_etcd(config: Setup, etcd: EtcdSpec) -> Sim {
        let mut sim = Sim::new(config);
        sim.etcd = Some(Etcd::new(etcd, sim.nodes.len()));
        sim
    }

    /// The etcd cluster, if the scenario has one.
    pub fn etcd(&self) -> Option<&Etcd> {
        self.etcd.as_ref()
    }

    /// Builds the segment and schedules every node's boot.
    pub fn new(config: Setup) -> Sim {
        let nodes = (0..config.nodes.len())
            .map(|n| SimNode {
                core: None,
                health: (0..config.nodes[n].instances.len())
                    .map(|i| config.initial_health(n, i))
                    .collect(),
                armed: None,
                generation: 0,
                life: 0,
                frozen_until: None,
                leases: BTreeMap::new(),
            })
            .collect();
        let segment = Segment::new(config.nodes.len(), config.network, config.seed);
        let mut sim = Sim {
            now: Time::ZERO,
            queue: BinaryHeap::new(),
            seq: 0,
            step: 0,
            nodes,
            segment,
            timeline: Timeline::new(),
            config,
            etcd: None,
        };
        for n in 0..sim.nodes.len() {
            if let Some(at) = sim.config.nodes[n].boot_at {
                sim.schedule(at, Incident::Restart(n));
            }
        }
        sim
    }

    /// The scenario being run.
    pub fn config(&self) -> &Setup {
        &self.config
    }

    /// The simulated clock.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Everything recorded so far.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The longest one-way delay of the segment.
    pub fn max_delay(&self) -> Duration {
        self.segment.max_delay()
    }

    /// Whether `node` is running; panics on an unknown node.
    pub fn is_up(&self, node: usize) -> bool {
        self.nodes[node].core.is_some()
    }

    /// The running protocol node, `None` while the machine is down.
    pub fn node(&self, node: usize) -> Option<&Node> {
        self.nodes[node].core.as_ref()
    }

    /// The instance, `None` while its node is down.
    pub fn instance(&self, node: usize, instance: usize) -> Option<&Instance> {
        self.node(node).map(|n| n.instance(InstanceId(instance)))
    }

    /// The health the simulator feeds this instance (kept while down).
    pub fn health(&self, node: usize, instance: usize) -> &Health {
        &self.nodes[node].health[instance]
    }

    /// The nodes currently competing for `instance`: up, in Backup or Master.
    pub fn contenders(&self, instance: usize) -> Vec<Contender> {
        (0..self.nodes.len())
            .filter_map(|n| {
                let inst = self.instance(n, instance)?;
                matches!(inst.state(), State::Backup | State::Master).then(|| Contender {
                    node: n,
                    priority: inst.priority(),
                    preempt: inst.params().preempt,
                    preempt_delay: inst.params().preempt_delay,
                    address: inst.params().primary_address,
                })
            })
            .collect()
    }

    /// Injects `incident` at `at` (not before the current time).
    pub fn schedule(&mut self, at: Time, incident: Incident) {
        self.enqueue(at.max(self.now), Job::Inject(incident));
    }

    /// Injects `incident` at the current time, after everything already run
    /// (after [`Sim::run_until`]`(t)`, that is everything due at or before t).
    pub fn inject(&mut self, incident: Incident) {
        self.step += 1;
        self.apply_incident(incident);
    }

    /// Runs every job due at or before `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: Time) {
        while self.queue.peek().is_some_and(|q| q.at <= t) {
            let Some(q) = self.queue.pop() else { break };
            self.now = q.at;
            // A hung daemon handles nothing: its work waits for it.
            if let Some(until) = q.job.handler().and_then(|n| self.nodes[n].frozen_until)
                && self.now < until
            {
                self.enqueue(until, q.job);
                continue;
            }
            self.step += 1;
            match q.job {
                Job::Deliver { from, to, advert } => self.deliver(from, to, &advert),
                Job::Timer { node, generation } => self.timer(node, generation),
                Job::Inject(incident) => self.apply_incident(incident),
                Job::EtcdArrive(call, request) => self.etcd_arrive(call, request),
                Job::EtcdAnswer(call, reply) => self.etcd_answer(call, reply),
                Job::EtcdExpire(lease) => {
                    if let Some(etcd) = self.etcd.as_mut() {
                        let outcome = etcd.expire(self.now, lease);
                        self.notify(outcome.changes);
                    }
                }
                Job::Renew {
                    node,
                    life,
                    lock,
                    lease,
                    attempt,
                } => self.renew(node, life, lock, lease, attempt),
            }
        }
        self.now = self.now.max(t);
        self.timeline.extend_to(self.now);
    }

    /// Runs for `d` of simulated time from now (see [`Sim::run_until`]).
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    fn enqueue(&mut self, at: Time, job: Job) {
        self.seq += 1;
        self.queue.push(Queued {
            at,
            seq: self.seq,
            job,
        });
    }

    fn record(&mut self, record: Record) {
        self.timeline.push(self.now, self.step, record);
    }

    fn deliver(&mut self, from: usize, to: usize, advert: &AdvertRepr) {
        // Checked again on arrival: a cut made while the packet was in flight drops it.
        if !self.segment.can_hear(from, to) {
            return;
        }
        let src = self.config.address(from);
        let Some(core) = self.nodes[to].core.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        // Like the daemon, hand an advert only to the instances of its VRID.
        for id in core.instance_ids() {
            if core.instance(id).params().vrid == advert.vrid {
                out.extend(core.handle(self.now, id, Event::Advert { src, advert }));
            }
        }
        self.apply_outputs(to, out);
    }

    fn timer(&mut self, node: usize, generation: u64) {
        let sim_node = &mut self.nodes[node];
        if sim_node.generation != generation {
            return; // Superseded by a later deadline or a crash.
        }
        sim_node.armed = None;
        let Some(core) = sim_node.core.as_mut() else {
            return;
        };
        let out = core.handle_timeout(self.now);
        self.apply_outputs(node, out);
    }

    fn apply_incident(&mut self, incident: Incident) {
        self.record(Record::Injected(incident.clone()));
        match incident {
            Incident::Crash(n) => self.crash(n),
            Incident::Restart(n) => {
                self.crash(n);
                let members = (0..self.config.nodes[n].instances.len())
                    .map(|i| {
                        let mut instance = Instance::new(
                            self.config.params(n, i),
                            self.nodes[n].health[i].clone(),
                        );
                        let lock = self.lock_settings(LockOf::Instance(i));
                        instance.set_leadership(lock);
                        Member {
                            name: format!("VI_{i}"),
                            instance,
                        }
                    })
                    .collect();
                let groups = (self.config.nodes[n].sync_groups.iter().enumerate())
                    .map(|(g, group)| SyncGroup {
                        leadership: self.lock_settings(LockOf::Group(g)),
                        ..group.clone()
                    })
                    .collect();
                let mut core = Node::new(members, groups);
                let out = core.handle_all(self.now, Event::Startup);
                self.nodes[n].core = Some(core);
                self.apply_outputs(n, out);
            }
            Incident::Shutdown(n) => {
                if let Some(core) = self.nodes[n].core.as_mut() {
                    let out = core.handle_all(self.now, Event::Shutdown);
                    self.apply_outputs(n, out);
                }
            }
            Incident::Partition(groups) => self.segment.partition(&groups),
            Incident::Heal => self.segment.heal(),
            Incident::Health {
                node,
                instance,
                health,
            } => {
                self.nodes[node].health[instance] = health.clone();
                if let Some(core) = self.nodes[node].core.as_mut() {
                    let out = core.set_health(self.now, InstanceId(instance), &health);
                    self.apply_outputs(node, out);
                }
            }
            Incident::Loss(p) => self.segment.set_loss(p),
            Incident::EtcdCut(nodes) => {
                if let Some(etcd) = self.etcd.as_mut() {
                    etcd.cut_off(&nodes);
                }
            }
            Incident::EtcdQuorum(quorum) => {
                if let Some(etcd) = self.etcd.as_mut() {
                    let outcome = etcd.set_quorum(self.now, quorum);
                    for (lease, at) in outcome.expiries {
                        self.enqueue(at, Job::EtcdExpire(lease));
                    }
                }
            }
            Incident::EtcdDeleteKey(lock) => {
                if let Some(etcd) = self.etcd.as_mut() {
                    let outcome = etcd.delete_key(lock);
                    self.notify(outcome.changes);
                }
            }
            Incident::Hang { node, for_ } => {
                self.nodes[node].frozen_until = Some(self.now + for_);
            }
        }
    }

    /// Sends a request from `node`'s etcd client: it arrives after the
    /// latency, or fails at the client's timeout if etcd cannot answer.
    fn etcd_request(&mut self, node: usize, lock: LockOf, request: Request, attempt: u64) {
        let Some(etcd) = self.etcd.as_ref() else {
            return;
        };
        let call = Call {
            node,
            life: self.nodes[node].life,
            lock,
            attempt,
            sent: self.now,
        };
        if etcd.answers(node) {
            let at = self.now + etcd.spec().latency;
            self.enqueue(at, Job::EtcdArrive(call, request));
        } else {
            let at = self.now + etcd.spec().request_timeout;
            self.enqueue(at, Job::EtcdAnswer(call, Reply::TimedOut));
        }
    }

    fn etcd_arrive(&mut self, call: Call, request: Request) {
        let Some(etcd) = self.etcd.as_mut() else {
            return;
        };
        let (latency, timeout) = (etcd.spec().latency, etcd.spec().request_timeout);
        if !etcd.answers(call.node) {
            let at = (call.sent + timeout).max(self.now);
            self.enqueue(at, Job::EtcdAnswer(call, Reply::TimedOut));
            return;
        }
        let outcome = etcd.process(self.now, call.node, call.lock, request);
        for (lease, at) in outcome.expiries {
            self.enqueue(at, Job::EtcdExpire(lease));
        }
        if let Some(reply) = outcome.reply {
            self.enqueue(self.now + latency, Job::EtcdAnswer(call, reply));
        }
        self.notify(outcome.changes);
    }

    /// Watch notifications to every node etcd can reach (the new holder
    /// already knows).
    fn notify(&mut self, changes: Vec<(LockOf, Option<usize>, u64)>) {
        let Some(etcd) = self.etcd.as_ref() else {
            return;
        };
        let latency = etcd.spec().latency;
        for (lock, holder, revision) in changes {
            for node in 0..self.nodes.len() {
                if !etcd.answers(node) {
                    continue;
                }
                let call = Call {
                    node,
                    life: self.nodes[node].life,
                    lock,
                    attempt: 0,
                    sent: self.now,
                };
                let job = Job::EtcdAnswer(call, Reply::Holder(holder, revision));
                self.seq += 1;
                self.queue.push(Queued {
                    at: self.now + latency,
                    seq: self.seq,
                    job,
                });
            }
        }
    }

    fn etcd_answer(&mut self, call: Call, reply: Reply) {
        let Call {
            node,
            life,
            lock,
            attempt,
            sent,
        } = call;
        if self.nodes[node].life != life {
            return;
        }
        let names: Vec<String> = (0..self.nodes.len()).map(|n| format!("n{n}")).collect();
        let renewal = self.nodes[node]
            .leases
            .get(&lock)
            .is_some_and(|&(_, a)| a == attempt);
        let event = match &reply {
            Reply::Granted {
                lease,
                ttl,
                revision,
            } => {
                self.nodes[node].leases.insert(lock, (*lease, attempt));
                LeaseEvent::Granted {
                    attempt,
                    sent,
                    ttl: *ttl,
                    revision: *revision,
                }
            }
            Reply::Denied(holder) => LeaseEvent::Denied {
                attempt,
                holder: &names[*holder],
            },
            Reply::Renewed(ttl) => LeaseEvent::Renewed {
                attempt,
                sent,
                ttl: *ttl,
            },
            Reply::Lost => {
                self.nodes[node].leases.remove(&lock);
                LeaseEvent::Lost { attempt }
            }
            Reply::Holder(holder, revision) => LeaseEvent::Holder {
                holder: holder.map(|h| names[h].as_str()),
                revision: *revision,
            },
            // A renewal that got no answer says nothing of the lease; an
            // acquisition's fails its attempt.
            Reply::TimedOut if renewal || attempt == 0 => LeaseEvent::Reachable(false),
            Reply::TimedOut => LeaseEvent::Failed { attempt },
        };
        let Some(core) = self.nodes[node].core.as_mut() else {
            return;
        };
        let out = match lock {
            LockOf::Instance(i) => core.handle(self.now, InstanceId(i), Event::Lease(event)),
            LockOf::Group(g) => core.handle_group_lease(self.now, GroupId(g), event),
        };
        self.apply_outputs(node, out);
        if let Reply::Granted { lease, .. } = reply
            && self.nodes[node].leases.get(&lock) == Some(&(lease, attempt))
        {
            self.schedule_renewal(node, lock, lease, attempt);
        }
    }

    /// The settings of lock `of`, if the scenario has etcd and that lock.
    fn lock_settings(&self, of: LockOf) -> Option<LeaseSettings> {
        self.etcd.as_ref()?.spec().lock(of).cloned()
    }

    fn schedule_renewal(&mut self, node: usize, lock: LockOf, lease: u64, attempt: u64) {
        let Some(every) = self.lock_settings(lock).map(|l| l.renew_every()) else {
            return;
        };
        let life = self.nodes[node].life;
        self.enqueue(
            self.now + every,
            Job::Renew {
                node,
                life,
                lock,
                lease,
                attempt,
            },
        );
    }

    fn renew(&mut self, node: usize, life: u64, lock: LockOf, lease: u64, attempt: u64) {
        let sim_node = &self.nodes[node];
        if sim_node.life != life || sim_node.leases.get(&lock) != Some(&(lease, attempt)) {
            return;
        }
        self.etcd_request(node, lock, Request::Renew(lease), attempt);
        self.schedule_renewal(node, lock, lease, attempt);
    }

    /// Stops the machine dead; its queued timer becomes stale.
    fn crash(&mut self, n: usize) {
        let node = &mut self.nodes[n];
        node.core = None;
        node.armed = None;
        node.generation += 1;
        node.life += 1;
        node.frozen_until = None;
        node.leases.clear();
    }

    fn apply_outputs(&mut self, node: usize, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Instance(InstanceId(instance), action) => {
                    self.apply_action(node, instance, action)
                }
                Output::Group(GroupId(group), transition) => self.record(Record::Group {
                    node,
                    group,
                    transition,
                }),
                Output::GroupLease(GroupId(group), action) => {
                    self.lease_action(node, LockOf::Group(group), action)
                }
            }
        }
        self.rearm(node);
    }

    fn apply_action(&mut self, node: usize, instance: usize, action: Action) {
        let record = match action {
            Action::SendAdvert(advert) => self.send(node, instance, advert),
            Action::AddVips => Record::Vips {
                node,
                instance,
                held: true,
            },
            Action::RemoveVips => Record::Vips {
                node,
                instance,
                held: false,
            },
            Action::Announce => Record::Announce { node, instance },
            Action::Transition(transition) => Record::Transition {
                node,
                instance,
                transition,
            },
            Action::Report(report) => Record::Report {
                node,
                instance,
                report,
            },
            Action::Lease(LeaseAction::Fence(until)) => Record::Fence {
                node,
                instance,
                until,
            },
            Action::Lease(action) => {
                self.lease_action(node, LockOf::Instance(instance), action);
                return;
            }
        };
        self.record(record);
    }

    /// Acquires or releases a lock (fences are the instances' own records).
    fn lease_action(&mut self, node: usize, lock: LockOf, action: LeaseAction) {
        match action {
            LeaseAction::Acquire(attempt) => {
                self.etcd_request(node, lock, Request::Acquire, attempt)
            }
            LeaseAction::Release(_) => {
                self.nodes[node].leases.remove(&lock);
                self.etcd_request(node, lock, Request::Release, 0);
            }
            LeaseAction::Fence(_) => {}
        }
    }

    /// Puts one copy of the advert on the wire to every other live node.
    fn send(&mut self, from: usize, instance: usize, advert: AdvertRepr) -> Record {
        let mut arrivals = Vec::new();
        for to in 0..self.nodes.len() {
            if to == from || !self.is_up(to) {
                continue;
            }
            if let Some(at) = self.segment.transmit(self.now, from, to) {
                arrivals.push((to, at));
                self.enqueue(
                    at,
                    Job::Deliver {
                        from,
                        to,
                        advert: advert.clone(),
                    },
                );
            }
        }
        Record::Advert {
            node: from,
            instance,
            priority: advert.priority,
            interval: advert.max_advert_interval,
            arrivals,
        }
    }

    /// Queues a Timer job for the node's earliest deadline if that changed.
    fn rearm(&mut self, n: usize) {
        let deadline = self.nodes[n].core.as_ref().and_then(Node::poll_timeout);
        let node = &mut self.nodes[n];
        if deadline == node.armed {
            return;
        }
        node.armed = deadline;
        node.generation += 1;
        let generation = node.generation;
        if let Some(at) = deadline {
            self.enqueue(
                at.max(self.now),
                Job::Timer {
                    node: n,
                    generation,
                },
            );
        }
    }
}
