//! One VRRP instance's state machine, RFC 9568 section 6.4 clause by clause,
//! plus the Fault and Stopped states keepalived users rely on.
//!
//! Events go in with `now`; actions come out, and [`Instance::poll_timeout`] says when
//! the driver must next feed [`Event::Timer`]. No I/O, no clock, no async.

use core::fmt;
use core::net::IpAddr;
use core::time::Duration;

use super::fault::Fault;
use super::health::Health;
use super::leadership::{Change, Leadership, LeaseAction, LeaseEvent, LeaseSettings};
use super::time::Time;
use super::timers::{master_down_interval_for, next_on_grid, skew_time_for};
use crate::wire::{self, AdvertRepr, Auth, Centis, Version};

/// Settings of one virtual router that the protocol needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// VRRP version spoken and accepted.
    pub version: Version,
    /// Virtual Router Identifier, 1 to 255.
    pub vrid: u8,
    /// Our Advertisement_Interval (centiseconds; whole seconds for v2).
    pub advert_interval: Centis,
    /// Whether a higher-priority Backup takes over from a lower-priority master.
    pub preempt: bool,
    /// After start-up, leaving Fault, or first hearing a lower-priority master, wait this
    /// long before preempting it (keepalived's `preempt_delay`).
    pub preempt_delay: Duration,
    /// Beyond the RFC (opt-in): with preemption, a Backup that hears the
    /// master advertise a lower priority than its own takes over at once
    /// (once `preempt_delay` allows) instead of waiting for its
    /// Master_Down_Timer.
    pub fast_takeover: bool,
    /// Our address on the interface: the advert's source and the tie-breaker.
    pub primary_address: IpAddr,
    /// The virtual addresses carried in adverts.
    pub virtual_ips: Vec<IpAddr>,
    /// VRRPv2 simple password; ignored by v3.
    pub auth: Auth,
    /// keepalived's `unicast_peer`: when not empty, adverts go to these
    /// addresses and are accepted only from them.
    pub unicast_peers: Vec<IpAddr>,
}

/// An instance's state: RFC 9568's three plus Fault and Stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Configured, not started yet (RFC 9568 Initialize).
    Initialize,
    /// Monitoring the master, ready to take over when it falls silent.
    Backup,
    /// Forwarding for the virtual addresses and sending adverts.
    Master,
    /// Cannot serve: own interface down, or a weight-0 check or interface failing.
    Fault,
    /// Shut down (RFC 9568 returns to Initialize; keepalived calls this STOP).
    Stopped,
}

impl State {
    /// The word keepalived's notify scripts receive.
    pub fn keepalived_name(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stopped => "STOP",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keepalived_name())
    }
}

/// An input to the state machine.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// RFC 9568 Startup event.
    Startup,
    /// A well-formed advertisement (TTL and checksum already verified by the codec).
    Advert {
        /// The IP source: the sender's primary address.
        src: IpAddr,
        /// The parsed advertisement.
        advert: &'a AdvertRepr,
    },
    /// The deadline from [`Instance::poll_timeout`] has been reached.
    Timer,
    /// The effective priority or fault condition changed.
    Health(&'a Health),
    /// RFC 9568 Shutdown event.
    Shutdown,
    /// etcd's answer about this instance's leadership lock.
    Lease(LeaseEvent<'a>),
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this advertisement (to the multicast group or every unicast peer).
    SendAdvert(AdvertRepr),
    /// Install the virtual addresses on the interface.
    AddVips,
    /// Remove the virtual addresses from the interface.
    RemoveVips,
    /// Announce the virtual addresses: gratuitous ARP / unsolicited NA burst.
    Announce,
    /// The instance changed state: log it and run the hooks.
    Transition(Transition),
    /// Something worth a counter and a rate-limited log line.
    Report(Report),
    /// Acquire, release or fence with the instance's leadership lock.
    Lease(LeaseAction),
}

/// A change of state, with why and at what priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// Why it happened.
    pub reason: Reason,
    /// Effective priority at the time of the transition (notify scripts get it).
    pub priority: u8,
}

