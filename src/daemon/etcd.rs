//! The node's etcd client: the only code that speaks etcd.
//!
//! A leadership lock is a key created only while absent, bound to a lease.
//! The loop asks to acquire or release a lock; this module grants the lease,
//! creates the key, keeps the lease alive every `ttl / 4`, watches the key,
//! and reports what etcd said, with the time each request left (the core
//! relies on a lease only from then on). Nothing here decides anything: the
//! core's leadership rules do.
//!
//! Every request has the configured timeout and requires an etcd leader, so
//! a member cut off from its quorum fails fast instead of answering stale.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, EventType, Identity, PutOptions,
    TlsOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::hooks::Afterwards;
use crate::config::EtcdConfig;
use crate::protocol::Time;

/// What the loop asks of the client.
#[derive(Debug)]
pub enum Command {
    /// Create `key` with a new lease of `ttl`, then keep it alive; or learn
    /// who holds it.
    Acquire {
        lock: String,
        key: String,
        ttl: Duration,
        /// The core's attempt number, carried by every answer about it.
        attempt: u64,
    },
    /// Stop renewing the lease of the lock's `attempt` and revoke it (the
    /// key goes with it); a later attempt's is left alone.
    Release { lock: String, attempt: u64 },
    /// Report every change of `key`'s holder.
    Watch { lock: String, key: String },
}

/// What etcd said, for the loop to hand to the core (owned: it crosses threads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Granted {
        attempt: u64,
        sent: Time,
        ttl: Duration,
        /// The revision of our key's creation.
        revision: u64,
    },
    Denied {
        attempt: u64,
        holder: String,
    },
    /// The attempt got no answer.
    Failed {
        attempt: u64,
    },
    Renewed {
        attempt: u64,
        sent: Time,
        ttl: Duration,
    },
    Lost {
        attempt: u64,
    },
    /// The key's value (`None`: deleted) as of `revision`.
    Holder {
        holder: Option<String>,
        revision: u64,
    },
    Reachable(bool),
}

/// One report for the loop.
#[derive(Debug, Clone)]
pub struct Report {
    pub lock: String,
    pub said: Said,
}

/// The client's health, for status and metrics.
#[derive(Debug, Default)]
pub struct EtcdHealth {
    /// The last request was answered.
    pub connected: AtomicBool,
    /// The etcd leader's member id, 0 while none is known.
    pub leader: AtomicU64,
    /// When a request was last answered.
    pub last_success: Mutex<Option<SystemTime>>,
    pub requests: AtomicU64,
    pub failures: AtomicU64,
}

impl EtcdHealth {
    fn answered(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if !self.connected.swap(true, Ordering::Relaxed) {
            tracing::info!(event = "etcd_reachable", "etcd answers again");
        }
        if let Ok(mut last) = self.last_success.lock() {
            *last = Some(SystemTime::now());
        }
    }

    /// Counts a failed request; the first of a run is logged, in words.
    fn failed(&self, what: &str, why: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.failures.fetch_add(1, Ordering::Relaxed);
        if self.connected.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                event = "etcd_unreachable",
                request = what,
                error = why,
                "etcd: {what} failed: {why}; logged once until etcd answers again"
            );
        }
    }
}

/// Reads the clock the core's `Time` is measured on.
pub type Now = Arc<dyn Fn() -> Time + Send + Sync>;

/// The handle the loop keeps.
pub struct Etcd {
    tx: Option<mpsc::UnboundedSender<Command>>,
    pub health: Arc<EtcdHealth>,
    pub endpoints: Vec<String>,
    task: Option<JoinHandle<()>>,
}

