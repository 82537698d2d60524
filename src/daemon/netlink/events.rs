//! The notification pump: link and address events from the kernel's
//! multicast groups, decoded and forwarded to the daemon, with a resync from
//! a full dump when the kernel dropped notifications.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::pin;

use futures::{FutureExt, Stream, StreamExt};
use ipnet::IpNet;
use rtnetlink::Handle;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::link::LinkMessage;
use rtnetlink::sys::SocketAddr;
use tokio::sync::mpsc;
use tracing::warn;

use super::decode::{decode_event, interface_from_link, usable_address};
use super::{NetEvent, dump, dump_addresses};

/// Receive buffer for the notification socket. The default (~200 KiB) can
/// overflow when many interfaces change at once (container churn); overflow
/// costs a full resync, so ask for more. Capped by `net.core.rmem_max`.
pub(super) const EVENT_RCVBUF: i32 = 1 << 20;

/// What the event pump believes the kernel holds, used to work out what
/// was missed when notifications are dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Snapshot {
    links: BTreeMap<u32, (String, bool, Option<[u8; 6]>)>,
    addresses: BTreeSet<(u32, IpNet)>,
}

impl Snapshot {
    fn apply(&mut self, event: &NetEvent) {
        match event {
            NetEvent::Link {
                index,
                name,
                up,
                mac,
            } => {
                self.links.insert(*index, (name.clone(), *up, *mac));
            }
            NetEvent::LinkRemoved { index, .. } => {
                self.links.remove(index);
                self.addresses.retain(|(i, _)| i != index);
            }
            NetEvent::AddressAdded { index, addr } => {
                self.addresses.insert((*index, *addr));
            }
            NetEvent::AddressRemoved { index, addr } => {
                self.addresses.remove(&(*index, *addr));
            }
        }
    }

    /// The events that turn `self` into `now`.
    fn changes_to(&self, now: &Snapshot) -> Vec<NetEvent> {
        let mut events = Vec::new();
        for (&index, (name, _, _)) in &self.links {
            if !now.links.contains_key(&index) {
                events.push(NetEvent::LinkRemoved {
                    index,
                    name: name.clone(),
                });
            }
        }
        for (&index, state) in &now.links {
            if self.links.get(&index) != Some(state) {
                events.push(NetEvent::Link {
                    index,
                    name: state.0.clone(),
                    up: state.1,
                    mac: state.2,
                });
            }
        }
        for &(index, addr) in self.addresses.difference(&now.addresses) {
            events.push(NetEvent::AddressRemoved { index, addr });
        }
        for &(index, addr) in now.addresses.difference(&self.addresses) {
            events.push(NetEvent::AddressAdded { index, addr });
        }
        events
    }

    async fn read(handle: &Handle) -> Result<Snapshot, rtnetlink::Error> {
        let mut snapshot = Snapshot::default();
        for reply in dump(handle, RouteNetlinkMessage::GetLink(LinkMessage::default())).await? {
            if let RouteNetlinkMessage::NewLink(link) = reply {
                let info = interface_from_link(&link);
                snapshot
                    .links
                    .insert(info.index, (info.name, info.up, info.mac));
            }
        }
        snapshot.addresses = dump_addresses(handle)
            .await?
            .iter()
            .filter_map(usable_address)
            .collect();
        Ok(snapshot)
    }
}

