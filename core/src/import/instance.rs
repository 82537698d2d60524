//! `vrrp_instance NAME { ... }` to `[instances.NAME]`.
//!
//! Keywords are read first and settled afterwards, because some depend on
//! others written anywhere in the block: the version on the address family,
//! the advert interval and password on the version, a VIP's `dev` on the
//! instance's interface.

use core::time::Duration;
use std::net::IpAddr;

use ipnet::IpNet;

use super::keywords::{self, Context};
use super::model::{Origin, Track, VrrpInstance};
use super::parser::Node;
use super::report::{Location, Report};
use super::translate::{
    FILE, PROCESS, SCRIPT, Scope, garp_repeat, hook, track_interface, track_ref,
};
use super::values;
use crate::config::Hooks;

/// What the block says, before it is settled.
#[derive(Default)]
struct Draft<'n> {
    interface: Option<&'n str>,
    vrid: Option<u8>,
    priority: Option<u8>,
    version: Option<(u8, &'n Node)>,
    advert: Option<&'n Node>,
    nopreempt: Option<&'n Node>,
    state_master: bool,
    preempt_delay: Option<Duration>,
    vips: Vec<&'n Node>,
    src: Option<&'n Node>,
    peers: Vec<&'n Node>,
    auth_type: Option<&'n Node>,
    auth_pass: Option<&'n Node>,
    track_checks: Vec<Track>,
    track_interfaces: Vec<(Track, &'n Node)>,
    track_files: Vec<Track>,
    track_processes: Vec<Track>,
    garp_repeat: Option<u32>,
    garp_delay: Option<Duration>,
    garp_refresh: Option<Option<Duration>>,
    hooks: Hooks,
}

/// The instance, or why it cannot be carried over. The name is set by the
/// caller, which keeps names unique.
pub(super) fn translate(
    node: &Node,
    scope: &Scope<'_>,
    report: &mut Report,
) -> Result<VrrpInstance, String> {
    let mut d = Draft::default();
    for item in node.children() {
        read(&mut d, item, scope, report);
    }
    settle(d, node, scope, report)
}

/// `text` as a number from 1 to 255; otherwise reported, with what keepalived
/// does instead.
fn one_to_255(text: &str, item: &Node, instead: &str, report: &mut Report) -> Option<u8> {
    let n = values::integer(text).and_then(|n| u8::try_from(n).ok());
    if n.is_none_or(|n| n == 0) {
        report.warn(
            &item.at,
            item.text(),
            format!("must be between 1 and 255; {instead}"),
        );
        return None;
    }
    n
}

fn read<'n>(d: &mut Draft<'n>, item: &'n Node, scope: &Scope<'_>, report: &mut Report) {
    let arg = item.arg(0);
    match (item.keyword(), arg) {
        ("state", Some(state)) => {
            report.warn(
                &item.at,
                item.text(),
                "vipd elects by priority; the start state is ignored",
            );
            d.state_master = state == "MASTER";
        }
        ("interface", Some(name)) => d.interface = Some(name),
        // A bad value leaves what an earlier line set.
        ("virtual_router_id", Some(v)) => {
            let ignored = "keepalived ignores it, so does this import";
            d.vrid = one_to_255(v, item, ignored, report).or(d.vrid);
        }
        ("priority", Some(v)) => {
            let ignored = "keepalived uses 100 instead, and so will vipd";
            d.priority = one_to_255(v, item, ignored, report).or(d.priority);
        }
        ("version", Some(v)) => match v {
            "2" => d.version = Some((2, item)),
            "3" => d.version = Some((3, item)),
            _ => report.warn(
                &item.at,
                item.text(),
                "must be 2 or 3; keepalived ignores it, so does this import",
            ),
        },
        ("advert_int", Some(_)) => d.advert = Some(item),
        ("nopreempt", _) => d.nopreempt = Some(item),
        // keepalived's backwards-compatible spelling of the default.
        ("preempt", _) => d.nopreempt = None,
        ("preempt_delay", Some(v)) => match values::seconds(v) {
            Some(delay) if delay <= Duration::from_secs(1000) => d.preempt_delay = Some(delay),
            _ => report.warn(
                &item.at,
                item.text(),
                "must be 0 to 1000 seconds; keepalived uses 0 instead, and so will vipd",
            ),
        },
        ("virtual_ipaddress", _) => d.vips.extend(item.children()),
        ("unicast_src_ip" | "mcast_src_ip", Some(_)) => d.src = Some(item),
        ("unicast_peer", _) => d.peers.extend(item.children()),
        ("authentication", _) => {
            for field in item.children() {
                match field.keyword() {
                    "auth_type" => d.auth_type = Some(field),
                    "auth_pass" => d.auth_pass = Some(field),
                    _ => report.warn(
                        &field.at,
                        field.text(),
                        "not an authentication keyword; ignored",
                    ),
                }
            }
        }
        ("track_script", _) => {
            for entry in item.children() {
                if let Some(track) = track_ref(
                    entry,
                    &SCRIPT,
                    scope.scripts,
                    scope.script_lines,
                    scope.membership,
                    report,
                ) && !d.track_checks.iter().any(|t| t.name == track.name)
                {
                    d.track_checks.push(track);
                }
            }
        }
        ("track_interface", _) => {
            for entry in item.children() {
                if let Some(track) = track_interface(entry, report) {
                    d.track_interfaces.push((track, entry));
                }
            }
        }
        ("track_file" | "track_process", _) => {
            let (kind, known, list) = if item.keyword() == "track_file" {
                (&FILE, scope.files, &mut d.track_files)
            } else {
                (&PROCESS, scope.processes, &mut d.track_processes)
            };
            for entry in item.children() {
                if let Some(track) = track_ref(
                    entry,
                    kind,
                    &known.defined,
                    &known.lines,
                    scope.membership,
                    report,
                ) && !list.iter().any(|t| t.name == track.name)
                {
                    list.push(track);
                }
            }
        }
        ("notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify", _) => {
            hook(&mut d.hooks, item, report);
        }
        ("garp_master_delay", Some(v)) => match values::seconds(v) {
            Some(delay) => d.garp_delay = Some(delay),
            None => report.warn(&item.at, item.text(), "not a number of seconds; ignored"),
        },
        ("garp_master_repeat", Some(v)) => d.garp_repeat = Some(garp_repeat(v, item, report)),
        ("garp_master_refresh", Some(v)) => match values::seconds(v) {
            Some(d0) if d0.is_zero() => d.garp_refresh = Some(None),
            Some(every) => d.garp_refresh = Some(Some(every)),
            None => report.warn(&item.at, item.text(), "not a number of seconds; ignored"),
        },
        // Implied: vipd takes the family from the addresses, and accepts
        // traffic to them.
        ("native_ipv6" | "accept", _) => {}
        (kw, _) => report.warn(
            &item.at,
            item.text(),
            keywords::reason(Context::Instance, kw),
        ),
    }
}