/// Why a transition happened, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The Startup event (Initialize to Backup).
    Startup,
    /// Priority 255: the address owner takes over at once.
    AddressOwner,
    /// Master_Down_Timer expired.
    MasterDown {
        /// The master last heard, if any.
        last_master: Option<IpAddr>,
        /// How long no advert was accepted.
        silent_for: Duration,
    },
    /// The master resigned with a priority-0 advert and Skew_Time passed.
    MasterResigned {
        /// The resigning master.
        from: IpAddr,
    },
    /// We outrank the current master and preempt mode let us take over.
    Preempted {
        /// The master taken over from.
        master: IpAddr,
        /// Its advertised priority.
        priority: u8,
    },
    /// A better master was heard.
    HigherPriority {
        /// The better master.
        from: IpAddr,
        /// Its advertised priority.
        priority: u8,
    },
    /// A master of equal priority with a higher primary address was heard.
    HigherAddress {
        /// The master with the higher address.
        from: IpAddr,
        /// Its priority, equal to ours.
        priority: u8,
    },
    /// A fault condition, in words (e.g. `interface eth0 down`).
    Fault(Fault),
    /// The fault is gone: Fault to Backup.
    FaultCleared,
    /// The Shutdown event.
    Shutdown,
    /// The etcd lock that lets this node be master could not be relied on.
    LeadershipLost(LeadershipLoss),
    /// A `follow_patroni` instance's reason (see [`super::follow`]).
    Patroni(super::follow::Verdict),
    /// The protocol loop woke this long after the master's advert was due
    /// (a stopped, paused or starved daemon): a backup may have taken over
    /// meanwhile, so this one listens before it announces anything again.
    Stalled {
        /// How late the advert was.
        late: Duration,
    },
    /// Another member of a sync group moved.
    SyncGroup {
        /// The sync group's name.
        group: String,
        /// What moved the group.
        cause: GroupCause,
    },
}

/// Why a master's etcd lock could no longer be relied on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeadershipLoss {
    /// No renewal was answered in time: the lease may expire soon.
    NotRenewed,
    /// etcd says the lease or the key is gone.
    Gone,
    /// Another node holds the key.
    HeldBy(String),
}

impl fmt::Display for LeadershipLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeadershipLoss::NotRenewed => {
                f.write_str("leadership lease not renewed in time (etcd unreachable?)")
            }
            LeadershipLoss::Gone => f.write_str("leadership lease gone in etcd"),
            LeadershipLoss::HeldBy(holder) => write!(f, "leadership held by {holder}"),
        }
    }
}

/// What moved a sync group (see [`Reason::SyncGroup`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupCause {
    /// A member changed state on its own and took the others along.
    MemberBecame {
        /// The member's name.
        member: String,
        /// The state it entered.
        state: State,
    },
    /// Every member wanted to become Master.
    EveryMemberWantsMaster,
    /// Every member is now in this state (the group's own transition).
    AllMembers(State),
}

impl fmt::Display for GroupCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupCause::MemberBecame { member, state } => write!(f, "{member} became {state}"),
            GroupCause::EveryMemberWantsMaster => f.write_str("every member wants MASTER"),
            GroupCause::AllMembers(state) => write!(f, "all members {state}"),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Startup => f.write_str("start-up"),
            Reason::AddressOwner => f.write_str("address owner (priority 255)"),
            Reason::MasterDown {
                last_master: Some(m),
                silent_for,
            } => {
                write!(
                    f,
                    "no advert from {m} for {:.2} s",
                    silent_for.as_secs_f64()
                )
            }
            Reason::MasterDown {
                last_master: None,
                silent_for,
            } => {
                write!(f, "no advert heard for {:.2} s", silent_for.as_secs_f64())
            }
            Reason::MasterResigned { from } => write!(f, "priority 0 received from {from}"),
            Reason::Preempted { master, priority } => {
                write!(f, "preempting lower priority {priority} master {master}")
            }
            Reason::HigherPriority { from, priority } => {
                write!(f, "higher priority {priority} from {from}")
            }
            Reason::HigherAddress { from, priority } => {
                write!(f, "equal priority {priority} from higher address {from}")
            }
            Reason::Fault(why) => write!(f, "{why}"),
            Reason::FaultCleared => f.write_str("fault cleared"),
            Reason::Shutdown => f.write_str("shutdown"),
            Reason::LeadershipLost(why) => write!(f, "{why}"),
            Reason::Patroni(verdict) => write!(f, "{verdict}"),
            Reason::Stalled { late } => write!(
                f,
                "woke {:.2} s after an advert was due (stopped or starved?): another node may have \
                 taken over; listening before announcing again",
                late.as_secs_f64()
            ),
            Reason::SyncGroup { group, cause } => write!(f, "sync group {group}: {cause}"),
        }
    }
}

/// Noteworthy input that did not (only) drive the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The advert was discarded.
    Dropped {
        /// The sender.
        from: IpAddr,
        /// Why it was discarded.
        reason: DropReason,
    },
    /// As master we heard another master of lower priority: a split brain healing.
    LowerPriorityMaster {
        /// The other master.
        from: IpAddr,
        /// Its advertised priority.
        priority: u8,
    },
    /// VRRP picked us, but another node holds the leadership lock: we stay Backup.
    LeadershipHeldBy {
        /// The holder's name.
        holder: String,
    },
    /// A backup's Master_Down_Timer was read this long after it ran out:
    /// adverts that arrived meanwhile may still wait to be read, so it
    /// listens one more advert interval before deciding.
    Stalled {
        /// How late the timer was read.
        late: Duration,
    },
}

