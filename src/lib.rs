//! log-gardener: tends a backend's Cloud Logging entries the way an on-call engineer would.
//!
//! ```text
//!  source (file / stdin, later Pub/Sub)
//!     │  LogEntry JSON, one per line or a JSON array
//!     ▼
//!  entry      parse + extract the message, severity, service, logger      (pure)
//!     ▼
//!  stitch     re-join tracebacks that were split one line per entry        (pure, stateful)
//!     ▼
//!  fingerprint  typed masks + template mining → deterministic cluster id   (pure)
//!     ▼
//!  window     per-cluster minute buckets in a concurrent map; windows close on the hour
//!     ▼
//!  escalate   rules + thresholds → priority P0..P5 and the reason          (pure)
//!     ▼
//!  sinks      worklog (markdown + JSON), alerts (Alertmanager, webhook), Prometheus
//!             metrics; later GitHub issues
//! ```
//!
//! `app` wires the stages with bounded channels; `pipeline` is the synchronous core that
//! every source shares, so a replay and a live run give the same reports.

pub mod config;
pub mod source;
pub mod entry;
pub mod stitch;
pub mod fingerprint;
pub mod window;
pub mod escalate;
pub mod report;
pub mod redact;
pub mod sinks;
pub mod pipeline;
pub mod app;
pub mod internal_events;
pub mod synth;
