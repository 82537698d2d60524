//! The `vipd` binary: `check`, `run`'s validation, exit codes, `--version`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vipd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vipd"))
        .args(args)
        .output()
        .expect("run vipd")
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config")
        .join(name)
        .display()
        .to_string()
}

/// A file in a fresh per-test directory under the target dir.
fn temp_file(test: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vipd.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_good_file_prints_instances_and_exits_0() {
    let out = vipd(&["check", "--config", &example("postgres-pair-a.toml")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    for expected in [
        "OK: 2 instances, 2 checks, 1 sync group",
        "node_name        db-a",
        "instance db: vrid 51 on eth0, VRRPv3 IPv4",
        "priority         150",
        "virtual_ips      192.0.2.50/24",
        "advertise to     multicast 224.0.0.18",
        "track_checks     pg_alive fault",
        "notify_master    /usr/lib/vipd/activate-primary.sh",
        "sync_group pg",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in:\n{stdout}");
    }
}

#[test]
fn check_fills_in_the_hostname() {
    let out = vipd(&["check", "-c", &example("minimal.toml")]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("node_name"))
        .unwrap();
    assert!(!line.trim_start()["node_name".len()..].trim().is_empty());
}

#[test]
fn check_bad_file_prints_located_errors_and_exits_2() {
    let path = temp_file(
        "check_bad_file",
        "[instances.db]\ninterface = \"eth0\"\nvrid = 300\nvirtual_ips = []\n",
    );
    let out = vipd(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    let p = path.display();
    assert!(
        stderr.contains(&format!(
            "{p}:3:8: error: `vrid` must be between 1 and 255, found 300"
        )),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{p}:4:15: error: `virtual_ips` must list")));
    assert!(stderr.contains("3 | vrid = 300"), "{stderr}");
    assert!(stderr.contains("has 2 errors"), "{stderr}");
}

#[test]
fn check_missing_file_exits_2() {
    let out = vipd(&["check", "--config", "/nonexistent/vipd.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("/nonexistent/vipd.toml"), "{stderr}");
    assert!(stderr.contains("No such file or directory"), "{stderr}");
}

#[test]
fn run_validates_first() {
    let path = temp_file("run_validates_first", "[instances.db]\nvrid = 0\n");
    let out = vipd(&["run", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(":2:8: error:"));
}

#[test]
fn run_rejects_unknown_log_format() {
    let out = vipd(&[
        "run",
        "--config",
        &example("minimal.toml"),
        "--log-format",
        "xml",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn version_prints_the_crate_version() {
    let out = vipd(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("vipd {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_documents_exit_codes() {
    let out = vipd(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Exit status:"), "{stdout}");
    assert!(stdout.contains("2  the configuration file cannot be read or is invalid"));
}