/// Why a received advert was discarded; [`DropReason::label`] names it for counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Our own advert looped back.
    OwnAdvert,
    /// Unicast instance: the sender is not one of its `unicast_peers`.
    UnknownPeer,
    /// The advert's VRID is not ours.
    WrongVrid,
    /// The advert's VRRP version is not ours.
    VersionMismatch,
    /// VRRPv2 password differs (RFC 3768 7.1).
    AuthMismatch,
    /// VRRPv2 advert interval differs from ours (RFC 3768 7.1: MUST discard).
    IntervalMismatch,
    /// We are the address owner (priority 255), which ignores adverts.
    LocalOwner,
    /// The advert carries no address (RFC 9568 5.2.5: at least one).
    NoAddresses,
    /// The address list differs: someone else uses our VRID (dropped unless
    /// the sender is the address owner, RFC 3768 7.1).
    AddressMismatch,
}

impl DropReason {
    /// Stable label for counters and metrics.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::OwnAdvert => "own_advert",
            DropReason::UnknownPeer => "unknown_peer",
            DropReason::WrongVrid => "wrong_vrid",
            DropReason::VersionMismatch => "version_mismatch",
            DropReason::AuthMismatch => "auth_mismatch",
            DropReason::IntervalMismatch => "interval_mismatch",
            DropReason::AddressMismatch => "address_mismatch",
            DropReason::LocalOwner => "local_owner",
            DropReason::NoAddresses => "no_addresses",
        }
    }
}

/// The master most recently heard, for status output and transition reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeardMaster {
    /// Its primary address, the advert's source.
    pub address: IpAddr,
    /// The priority it advertised.
    pub priority: u8,
    /// The advert interval it carried.
    pub interval: Centis,
    /// When its last advert arrived.
    pub at: Time,
}

/// Why a backup's Master_Down_Timer is running short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DownCause {
    Silence,
    Resigned(IpAddr),
}

/// One virtual router's protocol state; see the module docs for the contract.
#[derive(Debug, Clone)]
pub struct Instance {
    params: Params,
    health: Health,
    /// Set while a sync group holds this instance in Fault for another member.
    group_fault: Option<Fault>,
    state: State,
    /// Master_Adver_Interval: learned from the master in v3, ours in v2.
    master_adver_interval: Centis,
    /// Master_Down_Timer in Backup, Adver_Timer in Master.
    timer: Option<Time>,
    down_cause: DownCause,
    /// When the running Master_Down_Timer started counting (the last advert
    /// accepted, entering Backup, a resignation): a new priority recomputes
    /// the deadline from here.
    down_since: Time,
    /// While `now` is before this, lower-priority masters are tolerated.
    preempt_hold_until: Option<Time>,
    backup_since: Time,
    heard: Option<HeardMaster>,
    /// In a sync group: Backup never takes over alone; the node moves the
    /// whole group once every member wants to.
    grouped: bool,
    /// The master whose advert this Backup last accepted, and when.
    followed: Option<(IpAddr, Time)>,
    /// Why this grouped Backup wants to become Master (its timer ran out, or
    /// it would preempt); cleared when it accepts a master's advert. Also
    /// set while a gated instance waits for its leadership lock.
    wants_master: Option<Reason>,
    /// The etcd lock this instance must hold to be Master, if configured.
    leadership: Option<Leadership>,
}

impl Instance {
    /// A new instance in Initialize; it starts on [`Event::Startup`].
    pub fn new(params: Params, health: Health) -> Instance {
        Instance {
            master_adver_interval: params.advert_interval,
            params,
            health,
            group_fault: None,
            state: State::Initialize,
            timer: None,
            down_cause: DownCause::Silence,
            down_since: Time::ZERO,
            preempt_hold_until: None,
            backup_since: Time::ZERO,
            heard: None,
            grouped: false,
            followed: None,
            wants_master: None,
            leadership: None,
        }
    }

    /// Requires (or stops requiring) an etcd lock to be Master. A lock held
    /// stays held when only its settings change.
    pub fn set_leadership(&mut self, settings: Option<LeaseSettings>) {
        match (&mut self.leadership, settings) {
            (Some(l), Some(s)) if l.settings().key == s.key => l.set_settings(s),
            (slot, settings) => *slot = settings.map(Leadership::new),
        }
    }

