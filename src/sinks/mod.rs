//! Effects at the end of the pipeline, each behind a trait so tests can record what would
//! have happened: the worklog now; GitHub issues, alerts and metrics plug in beside it.

pub mod markdown;
pub mod worklog;
