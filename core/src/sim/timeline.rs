//! What happened during a run, in order, and the questions the properties ask
//! about it ("who was master at t?").
//!
//! Queries use end-of-instant semantics: the state "at t" is the state after
//! every step that happened at time t. A node that became master and stepped
//! down within one instant was never master at any time.

use core::fmt;

use crate::protocol::{Report, State, Time, Transition};
use crate::wire::Centis;

use super::scenario::Incident;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// An incident injected by the scenario (boots are [`Incident::Restart`]).
    Injected(Incident),
    /// An instance changed state.
    Transition {
        /// The node's index.
        node: usize,
        /// The instance's index on that node.
        instance: usize,
        /// The change, as the state machine reported it.
        transition: Transition,
    },
    /// AddVips (`held: true`) or RemoveVips.
    Vips {
        /// The node's index.
        node: usize,
        /// The instance's index on that node.
        instance: usize,
        /// True when the addresses were added, false when removed.
        held: bool,
    },
    /// An instance announced its addresses (gratuitous ARP / unsolicited NA).
    Announce {
        /// The node's index.
        node: usize,
        /// The instance's index on that node.
        instance: usize,
    },
    /// An advert sent, and when it reaches each receiver that will get it
    /// (a receiver that crashes or is cut off meanwhile still misses it).
    Advert {
        /// The sender's index.
        node: usize,
        /// The instance's index on that node.
        instance: usize,
        /// The priority advertised.
        priority: u8,
        /// The interval advertised.
        interval: Centis,
        /// Each receiver and when the advert reaches it.
        arrivals: Vec<(usize, Time)>,
    },
    /// Something the state machine reported (a drop, a lower-priority master).
    Report {
        /// The node's index.
        node: usize,
        /// The instance's index on that node.
        instance: usize,
        /// What it reported.
        report: Report,
    },
    /// The virtual addresses' valid lifetime was set (`None`: forever).
    Fence {
        /// The node's index.
        node: usize,
        /// The instance's index on that node.
        instance: usize,
        /// When the lifetime ends (`None`: never).
        until: Option<Time>,
    },
    /// A sync group of `node` changed state as a whole.
    Group {
        /// The node's index.
        node: usize,
        /// The group's index on that node.
        group: usize,
        /// The group's change of state.
        transition: Transition,
    },
}

impl Record {
    /// The instance the record is about, if it is about one.
    fn instance(&self) -> Option<usize> {
        match self {
            Record::Transition { instance, .. }
            | Record::Vips { instance, .. }
            | Record::Announce { instance, .. }
            | Record::Advert { instance, .. }
            | Record::Report { instance, .. }
            | Record::Fence { instance, .. } => Some(*instance),
            Record::Injected(_) | Record::Group { .. } => None,
        }
    }
}

/// A record with its time and the simulator step that produced it. Records of
/// one step happen atomically: invariants hold between steps, not inside one.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// When it happened.
    pub at: Time,
    /// The simulator step that produced it.
    pub step: u64,
    /// What happened.
    pub record: Record,
}

/// One advert as sent, with when it reaches each receiver that will get it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent<'a> {
    /// When it was sent.
    pub at: Time,
    /// The sender's index.
    pub node: usize,
    /// The priority advertised.
    pub priority: u8,
    /// Each receiver and when the advert reaches it.
    pub arrivals: &'a [(usize, Time)],
}

impl Sent<'_> {
    /// When this advert reaches `node`, if it does.
    pub fn arrival(&self, node: usize) -> Option<Time> {
        self.arrivals
            .iter()
            .find(|(to, _)| *to == node)
            .map(|(_, at)| *at)
    }
}

/// A maximal interval during which `node` was in some condition: from `from`
/// (inclusive) to `until` (exclusive; `None` while it still holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The node's index.
    pub node: usize,
    /// Start, inclusive.
    pub from: Time,
    /// End, exclusive; `None` while the condition still holds.
    pub until: Option<Time>,
}

impl Span {
    /// Whether `t` falls inside the span.
    pub fn contains(&self, t: Time) -> bool {
        self.from <= t && self.until.is_none_or(|u| t < u)
    }

    /// The end, or `end` for a span that is still open.
    pub fn end_or(&self, end: Time) -> Time {
        self.until.unwrap_or(end)
    }
}

/// Everything that happened during a run, in time order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    entries: Vec<Entry>,
    /// How far the simulation has run (at least the last entry's time).
    end: Time,
}

