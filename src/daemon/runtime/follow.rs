//! The edge of `follow_patroni` instances: the core's [`Follower`] wired to
//! etcd's leader key (through the etcd client's watch), the local Patroni's
//! REST API, the interface, and the same VIP worker and hooks as a VRRP
//! instance.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::build::{Edge, hook_queue};
use super::links::AttachKey;
use super::{Daemon, Input, job, on_workers};
use crate::config::{self, FollowerConfig, RestUrl};
use crate::daemon::etcd::Said;
use crate::daemon::hooks::HookQueue;
use crate::daemon::process::RunAs;
use crate::daemon::vips::{AnnouncePlan, Attachment, VipCommand, VipStats, VipWorker};
use crate::protocol::follow::{FollowAction, FollowEvent, Follower, RestAnswer};
use crate::protocol::{Fault, State, Time, Transition};

/// How long the REST API may take to answer `GET /primary`.
const REST_TIMEOUT: Duration = Duration::from_secs(1);

/// One `follow_patroni` instance as the loop keeps it.
pub(super) struct FollowerEdge {
    pub name: String,
    pub cfg: FollowerConfig,
    pub follower: Follower,
    /// What the VIP worker was last attached to.
    attachment: Option<AttachKey>,
    vip_tx: Option<mpsc::UnboundedSender<VipCommand>>,
    pub vip_task: Option<JoinHandle<()>>,
    pub vip_stats: Arc<VipStats>,
    pub hooks: HookQueue,
    pub transitions: u64,
    pub transitions_to: BTreeMap<State, u64>,
    pub last_transition: Option<(SystemTime, Instant, Transition)>,
    /// Names this instance's watch to the etcd client.
    pub lock_id: String,
}

impl FollowerEdge {
    pub fn send_vip(&self, command: VipCommand) {
        if let Some(tx) = &self.vip_tx {
            let _ = tx.send(command);
        }
    }

    /// Stops taking commands; returns the VIP worker to wait for.
    pub fn close(&mut self) -> Option<JoinHandle<()>> {
        self.vip_tx = None;
        self.vip_task.take()
    }
}

impl Edge {
    /// Builds `follow_patroni` instance `name` of `config`.
    pub(super) fn build_follower(
        &mut self,
        name: &str,
        config: &config::Config,
        info: Option<crate::daemon::netlink::InterfaceInfo>,
        run_as: RunAs,
    ) -> FollowerEdge {
        let cfg = config.followers[name].clone();
        self.follow(&cfg.interface, info);
        let vip_stats = Arc::new(VipStats::default());
        let (hooks, (vip_tx, vip_task)) = on_workers(&self.workers, || {
            let hooks = hook_queue(name, &cfg.hooks, &cfg.virtual_ips, cfg.hook_timeout, run_as);
            let worker = VipWorker {
                name: name.to_owned(),
                netlink: self.netlink.clone(),
                ifname: cfg.interface.clone(),
                attachment: None,
                vips: cfg.virtual_ips.clone(),
                plan: AnnouncePlan {
                    repeat: cfg.garp_repeat,
                    delay: cfg.garp_delay,
                    refresh: cfg.garp_refresh,
                },
                stats: vip_stats.clone(),
                hooks: hooks.sender(),
                failures: self.vip_failures(name),
                holding: false,
                added_on: None,
                fence: None,
            };
            (hooks, worker.spawn())
        });
        let lock_id = format!("{name}#{}", self.next_lock);
        self.next_lock += 1;
        tracing::info!(
            "instance {name}: follows Patroni member {} through {} on {}{}",
            cfg.member,
            cfg.leader_key,
            cfg.interface,
            cfg.rest_url
                .as_ref()
                .map_or(String::new(), |u| format!(", confirmed by {}", u.url))
        );
        FollowerEdge {
            name: name.to_owned(),
            follower: Follower::new(cfg.member.clone(), cfg.rest_url.is_some()),
            cfg,
            attachment: None,
            vip_tx: Some(vip_tx),
            vip_task: Some(vip_task),
            vip_stats,
            hooks,
            transitions: 0,
            transitions_to: BTreeMap::new(),
            last_transition: None,
            lock_id,
        }
    }
}

