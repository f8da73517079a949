//! The HTTP/1.1 transport under the router: the accept loop, a bounded number of
//! connections, header and body deadlines, a quick refusal when full, and graceful drain.
//!
//! `axum::serve` has no timeouts and accepts until the process runs out of file
//! descriptors, so the server drives hyper itself:
//! - **header timeout**: hyper's `header_read_timeout`. In hyper 1.x its clock starts when
//!   the connection is ready for a request head: on accept, and again as soon as a response
//!   is written on a keep-alive connection. So it is also the **idle timeout**: a connection
//!   that sends no complete head for that long, new or kept alive, is closed.
//! - **body timeout**: [`DeadlineBody`] gives the whole request body a deadline from the
//!   moment its head arrived; a body still incomplete then is a 408 `body_timeout`.
//! - **connection limit**: one permit per open connection. When all are taken, the
//!   connection idle the longest (no request in flight: kept alive, or still sending its
//!   head) is closed to make room; when every connection is busy, the newcomer gets an
//!   immediate `503 too_many_connections` and is closed. Accept errors (out of descriptors)
//!   back off instead of spinning.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use super::error::ApiError;
use crate::engine::{Engine, Metrics};

/// Most connections served when the descriptor limit would allow more: beyond this a
/// single node should be behind a proxy anyway.
pub const CONNECTIONS_CAP: usize = 4096;
/// File descriptors kept out of the connection budget: sled's files, the writer, logs, the
/// listener, standard streams, the runtime's own, and [`REFUSALS_MAX`] refusals.
pub const FD_RESERVE: usize = 96;
/// Refusals being written at once; beyond that an excess connection is closed unanswered.
pub const REFUSALS_MAX: usize = 32;
/// How long a refused connection may take to read its 503 before it is closed.
const REFUSAL_LINGER: Duration = Duration::from_millis(250);
/// How long the accept loop waits for an evicted connection to give back its permit.
const EVICTION_WAIT: Duration = Duration::from_millis(100);
/// First and longest pause after an accept error such as "too many open files".
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long a graceful shutdown waits for requests in flight before it gives up on them.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The transport's limits (flags and env of `kaledger serve` and `kaledger demo`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
}

/// The default connection limit: the soft `RLIMIT_NOFILE` minus [`FD_RESERVE`], at most
/// [`CONNECTIONS_CAP`] and at least 1 (so `ulimit -n 1024` gives 928).
pub fn default_max_connections() -> usize {
    let open_files = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    connections_for(open_files)
}

fn connections_for(open_files: u64) -> usize {
    let open_files = usize::try_from(open_files).unwrap_or(usize::MAX);
    open_files
        .saturating_sub(FD_RESERVE)
        .clamp(1, CONNECTIONS_CAP)
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets every
/// connection finish its request in flight (at most [`DRAIN_TIMEOUT`]) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()>,
) {
    let metrics = engine.metrics();
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_MAX));
    let registry = Arc::new(Registry::default());
    let (stop, stopped) = watch::channel(false);
    let mut backoff = Duration::ZERO;
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    backoff = accept_failed(e, backoff).await;
                    continue;
                }
            },
        };
        backoff = Duration::ZERO;
        let _ = stream.set_nodelay(true);
        match admit(&connections, &registry, metrics).await {
            Some(permit) => {
                let connection = Connection {
                    app: app.clone(),
                    limits,
                    slot: registry.open(),
                    registry: registry.clone(),
                    engine: engine.clone(),
                    stopped: stopped.clone(),
                };
                tokio::spawn(connection.run(stream, permit));
            }
            None => {
                metrics.connections_refused.inc();
                if let Ok(permit) = refusals.clone().try_acquire_owned() {
                    tokio::spawn(refuse(stream, permit));
                }
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still busy after the drain timeout; closing them");
    }
}

