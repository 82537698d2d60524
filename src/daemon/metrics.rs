//! Prometheus metrics on `metrics_listen`, in the text exposition format.
//!
//! Every scrape asks the protocol loop for the same snapshot `vipd status`
//! shows and renders it with prometheus-client, so metrics and status can
//! never disagree. The HTTP side (hyper) answers `GET /metrics` and nothing
//! else, and bounds what a client can make it hold.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeMetric;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::TypedMetric;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::control::{
    Command, EtcdStatus, InstanceStatus, Reply, Request, Status, TrackedProcessStatus,
    serve_clients,
};
use crate::protocol::DropReason;

mod route;
use route::{MAX_HEAD_BYTES, Route, route};

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

const STATES: [&str; 4] = ["MASTER", "BACKUP", "FAULT", "STOP"];

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A family's samples read from a status snapshot, typed as the text shows
/// them: integer gauges, float gauges or counters.
#[derive(Clone, Copy)]
enum Samples {
    Gauges(fn(&Status) -> Vec<(Labels, i64)>),
    FloatGauges(fn(&Status) -> Vec<(Labels, f64)>),
    Counters(fn(&Status) -> Vec<(Labels, u64)>),
}

/// Every family of the text, in the order it lists them: name (prefixed
/// `vipd_`, and suffixed `_total` for counters), help, samples.
#[rustfmt::skip]
const FAMILIES: [(&str, &str, Samples); 25] = [
    ("instance_state", "1 for the state the instance is in, 0 for the others", Samples::Gauges(instance_states)),
    ("instance_priority", "Effective priority (kind=effective) and configured priority (kind=configured)", Samples::Gauges(instance_priorities)),
    ("instance_holds_vips", "1 while this node holds the instance's virtual addresses", Samples::Gauges(|s| per_instance(s, |i| i64::from(i.holds_vips)))),
    ("master_last_heard_seconds", "Seconds since the last advert from the master this instance hears", Samples::FloatGauges(master_last_heard)),
    ("transitions", "State transitions, by the state entered", Samples::Counters(transitions_by_state)),
    ("adverts_sent", "Adverts sent", Samples::Counters(|s| per_instance(s, |i| i.counters.adverts_sent))),
    ("adverts_received", "Valid adverts received for this instance", Samples::Counters(|s| per_instance(s, |i| i.counters.adverts_received))),
    ("adverts_dropped", "Adverts dropped by this instance, by reason", Samples::Counters(drops_by_reason)),
    ("foreign_adverts", "Adverts on our VRID carrying another address set: someone else uses our VRID", Samples::Counters(foreign_adverts)),
    ("split_brain_events", "Times this instance was master and heard another, lower-priority master", Samples::Counters(|s| per_instance(s, |i| i.counters.split_brain_events))),
    ("announcements", "Gratuitous ARPs and unsolicited neighbour advertisements sent", Samples::Counters(|s| per_instance(s, |i| i.counters.announcements))),
    ("advert_send_errors", "Adverts that could not be sent (the instance leaves MASTER when this lasts two advert intervals)", Samples::Counters(|s| per_instance(s, |i| i.counters.advert_send_errors))),
    ("announce_errors", "Gratuitous ARPs and unsolicited neighbour advertisements that could not be sent", Samples::Counters(|s| per_instance(s, |i| i.counters.announce_errors))),
    ("vip_errors", "Virtual addresses that could not be added or removed", Samples::Counters(|s| per_instance(s, |i| i.counters.vip_errors))),
    ("hook_runs", "Hook runs, by outcome (ok, failed, timeout)", Samples::Counters(hooks_by_outcome)),
    ("invalid_packets", "VRRP packets that failed validation before reaching an instance, by reason", Samples::Counters(invalid_packets)),
    ("check_healthy", "1 while the check is healthy after rise/fall", Samples::Gauges(checks_healthy)),
    ("check_runs", "Check runs, by result (ok, failed, timeout)", Samples::Counters(checks_by_result)),
    ("tracked_file_value", "The integer read from a tracked file (0 when missing or unreadable)", Samples::Gauges(tracked_file_values)),
    ("tracked_process_up", "1 while a tracked process has its quorum of running processes", Samples::Gauges(|s| per_process(s, |p| i64::from(p.up)))),
    ("tracked_process_running", "Processes matching a tracked process at the last scan", Samples::Gauges(|s| per_process(s, |p| i64::try_from(p.running).unwrap_or(i64::MAX)))),
    ("leadership_held", "1 while this instance holds its etcd leadership lock (kept through an outage counts)", Samples::Gauges(leadership_held)),
    ("etcd_connected", "1 while the last etcd request was answered", Samples::Gauges(|s| etcd_gauge(s, |e| i64::from(e.connected)))),
    ("etcd_leader_known", "1 while etcd's last status named a leader", Samples::Gauges(|s| etcd_gauge(s, |e| i64::from(e.leader_known)))),
    ("etcd_requests", "etcd requests, by result (ok, failed)", Samples::Counters(etcd_requests)),
];