impl Daemon {
    /// The earliest deadline of any follower.
    pub(super) fn followers_deadline(&self) -> Option<Time> {
        self.followers
            .iter()
            .filter_map(|f| f.follower.poll_timeout())
            .min()
    }

    /// Starts every follower: attached to its interface, then Startup.
    pub(super) fn start_followers(&mut self) {
        for index in 0..self.followers.len() {
            self.attach_follower(index);
            self.feed_follower(index, FollowEvent::Startup);
            let fault = self.follower_fault(index);
            self.feed_follower(index, FollowEvent::Fault(fault.as_ref()));
        }
    }

    /// Delivers the timer to every follower whose deadline passed.
    pub(super) fn followers_timeout(&mut self, now: Time) {
        for index in 0..self.followers.len() {
            if self.followers[index]
                .follower
                .poll_timeout()
                .is_some_and(|t| t <= now)
            {
                self.feed_follower(index, FollowEvent::Timer);
            }
        }
    }

    /// Interface `name` changed: followers on it re-attach and re-check.
    pub(super) fn followers_link_changed(&mut self, name: &str) {
        for index in 0..self.followers.len() {
            if self.followers[index].cfg.interface == name {
                self.attach_follower(index);
                let fault = self.follower_fault(index);
                self.feed_follower(index, FollowEvent::Fault(fault.as_ref()));
            }
        }
    }

    /// An address of a follower that holds it was removed by someone else.
    pub(super) fn follower_vip_removed(&mut self, ifindex: u32, addr: std::net::IpAddr) {
        for f in &self.followers {
            let on_it = f.attachment.is_some_and(|a| a.ifindex() == ifindex);
            let ours = f.cfg.virtual_ips.iter().any(|v| v.addr() == addr);
            if !(on_it && ours && f.follower.state() == State::Master) {
                continue;
            }
            // Rate-limited like a VRRP instance's: someone may keep removing it.
            let key = format!("{}:restore", f.name);
            if let Some(suppressed) = self.log_limit.allow(&key) {
                tracing::warn!(
                    event = "vip_restored",
                    instance = %f.name,
                    address = %addr,
                    suppressed,
                    "instance {}: {addr} was removed by someone else; restoring it{}",
                    f.name,
                    super::suppressed_note(suppressed)
                );
            }
            f.send_vip(VipCommand::Add);
            f.send_vip(VipCommand::Announce);
        }
    }

    /// What etcd said about a follower's leader key; false if `lock` is no
    /// follower's.
    pub(super) fn on_follower_report(&mut self, lock: &str, said: &Said) -> bool {
        let Some(index) = self.followers.iter().position(|f| f.lock_id == lock) else {
            return false;
        };
        match said {
            Said::Holder { holder, .. } => {
                self.feed_follower(index, FollowEvent::LeaderKey(holder.as_deref()))
            }
            Said::Reachable(up) => self.feed_follower(index, FollowEvent::Etcd(*up)),
            _ => {}
        }
        true
    }

    /// The REST API answered (or not) for follower `lock`.
    pub(super) fn on_rest(&mut self, lock: &str, answer: RestAnswer) {
        if let Some(index) = self.followers.iter().position(|f| f.lock_id == lock) {
            self.feed_follower(index, FollowEvent::Rest(answer));
        }
    }

    pub(super) fn feed_follower(&mut self, index: usize, event: FollowEvent<'_>) {
        let now = self.now();
        let actions = self.followers[index].follower.handle(now, event);
        for action in actions {
            self.perform_follow(index, action);
        }
    }

