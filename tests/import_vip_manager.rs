//! `vipd import-vip-manager` as an operator runs it: the binary on the
//! fixtures in `tests/fixtures/vip-manager/` (a 1.x-style file with the old
//! key names, a 2.x-style one, and files it cannot or can only partly
//! carry over), checking stdout, stderr and the exit status.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vip-manager")
        .join(name)
}

fn import(name: &str) -> (Output, String, Vec<String>) {
    let path = fixture(name);
    let out = Command::new(env!("CARGO_BIN_EXE_vipd"))
        .arg("import-vip-manager")
        .arg(&path)
        .output()
        .expect("run vipd");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let shown = path.display().to_string();
    // Notes name the file as given; compare them without the path.
    let lines = stderr.lines().map(|l| l.replace(&shown, "FILE")).collect();
    (out, stderr, lines)
}

fn toml_of(out: &Output) -> toml::Table {
    let text = String::from_utf8(out.stdout.clone()).expect("UTF-8 output");
    text.parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("stdout is not TOML: {e}\n{text}"))
}

fn keys(value: &toml::Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_table()
        .expect("a table")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn strings(value: &toml::Value) -> Vec<&str> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_str().expect("a string"))
        .collect()
}

const REST_URL_NOTE: &str = "FILE: rest_url: note: vip-manager has no equivalent; you may add rest_url = \"http://<this node>:8008\" to follow_patroni so that vipd also asks the local Patroni (GET /primary) before holding the address";
const POLLING: &str = "note: vipd watches the leader key and acts when it changes instead of polling it, so these have no equivalent";

#[test]
fn a_1x_file_with_the_old_key_names() {
    let (out, stderr, lines) = import("v1.yml");
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert_eq!(
        lines,
        [
            format!("FILE:3: interval, retry_after, retry_num: {POLLING}"),
            "FILE:13: endpoint_type: note: etcd: vip-manager 1.x reads etcd's v2 keyspace, vipd the v3 one: Patroni must write its leader key through its `etcd3:` section, not `etcd:` (vip-manager 2.x reads v3 too; write `dcs-type: etcd3` to say the cluster is on v3)".to_owned(),
            REST_URL_NOTE.to_owned(),
            "vipd: imported 1 instance following Patroni from FILE; 3 note(s) above".to_owned(),
        ]
    );
    let doc = toml_of(&out);
    assert_eq!(
        keys(&toml::Value::Table(doc.clone())),
        ["etcd", "instances"]
    );
    let etcd = &doc["etcd"];
    assert_eq!(keys(etcd), ["endpoints", "password", "username"]);
    assert_eq!(
        strings(&etcd["endpoints"]),
        [
            "http://192.0.2.11:2379",
            "http://192.0.2.12:2379",
            "http://192.0.2.13:2379"
        ]
    );
    assert_eq!(etcd["username"].as_str(), Some("patroni"));
    assert_eq!(etcd["password"].as_str(), Some("example-password"));
    assert_eq!(keys(&doc["instances"]), ["pg"]);
    let pg = &doc["instances"]["pg"];
    assert_eq!(keys(pg), ["follow_patroni", "interface", "virtual_ips"]);
    assert_eq!(pg["interface"].as_str(), Some("eth0"));
    assert_eq!(strings(&pg["virtual_ips"]), ["192.0.2.60/24"]);
    let follow = &pg["follow_patroni"];
    assert_eq!(keys(follow), ["leader_key", "member"]);
    assert_eq!(follow["leader_key"].as_str(), Some("/service/pg/leader"));
    assert_eq!(follow["member"].as_str(), Some("pg-a"));
}

