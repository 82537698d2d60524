//! The protocol loop: one task owns the pure [`Node`] and feeds it packets,
//! timer expiries, link events and check results; it carries out the actions
//! by handing them to sockets (sent at once, never blocking) and to per-instance
//! workers (netlink, announcements, hooks) that run beside it.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ipnet::IpNet;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::checks::{self, CheckResult};
use super::control;
use super::hooks::{HookQueue, Job, Owner};
use super::netlink::{InterfaceInfo, NetEvent, Netlink, NetlinkError};
use super::poller::{self, TrackedUpdate};
use super::process::RunAs;
use super::ratelimit::RateLimiter;
use super::socket::Datagram;
use super::vips::{VipCommand, VipFailure, VipStats};
use crate::config::{self, Config};
use crate::protocol::{
    Action, DropReason, Event, GroupId, Health, HealthTracker, InstanceId, Member, Node, Output,
    Params, Report, State, SyncGroup, Time, Transition,
};
use crate::wire::{self, Auth};

mod build;
use build::Edge;
mod links;
mod reload;
mod signals;
use signals::Signals;
mod status;

/// How long an IPv6 instance's start-up waits for its link-local address
/// (duplicate address detection on a fresh interface) before it starts in
/// Fault. The loop runs meanwhile.
const LINK_LOCAL_WAIT: Duration = Duration::from_secs(10);
/// How long shutdown waits for address removal before exiting anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// At shutdown, how long a running hook may go on (its timeout still
/// applies if sooner), and the most each STOP hook after it may take. With
/// the address removal above, stopping takes at most 5 + 2 x 5 s: the
/// shipped unit's TimeoutStopSec (30 s) covers it.
const HOOK_STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs the daemon until SIGTERM or SIGINT. Exit status 0 after a clean stop,
/// 1 when start-up fails.
pub fn run(config: Config, config_path: std::path::PathBuf) -> ExitCode {
    // Before anything else: a second daemon must not touch addresses or sockets.
    let _lock = match super::lock::acquire(&config.global.control_socket) {
        Ok(lock) => Some(lock),
        Err(super::lock::LockError::Held(e)) => {
            tracing::error!("{e}");
            return ExitCode::from(1);
        }
        Err(super::lock::LockError::Unavailable(e)) => {
            tracing::warn!("{e}; nothing keeps a second vipd from starting beside this one");
            None
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let signals = match Signals::install() {
            Ok(signals) => signals,
            Err(e) => {
                tracing::error!("cannot install signal handlers: {e}");
                return ExitCode::from(1);
            }
        };
        match Daemon::start(config, config_path).await {
            Ok(daemon) => daemon.serve(signals).await,
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::from(1)
            }
        }
    })
}

/// Sleeps until `at`; never wakes without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

enum Input {
    Packet {
        socket: usize,
        received: io::Result<Result<Datagram, wire::Error>>,
    },
    Net(NetEvent),
    /// A followed interface as looked up after a change.
    Lookup {
        name: String,
        result: Result<InterfaceInfo, NetlinkError>,
    },
    /// A VIP worker could not install an instance's addresses.
    VipFailed {
        instance: String,
        failure: VipFailure,
    },
    Check(CheckResult),
    Tracked(TrackedUpdate),
}

/// Per-instance counters (exported by status and metrics).
#[derive(Debug, Default, Clone)]
pub struct ProtocolCounters {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub send_errors: u64,
    pub transitions: u64,
    pub transitions_to: BTreeMap<State, u64>,
    pub dropped: BTreeMap<DropReason, u64>,
    pub lower_priority_masters: u64,
    pub vip_restores: u64,
}

struct Slot {
    name: String,
    cfg: config::InstanceConfig,
    /// Where adverts go out from; `None` while the interface has no usable
    /// address (the instance is in Fault then).
    src: Option<IpAddr>,
    /// What the VIP worker was last attached to.
    attachment: Option<links::AttachKey>,
    /// Index into the edge's sockets.
    socket: usize,
    tracker: HealthTracker,
    vip_tx: Option<mpsc::UnboundedSender<VipCommand>>,
    vip_task: Option<JoinHandle<()>>,
    vip_stats: Arc<VipStats>,
    hooks: HookQueue,
    counters: ProtocolCounters,
    last_transition: Option<(SystemTime, Instant, Transition)>,
    trouble: links::Trouble,
    /// A start-up waiting for the interface's IPv6 link-local address.
    start_by: Option<Instant>,
}

