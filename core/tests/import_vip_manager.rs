//! `vipd import-vip-manager`, setting by setting: small vip-manager YAML
//! files and the exact vipd values and notes they give.

use proptest::prelude::*;
use vipd_core::import::vip_manager::{ImportError, Note, NoteKind, Translation, translate};

/// The settings every usable file has; `extra` follows on line 7.
fn file(extra: &str) -> String {
    format!(
        "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\n\
         trigger-value: pg-a\ndcs-type: etcd3\n{extra}"
    )
}

fn import(yaml: &str) -> Translation {
    translate(yaml, "vm.yml").unwrap_or_else(|e| {
        let notes: Vec<String> = e.notes().iter().map(ToString::to_string).collect();
        panic!("import failed: {e}\n{}\n---\n{yaml}", notes.join("\n"))
    })
}

fn import_err(yaml: &str) -> ImportError {
    translate(yaml, "vm.yml").expect_err("the import should fail")
}

fn lines(notes: &[Note]) -> Vec<String> {
    notes.iter().map(ToString::to_string).collect()
}

/// The notes but the one every success carries about `rest_url` and the
/// one about the default endpoint (both have tests of their own).
fn notes(t: &Translation) -> Vec<String> {
    lines(&t.notes)
        .into_iter()
        .filter(|n| !n.contains(": rest_url: ") && !n.starts_with("vm.yml: dcs-endpoints: note: "))
        .collect()
}

#[track_caller]
fn assert_noted(notes: &[String], line: &str) {
    assert!(
        notes.iter().any(|n| n == line),
        "missing note\n  {line}\ngot\n  {}",
        notes.join("\n  ")
    );
}

/// The output as TOML.
fn toml_of(t: &Translation) -> toml::Table {
    t.toml
        .parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("the output is not TOML: {e}\n{}", t.toml))
}

fn keys(table: &toml::Table) -> Vec<&str> {
    let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

fn etcd(t: &Translation) -> toml::Table {
    toml_of(t)["etcd"].as_table().expect("[etcd]").clone()
}

/// The only instance, with its name.
fn instance(t: &Translation) -> (String, toml::Table) {
    let doc = toml_of(t);
    let instances = doc["instances"].as_table().expect("[instances]");
    assert_eq!(instances.len(), 1, "{}", t.toml);
    let (name, table) = instances.iter().next().unwrap();
    (name.clone(), table.as_table().unwrap().clone())
}

fn follow(t: &Translation) -> toml::Table {
    instance(t).1["follow_patroni"]
        .as_table()
        .expect("follow_patroni")
        .clone()
}

fn strings(value: &toml::Value) -> Vec<&str> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_str().expect("a string"))
        .collect()
}

// ------------------------------------------------------------ the output shape

#[test]
fn the_output_has_exactly_the_contract_keys() {
    let t = import(&file(
        "dcs-endpoints: [http://192.0.2.11:2379]\netcd-user: patroni\netcd-password: pw\n\
         etcd-ca-file: /etc/etcd/ca.pem\netcd-cert-file: /etc/etcd/c.pem\n\
         etcd-key-file: /etc/etcd/k.pem\n",
    ));
    let doc = toml_of(&t);
    assert_eq!(keys(&doc), ["etcd", "instances"]);
    assert_eq!(
        keys(&etcd(&t)),
        [
            "ca_file",
            "cert_file",
            "endpoints",
            "key_file",
            "password",
            "username"
        ]
    );
    let (name, inst) = instance(&t);
    assert_eq!(name, "pg");
    assert_eq!(keys(&inst), ["follow_patroni", "interface", "virtual_ips"]);
    assert_eq!(keys(&follow(&t)), ["leader_key", "member"]);
    assert!(t.missing.is_empty());
}

#[test]
fn a_minimal_file_gives_the_contract_example() {
    let t = import(&file(
        "dcs-endpoints:\n  - http://192.0.2.11:2379\n  - http://192.0.2.12:2379\n",
    ));
    assert_eq!(
        strings(&etcd(&t)["endpoints"]),
        ["http://192.0.2.11:2379", "http://192.0.2.12:2379"]
    );
    let (_, inst) = instance(&t);
    assert_eq!(inst["interface"].as_str(), Some("eth0"));
    assert_eq!(strings(&inst["virtual_ips"]), ["192.0.2.60/24"]);
    let f = follow(&t);
    assert_eq!(f["leader_key"].as_str(), Some("/service/pg/leader"));
    assert_eq!(f["member"].as_str(), Some("pg-a"));
    // etcd3, endpoints given, nothing polled: only the rest_url hint.
    assert_eq!(notes(&t), Vec::<String>::new());
    assert_eq!(
        lines(&t.notes),
        [
            "vm.yml: rest_url: note: vip-manager has no equivalent; you may add rest_url = \"http://<this node>:8008\" to follow_patroni so that vipd also asks the local Patroni (GET /primary) before holding the address"
        ]
    );
    assert!(t.toml.contains("# Optional: rest_url = "), "{}", t.toml);
}

