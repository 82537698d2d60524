//! `follow_patroni`: an instance that holds its addresses exactly while this
//! node is Patroni's leader. No VRRP: Patroni has already elected, through
//! its leader key in etcd, and the local Patroni's REST API confirms.
//!
//! The rules, in order:
//! - An unusable interface (Fault) holds nothing.
//! - While etcd answers, the leader key decides: the addresses are held
//!   while its value is this node's Patroni member name, and, when a REST
//!   API is configured, only once it answers that this node runs the
//!   primary (Patroni takes the key before it promotes: the key alone would
//!   put the address on a replica for the length of the promotion).
//! - While etcd does not answer, the local Patroni decides, as it decides
//!   for its own PostgreSQL: a primary it keeps (failsafe mode) keeps the
//!   address, one it demotes loses it. Without a REST API there is nobody
//!   to ask, and the address goes. No timeout is involved either way.
//!
//! Events and `now` in, actions and the next deadline out, like
//! [`super::Instance`].

use core::fmt;
use core::time::Duration;

use super::fault::Fault;
use super::instance::{Reason, State, Transition};
use super::time::Time;

/// How often the REST API is asked while the key names us but Patroni has
/// not finished promoting (the first time at once): the address follows
/// within this of the promotion.
pub const CONFIRM_EVERY: Duration = Duration::from_millis(50);
/// How often it is asked while etcd cannot be reached (the REST API decides).
pub const OUTAGE_EVERY: Duration = Duration::from_millis(100);
/// How often a holder asks, to notice what the key does not say: Patroni
/// restarting a crashed PostgreSQL, or stopping it.
pub const HOLDER_EVERY: Duration = Duration::from_millis(200);

/// The local Patroni's answer to `GET /primary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestAnswer {
    /// This node runs a writable primary: status 200 and, in the body, the
    /// role `master` (or `primary`) in state `running`. (Patroni answers 200
    /// as soon as it holds the leader lock, while PostgreSQL may still be
    /// a replica being promoted, or down.)
    Primary,
    /// Anything else: a replica, a primary being promoted, demoted,
    /// restarted or stopped.
    NotPrimary,
    /// No answer within the timeout (Patroni down or hung).
    Silent,
}

/// What the follower is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowEvent<'a> {
    /// Start following.
    Startup,
    /// The leader key's value as etcd returned or watched it (`None`: no
    /// key, no leader).
    LeaderKey(Option<&'a str>),
    /// etcd answered (`true`) or stopped answering (`false`).
    Etcd(bool),
    /// The REST API answered (or did not).
    Rest(RestAnswer),
    /// The interface became unusable, or usable again (`None`).
    Fault(Option<&'a Fault>),
    /// The deadline from [`Follower::poll_timeout`] passed.
    Timer,
    /// Stop following (the daemon stops).
    Shutdown,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowAction {
    /// Install the addresses.
    AddVips,
    /// Remove the addresses.
    RemoveVips,
    /// Announce them (gratuitous ARP / unsolicited NA).
    Announce,
    /// Ask the REST API `GET /primary`; answer with [`FollowEvent::Rest`].
    ProbeRest,
    /// The state changed: log it and run the hooks.
    Transition(Transition),
}

/// Why a follower holds or does not hold the addresses, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The key names this node (and the REST API confirms, if asked).
    Leader,
    /// The key names another member.
    Follower(String),
    /// No leader key.
    NoLeader,
    /// The key names this node but Patroni does not run the primary (yet).
    NotYetPrimary,
    /// etcd is unreachable; the local Patroni still runs the primary.
    KeptThroughOutage,
    /// etcd is unreachable and the local Patroni does not run the primary
    /// (or there is no REST API to ask).
    LostInOutage,
    /// The interface cannot be used.
    Fault(Fault),
    /// The leader key has not been read from etcd yet.
    Waiting,
    /// The daemon stops.
    Shutdown,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Leader => f.write_str("this node is Patroni's leader"),
            Verdict::Follower(leader) => write!(f, "Patroni's leader is {leader}"),
            Verdict::NoLeader => f.write_str("Patroni has no leader"),
            Verdict::NotYetPrimary => {
                f.write_str("the leader key names this node, but Patroni does not run the primary")
            }
            Verdict::KeptThroughOutage => {
                f.write_str("etcd unreachable; the local Patroni still runs the primary")
            }
            Verdict::LostInOutage => {
                f.write_str("etcd unreachable and the local Patroni does not confirm a primary")
            }
            Verdict::Fault(why) => write!(f, "{why}"),
            Verdict::Waiting => f.write_str("waiting for Patroni's leader key from etcd"),
            Verdict::Shutdown => f.write_str("shutdown"),
        }
    }
}

