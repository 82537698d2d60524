//! The metrics endpoint's request handling: bytes from a client go through
//! hyper's HTTP/1 server, configured as the daemon configures it, to the
//! route the daemon uses (included from its source). The client's side is
//! closed after the input, so every connection must end with a response or
//! an error, never hang; a request that reaches the route is answered with
//! the status the daemon would give.
#![no_main]

use std::convert::Infallible;
use std::sync::OnceLock;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "../../src/daemon/metrics/route.rs"]
#[allow(dead_code)]
mod route;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let service = service_fn(
            |request: hyper::Request<hyper::body::Incoming>| async move {
                let code = match route::route(request.method().as_str(), request.uri().path()) {
                    route::Route::Metrics => StatusCode::OK,
                    route::Route::NotFound => StatusCode::NOT_FOUND,
                    route::Route::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
                };
                let mut response = Response::new(Full::new(Bytes::from_static(b"x\n")));
                *response.status_mut() = code;
                Ok::<_, Infallible>(response)
            },
        );
        // As the daemon's (without the timers: the client here always closes).
        let connection = http1::Builder::new()
            .max_buf_size(route::MAX_HEAD_BYTES)
            .keep_alive(false)
            .serve_connection(TokioIo::new(server), service);
        let talk = async move {
            let (mut read, mut write) = tokio::io::split(client);
            let send = async {
                let _ = write.write_all(data).await;
                let _ = write.shutdown().await;
            };
            let mut answer = Vec::new();
            let receive = read.read_to_end(&mut answer);
            let (_, received) = tokio::join!(send, receive);
            let _ = received;
            answer
        };
        let (_, answer) = tokio::join!(connection, talk);
        if !answer.is_empty() {
            // HTTP/1.0 to a 1.0 client, 1.1 otherwise.
            assert!(
                answer.starts_with(b"HTTP/1."),
                "not an HTTP answer: {answer:?}"
            );
        }
    });
});
