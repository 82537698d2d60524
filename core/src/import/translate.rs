//! keepalived's statement tree to vipd's sections: `global_defs`,
//! `vrrp_script` and `vrrp_sync_group` here, `track_file` and
//! `vrrp_track_process` in [`tracked`](super::tracked), `vrrp_instance` in
//! [`instance`](super::instance), then the checks that need every instance
//! (an address or vrid used twice, sync group members).
//!
//! The rule throughout: carry over what keepalived would actually run. Where
//! keepalived ignores a setting (a script referenced before it is defined, a
//! weight on a sync group member), so does the import, and says so.

use core::time::Duration;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use super::instance;
use super::keywords::{self, Context};
use super::model::{Check, Origin, Output, SyncGroup, Track};
use super::parser::Node;
use super::report::{Location, Report};
use super::tracked;
use super::values;
use crate::config::{Argv, Hooks};

/// The translation and how many `vrrp_instance` blocks the files declare.
pub(super) struct Translated {
    pub output: Output,
    pub declared_instances: usize,
}

/// `global_defs` settings that are per-instance in vipd.
#[derive(Debug, Default)]
pub(super) struct Defaults {
    pub version: Option<u8>,
    pub garp_delay: Option<Duration>,
    pub garp_repeat: Option<u32>,
    pub garp_refresh: Option<Duration>,
}

/// A `vrrp_script`, `track_file` or `vrrp_track_process` as instances see it.
#[derive(Debug, Clone)]
pub(super) enum Script {
    /// Carried over as `[checks.NAME]` (or `[track_files.NAME]`, ...) with
    /// this effective weight.
    Carried { name: String, weight: i16 },
    /// Defined, but not carried over (reported where it is defined).
    Dropped,
}

/// Tracked files or processes: those defined so far, and where each is
/// defined (the first definition counts).
#[derive(Debug, Default)]
pub(super) struct Known {
    pub defined: HashMap<String, Script>,
    pub lines: HashMap<String, Location>,
}

/// The kind of block a tracking entry refers to, for messages.
pub(super) struct Kind {
    /// The keepalived block keyword, like `vrrp_script`.
    pub block: &'static str,
    /// What is tracked, like "script".
    pub noun: &'static str,
}

pub(super) const SCRIPT: Kind = Kind {
    block: "vrrp_script",
    noun: "script",
};
pub(super) const FILE: Kind = Kind {
    block: "track_file",
    noun: "file",
};
pub(super) const PROCESS: Kind = Kind {
    block: "vrrp_track_process",
    noun: "process",
};

/// Which sync group a `vrrp_instance` belongs to, from a first pass.
#[derive(Debug, Clone)]
pub(super) struct Membership {
    pub group: String,
    /// `sync_group_tracking_weight`: keepalived keeps members' weights.
    pub keeps_weights: bool,
}

/// What translating one instance needs to know about the rest of the file.
pub(super) struct Scope<'a> {
    pub defaults: &'a Defaults,
    /// Scripts defined before this point in the file.
    pub scripts: &'a HashMap<String, Script>,
    /// Where every script is defined, to explain a reference made too early.
    pub script_lines: &'a HashMap<String, Location>,
    pub files: &'a Known,
    pub processes: &'a Known,
    pub membership: Option<&'a Membership>,
}