fn settle(
    d: Draft<'_>,
    node: &Node,
    scope: &Scope<'_>,
    report: &mut Report,
) -> Result<VrrpInstance, String> {
    let interface = match d.interface {
        Some(name) if crate::config::rules::valid_interface_name(name) => name.to_owned(),
        Some(name) => return Err(format!("{name:?} is not a valid interface name")),
        None => return Err("no `interface`; vipd needs the interface to advertise on".to_owned()),
    };
    let Some(vrid) = d.vrid else {
        return Err("no valid `virtual_router_id`; keepalived does not run it either".to_owned());
    };
    let virtual_ips = virtual_ips(&d.vips, &interface, report);
    if virtual_ips.is_empty() {
        return Err(
            "no usable virtual_ipaddress; vipd needs at least one address per instance".to_owned(),
        );
    }
    let ipv6 = virtual_ips[0].addr().is_ipv6();
    let (version, version_from) = version(&d, ipv6, scope, report);
    let advert_interval = advert_interval(d.advert, version, report);
    let auth_pass = auth_pass(&d, version, report);
    let unicast_src_ip = d.src.and_then(|item| address(item, ipv6, report));
    let unicast_peers = peers(&d.peers, ipv6, unicast_src_ip, report);

    if let (Some(item), true) = (d.nopreempt, d.state_master) {
        report.warn(
            &item.at,
            item.text(),
            "keepalived ignores nopreempt at start-up with `state MASTER`; vipd never preempts with preempt = false",
        );
    }
    let mut track_interfaces: Vec<Track> = Vec::new();
    for (mut track, entry) in d.track_interfaces {
        if track.name == interface {
            report.warn(
                &entry.at,
                entry.text(),
                "the instance's own interface: keepalived ignores it here, and vipd always faults an instance whose interface goes down",
            );
            continue;
        }
        if track_interfaces.iter().any(|t| t.name == track.name) {
            continue;
        }
        if let Some(m) = scope.membership
            && !m.keeps_weights
            && track.weight.is_some_and(|w| w != 0)
        {
            report.warn(
                &entry.at,
                entry.text(),
                format!(
                    "keepalived sets tracked interface weights of sync group members to 0 (this instance is in `{}`, without sync_group_tracking_weight); carried over as weight 0",
                    m.group
                ),
            );
            track.weight = None;
        }
        track_interfaces.push(track);
    }

    Ok(VrrpInstance {
        name: String::new(),
        source: Origin {
            at: node.at.clone(),
            block: node.text(),
        },
        interface,
        vrid,
        priority: d.priority.unwrap_or(100),
        version,
        version_from,
        advert_interval,
        preempt: d.nopreempt.is_none(),
        preempt_delay: d.preempt_delay.filter(|delay| !delay.is_zero()),
        virtual_ips,
        unicast_src_ip,
        unicast_peers,
        auth_pass,
        track_checks: d.track_checks,
        track_interfaces,
        track_files: d.track_files,
        track_processes: d.track_processes,
        garp_repeat: d.garp_repeat.or(scope.defaults.garp_repeat),
        garp_delay: d.garp_delay.or(scope.defaults.garp_delay),
        garp_refresh: d.garp_refresh.unwrap_or(scope.defaults.garp_refresh),
        hooks: d.hooks,
    })
}

