//! Prometheus metrics on `metrics_listen`, in the text exposition format.
//!
//! Every scrape asks the protocol loop for the same snapshot `vipd status`
//! shows and renders it with prometheus-client, so metrics and status can
//! never disagree. The HTTP side (hyper) answers `GET /metrics` and nothing
//! else, and bounds what a client can make it hold.

use std::net::SocketAddr;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::control::{Command, Reply, Request, Status};
use crate::protocol::DropReason;

type Labels = Vec<(String, String)>;

const STATES: [&str; 4] = ["MASTER", "BACKUP", "FAULT", "STOP"];

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Renders a status snapshot as Prometheus text.
pub fn render(status: &Status) -> String {
    let mut registry = Registry::with_prefix("vipd");
    let gauge = |registry: &mut Registry, name: &str, help: &str| {
        let family = Family::<Labels, Gauge>::default();
        registry.register(name, help, family.clone());
        family
    };
    let float_gauge = |registry: &mut Registry, name: &str, help: &str| {
        let family = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(name, help, family.clone());
        family
    };
    let counter = |registry: &mut Registry, name: &str, help: &str| {
        let family = Family::<Labels, Counter>::default();
        registry.register(name, help, family.clone());
        family
    };

    let state = gauge(
        &mut registry,
        "instance_state",
        "1 for the state the instance is in, 0 for the others",
    );
    let priority = gauge(
        &mut registry,
        "instance_priority",
        "Effective priority (kind=effective) and configured priority (kind=configured)",
    );
    let holds = gauge(
        &mut registry,
        "instance_holds_vips",
        "1 while this node holds the instance's virtual addresses",
    );
    let heard = float_gauge(
        &mut registry,
        "master_last_heard_seconds",
        "Seconds since the last advert from the master this instance hears",
    );
    let transitions = counter(
        &mut registry,
        "transitions",
        "State transitions, by the state entered",
    );
    let sent = counter(&mut registry, "adverts_sent", "Adverts sent");
    let received = counter(
        &mut registry,
        "adverts_received",
        "Valid adverts received for this instance",
    );
    let dropped = counter(
        &mut registry,
        "adverts_dropped",
        "Adverts dropped by this instance, by reason",
    );
    let foreign = counter(
        &mut registry,
        "foreign_adverts",
        "Adverts on our VRID carrying another address set: someone else uses our VRID",
    );
    let split = counter(
        &mut registry,
        "split_brain_events",
        "Times this instance was master and heard another, lower-priority master",
    );
    let announcements = counter(
        &mut registry,
        "announcements",
        "Gratuitous ARPs and unsolicited neighbour advertisements sent",
    );
    let send_errors = counter(
        &mut registry,
        "advert_send_errors",
        "Adverts that could not be sent (the instance leaves MASTER when this lasts two advert intervals)",
    );
    let announce_errors = counter(
        &mut registry,
        "announce_errors",
        "Gratuitous ARPs and unsolicited neighbour advertisements that could not be sent",
    );
    let address_errors = counter(
        &mut registry,
        "vip_errors",
        "Virtual addresses that could not be added or removed",
    );
    let hooks = counter(
        &mut registry,
        "hook_runs",
        "Hook runs, by outcome (ok, failed, timeout)",
    );
    let invalid = counter(
        &mut registry,
        "invalid_packets",
        "VRRP packets that failed validation before reaching an instance, by reason",
    );
    let check_up = gauge(
        &mut registry,
        "check_healthy",
        "1 while the check is healthy after rise/fall",
    );
    let check_runs = counter(
        &mut registry,
        "check_runs",
        "Check runs, by result (ok, failed, timeout)",
    );

    for i in &status.instances {
        let name = i.name.as_str();
        for s in STATES {
            state
                .get_or_create(&labels(&[("vrrp_instance", name), ("state", s)]))
                .set(i64::from(i.state == s));
        }
        priority
            .get_or_create(&labels(&[("vrrp_instance", name), ("kind", "effective")]))
            .set(i64::from(i.priority.effective));
        priority
            .get_or_create(&labels(&[("vrrp_instance", name), ("kind", "configured")]))
            .set(i64::from(i.priority.configured));
        holds
            .get_or_create(&labels(&[("vrrp_instance", name)]))
            .set(i64::from(i.holds_vips));
        if let Some(m) = &i.master {
            heard
                .get_or_create(&labels(&[("vrrp_instance", name)]))
                .set(m.seconds_since_heard);
        }
        for s in STATES {
            let n = i.counters.transitions_to.get(s).copied().unwrap_or(0);
            transitions
                .get_or_create(&labels(&[("vrrp_instance", name), ("to", s)]))
                .inc_by(n);
        }
        let c = &i.counters;
        sent.get_or_create(&labels(&[("vrrp_instance", name)]))
            .inc_by(c.adverts_sent);
        received
            .get_or_create(&labels(&[("vrrp_instance", name)]))
            .inc_by(c.adverts_received);
        for (reason, n) in &c.adverts_dropped {
            dropped
                .get_or_create(&labels(&[("vrrp_instance", name), ("reason", reason)]))
                .inc_by(*n);
        }
        foreign
            .get_or_create(&labels(&[("vrrp_instance", name)]))
            .inc_by(
                c.adverts_dropped
                    .get(DropReason::AddressMismatch.label())
                    .copied()
                    .unwrap_or(0),
            );
        split
            .get_or_create(&labels(&[("vrrp_instance", name)]))
            .inc_by(c.split_brain_events);
        announcements
            .get_or_create(&labels(&[("vrrp_instance", name)]))
            .inc_by(c.announcements);
        send_errors
            .get_or_create(&labels(&[("vrrp_instance", name)]))
            .inc_by(c.advert_send_errors);
        announce_errors
            .get_or_create(&labels(&[("vrrp_instance", name)]))
            .inc_by(c.announce_errors);
        address_errors
            .get_or_create(&labels(&[("vrrp_instance", name)]))
            .inc_by(c.vip_errors);
        let ok_runs = c
            .hook_runs
            .saturating_sub(c.hook_failures + c.hook_timeouts);
        for (outcome, n) in [
            ("ok", ok_runs),
            ("failed", c.hook_failures),
            ("timeout", c.hook_timeouts),
        ] {
            hooks
                .get_or_create(&labels(&[("vrrp_instance", name), ("outcome", outcome)]))
                .inc_by(n);
        }
    }
    for (reason, n) in &status.invalid_packets {
        invalid
            .get_or_create(&labels(&[("reason", reason)]))
            .inc_by(*n);
    }
    for c in &status.checks {
        check_up
            .get_or_create(&labels(&[("check", &c.name)]))
            .set(i64::from(c.healthy));
        let ok_runs = c.runs.saturating_sub(c.failures);
        let failed = c.failures.saturating_sub(c.timeouts);
        for (result, n) in [("ok", ok_runs), ("failed", failed), ("timeout", c.timeouts)] {
            check_runs
                .get_or_create(&labels(&[("check", &c.name), ("result", result)]))
                .inc_by(n);
        }
    }
    let file_value = gauge(
        &mut registry,
        "tracked_file_value",
        "The integer read from a tracked file (0 when missing or unreadable)",
    );
    for f in &status.tracked_files {
        file_value
            .get_or_create(&labels(&[("file", &f.name)]))
            .set(f.value);
    }
    let process_up = gauge(
        &mut registry,
        "tracked_process_up",
        "1 while a tracked process has its quorum of running processes",
    );
    let process_running = gauge(
        &mut registry,
        "tracked_process_running",
        "Processes matching a tracked process at the last scan",
    );
    for p in &status.tracked_processes {
        process_up
            .get_or_create(&labels(&[("process", &p.name)]))
            .set(i64::from(p.up));
        process_running
            .get_or_create(&labels(&[("process", &p.name)]))
            .set(i64::try_from(p.running).unwrap_or(i64::MAX));
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

/// Serves `GET /metrics` on `addr`: HTTP/1.1 by hyper, one request per
/// connection, request heads of at most 8 KiB read within 5 s, and every
/// connection closed after 10 s whatever the client does.
pub async fn serve(
    addr: SocketAddr,
    requests: mpsc::UnboundedSender<Request>,
) -> Result<JoinHandle<()>, String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("metrics_listen {addr}: {e}"))?;
    Ok(tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of descriptors, most likely: do not spin on it.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let requests = requests.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| respond(request, requests.clone()));
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(5))
                    .max_buf_size(8192)
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(Duration::from_secs(10), connection).await;
            });
        }
    }))
}

async fn respond(
    request: hyper::Request<Incoming>,
    requests: mpsc::UnboundedSender<Request>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (code, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => {
            let (reply, answer) = oneshot::channel();
            let _ = requests.send(Request {
                command: Command::Status,
                reply,
            });
            match answer.await {
                Ok(Reply::Status(status)) => (
                    StatusCode::OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    render(&status),
                ),
                Ok(Reply::Reload(_)) | Err(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "daemon is shutting down\n".to_owned(),
                ),
            }
        }
        (&Method::GET, _) => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /metrics\n".to_owned(),
        ),
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET /metrics only\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = code;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    Ok(response)
}