pub(super) fn translate(tree: &[Node], report: &mut Report) -> Translated {
    let mut t = Translator {
        report,
        out: Output::default(),
        defaults: Defaults::default(),
        scripts: HashMap::new(),
        script_lines: definition_lines(tree, &["vrrp_script"]),
        files: Known {
            lines: definition_lines(tree, &["track_file", "vrrp_track_file"]),
            ..Known::default()
        },
        processes: Known {
            lines: definition_lines(tree, &["vrrp_track_process"]),
            ..Known::default()
        },
        membership: membership(tree),
        instance_names_declared: tree
            .iter()
            .filter(|n| n.keyword() == "vrrp_instance")
            .filter_map(|n| n.arg(0).map(str::to_owned))
            .collect(),
        instance_names: HashMap::new(),
        skipped_instances: HashSet::new(),
        used: BTreeMap::new(),
        groups: Vec::new(),
        declared_instances: 0,
    };
    // global_defs applies to every instance wherever it is written.
    for node in tree.iter().filter(|n| n.keyword() == "global_defs") {
        t.global_defs(node);
    }
    for node in tree {
        match node.keyword() {
            "global_defs" => {}
            "vrrp_script" => t.vrrp_script(node),
            "track_file" | "vrrp_track_file" => t.track_file(node),
            "vrrp_track_process" => t.track_process(node),
            "vrrp_instance" => t.vrrp_instance(node),
            "vrrp_sync_group" => t.vrrp_sync_group(node),
            other => t.drop(node, keywords::reason(Context::Top, other)),
        }
    }
    t.across_instances();
    t.finish_groups();
    Translated {
        output: t.out,
        declared_instances: t.declared_instances,
    }
}

struct Translator<'r> {
    report: &'r mut Report,
    out: Output,
    defaults: Defaults,
    /// keepalived script name to its fate, for scripts seen so far.
    scripts: HashMap<String, Script>,
    script_lines: HashMap<String, Location>,
    files: Known,
    processes: Known,
    membership: HashMap<String, Membership>,
    /// Names of every `vrrp_instance` in the files.
    instance_names_declared: HashSet<String>,
    /// keepalived instance name to vipd name, for instances carried over.
    instance_names: HashMap<String, String>,
    /// keepalived names of instances left out, for sync group messages.
    skipped_instances: HashSet<String>,
    /// vipd names taken, per section.
    used: BTreeMap<&'static str, HashSet<String>>,
    groups: Vec<GroupDraft>,
    declared_instances: usize,
}

/// A sync group before its members are known to exist.
struct GroupDraft {
    name: String,
    source: Origin,
    members: Vec<(String, Location)>,
    hooks: Hooks,
    track_scripts: Vec<(Track, Location, String)>,
    track_interfaces: Vec<(Track, Location, String)>,
    track_files: Vec<(Track, Location, String)>,
    track_processes: Vec<(Track, Location, String)>,
}

/// Where each block of these kinds is defined, by name (the first
/// definition counts).
fn definition_lines(tree: &[Node], blocks: &[&str]) -> HashMap<String, Location> {
    let mut lines = HashMap::new();
    for node in tree.iter().filter(|n| blocks.contains(&n.keyword())) {
        if let Some(name) = node.arg(0) {
            lines
                .entry(name.to_owned())
                .or_insert_with(|| node.at.clone());
        }
    }
    lines
}

/// Sync group membership, needed before instances are translated because
/// keepalived treats members' tracking weights differently.
fn membership(tree: &[Node]) -> HashMap<String, Membership> {
    let mut members = HashMap::new();
    let mut seen_groups = HashSet::new();
    for node in tree.iter().filter(|n| n.keyword() == "vrrp_sync_group") {
        let Some(group) = node.arg(0) else { continue };
        if !seen_groups.insert(group) {
            continue;
        }
        let keeps_weights = node.children().iter().any(|c| {
            matches!(
                c.keyword(),
                "sync_group_tracking_weight" | "global_tracking"
            )
        });
        let list = node.children().iter().find(|c| c.keyword() == "group");
        for member in list.map(Node::children).unwrap_or_default() {
            members
                .entry(member.keyword().to_owned())
                .or_insert_with(|| Membership {
                    group: group.to_owned(),
                    keeps_weights,
                });
        }
    }
    members
}

