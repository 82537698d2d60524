//! Second pass: ranges, defaults and cross-references, raw structs to
//! [`Config`]. Every check reports and carries on, so one run lists every
//! problem in the file.

use core::ops::Range;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::de::{Read, closest, read_table};
use super::diag::{Collector, Diagnostics};
use super::raw::{
    Dur, RawArgv, RawCheck, RawEtcd, RawFollowPatroni, RawGlobal, RawInstance, RawLeadership,
    RawSyncGroup, RawTrack, RawTrackFile, RawTrackProcess,
};
use super::{
    Argv, COMM_MAX, Check, CheckUse, Config, DEFAULT_CONTROL_SOCKET, DEFAULT_HOOK_TIMEOUT,
    EtcdConfig, Family, FileUse, FollowerConfig, Global, Hooks, InstanceConfig, InterfaceUse,
    LeaseSettings, MAX_WEIGHT, OnEtcdLoss, ProcessUse, RestUrl, SyncGroupConfig, TrackFile,
    TrackProcess,
};
use crate::protocol::leadership::MIN_TTL;
use crate::wire::{Centis, Version};

const SECTIONS: [&str; 7] = [
    "global",
    "etcd",
    "checks",
    "track_files",
    "track_processes",
    "instances",
    "sync_groups",
];
/// Largest `quorum` and `quorum_max` of a tracked process.
const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);
const DEFAULT_GARP_REPEAT: u32 = 5;
const DEFAULT_GARP_DELAY: Duration = Duration::from_secs(5);
/// A leadership lease's time to live when `ttl` is not set.
const DEFAULT_TTL: Duration = Duration::from_secs(5);
/// The longest leadership lease accepted: a lost node would hold the lock that long.
const MAX_TTL: Duration = Duration::from_secs(300);

pub(super) fn parse(text: &str, origin: &str) -> Result<Config, Diagnostics> {
    let mut c = Collector::new(text, origin);
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        report_syntax(&mut c, text, errors);
        return Err(c.finish());
    }
    let mut file = File::default();
    read_sections(&mut c, root.get_ref(), &mut file);
    let config = Validator { c: &mut c }.config(file);
    match config {
        Some(config) if !c.has_errors() => Ok(config),
        _ => Err(c.finish()),
    }
}

/// A syntax error usually sets off a few more on the same line as the parser
/// recovers; keep the first of each line. Later lines still get theirs.
fn report_syntax(c: &mut Collector<'_>, text: &str, mut errors: Vec<toml::de::Error>) {
    errors.sort_by_key(|e| e.span().map_or(0, |s| s.start));
    let keepalived = looks_like_keepalived(text);
    let mut lines = BTreeSet::new();
    for e in errors {
        let span = e.span().unwrap_or(0..0);
        let line = text[..span.start.min(text.len())].matches('\n').count();
        if !lines.insert(line) {
            continue;
        }
        let found = text.get(span.clone()).unwrap_or("").trim();
        let mut message = format!("TOML syntax error: {}", e.message());
        if e.message() == "duplicate key" && !found.is_empty() {
            message = format!("TOML syntax error: duplicate key `{found}`");
        } else if e.message().starts_with("string values must be quoted")
            && found.starts_with(|c: char| c.is_ascii_alphabetic())
            && !found.contains(char::is_whitespace)
        {
            message.push_str(&format!("; write \"{found}\""));
        }
        if keepalived {
            // Everything after the first error is noise in that case.
            message.push_str(" (this looks like keepalived.conf syntax; vipd reads TOML)");
            c.error(span, message);
            return;
        }
        c.error(span, message);
    }
}

/// keepalived.conf blocks such as `vrrp_instance VI_1 {`.
fn looks_like_keepalived(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim();
        line.ends_with('{')
            && [
                "global_defs",
                "vrrp_instance",
                "vrrp_script",
                "vrrp_sync_group",
                "vrrp_track_file",
                "track_file",
                "vrrp_track_process",
            ]
            .iter()
            .any(|block| line.starts_with(block))
    })
}

/// One `[section.NAME]` table as read by the first pass.
struct Entry<T> {
    /// "check", "tracked file", "instance" ..., for messages.
    kind: &'static str,
    name: String,
    /// The `NAME` in the header: where "missing key" errors point.
    name_span: Range<usize>,
    /// Each key's own span, for errors about a key rather than its value.
    keys: BTreeMap<String, Range<usize>>,
    read: Read<T>,
}

#[derive(Default)]
struct File {
    global: Option<Entry<RawGlobal>>,
    etcd: Option<Entry<RawEtcd>>,
    checks: Vec<Entry<RawCheck>>,
    track_files: Vec<Entry<RawTrackFile>>,
    track_processes: Vec<Entry<RawTrackProcess>>,
    instances: Vec<Entry<RawInstance>>,
    sync_groups: Vec<Entry<RawSyncGroup>>,
    /// Names defined, even if their table had errors: a reference to them is
    /// not "unknown".
    check_names: BTreeSet<String>,
    file_names: BTreeSet<String>,
    process_names: BTreeSet<String>,
    instance_names: BTreeSet<String>,
}

fn read_sections(c: &mut Collector<'_>, root: &DeTable<'_>, file: &mut File) {
    for (key, value) in root {
        match key.get_ref().as_ref() {
            "global" => file.global = read_entry(c, "[global]", key, value, "global"),
            "etcd" => file.etcd = read_entry(c, "[etcd]", key, value, "etcd"),
            "checks" => file.check_names = read_named(c, key, value, &mut file.checks),
            "track_files" => file.file_names = read_named(c, key, value, &mut file.track_files),
            "track_processes" => {
                file.process_names = read_named(c, key, value, &mut file.track_processes);
            }
            "instances" => file.instance_names = read_named(c, key, value, &mut file.instances),
            "sync_groups" => {
                read_named(c, key, value, &mut file.sync_groups);
            }
            other => {
                let hint = match other {
                    "global_defs" => "; keepalived's `global_defs` is [global] here".to_owned(),
                    "vrrp_instance" => {
                        "; keepalived's `vrrp_instance` is [instances.NAME] here".to_owned()
                    }
                    "vrrp_script" => {
                        "; keepalived's `vrrp_script` is [checks.NAME] here".to_owned()
                    }
                    "vrrp_sync_group" => {
                        "; keepalived's `vrrp_sync_group` is [sync_groups.NAME] here".to_owned()
                    }
                    "vrrp_track_file" | "track_file" => {
                        format!("; keepalived's `{other}` is [track_files.NAME] here")
                    }
                    "vrrp_track_process" | "track_process" => {
                        format!("; keepalived's `{other}` is [track_processes.NAME] here")
                    }
                    _ => match closest(other, &SECTIONS) {
                        Some(near) => format!("; did you mean `{near}`?"),
                        None => format!("; expected one of: {}", SECTIONS.join(", ")),
                    },
                };
                c.error(key.span(), format!("unknown section `{other}`{hint}"));
            }
        }
    }
}

/// Reads the `[section.NAME]` tables of one section into `entries`. Returns
/// every name defined, even those whose table is broken, so that a
/// reference to them is not also reported as unknown.
fn read_named<'de, T: Deserialize<'de>>(
    c: &mut Collector<'_>,
    key: &Spanned<std::borrow::Cow<'de, str>>,
    value: &Spanned<DeValue<'de>>,
    entries: &mut Vec<Entry<T>>,
) -> BTreeSet<String> {
    let section = key.get_ref().as_ref();
    let mut names = BTreeSet::new();
    let Some(tables) = as_table(c, key, value, section) else {
        return names;
    };
    let kind = match section {
        "checks" => "check",
        "track_files" => "tracked file",
        "track_processes" => "tracked process",
        "instances" => "instance",
        _ => "sync group",
    };
    for (name, value) in tables {
        names.insert(name.get_ref().to_string());
        let title = format!("[{section}.{}]", name.get_ref());
        entries.extend(read_entry(c, &title, name, value, kind));
    }
    names
}

