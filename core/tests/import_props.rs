//! The importer is fed whatever file a user points it at: it must never
//! panic, and whatever it translates must be a configuration vipd accepts.

use std::path::Path;

use proptest::prelude::*;
use vipd_core::import::{ImportError, Options, translate_with};

/// Imports `main`, with every include answered by `included`.
fn run(main: &str, included: &str) -> Result<String, ImportError> {
    let loader = |path: &Path| {
        Ok(if path == Path::new("k.conf") {
            main.to_owned()
        } else {
            included.to_owned()
        })
    };
    let options = Options {
        config_id: Some("a".to_owned()),
    };
    translate_with(Path::new("k.conf"), &options, &loader).map(|t| t.toml)
}

fn check(main: &str, included: &str) -> Result<(), TestCaseError> {
    match run(main, included) {
        Ok(toml) => {
            prop_assert!(
                vipd_core::config::parse(&toml, "out.toml").is_ok(),
                "invalid output:\n{toml}"
            );
        }
        Err(ImportError::Internal { diagnostics }) => {
            prop_assert!(false, "generated an invalid configuration:\n{diagnostics}");
        }
        Err(_) => {}
    }
    Ok(())
}

/// A word a keepalived file might contain, sane or not.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("eth0".to_owned()),
        Just("eth1".to_owned()),
        Just("weight".to_owned()),
        Just("reverse".to_owned()),
        Just("dev".to_owned()),
        Just("label".to_owned()),
        Just("MASTER".to_owned()),
        Just("PASS".to_owned()),
        Just("AH".to_owned()),
        Just("VI_1".to_owned()),
        Just("chk".to_owned()),
        Just("g".to_owned()),
        Just("\"/bin/true arg\"".to_owned()),
        Just("killall".to_owned()),
        Just("<x".to_owned()),
        Just("$A".to_owned()),
        Just("${A}".to_owned()),
        Just("@a".to_owned()),
        Just("@^a".to_owned()),
        Just("#".to_owned()),
        any::<i32>().prop_map(|n| n.to_string()),
        (0u32..300).prop_map(|n| n.to_string()),
        (0.0f64..50.0).prop_map(|f| format!("{f:.3}")),
        (0u8..=255, 0u8..=255, 0u8..=33).prop_map(|(a, b, p)| format!("192.0.{a}.{b}/{p}")),
        (0u16..=0xffff).prop_map(|n| format!("2001:db8::{n:x}")),
        "[a-z_]{1,8}",
        "\\PC{0,6}",
    ]
}

/// A keepalived keyword, so that generated files reach the translator.
fn keyword() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "global_defs",
        "vrrp_script",
        "vrrp_instance",
        "vrrp_sync_group",
        "virtual_server",
        "include",
        "router_id",
        "script_user",
        "enable_script_security",
        "vrrp_version",
        "vrrp_garp_master_delay",
        "vrrp_min_garp",
        "script",
        "interval",
        "timeout",
        "rise",
        "fall",
        "weight",
        "state",
        "interface",
        "virtual_router_id",
        "priority",
        "advert_int",
        "version",
        "nopreempt",
        "preempt_delay",
        "virtual_ipaddress",
        "virtual_ipaddress_excluded",
        "unicast_src_ip",
        "unicast_peer",
        "authentication",
        "auth_type",
        "auth_pass",
        "track_script",
        "track_interface",
        "notify_master",
        "notify",
        "garp_master_repeat",
        "garp_master_refresh",
        "group",
        "sync_group_tracking_weight",
        "use_vmac",
        "$A=",
    ])
}

fn line() -> impl Strategy<Value = String> {
    (keyword(), prop::collection::vec(word(), 0..4))
        .prop_map(|(k, words)| format!("{k} {}", words.join(" ")))
}

fn config() -> impl Strategy<Value = String> {
    prop::collection::vec(line(), 0..40).prop_map(|lines| lines.join("\n"))
}

fn tidy(text: &str) -> bool {
    !text.contains(['{', '}', '\'', '\\', '#', '!']) && text.matches('"').count() % 2 == 0
}

fn tidy_word() -> impl Strategy<Value = String> {
    word().prop_filter("balanced", |w| tidy(w))
}