/// One `follow_patroni` instance's state; see the module docs.
#[derive(Debug, Clone)]
pub struct Follower {
    member: String,
    /// A REST API is configured: it must confirm before the addresses go up.
    confirm: bool,
    state: State,
    /// The leader key as last read; `None` until etcd first answered.
    leader: Option<Option<String>>,
    etcd_up: bool,
    rest: Option<RestAnswer>,
    fault: Option<Fault>,
    /// When to ask the REST API next.
    probe_at: Option<Time>,
    /// The pace of the probes, while there are any.
    pace: Option<Duration>,
    /// A probe is out: no other until it answers.
    probing: bool,
}

impl Follower {
    /// A follower for Patroni member `member`; `confirm`: a REST API is
    /// configured.
    pub fn new(member: String, confirm: bool) -> Follower {
        Follower {
            member,
            confirm,
            state: State::Initialize,
            leader: None,
            etcd_up: false,
            rest: None,
            fault: None,
            probe_at: None,
            pace: None,
            probing: false,
        }
    }

    /// The current state: Master while holding the addresses.
    pub fn state(&self) -> State {
        self.state
    }

    /// The Patroni member name followed.
    pub fn member(&self) -> &str {
        &self.member
    }

    /// The leader as last read from etcd (`None` before the first read).
    pub fn leader(&self) -> Option<Option<&str>> {
        self.leader.as_ref().map(Option::as_deref)
    }

    /// The REST API's last answer.
    pub fn rest(&self) -> Option<RestAnswer> {
        self.rest
    }

    /// Whether etcd answered last.
    pub fn etcd_up(&self) -> bool {
        self.etcd_up
    }

    /// When the driver must next deliver [`FollowEvent::Timer`].
    pub fn poll_timeout(&self) -> Option<Time> {
        self.probe_at
    }

    /// Feeds one event at `now`; returns what the driver must do, in order.
    pub fn handle(&mut self, now: Time, event: FollowEvent<'_>) -> Vec<FollowAction> {
        let mut out = Vec::new();
        match event {
            FollowEvent::Startup => {
                if self.state != State::Initialize && self.state != State::Stopped {
                    return out;
                }
                let to = if self.fault.is_some() {
                    State::Fault
                } else {
                    State::Backup
                };
                self.go(to, self.verdict(), &mut out);
            }
            FollowEvent::Shutdown => {
                if self.state == State::Master {
                    out.push(FollowAction::RemoveVips);
                }
                self.probe_at = None;
                self.go(State::Stopped, Verdict::Shutdown, &mut out);
                return out;
            }
            FollowEvent::LeaderKey(leader) => {
                self.etcd_up = true;
                self.leader = Some(leader.map(str::to_owned));
                // A change of leader makes the last REST answer stale.
                if leader != Some(self.member.as_str()) {
                    self.rest = self.rest.filter(|_| !self.confirm);
                }
            }
            FollowEvent::Etcd(up) => self.etcd_up = up,
            FollowEvent::Rest(answer) => {
                self.probing = false;
                self.rest = Some(answer);
            }
            FollowEvent::Fault(fault) => self.fault = fault.cloned(),
            FollowEvent::Timer => {
                if self.poll_timeout().is_some_and(|at| at <= now) && !self.probing {
                    self.probe_at = None;
                    self.probing = true;
                    out.push(FollowAction::ProbeRest);
                }
            }
        }
        if matches!(self.state, State::Initialize | State::Stopped) {
            return out;
        }
        self.settle(&mut out);
        self.schedule_probe(now);
        out
    }