fn as_table<'a, 'de>(
    c: &mut Collector<'_>,
    key: &Spanned<std::borrow::Cow<'de, str>>,
    value: &'a Spanned<DeValue<'de>>,
    section: &str,
) -> Option<&'a DeTable<'de>> {
    match value.get_ref() {
        DeValue::Table(t) => Some(t),
        other => {
            c.error(
                value.span(),
                format!(
                    "`{}` must be a table of named tables like [{section}.NAME], found {}",
                    key.get_ref(),
                    other.type_str()
                ),
            );
            None
        }
    }
}

fn read_entry<'de, T: Deserialize<'de>>(
    c: &mut Collector<'_>,
    title: &str,
    name: &Spanned<std::borrow::Cow<'de, str>>,
    value: &Spanned<DeValue<'de>>,
    kind: &'static str,
) -> Option<Entry<T>> {
    let what = match kind {
        "global" | "etcd" => "a table".to_owned(),
        _ => format!("a table like {title}"),
    };
    let DeValue::Table(table) = value.get_ref() else {
        c.error(
            value.span(),
            format!(
                "{title} must be {what}, found {}",
                value.get_ref().type_str()
            ),
        );
        return None;
    };
    let keys = table
        .keys()
        .map(|k| (k.get_ref().to_string(), k.span()))
        .collect();
    let read = read_table(c, title, value.span(), table)?;
    Some(Entry {
        kind,
        name: name.get_ref().to_string(),
        name_span: name.span(),
        keys,
        read,
    })
}

/// What cross-instance checks need to know about an instance, even one with
/// errors elsewhere.
struct Facts {
    name: String,
    interface: Option<String>,
    family: Option<Family>,
    vrid: Option<(u8, Range<usize>)>,
    vips: Vec<(IpAddr, Range<usize>)>,
}

/// The keys without a default, with what they hold, for the error that
/// says one is missing.
const REQUIRED: [(&str, &str); 7] = [
    ("command", "the program to run and its arguments"),
    ("interface", "the network interface, like \"eth0\""),
    (
        "vrid",
        "the virtual router id 1..=255, the same on every node of this router",
    ),
    (
        "virtual_ips",
        "the addresses this instance carries, like [\"192.0.2.50/24\"]",
    ),
    (
        "path",
        "the file holding the value, like \"/etc/vipd/maintenance\"",
    ),
    ("process", "the process name to look for, like \"postgres\""),
    ("instances", "the names of the member instances"),
];

/// The address count of an advert is one byte.
const MAX_VIPS: usize = 255;

/// An instance's `virtual_ips` as checked.
#[derive(Default)]
struct Vips {
    /// The family of the first good address.
    family: Option<Family>,
    /// All addresses, if all are good.
    nets: Option<Vec<IpNet>>,
    /// The good addresses with their spans, for cross-instance checks.
    spans: Vec<(IpAddr, Range<usize>)>,
}

/// An instance's `track_*` keys as checked.
struct Tracking {
    checks: Vec<CheckUse>,
    interfaces: Vec<InterfaceUse>,
    files: Vec<FileUse>,
    processes: Vec<ProcessUse>,
}

/// An instance's gratuitous ARP / unsolicited NA settings.
struct Garp {
    repeat: u32,
    delay: Duration,
    refresh: Option<Duration>,
}

/// The `notify_*` keys of a raw instance or sync group, in [`Hooks`]
/// order. The two raw structs repeat these keys (see raw.rs), so only a
/// macro can name them once.
macro_rules! notify_keys {
    ($raw:expr) => {
        [
            &$raw.notify_master,
            &$raw.notify_backup,
            &$raw.notify_fault,
            &$raw.notify_stop,
            &$raw.notify,
        ]
    };
}

struct Validator<'a, 's> {
    c: &'a mut Collector<'s>,
}

impl Validator<'_, '_> {
    fn config(&mut self, file: File) -> Option<Config> {
        let global = match &file.global {
            Some(entry) => self.global(&entry.read.value),
            None => self.global(&RawGlobal::default()),
        };
        let etcd = file.etcd.as_ref().map(|entry| self.etcd(entry));
        let checks = self.each(&file.checks, Self::check);
        let track_files = self.each(&file.track_files, Self::track_file);
        let track_processes = self.each(&file.track_processes, Self::track_process);

        let defined = Defined {
            checks: Known::new(&file.check_names, &checks, |c| c.weight),
            files: Known::new(&file.file_names, &track_files, |f| f.weight),
            processes: Known::new(&file.process_names, &track_processes, |p| p.weight),
        };
        let mut facts = Vec::new();
        let (following, vrrp): (Vec<&Entry<RawInstance>>, Vec<&Entry<RawInstance>>) = file
            .instances
            .iter()
            .partition(|e| e.read.value.follow_patroni.is_some());
        let mut instances = BTreeMap::new();
        for entry in vrrp {
            self.name(&entry.name, &entry.name_span, entry.kind);
            let (instance, f) = self.instance(entry, &global, &defined);
            facts.push(f);
            if let Some(instance) = instance {
                instances.insert(entry.name.clone(), instance);
            }
        }
        let mut followers = BTreeMap::new();
        for entry in &following {
            self.name(&entry.name, &entry.name_span, entry.kind);
            let (follower, f) = self.follower(entry, &global);
            facts.push(f);
            if let Some(follower) = follower {
                followers.insert(entry.name.clone(), follower);
            }
        }
        if let (Some(first), None) = (following.first(), &file.etcd)
            && let Some(raw) = &first.read.value.follow_patroni
        {
            self.c.error(
                raw.span(),
                format!(
                    "instance {}: `follow_patroni` needs an [etcd] section with the cluster's `endpoints`",
                    first.name
                ),
            );
        }
        self.across_instances(&facts);
        self.leadership_needs_etcd(&file.instances, &file.sync_groups, file.etcd.is_some());

        let mut member_of: BTreeMap<String, String> = BTreeMap::new();
        let sync_groups = self.each(&file.sync_groups, |v, entry| {
            v.sync_group(entry, &file.instance_names, &mut member_of)
        });
        for (instance, group) in member_of {
            if let Some(i) = instances.get_mut(&instance) {
                i.sync_group = Some(group);
            }
        }
        self.owners_in_groups(&file.sync_groups, &instances);
        for entry in &file.sync_groups {
            let Some(list) = &entry.read.value.instances else {
                continue;
            };
            for member in list.get_ref() {
                if followers.contains_key(member.get_ref()) {
                    self.c.error(
                        member.span(),
                        format!(
                            "sync group `{}`: {} follows Patroni; only VRRP instances can be in a sync group",
                            entry.name,
                            member.get_ref()
                        ),
                    );
                }
            }
        }

        Some(Config {
            global: global?,
            checks,
            instances,
            sync_groups,
            track_files,
            track_processes,
            etcd: match etcd {
                Some(etcd) => Some(etcd?),
                None => None,
            },
            followers,
        })
    }

