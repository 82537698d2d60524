//! Tracked files and processes as the daemon reads them: the value rule,
//! process matching against a /proc-like tree and the real /proc, the delay,
//! and "only changes are sent".

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use vipd::config::{TrackFile, TrackProcess};
use vipd::daemon::poller::{
    Debounce, Poller, ProcInfo, TrackedUpdate, count_processes, matches, parse_value, read_file,
};

use common::temp_dir;

fn process(name: &str, process: &str) -> TrackProcess {
    TrackProcess {
        name: name.into(),
        process: process.into(),
        args: None,
        full_command: false,
        weight: -50,
        quorum: 1,
        quorum_max: None,
        delay: Duration::ZERO,
    }
}

/// A /proc entry: `stat` with the name and state, and `cmdline` from argv.
fn fake_proc(root: &Path, pid: u32, comm: &str, state: char, argv: &[&str]) {
    let dir = root.join(pid.to_string());
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("stat"),
        format!("{pid} ({comm}) {state} 1 {pid} {pid} 0 -1 4194560 0 0"),
    )
    .unwrap();
    let mut cmdline = Vec::new();
    for arg in argv {
        cmdline.extend_from_slice(arg.as_bytes());
        cmdline.push(0);
    }
    fs::write(dir.join("cmdline"), cmdline).unwrap();
}