// ------------------------------------------------------------- ip and netmask

#[test]
fn netmask_as_a_prefix_length_a_quoted_one_or_a_dotted_mask() {
    for (mask, want) in [
        ("24", "192.0.2.60/24"),
        ("\"16\"", "192.0.2.60/16"),
        ("255.255.255.0", "192.0.2.60/24"),
        ("255.255.255.255", "192.0.2.60/32"),
        ("0", "192.0.2.60/0"),
    ] {
        let yaml = format!(
            "ip: 192.0.2.60\nnetmask: {mask}\ninterface: eth0\ntrigger-key: /service/pg/leader\ntrigger-value: a\ndcs-type: etcd3\n"
        );
        let t = import(&yaml);
        assert_eq!(strings(&instance(&t).1["virtual_ips"]), [want], "{mask}");
    }
}

#[test]
fn an_ipv6_address_takes_a_prefix_length_up_to_128() {
    let yaml = "ip: 2001:db8::60\nnetmask: 64\ninterface: eth0\ntrigger-key: /service/pg/leader\ntrigger-value: a\n";
    let t = import(yaml);
    assert_eq!(strings(&instance(&t).1["virtual_ips"]), ["2001:db8::60/64"]);
}

#[test]
fn bad_addresses_and_netmasks_are_errors_on_their_line() {
    let cases = [
        (
            "ip: 192.0.2.600\nnetmask: 24\n",
            "vm.yml:1: ip: error: `192.0.2.600` is not an IP address",
        ),
        (
            "ip: 192.0.2.60\nnetmask: 33\n",
            "vm.yml:2: netmask: error: 33 is longer than 32 bits",
        ),
        (
            "ip: 2001:db8::1\nnetmask: 129\n",
            "vm.yml:2: netmask: error: 129 is longer than 128 bits",
        ),
        (
            "ip: 192.0.2.60\nnetmask: 255.0.255.0\n",
            "vm.yml:2: netmask: error: `255.0.255.0` is not a contiguous netmask",
        ),
        (
            "ip: 192.0.2.60\nnetmask: wide\n",
            "vm.yml:2: netmask: error: `wide` is neither a prefix length nor a dotted netmask",
        ),
        (
            "ip: 2001:db8::1\nnetmask: 255.255.255.0\n",
            "vm.yml:2: netmask: error: `255.255.255.0` is a dotted IPv4 netmask for an IPv6 address; give a prefix length",
        ),
    ];
    for (head, want) in cases {
        let yaml =
            format!("{head}interface: eth0\ntrigger-key: /service/pg/leader\ntrigger-value: a\n");
        let err = import_err(&yaml);
        assert_eq!(err.exit_code(), 1);
        assert_noted(&lines(err.notes()), want);
        assert_eq!(
            err.to_string(),
            "vm.yml: nothing vipd can run (1 error(s) above)"
        );
    }
}

#[test]
fn each_required_setting_missing_is_an_error() {
    let all = [
        ("ip", "ip: 192.0.2.60\n"),
        ("netmask", "netmask: 24\n"),
        ("interface", "interface: eth0\n"),
        ("trigger-key", "trigger-key: /service/pg/leader\n"),
    ];
    for (missing, _) in all {
        let yaml: String = all
            .iter()
            .filter(|(name, _)| *name != missing)
            .map(|(_, line)| *line)
            .collect();
        let err = import_err(&yaml);
        assert_eq!(err.exit_code(), 1, "{missing}");
        assert_noted(
            &lines(err.notes()),
            &format!(
                "vm.yml: {missing}: error: not set; vip-manager requires it, and so does vipd"
            ),
        );
    }
    // Present but empty is not set either, and keeps its line.
    let err = import_err("ip:\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\n");
    assert_noted(
        &lines(err.notes()),
        "vm.yml:1: ip: error: not set; vip-manager requires it, and so does vipd",
    );
}

#[test]
fn a_list_where_one_value_is_expected_is_an_error() {
    let err = import_err(
        "ip: [192.0.2.60, 192.0.2.61]\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\n",
    );
    let got = lines(err.notes());
    assert_noted(
        &got,
        "vm.yml:1: ip: error: expected a single value, found a list",
    );
    // Said once, not also as "not set".
    assert_eq!(
        got.iter().filter(|n| n.contains(": ip: ")).count(),
        1,
        "{got:?}"
    );
}