struct Daemon {
    epoch: Instant,
    node: Node,
    slots: Vec<Slot>,
    edge: Edge,
    group_hooks: Vec<HookQueue>,
    inputs: mpsc::UnboundedReceiver<Input>,
    background: Vec<JoinHandle<()>>,
    invalid: BTreeMap<&'static str, u64>,
    log_limit: RateLimiter,
    node_name: String,
    control: mpsc::UnboundedReceiver<control::Request>,
    /// The running configuration and where it came from, for reloads.
    config: Config,
    config_path: std::path::PathBuf,
    run_as: RunAs,
    /// Running checks by name, with the definition they run.
    check_tasks: BTreeMap<String, (config::Check, JoinHandle<()>)>,
    check_tx: mpsc::UnboundedSender<CheckResult>,
    /// Forwards the tracked-file thread's updates; dropping it stops the thread.
    tracked_task: JoinHandle<()>,
    /// The configuration a reload in progress is applying.
    pending: Option<Config>,
    /// Instances whose edge health changed during the current batch.
    health_changed: Vec<usize>,
    checks: BTreeMap<String, CheckCounters>,
    tracked: poller::Latest,
}

#[derive(Debug, Default, Clone)]
struct CheckCounters {
    runs: u64,
    failures: u64,
    timeouts: u64,
    last_failure: Option<super::process::FailedRun>,
}

impl Daemon {
    async fn start(config: Config, config_path: std::path::PathBuf) -> Result<Daemon, String> {
        let epoch = Instant::now();
        // The same checks as `vipd check`, before touching anything.
        let run_as = super::preflight::check(&config).map_err(|problems| problems.join("; "))?;
        let (netlink, net_events) = Netlink::open().await.map_err(|e| format!("netlink: {e}"))?;
        let (input_tx, inputs) = mpsc::unbounded_channel();
        let mut background = Vec::new();
        let mut slots = Vec::new();
        let mut members = Vec::new();
        // Tracked files and processes: read once now, so the first advert
        // already carries their weights; then polled on their own thread.
        let mut watcher = poller::Poller::new(&config);
        let first_reading = watcher.poll(std::time::Instant::now());
        let mut tracked_latest = poller::Latest::default();
        for update in &first_reading {
            tracing::info!("{}", update.describe());
            tracked_latest.record(update);
        }

        let mut edge = Edge {
            netlink: netlink.clone(),
            sockets: Vec::new(),
            links: BTreeMap::new(),
            input_tx: input_tx.clone(),
        };
        for (name, cfg) in &config.instances {
            let (slot, member) = edge
                .build_instance(
                    name,
                    cfg,
                    &config,
                    &first_reading,
                    run_as,
                    build::Start::Daemon,
                )
                .await?;
            slots.push(slot);
            members.push(member);
        }

        let index_of = |name: &str| slots.iter().position(|s: &Slot| s.name == name);
        let mut groups = Vec::new();
        let mut group_hooks = Vec::new();
        for (name, group) in &config.sync_groups {
            let members = group
                .instances
                .iter()
                .filter_map(|m| index_of(m))
                .map(InstanceId)
                .collect();
            groups.push(SyncGroup {
                name: name.clone(),
                members,
            });
            let hook_timeout = config.global.hook_timeout;
            group_hooks.push(HookQueue::spawn(
                Owner::Group,
                name,
                group.hooks.clone(),
                String::new(),
                hook_timeout,
                run_as,
            ));
        }

        background.push(forward(net_events, input_tx.clone(), Input::Net));
        let (check_tx, check_rx) = mpsc::unbounded_channel();
        background.push(forward(check_rx, input_tx.clone(), Input::Check));
        let mut check_tasks = BTreeMap::new();
        for check in tracked_checks(&config) {
            let task = checks::spawn(&check, run_as, check_tx.clone());
            check_tasks.insert(check.name.clone(), (check, task));
        }
        let tracked_task = start_watcher(watcher, &input_tx)?;

        let (control_tx, control) = mpsc::unbounded_channel();
        let socket_path = &config.global.control_socket;
        match control::serve(
            socket_path,
            config.global.control_group.as_deref(),
            control_tx.clone(),
        ) {
            Ok(task) => background.push(task),
            // Status is for operators; failing over is the job. Keep going.
            Err(e) => tracing::warn!("{e}; `vipd status` will not work"),
        }
        if let Some(addr) = config.global.metrics_listen {
            match super::metrics::serve(addr, control_tx).await {
                Ok(task) => background.push(task),
                Err(e) => tracing::warn!("{e}; metrics will not be served"),
            }
        }

        Ok(Daemon {
            epoch,
            node: Node::new(members, groups),
            slots,
            edge,
            group_hooks,
            inputs,
            background,
            invalid: BTreeMap::new(),
            log_limit: RateLimiter::new(Duration::from_secs(10)),
            node_name: config.global.node_name.clone().unwrap_or_default(),
            config_path,
            run_as,
            control,
            checks: BTreeMap::new(),
            tracked: tracked_latest,
            check_tx,
            check_tasks,
            tracked_task,
            pending: None,
            health_changed: Vec::new(),
            config,
        })
    }

