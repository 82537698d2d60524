//! The simulated L2 segment: who can hear whom, how long a packet takes, and
//! which packets are lost. All randomness comes from the segment's own seeded
//! generator, so the same sends always get the same fates.

use core::time::Duration;

use super::rng::Rng;
use super::scenario::Network;
use crate::protocol::Time;

/// The simulated link between all nodes: partitions, per-link delay and loss.
#[derive(Debug, Clone)]
pub struct Segment {
    network: Network,
    /// Nodes on the same side of a partition hear each other.
    side: Vec<u32>,
    /// Latest arrival scheduled on each directed link (`from * n + to`): one
    /// wire never reorders, so a priority-0 advert is never overtaken by the
    /// periodic advert sent just before it.
    last_arrival: Vec<Time>,
    rng: Rng,
}

impl Segment {
    /// A segment of `nodes` nodes, all hearing each other, drawing its fates from `seed`.
    pub fn new(nodes: usize, network: Network, seed: u64) -> Segment {
        Segment {
            network,
            side: vec![0; nodes],
            last_arrival: vec![Time::ZERO; nodes * nodes],
            rng: Rng::new(seed),
        }
    }

    /// The latency and loss settings in force.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The longest one-way delay a delivered packet can take.
    pub fn max_delay(&self) -> Duration {
        self.network.max_delay()
    }

    /// Sets the per-receiver loss probability (0 turns loss off).
    pub fn set_loss(&mut self, loss: f64) {
        self.network.loss = loss;
    }

    /// Splits the segment; nodes listed in no group share one extra side.
    pub fn partition(&mut self, groups: &[Vec<usize>]) {
        self.side.iter_mut().for_each(|s| *s = 0);
        for (g, group) in groups.iter().enumerate() {
            for &n in group {
                if let Some(side) = self.side.get_mut(n) {
                    *side = g as u32 + 1;
                }
            }
        }
    }

    /// Ends any partition: everyone hears everyone.
    pub fn heal(&mut self) {
        self.side.iter_mut().for_each(|s| *s = 0);
    }

    /// Whether `a` and `b` are on the same side of the partition; panics on an unknown node.
    pub fn can_hear(&self, a: usize, b: usize) -> bool {
        self.side[a] == self.side[b]
    }

    /// When a packet `from` sends at `now` reaches `to`, or `None` if it is
    /// lost or the two are partitioned.
    pub fn transmit(&mut self, now: Time, from: usize, to: usize) -> Option<Time> {
        if !self.can_hear(from, to) {
            return None;
        }
        // Draw both values whatever the outcome so one loss does not shift the
        // jitter of every later packet (keeps nearby seeds comparable).
        let lost = self.rng.chance(self.network.loss);
        let jitter = self.rng.below(nanos(self.network.jitter) + 1);
        if lost {
            return None;
        }
        let link = from * self.side.len() + to;
        let arrival = (now + self.network.base_delay + Duration::from_nanos(jitter))
            .max(self.last_arrival[link]);
        self.last_arrival[link] = arrival;
        Some(arrival)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn delay_stays_within_base_plus_jitter_and_links_stay_fifo() {
        let net = Network {
            base_delay: ms(1),
            jitter: ms(2),
            loss: 0.0,
        };
        let mut seg = Segment::new(2, net, 9);
        let mut last = Time::ZERO;
        for k in 0..1000 {
            let now = Time::ZERO + Duration::from_micros(k * 100);
            let at = seg.transmit(now, 0, 1).unwrap();
            assert!(at >= now + ms(1) && at <= now + ms(3));
            assert!(at >= last);
            last = at;
        }
    }

    #[test]
    fn partitions_and_loss_drop_packets() {
        let mut seg = Segment::new(3, Network::fixed(ms(1)), 1);
        seg.partition(&[vec![0]]);
        assert!(seg.transmit(Time::ZERO, 0, 1).is_none());
        assert!(
            seg.transmit(Time::ZERO, 1, 2).is_some(),
            "unlisted nodes share a side"
        );
        seg.heal();
        assert!(seg.transmit(Time::ZERO, 0, 1).is_some());
        seg.set_loss(1.0);
        assert!(seg.transmit(Time::ZERO, 0, 1).is_none());
    }
}
