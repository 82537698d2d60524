//! What vip-manager's settings mean for vipd, and what is said about those
//! that do not carry over.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use super::keys::Setting;
use super::yaml::{Entry, Value};
use super::{Note, NoteKind};

/// vip-manager's etcd endpoint when `dcs-endpoints` is not set.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:2379";

/// The vipd configuration to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    /// The instance's name: the Patroni scope, else `vip`.
    pub instance: String,
    pub interface: String,
    pub vip: IpNet,
    pub leader_key: String,
    /// This node's Patroni member name; `None` when the file leaves it to
    /// the host name, which the operator must then write in.
    pub member: Option<String>,
    pub etcd: Etcd,
}

impl Plan {
    /// The vipd settings the operator must still fill in.
    pub(super) fn missing(&self) -> Vec<&'static str> {
        let e = &self.etcd;
        [
            (self.member.is_none(), "follow_patroni.member"),
            (
                e.password.is_none() && e.username.is_some(),
                "etcd.password",
            ),
            (
                e.username.is_none() && e.password.is_some(),
                "etcd.username",
            ),
            (
                e.key_file.is_none() && e.cert_file.is_some(),
                "etcd.key_file",
            ),
            (
                e.cert_file.is_none() && e.key_file.is_some(),
                "etcd.cert_file",
            ),
        ]
        .into_iter()
        .filter_map(|(missing, name)| missing.then_some(name))
        .collect()
    }
}

/// The `[etcd]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Etcd {
    pub endpoints: Vec<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

/// The notes of one import.
pub(super) struct Notes {
    file: String,
    list: Vec<Note>,
}

impl Notes {
    pub(super) fn new(file: &str) -> Notes {
        Notes {
            file: file.to_owned(),
            list: Vec::new(),
        }
    }

    fn add(&mut self, kind: NoteKind, line: Option<usize>, subject: &str, message: String) {
        self.list.push(Note {
            file: self.file.clone(),
            line,
            subject: subject.to_owned(),
            kind,
            message,
        });
    }

    fn error(&mut self, line: Option<usize>, subject: &str, message: impl Into<String>) {
        self.add(NoteKind::Error, line, subject, message.into());
    }

    pub(super) fn warn(&mut self, line: Option<usize>, subject: &str, message: impl Into<String>) {
        self.add(NoteKind::Warning, line, subject, message.into());
    }

    fn require(&mut self, line: Option<usize>, subject: &str, message: impl Into<String>) {
        self.add(NoteKind::Required, line, subject, message.into());
    }

    fn info(&mut self, line: Option<usize>, subject: &str, message: impl Into<String>) {
        self.add(NoteKind::Info, line, subject, message.into());
    }

    pub(super) fn has_errors(&self) -> bool {
        self.list.iter().any(|n| n.kind == NoteKind::Error)
    }

    /// The notes by line; those about no line last, in the order found.
    pub(super) fn into_sorted(mut self) -> Vec<Note> {
        self.list.sort_by_key(|n| n.line.unwrap_or(usize::MAX));
        self.list
    }
}

/// The file's settings by meaning.
struct Settings<'a> {
    found: BTreeMap<Setting, &'a Entry>,
}

impl<'a> Settings<'a> {
    /// Sorts the entries by setting; reports unknown keys and settings
    /// given twice under different names.
    fn gather(entries: &'a [Entry], notes: &mut Notes) -> Settings<'a> {
        let mut found: BTreeMap<Setting, &'a Entry> = BTreeMap::new();
        for entry in entries {
            let line = Some(entry.at.line);
            let Some(setting) = Setting::from_key(&entry.key) else {
                notes.warn(line, &entry.key, "not a vip-manager setting; ignored");
                continue;
            };
            match found.get(&setting) {
                None => {
                    found.insert(setting, entry);
                }
                Some(first) if first.value == entry.value => notes.warn(
                    line,
                    &entry.key,
                    format!(
                        "same setting as `{}` on line {}, with the same value; ignored",
                        first.key, first.at.line
                    ),
                ),
                // vip-manager itself refuses to start on this.
                Some(first) => notes.error(
                    line,
                    &entry.key,
                    format!(
                        "same setting as `{}` on line {}, with another value; keep one of them",
                        first.key, first.at.line
                    ),
                ),
            }
        }
        Settings { found }
    }

    fn get(&self, setting: Setting) -> Option<&'a Entry> {
        self.found.get(&setting).copied()
    }