    /// Why the addresses should or should not be held now.
    fn verdict(&self) -> Verdict {
        if let Some(fault) = &self.fault {
            return Verdict::Fault(fault.clone());
        }
        let primary = self.rest == Some(RestAnswer::Primary);
        match (&self.leader, self.etcd_up) {
            (Some(Some(leader)), true) if *leader == self.member => {
                if !self.confirm || primary {
                    Verdict::Leader
                } else {
                    Verdict::NotYetPrimary
                }
            }
            (Some(Some(leader)), true) => Verdict::Follower(leader.clone()),
            (Some(None), true) => Verdict::NoLeader,
            // etcd down, or not read yet: only the local Patroni can tell.
            _ if self.confirm && primary => Verdict::KeptThroughOutage,
            (None, _) => Verdict::Waiting,
            _ => Verdict::LostInOutage,
        }
    }

    fn settle(&mut self, out: &mut Vec<FollowAction>) {
        let verdict = self.verdict();
        let to = match &verdict {
            Verdict::Leader | Verdict::KeptThroughOutage => State::Master,
            Verdict::Fault(_) => State::Fault,
            _ => State::Backup,
        };
        if to == self.state {
            return;
        }
        if to == State::Master {
            out.push(FollowAction::AddVips);
            out.push(FollowAction::Announce);
        } else if self.state == State::Master {
            out.push(FollowAction::RemoveVips);
        }
        self.go(to, verdict, out);
    }

    fn go(&mut self, to: State, verdict: Verdict, out: &mut Vec<FollowAction>) {
        let from = std::mem::replace(&mut self.state, to);
        out.push(FollowAction::Transition(Transition {
            from,
            to,
            reason: Reason::Patroni(verdict),
            priority: 0,
        }));
    }

