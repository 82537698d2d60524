//! Building one instance's edge: interface lookup, source address, the
//! shared VRRP socket and packet socket of its interface, its VIP worker,
//! hook queue and health tracker. Start-up and reload both use it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{
    Counters, Input, Slot, SocketEntry, params, primary_ipv4, remove_stale_vips,
    wait_for_link_local,
};
use crate::config::{self, Config};
use crate::daemon::announce::Announcer;
use crate::daemon::hooks::{HookQueue, Owner};
use crate::daemon::netlink::Netlink;
use crate::daemon::process::RunAs;
use crate::daemon::socket::VrrpSocket;
use crate::daemon::tracked::TrackedUpdate;
use crate::daemon::vips::{AnnouncePlan, VipStats, VipWorker};
use crate::protocol::{CheckTracker, HealthTracker, Instance, Member};
use crate::wire::Family;

/// The interfaces' shared sockets, and what building an instance needs.
pub(super) struct Edge {
    pub netlink: Netlink,
    pub sockets: Vec<SocketEntry>,
    pub socket_keys: Vec<(u32, Family)>,
    /// Whether each socket joined the VRRP multicast group.
    pub joined: Vec<bool>,
    pub announcers: BTreeMap<u32, Arc<Announcer>>,
    pub input_tx: mpsc::UnboundedSender<Input>,
    /// The socket reader tasks.
    pub readers: Vec<JoinHandle<()>>,
}