    /// An instance with `follow_patroni`: its addresses, Patroni's names,
    /// announcements and hooks; none of VRRP's keys.
    fn follower(
        &mut self,
        entry: &Entry<RawInstance>,
        global: &Option<Global>,
    ) -> (Option<FollowerConfig>, Facts) {
        let raw = &entry.read.value;
        let vrrp_keys: [(&str, bool); 15] = [
            ("vrid", raw.vrid.is_some()),
            ("priority", raw.priority.is_some()),
            ("version", raw.version.is_some()),
            ("advert_interval", raw.advert_interval.is_some()),
            ("preempt", raw.preempt.is_some()),
            ("fast_takeover", raw.fast_takeover.is_some()),
            ("preempt_delay", raw.preempt_delay.is_some()),
            ("unicast_src_ip", raw.unicast_src_ip.is_some()),
            ("unicast_peers", raw.unicast_peers.is_some()),
            ("auth_pass", raw.auth_pass.is_some()),
            ("track_checks", raw.track_checks.is_some()),
            ("track_interfaces", raw.track_interfaces.is_some()),
            ("track_files", raw.track_files.is_some()),
            ("track_processes", raw.track_processes.is_some()),
            ("leadership", raw.leadership.is_some()),
        ];
        for (key, present) in vrrp_keys {
            if let (true, Some(span)) = (present, entry.keys.get(key)) {
                self.c.error(
                    span.clone(),
                    format!(
                        "instance {}: `{key}` has no meaning with `follow_patroni`: Patroni elects the leader, not VRRP",
                        entry.name
                    ),
                );
            }
        }
        let interface = self.required(entry, "interface", &raw.interface, |v, i| {
            v.interface_name(i.get_ref(), &i.span(), "interface")
        });
        let Vips {
            family,
            nets: virtual_ips,
            spans: vip_facts,
        } = self.virtual_ips(entry, Some(Version::V3));
        let garp = self.garp(entry);
        let default_timeout = global
            .as_ref()
            .map_or(DEFAULT_HOOK_TIMEOUT, |g| g.hook_timeout);
        let hook_timeout = self.positive(&raw.hook_timeout, "hook_timeout", default_timeout);
        let hooks = self.hooks(notify_keys!(raw));
        let follow = raw
            .follow_patroni
            .as_ref()
            .and_then(|f| self.follow_patroni(f));
        let facts = Facts {
            name: entry.name.clone(),
            interface: interface.clone(),
            family,
            vrid: None,
            vips: vip_facts,
        };
        let follower = (|| {
            let (leader_key, member, rest_url) = follow?;
            let garp = garp?;
            Some(FollowerConfig {
                name: entry.name.clone(),
                interface: interface?,
                family: family?,
                virtual_ips: virtual_ips?,
                leader_key,
                member,
                rest_url,
                garp_repeat: garp.repeat,
                garp_delay: garp.delay,
                garp_refresh: garp.refresh,
                hooks: hooks?,
                hook_timeout: hook_timeout?,
            })
        })();
        (follower, facts)
    }

    /// `follow_patroni = { leader_key = "/service/pg/leader", member = "pg-a", rest_url = "http://..." }`.
    fn follow_patroni(
        &mut self,
        raw: &Spanned<RawFollowPatroni>,
    ) -> Option<(String, String, Option<RestUrl>)> {
        let table = raw.get_ref();
        let leader_key = self.etcd_key(
            table.leader_key.as_ref(),
            raw.span(),
            ("follow_patroni", "leader_key"),
            "Patroni's leader key, like \"/service/pg/leader\" (/<namespace>/<scope>/leader)",
        );
        let member = match &table.member {
            Some(m) => self.non_empty(m, "follow_patroni.member"),
            None => {
                self.c.error(
                    raw.span(),
                    "`follow_patroni` needs `member`: this node's Patroni member name (its `name` in patroni.yml)",
                );
                None
            }
        };
        let rest_url = match &table.rest_url {
            None => Some(None),
            Some(u) => {
                let text = u.get_ref().trim_end_matches('/');
                let good = text.strip_prefix("http://").filter(|authority| {
                    !authority.contains('/')
                        && authority.rsplit_once(':').is_some_and(|(host, port)| {
                            !host.is_empty() && port.parse::<u16>().is_ok()
                        })
                });
                match good {
                    Some(authority) => Some(Some(RestUrl {
                        authority: authority.to_owned(),
                        url: text.to_owned(),
                    })),
                    None => {
                        self.c.error(
                            u.span(),
                            format!(
                                "`follow_patroni.rest_url` must be Patroni's REST API as \"http://HOST:PORT\", found {:?}",
                                u.get_ref()
                            ),
                        );
                        None
                    }
                }
            }
        };
        Some((leader_key?, member?, rest_url?))
    }

    fn etcd(&mut self, entry: &Entry<RawEtcd>) -> Option<EtcdConfig> {
        let raw = &entry.read.value;
        let endpoints = self.required(entry, "endpoints", &raw.endpoints, |v, list| {
            if list.get_ref().is_empty() {
                v.c.error(
                    list.span(),
                    "`endpoints` must list at least one etcd client URL, like \"http://192.0.2.11:2379\"",
                );
                return None;
            }
            let mut good = Vec::new();
            for url in list.get_ref() {
                let text = url.get_ref().trim();
                match super::is_etcd_client_url(text) {
                    true => good.push(text.to_owned()),
                    false => v.c.error(
                        url.span(),
                        format!(
                            "`endpoints`: {text:?} is not an etcd client URL; write \"http://HOST:PORT\" or \"https://HOST:PORT\""
                        ),
                    ),
                }
            }
            (good.len() == list.get_ref().len()).then_some(good)
        });
        let dial_timeout = self.positive(&raw.dial_timeout, "dial_timeout", Duration::from_secs(1));
        let request_timeout = self.positive(
            &raw.request_timeout,
            "request_timeout",
            Duration::from_secs(1),
        );
        let credentials = match (&raw.username, &raw.password) {
            (Some(u), Some(p)) => Some(Some((u.get_ref().clone(), p.get_ref().clone()))),
            (None, None) => Some(None),
            (Some(one), None) | (None, Some(one)) => {
                self.c.error(
                    one.span(),
                    "`username` and `password` go together: set both or neither",
                );
                None
            }
        };
        let ca_file = raw
            .ca_file
            .as_ref()
            .map(|p| self.absolute_path(p, "ca_file"));
        let client_cert = match (&raw.cert_file, &raw.key_file) {
            (Some(c), Some(k)) => {
                let cert = self.absolute_path(c, "cert_file");
                let key = self.absolute_path(k, "key_file");
                Some(cert.zip(key))
            }
            (None, None) => Some(None),
            (Some(one), None) | (None, Some(one)) => {
                self.c.error(
                    one.span(),
                    "`cert_file` and `key_file` go together: set both or neither",
                );
                None
            }
        };
        Some(EtcdConfig {
            endpoints: endpoints?,
            dial_timeout: dial_timeout?,
            request_timeout: request_timeout?,
            credentials: credentials?,
            ca_file: match ca_file {
                Some(path) => Some(path?),
                None => None,
            },
            client_cert: client_cert?,
        })
    }

    /// `leadership = { key = "/vipd/...", ttl = "5s", on_etcd_loss = "step_down" }`.
    fn leadership(&mut self, raw: &Spanned<RawLeadership>) -> Option<LeaseSettings> {
        let table = raw.get_ref();
        let key = self.etcd_key(
            table.key.as_ref(),
            raw.span(),
            ("leadership", "key"),
            "an etcd key starting with '/', like \"/vipd/pair/db\"",
        );
        let ttl = match &table.ttl {
            Some(t) => {
                let ttl = t.get_ref().0;
                let whole = ttl.subsec_nanos() == 0;
                if ttl < MIN_TTL || ttl > MAX_TTL || !whole {
                    self.c.error(
                        t.span(),
                        format!(
                            "`leadership.ttl` must be a whole number of seconds from {} to {} (etcd leases count in seconds, and the kernel fence needs at least {} s), found {}",
                            MIN_TTL.as_secs(),
                            MAX_TTL.as_secs(),
                            MIN_TTL.as_secs(),
                            humantime::format_duration(ttl)
                        ),
                    );
                    None
                } else {
                    Some(ttl)
                }
            }
            None => Some(DEFAULT_TTL),
        };
        let on_etcd_loss = match &table.on_etcd_loss {
            None => Some(OnEtcdLoss::StepDown),
            Some(p) => match p.get_ref().as_str() {
                "step_down" => Some(OnEtcdLoss::StepDown),
                "keep" => Some(OnEtcdLoss::Keep),
                other => {
                    self.c.error(
                        p.span(),
                        format!(
                            "`leadership.on_etcd_loss` must be \"step_down\" (a master steps down when its lease cannot be renewed) or \"keep\" (a master keeps its addresses while etcd is unreachable), found {other:?}"
                        ),
                    );
                    None
                }
            },
        };
        Some(LeaseSettings {
            key: key?,
            ttl: ttl?,
            on_etcd_loss: on_etcd_loss?,
        })
    }