impl Translator<'_> {
    /// Reports a statement (and its block) as not carried over.
    fn drop(&mut self, node: &Node, why: &str) {
        self.report.warn(&node.at, node.text(), why);
    }

    /// A vipd name for a keepalived one: cleaned up and unique in `section`.
    fn claim(&mut self, section: &'static str, at: &Location, block: &str, wanted: &str) -> String {
        let used = self.used.entry(section).or_default();
        let base = values::vipd_name(wanted);
        let mut name = base.clone();
        let mut n = 2;
        while used.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        used.insert(name.clone());
        if name != wanted {
            self.report.warn(
                at,
                block,
                format!(
                    "renamed to `{name}`: vipd names use only ASCII letters, digits, '_', '-' and '.', and are unique"
                ),
            );
        }
        name
    }

    fn global_defs(&mut self, node: &Node) {
        for item in node.children() {
            let arg = item.arg(0);
            match (item.keyword(), arg) {
                ("router_id", Some(id)) if !id.trim().is_empty() => {
                    self.out.global.node_name = Some(id.to_owned());
                }
                ("script_user", Some(user)) if !user.trim().is_empty() => {
                    self.out.global.script_user = Some(user.to_owned());
                    if let Some(group) = item.arg(1) {
                        self.report.warn(
                            &item.at,
                            format!("script_user {user} {group}"),
                            "vipd runs checks and hooks with the user's own group; the group is not carried over",
                        );
                    }
                }
                ("enable_script_security", _) => {
                    self.out.global.script_security = Some(true);
                }
                ("vrrp_version", Some(v)) => match v {
                    "2" => self.defaults.version = Some(2),
                    "3" => self.defaults.version = Some(3),
                    _ => self.drop(
                        item,
                        "must be 2 or 3; keepalived ignores it, so does this import",
                    ),
                },
                ("vrrp_garp_master_delay", Some(v)) => match values::seconds(v) {
                    Some(d) => self.defaults.garp_delay = Some(d),
                    None => self.drop(item, "not a number of seconds; ignored"),
                },
                ("vrrp_garp_master_repeat", Some(v)) => {
                    self.defaults.garp_repeat = Some(garp_repeat(v, item, self.report));
                }
                ("vrrp_garp_master_refresh", Some(v)) => match values::seconds(v) {
                    Some(d) if d.is_zero() => self.defaults.garp_refresh = None,
                    Some(d) => self.defaults.garp_refresh = Some(d),
                    None => self.drop(item, "not a number of seconds; ignored"),
                },
                ("vrrp_min_garp", v) => match values::boolean(v) {
                    // One announcement and no second burst, unless set explicitly.
                    Some(true) => {
                        self.defaults.garp_repeat.get_or_insert(1);
                        self.defaults.garp_delay.get_or_insert(Duration::ZERO);
                    }
                    Some(false) => {}
                    None => self.drop(item, "not on/off; ignored"),
                },
                (kw, _) => {
                    let why = keywords::reason(Context::Global, kw);
                    self.drop(item, why);
                }
            }
        }
    }

    fn vrrp_script(&mut self, node: &Node) {
        let Some(keepalived_name) = node.arg(0) else {
            self.drop(node, "a vrrp_script needs a name; keepalived skips it too");
            return;
        };
        if self.scripts.contains_key(keepalived_name) {
            self.drop(
                node,
                "defined twice; keepalived uses the first definition, so does this import",
            );
            return;
        }
        let mut command = None;
        let mut check = Check {
            name: String::new(),
            source: Origin {
                at: node.at.clone(),
                block: node.text(),
            },
            command: Vec::new(),
            interval: None,
            timeout: None,
            rise: None,
            fall: None,
            weight: None,
        };
        for item in node.children() {
            let arg = item.arg(0);
            match (item.keyword(), arg) {
                ("script", Some(text)) => {
                    command = values::command(text, &item.at, &item.text(), self.report);
                    if item.args().len() > 1 {
                        self.report.warn(
                            &item.at,
                            item.text(),
                            "keepalived runs only the first (quoted) word of `script`; the words after it are not carried over either",
                        );
                    }
                }
                ("interval", Some(v)) => match values::integer(v) {
                    Some(0) => {
                        self.report.warn(
                            &item.at,
                            item.text(),
                            "keepalived runs the script every 1s instead, and so will vipd",
                        );
                        check.interval = Some(Duration::from_secs(1));
                    }
                    Some(n @ 1..=MAX_SCRIPT_SECS) => {
                        check.interval = Some(Duration::from_secs(n as u64));
                    }
                    _ => self.drop(item, SCRIPT_SECS),
                },
                ("timeout", Some(v)) => match values::integer(v) {
                    // keepalived treats 0 as "the interval", which is vipd's default.
                    Some(0) => {}
                    Some(n @ 1..=MAX_SCRIPT_SECS) => {
                        check.timeout = Some(Duration::from_secs(n as u64));
                    }
                    _ => self.drop(item, SCRIPT_SECS),
                },
                ("rise" | "fall", Some(v)) => {
                    let n = match values::integer(v) {
                        Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => n as u32,
                        _ => {
                            self.report.warn(
                                &item.at,
                                item.text(),
                                "must be at least 1; keepalived uses 1 instead, and so will vipd",
                            );
                            1
                        }
                    };
                    if item.keyword() == "rise" {
                        check.rise = Some(n);
                    } else {
                        check.fall = Some(n);
                    }
                }
                ("weight", Some(v)) => {
                    check.weight = weight(v, item, self.report);
                    if item.args().iter().skip(1).any(|w| w == "reverse") {
                        self.drop(item, REVERSE);
                    }
                }
                (kw, _) => {
                    let why = keywords::reason(Context::Script, kw);
                    self.drop(item, why);
                }
            }
        }
        let Some(command) = command else {
            self.report.warn(
                &node.at,
                node.text(),
                "has no usable `script`; not carried over, and instances tracking it will not",
            );
            self.scripts
                .insert(keepalived_name.to_owned(), Script::Dropped);
            return;
        };
        check.command = command;
        check.name = self.claim("checks", &node.at, &node.text(), keepalived_name);
        self.scripts.insert(
            keepalived_name.to_owned(),
            Script::Carried {
                name: check.name.clone(),
                weight: check.weight.unwrap_or(0),
            },
        );
        self.out.checks.push(check);
    }

    fn track_file(&mut self, node: &Node) {
        let parsed =
            self.tracked_definition(node, "a track_file", |t| &mut t.files, tracked::track_file);
        if let Some(mut file) = parsed {
            file.name = self.claim_tracked(node, "track_files", |t| &mut t.files, file.weight);
            self.out.track_files.push(file);
        }
    }

    fn track_process(&mut self, node: &Node) {
        let parsed = self.tracked_definition(
            node,
            "a vrrp_track_process",
            |t| &mut t.processes,
            tracked::track_process,
        );
        if let Some(mut process) = parsed {
            process.name = self.claim_tracked(
                node,
                "track_processes",
                |t| &mut t.processes,
                process.weight,
            );
            self.out.track_processes.push(process);
        }
    }

    /// The steps a tracked file or process definition shares: it needs a
    /// name, the first definition wins (as in keepalived), and one that
    /// cannot be carried over is remembered so its users are told.
    fn tracked_definition<T>(
        &mut self,
        node: &Node,
        what: &str,
        known: fn(&mut Self) -> &mut Known,
        parse: impl FnOnce(&Node, &mut Report) -> Option<T>,
    ) -> Option<T> {
        let Some(keepalived_name) = node.arg(0) else {
            self.drop(
                node,
                &format!("{what} needs a name; keepalived skips it too"),
            );
            return None;
        };
        if known(self).defined.contains_key(keepalived_name) {
            self.drop(
                node,
                "defined twice; keepalived uses the first definition, so does this import",
            );
            return None;
        }
        let parsed = parse(node, self.report);
        if parsed.is_none() {
            known(self)
                .defined
                .insert(keepalived_name.to_owned(), Script::Dropped);
        }
        parsed
    }

    /// Gives a carried-over definition its vipd name and records it.
    fn claim_tracked(
        &mut self,
        node: &Node,
        section: &'static str,
        known: fn(&mut Self) -> &mut Known,
        weight: Option<i16>,
    ) -> String {
        let keepalived_name = node.arg(0).unwrap_or_default();
        let name = self.claim(section, &node.at, &node.text(), keepalived_name);
        let carried = Script::Carried {
            name: name.clone(),
            weight: weight.unwrap_or(1),
        };
        known(self)
            .defined
            .insert(keepalived_name.to_owned(), carried);
        name
    }

    fn vrrp_instance(&mut self, node: &Node) {
        self.declared_instances += 1;
        let Some(keepalived_name) = node.arg(0) else {
            self.drop(
                node,
                "a vrrp_instance needs a name; keepalived skips it too",
            );
            return;
        };
        if self.instance_names.contains_key(keepalived_name)
            || self.skipped_instances.contains(keepalived_name)
        {
            self.drop(
                node,
                "defined twice; keepalived uses the first definition, so does this import",
            );
            return;
        }
        let scope = Scope {
            defaults: &self.defaults,
            scripts: &self.scripts,
            script_lines: &self.script_lines,
            files: &self.files,
            processes: &self.processes,
            membership: self.membership.get(keepalived_name),
        };
        match instance::translate(node, &scope, self.report) {
            Ok(mut inst) => {
                inst.name = self.claim("instances", &node.at, &node.text(), keepalived_name);
                self.instance_names
                    .insert(keepalived_name.to_owned(), inst.name.clone());
                self.out.instances.push(inst);
            }
            Err(why) => self.skip_instance(&node.at, keepalived_name, why),
        }
    }

    fn skip_instance(&mut self, at: &Location, keepalived_name: &str, why: String) {
        self.report.warn(
            at,
            format!("vrrp_instance {keepalived_name}"),
            format!("not carried over: {why}"),
        );
        self.skipped_instances.insert(keepalived_name.to_owned());
        self.instance_names.remove(keepalived_name);
        self.out
            .skipped
            .push((at.clone(), keepalived_name.to_owned(), why));
    }

    fn vrrp_sync_group(&mut self, node: &Node) {
        let Some(keepalived_name) = node.arg(0) else {
            self.drop(
                node,
                "a vrrp_sync_group needs a name; keepalived skips it too",
            );
            return;
        };
        if self.groups.iter().any(|g| g.name == keepalived_name) {
            self.drop(
                node,
                "defined twice; keepalived uses the first definition, so does this import",
            );
            return;
        }
        let mut draft = GroupDraft {
            name: keepalived_name.to_owned(),
            source: Origin {
                at: node.at.clone(),
                block: node.text(),
            },
            members: Vec::new(),
            hooks: Hooks::default(),
            track_scripts: Vec::new(),
            track_interfaces: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
        };
        let mut have_list = false;
        for item in node.children() {
            match item.keyword() {
                "group" if have_list => self.drop(
                    item,
                    "a second member list; keepalived uses the first, so does this import",
                ),
                "group" => {
                    have_list = true;
                    for member in item.children() {
                        draft
                            .members
                            .push((member.keyword().to_owned(), member.at.clone()));
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    hook(&mut draft.hooks, item, self.report);
                }
                "track_script" => {
                    for entry in item.children() {
                        if let Some(track) = track_ref(
                            entry,
                            &SCRIPT,
                            &self.scripts,
                            &self.script_lines,
                            None,
                            self.report,
                        ) {
                            draft
                                .track_scripts
                                .push((track, entry.at.clone(), entry.text()));
                        }
                    }
                }
                "track_interface" => {
                    for entry in item.children() {
                        if let Some(track) = track_interface(entry, self.report) {
                            draft
                                .track_interfaces
                                .push((track, entry.at.clone(), entry.text()));
                        }
                    }
                }
                "track_file" | "track_process" => {
                    let (kind, known, list) = if item.keyword() == "track_file" {
                        (&FILE, &self.files, &mut draft.track_files)
                    } else {
                        (&PROCESS, &self.processes, &mut draft.track_processes)
                    };
                    for entry in item.children() {
                        if let Some(track) =
                            track_ref(entry, kind, &known.defined, &known.lines, None, self.report)
                        {
                            list.push((track, entry.at.clone(), entry.text()));
                        }
                    }
                }
                // Honoured through `membership`: members keep their weights.
                "sync_group_tracking_weight" | "global_tracking" => {}
                // Members written without `group { }`, as in old samples.
                kw if item.block.is_none()
                    && item.args().is_empty()
                    && self.instance_names_declared.contains(kw) =>
                {
                    self.drop(
                        item,
                        "not a sync group keyword (member instances go inside `group { }`); keepalived ignores it too",
                    );
                }
                kw => {
                    let why = keywords::reason(Context::SyncGroup, kw);
                    self.drop(item, why);
                }
            }
        }
        self.groups.push(draft);
    }

    /// vipd refuses an address carried by two instances, and a vrid used
    /// twice on one link and family: keep the first, as written.
    fn across_instances(&mut self) {
        let mut owners: HashMap<IpAddr, String> = HashMap::new();
        let mut vrids: HashMap<(String, bool, u8), String> = HashMap::new();
        let instances = core::mem::take(&mut self.out.instances);
        for mut inst in instances {
            let ipv6 = inst.virtual_ips.first().is_some_and(|n| n.addr().is_ipv6());
            let key = (inst.interface.clone(), ipv6, inst.vrid);
            if let Some(other) = vrids.get(&key) {
                let why = format!(
                    "virtual_router_id {} is already used by `{other}` on {}; vipd needs one vrid per virtual router on a link",
                    inst.vrid, inst.interface
                );
                let keepalived_name = source_name(&inst.source.block).to_owned();
                self.skip_instance(&inst.source.at.clone(), &keepalived_name, why);
                continue;
            }
            let mut kept = Vec::new();
            for net in inst.virtual_ips {
                match owners.get(&net.addr()) {
                    Some(other) => self.report.warn(
                        &inst.source.at,
                        format!("virtual_ipaddress {net}"),
                        format!(
                            "already a virtual address of `{other}`; vipd lets only one instance carry an address, so it stays there"
                        ),
                    ),
                    None => kept.push(net),
                }
            }
            inst.virtual_ips = kept;
            if inst.virtual_ips.is_empty() {
                let keepalived_name = source_name(&inst.source.block).to_owned();
                self.skip_instance(
                    &inst.source.at.clone(),
                    &keepalived_name,
                    "all its addresses belong to other instances".to_owned(),
                );
                continue;
            }
            for net in &inst.virtual_ips {
                owners.insert(net.addr(), inst.name.clone());
            }
            vrids.insert(key, inst.name.clone());
            self.out.instances.push(inst);
        }
    }

    fn finish_groups(&mut self) {
        let mut member_of: HashMap<String, String> = HashMap::new();
        for draft in core::mem::take(&mut self.groups) {
            let mut members: Vec<String> = Vec::new();
            for (member, at) in &draft.members {
                let Some(vipd_name) = self.instance_names.get(member) else {
                    let why = if self.skipped_instances.contains(member) {
                        "that vrrp_instance is not carried over; left out of the group"
                    } else {
                        "no vrrp_instance has this name; keepalived ignores it too"
                    };
                    self.report.warn(at, member.as_str(), why);
                    continue;
                };
                if let Some(other) = member_of.get(vipd_name) {
                    self.report.warn(
                        at,
                        member.as_str(),
                        format!(
                            "already in sync group `{other}`; an instance can be in one group only"
                        ),
                    );
                    continue;
                }
                if members.contains(vipd_name) {
                    continue;
                }
                members.push(vipd_name.clone());
            }
            if members.is_empty() {
                self.report.warn(
                    &draft.source.at,
                    draft.source.block.clone(),
                    "has no members that are carried over; keepalived removes such a group too",
                );
                continue;
            }
            let name = self.claim(
                "sync_groups",
                &draft.source.at,
                &draft.source.block,
                &draft.name,
            );
            for m in &members {
                member_of.insert(m.clone(), name.clone());
            }
            self.push_down(&draft, &members);
            self.out.sync_groups.push(SyncGroup {
                name,
                source: draft.source,
                instances: members,
                hooks: draft.hooks,
            });
        }
    }

    /// vipd has no group-level tracking; tracking on every member has the
    /// same effect, since the group follows any member's state.
    fn push_down(&mut self, draft: &GroupDraft, members: &[String]) {
        let joined = members.join(", ");
        let lists = [
            (&draft.track_scripts, Tracked::Checks),
            (&draft.track_files, Tracked::Files),
            (&draft.track_processes, Tracked::Processes),
            (&draft.track_interfaces, Tracked::Interfaces),
        ];
        for (list, tracked) in lists {
            for (track, at, text) in list {
                for inst in self
                    .out
                    .instances
                    .iter_mut()
                    .filter(|i| members.contains(&i.name))
                {
                    // An instance follows its own interface's link anyway.
                    if tracked == Tracked::Interfaces && inst.interface == track.name {
                        continue;
                    }
                    let tracks = match tracked {
                        Tracked::Checks => &mut inst.track_checks,
                        Tracked::Files => &mut inst.track_files,
                        Tracked::Processes => &mut inst.track_processes,
                        Tracked::Interfaces => &mut inst.track_interfaces,
                    };
                    if !tracks.iter().any(|t| t.name == track.name) {
                        tracks.push(track.clone());
                    }
                }
                self.report.warn(
                    at,
                    text.as_str(),
                    format!(
                        "vipd has no group-level tracking; carried over onto each member ({joined})"
                    ),
                );
            }
        }
    }
}

