//! Interop check against frames captured from real VRRP implementations
//! (keepalived, FRR): `tests/fixtures/*.hex` described by
//! `tests/fixtures/captures.toml`.
//!
//! For every listed frame we parse it, compare the result with what the
//! manifest says was configured, then emit our own `Repr` and require the
//! bytes the peer sent. A mismatch means we would not interoperate.
//!
//! `VIPD_FIXTURES_DIR` points the test at another directory of captures.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use vipd_core::wire::{
    AdvertRepr, Auth, Centis, GarpRepr, UnsolicitedNaRepr, Version, parse_ethernet,
};

#[derive(Debug, Deserialize)]
struct Manifest {
    #[serde(default)]
    frame: Vec<Frame>,
}

/// One `[[frame]]` table. Unknown keys (notes, tool versions) are allowed.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Frame {
    Vrrp {
        file: String,
        source: String,
        version: u8,
        vrid: u8,
        priority: u8,
        interval_centis: u16,
        auth: Option<String>,
        addresses: Vec<String>,
        ip_src: IpAddr,
        ip_dst: IpAddr,
        ttl: u8,
        /// Optional: checked against the Ethernet header when present.
        eth_src: Option<String>,
        eth_dst: Option<String>,
    },
    Garp {
        file: String,
        source: String,
        sender_mac: String,
        ip: Ipv4Addr,
        /// Optional: checked against the ARP target hardware address.
        target_mac: Option<String>,
    },
    Na {
        file: String,
        source: String,
        src_mac: String,
        ip_src: Ipv6Addr,
        target: Ipv6Addr,
        #[serde(rename = "override")]
        override_flag: bool,
        router: bool,
        hop_limit: u8,
    },
}

impl Frame {
    fn file(&self) -> &str {
        match self {
            Frame::Vrrp { file, .. } | Frame::Garp { file, .. } | Frame::Na { file, .. } => file,
        }
    }

    fn source(&self) -> &str {
        match self {
            Frame::Vrrp { source, .. } | Frame::Garp { source, .. } | Frame::Na { source, .. } => {
                source
            }
        }
    }
}

/// The largest Ethernet frame (without FCS) that can still contain padding:
/// shorter payloads are padded up to this minimum by the sender's NIC/driver.
const ETHERNET_MIN_FRAME: usize = 60;
/// Ethernet + IPv6 header + NA fixed part: where the hop limit and flags sit.
const NA_HOP_LIMIT_OFFSET: usize = 14 + 7;
const NA_FLAGS_OFFSET: usize = 14 + 40 + 4;
/// Ethernet header + ARP fields before the target hardware address.
const ARP_TARGET_MAC: std::ops::Range<usize> = 14 + 18..14 + 24;

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("VIPD_FIXTURES_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
    }
}

fn read_hex(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(format!("{}: odd number of hex digits", path.display()));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
            u8::from_str_radix(pair, 16).map_err(|e| format!("{}: {pair:?}: {e}", path.display()))
        })
        .collect()
}

fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let octets: Vec<u8> = text
        .split(':')
        .map(|o| u8::from_str_radix(o, 16).map_err(|e| format!("MAC {text:?}: {e}")))
        .collect::<Result<_, _>>()?;
    octets
        .try_into()
        .map_err(|_| format!("MAC {text:?}: not 6 octets"))
}

/// Manifest addresses may be written with a prefix length as in a daemon's
/// config ("192.0.2.10/24"); the advert carries only the address.
fn parse_address(text: &str) -> Result<IpAddr, String> {
    let addr = text.split('/').next().unwrap_or(text);
    addr.parse().map_err(|e| format!("address {text:?}: {e}"))
}

/// What each kind of fixture contributes to the coverage requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Coverage {
    VrrpV2Ipv4,
    VrrpV3Ipv4,
    VrrpV3Ipv6,
    Garp,
    Na,
}

