//! When to tell a person: the alert policy and the pure state machine that applies it (one live
//! alert per cluster, re-posts, resolution once, rate limits, flap damping). No clock and no
//! I/O: `sinks::alert` is the shell that ticks it and delivers its posts.

pub mod state;

pub use state::{Admission, AlertEvent, AlertKind, AlertPost, AlertState, Change, Policy};