#[test]
fn file_value_is_the_leading_decimal_integer_or_zero() {
    assert_eq!(parse_value("3\n"), Some(3));
    assert_eq!(parse_value("  -12 # maintenance"), Some(-12));
    assert_eq!(parse_value("+7"), Some(7));
    assert_eq!(parse_value("042"), Some(42), "decimal, not octal");
    assert_eq!(parse_value("99999999999999999999999"), Some(i64::MAX));
    assert_eq!(parse_value("abc"), None);
    assert_eq!(parse_value("-"), None);
    assert_eq!(parse_value(""), None);

    let dir = temp_dir("tracked-files");
    let path = dir.join("weight");
    assert_eq!(read_file(&path), (0, Some("missing".to_owned())));
    fs::write(&path, "25\n").unwrap();
    assert_eq!(read_file(&path), (25, None));
    fs::write(&path, "").unwrap();
    assert_eq!(read_file(&path), (0, Some("empty".to_owned())));
    fs::write(&path, "on\n").unwrap();
    assert_eq!(
        read_file(&path),
        (0, Some("does not start with an integer".to_owned()))
    );
    // A directory cannot be read as a file.
    let (value, problem) = read_file(&dir);
    assert_eq!(value, 0);
    assert!(problem.unwrap().starts_with("unreadable: "));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn processes_match_by_name_or_command_line_and_args() {
    let info = |comm: &str, argv: &[&str]| ProcInfo {
        comm: comm.into(),
        argv: Some(argv.iter().map(|a| a.to_string()).collect()),
    };
    let pg = process("pg", "postgres");
    assert!(matches(
        &pg,
        &info("postgres", &["/usr/lib/postgresql/16/bin/postgres"])
    ));
    assert!(
        !matches(&pg, &info("postgres2", &["postgres"])),
        "exact, not a prefix"
    );
    assert!(!matches(&pg, &info("ssh", &[])));

    let mut full = process("py", "app.py");
    full.full_command = true;
    assert!(!matches(
        &full,
        &info("python3", &["/usr/bin/python3", "/opt/app.py"])
    ));
    assert!(matches(
        &full,
        &info("python3", &["/opt/app.py", "--serve"])
    ));
    full.process = "/opt/app.py".into();
    assert!(matches(&full, &info("python3", &["/opt/app.py"])));
    assert!(
        !matches(&full, &info("python3", &["app.py"])),
        "with a '/', argv[0] exactly"
    );
    assert!(
        !matches(&full, &info("kworker/0:1", &[])),
        "kernel threads have no argv"
    );

    let mut args = process("worker", "python3");
    args.args = Some(vec!["/opt/app.py".into(), "--serve".into()]);
    assert!(matches(
        &args,
        &info("python3", &["python3", "/opt/app.py", "--serve"])
    ));
    assert!(!matches(
        &args,
        &info("python3", &["python3", "/opt/app.py"])
    ));
    assert!(!matches(
        &args,
        &info("python3", &["python3", "/opt/app.py", "--serve", "-v"])
    ));
    args.args = Some(vec![]);
    assert!(
        matches(&args, &info("python3", &["python3"])),
        "args = [] means none"
    );
    assert!(!matches(&args, &info("python3", &["python3", "-c"])));
}

#[test]
fn counting_skips_zombies_and_odd_names() {
    let root = temp_dir("tracked-proc");
    fake_proc(&root, 100, "postgres", 'S', &["postgres", "-D", "/data"]);
    fake_proc(&root, 101, "postgres", 'R', &["postgres: checkpointer"]);
    fake_proc(&root, 102, "postgres", 'Z', &[]);
    fake_proc(&root, 103, "my (odd) name", 'S', &["/opt/odd"]);
    fake_proc(
        &root,
        104,
        "python3",
        'S',
        &["/usr/bin/python3", "/opt/app.py"],
    );
    fs::create_dir_all(root.join("sys")).unwrap();
    fs::create_dir_all(root.join("105")).unwrap(); // exited during the scan: no stat

    let pg = process("pg", "postgres");
    let odd = process("odd", "my (odd) name");
    let mut app = process("app", "python3");
    app.args = Some(vec!["/opt/app.py".into()]);
    let none = process("none", "nginx");
    assert_eq!(
        count_processes(&root, &[&pg, &odd, &app, &none]),
        [2, 1, 1, 0]
    );
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn delay_holds_a_change_back_until_it_has_lasted() {
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut d = Debounce::new(Duration::from_secs(2));
    assert_eq!(
        d.observe(true, at(0)),
        Some(true),
        "the first state at once"
    );
    assert_eq!(d.observe(false, at(1000)), None);
    assert_eq!(
        d.observe(true, at(2000)),
        None,
        "back up: the change is forgotten"
    );
    assert_eq!(d.observe(false, at(3000)), None);
    assert_eq!(d.observe(false, at(4000)), None);
    assert_eq!(d.observe(false, at(5000)), Some(false), "down for 2 s");
    assert_eq!(d.observe(false, at(6000)), None);
    let mut now = Debounce::new(Duration::ZERO);
    now.observe(true, at(0));
    assert_eq!(now.observe(false, at(1)), Some(false));
}

#[test]
fn watcher_sends_everything_first_then_only_changes() {
    let dir = temp_dir("tracked-watch");
    let root = dir.join("proc");
    fs::create_dir_all(&root).unwrap();
    let path = dir.join("maintenance");
    fs::write(&path, "0\n").unwrap();
    fake_proc(&root, 200, "fakedb", 'S', &["fakedb"]);
    let file = TrackFile {
        name: "maintenance".into(),
        path: path.clone(),
        weight: 1,
    };
    let mut db = process("db", "fakedb");
    db.delay = Duration::from_secs(1);
    let mut w = Poller::with([file], [db]).with_proc_root(&root);

    let t0 = Instant::now();
    let first = w.poll(t0);
    assert_eq!(
        first,
        [
            TrackedUpdate::File {
                name: "maintenance".into(),
                path: path.clone(),
                value: 0,
                problem: None
            },
            TrackedUpdate::Process {
                name: "db".into(),
                up: true,
                running: 1
            },
        ]
    );
    assert!(w.poll(t0).is_empty(), "nothing changed");

    fs::write(&path, "30\n").unwrap();
    fs::remove_dir_all(root.join("200")).unwrap();
    let t1 = t0 + Duration::from_millis(500);
    assert_eq!(
        w.poll(t1),
        [
            TrackedUpdate::File {
                name: "maintenance".into(),
                path: path.clone(),
                value: 30,
                problem: None
            },
            // The count is news at once; down only after the delay.
            TrackedUpdate::Process {
                name: "db".into(),
                up: true,
                running: 0
            },
        ]
    );
    assert!(w.poll(t1 + Duration::from_millis(500)).is_empty());
    assert_eq!(
        w.poll(t1 + Duration::from_millis(1000)),
        [TrackedUpdate::Process {
            name: "db".into(),
            up: false,
            running: 0
        }]
    );
    fs::remove_file(&path).unwrap();
    assert_eq!(
        w.poll(t1 + Duration::from_millis(1500)),
        [TrackedUpdate::File {
            name: "maintenance".into(),
            path,
            value: 0,
            problem: Some("missing".into())
        }]
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// The real /proc: a copy of sleep under a name of our own is seen while
/// it runs and not once it is gone.
#[test]
fn real_processes_are_counted() {
    let dir = temp_dir("tracked-real");
    // comm is the executable's file name, cut to 15 bytes.
    let name = format!("vtrk{}", std::process::id());
    let exe = dir.join(&name);
    let sleep = ["/bin/sleep", "/usr/bin/sleep"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("sleep(1)");
    fs::copy(sleep, &exe).unwrap();
    let spec = process("mine", &name);
    let mut by_path = process("mine-full", exe.to_str().unwrap());
    by_path.full_command = true;
    by_path.args = Some(vec!["30".into()]);
    let proc_root = Path::new("/proc");
    assert_eq!(count_processes(proc_root, &[&spec, &by_path]), [0, 0]);

    let mut child = std::process::Command::new(&exe).arg("30").spawn().unwrap();
    // /proc shows the new process fully (comm, then its command line) a
    // moment after spawn returns: poll, with a deadline.
    let mut seen = count_processes(proc_root, &[&spec, &by_path]);
    let give_up = std::time::Instant::now() + Duration::from_secs(5);
    while seen != [1, 1] && std::time::Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(10));
        seen = count_processes(proc_root, &[&spec, &by_path]);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(seen, [1, 1]);
    assert_eq!(count_processes(proc_root, &[&spec, &by_path]), [0, 0]);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn only_what_some_instance_tracks_is_read() {
    let config = vipd::config::parse(
        r#"
[track_files.used]
path = "/nonexistent/vipd-used"
[track_files.unused]
path = "/nonexistent/vipd-unused"
[track_processes.tracked]
process = "tracked"
[track_processes.untracked]
process = "untracked"

[instances]
a = { interface = "eth0", vrid = 51, virtual_ips = ["192.0.2.50/24"], track_files = ["used"] }
b = { interface = "eth0", vrid = 52, virtual_ips = ["192.0.2.51/24"], track_files = ["used"], track_processes = ["tracked"] }
"#,
        "test.toml",
    )
    .unwrap();
    let proc_root = temp_dir("tracked-only");
    let mut poller = Poller::new(&config).with_proc_root(&proc_root);
    let names: Vec<String> = poller
        .poll(Instant::now())
        .into_iter()
        .map(|u| match u {
            TrackedUpdate::File { name, .. } | TrackedUpdate::Process { name, .. } => name,
        })
        .collect();
    assert_eq!(names, ["used", "tracked"]);
}