    fn perform_follow(&mut self, index: usize, action: FollowAction) {
        let edge = &mut self.followers[index];
        match action {
            FollowAction::AddVips => edge.send_vip(VipCommand::Add),
            FollowAction::RemoveVips => edge.send_vip(VipCommand::Remove),
            FollowAction::Announce => edge.send_vip(VipCommand::Announce),
            FollowAction::ProbeRest => {
                let Some(url) = edge.cfg.rest_url.clone() else {
                    return;
                };
                let (tx, lock) = (self.edge.input_tx.clone(), edge.lock_id.clone());
                on_workers(&self.edge.workers, || {
                    tokio::spawn(async move {
                        let answer = ask_primary(&url).await;
                        let _ = tx.send(Input::Rest { lock, answer });
                    })
                });
            }
            FollowAction::Transition(t) => {
                edge.transitions += 1;
                *edge.transitions_to.entry(t.to).or_default() += 1;
                edge.last_transition = Some((SystemTime::now(), Instant::now(), t.clone()));
                tracing::info!(
                    event = "transition",
                    instance = %edge.name,
                    from = %t.from,
                    to = %t.to,
                    reason = %t.reason,
                    "instance {}: {} -> {}: {}",
                    edge.name,
                    t.from,
                    t.to,
                    t.reason
                );
                edge.send_vip(VipCommand::Hooks(job(&t)));
            }
        }
    }

    /// Why follower `index` cannot hold addresses on its interface, if so.
    fn follower_fault(&self, index: usize) -> Option<Fault> {
        let ifname = &self.followers[index].cfg.interface;
        match self.edge.links.get(ifname).and_then(|f| f.info.as_ref()) {
            None => Some(Fault::Edge(format!("interface {ifname} does not exist"))),
            Some(info) if !info.up => Some(Fault::InterfaceDown {
                interface: ifname.clone(),
            }),
            Some(_) => None,
        }
    }

    /// Hands the VIP worker the interface as it is now.
    fn attach_follower(&mut self, index: usize) {
        let ifname = self.followers[index].cfg.interface.clone();
        let Some(followed) = self.edge.links.get(&ifname) else {
            return;
        };
        let all_vips = self.running.config.all_vips();
        let key = AttachKey::of(followed, &all_vips);
        let edge = &mut self.followers[index];
        if key != edge.attachment {
            edge.attachment = key;
            edge.send_vip(VipCommand::Attach(key.map(|k| Attachment {
                ifindex: k.ifindex(),
                announcer: followed.announcer.clone(),
                link_local: k.link_local(),
            })));
        }
    }
}

/// The most of `GET /primary`'s body that is read (Patroni's is a few
/// hundred bytes).
const REST_BODY_LIMIT: usize = 64 * 1024;

/// `GET /primary` on the local Patroni: a writable primary answers 200 with
/// role `master` (or `primary`) and state `running` in its JSON body.
/// Patroni answers 200 as soon as it holds the leader lock, whatever
/// PostgreSQL is doing: the body says whether it is promoted and running.
async fn ask_primary(url: &RestUrl) -> RestAnswer {
    let ask = async {
        let stream = tokio::net::TcpStream::connect(&url.authority).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let driver = tokio::spawn(connection);
        let request = hyper::Request::get("/primary")
            .header(hyper::header::HOST, &url.authority)
            .body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = Limited::new(response.into_body(), REST_BODY_LIMIT)
            .collect()
            .await?
            .to_bytes();
        driver.abort();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
    };
    match tokio::time::timeout(REST_TIMEOUT, ask).await {
        Ok(Ok((status, body))) => {
            let view: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let role = view.get("role").and_then(|r| r.as_str());
            let state = view.get("state").and_then(|s| s.as_str());
            let writable = matches!(role, Some("master" | "primary")) && state == Some("running");
            if status == hyper::StatusCode::OK && writable {
                RestAnswer::Primary
            } else {
                RestAnswer::NotPrimary
            }
        }
        Ok(Err(e)) => {
            tracing::debug!(url = %url.url, error = %e, "Patroni's REST API did not answer");
            RestAnswer::Silent
        }
        Err(_) => RestAnswer::Silent,
    }
}
