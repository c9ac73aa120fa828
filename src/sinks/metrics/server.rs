//! The metrics endpoint: `/metrics` (the registry in text format), `/healthz` (the process
//! answers) and `/readyz` (the source is connected and the checkpoint loaded, as the run wiring
//! reports through [`Readiness`]). A plain hyper 1 HTTP/1 server; nothing else is served.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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

/// Whether the process is ready for traffic. The run wiring holds a clone and sets both flags;
/// `/readyz` answers 200 only when both are set.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<Flags>);

#[derive(Debug, Default)]
struct Flags {
    source_connected: AtomicBool,
    checkpoint_loaded: AtomicBool,
}

impl Readiness {
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// The source is connected (Pub/Sub stream open) — or no longer is.
    pub fn set_source_connected(&self, yes: bool) {
        self.0.source_connected.store(yes, Ordering::Release);
    }

    /// The checkpoint (window state) has been loaded.
    pub fn set_checkpoint_loaded(&self, yes: bool) {
        self.0.checkpoint_loaded.store(yes, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.missing().is_empty()
    }

    fn missing(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        if !self.0.source_connected.load(Ordering::Acquire) {
            m.push("source not connected");
        }
        if !self.0.checkpoint_loaded.load(Ordering::Acquire) {
            m.push("checkpoint not loaded");
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
