//! The protocol loop: one task owns the pure [`Node`] and feeds it packets,
//! timer expiries, link events and check results; it carries out the actions
//! by handing them to sockets (sent at once, never blocking) and to per-instance
//! workers (netlink, announcements, hooks) that run beside it.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ipnet::IpNet;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::checks::CheckResult;
use super::control;
use super::etcd::{self, Etcd, Said};
use super::hooks::{Afterwards, HookQueue, Job, Owner};
use super::netlink::{InterfaceInfo, NetEvent, Netlink, NetlinkError};
use super::poller::{Poller, TrackedUpdate};
use super::process::RunAs;
use super::ratelimit::RateLimiter;
use super::socket::{MAX_DATAGRAM, Received};
use super::vips::{VipCommand, VipFailure, VipStats};
use crate::config::{self, Config};
use crate::protocol::{
    Action, DropReason, Event, GroupId, Health, HealthTracker, InstanceId, LeaseAction, LeaseEvent,
    Node, Output, Params, Report, State, SyncGroup, Time, Transition,
};
use crate::wire::{self, Auth};

mod build;
mod clock;
mod follow;
use build::{Edge, Lookups};
use clock::{Clock, ProtocolTimer};
mod ids;
use ids::{ById, SocketId};
mod links;
mod reload;
mod signals;
use signals::Signals;
mod status;
mod watchers;
use watchers::Watchers;

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
pub fn run(config: Config, config_path: PathBuf) -> ExitCode {
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
    // Checks, hooks and VIP workers fork processes and talk to the kernel:
    // on a thread of their own, so none of it can delay an advert.
    let workers = match Workers::start() {
        Ok(workers) => workers,
        Err(e) => {
            tracing::error!("cannot start the worker thread: {e}");
            return ExitCode::from(1);
        }
    };
    // The protocol loop's timers fire when due, not up to 50 us later
    // (the kernel's default slack for grouping wake-ups).
    if let Err(e) = nix::sys::prctl::set_timerslack(1) {
        tracing::warn!("cannot set the timer slack: {e}");
    }
    let workers_handle = workers.handle.clone();
    let code = runtime.block_on(async {
        let signals = match Signals::install() {
            Ok(signals) => signals,
            Err(e) => {
                tracing::error!("cannot install signal handlers: {e}");
                return ExitCode::from(1);
            }
        };
        match Daemon::start(config, config_path, workers_handle).await {
            Ok(daemon) => daemon.serve(signals).await,
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::from(1)
            }
        }
    });
    // A reload preparation stuck in a blocking read (a hung file system)
    // must not keep the process alive after a clean stop: dropping the
    // runtime would wait for it.
    runtime.shutdown_background();
    workers.stop();
    code
}

/// A second runtime on a thread of its own, for everything that may block
/// for a while: checks, hooks, VIP workers.
struct Workers {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Workers {
    fn start() -> io::Result<Workers> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("vipd-workers".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Like the loop's runtime: never wait for a stuck task.
                runtime.shutdown_background();
            })?;
        Ok(Workers {
            handle,
            stop: Some(stop),
        })
    }

    fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Runs `f` with the worker runtime as the current one, so what it spawns
/// runs there rather than on the protocol loop's thread.
fn on_workers<R>(workers: &tokio::runtime::Handle, f: impl FnOnce() -> R) -> R {
    let _entered = workers.enter();
    f()
}