impl Etcd {
    /// Builds the client (no connection is made until the first request)
    /// and starts serving commands on the current runtime. `node` is the
    /// value written into a key we hold.
    pub fn start(
        cfg: &EtcdConfig,
        node: String,
        now: Now,
        reports: mpsc::UnboundedSender<Report>,
    ) -> Result<Etcd, String> {
        if node.is_empty() {
            return Err(
                "etcd: the node has no name to write into its keys; set [global] node_name"
                    .to_owned(),
            );
        }
        let options = connect_options(cfg)?;
        let health = Arc::new(EtcdHealth::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let endpoints = cfg.endpoints.clone();
        let shared = Shared::new(cfg, options, node, now, reports, health.clone());
        let task = tokio::spawn(serve(shared, rx));
        Ok(Etcd {
            tx: Some(tx),
            health,
            endpoints,
            task: Some(task),
        })
    }

    /// What releases `lock`'s `attempt` when called (after the addresses and
    /// hooks, by whoever runs it).
    pub fn release(&self, lock: String, attempt: u64) -> Afterwards {
        let tx = self.tx.clone();
        Afterwards(Arc::new(move || {
            if let Some(tx) = &tx {
                let _ = tx.send(Command::Release {
                    lock: lock.clone(),
                    attempt,
                });
            }
        }))
    }

    pub fn send(&self, command: Command) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(command);
        }
    }

    /// Carries out the commands already sent (a stopping master's release:
    /// the lock is free at once, not after its ttl), for at most `grace`.
    pub async fn finish(&mut self, grace: Duration) {
        self.tx = None;
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(grace, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

fn connect_options(cfg: &EtcdConfig) -> Result<ConnectOptions, String> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(cfg.dial_timeout)
        .with_timeout(cfg.request_timeout)
        // A dead member's connection is noticed within a second or two.
        .with_keep_alive(Duration::from_secs(1), cfg.request_timeout)
        .with_keep_alive_while_idle(true)
        .with_require_leader(true);
    if let Some((user, password)) = &cfg.credentials {
        options = options.with_user(user.clone(), password.clone());
    }
    if cfg.ca_file.is_some() || cfg.client_cert.is_some() {
        let mut tls = TlsOptions::new();
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| format!("etcd: cannot read ca_file {}: {e}", ca.display()))?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        if let Some((cert, key)) = &cfg.client_cert {
            let cert_pem = std::fs::read(cert)
                .map_err(|e| format!("etcd: cannot read cert_file {}: {e}", cert.display()))?;
            let key_pem = std::fs::read(key)
                .map_err(|e| format!("etcd: cannot read key_file {}: {e}", key.display()))?;
            tls = tls.identity(Identity::from_pem(cert_pem, key_pem));
        }
        options = options.with_tls(tls);
    }
    Ok(options)
}

/// One client per member, so that a request can move on to the next
/// member when one fails (tonic's balancing would keep sending a share of
/// requests to a member that was just cut off). The member that answered
/// last is asked first.
struct Members {
    endpoints: Vec<String>,
    options: ConnectOptions,
    clients: tokio::sync::Mutex<Vec<Option<Client>>>,
    current: std::sync::atomic::AtomicUsize,
}

/// What every task of the client shares.
#[derive(Clone)]
struct Shared {
    members: Arc<Members>,
    timeout: Duration,
    node: String,
    now: Now,
    reports: mpsc::UnboundedSender<Report>,
    health: Arc<EtcdHealth>,
}

impl Shared {
    fn new(
        cfg: &EtcdConfig,
        options: ConnectOptions,
        node: String,
        now: Now,
        reports: mpsc::UnboundedSender<Report>,
        health: Arc<EtcdHealth>,
    ) -> Shared {
        Shared {
            members: Arc::new(Members {
                endpoints: cfg.endpoints.clone(),
                options,
                clients: tokio::sync::Mutex::new(vec![None; cfg.endpoints.len()]),
                current: std::sync::atomic::AtomicUsize::new(0),
            }),
            timeout: cfg.request_timeout,
            node,
            now,
            reports,
            health,
        }
    }

    fn report(&self, lock: &str, said: Said) {
        let _ = self.reports.send(Report {
            lock: lock.to_owned(),
            said,
        });
    }

