//! Reading TOML tables into the raw structs while collecting every error.
//!
//! serde stops at the first error. To report all of them, a table is
//! deserialized, the key that caused the error is reported and removed, and
//! the table is deserialized again, until it succeeds. A table has a few
//! dozen keys at most, so the repeated passes cost nothing that matters.

use core::cell::Cell;
use core::ops::Range;
use std::collections::BTreeSet;

use serde::Deserialize;
use serde::de::{self, IntoDeserializer, Visitor};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::Collector;

/// A table read leniently: the value built from its good keys, plus what the
/// validator needs to avoid piling more errors onto keys already reported.
pub(super) struct Read<T> {
    pub value: T,
    /// Keys that were present but dropped because of an error.
    pub dropped: BTreeSet<String>,
}

/// Deserializes `table` (titled like `[instances.db]` in messages) as `T`,
/// reporting each bad key. `None` only if an error could not be pinned on a
/// key, which has been reported too.
pub(super) fn read_table<'de, T: Deserialize<'de>>(
    c: &mut Collector<'_>,
    title: &str,
    span: Range<usize>,
    table: &DeTable<'de>,
) -> Option<Read<T>> {
    let mut table = table.clone();
    let mut dropped = BTreeSet::new();
    loop {
        let value = Spanned::new(span.clone(), DeValue::Table(table.clone()));
        let err = match T::deserialize(value.into_deserializer()) {
            Ok(value) => return Some(Read { value, dropped }),
            Err(err) => err,
        };
        let Some(at) = err.span() else {
            c.error(span, format!("in {title}: {}", err.message()));
            return None;
        };
        let culprit = table.iter().find_map(|(k, v)| {
            if k.span() == at {
                Some((k.get_ref().to_string(), true))
            } else if contains(&v.span(), &at) {
                Some((k.get_ref().to_string(), false))
            } else {
                None
            }
        });
        let Some((key, is_key)) = culprit else {
            c.error(at, format!("in {title}: {}", err.message()));
            return None;
        };
        if is_key {
            let valid = struct_fields::<T>();
            c.error(at, unknown_key(&key, title, valid));
            // A misspelt required key is reported once, as unknown, not
            // again as missing: treat the key it stands for as dropped.
            if let Some(meant) = keepalived_hint(&key)
                .map(|(meant, _)| meant)
                .or_else(|| closest(&key, valid))
                .filter(|meant| !meant.is_empty())
            {
                dropped.insert(meant.to_owned());
            }
        } else {
            let whole = table.get(key.as_str()).is_some_and(|v| v.span() == at);
            c.error(at, value_message(&key, whole, err.message()));
        }
        table.remove(key.as_str());
        dropped.insert(key);
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && !outer.is_empty()
}

/// Rewords serde's messages to name the key and say what was expected.
fn value_message(key: &str, whole: bool, msg: &str) -> String {
    let place = if whole { "for" } else { "in" };
    if let Some((found, expected)) = msg
        .strip_prefix("invalid type: ")
        .and_then(|rest| rest.rsplit_once(", expected "))
    {
        let expected = match expected {
            "i64" | "u64" | "i32" | "u32" | "u8" | "i16" => "an integer",
            "a sequence" => "an array",
            "a map" => "a table",
            other => other,
        };
        return format!("wrong type {place} `{key}`: expected {expected}, found {found}");
    }
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let (field, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let mut out = format!("unknown key {field} in a `{key}` entry");
        if !expected.is_empty() {
            out.push_str("; expected ");
            out.push_str(expected);
        }
        return out;
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        return format!("`{key}`: an entry is missing required key {rest}");
    }
    format!("`{key}`: {msg}")
}

/// "unknown key" with a hint: a keepalived spelling, a near miss, or the list.
pub(super) fn unknown_key(key: &str, title: &str, valid: &[&str]) -> String {
    let head = format!("unknown key `{key}` in {title}");
    if let Some((_, hint)) = keepalived_hint(key) {
        return format!("{head}; {hint}");
    }
    if let Some(near) = closest(key, valid) {
        return format!("{head}; did you mean `{near}`?");
    }
    format!("{head}; expected one of: {}", valid.join(", "))
}

/// The nearest valid name within a small edit distance.
pub(super) fn closest<'a>(key: &str, valid: &[&'a str]) -> Option<&'a str> {
    let limit = (key.chars().count() / 3).clamp(1, 3);
    valid
        .iter()
        .map(|v| (edit_distance(key, v), *v))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, v)| v)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// keepalived names that users will carry over: the vipd key meant, and a hint.
