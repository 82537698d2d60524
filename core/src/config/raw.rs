//! The file as written: serde structs that mirror the TOML layout.
//!
//! Everything that can be out of range is read loosely here (integers as
//! `i64`, addresses as strings, with spans) so that the validation pass can
//! say precisely what is wrong and where. Required keys are `Option` for the
//! same reason: a missing key is reported by the validator, not by serde.

use core::fmt;
use core::time::Duration;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGlobal {
    pub node_name: Option<Spanned<String>>,
    pub control_socket: Option<Spanned<String>>,
    pub control_group: Option<Spanned<String>>,
    pub metrics_listen: Option<Spanned<String>>,
    pub script_user: Option<Spanned<String>>,
    pub script_security: Option<bool>,
    pub hook_timeout: Option<Spanned<Dur>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEtcd {
    pub endpoints: Option<Spanned<Vec<Spanned<String>>>>,
    pub dial_timeout: Option<Spanned<Dur>>,
    pub request_timeout: Option<Spanned<Dur>>,
    pub username: Option<Spanned<String>>,
    pub password: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    pub cert_file: Option<Spanned<String>>,
    pub key_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLeadership {
    pub key: Option<Spanned<String>>,
    pub ttl: Option<Spanned<Dur>>,
    pub on_etcd_loss: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFollowPatroni {
    pub leader_key: Option<Spanned<String>>,
    pub member: Option<Spanned<String>>,
    pub rest_url: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCheck {
    pub command: Option<Spanned<RawArgv>>,
    pub interval: Option<Spanned<Dur>>,
    pub timeout: Option<Spanned<Dur>>,
    pub rise: Option<Spanned<i64>>,
    pub fall: Option<Spanned<i64>>,
    pub weight: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrackFile {
    pub path: Option<Spanned<String>>,
    pub weight: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrackProcess {
    pub process: Option<Spanned<String>>,
    pub args: Option<Spanned<Vec<String>>>,
    pub full_command: Option<bool>,
    pub weight: Option<Spanned<i64>>,
    pub quorum: Option<Spanned<i64>>,
    pub quorum_max: Option<Spanned<i64>>,
    pub delay: Option<Spanned<Dur>>,
}

// The notify_* keys are repeated in instances and sync groups rather than
// flattened: serde's flatten buffers values and loses their spans.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInstance {
    pub interface: Option<Spanned<String>>,
    pub vrid: Option<Spanned<i64>>,
    pub priority: Option<Spanned<i64>>,
    pub version: Option<Spanned<i64>>,
    pub advert_interval: Option<Spanned<Dur>>,
    pub preempt: Option<bool>,
    pub fast_takeover: Option<bool>,
    pub preempt_delay: Option<Spanned<Dur>>,
    pub virtual_ips: Option<Spanned<Vec<Spanned<String>>>>,
    pub unicast_src_ip: Option<Spanned<String>>,
    pub unicast_peers: Option<Vec<Spanned<String>>>,
    pub auth_pass: Option<Spanned<String>>,
    pub track_checks: Option<Vec<Spanned<RawTrack>>>,
    pub track_interfaces: Option<Vec<Spanned<RawTrack>>>,
    pub track_files: Option<Vec<Spanned<RawTrack>>>,
    pub track_processes: Option<Vec<Spanned<RawTrack>>>,
    pub garp_repeat: Option<Spanned<i64>>,
    pub garp_delay: Option<Spanned<Dur>>,
    pub garp_refresh: Option<Spanned<Dur>>,
    pub hook_timeout: Option<Spanned<Dur>>,
    pub leadership: Option<Spanned<RawLeadership>>,
    pub follow_patroni: Option<Spanned<RawFollowPatroni>>,
    pub notify_master: Option<Spanned<RawArgv>>,
    pub notify_backup: Option<Spanned<RawArgv>>,
    pub notify_fault: Option<Spanned<RawArgv>>,
    pub notify_stop: Option<Spanned<RawArgv>>,
    pub notify: Option<Spanned<RawArgv>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSyncGroup {
    pub instances: Option<Spanned<Vec<Spanned<String>>>>,
    pub leadership: Option<Spanned<RawLeadership>>,
    pub notify_master: Option<Spanned<RawArgv>>,
    pub notify_backup: Option<Spanned<RawArgv>>,
    pub notify_fault: Option<Spanned<RawArgv>>,
    pub notify_stop: Option<Spanned<RawArgv>>,
    pub notify: Option<Spanned<RawArgv>>,
}

/// A duration: a humantime string (`"1s"`, `"250ms"`, `"1m 30s"`) or a bare
/// number of seconds, which is how keepalived users write intervals.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"1s\" or \"250ms\", or a number of seconds")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                humantime::parse_duration(s).map(Dur).map_err(|e| {
                    E::custom(format!(
                        "invalid duration {s:?}: {e}; write durations like \"1s\", \"250ms\" or \"1m 30s\""
                    ))
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                u64::try_from(v)
                    .map(|s| Dur(Duration::from_secs(s)))
                    .map_err(|_| E::custom(format!("a duration cannot be negative, found {v}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                Ok(Dur(Duration::from_secs(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                if v.is_nan() || v < 0.0 {
                    return Err(E::custom(format!(
                        "a duration cannot be negative, found {v}"
                    )));
                }
                // Round to whole nanoseconds so 0.1 means exactly 100ms.
                let nanos = (v * 1e9).round();
                if !nanos.is_finite() || nanos > u64::MAX as f64 {
                    return Err(E::custom(format!("duration {v} is too large")));
                }
                Ok(Dur(Duration::from_nanos(nanos as u64)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A program and its arguments, run without a shell.
#[derive(Debug, Clone)]
pub(super) struct RawArgv(pub Vec<String>);

impl<'de> Deserialize<'de> for RawArgv {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawArgv;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an array of strings: the program and its arguments, run without a shell, \
                     like [\"/usr/lib/vipd/notify.sh\", \"arg\"]",
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawArgv, A::Error> {
                let mut argv = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    argv.push(arg);
                }
                Ok(RawArgv(argv))
            }
        }
        d.deserialize_seq(V)
    }
}

/// An entry of `track_checks`, `track_interfaces`, `track_files` or
/// `track_processes`: `"name"` or
/// `{ name = "name", weight = -20 }`.
///
/// Hand-written rather than `serde(untagged)` so a wrong entry says what the
/// two accepted forms are instead of "data did not match any variant".
#[derive(Debug)]
pub(super) enum RawTrack {
    Name(String),
    Table(RawTrackTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrackTable {
    pub name: Spanned<String>,
    pub weight: Option<Spanned<i64>>,
}

impl<'de> Deserialize<'de> for RawTrack {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawTrack;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name, or a table like { name = \"...\", weight = -20 }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawTrack, E> {
                Ok(RawTrack::Name(s.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawTrack, A::Error> {
                RawTrackTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawTrack::Table)
            }
        }
        d.deserialize_any(V)
    }
}