    /// Member `index`'s client, made on first use (no connection is made
    /// until a request needs it).
    async fn client(&self, index: usize) -> Result<Client, String> {
        if let Some(client) = &self.members.clients.lock().await[index] {
            return Ok(client.clone());
        }
        // Not under the lock: dialling a dead member must not hold up the
        // requests going to the others.
        let endpoint = &self.members.endpoints[index];
        let options = Some(self.members.options.clone());
        let connect = Client::connect([endpoint.as_str()], options);
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(client)) => {
                let mut clients = self.members.clients.lock().await;
                Ok(clients[index].get_or_insert(client).clone())
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("connecting timed out".to_owned()),
        }
    }

    /// The member after `index` is asked first from now on.
    fn skip(&self, index: usize) {
        let next = (index + 1) % self.members.endpoints.len();
        let _ = self.members.current.compare_exchange(
            index,
            next,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Runs `request` on the member that answered last, then on each other
    /// member in turn until one answers, each within the request timeout.
    /// Returns the answer and the member that gave it.
    async fn call<T, E, F, Fut>(&self, what: &str, mut request: F) -> Option<(T, usize)>
    where
        E: std::fmt::Display,
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let n = self.members.endpoints.len();
        let first = self.members.current.load(Ordering::Relaxed);
        let mut why = String::new();
        for k in 0..n {
            let index = (first + k) % n;
            let client = match self.client(index).await {
                Ok(client) => client,
                Err(e) => {
                    why = e;
                    self.skip(index);
                    continue;
                }
            };
            match tokio::time::timeout(self.timeout, request(client)).await {
                Ok(Ok(answer)) => {
                    self.health.answered();
                    return Some((answer, index));
                }
                Ok(Err(e)) => why = e.to_string(),
                Err(_) => why = "timed out".to_owned(),
            }
            self.skip(index);
        }
        self.health.failed(what, &why);
        None
    }
}

/// The lease a lock's task granted, so that a release can revoke it.
type LeaseSlot = Arc<Mutex<Option<i64>>>;

fn set_lease(slot: &LeaseSlot, lease: Option<i64>) {
    if let Ok(mut held) = slot.lock() {
        *held = lease;
    }
}

async fn serve(shared: Shared, mut rx: mpsc::UnboundedReceiver<Command>) {
    // One task per held (or being acquired) lock, one per watched key.
    // A held (or being acquired) lock: its task, lease and attempt.
    let mut holding: BTreeMap<String, (JoinHandle<()>, LeaseSlot, u64)> = BTreeMap::new();
    let mut watching: Vec<JoinHandle<()>> = Vec::new();
    let probe = tokio::spawn(probe(shared.clone()));
    while let Some(command) = rx.recv().await {
        match command {
            Command::Acquire {
                lock,
                key,
                ttl,
                attempt,
            } => {
                if let Some((task, slot, _)) = holding.remove(&lock) {
                    revoke(&shared, task, slot).await;
                }
                let slot = LeaseSlot::default();
                let attempt = Attempt {
                    lock: lock.clone(),
                    key,
                    ttl,
                    number: attempt,
                };
                let number = attempt.number;
                let task = tokio::spawn(hold(shared.clone(), attempt, slot.clone()));
                holding.insert(lock, (task, slot, number));
            }
            Command::Release { lock, attempt } => {
                if holding.get(&lock).is_some_and(|(_, _, a)| *a == attempt)
                    && let Some((task, slot, _)) = holding.remove(&lock)
                {
                    revoke(&shared, task, slot).await;
                }
            }
            Command::Watch { lock, key } => {
                watching.push(tokio::spawn(watch(shared.clone(), lock, key)));
            }
        }
    }
    probe.abort();
    for (task, _, _) in holding.into_values() {
        task.abort();
    }
    for task in watching {
        task.abort();
    }
}