// ------------------------------------------------------------------ interface

#[test]
fn interface_is_carried_over() {
    let t = import(
        "ip: 192.0.2.60\nnetmask: 24\ninterface: bond0.42\ntrigger-key: /service/pg/leader\ntrigger-value: a\n",
    );
    assert_eq!(instance(&t).1["interface"].as_str(), Some("bond0.42"));
}

// ---------------------------------------------------- trigger-key and -value

#[test]
fn the_instance_is_named_after_the_patroni_scope() {
    for (key, name) in [
        ("/service/pg/leader", "pg"),
        ("/db/service/batman/leader", "batman"),
        ("/service/pg.main/leader", "pg.main"),
    ] {
        let t = import(&format!(
            "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: \"{key}\"\ntrigger-value: a\ndcs-type: etcd3\n"
        ));
        assert_eq!(instance(&t).0, name);
        assert_eq!(follow(&t)["leader_key"].as_str(), Some(key));
        assert!(notes(&t).is_empty(), "{:?}", notes(&t));
    }
    // A name TOML cannot take bare is quoted.
    let t = import(
        "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg.main/leader\ntrigger-value: a\n",
    );
    assert!(t.toml.contains("[instances.\"pg.main\"]"), "{}", t.toml);
}

#[test]
fn a_trigger_key_outside_the_patroni_form_is_kept_and_reported() {
    for key in ["/leader", "/service/pg/master", "/service//leader"] {
        let t = import(&format!(
            "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: {key}\ntrigger-value: a\ndcs-type: etcd3\n"
        ));
        assert_eq!(instance(&t).0, "vip", "{key}");
        assert_eq!(follow(&t)["leader_key"].as_str(), Some(key));
        assert_eq!(
            notes(&t),
            [format!(
                "vm.yml:4: trigger-key: `{key}` is not of the form /<namespace>/<scope>/leader that Patroni writes its leader to; vipd watches it as given, in an instance named \"vip\": check it against Patroni's `namespace` and `scope`"
            )]
        );
    }
}

/// Found by the `import_vip_manager` fuzz target: a Patroni scope that is
/// not a vipd instance name (here a space, a non-ASCII letter) became the
/// instance's name, and vipd refused the file the import wrote.
#[test]
fn a_scope_that_is_no_instance_name_gives_vip_and_a_note() {
    for scope in ["pg main", "p\u{e9}g"] {
        let key = format!("/service/{scope}/leader");
        let t = import(&format!(
            "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: \"{key}\"\ntrigger-value: a\ndcs-type: etcd3\n"
        ));
        assert_eq!(instance(&t).0, "vip", "{scope}");
        assert_eq!(follow(&t)["leader_key"].as_str(), Some(key.as_str()));
        assert_eq!(
            notes(&t),
            [format!(
                "vm.yml:4: trigger-key: the Patroni scope {scope:?} cannot name a vipd instance (ASCII letters, digits, '_', '-' and '.' only); the instance is named \"vip\""
            )]
        );
        vipd_core::config::parse(&t.toml, "out.toml")
            .unwrap_or_else(|d| panic!("vipd rejects the output:\n{}\n{}", d.render(), t.toml));
    }
}

#[test]
fn trigger_value_becomes_the_member_verbatim() {
    let t = import(
        "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\ntrigger-value: 'pg \"a\"'\n",
    );
    assert_eq!(follow(&t)["member"].as_str(), Some("pg \"a\""));
    // A number is a name too, as written.
    let t = import(
        "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\ntrigger-value: 007\n",
    );
    assert_eq!(follow(&t)["member"].as_str(), Some("007"));
}

#[test]
fn a_missing_trigger_value_is_required_not_guessed() {
    for (extra, line) in [
        ("", ""),
        ("trigger-value: ''\n", ":5"),
        ("trigger-value:\n", ":5"),
    ] {
        let yaml = format!(
            "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\n{extra}dcs-type: etcd3\n"
        );
        let t = import(&yaml);
        assert_eq!(t.missing, ["follow_patroni.member"]);
        // No member at all: vipd's parser rejects the table until one is added.
        assert_eq!(keys(&follow(&t)), ["leader_key"], "{extra:?}");
        assert!(
            t.toml.contains("# REQUIRED: add member = \"NAME\""),
            "{}",
            t.toml
        );
        assert_eq!(
            notes(&t),
            [format!(
                "vm.yml{line}: trigger-value: required: not set, and vip-manager falls back to the host name; the output leaves `member` out of follow_patroni, so `vipd check` rejects it until you add member = \"NAME\" with this node's Patroni `name`"
            )]
        );
    }
}

