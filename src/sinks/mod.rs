//! Effects at the end of the pipeline, each behind a trait so tests can record what would
//! have happened: the worklog, then GitHub issues (after the worklog of the same window is
//! written, so it can note what was done), alerts (Alertmanager, webhook) and Prometheus metrics.

pub mod alert;
pub mod github;
pub mod markdown;
pub mod worklog;
