//! The control socket: `vipd status` asks the running daemon what it is doing.
//!
//! One request per connection: the client writes a command line ("status"),
//! the daemon answers with one JSON document and closes. The protocol loop
//! builds the answer, so it is always consistent with the state machine.

use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

mod request;
mod schema;
pub use request::{Command, MAX_REQUEST_LINE, parse_request};
pub use schema::*;

/// What `vipd reload` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadOutcome {
    /// False: nothing was changed and `messages` says why.
    pub applied: bool,
    /// The changes made, or the errors found.
    pub messages: Vec<String>,
}

/// A question for the protocol loop and where its answer goes. Answers are
/// typed; only the socket turns them into JSON.
pub struct Request {
    pub command: Command,
    pub reply: oneshot::Sender<Reply>,
}

/// The protocol loop's answer to a [`Request`].
pub enum Reply {
    Status(Box<Status>),
    Reload(ReloadOutcome),
}

impl Reply {
    fn to_json(&self) -> String {
        let json = match self {
            Reply::Status(status) => serde_json::to_string_pretty(status),
            Reply::Reload(outcome) => serde_json::to_string_pretty(outcome),
        };
        json.unwrap_or_else(|e| error_json(&format!("cannot encode the answer: {e}")))
    }
}

/// How many clients the control socket (and the metrics endpoint) serve at
/// once; more are closed at once.
const MAX_CLIENTS: usize = 32;

/// How long to wait after a failed accept before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Listens on `path` (replacing a stale socket), mode 0660 and, if given,
/// owned by `group`.
pub fn serve(
    path: &Path,
    group: Option<&str>,
    requests: mpsc::UnboundedSender<Request>,
) -> Result<JoinHandle<()>, String> {
    let shown = path.display();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("control socket directory {}: {e}", dir.display()))?;
    }
    // Only a socket left by an earlier run is removed (the daemon lock says
    // no live daemon owns it). Where there is none, no unlink is tried: on a
    // read-only file system it would fail, blaming an old socket that is not
    // there.
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("control socket {shown}: {e}")),
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(format!(
                "control socket {shown}: the path exists and is not a socket; not replacing it"
            ));
        }
        Ok(_) => std::fs::remove_file(path).map_err(|e| {
            format!("control socket {shown}: cannot remove the one left by an earlier run: {e}")
        })?,
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("control socket {shown}: {e}"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("control socket {shown}: {e}"))?;
    if let Some(group) = group {
        let gid = nix::unistd::Group::from_name(group)
            .map_err(|e| format!("control_group {group:?}: {e}"))?
            .ok_or_else(|| format!("control_group {group:?} does not exist"))?
            .gid;
        nix::unistd::chown(path, None, Some(gid))
            .map_err(|e| format!("control socket {shown}: chown: {e}"))?;
    }
    Ok(tokio::spawn(async move {
        serve_clients(&listener, |stream| {
            let requests = requests.clone();
            async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), answer(stream, requests)).await;
            }
        })
        .await;
    }))
}

/// A listening socket, for [`serve_clients`].
pub trait Listener {
    type Stream;
    fn next_client(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

impl Listener for UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn next_client(&self) -> io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn next_client(&self) -> io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

/// Serves each client `listener` accepts on its own task (a slow client never
/// stalls the loop), at most [`MAX_CLIENTS`] at once: beyond that a client
/// is closed at once, so half-sent requests cannot pile up descriptors and
/// memory. A failed accept (out of descriptors, most likely) is retried
/// after [`ACCEPT_BACKOFF`], not in a spin.
pub async fn serve_clients<L: Listener, F>(listener: &L, serve: impl Fn(L::Stream) -> F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let clients = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let Ok(stream) = listener.next_client().await else {
            tokio::time::sleep(ACCEPT_BACKOFF).await;
            continue;
        };
        let Ok(permit) = clients.clone().try_acquire_owned() else {
            continue;
        };
        let client = serve(stream);
        tokio::spawn(async move {
            client.await;
            drop(permit);
        });
    }
}

async fn answer(
    mut stream: tokio::net::UnixStream,
    requests: mpsc::UnboundedSender<Request>,
) -> io::Result<()> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < MAX_REQUEST_LINE && stream.read(&mut byte).await? == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let response = match parse_request(&line) {
        Ok(command) => {
            let (reply, answer) = oneshot::channel();
            let _ = requests.send(Request { command, reply });
            answer.await.map_or_else(
                |_| error_json("daemon is shutting down"),
                |reply| reply.to_json(),
            )
        }
        Err(message) => error_json(&message),
    };
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn error_json(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

/// Client side: sends `command` and returns the daemon's answer.
pub fn query(path: &Path, command: &str) -> io::Result<String> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(format!("{command}\n").as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}