/// A permit for a new connection: a free one, or the one of the connection idle the longest
/// (closed for it); None when every connection has a request in flight.
async fn admit(
    connections: &Arc<Semaphore>,
    registry: &Registry,
    metrics: &Metrics,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(permit) = connections.clone().try_acquire_owned() {
        return Some(permit);
    }
    if !registry.evict_longest_idle() {
        return None;
    }
    metrics.connections_evicted.inc();
    tokio::time::timeout(EVICTION_WAIT, connections.clone().acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
}

/// Logs an accept error and pauses (doubling up to [`ACCEPT_BACKOFF_MAX`]) when it is not
/// about one connection only; returns the next pause.
async fn accept_failed(error: std::io::Error, backoff: Duration) -> Duration {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | Interrupted
    ) {
        return backoff;
    }
    let pause = (backoff * 2).clamp(ACCEPT_BACKOFF_MIN, ACCEPT_BACKOFF_MAX);
    if backoff.is_zero() || pause == ACCEPT_BACKOFF_MAX {
        tracing::warn!(error = %error, pause_ms = pause.as_millis() as u64, "accept failed; pausing");
    }
    tokio::time::sleep(pause).await;
    pause
}

/// The refusal of a connection beyond the limit (every connection busy).
fn refusal() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_connections",
        "the server is at its connection limit with every connection busy; retry in a moment",
    )
}