/// Which of an instance's tracking lists a group's tracking goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tracked {
    Checks,
    Files,
    Processes,
    Interfaces,
}

/// `vrrp_instance NAME` to `NAME`.
fn source_name(block: &str) -> &str {
    block.split_once(' ').map_or(block, |(_, name)| name)
}

/// keepalived keeps script timers in microseconds in 32 bits.
const MAX_SCRIPT_SECS: i64 = 4294;
const SCRIPT_SECS: &str =
    "must be whole seconds from 1 to 4294; keepalived ignores it, so does this import";

pub(super) const REVERSE: &str = "vipd cannot reverse a weight; `reverse` is dropped, which inverts this weight's effect: review it";

/// A tracking weight, -253..=253 as in keepalived; `None` (reported) otherwise.
pub(super) fn weight(text: &str, item: &Node, report: &mut Report) -> Option<i16> {
    match values::integer(text) {
        Some(w) if (-253..=253).contains(&w) => Some(w as i16),
        _ => {
            report.warn(
                &item.at,
                item.text(),
                "the weight must be between -253 and 253; keepalived ignores it, so does this import",
            );
            None
        }
    }
}

/// `garp_master_repeat` and its global default: 1..=255 in vipd, and
/// keepalived raises anything below 1 to 1.
pub(super) fn garp_repeat(text: &str, item: &Node, report: &mut Report) -> u32 {
    match values::integer(text) {
        Some(n) if (1..=255).contains(&n) => n as u32,
        Some(n) if n > 255 => {
            report.warn(&item.at, item.text(), "vipd sends at most 255; using 255");
            255
        }
        _ => {
            report.warn(
                &item.at,
                item.text(),
                "keepalived sends at least 1, and so will vipd",
            );
            1
        }
    }
}

