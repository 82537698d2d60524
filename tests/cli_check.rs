//! The `vipd` binary: `check`, `run`'s validation, exit codes, `--version`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vipd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vipd"))
        .args(args)
        .output()
        .expect("run vipd")
}

/// `vipd COMMAND --config CONFIG`.
fn vipd_with(command: &str, config: &Path) -> Output {
    vipd(&[command, "--config", config.to_str().unwrap()])
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

/// `vipd check` on a file holding `text`.
fn check_text(test: &str, text: &str) -> (Output, PathBuf) {
    let path = temp_file(test, text);
    (vipd_with("check", &path), path)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_good_file_prints_instances_and_exits_0() {
    // --file-only: the example's scripts are not installed on this machine.
    let out = vipd(&[
        "check",
        "--file-only",
        "--config",
        &example("postgres-pair-a.toml"),
    ]);
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
    let (out, path) = check_text(
        "check_bad_file",
        "[instances.db]\ninterface = \"eth0\"\nvrid = 300\nvirtual_ips = []\n",
    );
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
    let out = vipd_with("run", &path);
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

/// The problems `vipd check` lists (its "vipd: " lines, without the summary).
fn check_problems(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("vipd: "))
        .filter(|l| !l.contains("would refuse to start") && !l.starts_with("warning: "))
        .map(str::to_owned)
        .collect()
}

/// `vipd check` exits 2 listing `expected` problems, and `vipd run` on the
/// same file exits 1 logging each of them in the same words, having touched
/// nothing (the file's control socket is never created).
fn check_and_run_refuse(test: &str, file_text: &str, expected: &[String]) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let socket = dir.join("vipd.sock");
    let file_text = format!(
        "[global]\ncontrol_socket = \"{}\"\n{file_text}",
        socket.display()
    );
    let path = temp_file(test, &file_text);
    let checked = vipd_with("check", &path);
    let stderr = text(&checked.stderr);
    assert_eq!(checked.status.code(), Some(2), "{stderr}");
    assert!(checked.stdout.is_empty());
    assert_eq!(check_problems(&stderr), expected, "{stderr}");
    assert!(
        stderr.contains("vipd run would refuse to start"),
        "{stderr}"
    );

    let ran = vipd_with("run", &path);
    let log = text(&ran.stderr);
    assert_eq!(ran.status.code(), Some(1), "{log}");
    for problem in expected {
        assert!(log.contains(problem.as_str()), "{problem:?} not in:\n{log}");
    }
    assert!(!socket.exists(), "run created its control socket");
}

fn executable(dir: &Path, name: &str, mode: u32) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.display().to_string()
}

const INSTANCE: &str =
    "[instances.db]\ninterface = \"lo\"\nvrid = 51\nvirtual_ips = [\"192.0.2.50/24\"]\n";

#[test]
fn check_refuses_missing_and_non_executable_programs_as_run_does() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("programs-scripts");
    let plain = executable(&dir, "not-executable.sh", 0o644);
    let text = format!(
        "script_security = false\n\
         [checks.pg]\ncommand = [\"/nonexistent/vipd-check.sh\"]\n\
         {INSTANCE}track_checks = [\"pg\"]\nnotify_master = [\"{plain}\"]\n"
    );
    check_and_run_refuse(
        "check_programs",
        &text,
        &[
            "check pg: /nonexistent/vipd-check.sh does not exist".to_owned(),
            format!("instance db notify_master: {plain} is not executable"),
        ],
    );
}

#[test]
fn check_applies_script_security_as_run_does() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("security-scripts");
    let open = executable(&dir, "world-writable.sh", 0o777);
    let file_text = format!("{INSTANCE}notify = [\"{open}\"]\n");
    let path = temp_file("check_security_probe", &file_text);
    let out = vipd_with("check", &path);
    let problems = check_problems(&text(&out.stderr));
    // Which path is reported first depends on who owns the directories
    // above the target dir; the script itself is always unsafe.
    assert_eq!(problems.len(), 1, "{problems:?}");
    let problem = &problems[0];
    assert!(
        problem.starts_with("script_security: refusing to start: ") && problem.contains(&open),
        "{problem}"
    );
    check_and_run_refuse("check_security", &file_text, std::slice::from_ref(problem));
}

#[test]
fn check_refuses_an_unknown_script_user_as_run_does() {
    let text = format!("script_user = \"vipd-no-such-user\"\nscript_security = false\n{INSTANCE}");
    check_and_run_refuse(
        "check_script_user",
        &text,
        &["script_user \"vipd-no-such-user\" does not exist".to_owned()],
    );
}

#[test]
fn check_accepts_usable_programs() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("usable-scripts");
    let ok = executable(&dir, "ok.sh", 0o755);
    let (out, _) = check_text(
        "check_usable",
        &format!("[global]\nscript_security = false\n{INSTANCE}notify = [\"{ok}\"]\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("OK: 1 instance"));
}

#[test]
fn check_warns_about_an_interface_that_does_not_exist() {
    let (out, _) = check_text(
        "check_no_interface",
        "[instances.db]\ninterface = \"vipdnosuch0\"\nvrid = 51\nvirtual_ips = [\"192.0.2.50/24\"]\n",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("vipd: warning: instance db: interface vipdnosuch0 does not exist"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("OK: 1 instance"));
}

/// `vipd reload` with a file of one instance with `vrid` that names a
/// control socket in the test's directory. Returns the reload's output, the
/// socket and the file.
fn reload_with_file(test: &str, vrid: u32) -> (Output, PathBuf, PathBuf) {
    let socket = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(test)
        .join("vipd.sock");
    let path = temp_file(
        test,
        &format!(
            "[global]\ncontrol_socket = \"{}\"\n[instances.db]\ninterface = \"eth0\"\nvrid = {vrid}\nvirtual_ips = [\"192.0.2.50/24\"]\n",
            socket.display()
        ),
    );
    (vipd_with("reload", &path), socket, path)
}

#[test]
fn reload_with_an_invalid_file_prints_its_errors_and_sends_nothing() {
    let (out, _, path) = reload_with_file("reload_invalid", 300);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:5:8: error: `vrid` must be between 1 and 255, found 300",
            path.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot reach"), "{stderr}");
}

#[test]
fn reload_asks_the_control_socket_the_file_names() {
    let (out, socket, _) = reload_with_file("reload_socket", 51);
    assert_cannot_reach(&out, &socket);
}

#[test]
fn reload_with_only_a_socket_reads_no_file() {
    let socket = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reload_only_socket/none.sock");
    let out = vipd(&["reload", "--socket", socket.to_str().unwrap()]);
    assert_cannot_reach(&out, &socket);
}

/// The client exited 1 saying it cannot reach a daemon at `socket`.
fn assert_cannot_reach(out: &Output, socket: &Path) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach the daemon at {}", socket.display())),
        "{stderr}"
    );
}