impl Timeline {
    /// An empty timeline at time zero.
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// Appends a record; times must not go backwards.
    pub fn push(&mut self, at: Time, step: u64, record: Record) {
        debug_assert!(
            self.entries.last().is_none_or(|e| e.at <= at),
            "timeline must be ordered"
        );
        self.end = self.end.max(at);
        self.entries.push(Entry { at, step, record });
    }

    /// Notes that nothing else happened up to `t`.
    pub fn extend_to(&mut self, t: Time) {
        self.end = self.end.max(t);
    }

    /// How far the simulation has run.
    pub fn end(&self) -> Time {
        self.end
    }

    /// Every entry, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The questions about one instance index (the same index on every node).
    pub fn view(&self, instance: usize) -> View<'_> {
        View {
            timeline: self,
            instance,
        }
    }

    /// Times of the injected incidents, in order.
    pub fn incidents(&self) -> impl Iterator<Item = (Time, &Incident)> {
        self.entries.iter().filter_map(|e| match &e.record {
            Record::Injected(f) => Some((e.at, f)),
            _ => None,
        })
    }
}

/// Read-only queries about instance `instance` of every node.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    timeline: &'a Timeline,
    instance: usize,
}

/// What a node is doing in one instance while replaying the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Replayed {
    state: Option<State>,
    vips: bool,
}

impl<'a> View<'a> {
    /// The whole timeline this view reads.
    pub fn timeline(&self) -> &'a Timeline {
        self.timeline
    }

    /// The instance index this view is about.
    pub fn instance(&self) -> usize {
        self.instance
    }

    /// The entries about this instance, plus every injected incident.
    pub fn entries(&self) -> impl Iterator<Item = &'a Entry> + 'a {
        let instance = self.instance;
        self.timeline
            .entries
            .iter()
            .filter(move |e| e.record.instance().is_none_or(|i| i == instance))
    }

    /// State changes of this instance: when, on which node, and the change.
    pub fn transitions(&self) -> impl Iterator<Item = (Time, usize, &'a Transition)> + 'a {
        self.entries().filter_map(|e| match &e.record {
            Record::Transition {
                node, transition, ..
            } => Some((e.at, *node, transition)),
            _ => None,
        })
    }

    /// Adverts sent by this instance, in order.
    pub fn adverts(&self) -> impl Iterator<Item = Sent<'a>> + 'a {
        self.entries().filter_map(|e| match &e.record {
            Record::Advert {
                node,
                priority,
                arrivals,
                ..
            } => Some(Sent {
                at: e.at,
                node: *node,
                priority: *priority,
                arrivals: arrivals.as_slice(),
            }),
            _ => None,
        })
    }

    /// The last advert `node` sent at or before `t`.
    pub fn last_advert(&self, node: usize, t: Time) -> Option<Sent<'a>> {
        self.adverts()
            .filter(|s| s.node == node && s.at <= t)
            .last()
    }

    /// When the adverts `from` sent reached `to`, in order.
    pub fn arrivals(&self, from: usize, to: usize) -> impl Iterator<Item = Time> + 'a {
        self.adverts()
            .filter(move |s| s.node == from)
            .filter_map(move |s| s.arrival(to))
    }

    /// Replays the timeline up to and including time `t`, node by node.
    fn replay(&self, t: Time) -> Vec<Replayed> {
        let mut nodes: Vec<Replayed> = Vec::new();
        for entry in self.entries().take_while(|e| e.at <= t) {
            apply(&mut nodes, entry);
        }
        nodes
    }

    /// The node's state at `t`; `None` while it is down or before it boots.
    pub fn state_at(&self, node: usize, t: Time) -> Option<State> {
        self.replay(t).get(node).and_then(|r| r.state)
    }

    /// The nodes in Master at `t` (end-of-instant semantics).
    pub fn masters_at(&self, t: Time) -> Vec<usize> {
        self.nodes_where(t, |r| r.state == Some(State::Master))
    }

    /// The nodes holding the virtual addresses at `t` (end-of-instant semantics).
    pub fn vip_holders_at(&self, t: Time) -> Vec<usize> {
        self.nodes_where(t, |r| r.vips)
    }

    fn nodes_where(&self, t: Time, pred: impl Fn(&Replayed) -> bool) -> Vec<usize> {
        self.replay(t)
            .iter()
            .enumerate()
            .filter(|(_, r)| pred(r))
            .map(|(n, _)| n)
            .collect()
    }

    /// The first time at or after `t` that `node` became master.
    pub fn became_master(&self, node: usize, t: Time) -> Option<Time> {
        self.transitions()
            .find(|&(at, n, tr)| at >= t && n == node && tr.to == State::Master)
            .map(|(at, ..)| at)
    }

    /// The first time at or after `t` that any node became master, and which.
    pub fn first_takeover(&self, t: Time) -> Option<(Time, usize)> {
        self.transitions()
            .find(|&(at, _, tr)| at >= t && tr.to == State::Master)
            .map(|(at, n, _)| (at, n))
    }

    /// Every interval during which some node was master, in start order.
    pub fn master_spans(&self) -> Vec<Span> {
        self.spans(|r| r.state == Some(State::Master))
    }

    /// Every interval during which some node held the virtual addresses.
    pub fn vip_spans(&self) -> Vec<Span> {
        self.spans(|r| r.vips)
    }

    fn spans(&self, pred: impl Fn(&Replayed) -> bool) -> Vec<Span> {
        let mut nodes: Vec<Replayed> = Vec::new();
        let mut open: Vec<Option<Time>> = Vec::new();
        let mut spans = Vec::new();
        for entry in self.entries() {
            apply(&mut nodes, entry);
            open.resize(nodes.len(), None);
            for (node, r) in nodes.iter().enumerate() {
                match (open[node], pred(r)) {
                    (None, true) => open[node] = Some(entry.at),
                    (Some(from), false) => {
                        // Zero-length spans were never observable.
                        if from < entry.at {
                            spans.push(Span {
                                node,
                                from,
                                until: Some(entry.at),
                            });
                        }
                        open[node] = None;
                    }
                    _ => {}
                }
            }
        }
        spans.extend(open.iter().enumerate().filter_map(|(node, o)| {
            o.map(|from| Span {
                node,
                from,
                until: None,
            })
        }));
        spans.sort_by_key(|s| (s.from, s.node));
        spans
    }
}