fn keepalived_hint(key: &str) -> Option<(&'static str, &'static str)> {
    Some(match key {
        "virtual_router_id" => ("vrid", "keepalived's `virtual_router_id` is `vrid` here"),
        "advert_int" => (
            "advert_interval",
            "keepalived's `advert_int` is `advert_interval` here",
        ),
        "nopreempt" => (
            "preempt",
            "write `preempt = false` instead of keepalived's `nopreempt`",
        ),
        "virtual_ipaddress" => (
            "virtual_ips",
            "keepalived's `virtual_ipaddress` is `virtual_ips` here",
        ),
        "unicast_peer" => (
            "unicast_peers",
            "keepalived's `unicast_peer` is `unicast_peers` here",
        ),
        "track_script" => (
            "track_checks",
            "keepalived's `track_script` is `track_checks` here",
        ),
        "track_interface" => (
            "track_interfaces",
            "keepalived's `track_interface` is `track_interfaces` here",
        ),
        "track_file" => (
            "track_files",
            "keepalived's `track_file` is `track_files` here",
        ),
        "track_process" => (
            "track_processes",
            "keepalived's `track_process` is `track_processes` here",
        ),
        "file" => ("path", "keepalived's track_file `file` is `path` here"),
        "fork_delay" | "terminate_delay" => (
            "delay",
            "vipd has one `delay` for both directions, keepalived's `fork_delay` and `terminate_delay`",
        ),
        "authentication" | "auth_type" => (
            "auth_pass",
            "write `auth_pass = \"...\"` (version = 2 only) instead of an `authentication` block",
        ),
        "garp_master_repeat" => (
            "garp_repeat",
            "keepalived's `garp_master_repeat` is `garp_repeat` here",
        ),
        "garp_master_delay" => (
            "garp_delay",
            "keepalived's `garp_master_delay` is `garp_delay` here",
        ),
        "garp_master_refresh" => (
            "garp_refresh",
            "keepalived's `garp_master_refresh` is `garp_refresh` here",
        ),
        "state" => (
            "",
            "vipd has no initial `state`: the node with the highest priority becomes master",
        ),
        "script" => (
            "command",
            "keepalived's `script` is `command` here, an argv array",
        ),
        "enable_script_security" => (
            "script_security",
            "keepalived's `enable_script_security` is `script_security` here (on by default)",
        ),
        "router_id" => ("node_name", "keepalived's `router_id` is `node_name` here"),
        "group" => (
            "instances",
            "keepalived's sync group `group` is `instances` here",
        ),
        _ => return None,
    })
}

/// The field names a derived `Deserialize` struct accepts, asked of the
/// derive itself so the list never drifts from the struct.
pub(super) fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let fields = Cell::new(&[][..]);
    let _ = T::deserialize(FieldProbe(&fields));
    fields.get()
}

struct FieldProbe<'a>(&'a Cell<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("field probe"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.set(fields);
        Err(de::Error::custom("field probe"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawCheck;

    #[test]
    fn probes_field_names() {
        let fields = struct_fields::<RawCheck>();
        assert_eq!(
            fields,
            ["command", "interval", "timeout", "rise", "fall", "weight"]
        );
    }

    #[test]
    fn suggests_near_misses_only() {
        let valid = ["preempt", "priority", "vrid"];
        assert_eq!(closest("preemt", &valid), Some("preempt"));
        assert_eq!(closest("prority", &valid), Some("priority"));
        assert_eq!(closest("colour", &valid), None);
    }
}