/// keepalived: the instance's `version`, else global `vrrp_version`, else
/// 2; IPv6 instances always run version 3.
fn version(
    d: &Draft<'_>,
    ipv6: bool,
    scope: &Scope<'_>,
    report: &mut Report,
) -> (u8, &'static str) {
    if ipv6 {
        if let Some((2, item)) = d.version {
            report.warn(
                &item.at,
                item.text(),
                "VRRPv2 is IPv4-only; keepalived runs IPv6 instances with version 3, and so will vipd",
            );
        }
        return (3, "IPv6: keepalived always uses VRRPv3");
    }
    match (d.version, scope.defaults.version) {
        (Some((v, _)), _) => (v, "from `version`"),
        (None, Some(v)) => (v, "from global_defs vrrp_version"),
        (None, None) => (2, "keepalived's default; vipd's default is 3"),
    }
}

/// keepalived reads fractional seconds; VRRPv2 carries whole seconds
/// (keepalived rounds) and VRRPv3 centiseconds up to 40.95s.
fn advert_interval(item: Option<&Node>, version: u8, report: &mut Report) -> Duration {
    let Some(item) = item else {
        return Duration::from_secs(1);
    };
    let Some(asked) = item
        .arg(0)
        .and_then(values::seconds)
        .filter(|d| !d.is_zero())
    else {
        report.warn(
            &item.at,
            item.text(),
            "must be a positive number of seconds; keepalived keeps its default of 1s, and so will vipd",
        );
        return Duration::from_secs(1);
    };
    let (got, why) = if version == 2 {
        let secs = asked.as_secs_f64().round().clamp(1.0, 255.0);
        (
            Duration::from_secs(secs as u64),
            "VRRPv2 advertises whole seconds from 1 to 255 (keepalived rounds too)",
        )
    } else {
        let centis = (asked.as_secs_f64() * 100.0).round().clamp(1.0, 4095.0);
        (
            Duration::from_millis(centis as u64 * 10),
            "VRRPv3 advertises 10ms steps from 10ms to 40.95s",
        )
    };
    if got != asked {
        report.warn(
            &item.at,
            item.text(),
            format!("{why}; using {}", values::duration_text(got)),
        );
    }
    got
}

/// The addresses, in order: parsed, one family (the first address's, as in
/// keepalived), no duplicates. Options vipd has no use for are reported.
fn virtual_ips(entries: &[&Node], interface: &str, report: &mut Report) -> Vec<IpNet> {
    let mut nets: Vec<IpNet> = Vec::new();
    for entry in entries {
        let text = entry.keyword();
        let Some(net) = values::network(text) else {
            report.warn(
                &entry.at,
                entry.text(),
                "not an address or ADDRESS/PREFIX; not carried over",
            );
            continue;
        };
        if let Some(why) = crate::config::rules::unusable_address(net.addr()) {
            report.warn(
                &entry.at,
                entry.text(),
                format!("vipd cannot announce a {why}; not carried over"),
            );
            continue;
        }
        if let Some(first) = nets.first()
            && first.addr().is_ipv6() != net.addr().is_ipv6()
        {
            report.warn(
                &entry.at,
                entry.text(),
                "its address family differs from the instance's first address; keepalived ignores it, so does this import",
            );
            continue;
        }
        if nets.iter().any(|n| n.addr() == net.addr()) {
            report.warn(&entry.at, entry.text(), "listed twice; carried over once");
            continue;
        }
        address_options(entry, interface, report);
        nets.push(net);
    }
    nets
}

