//! The metrics endpoint: `/metrics` (the registry in text format), `/healthz` (the process
//! answers) and `/readyz` (the source has pulled, the checkpoint is loaded and checkpoints
//! succeed, as the source and the driver report through [`Readiness`]). A plain hyper 1 HTTP/1 server; nothing else is served.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Metrics;

/// The content type Prometheus expects for the text exposition format.
const TEXT_FORMAT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why the endpoint could not start; the run stops at startup (exit code 2: the address in
/// `metrics.listen` is taken or not allowed).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} (metrics.listen): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Whether the process is ready for traffic, and if not, why. The source and the driver hold
/// clones and report what they see; `/readyz` answers 200 only when every condition holds and
/// otherwise names each one that does not.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<Mutex<Conditions>>);

#[derive(Debug, Default)]
struct Conditions {
    /// `None` until the source has pulled (or the service acknowledged the subscription);
    /// `Some(Err(why))` while it cannot reach it.
    source: Option<Result<(), String>>,
    checkpoint_loaded: bool,
    /// The last checkpoint write failed, and why (cleared by the next success).
    checkpoint_failing: Option<String>,
    /// Standing by for the Redis lease, and why: ready (to take over), not running.
    standby: Option<String>,
    /// Parts whose last attempt failed, and why (each cleared by its next success).
    failing: std::collections::BTreeMap<&'static str, String>,
}

impl Readiness {
    pub fn new() -> Readiness {
        Readiness::default()
    }

    fn with(&self, f: impl FnOnce(&mut Conditions)) {
        let mut c = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut c);
    }

    /// The source has pulled, or the service acknowledged the subscription.
    pub fn source_connected(&self) {
        self.with(|c| c.source = Some(Ok(())));
    }

    /// The source cannot reach its input now (it keeps trying).
    pub fn source_unavailable(&self, why: &str) {
        self.with(|c| c.source = Some(Err(why.to_owned())));
    }

    /// The source stopped (shutdown): not ready for more traffic.
    pub fn source_stopped(&self) {
        self.with(|c| c.source = Some(Err("stopping".to_owned())));
    }

    /// The checkpoint (window state) has been loaded.
    pub fn set_checkpoint_loaded(&self, yes: bool) {
        self.with(|c| c.checkpoint_loaded = yes);
    }

    /// The outcome of the last checkpoint write.
    pub fn checkpoint_written(&self, outcome: Result<(), String>) {
        self.with(|c| c.checkpoint_failing = outcome.err());
    }

    /// The outcome of the last attempt of `part` (reading or writing the relay stream): not
    /// ready while it fails.
    pub fn part(&self, part: &'static str, outcome: Result<(), String>) {
        self.with(|c| match outcome {
            Ok(()) => {
                c.failing.remove(part);
            }
            Err(why) => {
                c.failing.insert(part, why);
            }
        });
    }

    /// Standing by (`Some(why)`) for another replica's lease, or not (`None`).
    pub fn standby(&self, why: Option<String>) {
        self.with(|c| c.standby = why);
    }

    /// Why this replica stands by, if it does.
    pub fn standing_by(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .standby
            .clone()
    }

    pub fn is_ready(&self) -> bool {
        self.missing().is_empty()
    }

    /// Every condition that does not hold, in words.
    pub fn missing(&self) -> Vec<String> {
        let c = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut m = Vec::new();
        match &c.source {
            None => m.push("source not connected yet".to_owned()),
            Some(Err(why)) => m.push(format!("source unavailable: {why}")),
            Some(Ok(())) => {}
        }
        if !c.checkpoint_loaded {
            m.push("checkpoint not loaded".to_owned());
        }
        if let Some(why) = &c.checkpoint_failing {
            m.push(format!("checkpoint failing: {why}"));
        }
        for (part, why) in &c.failing {
            m.push(format!("{part} failing: {why}"));
        }
        m
    }
}

/// Binds `addr` (port 0 picks a free one) and returns the bound address and the server
/// future, which serves until `shutdown` completes. Binding first lets startup fail on a
/// taken port before anything else runs.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = ()> + Send + 'static), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    tracing::info!(addr = %bound, "metrics endpoint listening");
    Ok((bound, accept_loop(listener, metrics, readiness, shutdown)))
}

async fn accept_loop(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: the next accept may work.
                    tracing::warn!(error = %e, "metrics endpoint accept failed");
                    continue;
                }
            },
        };
        let (metrics, readiness) = (metrics.clone(), readiness.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let resp = respond(&req, &metrics, &readiness);
                async move { Ok::<_, Infallible>(resp) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "metrics connection ended with an error");
            }
        });
    }
}

fn respond(req: &Request<Incoming>, metrics: &Metrics, ready: &Readiness) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into());
    }
    match req.uri().path() {
        "/metrics" => {
            let mut resp = text(StatusCode::OK, metrics.encode());
            resp.headers_mut().insert(
                CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(TEXT_FORMAT),
            );
            resp
        }
        "/healthz" => text(StatusCode::OK, "ok\n".into()),
        "/readyz" if ready.standing_by().is_some() => text(
            StatusCode::OK,
            format!("standby: {}\n", ready.standing_by().unwrap_or_default()),
        ),
        "/readyz" => match ready.missing() {
            m if m.is_empty() => text(StatusCode::OK, "ready\n".into()),
            m => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {}\n", m.join(", ")),
            ),
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
