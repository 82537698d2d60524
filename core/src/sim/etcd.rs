//! A model of etcd as the nodes see it: one lock per instance or sync group, held by a key
//! bound to a lease that expires unless renewed. Requests take a fixed
//! latency each way; a node cut off from etcd gets no answer and its request
//! fails at the client's timeout. While etcd has no quorum nothing is
//! answered and no lease expires; when quorum returns, every lease's clock
//! starts again from its full time to live, as etcd's new leader does.

use core::time::Duration;
use std::collections::BTreeMap;

use crate::protocol::{LeaseSettings, Time};

/// The etcd cluster's part of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdSpec {
    /// One-way latency between any node and etcd.
    pub latency: Duration,
    /// How long a node's client waits for an answer before it gives up.
    pub request_timeout: Duration,
    /// Instance `k` of every node must hold `locks[k]` to be master, if set.
    pub locks: Vec<Option<LeaseSettings>>,
    /// Sync group `g` of every node must hold `group_locks[g]` for its
    /// members to be master, if set.
    pub group_locks: Vec<Option<LeaseSettings>>,
}

/// Whose lock a key is: that of an instance or of a sync group (the same
/// index on every node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockOf {
    /// Instance `k`'s.
    Instance(usize),
    /// Sync group `g`'s.
    Group(usize),
}

impl EtcdSpec {
    /// The settings of lock `of`, if the scenario has it.
    pub fn lock(&self, of: LockOf) -> Option<&LeaseSettings> {
        let (locks, index) = match of {
            LockOf::Instance(k) => (&self.locks, k),
            LockOf::Group(g) => (&self.group_locks, g),
        };
        locks.get(index).and_then(Option::as_ref)
    }
}

/// A request from a node's client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Create the key with a new lease, if absent.
    Acquire,
    /// Keep this lease alive.
    Renew(u64),
    /// Delete the key if it is this node's, and revoke its lease.
    Release,
}

/// An answer (or a watch notification) for a node's client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The key is ours, bound to this lease.
    Granted {
        /// The lease's id.
        lease: u64,
        /// Its time to live.
        ttl: Duration,
        /// The revision of the key's creation.
        revision: u64,
    },
    /// The key is someone else's.
    Denied(usize),
    /// The lease lives on for `ttl`.
    Renewed(Duration),
    /// The lease is gone.
    Lost,
    /// Watch: the key is now held by this node, or by nobody, since this revision.
    Holder(Option<usize>, u64),
    /// The request got no answer within the client's timeout.
    TimedOut,
}

#[derive(Debug, Clone)]
struct Lease {
    node: usize,
    lock: LockOf,
    ttl: Duration,
    expires: Time,
}

/// The cluster's state: keys, leases, who can reach it.
#[derive(Debug, Clone)]
pub struct Etcd {
    spec: EtcdSpec,
    /// Per node: cut off from etcd.
    cut: Vec<bool>,
    quorum: bool,
    /// Per lock: the holding node and its lease.
    keys: BTreeMap<LockOf, (usize, u64)>,
    leases: BTreeMap<u64, Lease>,
    next_lease: u64,
    /// etcd's revision: one more for every change of a key.
    revision: u64,
}

/// What processing a request (or an expiry) produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The answer to the requester, if one is due.
    pub reply: Option<Reply>,
    /// Watch notifications: (lock, new holder, revision).
    pub changes: Vec<(LockOf, Option<usize>, u64)>,
    /// Leases whose expiry must be checked at the given time.
    pub expiries: Vec<(u64, Time)>,
}

impl Etcd {
    /// A healthy cluster that `nodes` nodes can reach.
    pub fn new(spec: EtcdSpec, nodes: usize) -> Etcd {
        Etcd {
            spec,
            cut: vec![false; nodes],
            quorum: true,
            keys: BTreeMap::new(),
            leases: BTreeMap::new(),
            next_lease: 1,
            revision: 1,
        }
    }