/// A virtual address entry, mostly usable, sometimes with options.
fn vip() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (1u8..=254, 0u8..=32).prop_map(|(b, p)| format!("192.0.2.{b}/{p}")),
        1 => (1u16..=0xffff).prop_map(|n| format!("2001:db8::{n:x}")),
        1 => (1u8..=254, tidy_word()).prop_map(|(b, w)| format!("198.51.100.{b} dev {w}")),
        1 => tidy_word(),
    ]
}

/// A line that keeps braces and quotes balanced.
fn tidy_line() -> impl Strategy<Value = String> {
    line().prop_filter("balanced", |l| tidy(l))
}

/// A well-formed instance, so that most cases get as far as the output.
fn instance() -> impl Strategy<Value = String> {
    (
        "[A-Za-z_ .]{1,6}",
        prop_oneof![4 => 1u32..=255, 1 => 0u32..300],
        prop::collection::vec(vip(), 1..4),
        prop::collection::vec(tidy_line(), 0..6),
    )
        .prop_map(|(name, vrid, vips, extra)| {
            format!(
                "vrrp_instance \"{name}\" {{\n interface eth0\n virtual_router_id {vrid}\n virtual_ipaddress {{\n{}\n }}\n{}\n}}\n",
                vips.join("\n"),
                extra.join("\n")
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(main in "\\PC{0,400}", included in "\\PC{0,100}") {
        check(&main, &included)?;
    }

    #[test]
    fn keepalived_like_text_never_panics(main in config(), included in config()) {
        check(&main, &included)?;
    }

    #[test]
    fn translated_instances_always_validate(
        head in prop::collection::vec(tidy_line(), 0..10),
        instances in prop::collection::vec(instance(), 1..4),
    ) {
        let main = format!("{}\n{}", head.join("\n"), instances.join("\n"));
        check(&main, "")?;
    }
}

/// Files in one directory that each include `*.conf` skip only themselves,
/// so n of them were read n! times: 8 such files took 10 s and 190 MB and
/// printed 770,000 warnings, 10 would take hours. A bound on the files read
/// turns that into an error naming the likely cause.
#[test]
fn files_including_each_other_through_a_wildcard_stop_with_an_error() {
    use std::cell::Cell;
    use vipd_core::import::Loader;

    struct Ring {
        reads: Cell<usize>,
    }
    impl Loader for Ring {
        fn read(&self, path: &Path) -> std::io::Result<String> {
            self.reads.set(self.reads.get() + 1);
            Ok(if path == Path::new("/k/k.conf") {
                "include d/*.conf\nvrrp_instance A {\n  interface eth0\n  virtual_router_id 1\n  \
                 virtual_ipaddress { 192.0.2.1 }\n}\n"
                    .to_owned()
            } else {
                "include *.conf\n".to_owned()
            })
        }
        fn list(&self, _: &Path) -> std::io::Result<Vec<String>> {
            Ok((1..=7).map(|i| format!("f{i}.conf")).collect())
        }
    }
    let ring = Ring {
        reads: Cell::new(0),
    };
    let err = translate_with(Path::new("/k/k.conf"), &Options::default(), &ring).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().ends_with(
            "more than 1000 files read through includes (files that include each other through \
             a wildcard, or a symbolic link loop?)"
        ),
        "{err}"
    );
    assert_eq!(ring.reads.get(), 1000);
}

/// A directory that is a symbolic link to its parent makes every include
/// path new (`loop/a.conf`, `loop/loop/a.conf`...): the depth bound stops it.
#[test]
fn an_include_through_a_symbolic_link_loop_stops_with_an_error() {
    let loader = |path: &Path| {
        Ok(if path == Path::new("/k/k.conf") {
            "include loop/a.conf\n".to_owned()
        } else {
            "include loop/a.conf\nvrrp_instance A {\n  interface eth0\n}\n".to_owned()
        })
    };
    let err = translate_with(Path::new("/k/k.conf"), &Options::default(), &loader).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().ends_with(
            "includes are nested more than 32 deep (a loop through a symbolic link or `..`?)"
        ),
        "{err}"
    );
}