impl Edge {
    /// Builds instance `name`; `readings` are the tracked files' and
    /// processes' current values.
    pub async fn build_instance(
        &mut self,
        name: &String,
        cfg: &config::Instance,
        config: &Config,
        readings: &[TrackedUpdate],
        run_as: RunAs,
        link_local_wait: Duration,
    ) -> Result<(Slot, Member), String> {
        let netlink = &self.netlink.clone();
        let all_vips: Vec<IpAddr> = config
            .instances
            .values()
            .flat_map(|i| i.virtual_ips.iter().map(IpNet::addr))
            .collect();
        let info = netlink
            .interface(&cfg.interface)
            .await
            .map_err(|e| format!("instance {name}: {e}"))?;
        let family = cfg.family;
        let link_local = match family {
            Family::Ipv6 => Some(wait_for_link_local(netlink, &info, link_local_wait).await.ok_or_else(|| {
                format!(
                    "instance {name}: no IPv6 link-local address on {} after {link_local_wait:?}",
                    cfg.interface
                )
            })?),
            Family::Ipv4 => None,
        };
        let src = match (cfg.unicast_src_ip, family, link_local) {
            (Some(src), _, _) => src,
            (None, Family::Ipv6, Some(ll)) => IpAddr::V6(ll),
            _ => primary_ipv4(&info, &all_vips).ok_or_else(|| {
                format!(
                    "instance {name}: {} has no IPv4 address to send adverts from",
                    cfg.interface
                )
            })?,
        };
        remove_stale_vips(netlink, name, &info, &cfg.virtual_ips).await;

        let socket = self.socket_for(name, cfg, config, info.index)?;
        let announcer = match self.announcers.get(&info.index) {
            Some(a) => a.clone(),
            None => {
                let mac = info.mac.unwrap_or([0; 6]);
                let a = Arc::new(Announcer::open(info.index, mac).map_err(|e| {
                    format!("instance {name}: packet socket on {}: {e}", cfg.interface)
                })?);
                self.announcers.insert(info.index, a.clone());
                a
            }
        };

        let tracker = build_tracker(netlink, cfg, config, readings, info.up, None).await;

        let vips_text = cfg
            .virtual_ips
            .iter()
            .map(|v| v.addr().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let hooks = HookQueue::spawn(
            Owner::Instance,
            name,
            cfg.hooks.clone(),
            vips_text,
            cfg.hook_timeout,
            run_as,
        );
        let vip_stats = Arc::new(VipStats::default());
        let (vip_tx, vip_task) = VipWorker {
            name: name.clone(),
            netlink: self.netlink.clone(),
            ifindex: info.index,
            vips: cfg.virtual_ips.clone(),
            announcer,
            link_local,
            plan: AnnouncePlan {
                repeat: cfg.garp_repeat,
                delay: cfg.garp_delay,
                refresh: cfg.garp_refresh,
            },
            stats: vip_stats.clone(),
            hooks: hooks.sender(),
        }
        .spawn();

        let params = params(cfg, src);
        let member = Member {
            name: name.clone(),
            instance: Instance::new(params, tracker.health()),
        };
        tracing::info!(
            "instance {name}: VRRPv{} vrid {} on {} from {src}, priority {}",
            cfg.version.number(),
            cfg.vrid,
            cfg.interface,
            tracker.health().priority
        );
        let slot = Slot {
            name: name.clone(),
            cfg: cfg.clone(),
            ifindex: info.index,
            src,
            socket,
            tracker,
            vip_tx: Some(vip_tx),
            vip_task: Some(vip_task),
            vip_stats,
            hooks,
            counters: Counters::default(),
            last_transition: None,
        };
        Ok((slot, member))
    }

    /// The VRRP socket for the instance's interface and family, opened (with
    /// its reader task) on first use.
    fn socket_for(
        &mut self,
        name: &str,
        cfg: &config::Instance,
        config: &Config,
        ifindex: u32,
    ) -> Result<usize, String> {
        let key = (ifindex, cfg.family);
        if let Some(i) = self.socket_keys.iter().position(|k| *k == key) {
            if !cfg.is_unicast() && !self.joined[i] {
                return Err(format!(
                    "instance {name}: the VRRP socket on {} was opened for unicast only; restart vipd to add a multicast instance there",
                    cfg.interface
                ));
            }
            return Ok(i);
        }
        let wants_group = config
            .instances
            .values()
            .any(|i| i.interface == cfg.interface && i.family == cfg.family && !i.is_unicast());
        let socket = VrrpSocket::open(cfg.family, &cfg.interface, ifindex, wants_group)
            .map_err(|e| format!("instance {name}: VRRP socket on {}: {e}", cfg.interface))?;
        let socket = Arc::new(socket);
        let index = self.sockets.len();
        self.sockets.push(SocketEntry {
            socket: socket.clone(),
            ifname: cfg.interface.clone(),
        });
        self.socket_keys.push(key);
        self.joined.push(wants_group);
        let tx = self.input_tx.clone();
        self.readers.push(tokio::spawn(async move {
            loop {
                let received = socket.recv().await;
                let fatal = received.is_err();
                if tx
                    .send(Input::Packet {
                        socket: index,
                        received,
                    })
                    .is_err()
                    || fatal
                {
                    // Back off so a persistent socket error cannot spin the loop.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
        Ok(index)
    }
}

/// An instance's health tracker as `cfg` describes it. With `carry`, the
/// state of what the old tracker already tracked carries over (a reload):
/// check health after rise/fall and link states; files and processes come
/// from `readings`.
pub(super) async fn build_tracker(
    netlink: &Netlink,
    cfg: &config::Instance,
    config: &Config,
    readings: &[TrackedUpdate],
    interface_up: bool,
    carry: Option<&HealthTracker>,
) -> HealthTracker {
    let mut tracker = HealthTracker::new(cfg.priority, &cfg.interface);
    tracker.link(&cfg.interface, interface_up);
    for tracked in &cfg.track_checks {
        let check = &config.checks[&tracked.name];
        let fresh = CheckTracker::new(
            &tracked.name,
            i32::from(tracked.weight),
            check.rise,
            check.fall,
        );
        // A reload keeps what the check has told so far; a new check starts
        // with no result, as keepalived's do.
        let old = carry.and_then(|old| old.checks().iter().find(|c| c.name == tracked.name));
        tracker = tracker.with_check(match old {
            Some(old) => fresh.carrying(old),
            None => fresh,
        });
    }
    for tracked in &cfg.track_interfaces {
        tracker = tracker.with_interface(&tracked.name, i32::from(tracked.weight));
        let up = match carry.and_then(|old| old.link_state(&tracked.name)) {
            Some(up) => up,
            None => netlink
                .interface(&tracked.name)
                .await
                .is_ok_and(|other| other.up),
        };
        tracker.link(&tracked.name, up);
    }
    for t in &cfg.track_files {
        tracker = tracker.with_file(&t.name, i32::from(t.weight));
    }
    for t in &cfg.track_processes {
        tracker = tracker.with_process(&t.name, i32::from(t.weight));
    }
    for update in readings {
        update.apply(&mut tracker);
    }
    tracker
}
