//! log-gardener: tends a backend's Cloud Logging entries the way an on-call engineer would.
//!
//! ```text
//!  source (file / stdin for `replay`, Pub/Sub streaming pull for `run`)
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
//!  sinks      worklog (markdown + JSON), then GitHub issues; alerts (Alertmanager, webhook),
//!             Prometheus metrics
//! ```
//!
//! `app` wires the stages with bounded channels; `pipeline` is the synchronous core that
//! every source shares, so a replay and a live run give the same reports. `live` adds what a
//! stream needs around it: acks only after a durable checkpoint, redelivery dedupe, and
//! escalation events as counts cross their tiers. Beside the flow: `synth` writes realistic
//! example exports; `eval` scores the fingerprinter on labelled logs (Loghub layout).

pub mod atomic_file;
pub mod clock;
pub mod config;
pub mod source;
pub mod entry;
pub mod stitch;
pub mod fingerprint;
pub mod incident;
pub mod window;
pub mod escalate;
pub mod report;
pub mod redact;
pub mod sinks;
pub mod pipeline;
pub mod driver;
pub mod alerting;
pub mod app;
pub mod telemetry;
pub mod tls;
pub mod synth;
pub mod eval;
