//! Leadership held in etcd: when a lease lets an instance act as master, and
//! when it must stop.
//!
//! VRRP picks the candidate; the lock decides whether it may act. A lock is a
//! key created only if absent, bound to a lease with a time to live. The
//! holder keeps the lease alive; if it cannot, etcd deletes the key when the
//! lease expires, and only then can another node create it.
//!
//! Safety rests on one inequality: the holder stops acting before the lease
//! can have expired on etcd's side.
//! - etcd cannot have granted or renewed the lease before our request left,
//!   so the lease lives at least `ttl` from the request's send time `sent`,
//!   as etcd's clock measures it. Two clocks slewed by NTP drift apart by at
//!   most 2 × 500 ppm: the earliest possible expiry on our clock is
//!   `sent + ttl × (1 − 0.001)`. (etcd only ever expires a lease later: on a
//!   leader change it extends every lease, and it sweeps expired leases
//!   periodically.)
//! - A living holder resigns [`STEP_DOWN_BUDGET`] before that earliest
//!   expiry unless a renewal came back: time enough to send its priority-0
//!   advert and remove its addresses.
//! - A holder that hangs (SIGSTOP, a starved CPU) cannot remove anything.
//!   The kernel does it: the virtual addresses are installed with a valid
//!   lifetime of whole seconds, refreshed at each renewal, that ends
//!   [`KERNEL_SWEEP`] before the earliest expiry. Linux removes an expired
//!   address from a periodic, deferrable sweep: usually within a second, not
//!   by a hard bound, so this fence is a second line, not the first. (A
//!   paused VM stops the kernel's clock too: nothing inside it can fence.)
//! - Every answer names the key's revision, and a holder that sees the key
//!   change after its own grant (deleted by hand, taken by another node)
//!   resigns at once.
//!
//! So with a 5 s ttl, a renewal sent at `t` lets the holder act until about
//! `t + 4.5 s`, gives its addresses a lifetime ending at `t + 2 s` (renewals
//! every `ttl / 4` keep moving it), while etcd keeps the lease until at least
//! `t + 4.995 s`. Three renewals may be lost before the holder steps down.

use core::time::Duration;

use super::time::Time;

/// Relative clock-rate error allowed between this node and etcd, in parts
/// per million: two clocks each slewed by at most 500 ppm.
pub const CLOCK_ALLOWANCE_PPM: u64 = 1000;

/// How late Linux is allowed to remove an address whose valid lifetime ran
/// out (its lifetime sweep usually runs within a second).
pub const KERNEL_SWEEP: Duration = Duration::from_secs(2);

/// How long before the earliest expiry a living holder resigns: its
/// priority-0 advert and address removal take milliseconds.
pub const STEP_DOWN_BUDGET: Duration = Duration::from_millis(500);

/// The shortest lease that leaves a fence of at least one second.
pub const MIN_TTL: Duration = Duration::from_secs(4);

/// What a master does while etcd cannot be reached at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnEtcdLoss {
    /// Step down when the lease can no longer be relied on: the safe choice
    /// for a database, where two primaries lose commits.
    StepDown,
    /// A master keeps its addresses (without a fence) until etcd answers
    /// again; backups still need the lock. For a stateless address, where a
    /// moment with two holders costs less than none.
    Keep,
}

impl OnEtcdLoss {
    /// The word used in the configuration and status.
    pub fn as_str(self) -> &'static str {
        match self {
            OnEtcdLoss::StepDown => "step_down",
            OnEtcdLoss::Keep => "keep",
        }
    }
}

/// An instance's (or a sync group's) lock settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseSettings {
    /// The etcd key created while the lock is held; its value is the node's name.
    pub key: String,
    /// The lease's time to live.
    pub ttl: Duration,
    /// What a master does while etcd is unreachable.
    pub on_etcd_loss: OnEtcdLoss,
}

impl LeaseSettings {
    /// How often the holder renews: two renewals may be lost before it must
    /// step down (see the module docs).
    pub fn renew_every(&self) -> Duration {
        self.ttl / 4
    }

    /// What a grant or renewal whose request left at `sent`, answered at
    /// `now` with `granted` time to live, lets the holder rely on; `None` if
    /// the answer came too late to be of use.
    pub fn rely_on(&self, sent: Time, granted: Duration, now: Time) -> Option<Reliance> {
        let ttl = self.ttl.min(granted);
        let drift = Duration::from_nanos(
            u64::try_from(ttl.as_nanos() * u128::from(CLOCK_ALLOWANCE_PPM) / 1_000_000)
                .unwrap_or(u64::MAX),
        );
        let earliest_expiry = sent + ttl.saturating_sub(drift);
        let before =
            |d: Duration| Time::from_duration(earliest_expiry.since_epoch().saturating_sub(d));
        let fence_until = before(KERNEL_SWEEP);
        // An answer that leaves not even a one-second fence is too late.
        if fence_until.saturating_since(now) < Duration::from_secs(1) {
            return None;
        }
        Some(Reliance {
            act_until: before(STEP_DOWN_BUDGET),
            fence_until,
        })
    }
}