/// Sleeps until `at`; never wakes without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Everything the protocol loop waits on.
enum Input {
    /// SIGTERM, SIGINT or SIGHUP.
    Signal(signals::Request),
    /// The protocol's next deadline passed.
    ProtocolTimer,
    /// An instance's retry or start-up deadline passed.
    EdgeTimer,
    /// Time to tell systemd's watchdog the loop is alive.
    WatchdogTick,
    /// A datagram in the loop's receive buffer, or why there is none.
    Packet {
        socket: SocketId,
        received: build::RecvResult,
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
    /// `vipd status` or `vipd reload`, or a metrics scrape.
    Control(control::Request),
    /// A reload read and planned off the loop, ready to apply.
    Reload(Box<reload::Prepared>),
    /// What etcd said about an instance's leadership lock, or a follower's
    /// leader key.
    Lease(etcd::Report),
    /// A follower's REST API answered (or did not).
    Rest {
        lock: String,
        answer: crate::protocol::follow::RestAnswer,
    },
}

/// Per-instance counters of the protocol (exported by status and metrics).
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

/// Packets no instance could even look at, by kind of defect.
#[derive(Debug, Default)]
struct InvalidCounters {
    /// One entry per variant of [`wire::Error`], with the first error seen
    /// (its label and words stand for all of them).
    by_kind: Vec<(wire::Error, u64)>,
}

impl InvalidCounters {
    fn count(&mut self, e: wire::Error) {
        let kind = std::mem::discriminant(&e);
        match self
            .by_kind
            .iter_mut()
            .find(|(seen, _)| std::mem::discriminant(seen) == kind)
        {
            Some((_, n)) => *n += 1,
            None => self.by_kind.push((e, 1)),
        }
    }

