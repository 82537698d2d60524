//! Per-instance worker that installs, removes and announces the virtual
//! addresses. Netlink round trips and announcement bursts happen here, in
//! order, so the protocol loop never waits on them.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::announce::Announcer;
use super::hooks::{Afterwards, Job, Queued, then_after};
use super::netlink::{Lifetime, Netlink, NetlinkError};

#[derive(Clone)]
pub enum VipCommand {
    Add,
    Remove,
    /// Announce now, again after the configured delay, then on each refresh.
    Announce,
    /// Queue the transition's hooks once the address work before it is done,
    /// so notify_master sees the VIPs and notify_stop sees them gone.
    Hooks(Job),
    /// Hand later transitions' hooks to another queue (a reload).
    SetHooks(Option<mpsc::UnboundedSender<Queued>>),
    /// Once the address work before it is done and the hooks queued before
    /// it have run, do this.
    Afterwards(Afterwards),
    /// New addresses and announcement settings (a reload). While holding
    /// the addresses, those no longer configured go, new ones come and are
    /// announced.
    Reconfigure {
        vips: Vec<IpNet>,
        plan: AnnouncePlan,
    },
    /// The interface came (back), changed its index, MAC or link-local
    /// address, or went away (`None`).
    Attach(Option<Attachment>),
    /// The leadership lock's fence: the kernel must have removed the
    /// addresses by this instant (`None`: they may stay for good). Held
    /// addresses get the new lifetime at once.
    Fence(Option<Instant>),
}

/// Where the worker's addresses live and how it announces them.
#[derive(Clone)]
pub struct Attachment {
    pub ifindex: u32,
    /// `None` while the packet socket cannot be opened.
    pub announcer: Option<Arc<Announcer>>,
    /// Source of unsolicited NAs: one of our link-local addresses.
    pub link_local: Option<Ipv6Addr>,
}

/// Addresses that could not be installed, in words, for the protocol loop:
/// a master that cannot hold its addresses must not claim to be one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipFailure(pub String);

/// Where a worker reports the addresses it could not install (straight into
/// the protocol loop's input: no task or channel of its own).
pub type FailureReport = Arc<dyn Fn(VipFailure) + Send + Sync>;

/// How a new master announces itself (keepalived's garp_master_* settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnouncePlan {
    /// Frames per address in each burst.
    pub repeat: u32,
    /// Delay before the second burst; zero disables it.
    pub delay: Duration,
    /// Periodic re-announcement while master.
    pub refresh: Option<Duration>,
}

#[derive(Debug, Default)]
pub struct VipStats {
    pub announcements: AtomicU64,
    pub announce_errors: AtomicU64,
    pub netlink_errors: AtomicU64,
}

pub struct VipWorker {
    pub name: String,
    pub netlink: Netlink,
    pub ifname: String,
    /// `None` while the interface does not exist.
    pub attachment: Option<Attachment>,
    pub vips: Vec<IpNet>,
    pub plan: AnnouncePlan,
    pub stats: Arc<VipStats>,
    pub hooks: Option<mpsc::UnboundedSender<Queued>>,
    pub failures: FailureReport,
    /// Whether the addresses should be on the interface (between Add and
    /// Remove): a new incarnation of the interface gets them too.
    pub holding: bool,
    /// The interface index the addresses were last added on.
    pub added_on: Option<u32>,
    /// Under a leadership lock: when the kernel must drop the addresses
    /// (`Some(None)`: never). `None` for an instance without a lock.
    pub fence: Option<Option<Instant>>,
}