/// What one grant or renewal lets the holder rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reliance {
    /// The holder steps down at this instant unless renewed before.
    pub act_until: Time,
    /// The kernel must have removed the addresses by this instant, plus
    /// its sweep: an address added at `t` gets the whole seconds left
    /// before it as its valid lifetime.
    pub fence_until: Time,
}

/// Where this node stands with the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Not held by us and not asked for.
    Free,
    /// A request to acquire it is out.
    Asking,
    /// Held: we may act as master until `act_until`. The key was created
    /// at `revision`: a later change of it means it is no longer ours.
    Held {
        /// What the last grant or renewal allows.
        reliance: Reliance,
        /// The revision of our key's creation.
        revision: u64,
    },
    /// Held through an etcd outage under [`OnEtcdLoss::Keep`]: no deadline,
    /// no fence, until etcd answers again.
    Kept {
        /// The revision of our key's creation.
        revision: u64,
    },
}

/// What etcd (through the daemon's client) said about the lock. Answers
/// name the attempt ([`LeaseAction::Acquire`]) they belong to: one for an
/// earlier attempt, overtaken by a release, is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseEvent<'a> {
    /// We created the key, with a lease granted `ttl` by a request sent at `sent`.
    Granted {
        /// The attempt.
        attempt: u64,
        /// When the request that created the lease left.
        sent: Time,
        /// The time to live etcd granted.
        ttl: Duration,
        /// etcd's revision of our key's creation.
        revision: u64,
    },
    /// The key exists and is someone else's.
    Denied {
        /// The attempt.
        attempt: u64,
        /// The holder's name (the key's value).
        holder: &'a str,
    },
    /// The attempt got no answer: it may be tried again.
    Failed {
        /// The attempt.
        attempt: u64,
    },
    /// Our lease was kept alive by a request sent at `sent`.
    Renewed {
        /// The attempt that created the lease.
        attempt: u64,
        /// When the keep-alive left.
        sent: Time,
        /// The time to live etcd reported.
        ttl: Duration,
    },
    /// etcd says our lease or key is gone.
    Lost {
        /// The attempt that created the lease.
        attempt: u64,
    },
    /// The key changed at `revision`: now held by this name, or by nobody.
    Holder {
        /// The key's value, or `None` once deleted.
        holder: Option<&'a str>,
        /// etcd's revision of the change.
        revision: u64,
    },
    /// etcd could (not) be reached: the client's requests fail or succeed again.
    Reachable(bool),
}

/// What the driver must do about the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseAction {
    /// Create the key with a new lease, or learn who holds it; the answers
    /// carry this attempt's number.
    Acquire(u64),
    /// Delete the key (if ours) and revoke the lease of this attempt.
    Release(u64),
    /// Give the virtual addresses a valid lifetime that ends by this
    /// instant, in whole seconds (`None`: forever).
    Fence(Option<Time>),
}

/// One lock as an instance or sync group sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leadership {
    settings: LeaseSettings,
    standing: Standing,
    /// The key's holder as last learnt, when it is not us.
    holder: Option<String>,
    /// The latest attempt to acquire: answers to others are stale.
    attempt: u64,
    reachable: bool,
}

