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
    TlsOptions, Txn, TxnOp, TxnOpResponse,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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
    },
    /// Stop renewing the lock's lease and revoke it (the key goes with it).
    Release { lock: String },
    /// Report every change of `key`'s holder.
    Watch { lock: String, key: String },
}

/// What etcd said, for the loop to hand to the core (owned: it crosses threads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Granted { sent: Time, ttl: Duration },
    Denied { holder: String },
    Renewed { sent: Time, ttl: Duration },
    Lost,
    Holder(Option<String>),
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
        let options = connect_options(cfg)?;
        let health = Arc::new(EtcdHealth::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let endpoints = cfg.endpoints.clone();
        let shared = Shared {
            endpoints: endpoints.clone(),
            options,
            timeout: cfg.request_timeout,
            node,
            now,
            reports,
            health: health.clone(),
        };
        let task = tokio::spawn(serve(shared, rx));
        Ok(Etcd {
            tx: Some(tx),
            health,
            endpoints,
            task: Some(task),
        })
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

/// What every task of the client shares.
#[derive(Clone)]
struct Shared {
    endpoints: Vec<String>,
    options: ConnectOptions,
    timeout: Duration,
    node: String,
    now: Now,
    reports: mpsc::UnboundedSender<Report>,
    health: Arc<EtcdHealth>,
}

impl Shared {
    fn report(&self, lock: &str, said: Said) {
        let _ = self.reports.send(Report {
            lock: lock.to_owned(),
            said,
        });
    }

    /// A client, connecting if needed; `None` (and a failure counted) if
    /// no endpoint can be dialled.
    async fn client(&self, client: &mut Option<Client>) -> Option<Client> {
        if client.is_none() {
            let connect = Client::connect(&self.endpoints, Some(self.options.clone()));
            match tokio::time::timeout(self.timeout, connect).await {
                Ok(Ok(c)) => *client = Some(c),
                Ok(Err(e)) => self.health.failed("connect", &e.to_string()),
                Err(_) => self.health.failed("connect", "timed out"),
            }
        }
        client.clone()
    }

    /// Runs one request with the timeout, counting the outcome.
    async fn call<T, E: std::fmt::Display>(
        &self,
        what: &str,
        request: impl Future<Output = Result<T, E>>,
    ) -> Option<T> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(answer)) => {
                self.health.answered();
                Some(answer)
            }
            Ok(Err(e)) => {
                self.health.failed(what, &e.to_string());
                None
            }
            Err(_) => {
                self.health.failed(what, "timed out");
                None
            }
        }
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
    let mut client: Option<Client> = None;
    // One task per held (or being acquired) lock, one per watched key.
    let mut holding: BTreeMap<String, (JoinHandle<()>, LeaseSlot)> = BTreeMap::new();
    let mut watching: Vec<JoinHandle<()>> = Vec::new();
    let probe = tokio::spawn(probe(shared.clone()));
    while let Some(command) = rx.recv().await {
        match command {
            Command::Acquire { lock, key, ttl } => {
                if let Some(old) = holding.remove(&lock) {
                    revoke(&shared, &mut client, old).await;
                }
                let Some(c) = shared.client(&mut client).await else {
                    shared.report(&lock, Said::Reachable(false));
                    continue;
                };
                let slot = LeaseSlot::default();
                let task = tokio::spawn(hold(
                    shared.clone(),
                    c,
                    lock.clone(),
                    key,
                    ttl,
                    slot.clone(),
                ));
                holding.insert(lock, (task, slot));
            }
            Command::Release { lock } => {
                if let Some(held) = holding.remove(&lock) {
                    revoke(&shared, &mut client, held).await;
                }
            }
            Command::Watch { lock, key } => {
                watching.push(tokio::spawn(watch(
                    shared.clone(),
                    client.clone(),
                    lock,
                    key,
                )));
            }
        }
    }
    probe.abort();
    for (task, _) in holding.into_values() {
        task.abort();
    }
    for task in watching {
        task.abort();
    }
}

/// Stops a lock's task and revokes its lease, which deletes the key with
/// it; if etcd cannot be reached the lease expires by itself.
async fn revoke(
    shared: &Shared,
    client: &mut Option<Client>,
    (task, slot): (JoinHandle<()>, LeaseSlot),
) {
    task.abort();
    let lease = slot.lock().ok().and_then(|mut l| l.take());
    if let (Some(id), Some(mut c)) = (lease, shared.client(client).await) {
        shared.call("revoke", c.lease_revoke(id)).await;
    }
}