/// One `track_script`, `track_file` or `track_process` entry, `NAME [weight
/// N [reverse]]`, resolved against the `kind` blocks defined so far. `None`
/// (reported) when keepalived would not track it. `membership` applies
/// keepalived's sync group rule.
pub(super) fn track_ref(
    entry: &Node,
    kind: &Kind,
    defined: &HashMap<String, Script>,
    lines: &HashMap<String, Location>,
    membership: Option<&Membership>,
    report: &mut Report,
) -> Option<Track> {
    let name = entry.keyword();
    let block = kind.block;
    let (vipd_name, default_weight) = match defined.get(name) {
        Some(Script::Carried { name, weight }) => (name.clone(), *weight),
        Some(Script::Dropped) => {
            report.warn(
                &entry.at,
                entry.text(),
                format!("{block} {name} is not carried over, so neither is tracking it"),
            );
            return None;
        }
        None => {
            let why = match lines.get(name) {
                Some(at) => format!(
                    "{block} {name} is defined only later ({at}); keepalived ignores this reference, so does this import (move the {block} up if you meant it)"
                ),
                None => {
                    format!("no {block} named {name}; keepalived ignores it, so does this import")
                }
            };
            report.warn(&entry.at, entry.text(), why);
            return None;
        }
    };
    // keepalived allows files and processes -254..=254, scripts -253..=253.
    let range = if kind.block == SCRIPT.block {
        weight
    } else {
        tracked::wide_weight
    };
    let explicit = weight_clause(entry, range, report);
    let effective = explicit.unwrap_or(default_weight);
    if let Some(m) = membership
        && !m.keeps_weights
        && effective != 0
    {
        report.warn(
            &entry.at,
            entry.text(),
            format!(
                "keepalived ignores a tracked {} with a weight in a sync group member (this instance is in `{}`, without sync_group_tracking_weight); not carried over",
                kind.noun, m.group
            ),
        );
        return None;
    }
    Some(Track {
        name: vipd_name,
        weight: explicit,
    })
}

