//! The listeners: accept TCP, run the TLS handshake (or not, for the debug
//! listener), serve HTTP/1.1 with hyper, and apply the fault layer around the
//! axum router.
//!
//! Faults live here, below axum, because some of them are about the
//! connection itself: returning an error from the hyper service makes hyper
//! drop the connection without writing a response byte, which is exactly
//! "close before reading" and "process then close".
//!
//! Against slow and greedy clients ([`crate::Limits`]): a cap on open
//! connections in all and per IP address (a connection over either cap is
//! closed at once), a TLS handshake timeout, a header read timeout (a
//! client that trickles its headers, or idles between requests, is
//! dropped), a body read timeout, and an idle timeout on the socket (no
//! byte either way).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use bytes::{Bytes, BytesMut};
use futures_util::stream;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::app::{api_error_body, App, Limits};
use crate::faults::FaultKind;

/// The error a service returns to make hyper drop the connection unanswered.
#[derive(Debug)]
pub struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedByFault {}

/// Open connections, in all and per peer address.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_addr: HashMap<IpAddr, usize>,
}

/// One connection's place under the caps; given back when dropped.
#[derive(Debug)]
struct Slot {
    open: Arc<Mutex<Open>>,
    addr: IpAddr,
}

impl Slot {
    /// A place for a connection from `addr`, or `None` over either cap.
    fn take(open: &Arc<Mutex<Open>>, addr: IpAddr, limits: &Limits) -> Option<Self> {
        let mut o = open.lock().unwrap_or_else(|p| p.into_inner());
        let from_addr = o.per_addr.get(&addr).copied().unwrap_or(0);
        if o.total >= limits.max_connections || from_addr >= limits.max_connections_per_addr {
            return None;
        }
        o.total += 1;
        o.per_addr.insert(addr, from_addr + 1);
        Some(Self {
            open: open.clone(),
            addr,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(|p| p.into_inner());
        o.total = o.total.saturating_sub(1);
        if let Some(n) = o.per_addr.get_mut(&self.addr) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                o.per_addr.remove(&self.addr);
            }
        }
    }
}

/// A socket that notes when a byte last moved either way.
struct Watched {
    tcp: TcpStream,
    epoch: Instant,
    last: Arc<AtomicU64>,
}

impl Watched {
    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Returns once no byte has moved on the socket for `idle`.
async fn idle_for(epoch: Instant, last: Arc<AtomicU64>, idle: Duration) {
    let check = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    loop {
        tokio::time::sleep(check).await;
        let now = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let quiet = now.saturating_sub(last.load(Ordering::Relaxed));
        if Duration::from_millis(quiet) >= idle {
            return;
        }
    }
}

/// Accepts connections until `shutdown` flips; then aborts the open ones.
pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    app: App,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = app.settings.limits;
    let open = Arc::new(Mutex::new(Open::default()));
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((tcp, peer)) = accepted else { continue };
                let Some(slot) = Slot::take(&open, peer.ip(), &limits) else {
                    tracing::info!("connection from {} closed: over the connection cap", peer.ip());
                    drop(tcp);
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let app = app.clone();
                let router = router.clone();
                conns.spawn(async move {
                    let _slot = slot;
                    let epoch = Instant::now();
                    let last = Arc::new(AtomicU64::new(0));
                    let io = Watched { tcp, epoch, last: last.clone() };
                    let served = async move {
                        match acceptor {
                            Some(acceptor) => {
                                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(io)).await {
                                    Ok(Ok(tls)) => serve_connection(TokioIo::new(tls), app, router, &limits).await,
                                    Ok(Err(e)) => tracing::debug!("TLS handshake failed: {e}"),
                                    Err(_) => tracing::debug!("TLS handshake timed out"),
                                }
                            }
                            None => serve_connection(TokioIo::new(io), app, router, &limits).await,
                        }
                    };
                    tokio::select! {
                        _ = served => {}
                        _ = idle_for(epoch, last, limits.idle_timeout) => {
                            tracing::debug!("connection from {} closed: idle", peer.ip());
                        }
                    }
                });
            }
        }
    }
    conns.abort_all();
}