impl Leadership {
    /// A lock not yet held.
    pub fn new(settings: LeaseSettings) -> Leadership {
        Leadership {
            settings,
            standing: Standing::Free,
            holder: None,
            attempt: 0,
            reachable: true,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    /// New settings (a reload); the standing is kept.
    pub fn set_settings(&mut self, settings: LeaseSettings) {
        self.settings = settings;
    }

    /// Where we stand.
    pub fn standing(&self) -> &Standing {
        &self.standing
    }

    /// Another node holding the key, as last learnt.
    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref()
    }

    /// Whether the lock lets us act as master at `now`.
    pub fn lets_act(&self, now: Time) -> bool {
        match &self.standing {
            Standing::Held { reliance, .. } => now < reliance.act_until,
            Standing::Kept { .. } => true,
            Standing::Free | Standing::Asking => false,
        }
    }

    /// When the holder must step down unless renewed.
    pub fn deadline(&self) -> Option<Time> {
        match &self.standing {
            Standing::Held { reliance, .. } => Some(reliance.act_until),
            _ => None,
        }
    }

    /// While held: when the addresses' lifetime must end (see [`Reliance`]).
    pub fn fence(&self) -> Option<Time> {
        match &self.standing {
            Standing::Held { reliance, .. } => Some(reliance.fence_until),
            _ => None,
        }
    }

    /// Asks for the lock unless a request is already out; returns the action
    /// to carry out, if any.
    pub fn ask(&mut self) -> Option<LeaseAction> {
        match self.standing {
            Standing::Free => {
                self.standing = Standing::Asking;
                self.attempt += 1;
                Some(LeaseAction::Acquire(self.attempt))
            }
            _ => None,
        }
    }

    /// Gives the lock up (leaving Master, or no longer wanting it).
    pub fn release(&mut self) -> Option<LeaseAction> {
        match std::mem::replace(&mut self.standing, Standing::Free) {
            Standing::Free => None,
            _ => Some(LeaseAction::Release(self.attempt)),
        }
    }

    /// The latest attempt's number.
    pub fn attempt(&self) -> u64 {
        self.attempt
    }

    /// The revision of our key's creation, while we hold it.
    fn held_revision(&self) -> Option<u64> {
        match self.standing {
            Standing::Held { revision, .. } | Standing::Kept { revision } => Some(revision),
            Standing::Free | Standing::Asking => None,
        }
    }

    /// Takes in what etcd said; returns what changed for the instance.
    pub fn handle(&mut self, now: Time, event: LeaseEvent<'_>) -> Change {
        let stale = match event {
            LeaseEvent::Granted { attempt, .. }
            | LeaseEvent::Denied { attempt, .. }
            | LeaseEvent::Failed { attempt }
            | LeaseEvent::Renewed { attempt, .. }
            | LeaseEvent::Lost { attempt } => attempt != self.attempt,
            LeaseEvent::Holder { .. } | LeaseEvent::Reachable(_) => false,
        };
        if stale {
            // Released since: the driver revoked that attempt's lease.
            return Change::Nothing;
        }
        match event {
            LeaseEvent::Granted {
                sent,
                ttl,
                revision,
                ..
            } => {
                self.reachable = true;
                if self.standing != Standing::Asking {
                    // Nobody asked any more (released meanwhile): give it back.
                    return Change::Unwanted;
                }
                self.holder = None;
                match self.settings.rely_on(sent, ttl, now) {
                    Some(reliance) => {
                        self.standing = Standing::Held { reliance, revision };
                        Change::Acquired
                    }
                    None => {
                        self.standing = Standing::Free;
                        Change::Unwanted
                    }
                }
            }
            LeaseEvent::Denied { holder, .. } => {
                self.reachable = true;
                self.holder = Some(holder.to_owned());
                if self.standing == Standing::Asking {
                    self.standing = Standing::Free;
                }
                Change::HeldElsewhere
            }
            LeaseEvent::Failed { .. } => {
                self.reachable = false;
                if self.standing == Standing::Asking {
                    self.standing = Standing::Free;
                }
                Change::Unreachable
            }
            LeaseEvent::Renewed { sent, ttl, .. } => {
                self.reachable = true;
                let Some(reliance) = self.settings.rely_on(sent, ttl, now) else {
                    return Change::Nothing;
                };
                match self.standing {
                    Standing::Held {
                        reliance: old,
                        revision,
                    } if reliance.act_until > old.act_until => {
                        self.standing = Standing::Held { reliance, revision };
                        Change::Renewed
                    }
                    // Held on through an outage, and etcd answers again with
                    // the lease alive: back to a deadline and a fence.
                    Standing::Kept { revision } => {
                        self.standing = Standing::Held { reliance, revision };
                        Change::Renewed
                    }
                    _ => Change::Nothing,
                }
            }
            LeaseEvent::Lost { .. } => {
                self.reachable = true;
                match self.standing {
                    Standing::Held { .. } => {
                        self.standing = Standing::Free;
                        Change::Lost
                    }
                    // Back after an outage we held on through: try to take
                    // the key again, acting meanwhile as before.
                    Standing::Kept { .. } => {
                        self.standing = Standing::Free;
                        Change::Reclaim
                    }
                    Standing::Asking => {
                        self.standing = Standing::Free;
                        Change::Nothing
                    }
                    Standing::Free => Change::Nothing,
                }
            }
            LeaseEvent::Holder { holder, revision } => {
                if let Some(ours) = self.held_revision() {
                    if revision <= ours {
                        // Our own creation, or older news.
                        return Change::Nothing;
                    }
                    // Changed after we created it: deleted by hand, or taken
                    // by another node after our lease was revoked.
                    self.holder = holder.map(str::to_owned);
                    self.standing = Standing::Free;
                    return Change::Taken;
                }
                self.holder = holder.map(str::to_owned);
                if holder.is_none() {
                    Change::Freed
                } else {
                    Change::Nothing
                }
            }
            LeaseEvent::Reachable(reachable) => {
                self.reachable = reachable;
                if reachable {
                    Change::Nothing
                } else {
                    Change::Unreachable
                }
            }
        }
    }

    /// Under [`OnEtcdLoss::Keep`], a holder whose lease ran out while etcd is
    /// unreachable keeps acting without a deadline; returns whether it does.
    pub fn keep_through_outage(&mut self) -> bool {
        let Standing::Held { revision, .. } = self.standing else {
            return false;
        };
        let keep = self.settings.on_etcd_loss == OnEtcdLoss::Keep && !self.reachable;
        if keep {
            self.standing = Standing::Kept { revision };
        }
        keep
    }
}

/// What an etcd answer changed, for the instance to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing that needs acting on.
    Nothing,
    /// The lock is ours now.
    Acquired,
    /// We hold a lock nobody wants any more: release it.
    Unwanted,
    /// Someone else holds it.
    HeldElsewhere,
    /// Our lease lives on, for longer.
    Renewed,
    /// Our lease or key is gone.
    Lost,
    /// Our key changed after we created it: deleted, or another's.
    Taken,
    /// Our lease is gone after an outage held through: ask for the key again.
    Reclaim,
    /// Nobody holds the key now.
    Freed,
    /// etcd stopped answering.
    Unreachable,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(ttl_secs: u64) -> LeaseSettings {
        LeaseSettings {
            key: "/vipd/db".into(),
            ttl: Duration::from_secs(ttl_secs),
            on_etcd_loss: OnEtcdLoss::StepDown,
        }
    }