    fn now(&self) -> Time {
        Time::from_duration(self.epoch.elapsed())
    }

    fn instant(&self, t: Time) -> Instant {
        self.epoch + t.since_epoch()
    }

    async fn serve(mut self, mut signals: Signals) -> ExitCode {
        // Sockets are open and stale VIPs are gone: tell systemd we are ready.
        if let Err(e) = super::sdnotify::notify("READY=1") {
            tracing::warn!("cannot notify systemd: {e}");
        }
        for index in 0..self.slots.len() {
            if self.slots[index].awaits_link_local(&self.edge.links) {
                self.slots[index].start_by = Some(Instant::now() + LINK_LOCAL_WAIT);
            } else {
                self.start_instance(index);
            }
        }
        // Pinged from this loop, so a stalled protocol loop gets restarted.
        let watchdog_period = super::sdnotify::watchdog_interval();
        let mut watchdog =
            tokio::time::interval(watchdog_period.unwrap_or(Duration::from_secs(3600)));
        loop {
            let deadline = self.node.poll_timeout().map(|d| self.instant(d));
            let timer = sleep_until(deadline);
            let edge_timer = sleep_until(self.edge_deadline());
            tokio::select! {
                // Signals, then timers, then input: a packet flood must not make an
                // advert late.
                biased;
                request = signals.next() => match request {
                    signals::Request::Reload => {
                        self.reload().await;
                    }
                    signals::Request::Stop(name) => {
                        tracing::info!("{name}: shutting down");
                        break;
                    }
                },
                () = timer => {
                    let outputs = self.node.handle_timeout(self.now());
                    self.execute(outputs);
                }
                () = edge_timer => self.on_edge_timer(),
                _ = watchdog.tick(), if watchdog_period.is_some() => {
                    let _ = super::sdnotify::notify("WATCHDOG=1");
                }
                Some(input) = self.inputs.recv() => self.on_input(input),
                Some(request) = self.control.recv() => {
                    let reply = match request.command {
                        control::Command::Status => control::Reply::Status(Box::new(self.status())),
                        control::Command::Reload => control::Reply::Reload(self.reload().await),
                    };
                    let _ = request.reply.send(reply);
                }
            }
        }
        self.shutdown().await;
        ExitCode::SUCCESS
    }