    /// The leadership lock, if this instance is gated by one.
    pub fn leadership(&self) -> Option<&Leadership> {
        self.leadership.as_ref()
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The settings in force.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The health last fed in.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Effective priority as advertised.
    pub fn priority(&self) -> u8 {
        self.health.priority
    }

    /// Master_Adver_Interval: learned from the master in v3, ours in v2.
    pub fn master_adver_interval(&self) -> Centis {
        self.master_adver_interval
    }

    /// Master_Down_Interval with the current priority and learned interval.
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval_for(
            self.params.version,
            self.priority(),
            self.master_adver_interval,
        )
    }

    /// Skew_Time with the current priority and learned interval.
    pub fn skew_time(&self) -> Duration {
        skew_time_for(
            self.params.version,
            self.priority(),
            self.master_adver_interval,
        )
    }

    /// Whether this grouped Backup wants to become Master (see [`Instance::set_grouped`]).
    pub fn wants_master(&self) -> bool {
        self.wants_master.is_some()
    }

    /// Whether this Backup follows a live master (heard within a
    /// Master_Down_Interval) whose primary address is higher than ours.
    pub fn follows_higher_address(&self, now: Time) -> bool {
        self.state == State::Backup
            && self.wants_master.is_none()
            && self.followed.is_some_and(|(from, at)| {
                from > self.params.primary_address && now - at < self.master_down_interval()
            })
    }

    /// Whether a sync group holds this instance in Fault for another member.
    pub fn held_by_group(&self) -> bool {
        self.group_fault.is_some()
    }

    /// The master most recently heard, if any.
    pub fn heard_master(&self) -> Option<HeardMaster> {
        self.heard
    }

    /// When the driver must next deliver [`Event::Timer`]: the protocol
    /// timer, or a master's leadership deadline if earlier.
    pub fn poll_timeout(&self) -> Option<Time> {
        let lease = self
            .leadership
            .as_ref()
            .filter(|_| self.state == State::Master)
            .and_then(Leadership::deadline);
        match (self.timer, lease) {
            (Some(t), Some(l)) => Some(t.min(l)),
            (t, l) => t.or(l),
        }
    }

    /// The reason this instance must be in Fault, if any.
    pub fn fault_reason(&self) -> Option<&Fault> {
        self.health.fault.as_ref().or(self.group_fault.as_ref())
    }

    /// Replaces settings that RFC 9568 lets change in place (priority via
    /// [`Event::Health`], interval, preemption, addresses, auth). A change of
    /// VRID, version or family needs a new instance.
    pub fn update_params(&mut self, params: Params) {
        if self.params.version == Version::V2 || self.state != State::Backup {
            self.master_adver_interval = params.advert_interval;
        }
        self.params = params;
    }

    /// Feeds one event at `now`; returns what the driver must do, in order.
    pub fn handle(&mut self, now: Time, event: Event<'_>) -> Vec<Action> {
        let mut out = Vec::new();
        // Whatever woke us (after a hang, an advert may come before the
        // timer), a master whose lock ran out resigns before anything else:
        // it must not answer or announce on behalf of a role it lost.
        self.check_lock(now, &mut out);
        match event {
            Event::Startup => self.startup(now, &mut out),
            Event::Advert { src, advert } => self.receive(now, src, advert, &mut out),
            Event::Timer => self.timer_fired(now, &mut out),
            Event::Health(health) => self.set_health(now, health.clone(), &mut out),
            Event::Shutdown => self.shutdown(&mut out),
            Event::Lease(event) => self.lease_event(now, event, &mut out),
        }
        out
    }

    /// Puts this instance in a sync group (or takes it out). A grouped Backup
    /// whose Master_Down_Timer runs out, or that would preempt, only records
    /// that it wants to be Master and re-arms its timer: keepalived moves a
    /// group to Master only when every member wants to, preferring Backup
    /// over thrashing. The node then calls [`Instance::take_over`].
    pub fn set_grouped(&mut self, grouped: bool) {
        self.grouped = grouped;
        if !grouped {
            self.wants_master = None;
        }
    }

    /// Becomes Master with its group: for the reason it wanted to, or `reason`.
    pub fn take_over(&mut self, now: Time, reason: Reason) -> Vec<Action> {
        let mut out = Vec::new();
        // A lock is never bypassed (configuration keeps instances with a
        // lock of their own out of groups, whose lock the node checks; this
        // keeps the rule if that ever changes).
        if self.state == State::Backup && self.lock_allows(now) {
            let reason = self.wants_master.take().unwrap_or(reason);
            self.become_master(now, reason, &mut out);
        }
        out
    }

