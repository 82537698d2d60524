//! All instances of one node, and the sync groups that tie some of them together.
//!
//! The driver's contract: feed events with [`Node::handle`] (`now`, the
//! instance's [`InstanceId`], the event), call [`Node::handle_timeout`] when
//! [`Node::poll_timeout`] says, and carry out the [`Output`]s in order. The
//! node reads no clock and does no I/O.
//!
//! keepalived's `vrrp_sync_group` semantics:
//! - A group goes to Master only when every member wants to (its own
//!   Master_Down_Timer ran out, or it would preempt); a member that wants to
//!   while another still follows a live master stays Backup and re-arms its
//!   timer. Backup is preferred to thrashing.
//! - When a Master member steps down to Backup (a better master was heard),
//!   the others follow to Backup, without priority-0 adverts.
//! - While any member is in Fault every member is in Fault.
//!
//! Group hooks run once per group transition, when all members have arrived
//! in the same state; they get priority 0, as keepalived's group scripts do.
//!
//! A group may need a leadership lock in etcd (`leadership` on the group):
//! the node holds it for the whole group, as an instance holds its own. The
//! group asks for it when every member wants Master and moves only once it
//! is granted; each member's addresses are fenced by it; when it can no
//! longer be relied on every Master member resigns; it is released once no
//! member is Master (and none wants to be).
//!
//! Nodes whose groups each outrank the other on some member (crossed
//! priorities) would otherwise retake Master in lock-step forever: they step
//! down on hearing each other and time out together. As the RFC breaks a tie
//! between two masters by the higher primary address, a group yields to a
//! higher address: when it is pulled down by one, or while one member wants
//! Master but another follows a live master with a higher address, it holds
//! back for [`HOLD_INTERVALS`] advert intervals, longer than any
//! Master_Down_Interval, so the other node's group gets there first and this
//! one hears it before it may move.

use std::collections::BTreeSet;

use super::fault::Fault;
use super::health::Health;
use super::instance::{
    Action, Event, GroupCause, Instance, LeadershipLoss, Params, Reason, State, Transition,
};
use super::leadership::{Change, Leadership, LeaseAction, LeaseEvent, LeaseSettings};
use super::time::Time;

/// How long, in advert intervals, a group pulled down by a higher address
/// waits before it may become Master again: a Master_Down_Interval is at most
/// 4 intervals (3 + Skew_Time, which is below one), plus one for the other
/// group's first advert to arrive.
pub const HOLD_INTERVALS: u32 = 5;

/// Names an instance of a [`Node`]: its position in the order the node was
/// built with (the configuration's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub usize);

/// Names a sync group of a [`Node`]: its position in the order the node was
/// built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub usize);

/// A named instance as the node holds it.
#[derive(Debug, Clone)]
pub struct Member {
    /// The instance's configured name.
    pub name: String,
    /// Its state machine.
    pub instance: Instance,
}

/// Instances that change state together (keepalived's `vrrp_sync_group`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    /// The group's configured name.
    pub name: String,
    /// Its members.
    pub members: Vec<InstanceId>,
    /// The lock in etcd the group must hold to be Master, if any.
    pub leadership: Option<LeaseSettings>,
}

/// What a sync group carries across a reload ([`Node::into_parts`]).
#[derive(Debug, Clone)]
pub struct KeptGroup {
    /// The group's name.
    pub name: String,
    /// Its last reported state.
    pub state: State,
    lock: Option<Leadership>,
}

/// An action for the driver, attributed to an instance or a sync group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// An action of this instance.
    Instance(InstanceId, Action),
    /// Every member of the group reached `to`: run the group's hooks once.
    Group(GroupId, Transition),
    /// Acquire or release the group's leadership lock. A release is carried
    /// out only after every member's addresses are gone and the hooks
    /// queued before it (the group's and the members') have run.
    GroupLease(GroupId, LeaseAction),
}

/// A node's instances and sync groups; see the module docs for the group rules.
#[derive(Debug, Clone)]
pub struct Node {
    members: Vec<Member>,
    groups: Vec<SyncGroup>,
    group_state: Vec<State>,
    /// Per group: may not become Master before this (see [`HOLD_INTERVALS`]).
    hold_until: Vec<Option<Time>>,
    group_of: Vec<Option<usize>>,
    /// Per group: its leadership lock, if it needs one.
    locks: Vec<Option<Leadership>>,
    /// Every instance's next deadline, kept in order so the earliest is
    /// found in O(log n) whatever the number of instances.
    deadlines: Deadlines,
}

