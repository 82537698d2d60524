//! A compact human listing of a validated configuration, every effective
//! value spelled out (defaults included), as printed by `vipd check`.

use core::fmt::{self, Display, Formatter, Write as _};
use core::time::Duration;

use super::{
    Check, Config, Global, Hooks, InstanceConfig, LeaseSettings, SyncGroupConfig, TrackFile,
    TrackProcess,
};
use crate::wire::Version;

fn row(f: &mut Formatter<'_>, key: &str, value: impl Display) -> fmt::Result {
    writeln!(f, "  {key:<17}{value}")
}

fn dur(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Weight 0 means "fault on failure", which is worth saying out loud.
fn weight(w: i16) -> String {
    if w == 0 {
        "fault".to_owned()
    } else {
        format!("{w:+}")
    }
}

fn list<T: Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{item}");
    }
    out
}

/// Tracked names, each with its weight as `shown` says it.
fn uses<'a>(tracked: impl Iterator<Item = (&'a String, i16)>, shown: fn(i16) -> String) -> String {
    let items: Vec<String> = tracked
        .map(|(name, w)| format!("{name} {}", shown(w)))
        .collect();
    list(&items)
}

fn hooks(f: &mut Formatter<'_>, h: &Hooks) -> fmt::Result {
    if h.is_empty() {
        return row(f, "hooks", "none");
    }
    for (key, argv) in h.by_key() {
        if let Some(argv) = argv {
            row(f, key, argv)?;
        }
    }
    Ok(())
}

impl Display for Global {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "global")?;
        row(
            f,
            "node_name",
            self.node_name.as_deref().unwrap_or("(the hostname)"),
        )?;
        row(f, "control_socket", self.control_socket.display())?;
        row(
            f,
            "control_group",
            self.control_group
                .as_deref()
                .unwrap_or("(the daemon's group)"),
        )?;
        match self.metrics_listen {
            Some(addr) => row(f, "metrics_listen", addr)?,
            None => row(f, "metrics_listen", "off")?,
        }
        row(
            f,
            "script_user",
            self.script_user.as_deref().unwrap_or("(the daemon's user)"),
        )?;
        row(
            f,
            "script_security",
            if self.script_security { "on" } else { "off" },
        )?;
        row(f, "hook_timeout", dur(self.hook_timeout))
    }
}

impl Display for InstanceConfig {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "instance {}: vrid {} on {}, VRRPv{} {}",
            self.name,
            self.vrid,
            self.interface,
            self.version.number(),
            self.family
        )?;
        let owner = if self.is_address_owner() {
            " (address owner)"
        } else {
            ""
        };
        row(f, "priority", format_args!("{}{owner}", self.priority))?;
        row(f, "advert_interval", self.advert_interval)?;
        if self.preempt {
            let fast = if self.fast_takeover {
                ", fast takeover"
            } else {
                ""
            };
            row(
                f,
                "preempt",
                format_args!("yes, delay {}{fast}", dur(self.preempt_delay)),
            )?;
        } else {
            row(f, "preempt", "no")?;
        }
        row(f, "virtual_ips", list(&self.virtual_ips))?;
        let from = match self.unicast_src_ip {
            Some(src) => format!(" from {src}"),
            None => String::new(),
        };
        if self.is_unicast() {
            row(
                f,
                "advertise to",
                format_args!("unicast {}{from}", list(&self.unicast_peers)),
            )?;
        } else {
            row(
                f,
                "advertise to",
                format_args!("multicast {}{from}", self.multicast_group()),
            )?;
        }
        if self.version == Version::V2 {
            // Never echo the password itself.
            match &self.auth_pass {
                Some(p) => row(f, "auth_pass", format_args!("set ({} bytes)", p.len()))?,
                None => row(f, "auth_pass", "none")?,
            }
        }
        let checks = self.track_checks.iter().map(|t| (&t.name, t.weight));
        row(f, "track_checks", uses(checks, weight))?;
        let ifaces = self.track_interfaces.iter().map(|t| (&t.name, t.weight));
        row(f, "track_interfaces", uses(ifaces, weight))?;
        let files = self.track_files.iter().map(|t| (&t.name, t.weight));
        row(f, "track_files", uses(files, file_weight))?;
        let processes = self.track_processes.iter().map(|t| (&t.name, t.weight));
        row(f, "track_processes", uses(processes, weight))?;
        let second = if self.garp_delay.is_zero() {
            String::new()
        } else {
            format!(", {} more after {}", self.garp_repeat, dur(self.garp_delay))
        };
        let refresh = match self.garp_refresh {
            Some(every) => format!(", then every {} while master", dur(every)),
            None => String::new(),
        };
        row(
            f,
            "garp",
            format_args!("{} at once{second}{refresh}", self.garp_repeat),
        )?;
        hooks(f, &self.hooks)?;
        row(f, "hook_timeout", dur(self.hook_timeout))?;
        leadership(f, self.leadership.as_ref())?;
        row(
            f,
            "sync_group",
            self.sync_group.as_deref().unwrap_or("none"),
        )
    }
}