    /// Asks the REST API soon while it has something to confirm, now and
    /// then otherwise; never without one.
    fn schedule_probe(&mut self, now: Time) {
        if !self.confirm || self.probing || self.state == State::Fault {
            return;
        }
        let ours = self
            .leader
            .as_ref()
            .is_some_and(|l| l.as_deref() == Some(self.member.as_str()));
        let every = if !self.etcd_up {
            Some(OUTAGE_EVERY)
        } else if ours && self.state != State::Master {
            Some(CONFIRM_EVERY)
        } else if self.state == State::Master {
            Some(HOLDER_EVERY)
        } else {
            None
        };
        let pace = std::mem::replace(&mut self.pace, every);
        let Some(every) = every else {
            self.probe_at = None;
            return;
        };
        if pace != Some(every) {
            // A new pace: at once when the key just named us.
            let first = if every == CONFIRM_EVERY {
                now
            } else {
                now + every
            };
            self.probe_at = Some(first);
        } else if self.probe_at.is_none() {
            // The last probe answered: the next one a pace later. A probe
            // already planned stays (events must not postpone it).
            self.probe_at = Some(now + every);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Time {
        Time::from_nanos(ms * 1_000_000)
    }

    fn states(actions: &[FollowAction]) -> Vec<State> {
        actions
            .iter()
            .filter_map(|a| match a {
                FollowAction::Transition(t) => Some(t.to),
                _ => None,
            })
            .collect()
    }

    fn started(confirm: bool) -> Follower {
        let mut f = Follower::new("pg-a".into(), confirm);
        f.handle(at(0), FollowEvent::Startup);
        f
    }

    #[test]
    fn without_a_rest_api_the_key_alone_decides() {
        let mut f = started(false);
        assert_eq!(f.state(), State::Backup);
        let out = f.handle(at(1), FollowEvent::LeaderKey(Some("pg-a")));
        assert_eq!(out[..2], [FollowAction::AddVips, FollowAction::Announce]);
        assert_eq!(states(&out), [State::Master]);
        let out = f.handle(at(2), FollowEvent::LeaderKey(Some("pg-b")));
        assert_eq!(out[0], FollowAction::RemoveVips);
        assert_eq!(states(&out), [State::Backup]);
        assert_eq!(f.poll_timeout(), None, "no REST API, no probes");
    }

    #[test]
    fn the_rest_api_confirms_the_promotion_before_the_address_moves() {
        let mut f = started(true);
        let out = f.handle(at(10), FollowEvent::LeaderKey(Some("pg-a")));
        assert!(
            states(&out).is_empty(),
            "not yet: Patroni is still promoting"
        );
        assert_eq!(f.poll_timeout(), Some(at(10)), "asked at once");
        let out = f.handle(at(10), FollowEvent::Timer);
        assert_eq!(out, [FollowAction::ProbeRest]);
        f.handle(at(12), FollowEvent::Rest(RestAnswer::NotPrimary));
        assert_eq!(f.state(), State::Backup);
        assert_eq!(f.poll_timeout(), Some(at(12) + CONFIRM_EVERY));
        f.handle(at(62), FollowEvent::Timer);
        let out = f.handle(at(115), FollowEvent::Rest(RestAnswer::Primary));
        assert_eq!(states(&out), [State::Master]);
        assert_eq!(f.poll_timeout(), Some(at(115) + HOLDER_EVERY));
    }

    #[test]
    fn a_new_leader_elsewhere_takes_the_address_away_at_once() {
        let mut f = started(true);
        f.handle(at(0), FollowEvent::LeaderKey(Some("pg-a")));
        f.handle(at(1), FollowEvent::Rest(RestAnswer::Primary));
        assert_eq!(f.state(), State::Master);
        let out = f.handle(at(5), FollowEvent::LeaderKey(None));
        assert_eq!(out[0], FollowAction::RemoveVips);
        // Back to us: the old REST answer no longer counts.
        let out = f.handle(at(6), FollowEvent::LeaderKey(Some("pg-a")));
        assert!(states(&out).is_empty());
    }

    #[test]
    fn without_etcd_the_local_patroni_decides() {
        let mut f = started(true);
        f.handle(at(0), FollowEvent::LeaderKey(Some("pg-a")));
        f.handle(at(1), FollowEvent::Rest(RestAnswer::Primary));
        // etcd gone: Patroni in failsafe mode keeps its primary, so do we.
        assert!(states(&f.handle(at(2), FollowEvent::Etcd(false))).is_empty());
        assert_eq!(f.state(), State::Master);
        assert_eq!(f.poll_timeout(), Some(at(2) + OUTAGE_EVERY));
        f.handle(at(502), FollowEvent::Timer);
        // Patroni demoted it: the address goes.
        let out = f.handle(at(503), FollowEvent::Rest(RestAnswer::NotPrimary));
        assert_eq!(out[0], FollowAction::RemoveVips);
        assert_eq!(f.state(), State::Backup);
    }

    #[test]
    fn without_etcd_or_a_rest_api_nothing_is_held() {
        let mut f = started(false);
        f.handle(at(0), FollowEvent::LeaderKey(Some("pg-a")));
        assert_eq!(f.state(), State::Master);
        let out = f.handle(at(1), FollowEvent::Etcd(false));
        assert_eq!(out[0], FollowAction::RemoveVips);
    }

    #[test]
    fn a_fault_removes_and_its_end_restores() {
        let mut f = started(false);
        f.handle(at(0), FollowEvent::LeaderKey(Some("pg-a")));
        let down = Fault::InterfaceDown {
            interface: "eth0".into(),
        };
        let out = f.handle(at(1), FollowEvent::Fault(Some(&down)));
        assert_eq!(out[0], FollowAction::RemoveVips);
        assert_eq!(f.state(), State::Fault);
        let out = f.handle(at(2), FollowEvent::Fault(None));
        assert_eq!(states(&out), [State::Master]);
    }

    #[test]
    fn one_probe_at_a_time() {
        let mut f = started(true);
        f.handle(at(0), FollowEvent::Etcd(false));
        assert_eq!(
            f.handle(at(500), FollowEvent::Timer),
            [FollowAction::ProbeRest]
        );
        assert_eq!(f.poll_timeout(), None, "waiting for the answer");
        assert!(f.handle(at(1000), FollowEvent::Timer).is_empty());
        f.handle(at(1100), FollowEvent::Rest(RestAnswer::Silent));
        assert_eq!(f.poll_timeout(), Some(at(1100) + OUTAGE_EVERY));
    }

    #[test]
    fn shutdown_removes_the_addresses() {
        let mut f = started(false);
        f.handle(at(0), FollowEvent::LeaderKey(Some("pg-a")));
        let out = f.handle(at(1), FollowEvent::Shutdown);
        assert_eq!(out[0], FollowAction::RemoveVips);
        assert_eq!(f.state(), State::Stopped);
    }
}