// ------------------------------------------------------------------- dcs-type

#[test]
fn etcd_without_a_v3_hint_says_patroni_must_write_the_v3_keyspace() {
    let base = "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\ntrigger-value: a\n";
    let v2 = "vip-manager 1.x reads etcd's v2 keyspace, vipd the v3 one: Patroni must write its leader key through its `etcd3:` section, not `etcd:` (vip-manager 2.x reads v3 too; write `dcs-type: etcd3` to say the cluster is on v3)";
    let t = import(&format!("{base}dcs-type: etcd\n"));
    assert_eq!(notes(&t), [format!("vm.yml:6: dcs-type: note: etcd: {v2}")]);
    let t = import(&format!("{base}endpoint_type: ETCD\n"));
    assert_eq!(
        notes(&t),
        [format!("vm.yml:6: endpoint_type: note: etcd: {v2}")]
    );
    let t = import(base);
    assert_eq!(
        notes(&t),
        [format!("vm.yml: dcs-type: note: not set, so etcd: {v2}")]
    );
    let t = import(&format!("{base}dcs-type: etcd3\n"));
    assert!(notes(&t).is_empty(), "{:?}", notes(&t));
    // The note is information, not a loss.
    let t = import(base);
    assert_eq!(t.notes[0].kind, NoteKind::Info);
}

#[test]
fn other_dcs_types_are_errors() {
    let cases = [
        (
            "consul",
            "consul is not supported: vipd follows Patroni through etcd only",
        ),
        (
            "kubernetes",
            "kubernetes is not supported: vipd follows Patroni through etcd only",
        ),
        (
            "exabgp",
            "exabgp is not supported: vipd follows Patroni through etcd only",
        ),
        (
            "zookeeper",
            "`zookeeper` is not a dcs-type vip-manager knows: vipd follows Patroni through etcd only",
        ),
        (
            "patroni",
            "patroni (polling Patroni's REST API) is not supported: vipd follows Patroni's leader key in etcd, and can confirm with the REST API through follow_patroni.rest_url, but not instead of etcd",
        ),
    ];
    for (kind, message) in cases {
        let err = import_err(&format!(
            "dcs-type: {kind}\nip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\ntrigger-value: a\n"
        ));
        assert_eq!(err.exit_code(), 1);
        assert_eq!(
            lines(err.notes()),
            [format!("vm.yml:1: dcs-type: error: {message}")]
        );
    }
}

// -------------------------------------------------------------- dcs-endpoints

#[test]
fn endpoints_as_a_list_a_comma_separated_string_or_the_default() {
    let base = "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\ntrigger-value: a\ndcs-type: etcd3\n";
    let t = import(&format!(
        "{base}dcs-endpoints: [http://192.0.2.11:2379, http://192.0.2.12:2379]\n"
    ));
    assert_eq!(
        strings(&etcd(&t)["endpoints"]),
        ["http://192.0.2.11:2379", "http://192.0.2.12:2379"]
    );
    let t = import(&format!(
        "{base}dcs-endpoints: http://192.0.2.11:2379, http://192.0.2.12:2379\n"
    ));
    assert_eq!(
        strings(&etcd(&t)["endpoints"]),
        ["http://192.0.2.11:2379", "http://192.0.2.12:2379"]
    );
    let t = import(&format!("{base}endpoint: https://192.0.2.11:2379\n"));
    assert_eq!(strings(&etcd(&t)["endpoints"]), ["https://192.0.2.11:2379"]);
    let t = import(base);
    assert_eq!(strings(&etcd(&t)["endpoints"]), ["http://127.0.0.1:2379"]);
    assert_eq!(
        lines(&t.notes)[..1],
        [
            "vm.yml: dcs-endpoints: note: not set; vip-manager's default http://127.0.0.1:2379 is carried over"
        ]
    );
}

// ------------------------------------------------------------- etcd-* access

#[test]
fn etcd_credentials_and_tls_files_are_carried_over_under_both_spellings() {
    for (user, pass, ca, cert, key) in [
        (
            "etcd-user",
            "etcd-password",
            "etcd-ca-file",
            "etcd-cert-file",
            "etcd-key-file",
        ),
        (
            "etcd_user",
            "etcd_password",
            "etcd_ca_file",
            "etcd_cert_file",
            "etcd_key_file",
        ),
    ] {
        let t = import(&file(&format!(
            "{user}: patroni\n{pass}: \"s3cret \\\"x\\\"\"\n{ca}: /etc/etcd/ca.pem\n{cert}: /etc/etcd/client.pem\n{key}: /etc/etcd/client.key\n"
        )));
        let e = etcd(&t);
        assert_eq!(e["username"].as_str(), Some("patroni"));
        assert_eq!(e["password"].as_str(), Some("s3cret \"x\""));
        assert_eq!(e["ca_file"].as_str(), Some("/etc/etcd/ca.pem"));
        assert_eq!(e["cert_file"].as_str(), Some("/etc/etcd/client.pem"));
        assert_eq!(e["key_file"].as_str(), Some("/etc/etcd/client.key"));
        assert!(notes(&t).is_empty(), "{:?}", notes(&t));
    }
    // Optional ones that are absent stay out.
    assert_eq!(keys(&etcd(&import(&file("")))), ["endpoints"]);
}