/// Stops a lock's task and revokes its lease, which deletes the key with
/// it; if etcd cannot be reached the lease expires by itself.
async fn revoke(shared: &Shared, task: JoinHandle<()>, slot: LeaseSlot) {
    task.abort();
    let lease = slot.lock().ok().and_then(|mut l| l.take());
    if let Some(id) = lease {
        shared
            .call("revoke", |mut c| async move { c.lease_revoke(id).await })
            .await;
    }
}

/// One attempt to take a lock.
struct Attempt {
    lock: String,
    key: String,
    ttl: Duration,
    number: u64,
}

/// Acquires the attempt's key, then keeps its lease alive until aborted or lost.
async fn hold(shared: Shared, attempt: Attempt, slot: LeaseSlot) {
    let Attempt {
        lock,
        key,
        ttl,
        number: attempt,
    } = attempt;
    let sent = (shared.now)();
    let secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    let grant = shared
        .call("lease grant", |mut c| async move {
            c.lease_grant(secs, None).await
        })
        .await;
    let Some((grant, _)) = grant else {
        shared.report(&lock, Said::Failed { attempt });
        return;
    };
    let lease = grant.id();
    set_lease(&slot, Some(lease));
    let granted = Duration::from_secs(u64::try_from(grant.ttl()).unwrap_or(0));
    let revoke_lease = || async {
        shared
            .call("revoke", |mut c| async move { c.lease_revoke(lease).await })
            .await;
        set_lease(&slot, None);
    };
    let mut tries = 0;
    let holder = loop {
        tries += 1;
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key.clone(),
                shared.node.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )])
            .or_else([TxnOp::get(key.clone(), None)]);
        let answer = shared
            .call("lock", |mut c| {
                let txn = txn.clone();
                async move { c.txn(txn).await }
            })
            .await;
        let Some((answer, _)) = answer else {
            // The key may or may not be ours: revoking the lease settles it.
            revoke_lease().await;
            shared.report(&lock, Said::Failed { attempt });
            return;
        };
        if answer.succeeded() {
            // The txn's revision is our key's creation.
            break Ok(answer.header().map_or(0, |h| revision_of(h.revision())));
        }
        let holder = answer.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(get) => get
                .kvs()
                .first()
                .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()),
            _ => None,
        });
        match holder {
            // Deleted between the compare and the get: try again.
            None if tries < 3 => {}
            // Held, even if under our own name (a run of this node that
            // died): that key goes when its lease expires.
            other => break Err(other.unwrap_or_else(|| "someone".to_owned())),
        }
    };
    let revision = match holder {
        Ok(revision) => revision,
        Err(holder) => {
            revoke_lease().await;
            shared.report(&lock, Said::Denied { attempt, holder });
            return;
        }
    };
    shared.report(
        &lock,
        Said::Granted {
            attempt,
            sent,
            ttl: granted,
            revision,
        },
    );
    renew(&shared, &lock, attempt, lease, ttl).await;
    set_lease(&slot, None);
}