    /// The scenario's settings.
    pub fn spec(&self) -> &EtcdSpec {
        &self.spec
    }

    /// Whether `node`'s requests can be answered now.
    pub fn answers(&self, node: usize) -> bool {
        self.quorum && !self.cut.get(node).copied().unwrap_or(true)
    }

    /// Cuts exactly these nodes off from etcd (an empty list heals).
    pub fn cut_off(&mut self, nodes: &[usize]) {
        self.cut.iter_mut().for_each(|c| *c = false);
        for &n in nodes {
            if let Some(c) = self.cut.get_mut(n) {
                *c = true;
            }
        }
    }

    /// Loses or regains quorum at `now`; regaining restarts every lease's clock.
    pub fn set_quorum(&mut self, now: Time, quorum: bool) -> Outcome {
        let mut outcome = Outcome::default();
        if quorum && !self.quorum {
            for (&id, lease) in &mut self.leases {
                lease.expires = now + lease.ttl;
                outcome.expiries.push((id, lease.expires));
            }
        }
        self.quorum = quorum;
        outcome
    }

    /// The holder of lock `of`'s key.
    pub fn holder(&self, of: LockOf) -> Option<usize> {
        self.keys.get(&of).map(|&(node, _)| node)
    }

    /// Processes a request arriving at `now` (the caller checked it can).
    pub fn process(&mut self, now: Time, node: usize, lock: LockOf, request: Request) -> Outcome {
        let mut outcome = Outcome::default();
        match request {
            Request::Acquire => {
                let Some(ttl) = self.spec.lock(lock).map(|l| l.ttl) else {
                    return outcome;
                };
                if let Some(&(holder, _)) = self.keys.get(&lock) {
                    outcome.reply = Some(Reply::Denied(holder));
                    return outcome;
                }
                let id = self.next_lease;
                self.next_lease += 1;
                let expires = now + ttl;
                self.leases.insert(
                    id,
                    Lease {
                        node,
                        lock,
                        ttl,
                        expires,
                    },
                );
                self.keys.insert(lock, (node, id));
                self.revision += 1;
                outcome.reply = Some(Reply::Granted {
                    lease: id,
                    ttl,
                    revision: self.revision,
                });
                outcome.changes.push((lock, Some(node), self.revision));
                outcome.expiries.push((id, expires));
            }
            Request::Renew(id) => match self.leases.get_mut(&id) {
                Some(lease) => {
                    lease.expires = now + lease.ttl;
                    outcome.reply = Some(Reply::Renewed(lease.ttl));
                    outcome.expiries.push((id, lease.expires));
                }
                None => outcome.reply = Some(Reply::Lost),
            },
            Request::Release => {
                if let Some(&(holder, id)) = self.keys.get(&lock)
                    && holder == node
                {
                    self.keys.remove(&lock);
                    self.leases.remove(&id);
                    self.revision += 1;
                    outcome.changes.push((lock, None, self.revision));
                }
            }
        }
        outcome
    }

    /// Expires lease `id` if its time has come (and etcd has quorum).
    pub fn expire(&mut self, now: Time, id: u64) -> Outcome {
        let mut outcome = Outcome::default();
        let due = self.leases.get(&id).is_some_and(|l| l.expires <= now);
        if !due || !self.quorum {
            return outcome;
        }
        if let Some(lease) = self.leases.remove(&id) {
            if self.keys.get(&lease.lock) == Some(&(lease.node, id)) {
                self.keys.remove(&lease.lock);
                self.revision += 1;
                outcome.changes.push((lease.lock, None, self.revision));
            }
        }
        outcome
    }

    /// An operator deletes lock `of`'s key by hand (its lease lives on).
    pub fn delete_key(&mut self, of: LockOf) -> Outcome {
        let mut outcome = Outcome::default();
        if self.quorum && self.keys.remove(&of).is_some() {
            self.revision += 1;
            outcome.changes.push((of, None, self.revision));
        }
        outcome
    }
}