/// Acquires `key`, then keeps its lease alive until aborted or lost.
async fn hold(
    shared: Shared,
    mut client: Client,
    lock: String,
    key: String,
    ttl: Duration,
    slot: LeaseSlot,
) {
    let sent = (shared.now)();
    let secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    let Some(grant) = shared
        .call("lease grant", client.lease_grant(secs, None))
        .await
    else {
        shared.report(&lock, Said::Reachable(false));
        return;
    };
    let lease = grant.id();
    set_lease(&slot, Some(lease));
    let granted = Duration::from_secs(u64::try_from(grant.ttl()).unwrap_or(0));
    let mut attempts = 0;
    let holder = loop {
        attempts += 1;
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key.clone(),
                shared.node.clone(),
                Some(PutOptions::new().with_lease(lease)),
            )])
            .or_else([TxnOp::get(key.clone(), None)]);
        let Some(answer) = shared.call("lock", client.txn(txn)).await else {
            // The key may or may not be ours: revoking the lease settles it.
            let _ = shared.call("revoke", client.lease_revoke(lease)).await;
            set_lease(&slot, None);
            shared.report(&lock, Said::Reachable(false));
            return;
        };
        if answer.succeeded() {
            break None;
        }
        let holder = answer.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(get) => get
                .kvs()
                .first()
                .map(|kv| (String::from_utf8_lossy(kv.value()).into_owned(), kv.lease())),
            _ => None,
        });
        match holder {
            // Our own name on a lease we do not hold: left by an earlier run
            // of this daemon (one per node). It holds nothing now: free it.
            Some((name, stale)) if name == shared.node && stale != lease && attempts == 1 => {
                tracing::info!(key = %key, "etcd: removing {key} left by an earlier run of this node");
                let _ = shared.call("revoke", client.lease_revoke(stale)).await;
            }
            // Deleted between the compare and the get: try again.
            None if attempts < 3 => {}
            other => break Some(other.map_or_else(|| "someone".to_owned(), |(name, _)| name)),
        }
    };
    if let Some(holder) = holder {
        let _ = shared.call("revoke", client.lease_revoke(lease)).await;
        set_lease(&slot, None);
        shared.report(&lock, Said::Denied { holder });
        return;
    }
    shared.report(&lock, Said::Granted { sent, ttl: granted });
    renew(&shared, &mut client, lock, lease, ttl).await;
    set_lease(&slot, None);
}

/// Keeps `lease` alive every `ttl / 4` until etcd says it is gone.
async fn renew(shared: &Shared, client: &mut Client, lock: String, lease: i64, ttl: Duration) {
    let every = ttl / 4;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stream = None;
    loop {
        ticks.tick().await;
        // A failed attempt is retried at once on a new stream: the client
        // may have sent the first to a member that was just cut off.
        let mut renewed = false;
        for _attempt in 0..2 {
            if stream.is_none() {
                stream = shared
                    .call("keep-alive stream", client.lease_keep_alive(lease))
                    .await;
            }
            let Some((keeper, responses)) = stream.as_mut() else {
                continue;
            };
            let sent = (shared.now)();
            let exchange = async {
                keeper.keep_alive().await?;
                responses.message().await
            };
            match shared.call("keep-alive", exchange).await {
                Some(Some(answer)) if answer.ttl() > 0 => {
                    let ttl = Duration::from_secs(u64::try_from(answer.ttl()).unwrap_or(0));
                    shared.report(&lock, Said::Renewed { sent, ttl });
                    renewed = true;
                    break;
                }
                Some(Some(_)) => {
                    shared.report(&lock, Said::Lost);
                    return;
                }
                // The stream broke or hung: a new one for the next attempt.
                Some(None) | None => stream = None,
            }
        }
        if !renewed {
            shared.report(&lock, Said::Reachable(false));
        }
    }
}

/// Reports each change of `key`'s holder; re-watches (and re-reads the key,
/// for what was missed meanwhile) whenever the stream breaks.
async fn watch(shared: Shared, client: Option<Client>, lock: String, key: String) {
    let mut client = client;
    loop {
        if let Some(mut c) = shared.client(&mut client).await {
            if let Some(current) = shared.call("get", c.get(key.clone(), None)).await {
                let holder = current
                    .kvs()
                    .first()
                    .map(|kv| String::from_utf8_lossy(kv.value()).into_owned());
                report_holder(&shared, &lock, holder);
                if let Some(mut stream) = shared.call("watch", c.watch(key.clone(), None)).await {
                    // No timeout here: a quiet key is the normal case. A
                    // broken connection ends the stream (keep-alive pings).
                    while let Ok(Some(answer)) = stream.message().await {
                        if answer.canceled() {
                            break;
                        }
                        for event in answer.events() {
                            let holder = match event.event_type() {
                                EventType::Put => event
                                    .kv()
                                    .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()),
                                EventType::Delete => None,
                            };
                            report_holder(&shared, &lock, holder);
                        }
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn report_holder(shared: &Shared, lock: &str, holder: Option<String>) {
    // Our own key is reported by the grant, not as someone else's.
    if holder.as_deref() != Some(shared.node.as_str()) {
        shared.report(lock, Said::Holder(holder));
    }
}

/// Asks etcd for its status every second: the leader, and whether etcd can
/// be reached at all, for status and metrics.
async fn probe(shared: Shared) {
    let mut client = None;
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        let Some(mut c) = shared.client(&mut client).await else {
            continue;
        };
        match shared.call("status", c.status()).await {
            Some(status) => shared
                .health
                .leader
                .store(status.leader(), Ordering::Relaxed),
            None => shared.health.leader.store(0, Ordering::Relaxed),
        }
    }
}