fn check_vrrp(frame_bytes: &[u8], frame: &Frame) -> Result<Coverage, String> {
    let Frame::Vrrp {
        version,
        vrid,
        priority,
        interval_centis,
        auth,
        addresses,
        ip_src,
        ip_dst,
        ttl,
        eth_src,
        eth_dst,
        ..
    } = frame
    else {
        unreachable!("called for vrrp frames only")
    };
    let envelope = parse_ethernet(frame_bytes).map_err(|e| format!("envelope: {e}"))?;
    for (wanted, actual, what) in [
        (eth_src, envelope.src_mac, "Ethernet source"),
        (eth_dst, envelope.dst_mac, "Ethernet destination"),
    ] {
        let Some(wanted) = wanted else { continue };
        if parse_mac(wanted)? != actual {
            return Err(format!("{what} is {actual:02x?}, manifest {wanted}"));
        }
    }
    let ip = envelope.ip;
    if (ip.src, ip.dst, ip.ttl) != (*ip_src, *ip_dst, *ttl) {
        return Err(format!(
            "IP header says {} -> {} ttl {}, manifest {ip_src} -> {ip_dst} ttl {ttl}",
            ip.src, ip.dst, ip.ttl
        ));
    }
    let version = match version {
        2 => Version::V2,
        3 => Version::V3,
        other => return Err(format!("manifest version {other}")),
    };
    let expected = AdvertRepr {
        version,
        vrid: *vrid,
        priority: *priority,
        max_advert_interval: Centis(*interval_centis),
        auth: auth.as_deref().map_or(Auth::None, Auth::simple),
        addresses: addresses
            .iter()
            .map(|a| parse_address(a))
            .collect::<Result<_, _>>()?,
    };
    let parsed = ip
        .advert()
        .map_err(|e| format!("advert: {e} ({})", e.reason()))?;
    if parsed != expected {
        return Err(format!("parsed {parsed:?}\n  manifest {expected:?}"));
    }
    // The VRRP message alone: the IP header (id, DSCP) is the kernel's, not ours.
    let emitted = parsed
        .to_bytes(ip.src, ip.dst)
        .map_err(|e| format!("emit: {e}"))?;
    if emitted != ip.payload {
        return Err(format!(
            "emitted {emitted:02x?}\n  captured {:02x?}",
            ip.payload
        ));
    }
    Ok(match (version, ip.src) {
        (Version::V2, _) => Coverage::VrrpV2Ipv4,
        (Version::V3, IpAddr::V4(_)) => Coverage::VrrpV3Ipv4,
        (Version::V3, IpAddr::V6(_)) => Coverage::VrrpV3Ipv6,
    })
}

/// Our frame must equal the captured one. A capture taken on the receiving
/// side of a link (or of a short frame like ARP, 42 bytes) may carry
/// trailing Ethernet padding up to the 60-byte minimum: that padding is
/// added by the sender's NIC or driver after the protocol stack, carries no
/// meaning and is not ours to emit, so only the prefix we produce is compared.
fn compare_frames(emitted: &[u8], captured: &[u8]) -> Result<(), String> {
    let padded = captured.len() > emitted.len() && captured.len() <= ETHERNET_MIN_FRAME;
    let meaningful = if padded {
        captured.get(..emitted.len()).unwrap_or(captured)
    } else {
        captured
    };
    if emitted != meaningful {
        return Err(format!(
            "emitted {emitted:02x?}\n  captured {captured:02x?}"
        ));
    }
    Ok(())
}

