//! Why an instance cannot serve: a typed reason, worded for operators by its
//! `Display`.

use core::fmt;

/// While one of these holds, the instance is in Fault: it holds no VIP and
/// sends no advert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The instance's own interface is down.
    InterfaceDown {
        /// The interface's name.
        interface: String,
    },
    /// A tracked interface with weight 0 is down.
    TrackedInterfaceDown {
        /// The tracked interface's name.
        interface: String,
    },
    /// A tracked check with weight 0 fails.
    CheckFailing {
        /// The check's name.
        check: String,
    },
    /// A tracked check with weight 0 has not reported yet (keepalived's
    /// initial state: no BACKUP before the first result).
    CheckPending {
        /// The check's name.
        check: String,
    },
    /// A tracked file's value: any non-zero value with weight 0, or a value
    /// times weight below -253.
    TrackedFile {
        /// The tracked file's name.
        file: String,
        /// The value it holds.
        value: i64,
        /// Its weight for this instance.
        weight: i32,
    },
    /// A tracked process with weight 0 is not running (quorum not met).
    ProcessDown {
        /// The tracked process's name.
        process: String,
    },
    /// Another member of the instance's sync group is in Fault.
    SyncGroup {
        /// The group's name.
        group: String,
        /// The member in Fault.
        member: String,
    },
    /// What the daemon found it cannot do for the instance: no interface, no
    /// usable source address, no socket, adverts or VIPs failing. The words
    /// are the edge's.
    Edge(String),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::InterfaceDown { interface } => write!(f, "interface {interface} down"),
            Fault::TrackedInterfaceDown { interface } => {
                write!(f, "tracked interface {interface} down")
            }
            Fault::CheckFailing { check } => write!(f, "check {check} failing"),
            Fault::CheckPending { check } => write!(f, "check {check} has not reported yet"),
            Fault::TrackedFile {
                file,
                value,
                weight: 0,
            } => write!(f, "tracked file {file} value {value}"),
            Fault::TrackedFile {
                file,
                value,
                weight,
            } => write!(
                f,
                "tracked file {file} value {value} x weight {weight} is below -253"
            ),
            Fault::ProcessDown { process } => write!(f, "process {process} not running"),
            Fault::SyncGroup { group, member } => {
                write!(f, "sync group {group}: {member} in FAULT")
            }
            Fault::Edge(why) => f.write_str(why),
        }
    }
}
