//! The `vipd` command line: reads the configuration file, validates it, and
//! either prints what it understood (`check`) or starts the daemon (`run`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use vipd::config::{self, Config};

/// Where `run`, `check`, `status` and `reload` look for the file by default.
const DEFAULT_CONFIG: &str = "/etc/vipd/vipd.toml";

/// Exit status for a configuration that cannot be read or is invalid. Same
/// as clap's status for a usage error: both mean "fix how vipd is called".
const EXIT_CONFIG: u8 = 2;

#[derive(Parser)]
#[command(
    name = "vipd",
    version,
    about = "A VRRP daemon that keeps a virtual IP on exactly one healthy node",
    after_help = "Exit status:\n  \
        0  success (`check`: the configuration is valid)\n  \
        1  the daemon failed or stopped on an error\n  \
        2  the configuration file cannot be read or is invalid, or the command line is wrong"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a configuration file and print every effective setting.
    /// Also makes the start-up checks `vipd run` makes (programs exist and
    /// are executable, script_security, script_user), and warns about
    /// interfaces that do not exist.
    Check {
        #[command(flatten)]
        file: ConfigFile,
        /// Check only the file, not the programs, users and interfaces it
        /// names on this machine (to check a file meant for another one).
        #[arg(long)]
        file_only: bool,
    },
    /// Validate a configuration file, then run the VRRP instances it defines.
    Run {
        #[command(flatten)]
        file: ConfigFile,
        /// Log line format on stderr.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Show what the running daemon is doing: per instance the state,
    /// priorities, the master heard, the VIPs held, the last transition and
    /// counters.
    Status {
        /// Print the stable JSON document instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        daemon: DaemonAddress,
    },
    /// Make the running daemon re-read its configuration (like SIGHUP). An
    /// invalid file changes nothing; its errors are printed.
    Reload {
        #[command(flatten)]
        daemon: DaemonAddress,
    },
    /// Print every VRRP advert seen on an interface, decoded, with what is
    /// wrong with invalid ones.
    Watch {
        /// The interface to listen on.
        #[arg(short, long, value_name = "IF")]
        interface: String,
    },
    /// Translate a keepalived.conf into vipd's TOML (on stdout), listing on
    /// stderr each keepalived setting that cannot be carried over.
    #[command(after_help = "Exit status:\n  \
            0  translated (stderr lists what was not carried over or was changed)\n  \
            1  the file has no VRRP instance that vipd can run\n  \
            2  a file cannot be read or parsed")]
    ImportKeepalived {
        /// The keepalived configuration file; its includes are followed.
        file: PathBuf,
        /// keepalived's config id (its -i option), which selects `@ID` lines.
        /// Default: the host name up to its first dot, as in keepalived.
        #[arg(long, value_name = "ID")]
        config_id: Option<String>,
    },
    /// Translate a vip-manager YAML configuration into vipd's TOML (on
    /// stdout): an [etcd] table and an instance that follows Patroni's
    /// leader key. Lists on stderr what cannot be carried over.
    #[command(after_help = "Exit status:\n  \
            0  translated (stderr lists what was not carried over, and any setting to fill in)\n  \
            1  the file describes nothing vipd can run (a required setting is missing or\n     \
            invalid, or the address is moved through consul, Patroni's REST API or a\n     \
            provider's API)\n  \
            2  the file cannot be read or is not YAML")]
    ImportVipManager {
        /// The vip-manager YAML file (any version's key names).
        file: PathBuf,
    },
}

/// The configuration file `check` and `run` read.
#[derive(Args)]
struct ConfigFile {
    /// The configuration file.
    #[arg(short, long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

/// How the client commands find the running daemon.
#[derive(Args)]
struct DaemonAddress {
    /// The control socket (default: `control_socket` from the config file).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// The configuration file naming the control socket
    /// [default: /etc/vipd/vipd.toml].
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl DaemonAddress {
    fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
    }

    /// The control socket: given, or named by the config file, or the default.
    fn socket(&self) -> PathBuf {
        let path = self.config_path();
        self.socket.clone().unwrap_or_else(|| {
            std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| config::parse(&text, &path.display().to_string()).ok())
                .map_or_else(
                    || PathBuf::from(config::DEFAULT_CONTROL_SOCKET),
                    |c| c.global.control_socket,
                )
        })
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run { .. }) {
        restore_default_sigpipe();
    }
    match cli.command {
        Command::Watch { interface } => vipd::cli::watch::run(&interface),
        Command::Status { json, daemon } => status(json, &daemon),
        Command::Reload { daemon } => reload(&daemon),
        Command::ImportKeepalived { file, config_id } => import_keepalived(&file, config_id),
        Command::ImportVipManager { file } => vipd::cli::import_vip_manager::run(&file),
        Command::Check { file, file_only } => check(&file.config, file_only),
        Command::Run { file, log_format } => run(file.config, log_format),
    }
}

