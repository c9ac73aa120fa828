//! Where "now" comes from. Cores take time as an argument; the shells that need the present
//! ask a [`Clock`]: the system clock in production, and in tests one that follows tokio's
//! clock, so with paused time an hour of windows, checkpoints and alert deadlines passes in
//! milliseconds and exactly as the test advances it.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

/// The present, as wall-clock time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system's wall clock.
pub fn system() -> Clock {
    Arc::new(Utc::now)
}

/// A clock that follows `tokio::time::Instant`, starting at `base`.
pub fn tokio_from(base: DateTime<Utc>) -> Clock {
    let start = tokio::time::Instant::now();
    Arc::new(move || {
        let elapsed = tokio::time::Instant::now() - start;
        base + TimeDelta::from_std(elapsed).unwrap_or(TimeDelta::MAX)
    })
}
