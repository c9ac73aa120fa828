//! What the gardener tells about itself: [`events`] (one struct per thing worth telling; each
//! logs and counts, so logs and metrics never drift apart), the Prometheus registry
//! ([`metrics`]) and the HTTP endpoint serving it with `/healthz` and `/readyz`.
//!
//! Telemetry sits below every stage that emits into it (sources, the driver, the sinks) and
//! above the core types it names (severities, priorities, cluster ids, window reports); it
//! imports no source, driver or sink.

pub mod events;
mod loudness;
pub mod metrics;

pub use metrics::server::{serve, Readiness, ServeError};