    fn at(ms: u64) -> Time {
        Time::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn a_prompt_answer_acts_until_half_a_second_before_the_earliest_expiry() {
        let r = settings(5)
            .rely_on(at(1000), Duration::from_secs(5), at(1005))
            .unwrap();
        assert_eq!(r.fence_until, at(1000 + 4995 - 2000));
        assert_eq!(r.act_until, at(1000 + 4995 - 500));
    }

    #[test]
    fn the_kernel_fence_and_the_step_down_both_precede_the_earliest_expiry() {
        let s = settings(5);
        for answer_ms in [0u64, 1, 10, 100, 500, 999, 1000, 1500, 2000, 2990] {
            let sent = at(10_000);
            let now = at(10_000 + answer_ms);
            let earliest_expiry = sent + Duration::from_millis(5000 - 5);
            if let Some(r) = s.rely_on(sent, Duration::from_secs(5), now) {
                assert!(r.act_until < earliest_expiry, "answer after {answer_ms} ms");
                assert!(r.fence_until + KERNEL_SWEEP <= earliest_expiry);
                assert!(r.act_until + STEP_DOWN_BUDGET <= earliest_expiry);
            }
        }
    }

    #[test]
    fn a_late_answer_is_not_relied_on() {
        assert_eq!(
            settings(5).rely_on(at(0), Duration::from_secs(5), at(2000)),
            None
        );
    }

    #[test]
    fn a_shorter_granted_ttl_is_the_one_relied_on() {
        let r = settings(10)
            .rely_on(at(0), Duration::from_secs(5), at(0))
            .unwrap();
        assert_eq!(r.fence_until, at(2995));
    }

    #[test]
    fn the_shortest_ttl_still_leaves_a_fence() {
        let s = LeaseSettings {
            ttl: MIN_TTL,
            ..settings(0)
        };
        assert!(s.rely_on(at(0), MIN_TTL, at(5)).is_some());
    }

    fn granted(attempt: u64, sent: Time) -> LeaseEvent<'static> {
        LeaseEvent::Granted {
            attempt,
            sent,
            ttl: Duration::from_secs(5),
            revision: 10,
        }
    }

    #[test]
    fn a_grant_nobody_waits_for_is_unwanted() {
        let mut l = Leadership::new(settings(5));
        assert_eq!(l.ask(), Some(LeaseAction::Acquire(1)));
        assert_eq!(l.ask(), None, "one request at a time");
        l.release();
        assert_eq!(l.handle(at(1), granted(1, at(0))), Change::Unwanted);
        assert_eq!(l.ask(), Some(LeaseAction::Acquire(2)));
        assert_eq!(l.handle(at(1), granted(2, at(0))), Change::Acquired);
        assert!(l.lets_act(at(2)));
        assert!(!l.lets_act(at(4500)));
    }

