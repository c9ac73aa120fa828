//! What `run` starts beside the pipeline: the metrics endpoint (`/metrics`, `/healthz`,
//! `/readyz`) and, when `[alerts]` names a receiver, the alert stage. Both end after the
//! pipeline: the alert stage once every handle is dropped and its queue is delivered, the
//! endpoint when told to, last, so a scrape during shutdown still answers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::Settings;
use crate::sinks::alert::{self, AlertHandle};
use crate::telemetry::metrics::{self, Metrics};
use crate::telemetry::Readiness;

/// What `run` reports while it runs: readiness for `/readyz` and, when alerts are configured,
/// the alert stage's handle (new clusters and escalations go there at once).
#[derive(Default)]
pub struct Observe {
    pub readiness: Readiness,
    pub alerts: Option<AlertHandle>,
}

/// How long the alert stage may take to deliver what is queued at shutdown (within the 10 s
/// a Cloud Run instance is given).
const ALERT_DRAIN: Duration = Duration::from_secs(3);

/// Why the side services could not start; `run` exits with code 2 (the message names the key).
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Metrics(#[from] metrics::ServeError),
    #[error("alerts: a receiver URL cannot be used: {0}")]
    Alerts(String),
}

/// The running side services, to stop after the pipeline.
pub struct Background {
    server_stop: oneshot::Sender<()>,
    server: JoinHandle<()>,
    alerts: Option<JoinHandle<()>>,
    pub metrics_addr: std::net::SocketAddr,
}

/// Installs the metrics registry, binds the endpoint and starts the alert stage.
pub async fn start(
    settings: &Settings,
    clock: Clock,
) -> Result<(Observe, Background), ObserveError> {
    let m = metrics::install(Arc::new(Metrics::new(settings.metrics.top_k)));
    let readiness = Readiness::new();
    let (server_stop, stopped) = oneshot::channel::<()>();
    let stop = async {
        let _ = stopped.await;
    };
    let (metrics_addr, serving) =
        metrics::serve(settings.metrics.listen, m, readiness.clone(), stop).await?;
    let server = tokio::spawn(serving);
    let (alerts, task) = if settings.alerts.enabled() {
        let lanes =
            alert::lanes(&settings.alerts).map_err(|e| ObserveError::Alerts(e.to_string()))?;
        let (handle, task) =
            alert::spawn(settings.alerts.policy.clone(), lanes, clock, alert::TICK);
        (Some(handle), Some(task))
    } else {
        (None, None)
    };
    let background = Background {
        server_stop,
        server,
        alerts: task,
        metrics_addr,
    };
    Ok((Observe { readiness, alerts }, background))
}

impl Background {
    /// After the pipeline has dropped its handles: lets the alert stage deliver, then stops the
    /// endpoint.
    pub async fn stop(self) {
        if let Some(task) = self.alerts {
            if tokio::time::timeout(ALERT_DRAIN, task).await.is_err() {
                tracing::warn!("alerts still queued at shutdown were not delivered");
            }
        }
        let _ = self.server_stop.send(());
        let _ = self.server.await;
    }
}
