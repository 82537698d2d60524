//! Manual check of `src/daemon/netlink.rs` against a real kernel. Needs root;
//! run it only inside a throwaway network namespace:
//!
//! ```text
//! ip netns add vnl-test
//! ip netns exec vnl-test ip link add vnl0 type veth peer name vnl1
//! ip netns exec vnl-test ip link set vnl1 up
//! ip netns exec vnl-test ip link set vnl0 up
//! ip netns exec vnl-test target/debug/examples/netlink_probe vnl0 [watch-seconds]
//! # meanwhile, from another shell: ip netns exec vnl-test ip link set vnl0 down ...
//! ip netns del vnl-test
//! ```
//!
//! `netlink_probe IFNAME overrun SECS` instead blocks the runtime for SECS
//! (flood the interface with address changes meanwhile, to overflow the
//! notification socket), then checks that the events it receives still add
//! up to the kernel's final address list.
//!
//! Uses only 192.0.2.0/24 and 2001:db8::/32 (documentation ranges).

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use ipnet::IpNet;
use vipd::daemon::netlink::{NetEvent, Netlink};

fn ip_addr_show(ifname: &str) {
    let out = Command::new("ip")
        .args(["addr", "show", "dev", ifname])
        .output()
        .expect("run ip");
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

fn step<E: std::fmt::Display>(what: &str, result: Result<(), E>) {
    match result {
        Ok(()) => println!("ok    {what}"),
        Err(e) => println!("ERROR {what}: {e}"),
    }
}

#[derive(Clone, Copy, Debug)]
enum Change {
    Add,
    Remove,
}

/// Adds or removes each address twice: the second round must succeed as
/// well (adding what is there, removing what is gone).
async fn twice(nl: &Netlink, change: Change, index: u32, addrs: [IpNet; 2]) {
    for round in 1..=2 {
        for addr in addrs {
            let (verb, result) = match change {
                Change::Add => ("add", nl.add_address(index, addr, None).await),
                Change::Remove => ("remove", nl.remove_address(index, addr).await),
            };
            step(&format!("{verb} {addr} (round {round})"), result);
        }
    }
}

/// Prints whatever events are already queued, without waiting.
fn drain(events: &mut tokio::sync::mpsc::UnboundedReceiver<NetEvent>) {
    while let Ok(event) = events.try_recv() {
        println!("event {event:?}");
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let ifname = args
        .next()
        .expect("usage: netlink_probe IFNAME [watch-seconds | overrun SECS]");
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .init();
    let mode = args.next();
    if mode.as_deref() == Some("overrun") {
        let secs = args.next().map_or(10, |s| s.parse().expect("seconds"));
        return overrun(&ifname, secs).await;
    }
    let watch: u64 = mode.map_or(30, |s| s.parse().expect("seconds"));

    let (nl, mut events) = Netlink::open().await.expect("open netlink");
    let info = nl.interface(&ifname).await.expect("interface");
    println!("interface {info:?}");
    let by_index = nl.interface_by_index(info.index).await.expect("by index");
    assert_eq!(by_index.name, info.name);

    println!("--- error reporting");
    if let Err(e) = nl.interface("vnl-missing").await {
        println!("lookup missing: {e}");
    }
    if let Err(e) = nl.interface_by_index(999_999).await {
        println!("lookup missing index: {e}");
    }
    let v4: IpNet = "192.0.2.50/24".parse().unwrap();
    let v6: IpNet = "2001:db8::50/64".parse().unwrap();
    if let Err(e) = nl.add_address(999_999, v4, None).await {
        println!("add to missing: {e}");
    }
    step(
        "remove from missing ifindex",
        nl.remove_address(999_999, v4).await,
    );

    println!("--- add twice");
    twice(&nl, Change::Add, info.index, [v4, v6]).await;
    ip_addr_show(&ifname);
    let now = nl.interface(&ifname).await.expect("interface");
    println!("addresses via netlink: {:?}", now.addresses);
    tokio::time::sleep(Duration::from_millis(100)).await;
    drain(&mut events);

    println!("--- remove twice");
    twice(&nl, Change::Remove, info.index, [v4, v6]).await;
    ip_addr_show(&ifname);

    println!("--- remove ignores the prefix length the kernel has");
    let status = Command::new("ip")
        .args(["addr", "add", "192.0.2.51/32", "dev", &ifname])
        .status()
        .expect("run ip");
    assert!(status.success());
    step(
        "remove 192.0.2.51/24 (kernel has /32)",
        nl.remove_address(info.index, "192.0.2.51/24".parse().unwrap())
            .await,
    );
    ip_addr_show(&ifname);
    tokio::time::sleep(Duration::from_millis(100)).await;
    drain(&mut events);

    println!("--- VIPs re-added; watching events for {watch}s");
    step("add v4", nl.add_address(info.index, v4, None).await);
    step("add v6", nl.add_address(info.index, v6, None).await);
    let deadline = tokio::time::sleep(Duration::from_secs(watch));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => println!("event {event:?}"),
                None => { println!("event channel closed"); break; }
            },
            () = &mut deadline => break,
        }
    }

    println!("--- cleanup");
    step("remove v4", nl.remove_address(info.index, v4).await);
    step("remove v6", nl.remove_address(info.index, v6).await);
}

/// Blocks the (single) runtime thread so notifications pile up in the
/// socket, then replays the events on top of the starting address list.
async fn overrun(ifname: &str, secs: u64) {
    let (nl, mut events) = Netlink::open().await.expect("open netlink");
    let start = nl.interface(ifname).await.expect("interface");
    let mut seen: BTreeSet<IpNet> = start.addresses.iter().copied().collect();
    // Let the event pump read its initial state before blocking.
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("blocking for {secs}s; flood {ifname} now");
    std::thread::sleep(Duration::from_secs(secs));
    println!("unblocked");
    let (mut added, mut removed) = (0, 0);
    loop {
        let event = tokio::time::timeout(Duration::from_secs(3), events.recv()).await;
        match event {
            Ok(Some(NetEvent::AddressAdded { index, addr })) if index == start.index => {
                added += 1;
                seen.insert(addr);
            }
            Ok(Some(NetEvent::AddressRemoved { index, addr })) if index == start.index => {
                removed += 1;
                seen.remove(&addr);
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("event channel closed"),
            Err(_) => break,
        }
    }
    let kernel: BTreeSet<IpNet> = nl
        .interface(ifname)
        .await
        .expect("interface")
        .addresses
        .into_iter()
        .collect();
    println!(
        "events: {added} added, {removed} removed; event-derived {} addresses, kernel {}; {}",
        seen.len(),
        kernel.len(),
        if seen == kernel { "MATCH" } else { "MISMATCH" }
    );
    for missing in kernel.difference(&seen) {
        println!("only in kernel: {missing}");
    }
    for extra in seen.difference(&kernel) {
        println!("only in events: {extra}");
    }
}