#[test]
fn a_2x_file_on_etcd_v3_with_tls() {
    let (out, stderr, lines) = import("v2.yml");
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert_eq!(
        lines,
        [
            format!("FILE:19: interval, retry-after, retry-num: {POLLING}"),
            REST_URL_NOTE.to_owned(),
            "vipd: imported 1 instance following Patroni from FILE; 2 note(s) above".to_owned(),
        ]
    );
    let doc = toml_of(&out);
    let etcd = &doc["etcd"];
    assert_eq!(
        keys(etcd),
        ["ca_file", "cert_file", "endpoints", "key_file"]
    );
    assert_eq!(strings(&etcd["endpoints"]).len(), 3);
    assert_eq!(etcd["ca_file"].as_str(), Some("/etc/etcd/ca.pem"));
    assert_eq!(etcd["cert_file"].as_str(), Some("/etc/etcd/pg-b.pem"));
    assert_eq!(etcd["key_file"].as_str(), Some("/etc/etcd/pg-b-key.pem"));
    let pg = &doc["instances"]["pg"];
    // A dotted netmask becomes a prefix length.
    assert_eq!(strings(&pg["virtual_ips"]), ["192.0.2.60/24"]);
    assert_eq!(pg["follow_patroni"]["member"].as_str(), Some("pg-b"));
}

#[test]
fn a_file_without_trigger_value_leaves_member_to_fill_in() {
    let (out, stderr, lines) = import("no-trigger-value.yml");
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert_eq!(
        lines,
        [
            "FILE: trigger-value: required: not set, and vip-manager falls back to the host name; the output leaves `member` out of follow_patroni, so `vipd check` rejects it until you add member = \"NAME\" with this node's Patroni `name`",
            REST_URL_NOTE,
            "vipd: imported 1 instance following Patroni from FILE; 2 note(s) above; fill in follow_patroni.member before `vipd check` accepts the output",
        ]
    );
    let doc = toml_of(&out);
    assert_eq!(
        strings(&doc["etcd"]["endpoints"]),
        ["http://192.0.2.11:2379", "http://192.0.2.12:2379"]
    );
    assert_eq!(
        keys(&doc["instances"]["pg"]["follow_patroni"]),
        ["leader_key"]
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("# REQUIRED: add member = \"NAME\""), "{text}");
}

#[test]
fn a_consul_file_is_refused_with_status_1() {
    let (out, _, lines) = import("consul.yml");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    assert_eq!(
        lines,
        [
            "FILE:5: trigger-key: `service/pg/leader` is not a key like the one Patroni writes its leader to (/<namespace>/<scope>/leader); it is carried over as written, in an instance named \"vip\", and `vipd check` rejects it until you set that key",
            "FILE:7: dcs-type: error: consul is not supported: vipd follows Patroni through etcd only",
            "FILE:9: consul-token: used only with consul; ignored",
            "vipd: FILE: nothing vipd can run (1 error(s) above)",
        ]
    );
}

#[test]
fn malformed_yaml_names_line_and_column_with_status_2() {
    let (out, _, lines) = import("broken.yml");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("vipd: FILE:4:14: "), "{lines:?}");
}

#[test]
fn an_unreadable_file_is_status_2() {
    let (out, _, lines) = import("no-such-file.yml");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("vipd: cannot read FILE: "),
        "{lines:?}"
    );
}

/// Writes the import of `name` (only its `[etcd]` table when `etcd_only`)
/// to a file and runs `vipd check` on it.
fn check_import_of(name: &str, etcd_only: bool) -> Output {
    let (out, stderr, _) = import(name);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    let mut text = String::from_utf8(out.stdout).unwrap();
    if etcd_only {
        text.truncate(text.find("[instances").expect("an instance"));
    }
    let dir = common::temp_dir(&format!("vipm-{}-{etcd_only}", name.replace('.', "-")));
    let toml = dir.join(name.replace(".yml", ".toml"));
    std::fs::write(&toml, text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_vipd"))
        .args(["check", "--file-only", "--config"])
        .arg(&toml)
        .output()
        .expect("run vipd check")
}

#[test]
fn vipd_check_accepts_the_etcd_tables() {
    for name in ["v1.yml", "v2.yml", "no-trigger-value.yml"] {
        let out = check_import_of(name, true);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn vipd_check_accepts_the_imports_and_rejects_a_missing_member() {
    for name in ["v1.yml", "v2.yml"] {
        let out = check_import_of(name, false);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // No trigger-value: the output lacks `member`, and vipd must not fall
    // back to the host name the way vip-manager did.
    let out = check_import_of("no-trigger-value.yml", false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("member"), "{stderr}");
}