/// Applies one entry to the replayed per-node state of a view's instance.
fn apply(nodes: &mut Vec<Replayed>, entry: &Entry) {
    fn at(nodes: &mut Vec<Replayed>, node: usize) -> &mut Replayed {
        if nodes.len() <= node {
            nodes.resize(
                node + 1,
                Replayed {
                    state: None,
                    vips: false,
                },
            );
        }
        &mut nodes[node]
    }
    match &entry.record {
        Record::Injected(Incident::Crash(n)) => {
            *at(nodes, *n) = Replayed {
                state: None,
                vips: false,
            }
        }
        Record::Injected(Incident::Restart(n)) => {
            *at(nodes, *n) = Replayed {
                state: Some(State::Initialize),
                vips: false,
            }
        }
        Record::Transition {
            node, transition, ..
        } => at(nodes, *node).state = Some(transition.to),
        Record::Vips { node, held, .. } => at(nodes, *node).vips = *held,
        _ => {}
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Injected(incident) => write!(f, "INCIDENT {incident:?}"),
            Record::Transition {
                node,
                instance,
                transition: t,
            } => write!(
                f,
                "n{node}/{instance} {} -> {} prio {} ({})",
                t.from, t.to, t.priority, t.reason
            ),
            Record::Vips {
                node,
                instance,
                held: true,
            } => write!(f, "n{node}/{instance} AddVips"),
            Record::Vips {
                node,
                instance,
                held: false,
            } => write!(f, "n{node}/{instance} RemoveVips"),
            Record::Announce { node, instance } => write!(f, "n{node}/{instance} Announce"),
            Record::Advert {
                node,
                instance,
                priority,
                interval,
                arrivals,
            } => {
                write!(
                    f,
                    "n{node}/{instance} advert prio {priority} int {interval} ->"
                )?;
                for (to, at) in arrivals {
                    write!(f, " n{to}@{at}")?;
                }
                Ok(())
            }
            Record::Report {
                node,
                instance,
                report,
            } => write!(f, "n{node}/{instance} {report:?}"),
            Record::Fence {
                node,
                instance,
                until,
            } => match until {
                Some(t) => write!(f, "n{node}/{instance} fence until {t}"),
                None => write!(f, "n{node}/{instance} fence lifted"),
            },
            Record::Group {
                node,
                group,
                transition: t,
            } => {
                write!(
                    f,
                    "n{node} group {group} {} -> {} ({})",
                    t.from, t.to, t.reason
                )
            }
        }
    }
}

impl fmt::Display for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            writeln!(f, "{} #{:<5} {}", e.at, e.step, e.record)?;
        }
        writeln!(f, "{} end", self.end)
    }
}