/// The refusal written straight to a socket no HTTP connection serves: a 503 problem,
/// then close.
fn refusal_bytes() -> Vec<u8> {
    let body = refusal().problem_json();
    let mut bytes = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

/// Writes the refusal, half-closes, and reads what the client sent until it closes or
/// [`REFUSAL_LINGER`] passes (closing with unread data would reset the connection and
/// could destroy the 503 before the client reads it).
async fn refuse(mut stream: TcpStream, _permit: OwnedSemaphorePermit) {
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(&refusal_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// A connection's requests in flight: 0 is idle (may be evicted); [`EVICTED`] once evicted.
const IDLE: u32 = 0;
const EVICTED: u32 = u32::MAX;

/// One open connection's state, shared by its task, its requests and the registry.
struct Slot {
    id: u64,
    /// Requests in flight, or [`EVICTED`].
    state: AtomicU32,
    /// Milliseconds since the registry started when the connection last became idle.
    idle_since: AtomicU64,
    evict: Notify,
}

/// The open connections, for eviction.
struct Registry {
    started: Instant,
    next_id: AtomicU64,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            started: Instant::now(),
            next_id: AtomicU64::new(0),
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn open(&self) -> Arc<Slot> {
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            state: AtomicU32::new(IDLE),
            idle_since: AtomicU64::new(self.now_ms()),
            evict: Notify::new(),
        });
        self.lock().insert(slot.id, slot.clone());
        slot
    }

    fn close(&self, slot: &Slot) {
        self.lock().remove(&slot.id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        // A panic while holding this lock leaves a plain map; keep using it.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the connection idle the longest as evicted and wakes its task; false when no
    /// connection is idle.
    fn evict_longest_idle(&self) -> bool {
        let slots = self.lock();
        let mut idle: Vec<&Arc<Slot>> = slots
            .values()
            .filter(|s| s.state.load(Ordering::Acquire) == IDLE)
            .collect();
        idle.sort_by_key(|s| (s.idle_since.load(Ordering::Relaxed), s.id));
        let evicted = idle.into_iter().find(|s| {
            s.state
                .compare_exchange(IDLE, EVICTED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        });
        match evicted {
            Some(slot) => {
                slot.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// What a connection's task needs.
struct Connection {
    app: Router,
    limits: Limits,
    slot: Arc<Slot>,
    registry: Arc<Registry>,
    engine: Arc<Engine>,
    stopped: watch::Receiver<bool>,
}

impl Connection {
    /// Serves requests until the client closes, a timeout fires, the connection is evicted,
    /// or the server shuts down (then the request in flight finishes first).
    async fn run(mut self, stream: TcpStream, _permit: OwnedSemaphorePermit) {
        self.engine.metrics().connections_open.inc();
        let service = {
            let (app, slot, registry) =
                (self.app.clone(), self.slot.clone(), self.registry.clone());
            let body_timeout = self.limits.body_timeout;
            hyper::service::service_fn(move |request: Request<Incoming>| {
                handle(
                    app.clone(),
                    slot.clone(),
                    registry.clone(),
                    body_timeout,
                    request,
                )
            })
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout);
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let outcome = tokio::select! {
            outcome = connection.as_mut() => outcome,
            _ = self.slot.evict.notified() => Ok(()),
            _ = async { drop(self.stopped.wait_for(|stop| *stop).await) } => {
                connection.as_mut().graceful_shutdown();
                connection.as_mut().await
            }
        };
        if let Err(e) = outcome {
            tracing::debug!(error = %e, "connection ended with an error");
        }
        self.registry.close(&self.slot);
        self.engine.metrics().connections_open.dec();
    }
}

/// One request: marks the connection busy (an evicted one gets the 503 refusal), gives the
/// body its deadline, and marks the connection idle again once the response is sent.
async fn handle(
    app: Router,
    slot: Arc<Slot>,
    registry: Arc<Registry>,
    body_timeout: Duration,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = slot
        .state
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < EVICTED - 1).then_some(n + 1)
        });
    if started.is_err() {
        return Ok(refusal_response());
    }
    let request = request.map(|body| DeadlineBody::new(body, body_timeout));
    let response = app.oneshot(request).await?;
    let done = IdleOnDrop { slot, registry };
    Ok(response.map(|body| {
        Body::new(TrackedBody {
            inner: body,
            _done: done,
        })
    }))
}

/// The refusal as a response, for a request that arrives on an evicted connection.
fn refusal_response() -> Response<Body> {
    let mut response = refusal().into_response();
    let headers = response.headers_mut();
    headers.insert("retry-after", HeaderValue::from_static("1"));
    headers.insert("connection", HeaderValue::from_static("close"));
    response
}

/// Returns a connection to idle when its response body is done (sent or dropped).
struct IdleOnDrop {
    slot: Arc<Slot>,
    registry: Arc<Registry>,
}

impl Drop for IdleOnDrop {
    fn drop(&mut self) {
        self.slot
            .idle_since
            .store(self.registry.now_ms(), Ordering::Relaxed);
        let _ = self
            .slot
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n != EVICTED && n > IDLE).then(|| n - 1)
            });
    }
}

/// A response body that carries an [`IdleOnDrop`].
struct TrackedBody {
    inner: Body,
    _done: IdleOnDrop,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The error of a request body that did not arrive in time (mapped to 408 `body_timeout`
/// by [`super::extract::bytes_rejection`]).
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} ms of its head; send it faster or in smaller requests", .0.as_millis())]
pub struct BodyTimeout(pub Duration);

/// A request body with one deadline for the whole body.
pub struct DeadlineBody {
    inner: Incoming,
    timeout: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, timeout: Duration) -> DeadlineBody {
        DeadlineBody {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(self.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_connection_limit_leaves_the_reserve_free() {
        // Proves the limit derived from the descriptor limit keeps FD_RESERVE descriptors
        // free, stays within the cap, and is never zero.
        assert_eq!(connections_for(1024), 1024 - FD_RESERVE);
        assert_eq!(connections_for(u64::MAX), CONNECTIONS_CAP);
        assert_eq!(connections_for(10), 1);
    }

    #[test]
    fn the_refusal_is_a_complete_problem_response() {
        // Proves the raw refusal is a 503 whose content-length matches its problem body.
        let bytes = refusal_bytes();
        let text = String::from_utf8(bytes).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let problem: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(problem["code"], "too_many_connections");
    }
}
