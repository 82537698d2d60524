//! What `vipd run` checks before it starts, beyond the file itself: the check
//! and hook programs exist and can be executed, `script_security` holds for
//! them, `script_user` exists. `vipd check` runs the very same checks (with
//! the same messages), so a file it accepts is one `run` starts with; only
//! what needs the network is left to `run`. The configuration is never
//! changed here: this module reads the file system and the user database.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::process::RunAs;
use crate::config::{self, Config};

/// Everything that stops `vipd run` from starting with `config`; on success,
/// who checks and hooks run as.
pub fn check(config: &Config) -> Result<RunAs, Vec<String>> {
    let mut problems = Vec::new();
    let mut usable = Vec::new();
    for (user, program) in programs(config) {
        match unusable(Path::new(program)) {
            Some(why) => problems.push(format!("{user}: {program} {why}")),
            None => usable.push(program),
        }
    }
    if config.global.script_security {
        // A program already reported as missing is not reported again.
        let unsafe_ones = super::security::unsafe_programs(usable);
        if !unsafe_ones.is_empty() {
            problems.push(format!(
                "script_security: refusing to start: {}; fix the permissions or set script_security = false",
                unsafe_ones.join("; ")
            ));
        }
    }
    let run_as = match &config.global.script_user {
        Some(user) => RunAs::user(user).unwrap_or_else(|e| {
            problems.push(e);
            RunAs::default()
        }),
        None => RunAs::default(),
    };
    if problems.is_empty() {
        Ok(run_as)
    } else {
        Err(problems)
    }
}

/// What `vipd check` warns about but `run` copes with: instances whose
/// interface does not exist (yet).
pub fn warnings(config: &Config) -> Vec<String> {
    config
        .instances
        .iter()
        .filter(|(_, i)| nix::net::if_::if_nametoindex(i.interface.as_str()).is_err())
        .map(|(name, i)| {
            format!(
                "instance {name}: interface {} does not exist (vipd run keeps the instance in FAULT until it appears)",
                i.interface
            )
        })
        .collect()
}

/// `script_security`: every check and hook program anyone but root could change.
pub fn unsafe_scripts(config: &Config) -> Vec<String> {
    super::security::unsafe_programs(programs(config).map(|(_, program)| program))
}

/// Why `program` cannot be run, if it cannot.
fn unusable(program: &Path) -> Option<&'static str> {
    match std::fs::metadata(program) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("does not exist"),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Some("cannot be reached (permission denied)")
        }
        Err(_) => Some("cannot be examined"),
        Ok(meta) if !meta.is_file() => Some("is not a regular file"),
        Ok(meta) if meta.permissions().mode() & 0o111 == 0 => Some("is not executable"),
        Ok(_) => None,
    }
}

/// Every check and hook program, with who uses it ("check pg_alive",
/// "instance db: notify_master").
fn programs(config: &Config) -> impl Iterator<Item = (String, &str)> {
    let checks = config
        .checks
        .iter()
        .map(|(name, c)| (format!("check {name}"), c.command.program()));
    let instances = config
        .instances
        .iter()
        .flat_map(|(name, i)| hooks(format!("instance {name}"), &i.hooks));
    let groups = config
        .sync_groups
        .iter()
        .flat_map(|(name, g)| hooks(format!("sync group {name}"), &g.hooks));
    checks.chain(instances).chain(groups)
}

fn hooks(owner: String, hooks: &config::Hooks) -> impl Iterator<Item = (String, &str)> {
    [
        ("notify_master", &hooks.master),
        ("notify_backup", &hooks.backup),
        ("notify_fault", &hooks.fault),
        ("notify_stop", &hooks.stop),
        ("notify", &hooks.notify),
    ]
    .into_iter()
    .filter_map(move |(key, argv)| {
        argv.as_ref()
            .map(|argv| (format!("{owner} {key}"), argv.program()))
    })
}