    /// Key `field` of inline table `table` (at `span`): an etcd key, which
    /// starts with '/'; `what` says what it holds, for the messages.
    fn etcd_key(
        &mut self,
        key: Option<&Spanned<String>>,
        span: Range<usize>,
        (table, field): (&str, &str),
        what: &str,
    ) -> Option<String> {
        match key {
            Some(k) if k.get_ref().starts_with('/') && k.get_ref().len() > 1 => {
                Some(k.get_ref().clone())
            }
            Some(k) => {
                self.c.error(
                    k.span(),
                    format!("`{table}.{field}` must be {what}, found {:?}", k.get_ref()),
                );
                None
            }
            None => {
                self.c
                    .error(span, format!("`{table}` needs `{field}`: {what}"));
                None
            }
        }
    }

    /// A lock needs the node's etcd client, and no two instances or sync
    /// groups can share one.
    fn leadership_needs_etcd(
        &mut self,
        instances: &[Entry<RawInstance>],
        groups: &[Entry<RawSyncGroup>],
        have_etcd: bool,
    ) {
        let instance_locks = instances.iter().filter_map(|entry| {
            let lock = entry.read.value.leadership.as_ref()?;
            Some((format!("instance {}", entry.name), lock))
        });
        let group_locks = groups.iter().filter_map(|entry| {
            let lock = entry.read.value.leadership.as_ref()?;
            Some((format!("sync group `{}`", entry.name), lock))
        });
        let mut seen: BTreeMap<&str, String> = BTreeMap::new();
        for (owner, raw) in instance_locks.chain(group_locks) {
            if !have_etcd {
                self.c.error(
                    raw.span(),
                    format!(
                        "{owner}: `leadership` needs an [etcd] section with the cluster's `endpoints`"
                    ),
                );
            }
            if let Some(key) = &raw.get_ref().key {
                if let Some(other) = seen.insert(key.get_ref(), owner.clone()) {
                    self.c.error(
                        key.span(),
                        format!(
                            "{owner}: leadership key {:?} is already {other}'s; each instance or sync group needs a key of its own",
                            key.get_ref()
                        ),
                    );
                }
            }
        }
    }

    /// Validates each table of a section, keyed by name; a broken table is
    /// reported and left out.
    fn each<T, U>(
        &mut self,
        entries: &[Entry<T>],
        mut validate: impl FnMut(&mut Self, &Entry<T>) -> Option<U>,
    ) -> BTreeMap<String, U> {
        let mut good = BTreeMap::new();
        for entry in entries {
            self.name(&entry.name, &entry.name_span, entry.kind);
            if let Some(value) = validate(self, entry) {
                good.insert(entry.name.clone(), value);
            }
        }
        good
    }

    fn global(&mut self, raw: &RawGlobal) -> Option<Global> {
        let node_name = raw
            .node_name
            .as_ref()
            .and_then(|n| self.non_empty(n, "node_name"));
        let control_socket = match &raw.control_socket {
            Some(p) => self.absolute_path(p, "control_socket"),
            None => Some(PathBuf::from(DEFAULT_CONTROL_SOCKET)),
        };
        let metrics_listen = match &raw.metrics_listen {
            Some(a) => match a.get_ref().parse::<SocketAddr>() {
                Ok(addr) => Some(Some(addr)),
                Err(_) => {
                    self.c.error(
                        a.span(),
                        format!(
                            "`metrics_listen` must be an address and port like \"127.0.0.1:9701\" or \"[::1]:9701\", found {:?}",
                            a.get_ref()
                        ),
                    );
                    None
                }
            },
            None => Some(None),
        };
        let control_group = raw
            .control_group
            .as_ref()
            .and_then(|g| self.non_empty(g, "control_group"));
        let script_user = raw
            .script_user
            .as_ref()
            .and_then(|u| self.non_empty(u, "script_user"));
        let hook_timeout = self.positive(&raw.hook_timeout, "hook_timeout", DEFAULT_HOOK_TIMEOUT);
        Some(Global {
            node_name,
            control_socket: control_socket?,
            control_group,
            metrics_listen: metrics_listen?,
            script_user,
            script_security: raw.script_security.unwrap_or(true),
            hook_timeout: hook_timeout?,
        })
    }

    fn check(&mut self, entry: &Entry<RawCheck>) -> Option<Check> {
        let raw = &entry.read.value;
        let command = self.required(entry, "command", &raw.command, |v, argv| {
            v.argv(argv, "command", false).flatten()
        });
        let interval = self.positive(&raw.interval, "interval", Duration::from_secs(1));
        // An unset timeout follows the interval: a check never outlives its period.
        let timeout = match &raw.timeout {
            Some(_) => self.positive(&raw.timeout, "timeout", Duration::ZERO),
            None => interval,
        };
        let rise = self.count(&raw.rise, "rise");
        let fall = self.count(&raw.fall, "fall");
        let weight = self.weight(raw.weight.as_ref(), "weight");
        Some(Check {
            name: entry.name.clone(),
            command: command?,
            interval: interval?,
            timeout: timeout?,
            rise: rise?,
            fall: fall?,
            weight: weight?,
        })
    }

    /// A key without a default: `check` its value, or report it missing
    /// unless the first pass dropped it for an error already reported.
    fn required<T, V, R>(
        &mut self,
        entry: &Entry<T>,
        key: &str,
        value: &Option<V>,
        check: impl FnOnce(&mut Self, &V) -> Option<R>,
    ) -> Option<R> {
        match value {
            Some(value) => check(self, value),
            None => {
                if !entry.read.dropped.contains(key) {
                    self.missing(entry, key);
                }
                None
            }
        }
    }

    /// A key with a default: `check` its value, or take `default` unless
    /// the first pass dropped it for an error already reported.
    fn optional<T, V, R>(
        &mut self,
        entry: &Entry<T>,
        key: &str,
        value: &Option<V>,
        default: R,
        check: impl FnOnce(&mut Self, &V) -> Option<R>,
    ) -> Option<R> {
        match value {
            Some(value) => check(self, value),
            None if entry.read.dropped.contains(key) => None,
            None => Some(default),
        }
    }