fn check_garp(frame_bytes: &[u8], frame: &Frame) -> Result<Coverage, String> {
    let Frame::Garp {
        sender_mac,
        ip,
        target_mac,
        ..
    } = frame
    else {
        unreachable!("called for garp frames only")
    };
    let expected = GarpRepr {
        sender_mac: parse_mac(sender_mac)?,
        ip: *ip,
    };
    let parsed = GarpRepr::parse_frame(frame_bytes).map_err(|e| format!("parse: {e}"))?;
    if parsed != expected {
        return Err(format!("parsed {parsed:?}\n  manifest {expected:?}"));
    }
    let captured_target: [u8; 6] = frame_bytes
        .get(ARP_TARGET_MAC)
        .and_then(|t| t.try_into().ok())
        .ok_or("frame too short for an ARP target MAC")?;
    if let Some(wanted) = target_mac {
        if parse_mac(wanted)? != captured_target {
            return Err(format!(
                "target MAC {captured_target:02x?}, manifest {wanted}"
            ));
        }
    }
    // The target hardware address is the one field where peers differ:
    // RFC 5227 says send zeroes (we do) and ignore it on receipt, while
    // keepalived sends ff:ff:ff:ff:ff:ff. Require one of those two, then
    // compare every other byte of the frame.
    if captured_target != [0; 6] && captured_target != [0xff; 6] {
        return Err(format!("unusual ARP target MAC {captured_target:02x?}"));
    }
    let mut emitted = parsed.to_frame();
    if let Some(ours) = emitted.get_mut(ARP_TARGET_MAC) {
        ours.copy_from_slice(&captured_target);
    }
    compare_frames(&emitted, frame_bytes)?;
    Ok(Coverage::Garp)
}

fn check_na(frame_bytes: &[u8], frame: &Frame) -> Result<Coverage, String> {
    let Frame::Na {
        src_mac,
        ip_src,
        target,
        override_flag,
        router,
        hop_limit,
        ..
    } = frame
    else {
        unreachable!("called for na frames only")
    };
    // Parsing enforces both, so a manifest saying otherwise is a wrong fixture.
    if !override_flag || *hop_limit != 255 {
        return Err(format!(
            "manifest override={override_flag} hop_limit={hop_limit}"
        ));
    }
    let expected = UnsolicitedNaRepr {
        src_mac: parse_mac(src_mac)?,
        src_ip: *ip_src,
        target: *target,
        router: *router,
    };
    let parsed = UnsolicitedNaRepr::parse_frame(frame_bytes).map_err(|e| format!("parse: {e}"))?;
    if parsed != expected {
        return Err(format!("parsed {parsed:?}\n  manifest {expected:?}"));
    }
    let captured_hop_limit = frame_bytes.get(NA_HOP_LIMIT_OFFSET).copied();
    let captured_override = frame_bytes.get(NA_FLAGS_OFFSET).map(|f| f & 0x20 != 0);
    if captured_hop_limit != Some(*hop_limit) || captured_override != Some(*override_flag) {
        return Err("hop limit or Override flag differ from the manifest".into());
    }
    compare_frames(&parsed.to_frame(), frame_bytes)?;
    Ok(Coverage::Na)
}

#[test]
fn captured_frames_match_our_codec() {
    let dir = fixtures_dir();
    let manifest_path = dir.join("captures.toml");
    let text = std::fs::read_to_string(&manifest_path)
        .unwrap_or_else(|e| panic!("fixture manifest {}: {e}", manifest_path.display()));
    let manifest: Manifest = toml::from_str(&text)
        .unwrap_or_else(|e| panic!("fixture manifest {}: {e}", manifest_path.display()));

    let mut checked: BTreeMap<Coverage, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    for frame in &manifest.frame {
        let label = format!("{} ({})", frame.file(), frame.source());
        let result = read_hex(&dir.join(frame.file())).and_then(|bytes| match frame {
            Frame::Vrrp { .. } => check_vrrp(&bytes, frame),
            Frame::Garp { .. } => check_garp(&bytes, frame),
            Frame::Na { .. } => check_na(&bytes, frame),
        });
        match result {
            Ok(kind) => checked.entry(kind).or_default().push(label),
            Err(why) => failures.push(format!("{label}: {why}")),
        }
    }
    assert!(
        failures.is_empty(),
        "fixture mismatches:\n{}",
        failures.join("\n")
    );

    for required in [
        Coverage::VrrpV2Ipv4,
        Coverage::VrrpV3Ipv4,
        Coverage::VrrpV3Ipv6,
        Coverage::Garp,
        Coverage::Na,
    ] {
        assert!(
            checked.contains_key(&required),
            "no {required:?} fixture was checked; checked: {checked:#?}"
        );
    }
}