/// `vipd check`: validates, makes the start-up checks unless `file_only`,
/// and prints a summary and every effective setting.
fn check(path: &Path, file_only: bool) -> ExitCode {
    let checked = load(path).and_then(|c| if file_only { Ok(c) } else { preflight(path, c) });
    let config = match checked {
        Ok(config) => config,
        Err(code) => return code,
    };
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = vec![
        count(config.instances.len(), "instance", "instances"),
        count(config.checks.len(), "check", "checks"),
        count(config.sync_groups.len(), "sync group", "sync groups"),
    ];
    // Mentioned only when used, so the usual summary stays short.
    let (files, processes) = (config.track_files.len(), config.track_processes.len());
    if files > 0 {
        parts.push(count(files, "tracked file", "tracked files"));
    }
    if processes > 0 {
        parts.push(count(processes, "tracked process", "tracked processes"));
    }
    println!("{}: OK: {}\n", path.display(), parts.join(", "));
    print!("{config}");
    ExitCode::SUCCESS
}

/// `vipd run`: validates, then runs the daemon until it stops.
fn run(path: PathBuf, log_format: LogFormat) -> ExitCode {
    match load(&path) {
        Ok(config) => {
            init_logging(log_format);
            vipd::daemon::run(config, path)
        }
        Err(code) => code,
    }
}

/// The netlink crates report their own plumbing (unsolicited kernel
/// messages dumped as structs, channels closing at shutdown) at WARN: that
/// is for debugging them, not for operators. They are heard only when the
/// filter names them (`VIPD_LOG=debug,netlink_proto=debug`).
const NETLINK_CRATES: [&str; 3] = ["netlink_proto", "netlink_sys", "rtnetlink"];

/// The log filter: `VIPD_LOG` (default `info`), with the netlink crates
/// silenced unless it names them.
fn log_filter(from_env: Option<&str>) -> String {
    let mut filter = from_env
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .unwrap_or("info")
        .to_owned();
    for krate in NETLINK_CRATES {
        if !filter.contains(krate) {
            filter.push_str(&format!(",{krate}=off"));
        }
    }
    filter
}

/// Logs go to stderr. Under systemd (JOURNAL_STREAM set) the journal adds
/// its own timestamps, so ours are left out.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let from_env = std::env::var("VIPD_LOG").ok();
    let filter = EnvFilter::try_new(log_filter(from_env.as_deref()))
        .unwrap_or_else(|_| EnvFilter::new(log_filter(None)));
    let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LossyStderr)
        // By default a failed write is reported with eprintln!, which panics
        // when stderr itself is what failed: a dead pipe or a full disk
        // would kill the daemon and skip its cleanup.
        .log_internal_errors(false)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // Log calls carry structured fields (instance, vrid, from, to, reason,
    // peer...) for --log-format json; the text format shows the message
    // alone, which already says all of it in words.
    let message_only = tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        if field.name() == "message" {
            write!(writer, "{value:?}")
        } else {
            Ok(())
        }
    });
    match (format, under_journal) {
        (LogFormat::Json, _) => builder.json().init(),
        (LogFormat::Text, true) => builder.fmt_fields(message_only).without_time().init(),
        (LogFormat::Text, false) => builder.fmt_fields(message_only).init(),
    }
}

/// Stderr for log lines, dropping what cannot be written: losing a log line
/// is better than losing the daemon.
struct LossyStderr;