    /// Follows another member of its group from Master to Backup. No
    /// priority-0 advert (keepalived sends none): this member lost nothing,
    /// and resigning would only hand the peer group's member a role its own
    /// group may not want.
    pub fn step_down_with_group(&mut self, now: Time, reason: Reason) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Master {
            self.become_backup(now, self.params.advert_interval, reason, &mut out);
        }
        out
    }

    /// Holds this instance in Fault (or releases it) on behalf of its sync group.
    pub fn set_group_fault(&mut self, now: Time, fault: Option<Fault>) -> Vec<Action> {
        let mut out = Vec::new();
        self.group_fault = fault;
        self.apply_fault(now, &mut out);
        out
    }

    /// Resigns on behalf of its group, whose lock can no longer be relied
    /// on: a priority-0 advert, the addresses removed.
    pub fn resign_with_group(&mut self, now: Time, why: LeadershipLoss) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Master {
            self.resign(now, why, &mut out);
        }
        out
    }

    /// Another node holds the lock this instance (or its group) needs to
    /// become Master. A candidate that outranks the holder's adverts says so
    /// once: the holder steps down on hearing a higher priority and releases
    /// the lock, which frees it for us.
    pub fn refused_by_lock(&self, holder: String) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(reason) = &self.wants_master {
            if matches!(reason, Reason::Preempted { .. }) {
                out.push(Action::SendAdvert(self.advert(self.priority())));
            }
            out.push(Action::Report(Report::LeadershipHeldBy { holder }));
        }
        out
    }

    fn is_owner(&self) -> bool {
        self.priority() == 255
    }

    fn advert(&self, priority: u8) -> AdvertRepr {
        AdvertRepr {
            version: self.params.version,
            vrid: self.params.vrid,
            priority,
            max_advert_interval: self.params.advert_interval,
            auth: match self.params.version {
                Version::V2 => self.params.auth,
                Version::V3 => Auth::None,
            },
            addresses: self.params.virtual_ips.clone(),
        }
    }

    fn transition(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        let from = self.state;
        self.state = to;
        out.push(Action::Transition(Transition {
            from,
            to,
            reason,
            priority: self.priority(),
        }));
    }

    // RFC 9568 6.4.1: Initialize.
    fn startup(&mut self, now: Time, out: &mut Vec<Action>) {
        if !matches!(self.state, State::Initialize | State::Stopped) {
            return;
        }
        self.preempt_hold_until =
            (self.params.preempt_delay > Duration::ZERO).then(|| now + self.params.preempt_delay);
        if let Some(why) = self.fault_reason().cloned() {
            self.transition(State::Fault, Reason::Fault(why), out);
        } else if self.is_owner() && self.lock_allows(now) {
            self.become_master(now, Reason::AddressOwner, out);
        } else {
            self.become_backup(now, self.params.advert_interval, Reason::Startup, out);
        }
    }

    /// Send an advert, take the addresses, announce them, arm the Adver_Timer.
    fn become_master(&mut self, now: Time, reason: Reason, out: &mut Vec<Action>) {
        self.wants_master = None;
        out.push(Action::SendAdvert(self.advert(self.priority())));
        if let Some(l) = &self.leadership {
            // Before the addresses exist: a hang right after adding them
            // must already find them fenced.
            out.push(Action::Lease(LeaseAction::Fence(l.fence())));
        }
        out.push(Action::AddVips);
        out.push(Action::Announce);
        self.timer = Some(now + self.params.advert_interval.as_duration());
        self.transition(State::Master, reason, out);
    }

    fn become_backup(
        &mut self,
        now: Time,
        interval: Centis,
        reason: Reason,
        out: &mut Vec<Action>,
    ) {
        let was_master = self.state == State::Master;
        self.master_adver_interval = match self.params.version {
            Version::V3 => interval,
            Version::V2 => self.params.advert_interval,
        };
        self.timer = Some(now + self.master_down_interval());
        self.down_cause = DownCause::Silence;
        self.down_since = now;
        self.wants_master = None;
        self.backup_since = now;
        if was_master {
            out.push(Action::RemoveVips);
        }
        self.transition(State::Backup, reason, out);
        // After the transition: the driver gives the lock up only once the
        // addresses are gone and the step-down hooks (the fence) have run.
        if was_master {
            self.release_lock(out);
        }
    }

    /// Whether the leadership lock (if any) lets this instance be Master now.
    fn lock_allows(&self, now: Time) -> bool {
        self.leadership.as_ref().is_none_or(|l| l.lets_act(now))
    }

    fn release_lock(&mut self, out: &mut Vec<Action>) {
        if let Some(action) = self.leadership.as_mut().and_then(Leadership::release) {
            out.push(Action::Lease(action));
        }
    }

    /// A master that may no longer rely on its lock resigns: priority 0, so
    /// the next candidate does not wait out its Master_Down_Interval.
    fn resign(&mut self, now: Time, why: LeadershipLoss, out: &mut Vec<Action>) {
        out.push(Action::SendAdvert(self.advert(0)));
        self.become_backup(
            now,
            self.params.advert_interval,
            Reason::LeadershipLost(why),
            out,
        );
    }

    /// A master whose lock can no longer be relied on steps down, or under
    /// `on_etcd_loss = "keep"` holds on without a fence while etcd is away.
    fn check_lock(&mut self, now: Time, out: &mut Vec<Action>) {
        let Some(lock) = &mut self.leadership else {
            return;
        };
        if self.state != State::Master || lock.lets_act(now) {
            return;
        }
        if lock.keep_through_outage() {
            out.push(Action::Lease(LeaseAction::Fence(None)));
        } else {
            self.resign(now, LeadershipLoss::NotRenewed, out);
        }
    }

    fn lease_event(&mut self, now: Time, event: LeaseEvent<'_>, out: &mut Vec<Action>) {
        let Some(lock) = &mut self.leadership else {
            return;
        };
        match lock.handle(now, event) {
            Change::Nothing | Change::Unreachable => {}
            Change::Acquired if self.state == State::Master => {
                // Reclaimed after an outage kept under `on_etcd_loss = "keep"`.
                out.push(Action::Lease(LeaseAction::Fence(lock.fence())));
            }
            Change::Acquired => match (self.state, self.wants_master.take()) {
                (State::Backup, Some(reason)) if !self.grouped => {
                    self.become_master(now, reason, out)
                }
                _ => self.release_lock(out),
            },
            Change::Unwanted => out.push(Action::Lease(LeaseAction::Release(lock.attempt()))),
            Change::Taken if self.state == State::Master => {
                let why = match lock.holder() {
                    Some(holder) => LeadershipLoss::HeldBy(holder.to_owned()),
                    None => LeadershipLoss::Gone,
                };
                self.resign(now, why, out);
            }
            Change::Taken => {}
            Change::HeldElsewhere => {
                let holder = lock.holder().unwrap_or_default().to_owned();
                if self.state == State::Master {
                    self.resign(now, LeadershipLoss::HeldBy(holder), out);
                } else {
                    out.extend(self.refused_by_lock(holder));
                }
            }
            Change::Renewed => {
                if self.state == State::Master {
                    out.push(Action::Lease(LeaseAction::Fence(lock.fence())));
                }
            }
            Change::Lost if self.state == State::Master => {
                self.resign(now, LeadershipLoss::Gone, out)
            }
            Change::Lost => {}
            Change::Reclaim => {
                if let Some(action) = lock.ask() {
                    out.push(Action::Lease(action));
                }
            }
            Change::Freed => {
                if self.state == State::Backup
                    && self.wants_master.is_some()
                    && let Some(action) = lock.ask()
                {
                    out.push(Action::Lease(action));
                }
            }
        }
    }

    fn receive(&mut self, now: Time, src: IpAddr, advert: &AdvertRepr, out: &mut Vec<Action>) {
        if let Some(reason) = self.validate(src, advert) {
            out.push(Action::Report(Report::Dropped { from: src, reason }));
            return;
        }
        if advert.priority != 0 {
            self.heard = Some(HeardMaster {
                address: src,
                priority: advert.priority,
                interval: advert.max_advert_interval,
                at: now,
            });
        }
        match self.state {
            State::Backup => self.receive_as_backup(now, src, advert),
            State::Master => self.receive_as_master(now, src, advert, out),
            State::Initialize | State::Fault | State::Stopped => {}
        }
    }

    /// RFC 9568 7.1 and RFC 3768 7.1 receive checks that need our settings.
    fn validate(&self, src: IpAddr, advert: &AdvertRepr) -> Option<DropReason> {
        if src == self.params.primary_address {
            return Some(DropReason::OwnAdvert);
        }
        if !self.params.unicast_peers.is_empty() && !self.params.unicast_peers.contains(&src) {
            return Some(DropReason::UnknownPeer);
        }
        // RFC 3768 7.1 / RFC 9568 7.1: the address owner does not process
        // adverts, except that as Master it answers a lower-priority master at
        // once, as every master does (keepalived too): a healed split brain
        // then ends after one hop, not at the owner's next periodic advert.
        let answers = self.state == State::Master && (1..255).contains(&advert.priority);
        if self.is_owner() && !answers {
            return Some(DropReason::LocalOwner);
        }
        // RFC 9568 5.2.5 (erratum 8299): an advert must carry at least one address.
        if advert.addresses.is_empty() {
            return Some(DropReason::NoAddresses);
        }
        if advert.vrid != self.params.vrid {
            return Some(DropReason::WrongVrid);
        }
        if advert.version != self.params.version {
            return Some(DropReason::VersionMismatch);
        }
        if self.params.version == Version::V2 {
            if wire::check_auth(advert, &self.params.auth).is_err() {
                return Some(DropReason::AuthMismatch);
            }
            if advert.max_advert_interval != self.params.advert_interval {
                return Some(DropReason::IntervalMismatch);
            }
        }
        if advert.priority != 255 && !same_addresses(&advert.addresses, &self.params.virtual_ips) {
            return Some(DropReason::AddressMismatch);
        }
        None
    }

    // RFC 9568 6.4.2: an ADVERTISEMENT received in Backup.
    fn receive_as_backup(&mut self, now: Time, src: IpAddr, advert: &AdvertRepr) {
        if advert.priority == 0 {
            // A master that resigned is no longer one to follow (or to
            // yield to: see Node's sync group rules).
            self.followed = None;
            self.timer = Some(now + self.skew_time());
            self.down_cause = DownCause::Resigned(src);
            self.down_since = now;
            return;
        }
        let better_or_equal = advert.priority >= self.priority();
        // RFC 9568 6.1: the address owner preempts whatever Preempt_Mode says.
        let preempt = self.params.preempt || self.is_owner();
        if better_or_equal {
            self.preempt_hold_until = None;
        } else if preempt && self.params.preempt_delay > Duration::ZERO {
            // keepalived's preempt_delay: a lower-priority master is tolerated
            // until the delay since start-up (or since we first saw it) passes.
            let hold = *self
                .preempt_hold_until
                .get_or_insert(now + self.params.preempt_delay);
            if now < hold {
                self.accept_master(now, src, advert);
                return;
            }
        }
        if !preempt || better_or_equal {
            self.accept_master(now, src, advert);
        } else if self.grouped {
            // Discarded: alone we would preempt when our timer runs out; in a
            // group that already counts as wanting to be Master.
            self.wants_master = Some(Reason::Preempted {
                master: src,
                priority: advert.priority,
            });
        }
        // Otherwise discard: our Master_Down_Timer runs out and we preempt,
        // or with fast takeover, it runs out now.
        if preempt && !better_or_equal && self.params.fast_takeover {
            self.timer = Some(now);
        }
    }

    fn accept_master(&mut self, now: Time, src: IpAddr, advert: &AdvertRepr) {
        self.followed = Some((src, now));
        if self.params.version == Version::V3 {
            self.master_adver_interval = advert.max_advert_interval;
        }
        self.timer = Some(now + self.master_down_interval());
        self.down_cause = DownCause::Silence;
        self.down_since = now;
        self.wants_master = None;
    }

    // RFC 9568 6.4.3: an ADVERTISEMENT received in Master.
    fn receive_as_master(
        &mut self,
        now: Time,
        src: IpAddr,
        advert: &AdvertRepr,
        out: &mut Vec<Action>,
    ) {
        let ours = self.priority();
        if advert.priority == 0 {
            out.push(Action::SendAdvert(self.advert(ours)));
            self.timer = Some(now + self.params.advert_interval.as_duration());
        } else if advert.priority > ours {
            let reason = Reason::HigherPriority {
                from: src,
                priority: advert.priority,
            };
            self.become_backup(now, advert.max_advert_interval, reason, out);
        } else if advert.priority == ours && src > self.params.primary_address {
            let reason = Reason::HigherAddress {
                from: src,
                priority: advert.priority,
            };
            self.become_backup(now, advert.max_advert_interval, reason, out);
        } else {
            // The RFC discards it. Two masters means a healed split brain: answer at
            // once so the other steps down, and re-announce so stale caches move.
            out.push(Action::Report(Report::LowerPriorityMaster {
                from: src,
                priority: advert.priority,
            }));
            out.push(Action::SendAdvert(self.advert(ours)));
            out.push(Action::Announce);
            self.timer = Some(now + self.params.advert_interval.as_duration());
        }
    }

    fn timer_fired(&mut self, now: Time, out: &mut Vec<Action>) {
        let Some(deadline) = self.timer else { return };
        if now < deadline {
            return;
        }
        let late = now - deadline;
        match self.state {
            State::Backup if late > self.master_adver_interval.as_duration() => {
                // The driver reads due timers before queued packets: decide
                // only once what arrived while we were stalled has been read.
                self.timer = Some(now + self.master_adver_interval.as_duration());
                out.push(Action::Report(Report::Stalled { late }));
            }
            State::Master
                if late > STALL_LIMIT * self.params.advert_interval.as_duration()
                    && !self.is_owner() =>
            {
                // A backup may have taken over (and announced itself) while
                // we were stalled: announcing now would pull clients back to
                // a node that may no longer be master. Step aside and listen;
                // the usual rules (preemption included) decide after
                // Master_Down_Interval. An owner would take over at once
                // anyway, so it carries on.
                self.become_backup(
                    now,
                    self.params.advert_interval,
                    Reason::Stalled { late },
                    out,
                );
            }
            State::Backup => {
                let reason = match self.down_cause {
                    DownCause::Resigned(from) => Reason::MasterResigned { from },
                    DownCause::Silence => {
                        let last = self.heard.filter(|h| h.at >= self.backup_since);
                        // A lower master we kept hearing but discarded: preemption.
                        let mdi = self.master_down_interval();
                        if let Some(h) =
                            last.filter(|h| h.priority < self.priority() && now - h.at < mdi)
                        {
                            Reason::Preempted {
                                master: h.address,
                                priority: h.priority,
                            }
                        } else {
                            Reason::MasterDown {
                                last_master: last.map(|h| h.address),
                                silent_for: now - last.map_or(self.backup_since, |h| h.at),
                            }
                        }
                    }
                };
                let gated = !self.lock_allows(now);
                if self.grouped || gated {
                    // The group or the lock decides; meanwhile wait another
                    // interval, on the grid.
                    self.wants_master = Some(reason);
                    self.down_cause = DownCause::Silence;
                    self.down_since = deadline;
                    self.timer = Some(deadline + self.master_down_interval());
                    if gated
                        && let Some(action) = self.leadership.as_mut().and_then(Leadership::ask)
                    {
                        out.push(Action::Lease(action));
                    }
                    return;
                }
                self.become_master(now, reason, out);
            }
            State::Master => {
                out.push(Action::SendAdvert(self.advert(self.priority())));
                let interval = self.params.advert_interval.as_duration();
                self.timer = Some(next_on_grid(deadline, interval, now));
            }
            State::Initialize | State::Fault | State::Stopped => self.timer = None,
        }
    }

    fn set_health(&mut self, now: Time, health: Health, out: &mut Vec<Action>) {
        let (was, old_priority) = (self.state, self.priority());
        self.health = health;
        self.apply_fault(now, out);
        // A backup's timer depends on its priority (Skew_Time): recompute it
        // from when it started counting, so the deadline stays on the grid.
        if was == State::Backup && self.state == State::Backup && self.priority() != old_priority {
            let wait = match self.down_cause {
                DownCause::Resigned(_) => self.skew_time(),
                DownCause::Silence => self.master_down_interval(),
            };
            self.timer = Some(self.down_since + wait);
        }
        // A master whose priority changed says so at once, an extra advert
        // the RFC does not forbid: a backup that now has the higher priority
        // learns it now, not an interval later.
        if was == State::Master && self.state == State::Master && self.priority() != old_priority {
            out.push(Action::SendAdvert(self.advert(self.priority())));
        }
    }

    /// Enters or leaves Fault according to own health and the sync group.
    fn apply_fault(&mut self, now: Time, out: &mut Vec<Action>) {
        match (self.state, self.fault_reason().cloned()) {
            (State::Backup | State::Master, Some(why)) => {
                if self.state == State::Master {
                    out.push(Action::SendAdvert(self.advert(0)));
                    out.push(Action::RemoveVips);
                }
                self.timer = None;
                self.wants_master = None;
                self.transition(State::Fault, Reason::Fault(why), out);
                self.release_lock(out);
            }
            (State::Fault, None) if self.is_owner() && self.lock_allows(now) => {
                self.become_master(now, Reason::FaultCleared, out)
            }
            (State::Fault, None) => {
                // keepalived restarts preempt_delay when leaving Fault, as at start-up.
                self.preempt_hold_until = (self.params.preempt_delay > Duration::ZERO)
                    .then(|| now + self.params.preempt_delay);
                self.become_backup(now, self.params.advert_interval, Reason::FaultCleared, out)
            }
            _ => {}
        }
    }

    // RFC 9568 6.4.2/6.4.3 Shutdown: a master resigns with priority 0.
    fn shutdown(&mut self, out: &mut Vec<Action>) {
        match self.state {
            State::Initialize | State::Stopped => return,
            State::Master => {
                out.push(Action::SendAdvert(self.advert(0)));
                out.push(Action::RemoveVips);
            }
            State::Backup | State::Fault => {}
        }
        self.timer = None;
        self.transition(State::Stopped, Reason::Shutdown, out);
        self.release_lock(out);
    }
}

/// A master whose advert goes out more than this many advert intervals late
/// steps aside ([`Reason::Stalled`]): a backup's Master_Down_Interval (three
/// intervals and its Skew_Time) after our last advert, one interval before
/// the one due, may have run out.
pub const STALL_LIMIT: u32 = 2;

/// Address lists compare as sets: order on the wire is not significant.
fn same_addresses(theirs: &[IpAddr], ours: &[IpAddr]) -> bool {
    theirs.len() == ours.len() && theirs.iter().all(|a| ours.contains(a))
}
