//! `vipd watch`: print every VRRP advert seen on an interface, decoded, with
//! what is wrong with the invalid ones. The tool to reach for when two nodes
//! both claim the VIP.

use std::io::Write;
use std::process::ExitCode;

use tokio::time::Instant;

use crate::daemon::netlink::Netlink;
use crate::daemon::socket::{MAX_DATAGRAM, Received, VrrpSocket};
use crate::wire::{AdvertRepr, Auth, Family};

pub fn run(interface: &str) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vipd watch: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(watch(interface))
}

async fn watch(interface: &str) -> ExitCode {
    let info = match Netlink::open().await {
        Ok((netlink, _events)) => match netlink.interface(interface).await {
            Ok(info) => info,
            Err(e) => {
                eprintln!("vipd watch: interface {interface}: {e}");
                return ExitCode::from(1);
            }
        },
        Err(e) => {
            eprintln!("vipd watch: netlink: {e}");
            return ExitCode::from(1);
        }
    };
    let open = |family| VrrpSocket::open(family, interface, info.index, true);
    let (v4, v6) = match (open(Family::Ipv4), open(Family::Ipv6)) {
        (Ok(v4), Ok(v6)) => (v4, v6),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!(
                "vipd watch: cannot open VRRP sockets on {interface}: {e} (needs CAP_NET_RAW)"
            );
            return ExitCode::from(1);
        }
    };
    eprintln!(
        "vipd watch: listening for VRRP on {interface} (IPv4 224.0.0.18, IPv6 ff02::12); Ctrl-C to stop"
    );
    let start = Instant::now();
    let (mut buf4, mut buf6) = ([0u8; MAX_DATAGRAM], [0u8; MAX_DATAGRAM]);
    loop {
        let (received, buf) = tokio::select! {
            r = v4.recv(&mut buf4) => (r, &buf4),
            r = v6.recv(&mut buf6) => (r, &buf6),
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        };
        let line = match received {
            Ok(Ok(datagram)) => describe(&datagram, buf),
            Ok(Err(e)) => format!("INVALID IPv4 packet: {e}"),
            Err(e) => {
                eprintln!("vipd watch: receive error: {e}");
                return ExitCode::from(1);
            }
        };
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{:>10.3} {line}", start.elapsed().as_secs_f64())
            .and_then(|()| out.flush())
            .is_err()
        {
            return ExitCode::SUCCESS; // stdout closed (e.g. piped into head)
        }
    }
}

/// One line per datagram: the decoded advert, or what is wrong with it.
pub fn describe(datagram: &Received, buf: &[u8]) -> String {
    let envelope = datagram.envelope(buf);
    let head = format!("{} > {} ttl {}", datagram.src, datagram.dst, datagram.ttl);
    let ttl_note = match envelope.check_ttl() {
        Ok(()) => String::new(),
        Err(e) => format!(" INVALID: {e};"),
    };
    match envelope.advert() {
        Ok(advert) => format!("{head}{ttl_note} {}", summary(&advert)),
        Err(e) => format!(
            "{head}{ttl_note} INVALID: {e} ({} bytes)",
            datagram.payload.len()
        ),
    }
}

fn summary(a: &AdvertRepr) -> String {
    let addresses: Vec<String> = a.addresses.iter().map(ToString::to_string).collect();
    let auth = match a.auth {
        Auth::None => String::new(),
        Auth::Simple(bytes) => {
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
            format!(" auth {:?}", String::from_utf8_lossy(&bytes[..end]))
        }
    };
    format!(
        "VRRPv{} vrid {} prio {}{} interval {} addrs [{}]{auth}",
        a.version.number(),
        a.vrid,
        a.priority,
        if a.priority == 0 { " (resigning)" } else { "" },
        a.max_advert_interval,
        addresses.join(", ")
    )
}