    async fn shutdown(mut self) {
        let _ = super::sdnotify::notify("STOPPING=1");
        for hooks in self.slots.iter().map(|s| &s.hooks).chain(&self.group_hooks) {
            hooks.begin_stop(HOOK_STOP_GRACE);
        }
        let outputs = self.node.handle_all(self.now(), Event::Shutdown);
        self.execute(outputs);
        let checks = self.check_tasks.values().map(|(_, task)| task);
        for task in self.background.iter().chain(checks) {
            task.abort();
        }
        for socket in &mut self.edge.sockets {
            socket.close();
        }
        self.tracked_task.abort();
        // Closing the command channels lets each worker finish its queue
        // (the VIP removals just sent) and exit.
        let mut workers = Vec::new();
        for slot in &mut self.slots {
            slot.vip_tx = None;
            workers.extend(slot.vip_task.take());
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, futures::future::join_all(workers))
            .await
            .is_err()
        {
            tracing::warn!("address removal did not finish within {SHUTDOWN_GRACE:?}");
        }
        // All queues at once: each is bounded by the stop grace, so all are.
        let queues = self.slots.iter_mut().map(|s| &mut s.hooks);
        futures::future::join_all(queues.chain(&mut self.group_hooks).map(HookQueue::finish)).await;
        for slot in &self.slots {
            slot.log_summary();
        }
        tracing::info!("stopped");
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Packet { socket, received } => match received {
                Ok(Ok(datagram)) => self.on_datagram(socket, &datagram),
                Ok(Err(e)) => self.count_invalid(socket, None, e),
                Err(e) => {
                    if self.log_limit.allow("socket-error").is_some() {
                        tracing::error!("receiving on {}: {e}", self.edge.sockets[socket].ifname);
                    }
                }
            },
            Input::Net(event) => self.on_net_event(event),
            Input::Lookup { name, result } => self.on_lookup(&name, result),
            Input::VipFailed { instance, failure } => self.on_vip_failure(&instance, failure),
            Input::Check(result) => self.on_check(result),
            Input::Tracked(update) => self.on_tracked(&update),
        }
    }

    fn on_datagram(&mut self, socket: usize, datagram: &Datagram) {
        let envelope = datagram.envelope();
        // The TTL rule protects instances that listen to the group; unicast
        // peers may be a routed hop apart (deviation 10 in the conformance
        // table), and accept adverts only from their configured peers.
        let routed = envelope.check_ttl().err();
        let unicast_here = || {
            self.slots
                .iter()
                .any(|s| s.socket == socket && s.cfg.is_unicast())
        };
        if let Some(e) = routed.filter(|_| !unicast_here()) {
            return self.count_invalid(socket, Some(datagram.src), e);
        }
        let advert = match envelope.advert() {
            Ok(advert) => advert,
            Err(e) => return self.count_invalid(socket, Some(datagram.src), e),
        };
        let now = self.now();
        let mut refused = None;
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            if slot.socket != socket || slot.cfg.vrid != advert.vrid {
                continue;
            }
            if routed.is_some() && !slot.cfg.is_unicast() {
                refused = routed;
                continue;
            }
            self.slots[index].counters.adverts_received += 1;
            let outputs = self.node.handle(
                now,
                InstanceId(index),
                Event::Advert {
                    src: datagram.src,
                    advert: &advert,
                },
            );
            self.execute(outputs);
        }
        if let Some(e) = refused {
            self.count_invalid(socket, Some(datagram.src), e);
        }
    }

    fn count_invalid(&mut self, socket: usize, from: Option<IpAddr>, e: wire::Error) {
        *self.invalid.entry(e.reason()).or_default() += 1;
        if let Some(suppressed) = self.log_limit.allow(e.reason()) {
            let interface = &self.edge.sockets[socket].ifname;
            tracing::warn!(
                event = "invalid_packet",
                interface = %interface,
                peer = from.map(|f| f.to_string()),
                reason = e.reason(),
                suppressed,
                "invalid VRRP packet{} on {interface}: {e}{}",
                from.map_or(String::new(), |f| format!(" from {f}")),
                suppressed_note(suppressed)
            );
        }
    }

    fn count_dropped(&mut self, index: usize, from: IpAddr, why: DropReason) {
        let slot = &mut self.slots[index];
        *slot.counters.dropped.entry(why).or_default() += 1;
        let reason = why.label();
        let key = format!("{}:{reason}", slot.name);
        if let Some(suppressed) = self.log_limit.allow(&key) {
            tracing::warn!(
                event = "advert_dropped",
                instance = %slot.name,
                vrid = slot.cfg.vrid,
                peer = %from,
                reason,
                suppressed,
                "instance {}: ignoring advert from {from}: {}{}",
                slot.name,
                reason.replace('_', " "),
                suppressed_note(suppressed)
            );
        }
    }

    fn on_check(&mut self, result: CheckResult) {
        let ok = result.outcome.success();
        let counters = self.checks.entry(result.name.clone()).or_default();
        counters.runs += 1;
        counters.failures += u64::from(!ok);
        counters.timeouts += u64::from(result.outcome.timed_out());
        if result.failure.is_some() {
            counters.last_failure = result.failure;
        }
        for index in 0..self.slots.len() {
            if self.slots[index].tracker.check_result(&result.name, ok) {
                let verdict = if ok { "succeeding" } else { "failing" };
                tracing::info!(
                    event = "check",
                    instance = %self.slots[index].name,
                    check = %result.name,
                    healthy = ok,
                    outcome = %result.outcome,
                    "instance {}: check {} now {verdict} ({})",
                    self.slots[index].name,
                    result.name,
                    result.outcome
                );
                self.refresh_health(index);
            }
        }
    }

    /// A tracked file or process changed: every instance tracking it
    /// re-evaluates its health.
    fn on_tracked(&mut self, update: &TrackedUpdate) {
        tracing::info!("{}", update.describe());
        self.tracked.record(update);
        for index in 0..self.slots.len() {
            if update.apply(&mut self.slots[index].tracker) {
                self.refresh_health(index);
            }
        }
    }

    fn refresh_health(&mut self, index: usize) {
        let health: Health = self.slots[index].health(&self.edge.links, &self.edge.sockets);
        if *self.node.instance(InstanceId(index)).health() != health {
            let outputs = self.node.set_health(self.now(), InstanceId(index), &health);
            self.execute(outputs);
        }
    }

    fn execute(&mut self, outputs: Vec<Output>) {
        self.execute_batch(outputs);
        // Health that changed while the batch ran (an advert that could not
        // be sent) is fed back only now: the batch's actions go out in the
        // order the state machine gave them.
        while let Some(index) = self.health_changed.pop() {
            self.refresh_health(index);
        }
    }

    fn execute_batch(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Instance(InstanceId(index), action) => self.perform(index, action),
                Output::Group(GroupId(group), transition) => {
                    let name = &self.node.groups()[group].name;
                    tracing::info!(
                        event = "group_transition",
                        group = %name,
                        from = %transition.from,
                        to = %transition.to,
                        "sync group {name}: {} -> {}",
                        transition.from,
                        transition.to
                    );
                    self.group_hooks[group].push(job(&transition));
                }
            }
        }
    }

    fn perform(&mut self, index: usize, action: Action) {
        match action {
            Action::SendAdvert(advert) => self.send_advert(index, &advert),
            Action::AddVips => self.slots[index].send_vip(VipCommand::Add),
            Action::RemoveVips => self.slots[index].send_vip(VipCommand::Remove),
            Action::Announce => self.slots[index].send_vip(VipCommand::Announce),
            Action::Transition(t) => {
                let slot = &mut self.slots[index];
                slot.counters.transitions += 1;
                *slot.counters.transitions_to.entry(t.to).or_default() += 1;
                slot.last_transition = Some((SystemTime::now(), Instant::now(), t.clone()));
                if t.from == State::Master {
                    slot.trouble.left_master();
                }
                tracing::info!(
                    event = "transition",
                    instance = %slot.name,
                    vrid = slot.cfg.vrid,
                    from = %t.from,
                    to = %t.to,
                    priority = t.priority,
                    reason = %t.reason,
                    "instance {}: {} -> {} (priority {}): {}",
                    slot.name,
                    t.from,
                    t.to,
                    t.priority,
                    t.reason
                );
                slot.send_vip(VipCommand::Hooks(job(&t)));
            }
            Action::Report(Report::Dropped { from, reason }) => {
                self.count_dropped(index, from, reason)
            }
            Action::Report(Report::LowerPriorityMaster { from, priority }) => {
                let slot = &mut self.slots[index];
                slot.counters.lower_priority_masters += 1;
                let key = format!("{}:lower-master", slot.name);
                if let Some(suppressed) = self.log_limit.allow(&key) {
                    tracing::warn!(
                        event = "lower_priority_master",
                        instance = %slot.name,
                        vrid = slot.cfg.vrid,
                        peer = %from,
                        priority,
                        suppressed,
                        "instance {}: another master {from} (priority {priority}) on our VRID; asserting mastership{}",
                        slot.name,
                        suppressed_note(suppressed)
                    );
                }
            }
        }
    }
}