#[test]
fn a_list_for_an_optional_setting_is_ignored_with_a_warning() {
    let t = import(&file("etcd-user: [a, b]\n"));
    assert!(!etcd(&t).contains_key("username"));
    assert_eq!(
        notes(&t),
        ["vm.yml:7: etcd-user: expected a single value, found a list; ignored"]
    );
}

// ------------------------------------------------ polling, logging, consul

#[test]
fn polling_settings_give_one_note_not_a_loss() {
    let t = import(&file("interval: 1000\nretry-after: 250\nretry-num: 3\n"));
    assert_eq!(
        notes(&t),
        [
            "vm.yml:7: interval, retry-after, retry-num: note: vipd watches the leader key and acts when it changes instead of polling it, so these have no equivalent"
        ]
    );
    let t = import(&file("retry_num: 2\n"));
    assert_eq!(
        notes(&t),
        [
            "vm.yml:7: retry_num: note: vipd watches the leader key and acts when it changes instead of polling it, so these have no equivalent"
        ]
    );
}

#[test]
fn verbose_and_consul_token() {
    let t = import(&file("verbose: true\nconsul-token: abc\n"));
    assert_eq!(
        notes(&t),
        [
            "vm.yml:7: verbose: note: vipd's log detail is set by the VIPD_LOG environment variable (VIPD_LOG=debug), not in the file",
            "vm.yml:8: consul-token: used only with consul; ignored",
        ]
    );
    for quiet in ["false", "False", "off", "0"] {
        let t = import(&file(&format!("verbose: {quiet}\n")));
        assert!(notes(&t).is_empty(), "{quiet}: {:?}", notes(&t));
    }
}

// ---------------------------------------------------------------- manager-type

#[test]
fn basic_management_is_what_vipd_does() {
    for key in [
        "manager-type",
        "hosting-type",
        "hosting_type",
        "hostingtype",
    ] {
        let t = import(&file(&format!("{key}: basic\n")));
        assert!(notes(&t).is_empty(), "{key}: {:?}", notes(&t));
    }
}

#[test]
fn a_provider_api_is_an_error() {
    for key in ["manager-type", "hosting-type", "hosting_type"] {
        let err = import_err(&file(&format!("{key}: hetzner\n")));
        assert_eq!(err.exit_code(), 1);
        assert_eq!(
            lines(err.notes()),
            [format!(
                "vm.yml:7: {key}: error: hetzner is not supported: vipd adds the address to the interface itself and cannot move it through a provider's API"
            )]
        );
    }
}

// --------------------------------------------------- names old and new, unknown

#[test]
fn a_0x_file_translates_like_its_current_spelling() {
    let old = "key: /service/pg/leader\nnodename: pg-a\nip: 192.0.2.60\nmask: 24\niface: eth0\n\
               hosting_type: basic\nendpoint_type: etcd\nendpoints:\n  - http://192.0.2.11:2379\n";
    let new = "trigger-key: /service/pg/leader\ntrigger-value: pg-a\nip: 192.0.2.60\nnetmask: 24\n\
               interface: eth0\nmanager-type: basic\ndcs-type: etcd\ndcs-endpoints:\n  - http://192.0.2.11:2379\n";
    let (a, b) = (import(old), import(new));
    assert_eq!(toml_of(&a), toml_of(&b));
    // `type` and `host` are older names still.
    let t = import(
        "type: etcd3\nhost: pg-b\nip: 192.0.2.60\nmask: 24\niface: eth0\nkey: /service/pg/leader\n",
    );
    assert_eq!(follow(&t)["member"].as_str(), Some("pg-b"));
    assert!(notes(&t).is_empty(), "{:?}", notes(&t));
}

#[test]
fn keys_are_case_insensitive() {
    let t = import(
        "IP: 192.0.2.60\nNetmask: 24\nInterface: eth0\nTrigger-Key: /service/pg/leader\nTRIGGER-VALUE: a\nDCS-Type: etcd3\n",
    );
    assert_eq!(follow(&t)["member"].as_str(), Some("a"));
}