/// Instances' deadlines, by instance and in time order.
#[derive(Debug, Clone, Default)]
struct Deadlines {
    by_instance: Vec<Option<Time>>,
    in_order: BTreeSet<(Time, usize)>,
}

impl Deadlines {
    fn set(&mut self, index: usize, deadline: Option<Time>) {
        if self.by_instance.len() <= index {
            self.by_instance.resize(index + 1, None);
        }
        let old = std::mem::replace(&mut self.by_instance[index], deadline);
        if old == deadline {
            return;
        }
        if let Some(old) = old {
            self.in_order.remove(&(old, index));
        }
        if let Some(new) = deadline {
            self.in_order.insert((new, index));
        }
    }

    fn earliest(&self) -> Option<Time> {
        self.in_order.first().map(|&(at, _)| at)
    }

    /// The lowest instance index from `from` on whose deadline is `now` or
    /// earlier: due instances fire in configuration order.
    fn first_due(&self, now: Time, from: usize) -> Option<usize> {
        self.in_order
            .range(..=(now, usize::MAX))
            .map(|&(_, index)| index)
            .filter(|&index| index >= from)
            .min()
    }
}

impl Node {
    /// Builds a node; a member listed in several groups stays in the first one
    /// (configuration validation rejects that case before it gets here).
    pub fn new(mut members: Vec<Member>, groups: Vec<SyncGroup>) -> Node {
        let mut group_of = vec![None; members.len()];
        for (g, group) in groups.iter().enumerate() {
            for &InstanceId(m) in &group.members {
                if let Some(slot) = group_of.get_mut(m) {
                    slot.get_or_insert(g);
                }
            }
        }
        for (member, group) in members.iter_mut().zip(&group_of) {
            member.instance.set_grouped(group.is_some());
        }
        let group_state = vec![State::Initialize; groups.len()];
        let locks = groups
            .iter()
            .map(|g| g.leadership.clone().map(Leadership::new))
            .collect();
        let mut node = Node {
            members,
            locks,
            hold_until: vec![None; groups.len()],
            groups,
            group_state,
            group_of,
            deadlines: Deadlines::default(),
        };
        node.resync_all();
        node
    }

    /// Records instance `index`'s current deadline.
    fn resync(&mut self, index: usize) {
        let deadline = self.members[index].instance.poll_timeout();
        self.deadlines.set(index, deadline);
    }

    fn resync_all(&mut self) {
        for index in 0..self.members.len() {
            self.resync(index);
        }
    }

    /// Takes the node apart for a reload: the members keep their state, and
    /// each group's last reported state and lock go with its name.
    pub fn into_parts(self) -> (Vec<Member>, Vec<KeptGroup>) {
        let kept = self
            .groups
            .into_iter()
            .zip(self.group_state)
            .zip(self.locks)
            .map(|((group, state), lock)| KeptGroup {
                name: group.name,
                state,
                lock,
            })
            .collect();
        (self.members, kept)
    }

    /// Like [`Node::new`], but groups known before a reload start from their
    /// last reported state, so the reload does not report them (or run their
    /// hooks) again, and keep their lock if they still need the same one.
    pub fn with_group_states(
        members: Vec<Member>,
        groups: Vec<SyncGroup>,
        kept: &[KeptGroup],
    ) -> Node {
        let mut node = Node::new(members, groups);
        for (g, group) in node.groups.iter().enumerate() {
            let Some(old) = kept.iter().find(|k| k.name == group.name) else {
                continue;
            };
            node.group_state[g] = old.state;
            if let (Some(new), Some(lock)) = (&group.leadership, &old.lock)
                && lock.settings() == new
            {
                node.locks[g] = Some(lock.clone());
            }
        }
        node
    }

    /// Settles the members after the groups changed (a reload): releases
    /// those a group no longer holds in Fault, holds those a group now does,
    /// and reports groups that arrived in a new state.
    pub fn regroup(&mut self, now: Time) -> Vec<Output> {
        let mut out = Vec::new();
        for index in 0..self.members.len() {
            let instance = &mut self.members[index].instance;
            if self.group_of[index].is_none() && instance.held_by_group() {
                let actions = instance.set_group_fault(now, None);
                out.extend(
                    actions
                        .into_iter()
                        .map(|a| Output::Instance(InstanceId(index), a)),
                );
            }
        }
        for group in 0..self.groups.len() {
            self.sync_faults(now, group, &mut out);
            self.take_over_together(now, group, &mut out);
            self.report_group(group, &mut out);
        }
        self.settle_locks(&mut out);
        self.resync_all();
        out
    }

