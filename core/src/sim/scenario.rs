//! What to simulate: the nodes and their VRRP settings, the segment, and the
//! faults that can be injected. Plain data, so a scenario can be printed.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::time::Duration;

use super::etcd::LockOf;
use crate::protocol::{Health, Params, SyncGroup, Time};
use crate::wire::{Auth, Centis, Family, Version};

/// The settings of one VRRP instance on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    /// Virtual Router Identifier.
    pub vrid: u8,
    /// Effective priority at boot (later changed with [`Incident::Health`]).
    pub priority: u8,
    /// Preempt_Mode: take over from a lower-priority master.
    pub preempt: bool,
    /// Wait this long before preempting (keepalived's `preempt_delay`).
    pub preempt_delay: Duration,
    /// vipd's opt-in fast takeover (see [`crate::protocol::Params::fast_takeover`]).
    pub fast_takeover: bool,
    /// Advertisement interval, in centiseconds.
    pub advert_interval: Centis,
}

impl InstanceSpec {
    /// VRID 51, preemption on, no preempt delay.
    pub fn new(priority: u8, advert_interval: Centis) -> InstanceSpec {
        InstanceSpec {
            vrid: 51,
            priority,
            preempt: true,
            preempt_delay: Duration::ZERO,
            fast_takeover: false,
            advert_interval,
        }
    }

    /// Sets Preempt_Mode.
    pub fn preempt(mut self, preempt: bool) -> InstanceSpec {
        self.preempt = preempt;
        self
    }

    /// Sets the preempt delay.
    pub fn preempt_delay(mut self, delay: Duration) -> InstanceSpec {
        self.preempt_delay = delay;
        self
    }

    /// Turns fast takeover on or off.
    pub fn fast_takeover(mut self, fast: bool) -> InstanceSpec {
        self.fast_takeover = fast;
        self
    }
}

/// One machine on the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Instance `k` of every node carries the virtual address [`Setup::vip`]`(k)`.
    pub instances: Vec<InstanceSpec>,
    /// Sync groups over this node's instance indices.
    pub sync_groups: Vec<SyncGroup>,
    /// When the node first boots; `None` leaves it down until a [`Incident::Restart`].
    pub boot_at: Option<Time>,
}

impl NodeSpec {
    /// A node with one instance, booting at time zero.
    pub fn single(instance: InstanceSpec) -> NodeSpec {
        NodeSpec {
            instances: vec![instance],
            sync_groups: Vec::new(),
            boot_at: Some(Time::ZERO),
        }
    }

    /// Sets the first boot time (`None`: stays down).
    pub fn boot_at(mut self, at: Option<Time>) -> NodeSpec {
        self.boot_at = at;
        self
    }
}

/// The segment's latency and loss. Every packet takes `base_delay` plus a
/// uniformly drawn jitter in `0..=jitter`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Network {
    /// One-way delay every packet takes.
    pub base_delay: Duration,
    /// Upper bound of the random extra delay.
    pub jitter: Duration,
    /// Probability that one receiver misses one packet, while loss is on.
    pub loss: f64,
}

impl Network {
    /// A lossless segment with the same `delay` for every packet.
    pub fn fixed(delay: Duration) -> Network {
        Network {
            base_delay: delay,
            jitter: Duration::ZERO,
            loss: 0.0,
        }
    }

    /// The longest one-way delay a delivered packet can take.
    pub fn max_delay(&self) -> Duration {
        self.base_delay + self.jitter
    }
}

/// A whole scenario's static part.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// VRRP version of every instance.
    pub version: Version,
    /// Address family of every primary and virtual address.
    pub family: Family,
    /// VRRPv2 password shared by all nodes (ignored by v3).
    pub auth: Auth,
    /// The machines, by index.
    pub nodes: Vec<NodeSpec>,
    /// The segment's latency and loss.
    pub network: Network,
    /// Seeds the segment's jitter and loss.
    pub seed: u64,
}