#[test]
fn an_old_and_a_new_name_for_one_setting() {
    let t = import(&file("iface: eth0\n"));
    assert_eq!(
        notes(&t),
        ["vm.yml:7: iface: same setting as `interface` on line 3, with the same value; ignored"]
    );
    let err = import_err(&file("iface: eth1\n"));
    assert_eq!(
        lines(err.notes()),
        [
            "vm.yml:7: iface: error: same setting as `interface` on line 3, with another value; keep one of them"
        ]
    );
}

#[test]
fn unknown_keys_are_reported_not_fatal() {
    let t = import(&file("log-file: /var/log/vip.log\nhetzner:\n  user: x\n"));
    assert_eq!(
        notes(&t),
        [
            "vm.yml:7: log-file: not a vip-manager setting; ignored",
            "vm.yml:8: hetzner: not a vip-manager setting; ignored",
        ]
    );
    assert_eq!(
        t.notes
            .iter()
            .filter(|n| n.kind == NoteKind::Warning)
            .count(),
        2
    );
}

#[test]
fn a_second_document_is_ignored_with_a_warning() {
    let t = import(&file("---\nip: 192.0.2.99\n"));
    assert_eq!(strings(&instance(&t).1["virtual_ips"]), ["192.0.2.60/24"]);
    assert_eq!(
        notes(&t),
        [
            "vm.yml:8: ---: a second YAML document; vip-manager reads only the first, and so does this import"
        ]
    );
}

// ----------------------------------------------------------- errors and order

#[test]
fn notes_come_in_file_order_and_those_about_no_line_last() {
    let t = import(
        "consul-token: x\nip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\nfoo: 1\n",
    );
    let got = lines(&t.notes);
    let at: Vec<&str> = got.iter().map(|n| n.split(": ").next().unwrap()).collect();
    assert_eq!(
        at,
        [
            "vm.yml:1", "vm.yml:6", "vm.yml", "vm.yml", "vm.yml", "vm.yml"
        ],
        "{got:#?}"
    );
}

#[test]
fn a_failed_import_leaves_out_notes_about_an_output() {
    let err = import_err(
        "dcs-type: consul\nip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\ninterval: 5\n",
    );
    assert_eq!(
        lines(err.notes()),
        [
            "vm.yml:1: dcs-type: error: consul is not supported: vipd follows Patroni through etcd only",
            "vm.yml: trigger-value: required: not set, and vip-manager falls back to the host name; the output leaves `member` out of follow_patroni, so `vipd check` rejects it until you add member = \"NAME\" with this node's Patroni `name`",
        ]
    );
}

#[test]
fn malformed_yaml_names_line_and_column_and_exits_2() {
    let cases = [
        ("ip: 192.0.2.60\ninterface: [eth0\n", (3, 1)),
        ("ip: 192.0.2.60\n  netmask: 24\n", (2, 10)),
        ("ip: 192.0.2.60\nip: 192.0.2.61\n", (2, 1)),
        // At the opening quote.
        ("ip: \"192.0.2.60\n", (1, 5)),
        ("- ip: 192.0.2.60\n", (1, 1)),
        ("? [a]\n: b\n", (1, 3)),
    ];
    for (yaml, (line, column)) in cases {
        match import_err(yaml) {
            ImportError::Syntax {
                file,
                line: l,
                column: c,
                message,
            } => {
                assert_eq!(
                    (file.as_str(), l, c),
                    ("vm.yml", line, column),
                    "{yaml:?}: {message}"
                );
                assert!(!message.is_empty());
            }
            other => panic!("{yaml:?}: expected a syntax error, got {other:?}"),
        }
        let err = import_err(yaml);
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string()
                .starts_with(&format!("vm.yml:{line}:{column}: ")),
            "{err}"
        );
    }
}

#[test]
fn an_empty_file_is_nothing_to_import() {
    for yaml in ["", "\n\n", "# vip-manager\n", "---\n...\n"] {
        let err = import_err(yaml);
        assert_eq!(
            err,
            ImportError::Empty {
                file: "vm.yml".into()
            }
        );
        assert_eq!(err.exit_code(), 1);
        assert_eq!(
            err.to_string(),
            "vm.yml: no vip-manager settings found: nothing to import"
        );
    }
}