/// Options after a virtual address (`dev`, `label`, `scope`, ...): vipd
/// adds the bare address and prefix to the instance's interface.
fn address_options(entry: &Node, interface: &str, report: &mut Report) {
    let address = entry.keyword();
    let mut words = entry.args().iter();
    while let Some(option) = words.next() {
        let takes_value = matches!(
            option.as_str(),
            "dev"
                | "brd"
                | "broadcast"
                | "scope"
                | "label"
                | "peer"
                | "preferred_lft"
                | "track_group"
        );
        let value = if takes_value {
            words.next().map(String::as_str)
        } else {
            None
        };
        let subject = match value {
            Some(v) => format!("{address} {option} {v}"),
            None => format!("{address} {option}"),
        };
        let why = match (option.as_str(), value) {
            ("dev", Some(dev)) if dev == interface => continue,
            ("dev", _) => format!(
                "vipd adds every address to the instance's interface, {interface}; the address is carried over there"
            ),
            ("label", _) => {
                "vipd does not label addresses; the address is carried over without it".to_owned()
            }
            ("scope", _) => {
                "vipd adds addresses with the default (global) scope; the address is carried over"
                    .to_owned()
            }
            ("use_vmac", _) => keywords::reason(Context::Instance, "use_vmac").to_owned(),
            _ => {
                "vipd adds only the address and prefix; this option is not carried over".to_owned()
            }
        };
        report.warn(&entry.at, subject, why);
    }
}

/// `authentication { auth_type PASS; auth_pass ... }` as keepalived uses it.
fn auth_pass(d: &Draft<'_>, version: u8, report: &mut Report) -> Option<String> {
    let kind = d.auth_type.and_then(|n| n.arg(0).map(|t| (n, t)));
    let pass = d.auth_pass.and_then(|n| n.arg(0).map(|p| (n, p)));
    match (kind, pass) {
        (None, None) => None,
        (Some((n, "AH")), _) => {
            report.warn(&n.at, n.text(), "IPsec AH authentication is not supported; the instance runs without authentication");
            None
        }
        (Some((n, t)), _) if t != "PASS" => {
            report.warn(
                &n.at,
                n.text(),
                "unknown authentication type; keepalived ignores it, so does this import",
            );
            None
        }
        (Some((n, _)), None) => {
            report.warn(
                &n.at,
                n.text(),
                "no auth_pass given; the instance runs without authentication",
            );
            None
        }
        (None, Some((n, _))) => {
            report.warn(
                &n.at,
                "auth_pass",
                "without `auth_type PASS` keepalived sends no password; not carried over",
            );
            None
        }
        (Some(_), Some((n, _))) if version == 3 => {
            report.warn(
                &n.at,
                "auth_pass",
                "VRRPv3 has no authentication; keepalived ignores it, and so does this import",
            );
            None
        }
        (Some(_), Some((n, p))) => {
            if p.is_empty() {
                report.warn(&n.at, "auth_pass", "empty password; not carried over");
                return None;
            }
            if p.len() <= 8 {
                return Some(p.to_owned());
            }
            // keepalived keeps the first 8 bytes; keep whole characters.
            let cut = (0..=8).rev().find(|&i| p.is_char_boundary(i)).unwrap_or(0);
            report.warn(
                &n.at,
                "auth_pass",
                "longer than 8 bytes; keepalived uses only the first 8, and so will vipd",
            );
            Some(p[..cut].to_owned()).filter(|s| !s.is_empty())
        }
    }
}

/// `unicast_src_ip` (or `mcast_src_ip`, the same setting in keepalived).
fn address(item: &Node, ipv6: bool, report: &mut Report) -> Option<IpAddr> {
    let addr = item.arg(0).and_then(|a| a.parse::<IpAddr>().ok());
    match addr {
        None => report.warn(&item.at, item.text(), "not an IP address; not carried over"),
        Some(a) if crate::config::rules::unusable_address(a).is_some() => {
            report.warn(&item.at, item.text(), "vipd cannot send from this address; not carried over");
        }
        Some(a) if a.is_ipv6() != ipv6 => report.warn(
            &item.at,
            item.text(),
            "its address family differs from the virtual addresses'; keepalived ignores it, so does this import",
        ),
        Some(a) => return Some(a),
    }
    None
}

fn peers(entries: &[&Node], ipv6: bool, src: Option<IpAddr>, report: &mut Report) -> Vec<IpAddr> {
    let mut peers = Vec::new();
    for entry in entries {
        let at: &Location = &entry.at;
        let Some(addr) = entry.keyword().parse::<IpAddr>().ok() else {
            report.warn(at, entry.text(), "not an IP address; not carried over");
            continue;
        };
        if crate::config::rules::unusable_address(addr).is_some() || addr.is_ipv6() != ipv6 {
            report.warn(
                at,
                entry.text(),
                "not a unicast address of the virtual addresses' family; keepalived ignores it, so does this import",
            );
            continue;
        }
        if Some(addr) == src {
            report.warn(
                at,
                entry.text(),
                "this node's own unicast_src_ip; not carried over",
            );
            continue;
        }
        if peers.contains(&addr) {
            continue;
        }
        if !entry.args().is_empty() {
            report.warn(
                at,
                entry.text(),
                "vipd has no per-peer TTL range: it requires TTL 255 on multicast adverts only and does not check the TTL of unicast ones; the peer is carried over without the range",
            );
        }
        peers.push(addr);
    }
    peers
}
