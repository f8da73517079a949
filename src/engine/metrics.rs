//! Prometheus metrics: appends, group sizes, flush latency, HTTP requests.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// The ledger's metrics and the registry that renders them.
pub struct Metrics {
    registry: Registry,
    pub events_appended: IntCounter,
    pub groups_committed: IntCounter,
    pub group_events: Histogram,
    pub group_requests: Histogram,
    pub flush_seconds: Histogram,
    pub sync_seconds: Histogram,
    pub append_failures: IntCounter,
    pub head_position: IntGauge,
    /// 1 while writes are stopped after a failed flush, 0 otherwise.
    pub writes_stopped: IntGauge,
    pub http_requests: IntCounterVec,
    pub http_seconds: HistogramVec,
    /// Open HTTP connections.
    pub connections_open: IntGauge,
    /// Connections answered 503 at the connection limit (every connection busy).
    pub connections_refused: IntCounter,
    /// Idle connections closed to make room for a new one at the connection limit.
    pub connections_evicted: IntCounter,
}

/// Buckets for group sizes: one request of one line up to many 10,000-line batches.
const GROUP_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0,
];
/// Buckets for durable flush latency, in seconds: 100 µs to 1 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

impl Metrics {
    /// Creates and registers every metric. Registration of fresh, uniquely named metrics
    /// into a fresh registry cannot fail, so failures here are our bug.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let r = Registrar(&registry);
        Metrics {
            events_appended: r.counter(
                "kaledger_events_appended_total",
                "Events durably appended to the log.",
            ),
            groups_committed: r.counter(
                "kaledger_groups_committed_total",
                "Group commits (one sled batch and one WAL frame written and synced each).",
            ),
            append_failures: r.counter(
                "kaledger_append_failures_total",
                "Group commits that failed and were rolled back.",
            ),
            group_events: r.histogram(
                "kaledger_group_events",
                "Events per group commit.",
                GROUP_BUCKETS,
            ),
            group_requests: r.histogram(
                "kaledger_group_requests",
                "Write requests per group commit.",
                GROUP_BUCKETS,
            ),
            flush_seconds: r.histogram(
                "kaledger_flush_seconds",
                "Write latency per group: its WAL frame, or sled's flush when the group went to sled directly or filled a WAL segment.",
                LATENCY_BUCKETS,
            ),
            sync_seconds: r.histogram(
                "kaledger_sync_data_seconds",
                "fdatasync latency per group (the WAL segment, or sled's data file).",
                LATENCY_BUCKETS,
            ),
            head_position: r.gauge("kaledger_head_position", "Last durable log position."),
            http_requests: r.register(
                IntCounterVec::new(
                    Opts::new(
                        "kaledger_http_requests_total",
                        "HTTP requests by route and status.",
                    ),
                    &["method", "route", "status"],
                )
                .expect("valid metric"),
            ),
            writes_stopped: r.gauge(
                "kaledger_writes_stopped",
                "1 while writes are refused after a failed flush, until the store reopens.",
            ),
            http_seconds: r.register(
                HistogramVec::new(
                    HistogramOpts::new(
                        "kaledger_http_request_seconds",
                        "HTTP request latency by route.",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                    &["method", "route"],
                )
                .expect("valid metric"),
            ),
            connections_open: r.gauge("kaledger_http_connections_open", "Open HTTP connections."),
            connections_refused: r.counter(
                "kaledger_http_connections_refused_total",
                "Connections answered 503 at the connection limit because every connection was busy.",
            ),
            connections_evicted: r.counter(
                "kaledger_http_connections_evicted_total",
                "Idle connections closed to make room for a new one at the connection limit.",
            ),
            registry,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding gathered families into a Vec<u8> only fails on invalid metric data,
        // which registration already ruled out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Registers fresh, uniquely named metrics into one registry (see [`Metrics::new`]).
struct Registrar<'a>(&'a Registry);

impl Registrar<'_> {
    /// Registers a metric and hands it back.
    fn register<T: prometheus::core::Collector + Clone + 'static>(&self, metric: T) -> T {
        self.0
            .register(Box::new(metric.clone()))
            .expect("unique metric");
        metric
    }

    fn counter(&self, name: &str, help: &str) -> IntCounter {
        self.register(IntCounter::new(name, help).expect("valid metric"))
    }

    fn gauge(&self, name: &str, help: &str) -> IntGauge {
        self.register(IntGauge::new(name, help).expect("valid metric"))
    }

    fn histogram(&self, name: &str, help: &str, buckets: &[f64]) -> Histogram {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.register(Histogram::with_opts(opts).expect("valid metric"))
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