    /// The instances, in configuration order (indices used everywhere else).
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The sync groups, in configuration order.
    pub fn groups(&self) -> &[SyncGroup] {
        &self.groups
    }

    /// Every instance's id, in order.
    pub fn instance_ids(&self) -> impl Iterator<Item = InstanceId> + use<> {
        (0..self.members.len()).map(InstanceId)
    }

    /// Instance `id`; panics if it is not one of this node's.
    pub fn instance(&self, id: InstanceId) -> &Instance {
        &self.members[id.0].instance
    }

    /// New settings for instance `id` (a reload); see
    /// [`Instance::update_params`]. Panics if it is not one of this node's.
    pub fn update_params(&mut self, id: InstanceId, params: Params) {
        self.members[id.0].instance.update_params(params);
        self.resync(id.0);
    }

    /// The state last reported for `group`; panics if it is not one of this
    /// node's.
    pub fn group_state(&self, group: GroupId) -> State {
        self.group_state[group.0]
    }

    /// The sync group of instance `id`, if it is in one.
    pub fn group_of(&self, id: InstanceId) -> Option<GroupId> {
        self.group_of.get(id.0).copied().flatten().map(GroupId)
    }

    /// The leadership lock of `group`, if it needs one; panics if it is not
    /// one of this node's.
    pub fn group_lock(&self, group: GroupId) -> Option<&Leadership> {
        self.locks[group.0].as_ref()
    }

    /// When [`Node::handle_timeout`] must next be called: the earliest
    /// deadline of any instance, or of a group's hold.
    pub fn poll_timeout(&self) -> Option<Time> {
        let earliest = self.deadlines.earliest();
        debug_assert_eq!(
            earliest,
            self.members
                .iter()
                .filter_map(|m| m.instance.poll_timeout())
                .min(),
            "the deadline index is out of step with the instances"
        );
        let lock_deadlines = self
            .locks
            .iter()
            .enumerate()
            .filter(|&(g, _)| self.any_master(g))
            .filter_map(|(_, lock)| lock.as_ref()?.deadline());
        earliest
            .into_iter()
            .chain(self.hold_until.iter().flatten().copied())
            .chain(lock_deadlines)
            .min()
    }

    /// Feeds one event to one instance and lets its sync group follow.
    pub fn handle(&mut self, now: Time, id: InstanceId, event: Event<'_>) -> Vec<Output> {
        let mut out = Vec::new();
        let index = id.0;
        if index >= self.members.len() {
            return out;
        }
        self.check_locks(now, &mut out);
        let actions = self.members[index].instance.handle(now, event);
        // Only a timer running out moves a group up: an advert a member would
        // preempt counts as wanting Master, but as alone, it takes over when
        // a timer says so, so adverts arriving together are all heard first.
        let timer = matches!(event, Event::Timer);
        self.follow(now, index, actions, timer, &mut out);
        self.settle_locks(&mut out);
        // Only this instance, or its group's members, can have moved.
        match self.group_of[index] {
            Some(group) => self.resync_group(group),
            None => self.resync(index),
        }
        out
    }

