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
use super::instance::{Action, Event, GroupCause, Instance, Params, Reason, State, Transition};
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
}

/// An action for the driver, attributed to an instance or a sync group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// An action of this instance.
    Instance(InstanceId, Action),
    /// Every member of the group reached `to`: run the group's hooks once.
    Group(GroupId, Transition),
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
        let mut node = Node {
            members,
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
    /// each group's last reported state goes with its name.
    pub fn into_parts(self) -> (Vec<Member>, Vec<(String, State)>) {
        let states = self
            .groups
            .iter()
            .map(|g| g.name.clone())
            .zip(self.group_state)
            .collect();
        (self.members, states)
    }

    /// Like [`Node::new`], but groups known before a reload start from their
    /// last reported state, so the reload does not report them (or run their
    /// hooks) again.
    pub fn with_group_states(
        members: Vec<Member>,
        groups: Vec<SyncGroup>,
        states: &[(String, State)],
    ) -> Node {
        let mut node = Node::new(members, groups);
        for (g, group) in node.groups.iter().enumerate() {
            if let Some((_, state)) = states.iter().find(|(name, _)| *name == group.name) {
                node.group_state[g] = *state;
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
        earliest
            .into_iter()
            .chain(self.hold_until.iter().flatten().copied())
            .min()
    }

    /// Feeds one event to one instance and lets its sync group follow.
    pub fn handle(&mut self, now: Time, id: InstanceId, event: Event<'_>) -> Vec<Output> {
        let mut out = Vec::new();
        let index = id.0;
        if index >= self.members.len() {
            return out;
        }
        let actions = self.members[index].instance.handle(now, event);
        // Only a timer running out moves a group up: an advert a member would
        // preempt counts as wanting Master, but as alone, it takes over when
        // a timer says so, so adverts arriving together are all heard first.
        let timer = matches!(event, Event::Timer);
        self.follow(now, index, actions, timer, &mut out);
        // Only this instance, or its group's members, can have moved.
        match self.group_of[index] {
            Some(group) => {
                for member in self.member_indices(group) {
                    self.resync(member);
                }
            }
            None => self.resync(index),
        }
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
                for member in self.member_indices(group) {
                    self.resync(member);
                }
            }
        }
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
    /// Backup that wants to be.
    fn take_over_together(&mut self, now: Time, group: usize, out: &mut Vec<Output>) {
        if self.hold_until[group].is_some_and(|h| now < h) {
            return;
        }
        let members = self.member_indices(group);
        let ready = members.iter().all(|&i| {
            let instance = &self.members[i].instance;
            instance.state() == State::Master
                || (instance.state() == State::Backup && instance.wants_master())
        });
        if !ready {
            return;
        }
        for index in members {
            let reason = Reason::SyncGroup {
                group: self.groups[group].name.clone(),
                cause: GroupCause::EveryMemberWantsMaster,
            };
            let actions = self.members[index].instance.take_over(now, reason);
            out.extend(
                actions
                    .into_iter()
                    .map(|a| Output::Instance(InstanceId(index), a)),
            );
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