/// Keeps `lease` alive every `ttl / 4` until etcd says it is gone.
async fn renew(shared: &Shared, lock: &str, attempt: u64, lease: i64, ttl: Duration) {
    let every = ttl / 4;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The keep-alive stream, and the member it goes to.
    let mut stream = None;
    let tries = shared.members.endpoints.len() + 1;
    loop {
        ticks.tick().await;
        let mut renewed = false;
        // A failed keep-alive is retried at once on a new stream, to the
        // next member.
        for _ in 0..tries {
            if stream.is_none() {
                // Opening the stream sends a first keep-alive: etcd saying
                // the lease is not found is an answer, not a failure.
                let opened = shared
                    .call("keep-alive stream", |mut c| async move {
                        match c.lease_keep_alive(lease).await {
                            Err(etcd_client::Error::LeaseKeepAliveError(e))
                                if e.contains("not found") =>
                            {
                                Ok(None)
                            }
                            other => other.map(Some),
                        }
                    })
                    .await;
                match opened {
                    Some((None, _)) => {
                        shared.report(lock, Said::Lost { attempt });
                        return;
                    }
                    Some((Some(pair), member)) => stream = Some((pair, member)),
                    None => {}
                }
            }
            let Some(((keeper, responses), member)) = stream.as_mut() else {
                break;
            };
            let member = *member;
            let sent = (shared.now)();
            let exchange = async {
                keeper.keep_alive().await?;
                responses.message().await
            };
            match tokio::time::timeout(shared.timeout, exchange).await {
                Ok(Ok(Some(answer))) if answer.ttl() > 0 => {
                    shared.health.answered();
                    let ttl = Duration::from_secs(u64::try_from(answer.ttl()).unwrap_or(0));
                    shared.report(lock, Said::Renewed { attempt, sent, ttl });
                    renewed = true;
                    break;
                }
                Ok(Ok(Some(_))) => {
                    shared.health.answered();
                    shared.report(lock, Said::Lost { attempt });
                    return;
                }
                // The stream broke or hung: a new one, to the next member.
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
                    shared.skip(member);
                    stream = None;
                }
            }
        }
        if !renewed {
            shared.health.failed("keep-alive", "no member answered");
            shared.report(lock, Said::Reachable(false));
        }
    }
}

/// Reports each change of `key`'s holder; re-watches (and re-reads the key,
/// for what was missed meanwhile) whenever the stream breaks.
async fn watch(shared: Shared, lock: String, key: String) {
    loop {
        let current = shared
            .call("get", |mut c| {
                let key = key.clone();
                async move { c.get(key, None).await }
            })
            .await;
        let Some((current, member)) = current else {
            shared.report(&lock, Said::Reachable(false));
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        shared.report(&lock, Said::Reachable(true));
        {
            let read_at = current.header().map_or(0, |h| revision_of(h.revision()));
            let (holder, revision) = match current.kvs().first() {
                Some(kv) => (
                    Some(String::from_utf8_lossy(kv.value()).into_owned()),
                    revision_of(kv.mod_revision()),
                ),
                None => (None, read_at),
            };
            shared.report(&lock, Said::Holder { holder, revision });
            // From just after the read: nothing between the two is missed.
            let from = i64::try_from(read_at + 1).unwrap_or(i64::MAX);
            let stream = shared
                .call("watch", |mut c| {
                    let key = key.clone();
                    let options = WatchOptions::new().with_start_revision(from);
                    async move { c.watch(key, Some(options)).await }
                })
                .await;
            if let Some((mut stream, _)) = stream {
                // No timeout here: a quiet key is the normal case. A broken
                // connection ends the stream (keep-alive pings), and a
                // member that loses its leader cancels it.
                while let Ok(Some(answer)) = stream.message().await {
                    if answer.canceled() {
                        break;
                    }
                    for event in answer.events() {
                        let Some(kv) = event.kv() else { continue };
                        let holder = match event.event_type() {
                            EventType::Put => {
                                Some(String::from_utf8_lossy(kv.value()).into_owned())
                            }
                            EventType::Delete => None,
                        };
                        let revision = revision_of(kv.mod_revision());
                        shared.report(&lock, Said::Holder { holder, revision });
                    }
                }
            }
            shared.skip(member);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// etcd's revisions are positive `i64`s.
fn revision_of(revision: i64) -> u64 {
    u64::try_from(revision).unwrap_or(0)
}

/// Asks etcd for its status every second: the leader, and whether etcd can
/// be reached at all, for status and metrics.
async fn probe(shared: Shared) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        let status = shared
            .call("status", |mut c| async move { c.status().await })
            .await;
        let leader = status.map_or(0, |(s, _)| s.leader());
        shared.health.leader.store(leader, Ordering::Relaxed);
    }
}
