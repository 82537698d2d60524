//! The control socket's request: the daemon reads one line of at most
//! `MAX_REQUEST_LINE` bytes and parses it with the same function this
//! target includes. Only the two command words, padded by whitespace, may
//! parse; anything else is an error message naming what was sent.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/daemon/control/request.rs"]
#[allow(dead_code)]
mod request;

fuzz_target!(|data: &[u8]| {
    // What the socket task reads: up to the newline or the limit.
    let line: Vec<u8> = data
        .iter()
        .copied()
        .take_while(|&b| b != b'\n')
        .take(request::MAX_REQUEST_LINE)
        .collect();
    match request::parse_request(&line) {
        Ok(command) => {
            let word = std::str::from_utf8(&line)
                .expect("a command is UTF-8")
                .trim();
            let expected = match word {
                "status" => request::Command::Status,
                "reload" => request::Command::Reload,
                other => panic!("{other:?} parsed as {command:?}"),
            };
            assert_eq!(command, expected);
        }
        Err(message) => assert!(message.starts_with("unknown command")),
    }
});