    /// Each part reports its own errors, so one run lists all of them; the
    /// instance is built only if every part is good.
    fn instance(
        &mut self,
        entry: &Entry<RawInstance>,
        global: &Option<Global>,
        defined: &Defined<'_>,
    ) -> (Option<InstanceConfig>, Facts) {
        let raw = &entry.read.value;
        let interface = self.required(entry, "interface", &raw.interface, |v, i| {
            v.interface_name(i.get_ref(), &i.span(), "interface")
        });
        let vrid = self.required(entry, "vrid", &raw.vrid, |v, n| {
            v.int(n, "vrid", 1, 255, "").map(|id| (id as u8, n.span()))
        });
        let priority = self.optional(entry, "priority", &raw.priority, 100, |v, p| {
            v.int(p, "priority", 1, 255, " (255 = address owner)")
                .map(|n| n as u8)
        });
        let version = self.optional(entry, "version", &raw.version, Version::V3, Self::version);
        let advert_interval =
            version.and_then(|version| self.advert_interval(raw.advert_interval.as_ref(), version));
        let preempt_delay = self.preempt_delay(raw.preempt_delay.as_ref());
        let Vips {
            family,
            nets: virtual_ips,
            spans: vip_facts,
        } = self.virtual_ips(entry, version);
        let (unicast_src_ip, unicast_peers) = self.unicast(raw, family);
        let auth_pass = self.auth_pass(entry, version);
        let tracking = self.tracking(raw, defined);
        let garp = self.garp(entry);
        let default_timeout = global
            .as_ref()
            .map_or(DEFAULT_HOOK_TIMEOUT, |g| g.hook_timeout);
        let hook_timeout = self.positive(&raw.hook_timeout, "hook_timeout", default_timeout);
        let hooks = self.hooks(notify_keys!(raw));
        let leadership = match &raw.leadership {
            Some(l) => self.leadership(l).map(Some),
            None => Some(None),
        };

        let facts = Facts {
            name: entry.name.clone(),
            interface: interface.clone(),
            family,
            vrid: vrid.clone(),
            vips: vip_facts,
        };
        let instance = (|| {
            let tracking = tracking?;
            let garp = garp?;
            Some(InstanceConfig {
                name: entry.name.clone(),
                interface: interface?,
                vrid: vrid?.0,
                priority: priority?,
                version: version?,
                advert_interval: advert_interval?,
                preempt: raw.preempt.unwrap_or(true),
                fast_takeover: raw.fast_takeover.unwrap_or(false),
                preempt_delay: preempt_delay?,
                family: family?,
                virtual_ips: virtual_ips?,
                unicast_src_ip,
                unicast_peers: unicast_peers?,
                auth_pass: auth_pass?,
                track_checks: tracking.checks,
                track_interfaces: tracking.interfaces,
                track_files: tracking.files,
                track_processes: tracking.processes,
                garp_repeat: garp.repeat,
                garp_delay: garp.delay,
                garp_refresh: garp.refresh,
                hooks: hooks?,
                hook_timeout: hook_timeout?,
                sync_group: None,
                leadership: leadership?,
            })
        })();
        (instance, facts)
    }

    fn version(&mut self, v: &Spanned<i64>) -> Option<Version> {
        match v.get_ref() {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            n => {
                self.c
                    .error(v.span(), format!("`version` must be 2 or 3, found {n}"));
                None
            }
        }
    }

    fn preempt_delay(&mut self, raw: Option<&Spanned<Dur>>) -> Option<Duration> {
        let Some(raw) = raw else {
            return Some(Duration::ZERO);
        };
        let d = raw.get_ref().0;
        if d > MAX_PREEMPT_DELAY {
            self.c.error(
                raw.span(),
                format!(
                    "`preempt_delay` must be at most 1000s, found {}",
                    humantime::format_duration(d)
                ),
            );
            return None;
        }
        Some(d)
    }

    /// `unicast_src_ip` and `unicast_peers`, of the virtual IPs' family. A
    /// bad source address is reported and left out; the peers are all good
    /// or `None`.
    fn unicast(
        &mut self,
        raw: &RawInstance,
        family: Option<Family>,
    ) -> (Option<IpAddr>, Option<Vec<IpAddr>>) {
        let src = raw.unicast_src_ip.as_ref().and_then(|s| {
            let addr = self.address(s, "unicast_src_ip")?;
            self.same_family(addr, family, &s.span(), "unicast_src_ip")
                .then_some(addr)
        });
        let peers = self.peers(raw.unicast_peers.as_deref(), family, src);
        (src, peers)
    }

    fn tracking(&mut self, raw: &RawInstance, defined: &Defined<'_>) -> Option<Tracking> {
        let checks = self.track_named(
            raw.track_checks.as_deref(),
            &CHECK_REFS,
            &defined.checks,
            |name, weight| CheckUse { name, weight },
        );
        let interfaces = self.track_interfaces(raw.track_interfaces.as_deref());
        let files = self.track_named(
            raw.track_files.as_deref(),
            &FILE_REFS,
            &defined.files,
            |name, weight| FileUse { name, weight },
        );
        let processes = self.track_named(
            raw.track_processes.as_deref(),
            &PROCESS_REFS,
            &defined.processes,
            |name, weight| ProcessUse { name, weight },
        );
        Some(Tracking {
            checks: checks?,
            interfaces: interfaces?,
            files: files?,
            processes: processes?,
        })
    }

    fn garp(&mut self, entry: &Entry<RawInstance>) -> Option<Garp> {
        let raw = &entry.read.value;
        let repeat = self.optional(
            entry,
            "garp_repeat",
            &raw.garp_repeat,
            DEFAULT_GARP_REPEAT,
            |v, n| v.int(n, "garp_repeat", 1, 255, "").map(|n| n as u32),
        );
        let refresh = match &raw.garp_refresh {
            Some(_) => self
                .positive(&raw.garp_refresh, "garp_refresh", Duration::ZERO)
                .map(Some),
            None => Some(None),
        };
        Some(Garp {
            repeat: repeat?,
            delay: duration(&raw.garp_delay, DEFAULT_GARP_DELAY)?,
            refresh: refresh?,
        })
    }

    fn advert_interval(&mut self, raw: Option<&Spanned<Dur>>, version: Version) -> Option<Centis> {
        let Some(raw) = raw else {
            return Some(Centis::ONE_SECOND);
        };
        let d = raw.get_ref().0;
        let shown = humantime::format_duration(d);
        let centis = Centis::from_duration(d);
        match version {
            Version::V2 => match centis.and_then(|c| c.whole_secs().map(|s| (c, s))) {
                Some((c, 1..=255)) => Some(c),
                _ => {
                    let why = if d < Duration::from_secs(1) {
                        "sub-second intervals need version = 3"
                    } else {
                        "VRRPv2 carries whole seconds; finer intervals need version = 3"
                    };
                    self.c.error(
                        raw.span(),
                        format!(
                            "with version = 2, `advert_interval` must be whole seconds from 1s to 255s ({why}), found {shown}"
                        ),
                    );
                    None
                }
            },
            Version::V3 => match centis {
                Some(c) if c.get() >= 1 && c <= Centis::V3_MAX => Some(c),
                _ => {
                    self.c.error(
                        raw.span(),
                        format!(
                            "with version = 3, `advert_interval` must be from 10ms to 40.95s in whole centiseconds (10ms steps), found {shown}"
                        ),
                    );
                    None
                }
            },
        }
    }

    fn virtual_ips(&mut self, entry: &Entry<RawInstance>, version: Option<Version>) -> Vips {
        let vips = self.required(
            entry,
            "virtual_ips",
            &entry.read.value.virtual_ips,
            |v, list| Some(v.vip_list(list, version)),
        );
        vips.unwrap_or_default()
    }