    /// Counts by the errors' stable labels, for status and metrics.
    fn by_label(&self) -> BTreeMap<String, u64> {
        self.by_kind
            .iter()
            .map(|(e, n)| (e.reason().to_owned(), *n))
            .collect()
    }
}

/// Where an advert goes: at most one instance per socket and VRID
/// (validation keeps VRIDs unique per interface and family).
#[derive(Debug, Default)]
struct Demux {
    by_vrid: std::collections::HashMap<(SocketId, u8), InstanceId>,
    /// Sockets with a unicast instance: they take adverts from a routed hop.
    unicast: std::collections::HashSet<SocketId>,
}

/// What the loop keeps of one instance beside the state machine: its
/// configuration, socket, VIP worker, hooks, tracker and counters.
struct InstanceEdge {
    name: String,
    cfg: config::InstanceConfig,
    /// Where adverts go out from; `None` while the interface has no usable
    /// address (the instance is in Fault then).
    src: Option<IpAddr>,
    /// What the VIP worker was last attached to.
    attachment: Option<links::AttachKey>,
    socket: SocketId,
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
    /// Names this build of the instance to the etcd client: answers about
    /// an earlier build's lock (before a reload) are not this one's.
    lock_id: String,
}

/// The configuration running, where it came from, and whom scripts run as
/// (which only a restart changes).
struct Running {
    config: Config,
    path: PathBuf,
    run_as: RunAs,
}

struct Daemon {
    clock: Clock,
    /// The latest time handed to the core: a packet stamped by the kernel
    /// before it must not take the core's clock backwards.
    last_now: std::cell::Cell<Time>,
    timer: ProtocolTimer,
    node: Node,
    /// The edge of each instance: `instances[id]` belongs to
    /// `node.instance(id)`; both are rebuilt together, only in
    /// `Daemon::regroup`.
    instances: ById<InstanceId, InstanceEdge>,
    /// Each sync group's hook queue: `group_hooks[id]` belongs to
    /// `node.groups()[id]`.
    group_hooks: ById<GroupId, HookQueue>,
    edge: Edge,
    watchers: Watchers,
    running: Running,
    inputs: mpsc::UnboundedReceiver<Input>,
    control: mpsc::UnboundedReceiver<control::Request>,
    background: Vec<JoinHandle<()>>,
    invalid: InvalidCounters,
    log_limit: RateLimiter,
    /// Instances whose edge health changed during the current batch.
    health_changed: Vec<InstanceId>,
    demux: Demux,
    /// Where datagrams are received and adverts parsed, over and over.
    rx_buf: Box<[u8; MAX_DATAGRAM]>,
    rx_advert: wire::AdvertRepr,
    reloads: reload::Reloads,
    /// The node's etcd client, if leadership is kept there.
    etcd: Option<Etcd>,
    /// The `follow_patroni` instances, in configuration order.
    followers: Vec<follow::FollowerEdge>,
}

/// Whether the loop goes on.
enum Flow {
    Continue,
    Stop,
}

impl Daemon {
    async fn start(
        config: Config,
        path: PathBuf,
        workers: tokio::runtime::Handle,
    ) -> Result<Daemon, String> {
        let clock = Clock::start();
        let timer =
            ProtocolTimer::new().map_err(|e| format!("cannot create the protocol timer: {e}"))?;
        // The same checks as `vipd check`, before touching anything.
        let run_as = super::preflight::check(&config).map_err(|problems| problems.join("; "))?;
        let (netlink, net_events) = Netlink::open().await.map_err(|e| format!("netlink: {e}"))?;
        let names = config.instances.keys().map(String::as_str);
        let lookups = Lookups::gather(&netlink, &config, names).await?;
        remove_stale_vips(&netlink, &config, &lookups).await;

        let (input_tx, inputs) = mpsc::unbounded_channel();
        let mut background = vec![forward(net_events, input_tx.clone(), Input::Net)];
        // Tracked files and processes: read once now, so the first advert
        // already carries their weights; then polled on their own thread.
        let mut poller = Poller::new(&config);
        let first_reading = poller.poll(std::time::Instant::now());
        let (watchers, check_forwarder) = Watchers::start(
            &config,
            run_as,
            &input_tx,
            poller,
            &first_reading,
            workers.clone(),
        )?;
        background.push(check_forwarder);

        let mut edge = Edge {
            netlink,
            sockets: ById::default(),
            links: BTreeMap::new(),
            input_tx,
            next_socket: 0,
            next_lock: 0,
            workers,
        };
        let readings = watchers.latest.updates();
        let (instances, members) = edge.build_all(&config, &lookups, &readings, run_as)?;
        let followers: Vec<follow::FollowerEdge> = config
            .followers
            .iter()
            .map(|(name, f)| {
                let info = lookups.interfaces.get(&f.interface).cloned().flatten();
                edge.build_follower(name, &config, info, run_as)
            })
            .collect();
        let groups = sync_groups(&config, &instances);
        let group_hooks = on_workers(&edge.workers, || group_hook_queues(&config, run_as));

        let (control_tx, control) = mpsc::unbounded_channel();
        background.extend(serve_control(&config.global, control_tx).await);
        let etcd = match &config.etcd {
            Some(cfg) => {
                let (reports, rx) = mpsc::unbounded_channel();
                background.push(forward(rx, edge.input_tx.clone(), Input::Lease));
                let node = config.global.node_name.clone().unwrap_or_default();
                let now: etcd::Now = Arc::new(move || clock.now());
                let etcd = on_workers(&edge.workers, || Etcd::start(cfg, node, now, reports))?;
                for instance in instances.values() {
                    if let Some(lock) = &instance.cfg.leadership {
                        etcd.send(etcd::Command::Watch {
                            lock: instance.lock_id.clone(),
                            key: lock.key.clone(),
                        });
                    }
                }
                for (name, group) in &config.sync_groups {
                    if let Some(lock) = &group.leadership {
                        etcd.send(etcd::Command::Watch {
                            lock: group_lock_id(name),
                            key: lock.key.clone(),
                        });
                    }
                }
                for follower in &followers {
                    etcd.send(etcd::Command::Watch {
                        lock: follower.lock_id.clone(),
                        key: follower.cfg.leader_key.clone(),
                    });
                }
                Some(etcd)
            }
            None => None,
        };

        let mut daemon = Daemon {
            clock,
            last_now: std::cell::Cell::new(Time::ZERO),
            timer,
            node: Node::new(members, groups),
            instances,
            group_hooks,
            edge,
            watchers,
            running: Running {
                config,
                path,
                run_as,
            },
            inputs,
            control,
            background,
            invalid: InvalidCounters::default(),
            log_limit: RateLimiter::new(Duration::from_secs(10)),
            health_changed: Vec::new(),
            demux: Demux::default(),
            rx_buf: Box::new([0; MAX_DATAGRAM]),
            // An advert carries at most 255 addresses.
            rx_advert: wire::AdvertRepr::blank(255),
            reloads: reload::Reloads::default(),
            etcd,
            followers,
        };
        daemon.index_instances();
        Ok(daemon)
    }

    fn now(&self) -> Time {
        self.at_least_last(self.clock.now())
    }

    /// `t`, or the latest time already handed to the core if that is later.
    fn at_least_last(&self, t: Time) -> Time {
        let t = t.max(self.last_now.get());
        self.last_now.set(t);
        t
    }

