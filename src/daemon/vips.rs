//! Per-instance worker that installs, removes and announces the virtual
//! addresses. Netlink round trips and announcement bursts happen here, in
//! order, so the protocol loop never waits on them.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::announce::Announcer;
use super::hooks::Job;
use super::netlink::Netlink;

#[derive(Debug, Clone)]
pub enum VipCommand {
    Add,
    Remove,
    /// Announce now, again after the configured delay, then on each refresh.
    Announce,
    /// Queue the transition's hooks once the address work before it is done,
    /// so notify_master sees the VIPs and notify_stop sees them gone.
    Hooks(Job),
    /// Hand later transitions' hooks to another queue (a reload).
    SetHooks(Option<mpsc::UnboundedSender<Job>>),
    /// New addresses and announcement settings (a reload). While `holding`,
    /// addresses no longer configured go, new ones come and are announced.
    Reconfigure {
        vips: Vec<IpNet>,
        plan: AnnouncePlan,
        holding: bool,
    },
}

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
    pub ifindex: u32,
    pub vips: Vec<IpNet>,
    pub announcer: Arc<Announcer>,
    /// Source of unsolicited NAs: one of our link-local addresses.
    pub link_local: Option<Ipv6Addr>,
    pub plan: AnnouncePlan,
    pub stats: Arc<VipStats>,
    pub hooks: Option<mpsc::UnboundedSender<Job>>,
}

impl VipWorker {
    pub fn spawn(self) -> (mpsc::UnboundedSender<VipCommand>, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, tokio::spawn(self.serve(rx)))
    }

    async fn serve(mut self, mut rx: mpsc::UnboundedReceiver<VipCommand>) {
        let mut later: Option<JoinHandle<()>> = None;
        while let Some(command) = rx.recv().await {
            match command {
                VipCommand::Add => self.add().await,
                VipCommand::Remove => {
                    if let Some(task) = later.take() {
                        task.abort();
                    }
                    self.remove().await;
                }
                VipCommand::SetHooks(hooks) => self.hooks = hooks,
                VipCommand::Reconfigure {
                    vips,
                    plan,
                    holding,
                } => {
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
                    if holding {
                        self.change(&gone, &new).await;
                        if !new.is_empty() {
                            announce(
                                &self.announcer,
                                &new,
                                self.link_local,
                                self.plan.repeat,
                                &self.stats,
                                &self.name,
                            );
                        }
                    }
                }
                VipCommand::Hooks(job) => {
                    if let Some(hooks) = &self.hooks {
                        let _ = hooks.send(job);
                    }
                }
                VipCommand::Announce => {
                    if let Some(task) = later.take() {
                        task.abort();
                    }
                    announce(
                        &self.announcer,
                        &self.vips,
                        self.link_local,
                        self.plan.repeat,
                        &self.stats,
                        &self.name,
                    );
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
        for vip in gone {
            if let Err(e) = self.netlink.remove_address(self.ifindex, *vip).await {
                self.stats.netlink_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!("instance {}: cannot remove {vip}: {e}", self.name);
            }
        }
        for vip in new {
            if let Err(e) = self.netlink.add_address(self.ifindex, *vip).await {
                self.stats.netlink_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!("instance {}: cannot add {vip}: {e}", self.name);
            }
        }
    }

    async fn add(&self) {
        for vip in &self.vips {
            if let Err(e) = self.netlink.add_address(self.ifindex, *vip).await {
                self.stats.netlink_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!("instance {}: cannot add {vip}: {e}", self.name);
            }
        }
    }

    async fn remove(&self) {
        for vip in &self.vips {
            if let Err(e) = self.netlink.remove_address(self.ifindex, *vip).await {
                self.stats.netlink_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!("instance {}: cannot remove {vip}: {e}", self.name);
            }
        }
    }

    fn schedule_followups(&self) -> JoinHandle<()> {
        let (announcer, vips, link_local, plan, stats, name) = (
            self.announcer.clone(),
            self.vips.clone(),
            self.link_local,
            self.plan,
            self.stats.clone(),
            self.name.clone(),
        );
        tokio::spawn(async move {
            if !plan.delay.is_zero() {
                tokio::time::sleep(plan.delay).await;
                announce(&announcer, &vips, link_local, plan.repeat, &stats, &name);
            }
            if let Some(every) = plan.refresh {
                loop {
                    tokio::time::sleep(every).await;
                    announce(&announcer, &vips, link_local, 1, &stats, &name);
                }
            }
        })
    }
}

fn announce(
    announcer: &Announcer,
    vips: &[IpNet],
    link_local: Option<Ipv6Addr>,
    repeat: u32,
    stats: &VipStats,
    name: &str,
) {
    for _ in 0..repeat {
        for vip in vips {
            let sent = match (vip.addr(), link_local) {
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
                    tracing::warn!("instance {name}: cannot announce {vip}: {e}");
                }
            }
        }
    }
}