    /// Feeds etcd's answer about `group`'s leadership lock.
    pub fn handle_group_lease(
        &mut self,
        now: Time,
        group: GroupId,
        event: LeaseEvent<'_>,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        let g = group.0;
        if self.locks.get(g).is_none_or(Option::is_none) {
            return out;
        }
        self.check_locks(now, &mut out);
        let master = self.any_master(g);
        let Some(change) = self.locks[g].as_mut().map(|lock| lock.handle(now, event)) else {
            return out;
        };
        match change {
            Change::Nothing | Change::Unreachable | Change::Renewed if !master => {}
            Change::Nothing | Change::Unreachable => {}
            // Renewed, or reclaimed after an outage held through: the
            // addresses live on until the new fence.
            Change::Acquired | Change::Renewed => {
                if master {
                    self.fence_masters(g, &mut out);
                } else if !self.take_over_together(now, g, &mut out) {
                    self.release_lock(g, &mut out);
                }
            }
            Change::Unwanted => {
                let attempt = self.locks[g].as_ref().map_or(0, Leadership::attempt);
                out.push(Output::GroupLease(group, LeaseAction::Release(attempt)));
            }
            Change::Taken | Change::Lost if !master => {}
            Change::Taken | Change::Lost => {
                let why = match self.holder(g) {
                    Some(holder) if change == Change::Taken => LeadershipLoss::HeldBy(holder),
                    _ => LeadershipLoss::Gone,
                };
                self.resign_group(now, g, &why, &mut out);
            }
            Change::HeldElsewhere => {
                let holder = self.holder(g).unwrap_or_default();
                if master {
                    self.resign_group(now, g, &LeadershipLoss::HeldBy(holder), &mut out);
                } else {
                    for index in self.member_indices(g) {
                        let actions = self.members[index].instance.refused_by_lock(holder.clone());
                        push_actions(&mut out, index, actions);
                    }
                }
            }
            Change::Reclaim => self.ask_lock(g, &mut out),
            // Asked for only when the whole group is ready to move: a lock
            // granted to a group that cannot use it would only be released
            // again, and freed again.
            Change::Freed => {
                if self.may_move(now, g) {
                    self.ask_lock(g, &mut out);
                }
            }
        }
        self.report_group(g, &mut out);
        self.settle_locks(&mut out);
        self.resync_group(g);
        out
    }

    /// Feeds an event to every instance in order (start-up, shutdown).
    pub fn handle_all(&mut self, now: Time, event: Event<'_>) -> Vec<Output> {
        let mut out = Vec::new();
        for id in self.instance_ids() {
            out.extend(self.handle(now, id, event));
        }
        out
    }

    /// Updates an instance's health.
    pub fn set_health(&mut self, now: Time, id: InstanceId, health: &Health) -> Vec<Output> {
        self.handle(now, id, Event::Health(health))
    }

    /// Delivers [`Event::Timer`] to every instance whose deadline has passed,
    /// and lets groups whose hold ended move if every member wants to.
    pub fn handle_timeout(&mut self, now: Time) -> Vec<Output> {
        let mut out = Vec::new();
        self.check_locks(now, &mut out);
        let mut from = 0;
        while let Some(index) = self.deadlines.first_due(now, from) {
            out.extend(self.handle(now, InstanceId(index), Event::Timer));
            from = index + 1;
        }
        for group in 0..self.groups.len() {
            if self.hold_until[group].is_some_and(|h| h <= now) {
                self.hold_until[group] = None;
                self.take_over_together(now, group, &mut out);
                self.report_group(group, &mut out);
                self.resync_group(group);
            }
        }
        self.settle_locks(&mut out);
        out
    }

    fn follow(
        &mut self,
        now: Time,
        origin: usize,
        actions: Vec<Action>,
        timer: bool,
        out: &mut Vec<Output>,
    ) {
        let mut moved = Vec::new();
        for action in actions {
            if let Action::Transition(t) = &action {
                moved.push(t.clone());
            }
            out.push(Output::Instance(InstanceId(origin), action));
        }
        let Some(group) = self.group_of[origin] else {
            return;
        };
        for transition in moved {
            self.pull_members(now, group, origin, &transition, out);
        }
        self.yield_to_higher_address(now, group, origin);
        self.sync_faults(now, group, out);
        if timer {
            self.take_over_together(now, group, out);
        }
        self.report_group(group, out);
    }

    /// Moves the other members along with `origin`: down to Backup when it
    /// stepped down, up to Master when it got there on its own (an address
    /// owner, which does not wait for the group).
    fn pull_members(
        &mut self,
        now: Time,
        group: usize,
        origin: usize,
        t: &Transition,
        out: &mut Vec<Output>,
    ) {
        let target = match (t.from, t.to) {
            (_, State::Master) => State::Master,
            (State::Master, State::Backup) => State::Backup,
            _ => return,
        };
        let ours = self.members[origin].instance.params().primary_address;
        if let Reason::HigherPriority { from, .. } | Reason::HigherAddress { from, .. } = &t.reason
            && *from > ours
        {
            self.hold(now, group, origin);
        }
        let cause = GroupCause::MemberBecame {
            member: self.members[origin].name.clone(),
            state: target,
        };
        for index in self.member_indices(group) {
            if index == origin {
                continue;
            }
            let reason = Reason::SyncGroup {
                group: self.groups[group].name.clone(),
                cause: cause.clone(),
            };
            let instance = &mut self.members[index].instance;
            let actions = match target {
                State::Master => instance.take_over(now, reason),
                _ => instance.step_down_with_group(now, reason),
            };
            out.extend(
                actions
                    .into_iter()
                    .map(|a| Output::Instance(InstanceId(index), a)),
            );
        }
    }