    #[test]
    fn an_answer_to_an_overtaken_attempt_is_ignored() {
        let mut l = Leadership::new(settings(5));
        l.ask();
        l.release();
        l.ask();
        // Attempt 1 was granted before the release reached etcd's client:
        // its lease was revoked since, so it must not count for attempt 2.
        assert_eq!(l.handle(at(1), granted(1, at(0))), Change::Nothing);
        assert_eq!(l.standing(), &Standing::Asking);
        assert_eq!(
            l.handle(at(1), LeaseEvent::Failed { attempt: 1 }),
            Change::Nothing
        );
        assert_eq!(l.standing(), &Standing::Asking);
        assert_eq!(l.handle(at(2), granted(2, at(1))), Change::Acquired);
        let lost = LeaseEvent::Lost { attempt: 1 };
        assert_eq!(
            l.handle(at(3), lost),
            Change::Nothing,
            "attempt 2's lease lives on"
        );
    }

    #[test]
    fn a_failed_attempt_may_be_tried_again() {
        let mut l = Leadership::new(settings(5));
        l.ask();
        assert_eq!(
            l.handle(at(1), LeaseEvent::Failed { attempt: 1 }),
            Change::Unreachable
        );
        assert_eq!(l.ask(), Some(LeaseAction::Acquire(2)));
    }

    #[test]
    fn a_renewal_moves_the_deadline_forward_only() {
        let mut l = Leadership::new(settings(5));
        l.ask();
        l.handle(at(1000), granted(1, at(1000)));
        let first = l.deadline().unwrap();
        let renewed = LeaseEvent::Renewed {
            attempt: 1,
            sent: at(2250),
            ttl: Duration::from_secs(5),
        };
        assert_eq!(l.handle(at(2260), renewed), Change::Renewed);
        assert!(l.deadline().unwrap() > first);
        // A renewal sent long before, answered late, changes nothing: what
        // it allows ends before what the newer one allows.
        let stale = LeaseEvent::Renewed {
            attempt: 1,
            sent: at(500),
            ttl: Duration::from_secs(5),
        };
        assert_eq!(l.handle(at(2300), stale), Change::Nothing);
    }

    #[test]
    fn a_change_of_the_key_after_our_grant_takes_it_from_us() {
        let mut l = Leadership::new(settings(5));
        l.ask();
        l.handle(at(0), granted(1, at(0)));
        // Our own creation, seen by the watch, changes nothing.
        let own = LeaseEvent::Holder {
            holder: Some("db-a"),
            revision: 10,
        };
        assert_eq!(l.handle(at(1), own), Change::Nothing);
        assert!(l.lets_act(at(1)));
        // Deleted by hand at a later revision: no longer ours.
        let deleted = LeaseEvent::Holder {
            holder: None,
            revision: 11,
        };
        assert_eq!(l.handle(at(2), deleted), Change::Taken);
        assert!(!l.lets_act(at(2)));
    }

    #[test]
    fn a_renewal_after_an_outage_held_through_restores_the_deadline() {
        let mut l = Leadership::new(LeaseSettings {
            on_etcd_loss: OnEtcdLoss::Keep,
            ..settings(5)
        });
        l.ask();
        l.handle(at(0), granted(1, at(0)));
        l.handle(at(10), LeaseEvent::Reachable(false));
        assert!(l.keep_through_outage());
        assert_eq!(l.deadline(), None);
        let renewed = LeaseEvent::Renewed {
            attempt: 1,
            sent: at(20_000),
            ttl: Duration::from_secs(5),
        };
        assert_eq!(l.handle(at(20_001), renewed), Change::Renewed);
        assert!(l.deadline().is_some(), "a deadline and a fence again");
    }

    #[test]
    fn only_keep_holds_on_through_an_outage() {
        for (policy, kept) in [(OnEtcdLoss::StepDown, false), (OnEtcdLoss::Keep, true)] {
            let mut l = Leadership::new(LeaseSettings {
                on_etcd_loss: policy,
                ..settings(5)
            });
            l.ask();
            l.handle(at(0), granted(1, at(0)));
            assert_eq!(
                l.handle(at(10), LeaseEvent::Reachable(false)),
                Change::Unreachable
            );
            assert_eq!(l.keep_through_outage(), kept, "{policy:?}");
            assert_eq!(l.lets_act(at(60_000)), kept);
        }
    }
}
