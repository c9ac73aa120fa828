//! Effects at the end of the pipeline, each behind a trait so tests can record what would
//! have happened: the worklog, alerts (Alertmanager, webhook) and Prometheus metrics; GitHub
//! issues plug in beside them.

pub mod alert;
pub mod markdown;
pub mod metrics;
pub mod worklog;