    fn vip_list(&mut self, list: &Spanned<Vec<Spanned<String>>>, version: Option<Version>) -> Vips {
        if list.get_ref().is_empty() {
            self.c.error(
                list.span(),
                "`virtual_ips` must list at least one address, like [\"192.0.2.50/24\"]",
            );
            return Vips::default();
        }
        let mut ok = true;
        let mut nets: Vec<IpNet> = Vec::new();
        let mut facts = Vec::new();
        let mut first: Option<IpNet> = None;
        for item in list.get_ref() {
            let text = item.get_ref().trim();
            let net = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from));
            let Ok(net) = net else {
                self.c.error(
                    item.span(),
                    format!(
                        "`virtual_ips`: {:?} is not an address or address/prefix like \"192.0.2.50/24\"",
                        item.get_ref()
                    ),
                );
                ok = false;
                continue;
            };
            let addr = net.addr();
            if let Some(why) = super::rules::unusable_address(addr) {
                self.c.error(
                    item.span(),
                    format!("`virtual_ips`: {addr} cannot be a virtual IP ({why})"),
                );
                ok = false;
                continue;
            }
            let family = Family::of(addr);
            match first {
                None => {
                    first = Some(net);
                    if version == Some(Version::V2) && family == Family::Ipv6 {
                        self.c.error(
                            item.span(),
                            format!("VRRPv2 is IPv4-only: {addr} needs version = 3"),
                        );
                        ok = false;
                    }
                }
                Some(f) if Family::of(f.addr()) != family => {
                    self.c.error(
                        item.span(),
                        format!(
                            "`virtual_ips` mixes address families: {addr} is {family} but {} is {}; use one instance per family",
                            f.addr(),
                            Family::of(f.addr())
                        ),
                    );
                    ok = false;
                    continue;
                }
                Some(_) => {}
            }
            if nets.iter().any(|n| n.addr() == addr) {
                self.c
                    .error(item.span(), format!("`virtual_ips` lists {addr} twice"));
                ok = false;
                continue;
            }
            nets.push(net);
            facts.push((addr, item.span()));
        }
        if nets.len() > MAX_VIPS {
            self.c.error(
                list.span(),
                format!(
                    "`virtual_ips` lists {} addresses, but an advert carries at most {MAX_VIPS}; split them over several instances (a sync group keeps them together)",
                    nets.len()
                ),
            );
            ok = false;
        }
        let family = first.map(|n| Family::of(n.addr()));
        Vips {
            family,
            nets: ok.then_some(nets),
            spans: facts,
        }
    }

    fn peers(
        &mut self,
        raw: Option<&[Spanned<String>]>,
        family: Option<Family>,
        src: Option<IpAddr>,
    ) -> Option<Vec<IpAddr>> {
        let mut ok = true;
        let mut peers = Vec::new();
        for item in raw.unwrap_or_default() {
            let Some(addr) = self.address(item, "unicast_peers") else {
                ok = false;
                continue;
            };
            if !self.same_family(addr, family, &item.span(), "unicast_peers") {
                ok = false;
            } else if peers.contains(&addr) {
                self.c
                    .error(item.span(), format!("`unicast_peers` lists {addr} twice"));
                ok = false;
            } else if Some(addr) == src {
                self.c.error(
                    item.span(),
                    format!("`unicast_peers`: {addr} is this node's own `unicast_src_ip`"),
                );
                ok = false;
            } else {
                peers.push(addr);
            }
        }
        ok.then_some(peers)
    }

    /// A single host address for `key`, reporting what is wrong with it.
    fn address(&mut self, raw: &Spanned<String>, key: &str) -> Option<IpAddr> {
        let Ok(addr) = raw.get_ref().trim().parse::<IpAddr>() else {
            self.c.error(
                raw.span(),
                format!(
                    "`{key}`: {:?} is not an IP address like \"192.0.2.10\" or \"2001:db8::10\"",
                    raw.get_ref()
                ),
            );
            return None;
        };
        if let Some(why) = super::rules::unusable_address(addr) {
            self.c.error(
                raw.span(),
                format!("`{key}`: {addr} cannot be used here ({why})"),
            );
            return None;
        }
        Some(addr)
    }

    fn same_family(
        &mut self,
        addr: IpAddr,
        family: Option<Family>,
        span: &Range<usize>,
        key: &str,
    ) -> bool {
        match family {
            Some(f) if f != Family::of(addr) => {
                self.c.error(
                    span.clone(),
                    format!(
                        "`{key}`: {addr} is {} but the virtual IPs are {f}",
                        Family::of(addr)
                    ),
                );
                false
            }
            _ => true,
        }
    }

    fn auth_pass(
        &mut self,
        entry: &Entry<RawInstance>,
        version: Option<Version>,
    ) -> Option<Option<String>> {
        let Some(pass) = &entry.read.value.auth_pass else {
            return Some(None);
        };
        if version == Some(Version::V3) {
            let at = entry.keys.get("auth_pass").cloned().unwrap_or(pass.span());
            let explicit = entry.keys.contains_key("version");
            let how = if explicit { "" } else { " (the default is 3)" };
            self.c.error(
                at,
                format!(
                    "`auth_pass` needs version = 2{how}: VRRPv3 has no authentication (RFC 9568)"
                ),
            );
            return None;
        }
        let len = pass.get_ref().len();
        if !(1..=8).contains(&len) {
            self.c.error(
                pass.span(),
                format!("`auth_pass` must be 1 to 8 bytes (VRRPv2 carries 8), found {len} bytes"),
            );
            return None;
        }
        Some(Some(pass.get_ref().clone()))
    }

    /// `track_checks`, `track_files` or `track_processes`: references to
    /// named tables, each with the table's weight unless overridden.
    fn track_named<U>(
        &mut self,
        raw: Option<&[Spanned<RawTrack>]>,
        refs: &Refs,
        known: &Known,
        tracked: fn(String, i16) -> U,
    ) -> Option<Vec<U>> {
        self.track_list(
            raw,
            refs.key,
            |v, name, span| v.known_name(name, span, refs, known),
            // The table's own weight; if that table is broken it has been
            // reported already.
            |name| known.weights.get(name).copied(),
            tracked,
        )
    }

    /// A `track_*` list: every entry a good name, listed once, with a good
    /// weight: its own, else `default_weight` of the name.
    fn track_list<U>(
        &mut self,
        raw: Option<&[Spanned<RawTrack>]>,
        key: &str,
        mut good_name: impl FnMut(&mut Self, &str, &Range<usize>) -> bool,
        default_weight: impl Fn(&str) -> Option<i16>,
        tracked: fn(String, i16) -> U,
    ) -> Option<Vec<U>> {
        let mut ok = true;
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for item in raw.unwrap_or_default() {
            let (name, span, weight) = track_parts(item);
            let weight = match weight {
                Some(w) => self.weight(Some(w), "weight"),
                None => default_weight(name),
            };
            if !good_name(self, name, &span) {
                ok = false;
            } else if !seen.insert(name) {
                self.c.error(span, format!("`{key}` lists `{name}` twice"));
                ok = false;
            } else if let Some(weight) = weight {
                out.push(tracked(name.to_owned(), weight));
            } else {
                ok = false;
            }
        }
        ok.then_some(out)
    }

    /// Whether `name` is a table `refs` may refer to; if not, says which are.
    fn known_name(&mut self, name: &str, span: &Range<usize>, refs: &Refs, known: &Known) -> bool {
        if known.names.contains(name) {
            return true;
        }
        let defined: Vec<&str> = known.names.iter().map(String::as_str).collect();
        let hint = match closest(name, &defined) {
            Some(near) => format!("; did you mean `{near}`?"),
            None if defined.is_empty() => format!(
                "; no {} are defined (add a [{}.NAME] table)",
                refs.plural, refs.section
            ),
            None => format!("; defined {}: {}", refs.plural, defined.join(", ")),
        };
        self.c.error(
            span.clone(),
            format!("`{}`: no {} named `{name}`{hint}", refs.key, refs.noun),
        );
        false
    }

    fn track_file(&mut self, entry: &Entry<RawTrackFile>) -> Option<TrackFile> {
        let raw = &entry.read.value;
        let path = self.required(entry, "path", &raw.path, |v, p| v.absolute_path(p, "path"));
        let weight = self.weight_or(raw.weight.as_ref(), 1);
        Some(TrackFile {
            name: entry.name.clone(),
            path: path?,
            weight: weight?,
        })
    }

    fn track_process(&mut self, entry: &Entry<RawTrackProcess>) -> Option<TrackProcess> {
        let raw = &entry.read.value;
        let full_command = raw.full_command.unwrap_or(false);
        let process = self.required(entry, "process", &raw.process, |v, p| {
            v.process_name(p, full_command)
        });
        let weight = self.weight_or(raw.weight.as_ref(), 1);
        let quorum = self.optional(entry, "quorum", &raw.quorum, 1, |v, q| {
            v.int(q, "quorum", 0, super::rules::MAX_QUORUM, "")
                .map(|n| n as u32)
        });
        let quorum_max = match &raw.quorum_max {
            Some(q) => self
                .int(q, "quorum_max", 0, super::rules::MAX_QUORUM, "")
                .map(|n| Some(n as u32)),
            None => Some(None),
        };
        // Cross-checks only between values that are themselves good.
        if let (Some(q), Some(Some(max))) = (quorum, quorum_max)
            && max < q
        {
            let span = raw
                .quorum_max
                .as_ref()
                .map(Spanned::span)
                .unwrap_or_default();
            self.c.error(
                span,
                format!("`quorum_max` must be at least `quorum` ({q}), found {max}"),
            );
            return None;
        }
        if let (Some(0), Some(None)) = (quorum, quorum_max) {
            let span = raw.quorum.as_ref().map(Spanned::span).unwrap_or_default();
            self.c.error(
                span,
                "`quorum` = 0 needs a `quorum_max` (without it the process always counts as running)",
            );
            return None;
        }
        let delay = duration(&raw.delay, Duration::ZERO);
        Some(TrackProcess {
            name: entry.name.clone(),
            process: process?,
            args: raw.args.as_ref().map(|a| a.get_ref().clone()),
            full_command,
            weight: weight?,
            quorum: quorum?,
            quorum_max: quorum_max?,
            delay: delay?,
        })
    }

    fn process_name(&mut self, p: &Spanned<String>, full_command: bool) -> Option<String> {
        let name = p.get_ref();
        if name.is_empty() {
            self.c.error(p.span(), "`process` must not be empty");
            return None;
        }
        if !full_command && name.len() > COMM_MAX {
            self.c.error(
                p.span(),
                format!(
                    "`process`: {name:?} is {} bytes but the kernel keeps only the first {COMM_MAX} of a process name (/proc/PID/comm); set full_command = true to match the command line instead",
                    name.len()
                ),
            );
            return None;
        }
        Some(name.clone())
    }

    fn track_interfaces(&mut self, raw: Option<&[Spanned<RawTrack>]>) -> Option<Vec<InterfaceUse>> {
        let key = "track_interfaces";
        self.track_list(
            raw,
            key,
            |v, name, span| v.interface_name(name, span, key).is_some(),
            |_| Some(0),
            |name, weight| InterfaceUse { name, weight },
        )
    }

    fn sync_group(
        &mut self,
        entry: &Entry<RawSyncGroup>,
        instance_names: &BTreeSet<String>,
        member_of: &mut BTreeMap<String, String>,
    ) -> Option<SyncGroupConfig> {
        let raw = &entry.read.value;
        let hooks = self.hooks(notify_keys!(raw));
        let members = self.required(entry, "instances", &raw.instances, |v, list| {
            v.members(&entry.name, list, instance_names, member_of)
        });
        let leadership = match &raw.leadership {
            Some(l) => self.leadership(l).map(Some),
            None => Some(None),
        };
        Some(SyncGroupConfig {
            name: entry.name.clone(),
            instances: members?,
            hooks: hooks?,
            leadership: leadership?,
        })
    }

    /// A sync group's `instances`: each defined, listed once, and in no
    /// other group; `member_of` records the group of each.
    fn members(
        &mut self,
        group: &str,
        list: &Spanned<Vec<Spanned<String>>>,
        instance_names: &BTreeSet<String>,
        member_of: &mut BTreeMap<String, String>,
    ) -> Option<Vec<String>> {
        if list.get_ref().is_empty() {
            self.c.error(
                list.span(),
                "`instances` must name at least one instance, like [\"db\", \"app\"]",
            );
            return None;
        }
        let mut ok = true;
        let mut members: Vec<String> = Vec::new();
        for item in list.get_ref() {
            let name = item.get_ref();
            if !instance_names.contains(name) {
                let defined: Vec<&str> = instance_names.iter().map(String::as_str).collect();
                let hint = match closest(name, &defined) {
                    Some(near) => format!("; did you mean `{near}`?"),
                    None if defined.is_empty() => "; no instances are defined".to_owned(),
                    None => format!("; defined instances: {}", defined.join(", ")),
                };
                self.c.error(
                    item.span(),
                    format!("`instances`: no instance named `{name}`{hint}"),
                );
                ok = false;
            } else if members.contains(name) {
                self.c
                    .error(item.span(), format!("`instances` lists `{name}` twice"));
                ok = false;
            } else if let Some(other) = member_of.get(name) {
                self.c.error(
                    item.span(),
                    format!(
                        "instance `{name}` is already in sync group `{other}`; an instance can belong to only one sync group"
                    ),
                );
                ok = false;
            } else {
                member_of.insert(name.clone(), group.to_owned());
                members.push(name.clone());
            }
        }
        ok.then_some(members)
    }

    /// Refuses a sync group that mixes address owners with other members.
    /// keepalived only logs that such a group "won't work": the owner is
    /// Master at once whatever its peers do, so the group can never follow
    /// the other members' elections. vipd would claim a role the group does
    /// not hold, so it refuses to start instead.
    fn owners_in_groups(
        &mut self,
        groups: &[Entry<RawSyncGroup>],
        instances: &BTreeMap<String, InstanceConfig>,
    ) {
        for entry in groups {
            let Some(list) = &entry.read.value.instances else {
                continue;
            };
            // A group moves its members to MASTER together, without asking
            // a member's own lock: the lock belongs on the group.
            let locked: Vec<&str> = list
                .get_ref()
                .iter()
                .map(|m| m.get_ref().as_str())
                .filter(|m| instances.get(*m).is_some_and(|i| i.leadership.is_some()))
                .collect();
            if !locked.is_empty() {
                self.c.error(
                    list.span(),
                    format!(
                        "sync group `{}`: {} has a `leadership` lock of its own; a sync group's members \
                         move to MASTER together, so set `leadership` on [sync_groups.{}] instead",
                        entry.name,
                        locked.join(", "),
                        entry.name
                    ),
                );
            }
            let (owners, others): (Vec<&str>, Vec<&str>) = list
                .get_ref()
                .iter()
                .map(|m| m.get_ref().as_str())
                .filter(|m| instances.contains_key(*m))
                .partition(|m| instances[*m].priority == 255);
            if let Some(lock) = entry
                .read
                .value
                .leadership
                .as_ref()
                .filter(|_| !owners.is_empty())
            {
                self.c.error(
                    lock.span(),
                    format!(
                        "sync group `{}` has a `leadership` lock but an address owner (priority 255: {}), \
                         which takes MASTER at once and cannot wait for the lock: lower its priority below 255",
                        entry.name,
                        owners.join(", ")
                    ),
                );
            }
            if owners.is_empty() || others.is_empty() {
                continue;
            }
            self.c.error(
                list.span(),
                format!(
                    "sync group `{}` mixes an address owner (priority 255: {}) with other members ({}); \
                     an owner is MASTER whatever its peers do, so the group could not move together: \
                     lower the owner's priority below 255 or take it out of the group",
                    entry.name,
                    owners.join(", "),
                    others.join(", ")
                ),
            );
        }
    }

    /// Checks that need all instances: a vrid is unique per link and family,
    /// and an address is carried by one instance only.
    fn across_instances(&mut self, facts: &[Facts]) {
        let mut vrids: BTreeMap<(&str, Family, u8), &str> = BTreeMap::new();
        let mut vips: BTreeMap<IpAddr, &str> = BTreeMap::new();
        // Entries come sorted by name; report the later one in the file.
        let mut order: Vec<&Facts> = facts.iter().collect();
        order.sort_by_key(|f| f.vrid.as_ref().map_or(usize::MAX, |v| v.1.start));
        for f in &order {
            let (Some(iface), Some(family), Some((vrid, span))) = (&f.interface, f.family, &f.vrid)
            else {
                continue;
            };
            if let Some(other) = vrids.insert((iface, family, *vrid), &f.name) {
                self.c.error(
                    span.clone(),
                    format!(
                        "vrid {vrid} is already used by instance `{other}` on {iface} for {family}; each virtual router on a link needs its own vrid"
                    ),
                );
                vrids.insert((iface, family, *vrid), other);
            }
        }
        let mut all: Vec<(&IpAddr, &Range<usize>, &str)> = facts
            .iter()
            .flat_map(|f| f.vips.iter().map(move |(a, s)| (a, s, f.name.as_str())))
            .collect();
        all.sort_by_key(|(_, s, _)| s.start);
        for (addr, span, name) in all {
            match vips.get(addr) {
                Some(other) if *other != name => self.c.error(
                    span.clone(),
                    format!("`virtual_ips`: {addr} is already a virtual IP of instance `{other}`"),
                ),
                _ => {
                    vips.insert(*addr, name);
                }
            }
        }
    }

    /// `keys`: [`notify_keys`] of an instance or sync group.
    fn hooks(&mut self, keys: [&Option<Spanned<RawArgv>>; 5]) -> Option<Hooks> {
        let [master, backup, fault, stop, notify] = keys;
        let mut one = |raw: &Option<Spanned<RawArgv>>, key: &str| match raw {
            Some(argv) => self.argv(argv, key, true),
            None => Some(None),
        };
        let master = one(master, "notify_master");
        let backup = one(backup, "notify_backup");
        let fault = one(fault, "notify_fault");
        let stop = one(stop, "notify_stop");
        let notify = one(notify, "notify");
        Some(Hooks {
            master: master?,
            backup: backup?,
            fault: fault?,
            stop: stop?,
            notify: notify?,
        })
    }

    /// `Some(None)` for an allowed empty array (no hook).
    fn argv(
        &mut self,
        raw: &Spanned<RawArgv>,
        key: &str,
        may_be_empty: bool,
    ) -> Option<Option<Argv>> {
        let argv = &raw.get_ref().0;
        let Some(program) = argv.first() else {
            if may_be_empty {
                return Some(None);
            }
            self.c.error(
                raw.span(),
                format!(
                    "`{key}` must not be empty: give the program and its arguments, like [\"/usr/lib/vipd/check.sh\"]"
                ),
            );
            return None;
        };
        // No shell and no PATH search: what runs is exactly what is written,
        // which is also what script_security inspects.
        if !Path::new(program).is_absolute() {
            self.c.error(
                raw.span(),
                format!(
                    "`{key}`: the program must be an absolute path (it runs without a shell or PATH search), found {program:?}"
                ),
            );
            return None;
        }
        Some(Some(Argv(argv.clone())))
    }

    fn missing<T>(&mut self, entry: &Entry<T>, key: &str) {
        let kind = entry.kind;
        let what = REQUIRED
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(String::new(), |(_, what)| format!(" ({what})"));
        self.c.error(
            entry.name_span.clone(),
            format!(
                "{kind} `{}` is missing required key `{key}`{what}",
                entry.name
            ),
        );
    }

    fn int(&mut self, v: &Spanned<i64>, key: &str, lo: i64, hi: i64, note: &str) -> Option<i64> {
        let n = *v.get_ref();
        if (lo..=hi).contains(&n) {
            return Some(n);
        }
        self.c.error(
            v.span(),
            format!("`{key}` must be between {lo} and {hi}{note}, found {n}"),
        );
        None
    }

    /// rise and fall: at least 1.
    fn count(&mut self, v: &Option<Spanned<i64>>, key: &str) -> Option<u32> {
        let Some(v) = v else { return Some(1) };
        match u32::try_from(*v.get_ref()) {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                self.c.error(
                    v.span(),
                    format!("`{key}` must be at least 1, found {}", v.get_ref()),
                );
                None
            }
        }
    }

    /// `weight` with `default` when it is not given.
    fn weight_or(&mut self, v: Option<&Spanned<i64>>, default: i16) -> Option<i16> {
        match v {
            Some(v) => self.weight(Some(v), "weight"),
            None => Some(default),
        }
    }

    fn weight(&mut self, v: Option<&Spanned<i64>>, key: &str) -> Option<i16> {
        let Some(v) = v else { return Some(0) };
        let max = i64::from(MAX_WEIGHT);
        self.int(v, key, -max, max, "").map(|n| n as i16)
    }

    fn positive(
        &mut self,
        v: &Option<Spanned<Dur>>,
        key: &str,
        default: Duration,
    ) -> Option<Duration> {
        let Some(v) = v else { return Some(default) };
        let d = v.get_ref().0;
        if d.is_zero() {
            self.c
                .error(v.span(), format!("`{key}` must be longer than 0s"));
            return None;
        }
        Some(d)
    }

    fn absolute_path(&mut self, p: &Spanned<String>, key: &str) -> Option<PathBuf> {
        if !Path::new(p.get_ref()).is_absolute() {
            self.c.error(
                p.span(),
                format!("`{key}` must be an absolute path, found {:?}", p.get_ref()),
            );
            return None;
        }
        Some(PathBuf::from(p.get_ref()))
    }

    fn non_empty(&mut self, v: &Spanned<String>, key: &str) -> Option<String> {
        if v.get_ref().trim().is_empty() {
            self.c.error(v.span(), format!("`{key}` must not be empty"));
            return None;
        }
        Some(v.get_ref().clone())
    }

    fn interface_name(&mut self, name: &str, span: &Range<usize>, key: &str) -> Option<String> {
        let bad = !super::rules::valid_interface_name(name);
        if bad {
            self.c.error(
                span.clone(),
                format!(
                    "`{key}`: {name:?} is not a valid interface name (1 to 15 bytes, no '/', ':' or spaces)"
                ),
            );
            return None;
        }
        Some(name.to_owned())
    }

    /// Names end up in hook arguments, log fields and metric labels: keep
    /// them to characters that need no quoting anywhere.
    fn name(&mut self, name: &str, span: &Range<usize>, kind: &str) {
        if !super::is_valid_name(name) {
            self.c.error(
                span.clone(),
                format!(
                    "{kind} name {name:?} may contain only ASCII letters, digits, '_', '-' and '.'"
                ),
            );
        }
    }
}