impl VipWorker {
    pub fn spawn(self) -> (mpsc::UnboundedSender<VipCommand>, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, tokio::spawn(self.serve(rx)))
    }

    async fn serve(mut self, mut rx: mpsc::UnboundedReceiver<VipCommand>) {
        // The second burst and periodic refresh of the current mastership.
        let mut later: Option<JoinHandle<()>> = None;
        while let Some(command) = rx.recv().await {
            match command {
                VipCommand::Add => {
                    self.holding = true;
                    self.add().await;
                }
                VipCommand::Remove => {
                    self.holding = false;
                    if let Some(task) = later.take() {
                        task.abort();
                    }
                    self.remove().await;
                }
                VipCommand::SetHooks(hooks) => self.hooks = hooks,
                VipCommand::Fence(until) => {
                    self.fence = Some(until);
                    if self.holding
                        && let Some(at) = &self.attachment
                    {
                        self.add_each(at.ifindex, &self.vips).await;
                    }
                }
                VipCommand::Reconfigure { vips, plan } => {
                    self.plan = plan;
                    let gone: Vec<IpNet> = self
                        .vips
                        .iter()
                        .filter(|v| !vips.contains(v))
                        .copied()
                        .collect();
                    let new: Vec<IpNet> = vips
                        .iter()
                        .filter(|v| !self.vips.contains(v))
                        .copied()
                        .collect();
                    self.vips = vips;
                    if self.holding {
                        self.change(&gone, &new).await;
                        self.announce(&new, self.plan.repeat);
                        // The refresh announces what we hold now, not the old list.
                        if let Some(task) = later.take() {
                            task.abort();
                            later = Some(self.schedule_refresh());
                        }
                    }
                }
                VipCommand::Attach(attachment) => {
                    let moved = attachment.as_ref().map(|a| a.ifindex) != self.added_on;
                    self.attachment = attachment;
                    if let Some(task) = later.take() {
                        task.abort();
                    }
                    if self.holding {
                        // The interface came back or changed under a master: the
                        // addresses go onto the new one, and the segment hears of it.
                        if moved {
                            self.add().await;
                        }
                        self.announce(&self.vips, self.plan.repeat);
                        later = Some(self.schedule_followups());
                    }
                }
                VipCommand::Hooks(job) => {
                    if let Some(hooks) = &self.hooks {
                        let _ = hooks.send(Queued::Run(job));
                    }
                }
                VipCommand::Afterwards(then) => then_after(self.hooks.as_ref(), then),
                VipCommand::Announce => {
                    if let Some(task) = later.take() {
                        task.abort();
                    }
                    self.announce(&self.vips, self.plan.repeat);
                    later = Some(self.schedule_followups());
                }
            }
        }
        if let Some(task) = later {
            task.abort();
        }
    }

    /// Removes `gone` and adds `new` (a reload while master).
    async fn change(&self, gone: &[IpNet], new: &[IpNet]) {
        let Some(at) = &self.attachment else { return };
        self.remove_from(at.ifindex, gone).await;
        self.add_each(at.ifindex, new).await;
    }

    async fn add(&mut self) {
        if let (Some(old), Some(at)) = (self.added_on, &self.attachment) {
            if old != at.ifindex {
                // An earlier incarnation that still exists (renamed) keeps no VIP.
                self.remove_from(old, &self.vips).await;
            }
        }
        match &self.attachment {
            Some(at) => {
                let ifindex = at.ifindex;
                self.add_each(ifindex, &self.vips).await;
                self.added_on = Some(ifindex);
            }
            None => {
                self.stats.netlink_errors.fetch_add(1, Ordering::Relaxed);
                let why = format!(
                    "cannot add the VIPs: interface {} does not exist",
                    self.ifname
                );
                (self.failures)(VipFailure(why));
            }
        }
    }

    /// The lifetime to give an address added now: the whole seconds left
    /// before the fence (the kernel counts in seconds), or `None` if the
    /// fence is too near for even one.
    fn lifetime(&self) -> Option<Option<Lifetime>> {
        match self.fence {
            None => Some(None),
            Some(None) => Some(Some(Lifetime::Forever)),
            Some(Some(until)) => {
                let secs = until.saturating_duration_since(Instant::now()).as_secs();
                let secs = u32::try_from(secs).unwrap_or(u32::MAX - 1);
                (secs > 0).then_some(Some(Lifetime::Seconds(secs)))
            }
        }
    }

    /// Adds `vips` and reports the first failure to the loop.
    async fn add_each(&self, ifindex: u32, vips: &[IpNet]) {
        let Some(lifetime) = self.lifetime() else {
            // The lock's fence is due within the second: the instance is
            // about to step down, and must not hold addresses past it.
            tracing::warn!(
                event = "vip_fence_due",
                instance = %self.name,
                "instance {}: not adding the VIPs: the leadership fence is due",
                self.name
            );
            return;
        };
        let mut failed = None;
        for vip in vips {
            if let Err(e) = self.netlink.add_address(ifindex, *vip, lifetime).await {
                self.stats.netlink_errors.fetch_add(1, Ordering::Relaxed);
                self.log_netlink_error("vip_add_failed", "add", vip, &e);
                failed.get_or_insert_with(|| {
                    format!("cannot add {vip} to {}: {}", self.ifname, root_cause(&e))
                });
            }
        }
        if let Some(why) = failed {
            (self.failures)(VipFailure(why));
        }
    }

    async fn remove(&mut self) {
        // Where they were added; a vanished interface took them with it
        // (ENODEV counts as done).
        let Some(ifindex) = self
            .added_on
            .take()
            .or(self.attachment.as_ref().map(|a| a.ifindex))
        else {
            return;
        };
        self.remove_from(ifindex, &self.vips).await;
    }

    async fn remove_from(&self, ifindex: u32, vips: &[IpNet]) {
        for vip in vips {
            if let Err(e) = self.netlink.remove_address(ifindex, *vip).await {
                self.stats.netlink_errors.fetch_add(1, Ordering::Relaxed);
                self.log_netlink_error("vip_remove_failed", "remove", vip, &e);
            }
        }
    }

    /// Logs a VIP that could not be added or removed (`verb`).
    fn log_netlink_error(&self, event: &str, verb: &str, vip: &IpNet, e: &NetlinkError) {
        tracing::error!(
            event,
            instance = %self.name,
            interface = %self.ifname,
            vip = %vip,
            error = %e,
            "instance {}: cannot {verb} {vip}: {e}",
            self.name
        );
    }

    fn announce(&self, vips: &[IpNet], repeat: u32) {
        announce(
            self.attachment.as_ref(),
            &self.ifname,
            vips,
            repeat,
            &self.stats,
            &self.name,
        );
    }

    /// The second burst after the configured delay, then the periodic refresh.
    fn schedule_followups(&self) -> JoinHandle<()> {
        self.schedule(true)
    }

    /// Only the periodic refresh (the addresses or the interface changed
    /// while master).
    fn schedule_refresh(&self) -> JoinHandle<()> {
        self.schedule(false)
    }

    fn schedule(&self, second_burst: bool) -> JoinHandle<()> {
        let (attachment, ifname, vips, plan, stats, name) = (
            self.attachment.clone(),
            self.ifname.clone(),
            self.vips.clone(),
            self.plan,
            self.stats.clone(),
            self.name.clone(),
        );
        tokio::spawn(async move {
            let at = attachment.as_ref();
            if second_burst && !plan.delay.is_zero() {
                let due = tokio::time::Instant::now() + plan.delay;
                tokio::time::sleep_until(due).await;
                if on_time(due) {
                    announce(at, &ifname, &vips, plan.repeat, &stats, &name);
                }
            }
            if let Some(every) = plan.refresh {
                let start = tokio::time::Instant::now() + every;
                let mut ticks = tokio::time::interval_at(start, every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    let due = ticks.tick().await;
                    if on_time(due) {
                        announce(at, &ifname, &vips, 1, &stats, &name);
                    }
                }
            }
        })
    }
}

