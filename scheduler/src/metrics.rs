//! Prometheus metrics. Per-function handles are resolved once per function version
//! ([`FunctionMetrics`]), so the invoke path bumps counters without label lookups.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Buckets for durations in seconds: 50 µs to 15 min.
const DURATION_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

/// All of hearth's metrics, registered in one registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    invocations: IntCounterVec,
    errors: IntCounterVec,
    throttles: IntCounterVec,
    cold_starts: IntCounterVec,
    duration: HistogramVec,
    init_duration: HistogramVec,
    concurrent: IntGauge,
    sandboxes: IntGaugeVec,
    sandbox_memory: HistogramVec,
    destination_drops: IntCounter,
    async_queue_events: IntGauge,
    memory_evictions: IntCounter,
    memory_held: IntGauge,
    memory_limit: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Handles for one function.
#[derive(Clone)]
pub struct FunctionMetrics {
    pub invocations: prometheus::IntCounter,
    pub errors: prometheus::IntCounter,
    pub throttles: prometheus::IntCounter,
    pub cold_starts: prometheus::IntCounter,
    pub duration: prometheus::Histogram,
    pub init_duration: prometheus::Histogram,
    pub idle: IntGauge,
    pub busy: IntGauge,
    /// Bytes a sandbox holds (linear memory and overhead) when an invocation ends.
    pub sandbox_memory: prometheus::Histogram,
}

impl std::fmt::Debug for FunctionMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FunctionMetrics")
    }
}

/// Registers a metric made from a static, known-valid definition.
fn register<M>(registry: &Registry, metric: prometheus::Result<M>) -> M
where
    M: prometheus::core::Collector + Clone + 'static,
{
    let metric = metric.expect("static metric definition is valid");
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric is registered once");
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    register(registry, IntGauge::new(name, help))
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounterVec {
    register(
        registry,
        IntCounterVec::new(Opts::new(name, help), &["function"]),
    )
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> HistogramVec {
    register(
        registry,
        HistogramVec::new(
            HistogramOpts::new(name, help).buckets(buckets),
            &["function"],
        ),
    )
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    // The `expect`s here and above run on static, known-valid definitions registered once
    // into a fresh registry: they cannot fail.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("hearth".into()), None).expect("static prefix is valid");
        let concurrent = gauge(
            &registry,
            "concurrent_executions",
            "Invocations running now, all functions",
        );
        let sandboxes = register(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "sandboxes",
                    "Live sandboxes per function and state (idle, busy)",
                ),
                &["function", "state"],
            ),
        );
        let destination_drops = register(
            &registry,
            IntCounter::new(
                "destination_records_dropped_total",
                "Async destination records that could not be queued (over the payload limit or a full queue)",
            ),
        );
        let async_queue_events = gauge(
            &registry,
            "async_queue_events",
            "Accepted Event invocations not yet finished",
        );
        let sandbox_memory = histogram(
            &registry,
            "sandbox_memory_bytes",
            "Bytes a sandbox holds (linear memory and per-sandbox overhead) when an invocation ends",
            // 64 KiB to 4 GiB, ×4 per bucket.
            (0..9).map(|i| 65536.0 * 4f64.powi(i)).collect(),
        );
        let memory_evictions = register(
            &registry,
            IntCounter::new(
                "sandboxes_evicted_for_memory_total",
                "Idle sandboxes evicted because sandboxes really held more than the admission limit",
            ),
        );
        Self {
            memory_held: gauge(
                &registry,
                "memory_held_bytes",
                "Bytes all live sandboxes hold (linear memory and per-sandbox overhead)",
            ),
            memory_limit: gauge(
                &registry,
                "memory_limit_bytes",
                "Bytes sandboxes may hold together; growth past it is refused",
            ),
            memory_evictions,
            destination_drops,
            async_queue_events,
            invocations: counter(&registry, "invocations_total", "Invocations admitted"),
            errors: counter(
                &registry,
                "errors_total",
                "Invocations that ended in a function or sandbox error",
            ),
            throttles: counter(&registry, "throttles_total", "Invocations refused with 429"),
            cold_starts: counter(&registry, "cold_starts_total", "Sandboxes created"),
            duration: histogram(
                &registry,
                "duration_seconds",
                "Invocation duration (excluding INIT)",
                DURATION_BUCKETS.to_vec(),
            ),
            init_duration: histogram(
                &registry,
                "init_duration_seconds",
                "INIT duration of cold starts",
                DURATION_BUCKETS.to_vec(),
            ),
            registry,
            concurrent,
            sandboxes,
            sandbox_memory,
        }
    }

    /// Handles for one function name.
    pub fn function(&self, name: &str) -> FunctionMetrics {
        FunctionMetrics {
            invocations: self.invocations.with_label_values(&[name]),
            errors: self.errors.with_label_values(&[name]),
            throttles: self.throttles.with_label_values(&[name]),
            cold_starts: self.cold_starts.with_label_values(&[name]),
            duration: self.duration.with_label_values(&[name]),
            init_duration: self.init_duration.with_label_values(&[name]),
            idle: self.sandboxes.with_label_values(&[name, "idle"]),
            busy: self.sandboxes.with_label_values(&[name, "busy"]),
            sandbox_memory: self.sandbox_memory.with_label_values(&[name]),
        }
    }

    /// Forgets a deleted function's series.
    pub fn remove_function(&self, name: &str) {
        let _ = self.invocations.remove_label_values(&[name]);
        let _ = self.errors.remove_label_values(&[name]);
        let _ = self.throttles.remove_label_values(&[name]);
        let _ = self.cold_starts.remove_label_values(&[name]);
        let _ = self.duration.remove_label_values(&[name]);
        let _ = self.init_duration.remove_label_values(&[name]);
        let _ = self.sandboxes.remove_label_values(&[name, "idle"]);
        let _ = self.sandboxes.remove_label_values(&[name, "busy"]);
        let _ = self.sandbox_memory.remove_label_values(&[name]);
    }

    /// Destination records that could not be queued.
    pub fn destination_drops(&self) -> &IntCounter {
        &self.destination_drops
    }

    /// The gauge of queued `Event` invocations (set when metrics are rendered).
    pub fn async_queue_events(&self) -> &IntGauge {
        &self.async_queue_events
    }

    /// Idle sandboxes evicted to bring measured memory under the admission limit.
    pub fn memory_evictions(&self) -> &IntCounter {
        &self.memory_evictions
    }

    /// The host memory ledger's gauges: held and limit (set when metrics are rendered).
    pub fn memory(&self) -> (&IntGauge, &IntGauge) {
        (&self.memory_held, &self.memory_limit)
    }

    /// The gauge of running invocations.
    pub fn concurrent(&self) -> &IntGauge {
        &self.concurrent
    }

    /// The Prometheus text exposition of everything.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