impl std::io::Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Printing commands end quietly when their reader goes away (`vipd check |
/// head`), like other command-line tools. The daemon keeps Rust's default of
/// ignoring SIGPIPE: a client hanging up must never kill it.
fn restore_default_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: no other thread exists yet and SIG_DFL installs no handler code.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// `vipd reload`: exit 0 when applied, 2 when refused (errors printed).
/// The file is validated here first: its errors, with file:line:column, are
/// what the operator needs, and only a valid file names the control socket.
/// Only `--socket` given: the daemon is asked without a file to check here.
fn reload(daemon: &DaemonAddress) -> ExitCode {
    let socket = match (&daemon.socket, &daemon.config) {
        (Some(socket), None) => socket.clone(),
        (given, _) => match load(&daemon.config_path()) {
            Ok(config) => given.clone().unwrap_or(config.global.control_socket),
            Err(code) => {
                eprintln!(
                    "vipd reload: nothing sent to the daemon; it keeps its running configuration"
                );
                return code;
            }
        },
    };
    let answer = match vipd::daemon::control::query(&socket, "reload") {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!(
                "vipd reload: cannot reach the daemon at {}: {e}",
                socket.display()
            );
            return ExitCode::from(1);
        }
    };
    match serde_json::from_str::<vipd::daemon::control::ReloadOutcome>(&answer) {
        Ok(outcome) if outcome.applied => {
            for line in &outcome.messages {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Ok(outcome) => {
            eprintln!("vipd reload: nothing changed; the daemon keeps its running configuration:");
            for line in &outcome.messages {
                eprintln!("{line}");
            }
            ExitCode::from(EXIT_CONFIG)
        }
        Err(_) => {
            eprintln!("vipd reload: unexpected answer from the daemon: {answer}");
            ExitCode::from(1)
        }
    }
}

/// `vipd status`: asks the daemon over its control socket.
fn status(json: bool, daemon: &DaemonAddress) -> ExitCode {
    let socket = daemon.socket();
    let answer = match vipd::daemon::control::query(&socket, "status") {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!(
                "vipd status: cannot reach the daemon at {}: {e}",
                socket.display()
            );
            return ExitCode::from(1);
        }
    };
    if json {
        println!("{answer}");
        return ExitCode::SUCCESS;
    }
    match serde_json::from_str::<vipd::daemon::control::Status>(&answer) {
        Ok(status) => {
            print!("{}", vipd::cli::status_table::render(&status));
            ExitCode::SUCCESS
        }
        Err(_) => {
            eprintln!("vipd status: unexpected answer from the daemon: {answer}");
            ExitCode::from(1)
        }
    }
}

/// `vipd check`: the start-up checks `vipd run` makes (programs, script
/// security, script user), with the same messages; then the warnings.
fn preflight(path: &Path, config: Config) -> Result<Config, ExitCode> {
    if let Err(problems) = vipd::daemon::preflight::check(&config) {
        for problem in &problems {
            eprintln!("vipd: {problem}");
        }
        let n = problems.len();
        eprintln!(
            "vipd: {}: vipd run would refuse to start: {n} problem{}",
            path.display(),
            if n == 1 { "" } else { "s" }
        );
        return Err(ExitCode::from(EXIT_CONFIG));
    }
    for warning in vipd::daemon::preflight::warnings(&config) {
        eprintln!("vipd: warning: {warning}");
    }
    Ok(config)
}

/// Reads and validates the file, printing any problem to stderr. The node
/// name defaults to the hostname, resolved here because config is pure.
fn load(path: &Path) -> Result<Config, ExitCode> {
    let bytes = std::fs::read(path).map_err(|err| {
        eprintln!(
            "vipd: cannot read configuration file {}: {err}",
            path.display()
        );
        ExitCode::from(EXIT_CONFIG)
    })?;
    let mut config = config::parse_bytes(&bytes, &path.display().to_string()).map_err(|diags| {
        eprint!("{}", diags.render());
        let n = diags.len();
        eprintln!(
            "vipd: {} has {n} error{}",
            path.display(),
            if n == 1 { "" } else { "s" }
        );
        ExitCode::from(EXIT_CONFIG)
    })?;
    if config.global.node_name.is_none() {
        config.global.node_name = hostname();
    }
    Ok(config)
}

fn hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// `import-keepalived`: the importer is pure, so the files are read here.
fn import_keepalived(file: &Path, config_id: Option<String>) -> ExitCode {
    let config_id =
        config_id.or_else(|| hostname().and_then(|h| h.split('.').next().map(str::to_owned)));
    let options = vipd::import::Options { config_id };
    match vipd::import::translate_with(file, &options, &FileLoader) {
        Ok(t) => {
            print!("{}", t.toml);
            for warning in &t.warnings {
                eprintln!("{warning}");
            }
            eprintln!(
                "vipd: imported {} instance(s), {} check(s) and {} sync group(s) from {}; {} note(s) above",
                t.instances,
                t.checks,
                t.sync_groups,
                file.display(),
                t.warnings.len()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            for warning in err.warnings() {
                eprintln!("{warning}");
            }
            eprintln!("vipd: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// Reads keepalived files and lists directories for `include` wildcards.
struct FileLoader;

impl vipd::import::Loader for FileLoader {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn list(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        std::fs::read_dir(dir)?
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn the_netlink_crates_are_silenced_unless_named() {
        assert_eq!(
            log_filter(None),
            "info,netlink_proto=off,netlink_sys=off,rtnetlink=off"
        );
        assert_eq!(
            log_filter(Some("debug")),
            "debug,netlink_proto=off,netlink_sys=off,rtnetlink=off"
        );
        assert_eq!(
            log_filter(Some("info,netlink_proto=debug")),
            "info,netlink_proto=debug,netlink_sys=off,rtnetlink=off"
        );
    }
}