/// How late a scheduled announcement may go out. Later than this, the
/// daemon was stopped or starved: the protocol loop may be about to step
/// aside (a backup may have taken over meanwhile), and announcing first
/// would pull clients back to this node. A skipped refresh is harmless.
const ANNOUNCE_LATE_LIMIT: Duration = Duration::from_millis(250);

fn on_time(due: tokio::time::Instant) -> bool {
    tokio::time::Instant::now().saturating_duration_since(due) <= ANNOUNCE_LATE_LIMIT
}

/// The kernel's words for a netlink failure, without our own wrapping.
fn root_cause(e: &super::netlink::NetlinkError) -> String {
    use std::error::Error;
    e.source()
        .map_or_else(|| e.to_string(), ToString::to_string)
}

fn announce(
    attachment: Option<&Attachment>,
    ifname: &str,
    vips: &[IpNet],
    repeat: u32,
    stats: &VipStats,
    name: &str,
) {
    let Some((at, announcer)) = attachment.and_then(|a| Some((a, a.announcer.as_ref()?))) else {
        stats.announce_errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            event = "announce_failed",
            instance = %name,
            interface = %ifname,
            error = "no packet socket",
            "instance {name}: cannot announce: no packet socket on {ifname}"
        );
        return;
    };
    for _ in 0..repeat {
        for vip in vips {
            let sent = match (vip.addr(), at.link_local) {
                (IpAddr::V4(ip), _) => announcer.garp(ip),
                (IpAddr::V6(ip), Some(src)) => announcer.unsolicited_na(src, ip),
                (IpAddr::V6(_), None) => Err(std::io::Error::other("no link-local source address")),
            };
            match sent {
                Ok(()) => {
                    stats.announcements.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    stats.announce_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        event = "announce_failed",
                        instance = %name,
                        interface = %ifname,
                        vip = %vip,
                        error = %e,
                        "instance {name}: cannot announce {vip}: {e}"
                    );
                }
            }
        }
    }
}
