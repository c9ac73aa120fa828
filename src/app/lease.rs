//! The Redis lease of `run` (`state.redis_url`): one replica holds it and counts; the others
//! stand by and take over once it stops renewing. The async shell around
//! [`RedisCheckpoint`]'s lease calls (each a blocking round trip to Redis).
//!
//! While standing by, a replica counts nothing (it pulls and relays into Redis:
//! `source::relay`) and `/readyz` answers 200 "standby", so Cloud Run's startup probe keeps
//! it. The holder renews every third of the lease; a holder that learns it lost the lease, or
//! cannot renew it for a whole lease time (another replica may hold it by now), exits at once
//! with code 5 — no drain, no flush, no worklog: its state is its successor's now (its
//! checkpoint would fail by the fencing token anyway), nothing it holds is trimmed from the
//! relay stream, and the new holder reads it again. The platform starts it again, as a
//! standby.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::driver::{Lease, RedisCheckpoint};
use crate::telemetry::Readiness;

/// Runs `f` on a blocking thread (a Redis round trip).
async fn blocking<T: Send + 'static>(
    store: &Arc<RedisCheckpoint>,
    f: impl FnOnce(&RedisCheckpoint) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .unwrap_or_else(|e| Err(format!("lease task failed: {e}")))
}

/// Waits until this process holds the lease (`Some(token)`), or `stop` turns true (`None`).
pub async fn acquire(
    store: &Arc<RedisCheckpoint>,
    readiness: &Readiness,
    stop: &mut watch::Receiver<bool>,
) -> Option<u64> {
    let every = store.lease() / 3;
    let mut told = false;
    loop {
        match blocking(store, RedisCheckpoint::try_acquire).await {
            Ok(Lease::Held(token)) => {
                readiness.standby(None);
                tracing::info!(token, "holding the Redis lease: this replica runs");
                return Some(token);
            }
            Ok(Lease::Taken) => {
                readiness.standby(Some("another replica holds the Redis lease".into()));
                if !told {
                    tracing::info!(
                        lease = ?store.lease(),
                        "standing by: another replica holds the Redis lease; taking over when it stops renewing"
                    );
                    told = true;
                }
            }
            Err(e) => {
                readiness.standby(None);
                readiness.checkpoint_written(Err(e.clone()));
                tracing::warn!(error = %e, "cannot reach Redis for the lease; trying again");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return None,
        }
    }
}

/// The lease is gone: this process must not write, ack or tell anything more.
fn lost(why: &str) -> ! {
    tracing::error!("{why}: exiting at once (code 5); nothing more is acked or written here, the holder reads on from the relay stream");
    super::console::say(format_args!("log-gardener: {why}: exiting (code 5)"));
    std::process::exit(5)
}

/// The lease, held: renewed in the background until [`Held::release`].
pub struct Held {
    store: Arc<RedisCheckpoint>,
    renewing: JoinHandle<()>,
}

impl Held {
    /// Renews the lease every third of its time; exits the process when the lease is lost
    /// (or unrenewable for a whole lease time).
    pub fn keep(store: Arc<RedisCheckpoint>) -> Held {
        let s = store.clone();
        let renewing = tokio::spawn(async move {
            let every = s.lease() / 3;
            let mut renewed = Instant::now();
            loop {
                tokio::time::sleep(every).await;
                match blocking(&s, RedisCheckpoint::renew).await {
                    Ok(true) => renewed = Instant::now(),
                    Ok(false) => lost("the Redis lease was taken over by another replica"),
                    Err(e) if renewed.elapsed() >= s.lease() => lost(&format!(
                        "cannot renew the Redis lease for a whole lease time ({e}); another replica may hold it"
                    )),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot renew the Redis lease; trying again")
                    }
                }
            }
        });
        Held { store, renewing }
    }

    /// After the last checkpoint: lets the next replica in at once instead of after the
    /// lease time.
    pub async fn release(self) {
        self.renewing.abort();
        if let Err(e) = blocking(&self.store, RedisCheckpoint::release).await {
            tracing::warn!(error = %e, "cannot release the Redis lease; it expires by itself");
        }
    }
}