impl Setup {
    /// Node `i`'s primary address: 192.0.2.(10+i) or 2001:db8::(10+i) in hex
    /// digits, so a higher index always means a higher address (the tie-break).
    pub fn address(&self, node: usize) -> IpAddr {
        let i = u8::try_from(node).expect("at most 200 nodes");
        self.host(10 + i, 0x10 + u16::from(i))
    }

    /// The virtual address of instance `k`: 192.0.2.(50+k) or 2001:db8::(50+k).
    pub fn vip(&self, instance: usize) -> IpAddr {
        let k = u8::try_from(instance).expect("at most 200 instances");
        self.host(50 + k, 0x50 + u16::from(k))
    }

    /// 192.0.2.`v4` or 2001:db8::`v6`, by the scenario's family.
    fn host(&self, v4: u8, v6: u16) -> IpAddr {
        match self.family {
            Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, v4)),
            Family::Ipv6 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, v6)),
        }
    }

    /// The node index whose primary address is `addr`.
    pub fn node_of(&self, addr: IpAddr) -> Option<usize> {
        (0..self.nodes.len()).find(|&n| self.address(n) == addr)
    }

    /// The protocol parameters of one instance of one node.
    pub fn params(&self, node: usize, instance: usize) -> Params {
        let spec = &self.nodes[node].instances[instance];
        Params {
            version: self.version,
            vrid: spec.vrid,
            advert_interval: spec.advert_interval,
            preempt: spec.preempt,
            preempt_delay: spec.preempt_delay,
            fast_takeover: spec.fast_takeover,
            primary_address: self.address(node),
            virtual_ips: vec![self.vip(instance)],
            auth: self.auth,
            unicast_peers: Vec::new(),
        }
    }

    /// The health every instance boots with: up, at its configured priority.
    pub fn initial_health(&self, node: usize, instance: usize) -> Health {
        Health::up(self.nodes[node].instances[instance].priority)
    }
}

/// Something injected into a running simulation at a chosen time.
#[derive(Debug, Clone, PartialEq)]
pub enum Incident {
    /// The node stops dead: no priority-0 advert, its VIPs vanish with it, and
    /// packets it already sent stay in flight.
    Crash(usize),
    /// Boots the node with fresh instances (Initialize, then Startup), after a
    /// silent crash if it is running. Health set by [`Incident::Health`] persists.
    Restart(usize),
    /// Graceful stop: RFC 9568 Shutdown, so a master resigns with priority 0.
    Shutdown(usize),
    /// Nodes in different groups cannot hear each other; nodes in no group
    /// form one more group together. Replaces any earlier partition.
    Partition(Vec<Vec<usize>>),
    /// Everyone hears everyone again.
    Heal,
    /// New effective priority or fault condition for one instance.
    Health {
        /// The node's index.
        node: usize,
        /// The instance's index on that node.
        instance: usize,
        /// Its new health.
        health: Health,
    },
    /// Sets the per-receiver loss probability (0 turns loss off).
    Loss(f64),
    /// Exactly these nodes can no longer reach etcd (an empty list heals).
    EtcdCut(Vec<usize>),
    /// etcd loses (false) or regains (true) its quorum.
    EtcdQuorum(bool),
    /// An operator deletes a leadership key by hand.
    EtcdDeleteKey(LockOf),
    /// The node's daemon stops for a while (SIGSTOP, a paused VM): it
    /// handles nothing until then, while its kernel keeps the addresses
    /// until their lifetime ends.
    Hang {
        /// The node's index.
        node: usize,
        /// How long it stays stopped.
        for_: Duration,
    },
}

impl Incident {
    /// The node this fault is about, if it is about one.
    pub fn node(&self) -> Option<usize> {
        match self {
            Incident::Crash(n)
            | Incident::Restart(n)
            | Incident::Shutdown(n)
            | Incident::Health { node: n, .. }
            | Incident::Hang { node: n, .. } => Some(*n),
            Incident::Partition(_)
            | Incident::Heal
            | Incident::Loss(_)
            | Incident::EtcdCut(_)
            | Incident::EtcdQuorum(_)
            | Incident::EtcdDeleteKey(_) => None,
        }
    }
}