fn duration(v: &Option<Spanned<Dur>>, default: Duration) -> Option<Duration> {
    Some(v.as_ref().map_or(default, |d| d.get_ref().0))
}

fn track_parts(item: &Spanned<RawTrack>) -> (&str, Range<usize>, Option<&Spanned<i64>>) {
    match item.get_ref() {
        RawTrack::Name(name) => (name, item.span(), None),
        RawTrack::Table(t) => (t.name.get_ref(), t.name.span(), t.weight.as_ref()),
    }
}

/// How messages name the tables a `track_*` key refers to.
struct Refs {
    key: &'static str,
    noun: &'static str,
    plural: &'static str,
    section: &'static str,
}

const CHECK_REFS: Refs = Refs {
    key: "track_checks",
    noun: "check",
    plural: "checks",
    section: "checks",
};
const FILE_REFS: Refs = Refs {
    key: "track_files",
    noun: "tracked file",
    plural: "tracked files",
    section: "track_files",
};
const PROCESS_REFS: Refs = Refs {
    key: "track_processes",
    noun: "tracked process",
    plural: "tracked processes",
    section: "track_processes",
};

/// The tables of one kind an instance may refer to: every name defined
/// (even with errors) and the weights of the good ones.
struct Known<'a> {
    names: &'a BTreeSet<String>,
    weights: BTreeMap<&'a str, i16>,
}

impl<'a> Known<'a> {
    fn new<T>(
        names: &'a BTreeSet<String>,
        good: &'a BTreeMap<String, T>,
        weight: fn(&T) -> i16,
    ) -> Known<'a> {
        let weights = good.iter().map(|(k, v)| (k.as_str(), weight(v))).collect();
        Known { names, weights }
    }
}

struct Defined<'a> {
    checks: Known<'a>,
    files: Known<'a>,
    processes: Known<'a>,
}