pub(super) async fn pump_events(
    handle: Handle,
    messages: impl Stream<Item = (NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
    tx: mpsc::UnboundedSender<NetEvent>,
) {
    let mut messages = pin!(messages);
    // Read after subscribing, so nothing falls between the two. Events
    // queued meanwhile are replayed on top in order; since they are an
    // unbroken run up to the present, each item ends in its latest state.
    let mut known = Snapshot::read(&handle).await.unwrap_or_else(|e| {
        warn!(
            event = "netlink_read_failed",
            error = %e,
            "cannot read initial interface state: {e}"
        );
        Snapshot::default()
    });
    loop {
        let message = tokio::select! {
            message = messages.next() => message,
            // Stop (and let both connections close) once nobody listens.
            () = tx.closed() => return,
        };
        let Some((message, _)) = message else {
            warn!(
                event = "netlink_closed",
                "netlink notification socket closed"
            );
            return;
        };
        let events = match message.payload {
            NetlinkPayload::InnerMessage(inner) => match decode_event(&inner) {
                Some(event) => {
                    known.apply(&event);
                    vec![event]
                }
                None => continue,
            },
            NetlinkPayload::Overrun(_) => {
                // What is still queued was read along with the overrun and
                // may predate the lost messages; replayed after the dump it
                // would undo newer state. The dump supersedes all of it.
                // (The connection task reads the socket dry, then forwards
                // the batch, so on a current-thread runtime this empties
                // everything the kernel had queued.)
                let mut stale = 0usize;
                while let Some(Some(_)) = messages.next().now_or_never() {
                    stale += 1;
                }
                warn!(
                    event = "netlink_overrun",
                    stale, "netlink notifications were dropped; re-reading interface state"
                );
                match Snapshot::read(&handle).await {
                    Ok(now) => {
                        let events = known.changes_to(&now);
                        known = now;
                        events
                    }
                    Err(e) => {
                        warn!(
                            event = "netlink_read_failed",
                            error = %e,
                            "cannot re-read interface state: {e}"
                        );
                        continue;
                    }
                }
            }
            _ => continue,
        };
        for event in events {
            if tx.send(event).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::netlink::test_messages::*;

    #[test]
    fn snapshot_replays_events() {
        let mut s = Snapshot::default();
        s.apply(&NetEvent::Link {
            index: 2,
            name: "eth0".into(),
            up: true,
            mac: None,
        });
        s.apply(&NetEvent::AddressAdded {
            index: 2,
            addr: net("192.0.2.50/24"),
        });
        // Repeated notifications are idempotent.
        s.apply(&NetEvent::AddressAdded {
            index: 2,
            addr: net("192.0.2.50/24"),
        });
        assert_eq!(s.addresses.len(), 1);
        s.apply(&NetEvent::LinkRemoved {
            index: 2,
            name: "eth0".into(),
        });
        assert_eq!(s, Snapshot::default());
    }

    #[test]
    fn snapshot_diff_reports_what_was_missed() {
        let mut before = Snapshot::default();
        before.links.insert(2, ("eth0".into(), true, None));
        before.links.insert(3, ("eth1".into(), true, None));
        before.links.insert(4, ("eth2".into(), true, None));
        before.addresses.insert((2, net("192.0.2.50/24")));
        before.addresses.insert((2, net("2001:db8::50/64")));

        let mut after = Snapshot::default();
        after.links.insert(2, ("eth0".into(), false, None)); // went down
        after.links.insert(3, ("eth1".into(), true, None)); // unchanged
        after.links.insert(5, ("eth3".into(), true, None)); // appeared
        after.addresses.insert((2, net("192.0.2.50/24")));
        after.addresses.insert((5, net("192.0.2.60/24")));

        assert_eq!(
            before.changes_to(&after),
            vec![
                NetEvent::LinkRemoved {
                    index: 4,
                    name: "eth2".into()
                },
                NetEvent::Link {
                    index: 2,
                    name: "eth0".into(),
                    up: false,
                    mac: None,
                },
                NetEvent::Link {
                    index: 5,
                    name: "eth3".into(),
                    up: true,
                    mac: None,
                },
                NetEvent::AddressRemoved {
                    index: 2,
                    addr: net("2001:db8::50/64")
                },
                NetEvent::AddressAdded {
                    index: 5,
                    addr: net("192.0.2.60/24")
                },
            ]
        );
        assert!(after.changes_to(&after).is_empty());
    }
}