/// The lock in etcd an instance or group needs to be master, if any.
fn leadership(f: &mut Formatter<'_>, lock: Option<&LeaseSettings>) -> fmt::Result {
    match lock {
        Some(l) => row(
            f,
            "leadership",
            format_args!(
                "key {}, ttl {}, on etcd loss {}",
                l.key,
                dur(l.ttl),
                l.on_etcd_loss.as_str()
            ),
        ),
        None => row(f, "leadership", "none"),
    }
}

/// A file's weight multiplies its value; 0 makes any non-zero value a fault.
fn file_weight(w: i16) -> String {
    if w == 0 {
        "fault unless 0".to_owned()
    } else {
        format!("x{w}")
    }
}

impl Display for TrackFile {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "track_file {}", self.name)?;
        row(f, "path", self.path.display())?;
        if self.weight == 0 {
            row(
                f,
                "weight",
                "0 (a non-zero value puts tracking instances in fault)",
            )
        } else {
            row(
                f,
                "weight",
                format_args!("{} (priority change: value x {})", self.weight, self.weight),
            )
        }
    }
}

impl Display for TrackProcess {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "track_process {}", self.name)?;
        let what = if self.full_command {
            if self.process.contains('/') {
                "argv[0]"
            } else {
                "basename of argv[0]"
            }
        } else {
            "/proc/PID/comm"
        };
        row(f, "process", format_args!("{:?} ({what})", self.process))?;
        match &self.args {
            Some(args) => row(f, "args", format_args!("{args:?} (exactly)"))?,
            None => row(f, "args", "any")?,
        }
        let quorum = match self.quorum_max {
            Some(max) => format!("{} to {max} running", self.quorum),
            None => format!("at least {} running", self.quorum),
        };
        row(f, "up when", quorum)?;
        row(f, "delay", dur(self.delay))?;
        if self.weight == 0 {
            row(f, "weight", "0 (down puts tracking instances in fault)")
        } else {
            row(f, "weight", weight(self.weight))
        }
    }
}

impl Display for SyncGroupConfig {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "sync_group {}", self.name)?;
        row(f, "instances", list(&self.instances))?;
        leadership(f, self.leadership.as_ref())?;
        hooks(f, &self.hooks)
    }
}

impl Display for Config {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.global)?;
        tables(f, self.checks.values())?;
        tables(f, self.track_files.values())?;
        tables(f, self.track_processes.values())?;
        tables(f, self.instances.values())?;
        tables(f, self.sync_groups.values())
    }
}

/// Each table's listing after a blank line.
fn tables<'a, T: Display + 'a>(
    f: &mut Formatter<'_>,
    items: impl Iterator<Item = &'a T>,
) -> fmt::Result {
    for item in items {
        writeln!(f)?;
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for Check {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "check {}", self.name)?;
        row(f, "command", &self.command)?;
        row(
            f,
            "schedule",
            format_args!(
                "every {}, timeout {}, rise {}, fall {}",
                dur(self.interval),
                dur(self.timeout),
                self.rise,
                self.fall
            ),
        )?;
        if self.weight == 0 {
            row(f, "weight", "0 (failing puts tracking instances in fault)")
        } else {
            row(f, "weight", weight(self.weight))
        }
    }
}