    async fn serve(mut self, mut signals: Signals) -> ExitCode {
        // Sockets are open and stale VIPs are gone: tell systemd we are ready.
        if let Err(e) = super::sdnotify::notify("READY=1") {
            tracing::warn!("cannot notify systemd: {e}");
        }
        for id in self.instances.ids() {
            if self.instances[id].awaits_link_local(&self.edge.links) {
                self.instances[id].start_by = Some(Instant::now() + LINK_LOCAL_WAIT);
            } else {
                self.start_instance(id);
            }
        }
        self.start_followers();
        // Pinged from this loop, so a stalled protocol loop gets restarted.
        let watchdog_period = super::sdnotify::watchdog_interval();
        let mut watchdog =
            tokio::time::interval(watchdog_period.unwrap_or(Duration::from_secs(3600)));
        loop {
            let deadline = match (self.node.poll_timeout(), self.followers_deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Err(e) = self.timer.arm(&self.clock, deadline) {
                // Not expected; without the timer no advert would go out.
                tracing::error!(event = "timer_error", error = %e, "cannot set the protocol timer: {e}");
                break;
            }
            let edge_deadline = self.edge_deadline();
            let input = tokio::select! {
                // Signals, then timers, then input: a packet flood must not make an
                // advert late.
                biased;
                request = signals.next() => Input::Signal(request),
                _ = self.timer.expired() => Input::ProtocolTimer,
                () = sleep_until(edge_deadline) => Input::EdgeTimer,
                _ = watchdog.tick(), if watchdog_period.is_some() => Input::WatchdogTick,
                // Packets, events and requests take turns (no bias among them):
                // a flood of one cannot starve the others.
                input = async {
                    tokio::select! {
                        Some(input) = self.inputs.recv() => input,
                        Some(request) = self.control.recv() => Input::Control(request),
                        (socket, received) = std::future::poll_fn(|cx| {
                            self.edge.poll_recv(cx, &mut self.rx_buf)
                        }) => Input::Packet { socket, received },
                    }
                } => input,
            };
            if let Flow::Stop = self.on_input(input) {
                break;
            }
        }
        self.shutdown().await;
        ExitCode::SUCCESS
    }

    async fn shutdown(mut self) {
        let _ = super::sdnotify::notify("STOPPING=1");
        for hooks in self
            .instances
            .values()
            .map(|s| &s.hooks)
            .chain(self.group_hooks.values())
        {
            hooks.begin_stop(HOOK_STOP_GRACE);
        }
        let outputs = self.node.handle_all(self.now(), Event::Shutdown);
        self.execute(outputs);
        for index in 0..self.followers.len() {
            self.followers[index].hooks.begin_stop(HOOK_STOP_GRACE);
            self.feed_follower(index, crate::protocol::follow::FollowEvent::Shutdown);
        }
        for task in &self.background {
            task.abort();
        }
        self.watchers.stop();
        for socket in self.edge.sockets.values_mut() {
            socket.close();
        }
        // Closing the command channels lets each worker finish its queue
        // (the VIP removals just sent) and exit.
        let mut workers = Vec::new();
        for instance in self.instances.values_mut() {
            instance.vip_tx = None;
            workers.extend(instance.vip_task.take());
        }
        for follower in &mut self.followers {
            workers.extend(follower.close());
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, futures::future::join_all(workers))
            .await
            .is_err()
        {
            tracing::warn!("address removal did not finish within {SHUTDOWN_GRACE:?}");
        }
        // All queues at once: each is bounded by the stop grace, so all are.
        let queues = self.instances.values_mut().map(|s| &mut s.hooks);
        let groups = self.group_hooks.values_mut();
        let followers = self.followers.iter_mut().map(|f| &mut f.hooks);
        futures::future::join_all(queues.chain(groups).chain(followers).map(HookQueue::finish))
            .await;
        // Last: the locks are released after the addresses and STOP hooks.
        if let Some(etcd) = &mut self.etcd {
            etcd.finish(SHUTDOWN_GRACE).await;
        }
        for instance in self.instances.values() {
            instance.log_summary();
        }
        tracing::info!("stopped");
    }

    fn on_input(&mut self, input: Input) -> Flow {
        match input {
            Input::Signal(signals::Request::Stop(name)) => {
                tracing::info!("{name}: shutting down");
                return Flow::Stop;
            }
            Input::Signal(signals::Request::Reload) => self.request_reload(None),
            Input::ProtocolTimer => {
                let now = self.now();
                let outputs = self.node.handle_timeout(now);
                self.execute(outputs);
                self.followers_timeout(now);
            }
            Input::EdgeTimer => self.on_edge_timer(),
            Input::WatchdogTick => {
                let _ = super::sdnotify::notify("WATCHDOG=1");
            }
            Input::Packet { socket, received } => match received {
                Ok(Ok(datagram)) => self.on_datagram(socket, &datagram),
                Ok(Err(e)) => self.count_invalid(socket, None, e),
                Err(e) => {
                    if self.log_limit.allow("socket-error").is_some() {
                        let interface = &self.edge.sockets[socket].ifname;
                        tracing::error!(
                            event = "receive_error",
                            interface = %interface,
                            error = %e,
                            "receiving on {interface}: {e}"
                        );
                    }
                }
            },
            Input::Net(event) => self.on_net_event(event),
            Input::Lookup { name, result } => self.on_lookup(&name, result),
            Input::VipFailed { instance, failure } => self.on_vip_failure(&instance, failure),
            Input::Check(result) => self.on_check(result),
            Input::Tracked(update) => self.on_tracked(&update),
            Input::Control(request) => match request.command {
                control::Command::Status => {
                    let reply = control::Reply::Status(Box::new(self.status()));
                    let _ = request.reply.send(reply);
                }
                control::Command::Reload => self.request_reload(Some(request.reply)),
            },
            Input::Reload(prepared) => self.on_reload_prepared(prepared),
            Input::Lease(report) => self.on_lease(report),
            Input::Rest { lock, answer } => self.on_rest(&lock, answer),
        }
        Flow::Continue
    }

    fn on_lease(&mut self, report: etcd::Report) {
        tracing::debug!("etcd, about {}: {:?}", report.lock, report.said);
        if self.on_follower_report(&report.lock, &report.said) {
            return;
        }
        let event = match &report.said {
            Said::Granted {
                attempt,
                sent,
                ttl,
                revision,
            } => LeaseEvent::Granted {
                attempt: *attempt,
                sent: *sent,
                ttl: *ttl,
                revision: *revision,
            },
            Said::Denied { attempt, holder } => LeaseEvent::Denied {
                attempt: *attempt,
                holder,
            },
            Said::Failed { attempt } => LeaseEvent::Failed { attempt: *attempt },
            Said::Renewed { attempt, sent, ttl } => LeaseEvent::Renewed {
                attempt: *attempt,
                sent: *sent,
                ttl: *ttl,
            },
            Said::Lost { attempt } => LeaseEvent::Lost { attempt: *attempt },
            Said::Holder { holder, revision } => LeaseEvent::Holder {
                holder: holder.as_deref(),
                revision: *revision,
            },
            Said::Reachable(reachable) => LeaseEvent::Reachable(*reachable),
        };
        // By lock id: a reload may have renumbered the instances, or
        // rebuilt this one (whose old lock's answers are stale) since.
        let outputs = if let Some(id) = self.instances.find(|i| i.lock_id == report.lock) {
            self.node.handle(self.now(), id, Event::Lease(event))
        } else if let Some(g) = (self.node.groups().iter())
            .position(|g| g.leadership.is_some() && group_lock_id(&g.name) == report.lock)
        {
            self.node.handle_group_lease(self.now(), GroupId(g), event)
        } else {
            return;
        };
        self.execute(outputs);
    }

    fn on_datagram(&mut self, socket: SocketId, datagram: &Received) {
        let envelope = datagram.envelope(&self.rx_buf[..]);
        // The TTL rule protects instances that listen to the group; unicast
        // peers may be a routed hop apart (deviation 10 in the conformance
        // table), and accept adverts only from their configured peers.
        let routed = envelope.check_ttl().err();
        if let Some(e) = routed.filter(|_| !self.demux.unicast.contains(&socket)) {
            return self.count_invalid(socket, Some(datagram.src), e);
        }
        // Parsed into the one advert the loop keeps: no allocation per packet.
        if let Err(e) = envelope.advert_into(&mut self.rx_advert) {
            return self.count_invalid(socket, Some(datagram.src), e);
        }
        let vrid = self.rx_advert.vrid;
        let Some(&id) = self.demux.by_vrid.get(&(socket, vrid)) else {
            return;
        };
        if let Some(e) = routed.filter(|_| !self.instances[id].cfg.is_unicast()) {
            return self.count_invalid(socket, Some(datagram.src), e);
        }
        // From when the kernel received it, not from when we got to it.
        let now = match datagram.stamp {
            Some(stamp) => self.at_least_last(self.clock.stamped(stamp)),
            None => self.now(),
        };
        self.instances[id].counters.adverts_received += 1;
        let event = Event::Advert {
            src: datagram.src,
            advert: &self.rx_advert,
        };
        let outputs = self.node.handle(now, id, event);
        self.execute(outputs);
    }

    /// Rebuilds the map from (socket, VRID) to instance, after the instances
    /// changed (start-up, a reload).
    fn index_instances(&mut self) {
        self.demux = Demux::default();
        for (id, instance) in self.instances.iter() {
            self.demux
                .by_vrid
                .insert((instance.socket, instance.cfg.vrid), id);
            if instance.cfg.is_unicast() {
                self.demux.unicast.insert(instance.socket);
            }
        }
    }

    fn count_invalid(&mut self, socket: SocketId, from: Option<IpAddr>, e: wire::Error) {
        self.invalid.count(e);
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

    fn count_dropped(&mut self, id: InstanceId, from: IpAddr, why: DropReason) {
        *self.instances[id].counters.dropped.entry(why).or_default() += 1;
        let reason = why.label();
        self.warn_limited(id, reason, "advert_dropped", from, reason, |name| {
            format!(
                "instance {name}: ignoring advert from {from}: {}",
                reason.replace('_', " ")
            )
        });
    }

    /// Warns about what an instance heard from or sent to `peer`, at most
    /// once a period per instance and `kind`; the line says how many like it
    /// were held back.
    fn warn_limited(
        &mut self,
        id: InstanceId,
        kind: &str,
        event: &'static str,
        peer: IpAddr,
        reason: &str,
        message: impl FnOnce(&str) -> String,
    ) {
        let instance = &self.instances[id];
        let key = format!("{}:{kind}", instance.name);
        if let Some(suppressed) = self.log_limit.allow(&key) {
            tracing::warn!(
                event,
                instance = %instance.name,
                vrid = instance.cfg.vrid,
                peer = %peer,
                reason,
                suppressed,
                "{}{}",
                message(&instance.name),
                suppressed_note(suppressed)
            );
        }
    }

    fn on_check(&mut self, result: CheckResult) {
        let ok = result.outcome.success();
        self.watchers.record(&result);
        for id in self.instances.ids() {
            if self.instances[id].tracker.check_result(&result.name, ok) {
                let verdict = if ok { "succeeding" } else { "failing" };
                tracing::info!(
                    event = "check",
                    instance = %self.instances[id].name,
                    check = %result.name,
                    healthy = ok,
                    outcome = %result.outcome,
                    "instance {}: check {} now {verdict} ({})",
                    self.instances[id].name,
                    result.name,
                    result.outcome
                );
                self.refresh_health(id);
            }
        }
    }

    /// A tracked file or process changed: every instance tracking it
    /// re-evaluates its health.
    fn on_tracked(&mut self, update: &TrackedUpdate) {
        tracing::info!("{}", update.describe());
        self.watchers.latest.record(update);
        for id in self.instances.ids() {
            if update.apply(&mut self.instances[id].tracker) {
                self.refresh_health(id);
            }
        }
    }

    fn refresh_health(&mut self, id: InstanceId) {
        let health: Health = self.instances[id].health(&self.edge.links, &self.edge.sockets);
        if *self.node.instance(id).health() != health {
            let outputs = self.node.set_health(self.now(), id, &health);
            self.execute(outputs);
        }
    }

    fn execute(&mut self, outputs: Vec<Output>) {
        self.execute_batch(outputs);
        // Health that changed while the batch ran (an advert that could not
        // be sent) is fed back only now: the batch's actions go out in the
        // order the state machine gave them.
        while let Some(id) = self.health_changed.pop() {
            self.refresh_health(id);
        }
    }

    fn execute_batch(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Instance(id, action) => self.perform(id, action),
                Output::Group(group, transition) => {
                    let name = &self.node.groups()[group.0].name;
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
                Output::GroupLease(group, action) => self.group_lease(group, action),
            }
        }
    }

    fn perform(&mut self, id: InstanceId, action: Action) {
        match action {
            Action::SendAdvert(advert) => self.send_advert(id, &advert),
            Action::AddVips => self.instances[id].send_vip(VipCommand::Add),
            Action::RemoveVips => self.instances[id].send_vip(VipCommand::Remove),
            Action::Announce => self.instances[id].send_vip(VipCommand::Announce),
            Action::Transition(t) => {
                let instance = &mut self.instances[id];
                instance.counters.transitions += 1;
                *instance.counters.transitions_to.entry(t.to).or_default() += 1;
                instance.last_transition = Some((SystemTime::now(), Instant::now(), t.clone()));
                if t.from == State::Master {
                    instance.trouble.left_master();
                }
                tracing::info!(
                    event = "transition",
                    instance = %instance.name,
                    vrid = instance.cfg.vrid,
                    from = %t.from,
                    to = %t.to,
                    priority = t.priority,
                    reason = %t.reason,
                    "instance {}: {} -> {} (priority {}): {}",
                    instance.name,
                    t.from,
                    t.to,
                    t.priority,
                    t.reason
                );
                instance.send_vip(VipCommand::Hooks(job(&t)));
            }
            Action::Report(Report::Dropped { from, reason }) => {
                self.count_dropped(id, from, reason)
            }
            Action::Lease(LeaseAction::Acquire(attempt)) => {
                let instance = &self.instances[id];
                if let (Some(etcd), Some(lock)) = (&self.etcd, &instance.cfg.leadership) {
                    etcd.send(etcd::Command::Acquire {
                        lock: instance.lock_id.clone(),
                        key: lock.key.clone(),
                        ttl: lock.ttl,
                        attempt,
                    });
                }
            }
            Action::Lease(LeaseAction::Release(attempt)) => {
                // Through the VIP worker and the hook queue: the lock goes
                // only once the addresses are gone and the step-down hooks
                // (the fence) have run; the lease is renewed meanwhile.
                if let Some(etcd) = &self.etcd {
                    let instance = &self.instances[id];
                    let release = etcd.release(instance.lock_id.clone(), attempt);
                    instance.send_vip(VipCommand::Afterwards(release));
                }
            }
            Action::Lease(LeaseAction::Fence(until)) => {
                let until = until.map(|t| self.clock.instant_of(t));
                self.instances[id].send_vip(VipCommand::Fence(until));
            }
            Action::Report(Report::LeadershipHeldBy { holder }) => {
                let instance = &self.instances[id];
                let key = format!("{}:leadership-held", instance.name);
                if let Some(suppressed) = self.log_limit.allow(&key) {
                    tracing::info!(
                        event = "leadership_held",
                        instance = %instance.name,
                        holder = %holder,
                        suppressed,
                        "instance {}: staying BACKUP: leadership held by {holder}{}",
                        instance.name,
                        suppressed_note(suppressed)
                    );
                }
            }
            Action::Report(Report::Stalled { late }) => {
                let instance = &self.instances[id];
                let key = format!("{}:stalled", instance.name);
                if let Some(suppressed) = self.log_limit.allow(&key) {
                    tracing::warn!(
                        event = "stalled",
                        instance = %instance.name,
                        late_seconds = late.as_secs_f64(),
                        suppressed,
                        "instance {}: master-down timer read {:.2} s late (stopped or starved?): \
                         listening one more advert interval before deciding{}",
                        instance.name,
                        late.as_secs_f64(),
                        suppressed_note(suppressed)
                    );
                }
            }
            Action::Report(Report::LowerPriorityMaster { from, priority }) => {
                self.instances[id].counters.lower_priority_masters += 1;
                let reason = format!("lower priority {priority}");
                self.warn_limited(id, "lower-master", "lower_priority_master", from, &reason, |name| {
                    format!(
                        "instance {name}: another master {from} (priority {priority}) on our VRID; asserting mastership"
                    )
                });
            }
        }
    }
}

impl Daemon {
    fn group_lease(&mut self, group: GroupId, action: LeaseAction) {
        let (Some(etcd), Some(sync)) = (&self.etcd, self.node.groups().get(group.0)) else {
            return;
        };
        let Some(lock) = &sync.leadership else {
            return;
        };
        match action {
            LeaseAction::Acquire(attempt) => etcd.send(etcd::Command::Acquire {
                lock: group_lock_id(&sync.name),
                key: lock.key.clone(),
                ttl: lock.ttl,
                attempt,
            }),
            LeaseAction::Release(attempt) => {
                // Behind every member's address removal and hooks, and the
                // group's hooks: the lock goes only once all have run.
                let release = etcd.release(group_lock_id(&sync.name), attempt);
                let members = &sync.members;
                let mut parts = Afterwards::after_all(release, members.len() + 1).into_iter();
                for (&member, part) in members.iter().zip(parts.by_ref()) {
                    self.instances[member].send_vip(VipCommand::Afterwards(part));
                }
                if let Some(part) = parts.next() {
                    self.group_hooks[group].then(part);
                }
            }
            // Fences are the members' own (each fences its addresses).
            LeaseAction::Fence(_) => {}
        }
    }
}

impl InstanceEdge {
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

/// Names a sync group's lock to the etcd client. A group's lock cannot
/// change without a restart, so its name alone tells it apart.
fn group_lock_id(group: &str) -> String {
    format!("sync group {group}")
}

/// The protocol's sync groups of `config`, naming members by their ids.
fn sync_groups(config: &Config, instances: &ById<InstanceId, InstanceEdge>) -> Vec<SyncGroup> {
    config
        .sync_groups
        .iter()
        .map(|(name, group)| SyncGroup {
            name: name.clone(),
            members: group
                .instances
                .iter()
                .filter_map(|m| instances.find(|i| i.name == *m))
                .collect(),
            leadership: group.leadership.clone(),
        })
        .collect()
}

/// One hook queue per sync group of `config`.
fn group_hook_queues(config: &Config, run_as: RunAs) -> ById<GroupId, HookQueue> {
    let queues: Vec<HookQueue> = config
        .sync_groups
        .iter()
        .map(|(name, group)| group_hook_queue(name, group, config, run_as))
        .collect();
    queues.into()
}

fn group_hook_queue(
    name: &str,
    group: &config::SyncGroupConfig,
    config: &Config,
    run_as: RunAs,
) -> HookQueue {
    HookQueue::spawn(
        Owner::Group,
        name,
        group.hooks.clone(),
        String::new(),
        config.global.hook_timeout,
        run_as,
    )
}

/// The control socket and the metrics endpoint, as `global` asks. Neither is
/// needed to fail over: a failure to listen is logged and start-up goes on.
async fn serve_control(
    global: &config::Global,
    requests: mpsc::UnboundedSender<control::Request>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    let group = global.control_group.as_deref();
    match control::serve(&global.control_socket, group, requests.clone()) {
        Ok(task) => tasks.push(task),
        Err(e) => tracing::warn!("{e}; `vipd status` will not work"),
    }
    if let Some(addr) = global.metrics_listen {
        match super::metrics::serve(addr, requests).await {
            Ok(task) => tasks.push(task),
            Err(e) => tracing::warn!("{e}; metrics will not be served"),
        }
    }
    tasks
}

/// The protocol's view of an instance's settings.
fn params(cfg: &config::InstanceConfig, src: IpAddr) -> Params {
    Params {
        version: cfg.version,
        vrid: cfg.vrid,
        advert_interval: cfg.advert_interval,
        preempt: cfg.preempt,
        preempt_delay: cfg.preempt_delay,
        fast_takeover: cfg.fast_takeover,
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
async fn remove_stale_vips(netlink: &Netlink, config: &Config, lookups: &Lookups) {
    for (name, cfg) in &config.instances {
        let Some(Some(info)) = lookups.interfaces.get(&cfg.interface) else {
            continue;
        };
        for vip in &cfg.virtual_ips {
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
}