impl Slot {
    fn log_summary(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let (c, h, v) = (&self.counters, &self.hooks.stats, &self.vip_stats);
        let dropped = if c.dropped.is_empty() {
            "0".to_owned()
        } else {
            c.dropped
                .iter()
                .map(|(reason, n)| format!("{n} {}", reason.label().replace('_', " ")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        tracing::info!(
            "instance {}: adverts sent {} (send errors {}) received {} dropped {dropped}; transitions {}; \
             announcements {}; hooks run {} failed {} timed out {}",
            self.name,
            c.adverts_sent,
            c.send_errors,
            c.adverts_received,
            c.transitions,
            v.announcements.load(Relaxed),
            h.runs.load(Relaxed),
            h.failures.load(Relaxed),
            h.timeouts.load(Relaxed),
        );
    }

    fn send_vip(&self, command: VipCommand) {
        if let Some(tx) = &self.vip_tx {
            let _ = tx.send(command);
        }
    }
}

/// The checks some instance tracks: the only ones that run.
fn tracked_checks(config: &Config) -> Vec<config::Check> {
    let names: std::collections::BTreeSet<&String> = config
        .instances
        .values()
        .flat_map(|i| i.track_checks.iter().map(|t| &t.name))
        .collect();
    names
        .into_iter()
        .map(|name| config.checks[name].clone())
        .collect()
}

/// Starts the tracked file and process thread and the task forwarding its
/// updates into the loop (aborting that task stops the thread).
fn start_watcher(
    watcher: poller::Poller,
    input_tx: &mpsc::UnboundedSender<Input>,
) -> Result<JoinHandle<()>, String> {
    let (tracked_tx, tracked_rx) = mpsc::unbounded_channel();
    let task = forward(tracked_rx, input_tx.clone(), Input::Tracked);
    poller::spawn(watcher, tracked_tx)
        .map_err(|e| format!("cannot start the tracked file and process thread: {e}"))?;
    Ok(task)
}

/// The protocol's view of an instance's settings.
fn params(cfg: &config::InstanceConfig, src: IpAddr) -> Params {
    Params {
        version: cfg.version,
        vrid: cfg.vrid,
        advert_interval: cfg.advert_interval,
        preempt: cfg.preempt,
        preempt_delay: cfg.preempt_delay,
        primary_address: src,
        virtual_ips: cfg.virtual_ips.iter().map(IpNet::addr).collect(),
        auth: cfg.auth_pass.as_deref().map_or(Auth::None, Auth::simple),
        unicast_peers: cfg.unicast_peers.clone(),
    }
}

fn job(t: &Transition) -> Job {
    Job {
        from: t.from,
        to: t.to,
        priority: t.priority,
    }
}

/// Forwards everything `rx` receives into the loop's input, wrapped.
fn forward<T: Send + 'static>(
    mut rx: mpsc::UnboundedReceiver<T>,
    tx: mpsc::UnboundedSender<Input>,
    wrap: impl Fn(T) -> Input + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(item) = rx.recv().await {
            if tx.send(wrap(item)).is_err() {
                break;
            }
        }
    })
}

fn suppressed_note(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} similar messages suppressed)")
    }
}

/// A crashed run may have left our VIPs behind: never start as Backup holding them.
async fn remove_stale_vips(netlink: &Netlink, name: &str, info: &InterfaceInfo, vips: &[IpNet]) {
    for vip in vips {
        if info.addresses.iter().any(|a| a.addr() == vip.addr()) {
            tracing::warn!(
                "instance {name}: removing {vip} left on {} by a previous run",
                info.name
            );
            if let Err(e) = netlink.remove_address(info.index, *vip).await {
                tracing::error!("instance {name}: cannot remove stale {vip}: {e}");
            }
        }
    }
}