    /// Holds the group back while it is split between wanting Master and
    /// following a live master with a higher address (see the module docs).
    fn yield_to_higher_address(&mut self, now: Time, group: usize, origin: usize) {
        let members = self.member_indices(group);
        let instance = |i: usize| &self.members[i].instance;
        let split = members.iter().any(|&i| instance(i).wants_master())
            && members
                .iter()
                .any(|&i| instance(i).follows_higher_address(now));
        if split {
            self.hold(now, group, origin);
        }
    }

    fn hold(&mut self, now: Time, group: usize, origin: usize) {
        let interval = self.members[origin].instance.params().advert_interval;
        let until = now + HOLD_INTERVALS * interval.as_duration();
        let hold = &mut self.hold_until[group];
        *hold = Some(hold.map_or(until, |h| h.max(until)));
    }

    /// Moves the whole group to Master once every member is Master or a
    /// Backup that wants to be, and the group's lock (if any) lets it; asks
    /// for the lock when that is all it lacks. Returns whether it moved.
    fn take_over_together(&mut self, now: Time, group: usize, out: &mut Vec<Output>) -> bool {
        if !self.may_move(now, group) {
            return false;
        }
        let members = self.member_indices(group);
        let fence = match &self.locks[group] {
            Some(lock) if !lock.lets_act(now) => {
                self.ask_lock(group, out);
                return false;
            }
            Some(lock) => Some(lock.fence()),
            None => None,
        };
        for index in members {
            let instance = &mut self.members[index].instance;
            if instance.state() != State::Backup {
                continue;
            }
            if let Some(until) = fence {
                // Before the addresses exist: a hang right after adding them
                // must already find them fenced.
                let fence = Action::Lease(LeaseAction::Fence(until));
                out.push(Output::Instance(InstanceId(index), fence));
            }
            let reason = Reason::SyncGroup {
                group: self.groups[group].name.clone(),
                cause: GroupCause::EveryMemberWantsMaster,
            };
            let actions = instance.take_over(now, reason);
            push_actions(out, index, actions);
        }
        true
    }

    /// Whether `group` may move to Master now but for its lock: no hold, and
    /// every member is Master or a Backup that wants to be.
    fn may_move(&self, now: Time, group: usize) -> bool {
        let held = self.hold_until[group].is_some_and(|h| now < h);
        !held
            && self.groups[group].members.iter().all(|&InstanceId(i)| {
                let instance = &self.members[i].instance;
                instance.state() == State::Master
                    || (instance.state() == State::Backup && instance.wants_master())
            })
    }

    /// Whether any member of `group` is Master.
    fn any_master(&self, group: usize) -> bool {
        self.groups[group]
            .members
            .iter()
            .any(|&InstanceId(i)| self.members[i].instance.state() == State::Master)
    }

    /// Whether any member of `group` wants to become Master.
    fn any_wants_master(&self, group: usize) -> bool {
        self.groups[group]
            .members
            .iter()
            .any(|&InstanceId(i)| self.members[i].instance.wants_master())
    }

    /// Another node holding `group`'s lock, as last learnt.
    fn holder(&self, group: usize) -> Option<String> {
        self.locks[group].as_ref()?.holder().map(str::to_owned)
    }

    fn ask_lock(&mut self, group: usize, out: &mut Vec<Output>) {
        if let Some(action) = self.locks[group].as_mut().and_then(Leadership::ask) {
            out.push(Output::GroupLease(GroupId(group), action));
        }
    }

    fn release_lock(&mut self, group: usize, out: &mut Vec<Output>) {
        if let Some(action) = self.locks[group].as_mut().and_then(Leadership::release) {
            out.push(Output::GroupLease(GroupId(group), action));
        }
    }