    /// The line and key of a setting, or its current name when absent.
    fn place(&self, setting: Setting) -> (Option<usize>, &str) {
        match self.get(setting) {
            Some(e) => (Some(e.at.line), &e.key),
            None => (None, setting.name()),
        }
    }

    /// A single-valued setting's text; `None` when absent or empty. A list
    /// or mapping is reported (an error when `required`) and ignored.
    fn text(&self, setting: Setting, required: bool, notes: &mut Notes) -> Option<String> {
        let found = self.get(setting)?;
        match &found.value {
            Value::Text(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
            Value::Text(_) | Value::Empty => None,
            Value::List(_) | Value::Other(_) => {
                let what = match &found.value {
                    Value::Other(what) => what,
                    _ => "a list",
                };
                let message = format!("expected a single value, found {what}");
                if required {
                    notes.error(Some(found.at.line), &found.key, message);
                } else {
                    notes.warn(
                        Some(found.at.line),
                        &found.key,
                        format!("{message}; ignored"),
                    );
                }
                None
            }
        }
    }

    /// A required setting's text; an error note when it is absent.
    fn required(&self, setting: Setting, notes: &mut Notes) -> Option<String> {
        let text = self.text(setting, true, notes);
        if text.is_none() && !self.is_malformed(setting) {
            let (line, key) = self.place(setting);
            notes.error(
                line,
                key,
                "not set; vip-manager requires it, and so does vipd",
            );
        }
        text
    }

    fn is_malformed(&self, setting: Setting) -> bool {
        self.get(setting)
            .is_some_and(|e| matches!(e.value, Value::List(_) | Value::Other(_)))
    }
}

/// Translates `entries`; `None` when an error note says why it cannot be.
pub(super) fn translate(entries: &[Entry], notes: &mut Notes) -> Option<Plan> {
    let settings = Settings::gather(entries, notes);
    let usable_dcs = dcs_type(&settings, notes);
    let usable_manager = manager_type(&settings, notes);

    let ip = settings.required(Setting::Ip, notes).and_then(|text| {
        let parsed = text.parse::<IpAddr>().ok();
        if parsed.is_none() {
            let (line, key) = settings.place(Setting::Ip);
            notes.error(line, key, format!("`{text}` is not an IP address"));
        }
        parsed
    });
    let prefix = settings.required(Setting::Netmask, notes).and_then(|text| {
        match netmask_prefix(&text, ip) {
            Ok(prefix) => Some(prefix),
            Err(why) => {
                let (line, key) = settings.place(Setting::Netmask);
                notes.error(line, key, why);
                None
            }
        }
    });
    let interface = settings.required(Setting::Interface, notes);
    if let Some(name) = interface.as_deref()
        && !crate::config::rules::valid_interface_name(name)
    {
        let (line, key) = settings.place(Setting::Interface);
        notes.error(
            line,
            key,
            format!(
                "{name:?} is not a valid interface name (1 to 15 bytes, no '/', ':' or spaces)"
            ),
        );
    }
    let leader_key = settings.required(Setting::TriggerKey, notes);
    let instance = leader_key
        .as_deref()
        .map(|key| instance_name(key, &settings, notes));
    let member = member(&settings, notes);
    let etcd = etcd(&settings, notes);
    ignored(&settings, notes);

    let vip = IpNet::new(ip?, prefix?).ok()?;
    if !(usable_dcs && usable_manager) || notes.has_errors() {
        return None;
    }
    notes.info(
        None,
        "rest_url",
        "vip-manager has no equivalent; you may add rest_url = \"http://<this node>:8008\" to \
         follow_patroni so that vipd also asks the local Patroni (GET /primary) before holding \
         the address",
    );
    Some(Plan {
        instance: instance?,
        interface: interface?,
        vip,
        leader_key: leader_key?,
        member,
        etcd,
    })
}

/// `dcs-type`: vipd follows Patroni through etcd only. Says whether the
/// file can be translated.
fn dcs_type(settings: &Settings<'_>, notes: &mut Notes) -> bool {
    let (line, key) = settings.place(Setting::DcsType);
    let kind = settings
        .text(Setting::DcsType, true, notes)
        .map(|t| t.to_ascii_lowercase());
    if settings.is_malformed(Setting::DcsType) {
        return false;
    }
    match kind.as_deref() {
        None | Some("etcd") => {
            let said = if kind.is_none() {
                "not set, so etcd"
            } else {
                "etcd"
            };
            notes.info(
                line,
                key,
                format!(
                    "{said}: vip-manager 1.x reads etcd's v2 keyspace, vipd the v3 one: Patroni \
                     must write its leader key through its `etcd3:` section, not `etcd:` \
                     (vip-manager 2.x reads v3 too; write `dcs-type: etcd3` to say the cluster \
                     is on v3)"
                ),
            );
            true
        }
        Some("etcd3") => true,
        Some("patroni") => {
            notes.error(
                line,
                key,
                "patroni (polling Patroni's REST API) is not supported: vipd follows Patroni's \
                 leader key in etcd, and can confirm with the REST API through \
                 follow_patroni.rest_url, but not instead of etcd",
            );
            false
        }
        Some(other) => {
            let known = matches!(other, "consul" | "kubernetes" | "exabgp");
            let what = if known {
                format!("{other} is not supported")
            } else {
                format!("`{other}` is not a dcs-type vip-manager knows")
            };
            notes.error(
                line,
                key,
                format!("{what}: vipd follows Patroni through etcd only"),
            );
            false
        }
    }
}

/// `manager-type` (or `hosting-type`): vipd adds and removes the address on
/// the interface itself. Says whether the file can be translated.
fn manager_type(settings: &Settings<'_>, notes: &mut Notes) -> bool {
    let (line, key) = settings.place(Setting::ManagerType);
    match settings.text(Setting::ManagerType, true, notes) {
        None => !settings.is_malformed(Setting::ManagerType),
        Some(kind) if kind.eq_ignore_ascii_case("basic") => true,
        Some(kind) => {
            notes.error(
                line,
                key,
                format!(
                    "{kind} is not supported: vipd adds the address to the interface itself and \
                     cannot move it through a provider's API"
                ),
            );
            false
        }
    }
}

/// A prefix length from `netmask`: a length (`24`) or, for IPv4, a dotted
/// mask (`255.255.255.0`).
fn netmask_prefix(text: &str, ip: Option<IpAddr>) -> Result<u8, String> {
    let max = match ip {
        Some(IpAddr::V6(_)) => 128,
        _ => 32,
    };
    if let Ok(len) = text.parse::<u8>() {
        return if len <= max {
            Ok(len)
        } else {
            Err(format!("{len} is longer than {max} bits"))
        };
    }
    let mask = text
        .parse::<Ipv4Addr>()
        .map_err(|_| format!("`{text}` is neither a prefix length nor a dotted netmask"))?;
    if max != 32 {
        return Err(format!(
            "`{text}` is a dotted IPv4 netmask for an IPv6 address; give a prefix length"
        ));
    }
    let bits = u32::from(mask);
    let len = bits.leading_ones();
    // Contiguous: every bit after the first zero is zero.
    if bits.checked_shl(len).unwrap_or(0) != 0 {
        return Err(format!("`{text}` is not a contiguous netmask"));
    }
    Ok(len as u8)
}

/// The instance's name: the Patroni scope of `/<namespace>/<scope>/leader`,
/// else `vip`, with a note.
fn instance_name(key: &str, settings: &Settings<'_>, notes: &mut Notes) -> String {
    let parts: Vec<&str> = key.split('/').collect();
    // ["", namespace parts..., scope, "leader"]
    let patroni_form = parts.len() >= 4
        && parts[0].is_empty()
        && parts[parts.len() - 1] == "leader"
        && parts[1..].iter().all(|p| !p.is_empty());
    let (line, name) = settings.place(Setting::TriggerKey);
    if patroni_form {
        let scope = parts[parts.len() - 2];
        if crate::config::is_valid_name(scope) {
            return scope.to_owned();
        }
        // Patroni takes any scope; vipd names are kept to characters that
        // need no quoting in hook arguments, logs and metric labels.
        notes.warn(
            line,
            name,
            format!(
                "the Patroni scope {scope:?} cannot name a vipd instance (ASCII letters, digits, \
                 '_', '-' and '.' only); the instance is named \"vip\""
            ),
        );
        return "vip".to_owned();
    }
    // The rule `vipd check` applies to `leader_key`.
    let message = if key.starts_with('/') && key.len() > 1 {
        format!(
            "`{key}` is not of the form /<namespace>/<scope>/leader that Patroni writes its \
             leader to; vipd watches it as given, in an instance named \"vip\": check it against \
             Patroni's `namespace` and `scope`"
        )
    } else {
        // etcd keys need no leading '/', vipd's do: prepending one would
        // watch another key, so the key is carried over as written.
        format!(
            "`{key}` is not a key like the one Patroni writes its leader to \
             (/<namespace>/<scope>/leader); it is carried over as written, in an instance named \
             \"vip\", and `vipd check` rejects it until you set that key"
        )
    };
    notes.warn(line, name, message);
    "vip".to_owned()
}

/// `trigger-value`: this node's Patroni member name. Without it
/// vip-manager uses the host name; the import does not guess it.
fn member(settings: &Settings<'_>, notes: &mut Notes) -> Option<String> {
    let member = settings.text(Setting::TriggerValue, false, notes);
    if member.is_none() {
        let (line, key) = settings.place(Setting::TriggerValue);
        notes.require(
            line,
            key,
            "not set, and vip-manager falls back to the host name; the output leaves `member` \
             out of follow_patroni, so `vipd check` rejects it until you add member = \"NAME\" \
             with this node's Patroni `name`",
        );
    }
    member
}

/// A file setting: vipd takes absolute paths only (it may run from any
/// directory); a relative one is carried over as written, and said so.
fn file(settings: &Settings<'_>, setting: Setting, notes: &mut Notes) -> Option<String> {
    let path = settings.text(setting, false, notes)?;
    if !std::path::Path::new(&path).is_absolute() {
        let (line, key) = settings.place(setting);
        notes.warn(
            line,
            key,
            format!(
                "{path:?} is not an absolute path; carried over as written, so `vipd check` \
                 rejects it until it is"
            ),
        );
    }
    Some(path)
}

/// The `[etcd]` table from `dcs-endpoints` and the `etcd-*` settings.
fn etcd(settings: &Settings<'_>, notes: &mut Notes) -> Etcd {
    let ca_file = file(settings, Setting::EtcdCaFile, notes);
    let cert_file = file(settings, Setting::EtcdCertFile, notes);
    let key_file = file(settings, Setting::EtcdKeyFile, notes);
    let tls = ca_file.is_some() || cert_file.is_some();
    let entry = settings.get(Setting::DcsEndpoints);
    let listed: Vec<(String, usize)> = match entry.map(|e| &e.value) {
        Some(Value::List(items)) => items.iter().map(|(t, at)| (t.clone(), at.line)).collect(),
        // A comma-separated list, as vip-manager's flag and variable take.
        Some(Value::Text(text)) => {
            let line = entry.map_or(0, |e| e.at.line);
            text.split(',').map(|t| (t.to_owned(), line)).collect()
        }
        _ => Vec::new(),
    };
    let key = entry.map_or(Setting::DcsEndpoints.name(), |e| e.key.as_str());
    let mut endpoints: Vec<String> = listed
        .into_iter()
        .filter(|(t, _)| !t.trim().is_empty())
        .map(|(t, line)| endpoint(t.trim(), tls, line, key, notes))
        .collect();
    if endpoints.is_empty() {
        let (line, key) = settings.place(Setting::DcsEndpoints);
        if let Some(Value::Other(what)) = entry.map(|e| &e.value) {
            notes.warn(
                line,
                key,
                format!("expected a list of URLs, found {what}; ignored"),
            );
        }
        notes.info(
            line,
            key,
            format!("not set; vip-manager's default {DEFAULT_ENDPOINT} is carried over"),
        );
        endpoints.push(DEFAULT_ENDPOINT.to_owned());
    }
    let etcd = Etcd {
        endpoints,
        username: settings.text(Setting::EtcdUser, false, notes),
        password: settings.text(Setting::EtcdPassword, false, notes),
        ca_file,
        cert_file,
        key_file,
    };
    // vipd takes these in pairs; vip-manager let one of each pair alone.
    let pairs = [
        (
            Setting::EtcdUser,
            etcd.username.is_some(),
            Setting::EtcdPassword,
            etcd.password.is_some(),
            "password",
        ),
        (
            Setting::EtcdPassword,
            etcd.password.is_some(),
            Setting::EtcdUser,
            etcd.username.is_some(),
            "username",
        ),
        (
            Setting::EtcdCertFile,
            etcd.cert_file.is_some(),
            Setting::EtcdKeyFile,
            etcd.key_file.is_some(),
            "key_file",
        ),
        (
            Setting::EtcdKeyFile,
            etcd.key_file.is_some(),
            Setting::EtcdCertFile,
            etcd.cert_file.is_some(),
            "cert_file",
        ),
    ];
    for (given, has_given, partner, has_partner, vipd_key) in pairs {
        if has_given && !has_partner {
            let (line, key) = settings.place(given);
            notes.require(
                line,
                key,
                format!(
                    "set without {}; vipd takes both or neither, so `vipd check` rejects the \
                     output until you add {vipd_key} to [etcd] (or remove its partner)",
                    partner.name()
                ),
            );
        }
    }
    etcd
}

/// One etcd endpoint as vipd takes it: `http://HOST:PORT` or
/// `https://HOST:PORT`.
fn endpoint(text: &str, tls: bool, line: usize, key: &str, notes: &mut Notes) -> String {
    let text = text.trim_end_matches('/');
    if !text.contains("://") {
        // vip-manager 2.x's etcd client reads a bare HOST:PORT, over TLS
        // when it has TLS files; 1.x's needs a scheme.
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{text}");
        if crate::config::is_etcd_client_url(&url) {
            notes.warn(
                Some(line),
                key,
                format!("`{text}` has no scheme; written as `{url}`"),
            );
            return url;
        }
    }
    if !crate::config::is_etcd_client_url(text) {
        notes.warn(
            Some(line),
            key,
            format!(
                "`{text}` is not an etcd client URL vipd takes (http://HOST:PORT or \
                 https://HOST:PORT); carried over as written, so `vipd check` rejects it until \
                 it is fixed"
            ),
        );
    }
    text.to_owned()
}

/// The settings vipd has no use for, each said once.
fn ignored(settings: &Settings<'_>, notes: &mut Notes) {
    if let Some(e) = settings.get(Setting::ConsulToken) {
        notes.warn(Some(e.at.line), &e.key, "used only with consul; ignored");
    }
    let polling: Vec<&Entry> = [Setting::Interval, Setting::RetryAfter, Setting::RetryNum]
        .iter()
        .filter_map(|s| settings.get(*s))
        .collect();
    if let Some(first) = polling.iter().min_by_key(|e| e.at.line) {
        let names: Vec<&str> = polling.iter().map(|e| e.key.as_str()).collect();
        notes.info(
            Some(first.at.line),
            &names.join(", "),
            "vipd watches the leader key and acts when it changes instead of polling it, so \
             these have no equivalent",
        );
    }
    // `verbose: false` asks for nothing vipd does not do.
    let quiet = |t: &str| {
        matches!(
            t.to_ascii_lowercase().as_str(),
            "false" | "f" | "0" | "no" | "off"
        )
    };
    let verbose = settings.text(Setting::Verbose, false, notes);
    if let (Some(e), Some(false)) = (
        settings.get(Setting::Verbose),
        verbose.as_deref().map(quiet),
    ) {
        notes.info(
            Some(e.at.line),
            &e.key,
            "vipd's log detail is set by the VIPD_LOG environment variable (VIPD_LOG=debug), \
             not in the file",
        );
    }
}