proptest! {
    /// Whatever the bytes, an import returns: never a panic.
    #[test]
    fn any_text_gives_a_result(text in "[a-z:\\-\\[\\]{}'\" ,#\n0-9./&*!|>?%@`~]{0,80}") {
        let _ = translate(&text, "vm.yml");
    }

    /// Mutations of a valid file: still a result, and a success parses as TOML.
    #[test]
    fn mutated_files_give_a_result(cut in 0usize..200, insert in "[\\[\\]{}:'\"\n -]{0,3}") {
        let base = file("dcs-endpoints: [http://192.0.2.11:2379]\ninterval: 1000\n");
        let cut = cut.min(base.len());
        let text = format!("{}{insert}{}", &base[..cut], &base[cut..]);
        if let Ok(t) = translate(&text, "vm.yml") {
            prop_assert!(t.toml.parse::<toml::Table>().is_ok(), "{}", t.toml);
        }
    }
}

#[test]
fn a_byte_order_mark_and_crlf_line_ends_are_read() {
    let yaml = file("").replace('\n', "\r\n");
    let t = import(&format!("\u{feff}{yaml}"));
    assert_eq!(follow(&t)["member"].as_str(), Some("pg-a"));
    assert_eq!(instance(&t).1["interface"].as_str(), Some("eth0"));
}

// ------------------------------------------- [etcd] as vipd's parser takes it

/// The output's `[etcd]` table alone, through vipd's own parser (which
/// knows `[etcd]` but not yet `follow_patroni`).
fn parsed_etcd(t: &Translation) -> vipd_core::config::EtcdConfig {
    let etcd_only = &t.toml[..t.toml.find("[instances").expect("an instance")];
    vipd_core::config::parse(etcd_only, "out.toml")
        .unwrap_or_else(|d| panic!("vipd rejects [etcd]:\n{}\n{etcd_only}", d.render()))
        .etcd
        .expect("an [etcd] section")
}

#[test]
fn the_etcd_table_passes_vipds_parser() {
    let t = import(&file(
        "dcs-endpoints: [https://192.0.2.11:2379, https://192.0.2.12:2379]\n\
         etcd-user: patroni\netcd-password: pw\netcd-ca-file: /etc/etcd/ca.pem\n\
         etcd-cert-file: /etc/etcd/c.pem\netcd-key-file: /etc/etcd/k.pem\n",
    ));
    let e = parsed_etcd(&t);
    assert_eq!(
        e.endpoints,
        ["https://192.0.2.11:2379", "https://192.0.2.12:2379"]
    );
    assert_eq!(e.credentials, Some(("patroni".into(), "pw".into())));
    assert_eq!(e.ca_file.as_deref(), Some("/etc/etcd/ca.pem".as_ref()));
    assert_eq!(
        e.client_cert,
        Some(("/etc/etcd/c.pem".into(), "/etc/etcd/k.pem".into()))
    );
    // vip-manager's default endpoint too.
    let e = parsed_etcd(&import(&file("")));
    assert_eq!(e.endpoints, ["http://127.0.0.1:2379"]);
    assert_eq!(e.credentials, None);
}

#[test]
fn endpoints_get_the_url_form_vipd_takes() {
    let t = import(&file(
        "dcs-endpoints:\n  - 192.0.2.11:2379\n  - http://192.0.2.12:2379/\n",
    ));
    assert_eq!(
        strings(&etcd(&t)["endpoints"]),
        ["http://192.0.2.11:2379", "http://192.0.2.12:2379"]
    );
    assert_eq!(
        notes(&t),
        [
            "vm.yml:8: dcs-endpoints: `192.0.2.11:2379` has no scheme; written as `http://192.0.2.11:2379`"
        ]
    );
    parsed_etcd(&t);
    // With TLS files, a bare endpoint is spoken to over TLS.
    let t = import(&file(
        "endpoints: 192.0.2.11:2379\netcd-ca-file: /etc/etcd/ca.pem\n",
    ));
    assert_eq!(strings(&etcd(&t)["endpoints"]), ["https://192.0.2.11:2379"]);
    assert_eq!(
        notes(&t),
        [
            "vm.yml:7: endpoints: `192.0.2.11:2379` has no scheme; written as `https://192.0.2.11:2379`"
        ]
    );
    // A path or another scheme is kept as written, for the operator to fix.
    let t = import(&file("dcs-endpoints: [unix:///run/etcd.sock]\n"));
    assert_eq!(strings(&etcd(&t)["endpoints"]), ["unix:///run/etcd.sock"]);
    assert_eq!(
        notes(&t),
        [
            "vm.yml:7: dcs-endpoints: `unix:///run/etcd.sock` is not an etcd client URL vipd takes (http://HOST:PORT or https://HOST:PORT); carried over as written, so `vipd check` rejects it until it is fixed"
        ]
    );
}