    /// Gives each Master member's addresses the lock's current fence.
    fn fence_masters(&self, group: usize, out: &mut Vec<Output>) {
        let Some(lock) = &self.locks[group] else {
            return;
        };
        for &InstanceId(index) in &self.groups[group].members {
            if self.members[index].instance.state() == State::Master {
                let fence = Action::Lease(LeaseAction::Fence(lock.fence()));
                out.push(Output::Instance(InstanceId(index), fence));
            }
        }
    }

    /// Every Master member of `group` resigns: the lock can no longer be
    /// relied on.
    fn resign_group(
        &mut self,
        now: Time,
        group: usize,
        why: &LeadershipLoss,
        out: &mut Vec<Output>,
    ) {
        for index in self.member_indices(group) {
            let actions = self.members[index]
                .instance
                .resign_with_group(now, why.clone());
            push_actions(out, index, actions);
        }
        self.report_group(group, out);
    }

    /// A group whose Master members' lock ran out resigns, or under
    /// `on_etcd_loss = "keep"` holds on without a fence while etcd is away.
    /// First thing on every input: after a hang the lock may have run out
    /// long ago, and nothing may be sent on its behalf before this.
    fn check_locks(&mut self, now: Time, out: &mut Vec<Output>) {
        for group in 0..self.groups.len() {
            let Some(lock) = &mut self.locks[group] else {
                continue;
            };
            if lock.lets_act(now)
                || !self.groups[group]
                    .members
                    .iter()
                    .any(|&InstanceId(i)| self.members[i].instance.state() == State::Master)
            {
                continue;
            }
            if lock.keep_through_outage() {
                self.fence_masters(group, out);
            } else {
                self.resign_group(now, group, &LeadershipLoss::NotRenewed, out);
                self.resync_group(group);
            }
        }
    }

    /// Releases the lock of every group with no member Master or wanting to
    /// be: after the members' step-down (and the group's report), so the
    /// driver queues the release behind their address removal and hooks.
    fn settle_locks(&mut self, out: &mut Vec<Output>) {
        for group in 0..self.groups.len() {
            let idle = !self.any_master(group) && !self.any_wants_master(group);
            if idle && self.locks[group].is_some() {
                self.release_lock(group, out);
            }
        }
    }

    fn resync_group(&mut self, group: usize) {
        for member in self.member_indices(group) {
            self.resync(member);
        }
    }

    /// Holds every member in Fault while any other member has a fault of its own.
    fn sync_faults(&mut self, now: Time, group: usize, out: &mut Vec<Output>) {
        let members = self.member_indices(group);
        let own_faults: Vec<Option<Fault>> = members
            .iter()
            .map(|&i| self.members[i].instance.health().fault.clone())
            .collect();
        for (k, &index) in members.iter().enumerate() {
            let blame =
                members
                    .iter()
                    .zip(&own_faults)
                    .enumerate()
                    .find_map(|(j, (&other, fault))| {
                        (j != k && fault.is_some()).then(|| Fault::SyncGroup {
                            group: self.groups[group].name.clone(),
                            member: self.members[other].name.clone(),
                        })
                    });
            let instance = &mut self.members[index].instance;
            if blame.is_some() != instance.held_by_group() {
                let actions = instance.set_group_fault(now, blame);
                out.extend(
                    actions
                        .into_iter()
                        .map(|a| Output::Instance(InstanceId(index), a)),
                );
            }
        }
    }

    /// The members of `group` as positions in `self.members`.
    fn member_indices(&self, group: usize) -> Vec<usize> {
        self.groups[group].members.iter().map(|m| m.0).collect()
    }

    fn report_group(&mut self, group: usize, out: &mut Vec<Output>) {
        let mut states = self.groups[group]
            .members
            .iter()
            .map(|&InstanceId(i)| self.members[i].instance.state());
        let Some(first) = states.next() else { return };
        if states.any(|s| s != first) || self.group_state[group] == first {
            return;
        }
        let from = std::mem::replace(&mut self.group_state[group], first);
        // keepalived passes priority 0 to a group's notify script.
        let priority = 0;
        let reason = Reason::SyncGroup {
            group: self.groups[group].name.clone(),
            cause: GroupCause::AllMembers(first),
        };
        out.push(Output::Group(
            GroupId(group),
            Transition {
                from,
                to: first,
                reason,
                priority,
            },
        ));
    }
}

fn push_actions(out: &mut Vec<Output>, index: usize, actions: Vec<Action>) {
    out.extend(
        actions
            .into_iter()
            .map(|a| Output::Instance(InstanceId(index), a)),
    );
}
