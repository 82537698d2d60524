//! Invariants over a [`Timeline`], as plain functions so tests can also feed
//! them fabricated timelines and prove that they catch violations.

use core::fmt;
use core::net::IpAddr;
use core::time::Duration;

use crate::protocol::leadership::KERNEL_SWEEP;
use crate::protocol::{State, Time};

use super::scenario::Incident;
use super::timeline::{Record, Timeline, View};

/// A broken invariant, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Violation {}

fn violation<T>(message: String) -> Result<T, Violation> {
    Err(Violation(message))
}

/// A node taking part in an election: up, in Backup or Master, not faulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contender {
    /// The node's index.
    pub node: usize,
    /// Its effective priority.
    pub priority: u8,
    /// Its Preempt_Mode.
    pub preempt: bool,
    /// Its preempt delay.
    pub preempt_delay: Duration,
    /// Its primary address, the tie-breaker.
    pub address: IpAddr,
}

impl Contender {
    /// Whether this node takes over from a lower-priority master. RFC 9568
    /// 6.1: the address owner (priority 255) always preempts, whatever its
    /// Preempt_Mode says.
    pub fn preempts(&self) -> bool {
        self.preempt || self.priority == 255
    }
}

/// After every step, the nodes holding the virtual addresses are exactly the
/// nodes in Master, and AddVips/RemoveVips always change something.
pub fn vips_follow_state(timeline: &Timeline, instance: usize) -> Result<(), Violation> {
    let view = timeline.view(instance);
    let mut master: Vec<bool> = Vec::new();
    let mut vips: Vec<bool> = Vec::new();
    let mut entries = view.entries().peekable();
    while let Some(entry) = entries.next() {
        match &entry.record {
            Record::Transition {
                node, transition, ..
            } => {
                grow(&mut master, &mut vips, *node);
                master[*node] = transition.to == State::Master;
            }
            Record::Vips { node, held, .. } => {
                grow(&mut master, &mut vips, *node);
                if vips[*node] == *held {
                    let what = if *held {
                        "AddVips while holding"
                    } else {
                        "RemoveVips while not holding"
                    };
                    return violation(format!(
                        "{}: n{node}: {what} the virtual addresses",
                        entry.at
                    ));
                }
                vips[*node] = *held;
            }
            // A crash or reboot takes the node's state and addresses with it.
            Record::Injected(Incident::Crash(node) | Incident::Restart(node)) => {
                grow(&mut master, &mut vips, *node);
                master[*node] = false;
                vips[*node] = false;
            }
            _ => {}
        }
        let step_over = entries.peek().is_none_or(|next| next.step != entry.step);
        if step_over {
            if let Some(node) = (0..master.len()).find(|&n| master[n] != vips[n]) {
                return violation(format!(
                    "{}: after step {}, n{node} is {} but {} the virtual addresses",
                    entry.at,
                    entry.step,
                    if master[node] { "MASTER" } else { "not MASTER" },
                    if vips[node] { "holds" } else { "does not hold" },
                ));
            }
        }
    }
    Ok(())
}

fn grow(master: &mut Vec<bool>, vips: &mut Vec<bool>, node: usize) {
    if master.len() <= node {
        master.resize(node + 1, false);
        vips.resize(node + 1, false);
    }
}

/// Two nodes are never both master for longer than `max`, counting only
/// overlaps that begin within `[from, to)`.
pub fn overlaps_within(
    view: &View<'_>,
    from: Time,
    to: Time,
    max: Duration,
) -> Result<(), Violation> {
    let end = view.timeline().end();
    let spans = view.master_spans();
    for (i, a) in spans.iter().enumerate() {
        for b in spans[i + 1..].iter().filter(|b| b.node != a.node) {
            let start = a.from.max(b.from);
            let stop = a.end_or(end).min(b.end_or(end));
            if start < stop && from <= start && start < to && stop - start > max {
                return violation(format!(
                    "n{} and n{} are both MASTER from {start} to {stop} ({:?}, more than {max:?})",
                    a.node,
                    b.node,
                    stop - start
                ));
            }
        }
    }
    Ok(())
}

/// Throughout `[from, to]` exactly one of `contenders` is master and no
/// master changes (none at all if there are no contenders), and no contender
/// that preempts has a higher priority than that master.
///
/// Ties go to whoever is already master: RFC 9568 6.4.2 (650) has a backup
/// accept an advert whose priority is *greater than or equal to* its own,
/// so the primary address only breaks ties between two simultaneous masters
/// (6.4.3 (1050)), never between a master and a backup.
pub fn converged(
    view: &View<'_>,
    from: Time,
    to: Time,
    contenders: &[Contender],
) -> Result<(), Violation> {
    converged_where(view, from, to, contenders, |_| true)
}

/// [`converged`] restricted to the nodes in `among`, for one side of a partition.
pub fn converged_among(
    view: &View<'_>,
    from: Time,
    to: Time,
    contenders: &[Contender],
    among: &[usize],
) -> Result<(), Violation> {
    let local: Vec<Contender> = contenders
        .iter()
        .filter(|c| among.contains(&c.node))
        .cloned()
        .collect();
    converged_where(view, from, to, &local, |n| among.contains(&n))
        .map_err(|v| Violation(format!("among {among:?}: {v}")))
}

