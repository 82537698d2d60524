//! The edge's warnings carry structured fields for `--log-format json`: a
//! failed check and a failed hook, logged through tracing's JSON formatter.

mod common;

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use vipd::config;
use vipd::daemon::checks;
use vipd::daemon::hooks::{HookQueue, Job, Owner};
use vipd::daemon::process::RunAs;
use vipd::protocol::State;

use common::temp_dir;

/// What the JSON formatter wrote, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The `fields` object of every line logged.
    fn fields(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["fields"].clone())
            .collect()
    }
}

/// The first line logged with `event`.
fn event<'a>(fields: &'a [Value], event: &str) -> &'a Value {
    let found = fields.iter().find(|f| f["event"] == event);
    found.unwrap_or_else(|| panic!("no {event} in {fields:?}"))
}

/// Runs `body` on a current-thread runtime with JSON logging into the result.
fn logged_json(body: impl std::future::Future<Output = ()>) -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(body);
    captured
}

/// A script exiting with status 3 after printing `output`.
fn failing_script(tag: &str, output: &str) -> String {
    let path = temp_dir(tag).join("fail.sh");
    fs::write(&path, format!("#!/bin/sh\n{output}\nexit 3\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn parse(toml: &str) -> config::Config {
    config::parse(toml, "test.toml").unwrap()
}

const INSTANCE: &str =
    "[instances.db]\ninterface = \"eth0\"\nvrid = 51\nvirtual_ips = [\"192.0.2.50/24\"]\n";

#[test]
fn a_failed_check_is_logged_with_its_name_and_outcome() {
    let script = failing_script("log-check", "echo 'no connection'");
    let config = parse(&format!(
        "[checks.pg]\ncommand = [\"{script}\"]\ninterval = \"1h\"\n{INSTANCE}track_checks = [\"pg\"]\n"
    ));
    let check = config.checks["pg"].clone();
    let captured = logged_json(async move {
        let (results, mut received) = tokio::sync::mpsc::unbounded_channel();
        let task = checks::spawn(&check, RunAs::default(), results);
        // The first run starts at once; its failure is logged before the result is sent.
        received.recv().await.expect("a check result");
        task.abort();
    });
    let fields = captured.fields();
    let failed = event(&fields, "check_failed");
    assert_eq!(failed["check"], "pg");
    assert_eq!(failed["outcome"], "exited with status 3");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .starts_with("check pg: exited with status 3"),
        "{failed}"
    );
    let output = event(&fields, "check_output");
    assert_eq!(output["check"], "pg");
    assert_eq!(output["message"], "check pg: | no connection");
}

#[test]
fn a_failed_hook_is_logged_with_its_instance_and_command() {
    let script = failing_script("log-hook", "true");
    let config = parse(&format!("{INSTANCE}notify_master = [\"{script}\"]\n"));
    let hooks = config.instances["db"].hooks.clone();
    let captured = logged_json(async move {
        let mut queue = HookQueue::spawn(
            Owner::Instance,
            "db",
            hooks,
            String::new(),
            Duration::from_secs(30),
            RunAs::default(),
        );
        queue.push(Job {
            from: State::Backup,
            to: State::Master,
            priority: 100,
        });
        queue.finish().await;
    });
    let fields = captured.fields();
    let failed = event(&fields, "hook_failed");
    assert_eq!(failed["instance"], "db");
    assert_eq!(failed["hook"], script.as_str());
    assert_eq!(failed["outcome"], "exited with status 3");
    assert!(failed.get("sync_group").is_none(), "{failed}");
}
