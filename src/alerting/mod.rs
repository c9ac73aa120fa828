//! When to tell a person: the alert policy and the pure state machine that applies it (one live
//! alert per cluster, re-posts, resolution once and only after the flap window, rate limits),
//! and its snapshot for the checkpoint. No clock and no I/O: `sinks::alert` is the shell that
//! ticks it and delivers its posts.

pub mod state;

pub use state::{
    Admission, AlertEvent, AlertKind, AlertPost, AlertSnapshot, AlertState, Annotation, Change,
    LiveAlert, Policy,
};