fn converged_where(
    view: &View<'_>,
    from: Time,
    to: Time,
    contenders: &[Contender],
    scope: impl Fn(usize) -> bool,
) -> Result<(), Violation> {
    let during: Vec<_> = view
        .master_spans()
        .into_iter()
        .filter(|s| scope(s.node) && s.from <= to && s.until.is_none_or(|u| u > from))
        .collect();
    if contenders.is_empty() {
        return match during.first() {
            Some(s) => violation(format!(
                "no contender, yet n{} is MASTER at {}",
                s.node,
                s.from.max(from)
            )),
            None => Ok(()),
        };
    }
    let span = match during.as_slice() {
        [] => return violation(format!("no MASTER between {from} and {to}")),
        [one] => *one,
        [a, b, ..] => {
            return violation(format!(
                "MASTER changes between {from} and {to}: n{} from {} and n{} from {}",
                a.node, a.from, b.node, b.from
            ));
        }
    };
    if span.from > from || span.until.is_some_and(|u| u <= to) {
        return violation(format!(
            "n{} is MASTER only from {} until {:?}, not throughout {from}..{to}",
            span.node, span.from, span.until
        ));
    }
    let Some(master) = contenders.iter().find(|c| c.node == span.node) else {
        return violation(format!("n{} is MASTER but is not a contender", span.node));
    };
    if let Some(better) = contenders
        .iter()
        .find(|c| c.preempts() && c.priority > master.priority)
    {
        return violation(format!(
            "n{} (priority {}) is MASTER although n{} (priority {}) preempts",
            master.node, master.priority, better.node, better.priority
        ));
    }
    Ok(())
}

/// With leadership locks: at no instant do two nodes hold the virtual
/// addresses in their kernels. A node's addresses go with RemoveVips, a
/// crash, or the kernel's removal when their valid lifetime (the last fence)
/// runs out, which is counted as late as Linux may be ([`KERNEL_SWEEP`]).
pub fn sole_vip_holder(timeline: &Timeline, instance: usize) -> Result<(), Violation> {
    #[derive(Clone, Copy, Default)]
    struct Held {
        held: bool,
        /// When the lifetime last given ends.
        fence: Option<Time>,
    }
    impl Held {
        fn gone_by(&self) -> Option<Time> {
            self.fence.map(|until| until + KERNEL_SWEEP)
        }
        fn holds_at(&self, t: Time) -> bool {
            self.held && self.gone_by().is_none_or(|gone| t < gone)
        }
    }
    let view = timeline.view(instance);
    let mut nodes: Vec<Held> = Vec::new();
    let mut entries = view.entries().peekable();
    while let Some(entry) = entries.next() {
        fn at(nodes: &mut Vec<Held>, n: usize) -> &mut Held {
            if nodes.len() <= n {
                nodes.resize(n + 1, Held::default());
            }
            &mut nodes[n]
        }
        match &entry.record {
            Record::Vips { node, held, .. } => at(&mut nodes, *node).held = *held,
            Record::Fence { node, until, .. } => at(&mut nodes, *node).fence = *until,
            Record::Injected(Incident::Crash(node) | Incident::Restart(node)) => {
                *at(&mut nodes, *node) = Held::default();
            }
            _ => {}
        }
        let step_over = entries.peek().is_none_or(|next| next.step != entry.step);
        if step_over {
            let holders: Vec<usize> = (0..nodes.len())
                .filter(|&n| nodes[n].holds_at(entry.at))
                .collect();
            if holders.len() > 1 {
                return violation(format!(
                    "{}: after step {}, nodes {holders:?} all hold the virtual addresses",
                    entry.at, entry.step
                ));
            }
        }
    }
    Ok(())
}

/// With leadership locks: two nodes never act as master at once. A hung
/// node acts no more from the moment it stops, so its Master span counts
/// only until then.
pub fn sole_acting_master(view: &View<'_>) -> Result<(), Violation> {
    let end = view.timeline().end();
    let hangs: Vec<(usize, Time)> = view
        .timeline()
        .incidents()
        .filter_map(|(t, i)| match i {
            Incident::Hang { node, .. } => Some((*node, t)),
            _ => None,
        })
        .collect();
    let acting_end = |s: &super::timeline::Span| {
        let stop = s.end_or(end);
        hangs
            .iter()
            .filter(|(n, t)| *n == s.node && s.from <= *t && *t < stop)
            .map(|(_, t)| *t)
            .min()
            .unwrap_or(stop)
    };
    let spans = view.master_spans();
    for (i, a) in spans.iter().enumerate() {
        for b in spans[i + 1..].iter().filter(|b| b.node != a.node) {
            let start = a.from.max(b.from);
            let stop = acting_end(a).min(acting_end(b));
            if start < stop {
                return violation(format!(
                    "n{} and n{} both act as MASTER from {start} to {stop}",
                    a.node, b.node
                ));
            }
        }
    }
    Ok(())
}
