//! The control socket's request line, parsed without I/O: the socket task
//! and the fuzz target (`fuzz/fuzz_targets/control_request.rs`, which
//! includes this file by path) call the same code. Uses only `std`.

/// The longest request line read; the rest of a longer one is never read.
pub const MAX_REQUEST_LINE: usize = 256;

/// What a client may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Status,
    /// Re-read the configuration file (like SIGHUP), answering a `ReloadOutcome`.
    Reload,
}

/// The command named by a request line (its bytes up to, not including, the
/// newline), or the message to answer with.
pub fn parse_request(line: &[u8]) -> Result<Command, String> {
    let text = String::from_utf8_lossy(line);
    match text.trim() {
        "status" => Ok(Command::Status),
        "reload" => Ok(Command::Reload),
        _ => Err(format!("unknown command {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_commands_with_spaces_and_a_carriage_return() {
        assert_eq!(parse_request(b"status"), Ok(Command::Status));
        assert_eq!(parse_request(b" reload\r"), Ok(Command::Reload));
    }

    #[test]
    fn anything_else_is_named_back_without_a_panic() {
        assert_eq!(
            parse_request(b"stat\xffus"),
            Err("unknown command \"stat\u{fffd}us\"".to_owned())
        );
        assert_eq!(parse_request(b""), Err("unknown command \"\"".to_owned()));
    }
}