#[test]
fn one_of_a_pair_of_etcd_settings_is_required_to_complete() {
    let cases = [
        (
            "etcd-user: patroni\n",
            "etcd-user",
            "etcd-password",
            "password",
        ),
        (
            "etcd_password: pw\n",
            "etcd_password",
            "etcd-user",
            "username",
        ),
        (
            "etcd-cert-file: /c.pem\n",
            "etcd-cert-file",
            "etcd-key-file",
            "key_file",
        ),
        (
            "etcd-key-file: /k.pem\n",
            "etcd-key-file",
            "etcd-cert-file",
            "cert_file",
        ),
    ];
    for (extra, given, partner, vipd_key) in cases {
        let t = import(&file(extra));
        assert_eq!(t.missing, [format!("etcd.{vipd_key}")], "{extra}");
        assert_eq!(
            notes(&t),
            [format!(
                "vm.yml:7: {given}: required: set without {partner}; vipd takes both or neither, so `vipd check` rejects the output until you add {vipd_key} to [etcd] (or remove its partner)"
            )]
        );
        assert!(
            t.toml
                .contains(&format!("# REQUIRED: add {vipd_key} = \"...\"")),
            "{}",
            t.toml
        );
        let etcd_only = &t.toml[..t.toml.find("[instances").unwrap()];
        assert!(
            vipd_core::config::parse(etcd_only, "out.toml").is_err(),
            "{etcd_only}"
        );
    }
}

/// Found by the import_vip_manager fuzz target: a trigger-key without a
/// leading '/' was said to be watched as given, but vipd refuses such a
/// `leader_key`. The note now says it is carried over for the operator to fix.
#[test]
fn a_trigger_key_without_a_leading_slash_is_flagged_for_vipd_check() {
    let t = import(
        "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: service/pg/leader\ntrigger-value: a\ndcs-type: etcd3\n",
    );
    assert_eq!(instance(&t).0, "vip");
    assert_eq!(follow(&t)["leader_key"].as_str(), Some("service/pg/leader"));
    assert_eq!(
        notes(&t),
        [
            "vm.yml:4: trigger-key: `service/pg/leader` is not a key like the one Patroni writes its leader to (/<namespace>/<scope>/leader); it is carried over as written, in an instance named \"vip\", and `vipd check` rejects it until you set that key"
        ]
    );
    assert!(vipd_core::config::parse(&t.toml, "out.toml").is_err());
}

/// Found by the import_vip_manager fuzz target: an endpoint without "://"
/// that is no HOST:PORT either got a scheme put before it, and vipd refused
/// the result without a note saying so.
#[test]
fn an_endpoint_that_no_scheme_can_mend_is_carried_over_and_flagged() {
    let t = import(
        "ip: 192.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\ntrigger-value: a\ndcs-type: etcd3\ndcs-endpoints: http:/9/192.0.2.11:2379\n",
    );
    assert!(t.toml.contains("\"http:/9/192.0.2.11:2379\""), "{}", t.toml);
    assert_eq!(
        notes(&t),
        [
            "vm.yml:7: dcs-endpoints: `http:/9/192.0.2.11:2379` is not an etcd client URL vipd takes (http://HOST:PORT or https://HOST:PORT); carried over as written, so `vipd check` rejects it until it is fixed"
        ]
    );
}

/// Found by the import_vip_manager fuzz target: an interface name Linux
/// would refuse was carried over, and vipd refused the file.
#[test]
fn an_interface_name_linux_refuses_is_an_error() {
    let err = vipd_core::import::vip_manager::translate(
        "ip: 192.0.2.60\nnetmask: 24\ninterface: 'eth# 0'\ntrigger-key: /service/pg/leader\ntrigger-value: a\ndcs-type: etcd3\n",
        "vm.yml",
    );
    let text = match err {
        Ok(t) => lines(&t.notes).join("\n"),
        Err(e) => lines(e.notes()).join("\n"),
    };
    assert!(
        text.contains("interface: error: \"eth# 0\" is not a valid interface name"),
        "{text}"
    );
}

/// Found by the import_vip_manager fuzz target: a value the rules above do
/// not flag (here a multicast VIP) still made a file vipd refuses. The
/// output is checked as `vipd check` would, and what fails is a note.
#[test]
fn what_vipd_check_would_refuse_in_the_output_is_a_note() {
    let t = import(
        "ip: 224.0.2.60\nnetmask: 24\ninterface: eth0\ntrigger-key: /service/pg/leader\ntrigger-value: a\ndcs-type: etcd3\n",
    );
    let noted = lines(&t.notes);
    assert!(
        noted
            .iter()
            .any(|n| n.contains("224.0.2.60 cannot be a virtual IP")
                && n.contains("`vipd check` rejects it until it is fixed")),
        "{noted:?}"
    );
}