async fn serve_connection<I>(io: I, app: App, router: Router, limits: &Limits)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let app = app.clone();
        let router = router.clone();
        async move { handle(app, router, req).await }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(io, service)
        .await
    {
        tracing::debug!("connection ended: {e}");
    }
}

async fn call(router: Router, req: Request<Body>) -> Response<Body> {
    match router.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// Runs the router and collects the answer, so the operation has fully taken
/// effect before the fault decides what the client sees.
async fn call_collected(
    router: Router,
    req: Request<Body>,
) -> (hyper::http::response::Parts, Bytes) {
    let (parts, body) = call(router, req).await.into_parts();
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => Bytes::new(),
    };
    (parts, bytes)
}

fn with_body(mut parts: hyper::http::response::Parts, body: Body) -> Response<Body> {
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, body)
}

async fn handle(
    app: App,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, DroppedByFault> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let started = Instant::now();
    let fault = app.faults.select(&method, &path);
    let req = req.map(Body::new);

    let result = match fault.clone() {
        None => Ok(call(router, req).await),
        Some(FaultKind::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(call(router, req).await)
        }
        Some(FaultKind::CloseBeforeRead) => Err(DroppedByFault),
        Some(FaultKind::ProcessThenClose) => {
            let _ = call_collected(router, req).await;
            Err(DroppedByFault)
        }
        Some(FaultKind::Status { status, process }) => {
            if process {
                let _ = call_collected(router, req).await;
            }
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = api_error_body(&path, status);
            Ok(Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap_or_else(|_| Response::new(Body::empty())))
        }
        Some(FaultKind::TruncatedBody) => {
            let (mut parts, bytes) = call_collected(router, req).await;
            // Announce at least a few bytes so even an empty answer is short.
            let announced = bytes.len().max(64);
            let half = bytes.slice(0..bytes.len() / 2);
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(announced));
            let chunks = stream::unfold(0u8, move |step| {
                let half = half.clone();
                async move {
                    match step {
                        0 => Some((Ok::<Bytes, std::io::Error>(half), 1)),
                        1 => {
                            // Let hyper flush the half before the connection dies.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Some((Err(std::io::Error::other("truncated by fault")), 2))
                        }
                        _ => None,
                    }
                }
            });
            Ok(Response::from_parts(parts, Body::from_stream(chunks)))
        }
        Some(FaultKind::GatewayPage { status, process }) => {
            if process {
                let _ = call_collected(router, req).await;
            }
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let page = format!(
                "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center><hr><center>nginx</center></body></html>"
            );
            Ok(Response::builder()
                .status(status)
                .header("content-type", "text/html")
                .body(Body::from(page))
                .unwrap_or_else(|_| Response::new(Body::empty())))
        }
        Some(FaultKind::OverCapacity) => {
            let (parts, bytes) = call_collected(router, req).await;
            let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(mut value) => {
                    over_capacity(&mut value);
                    Bytes::from(value.to_string())
                }
                Err(_) => bytes,
            };
            Ok(with_body(parts, Body::from(body)))
        }
        Some(FaultKind::Processing) => {
            let (parts, bytes) = call_collected(router, req).await;
            let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(mut value) => {
                    if let Some(status) = value.get_mut("data").and_then(|d| d.get_mut("status")) {
                        *status = serde_json::Value::String("IN_PROCESSING".into());
                    }
                    Bytes::from(value.to_string())
                }
                Err(_) => bytes,
            };
            Ok(with_body(parts, Body::from(body)))
        }
        Some(FaultKind::InvalidJson) => {
            let (parts, bytes) = call_collected(router, req).await;
            let mut corrupt = BytesMut::from(&bytes[..bytes.len() / 2]);
            corrupt.extend_from_slice(b"\"<<sandbox fault: this is not JSON");
            Ok(with_body(parts, Body::from(corrupt.freeze())))
        }
        Some(FaultKind::OversizedBody { bytes: target }) => {
            let (parts, bytes) = call_collected(router, req).await;
            // Capped so a rule can never exhaust the sandbox's memory.
            let target = target.min(crate::faults::MAX_OVERSIZED_BYTES);
            let pad = target.saturating_sub(bytes.len());
            let mut out = BytesMut::with_capacity(bytes.len() + pad);
            // Whitespace after the first byte of a JSON document keeps it valid.
            match bytes.first() {
                Some(b'{') | Some(b'[') => {
                    out.extend_from_slice(&bytes[..1]);
                    out.resize(1 + pad, b' ');
                    out.extend_from_slice(&bytes[1..]);
                }
                _ => {
                    out.extend_from_slice(&bytes);
                    out.resize(bytes.len() + pad, b' ');
                }
            }
            Ok(with_body(parts, Body::from(out.freeze())))
        }
        Some(FaultKind::SlowTrickle { chunk, interval_ms }) => {
            let (mut parts, bytes) = call_collected(router, req).await;
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            let chunk = chunk.max(1);
            let interval = Duration::from_millis(interval_ms);
            let chunks = stream::unfold(0usize, move |offset| {
                let bytes = bytes.clone();
                async move {
                    if offset >= bytes.len() {
                        return None;
                    }
                    if offset > 0 {
                        tokio::time::sleep(interval).await;
                    }
                    let end = (offset + chunk).min(bytes.len());
                    Some((Ok::<Bytes, Infallible>(bytes.slice(offset..end)), end))
                }
            });
            Ok(Response::from_parts(parts, Body::from_stream(chunks)))
        }
    };

    let elapsed = started.elapsed().as_millis();
    if let Ok(mut requests) = app.requests.lock() {
        if requests.len() >= crate::app::REQUEST_LOG_CAP {
            requests.remove(0);
        }
        requests.push(crate::app::RequestRecord {
            method: method.clone(),
            path: path.clone(),
            query,
            status: result.as_ref().ok().map(|r| r.status().as_u16()),
        });
    }
    match (&result, &fault) {
        (Ok(resp), None) => tracing::info!(
            "{method} {path} -> {} ({elapsed} ms)",
            resp.status().as_u16()
        ),
        (Ok(resp), Some(f)) => {
            tracing::info!(
                "{method} {path} -> {} ({elapsed} ms) [fault {f:?}]",
                resp.status().as_u16()
            )
        }
        (Err(_), f) => {
            tracing::info!("{method} {path} -> connection dropped ({elapsed} ms) [fault {f:?}]")
        }
    }
    result
}

/// Lengthen what the documents leave unbounded (see
/// [`FaultKind::OverCapacity`]), wherever the answer carries it.
fn over_capacity(value: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let Some(object) = value.as_object_mut() else {
        return;
    };
    // Electrum transactions.
    if object.contains_key("thirdPartyIdentifiers") {
        let label = json!({"name": "promo-campaign-".repeat(10), "value": "x".repeat(400)});
        object.insert("transactionLabels".into(), Value::Array(vec![label; 12]));
        object.insert("basketRef".into(), Value::String("basket-".repeat(43)));
        if let Some(Value::Array(ids)) = object.get_mut("thirdPartyIdentifiers") {
            if let Some(first) = ids.first().cloned() {
                while ids.len() < 25 {
                    ids.push(first.clone());
                }
            }
        }
    }
    // Conductor envelopes.
    if let Some(Value::Object(status)) = object.get_mut("status") {
        status.insert("message".into(), Value::String("detail ".repeat(300)));
    }
    if let Some(Value::Array(items)) = object.get_mut("data").and_then(|d| d.get_mut("items")) {
        for item in items {
            if let Some(item) = item.as_object_mut() {
                item.insert(
                    "description".into(),
                    Value::String("description ".repeat(170)),
                );
            }
        }
    }
}