/// One `track_interface` entry: `NAME [weight N [reverse]]`.
pub(super) fn track_interface(entry: &Node, report: &mut Report) -> Option<Track> {
    let name = entry.keyword();
    if !crate::config::rules::valid_interface_name(name) {
        report.warn(
            &entry.at,
            entry.text(),
            "not a valid interface name; not carried over",
        );
        return None;
    }
    Some(Track {
        name: name.to_owned(),
        weight: weight_clause(entry, weight, report),
    })
}

/// The `weight N [reverse]` that may follow a tracked name, `N` read by
/// `read` (the range depends on what is tracked).
fn weight_clause(
    entry: &Node,
    read: fn(&str, &Node, &mut Report) -> Option<i16>,
    report: &mut Report,
) -> Option<i16> {
    let weight = match (entry.arg(0), entry.arg(1)) {
        (Some("weight"), Some(w)) => read(w, entry, report),
        (Some(other), _) => {
            report.warn(
                &entry.at,
                entry.text(),
                format!("`{other}` is not `weight N`; ignored"),
            );
            None
        }
        (None, _) => None,
    };
    if entry.args().iter().skip(2).any(|w| w == "reverse") {
        report.warn(&entry.at, entry.text(), REVERSE);
    }
    weight
}

/// `notify_master "COMMAND" [USER [GROUP]]` and friends, instance or group.
pub(super) fn hook(hooks: &mut Hooks, item: &Node, report: &mut Report) {
    let slot = match item.keyword() {
        "notify_master" => &mut hooks.master,
        "notify_backup" => &mut hooks.backup,
        "notify_fault" => &mut hooks.fault,
        "notify_stop" => &mut hooks.stop,
        _ => &mut hooks.notify,
    };
    if slot.is_some() {
        report.warn(
            &item.at,
            item.text(),
            "given twice; keepalived uses the first, so does this import",
        );
        return;
    }
    let Some(text) = item.arg(0) else {
        report.warn(&item.at, item.text(), "no command given; not carried over");
        return;
    };
    if item.args().len() > 1 {
        report.warn(
            &item.at,
            item.text(),
            "vipd runs every hook as [global] script_user; the user and group given here are not carried over",
        );
    }
    // The command comes back with an absolute program, as an Argv needs.
    *slot = values::command(text, &item.at, item.keyword(), report).and_then(Argv::new);
}