/// Renders a status snapshot as Prometheus text.
pub fn render(status: &Status) -> String {
    let mut registry = Registry::with_prefix("vipd");
    for (name, help, samples) in FAMILIES {
        let registry = &mut registry;
        match samples {
            Samples::Gauges(read) => register(registry, name, help, read(status), <Gauge>::set),
            Samples::FloatGauges(read) => {
                register(registry, name, help, read(status), <FloatGauge>::set);
            }
            Samples::Counters(read) => {
                register(registry, name, help, read(status), <Counter>::inc_by);
            }
        }
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

/// Registers one family with its samples; a family without samples still
/// gets its HELP and TYPE lines.
fn register<M, V, R>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    samples: Vec<(Labels, V)>,
    record: fn(&M, V) -> R,
) where
    M: EncodeMetric + TypedMetric + Default + Clone + Debug + Send + Sync + 'static,
{
    let family = Family::<Labels, M>::default();
    for (labels, value) in samples {
        record(&family.get_or_create(&labels), value);
    }
    registry.register(name, help, family);
}

/// Only for instances with a leadership lock.
fn leadership_held(status: &Status) -> Vec<(Labels, i64)> {
    let instances = status.instances.iter();
    let gated = instances.filter_map(|i| i.leadership.as_ref().map(|l| (i, l)));
    gated
        .map(|(i, l)| {
            let held = matches!(l.standing.as_str(), "held" | "kept");
            (instance_labels(i, &[]), i64::from(held))
        })
        .collect()
}

/// Only when the node has an etcd client.
fn etcd_gauge(status: &Status, value: fn(&EtcdStatus) -> i64) -> Vec<(Labels, i64)> {
    status
        .etcd
        .iter()
        .map(|e| (Labels::new(), value(e)))
        .collect()
}

fn etcd_requests(status: &Status) -> Vec<(Labels, u64)> {
    let Some(e) = &status.etcd else {
        return Vec::new();
    };
    let ok = e.requests.saturating_sub(e.failures);
    vec![
        (labels(&[("result", "ok")]), ok),
        (labels(&[("result", "failed")]), e.failures),
    ]
}

fn instance_labels(i: &InstanceStatus, more: &[(&str, &str)]) -> Labels {
    let mut pairs = vec![("vrrp_instance", i.name.as_str())];
    pairs.extend_from_slice(more);
    labels(&pairs)
}

/// One sample per instance, labelled by the instance alone.
fn per_instance<V>(status: &Status, value: fn(&InstanceStatus) -> V) -> Vec<(Labels, V)> {
    let instances = status.instances.iter();
    instances
        .map(|i| (instance_labels(i, &[]), value(i)))
        .collect()
}

/// Per instance, one sample for each value of a second label.
fn per_instance_by<V>(
    status: &Status,
    label: &str,
    values: impl Fn(&InstanceStatus) -> Vec<(String, V)>,
) -> Vec<(Labels, V)> {
    let mut samples = Vec::new();
    for i in &status.instances {
        for (value, n) in values(i) {
            samples.push((instance_labels(i, &[(label, &value)]), n));
        }
    }
    samples
}

fn instance_states(status: &Status) -> Vec<(Labels, i64)> {
    per_instance_by(status, "state", |i| {
        let in_state = |s: &str| i64::from(i.state == s);
        STATES.map(|s| (s.to_owned(), in_state(s))).into()
    })
}

fn instance_priorities(status: &Status) -> Vec<(Labels, i64)> {
    per_instance_by(status, "kind", |i| {
        let p = &i.priority;
        let kinds = [("effective", p.effective), ("configured", p.configured)];
        kinds.map(|(k, v)| (k.to_owned(), i64::from(v))).into()
    })
}

/// Only for instances that hear a master.
fn master_last_heard(status: &Status) -> Vec<(Labels, f64)> {
    let instances = status.instances.iter();
    let heard = instances.filter_map(|i| i.master.as_ref().map(|m| (i, m.seconds_since_heard)));
    heard.map(|(i, s)| (instance_labels(i, &[]), s)).collect()
}

/// Every state, entered or not, so a rate over `to="MASTER"` always exists.
fn transitions_by_state(status: &Status) -> Vec<(Labels, u64)> {
    per_instance_by(status, "to", |i| {
        let entered = |s: &str| i.counters.transitions_to.get(s).copied().unwrap_or(0);
        STATES.map(|s| (s.to_owned(), entered(s))).into()
    })
}

fn drops_by_reason(status: &Status) -> Vec<(Labels, u64)> {
    per_instance_by(status, "reason", |i| {
        let drops = i.counters.adverts_dropped.iter();
        drops.map(|(r, n)| (r.clone(), *n)).collect()
    })
}

/// Another address set on our VRID is the drop reason `address_mismatch`.
fn foreign_adverts(status: &Status) -> Vec<(Labels, u64)> {
    per_instance(status, |i| {
        let drops = &i.counters.adverts_dropped;
        drops
            .get(DropReason::AddressMismatch.label())
            .copied()
            .unwrap_or(0)
    })
}

/// The status counts hook runs, failures and timeouts; the text splits runs by outcome.
fn hooks_by_outcome(status: &Status) -> Vec<(Labels, u64)> {
    per_instance_by(status, "outcome", |i| {
        let c = &i.counters;
        let ok = c
            .hook_runs
            .saturating_sub(c.hook_failures + c.hook_timeouts);
        let outcomes = [
            ("ok", ok),
            ("failed", c.hook_failures),
            ("timeout", c.hook_timeouts),
        ];
        outcomes.map(|(o, n)| (o.to_owned(), n)).into()
    })
}

/// Packets no instance saw, by the reason they failed validation.
fn invalid_packets(status: &Status) -> Vec<(Labels, u64)> {
    let invalid = status.invalid_packets.iter();
    invalid
        .map(|(r, n)| (labels(&[("reason", r)]), *n))
        .collect()
}

fn checks_healthy(status: &Status) -> Vec<(Labels, i64)> {
    let checks = status.checks.iter();
    checks
        .map(|c| (labels(&[("check", &c.name)]), i64::from(c.healthy)))
        .collect()
}

/// The status counts a timeout as a failure too; the text does not.
fn checks_by_result(status: &Status) -> Vec<(Labels, u64)> {
    let mut samples = Vec::new();
    for c in &status.checks {
        let ok = c.runs.saturating_sub(c.failures);
        let failed = c.failures.saturating_sub(c.timeouts);
        for (result, n) in [("ok", ok), ("failed", failed), ("timeout", c.timeouts)] {
            samples.push((labels(&[("check", &c.name), ("result", result)]), n));
        }
    }
    samples
}

fn tracked_file_values(status: &Status) -> Vec<(Labels, i64)> {
    let files = status.tracked_files.iter();
    files
        .map(|f| (labels(&[("file", &f.name)]), f.value))
        .collect()
}

fn per_process(status: &Status, value: fn(&TrackedProcessStatus) -> i64) -> Vec<(Labels, i64)> {
    let processes = status.tracked_processes.iter();
    processes
        .map(|p| (labels(&[("process", &p.name)]), value(p)))
        .collect()
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
        serve_clients(&listener, |stream| {
            let requests = requests.clone();
            async move {
                let service = service_fn(move |request| respond(request, requests.clone()));
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(5))
                    .max_buf_size(MAX_HEAD_BYTES)
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(Duration::from_secs(10), connection).await;
            }
        })
        .await;
    }))
}

async fn respond(
    request: hyper::Request<Incoming>,
    requests: mpsc::UnboundedSender<Request>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (code, content_type, body) = match route(request.method().as_str(), request.uri().path()) {
        Route::Metrics => {
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
        Route::NotFound => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /metrics\n".to_owned(),
        ),
        Route::MethodNotAllowed => (
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
