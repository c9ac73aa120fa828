//! Streaming pull from a Pub/Sub subscription with the official `google-cloud-pubsub` client:
//! `streams` StreamingPull streams, each in its own task, hand messages to the driver with
//! their `Handler` still attached. This file never acks: the driver acks once a checkpoint
//! holds the entry (the rule is written in `driver::consumer`). Flow control is the service's
//! (`max_outstanding_*` per stream): unacked messages hold the stream back, so a slow
//! checkpoint slows the pull instead of growing memory.
//!
//! Readiness: the client retries an unreachable service forever without a word, so beside the
//! streams a probe asks the service for the subscription (`GetSubscription`) at start and then
//! every [`PROBE_EVERY`]: an answer (or a message) makes the source ready; no answer within
//! [`PROBE_TIMEOUT`] makes it unready, with a warning naming the endpoint; "not found" or
//! "permission denied" stop the run (exit code 3).

use std::future::Future;

use std::time::Duration;

use chrono::{DateTime, Utc};
use google_cloud_auth::credentials::anonymous::Builder as Anonymous;
use google_cloud_gax::error::rpc::Code;
use google_cloud_pubsub::client::{Subscriber, SubscriptionAdmin};
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::handler::Handler;
use google_cloud_pubsub::subscriber::{MessageStream, ShutdownBehavior};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::{Acker, Batch, Boundedness, Delivery, Input, Origin, RawEntry, Source};
use super::{SourceError, SourceStats};
use crate::config::PubSubSettings;
use crate::telemetry::events as ev;
use crate::telemetry::Readiness;

/// How often the subscription is probed while the run lasts.
pub const PROBE_EVERY: Duration = Duration::from_secs(15);
/// How long a probe may take before the service counts as unreachable: well inside the 10 s in
/// which an unreachable Pub/Sub must show in `/readyz` and the log.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A message's handler and when it was received: its ack is timed into
/// `log_gardener_pubsub_ack_latency_seconds`.
struct Timed {
    handler: Handler,
    received: std::time::Instant,
}

impl Acker for Timed {
    fn ack(self: Box<Self>) {
        if let Some(m) = crate::telemetry::metrics::installed() {
            m.observe_ack_latency(self.received.elapsed());
        }
        self.handler.ack();
    }
    fn nack(self: Box<Self>) {
        self.handler.nack();
    }
}

/// Where to connect: the emulator named by `PUBSUB_EMULATOR_HOST` (plaintext, no
/// credentials), else the configured endpoint, else Google's with Application Default
/// Credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Emulator(String),
    Custom(String),
    Google,
}

impl Endpoint {
    /// `emulator_host` is the value of `PUBSUB_EMULATOR_HOST`, if set.
    pub fn choose(settings: &PubSubSettings, emulator_host: Option<&str>) -> Endpoint {
        match (emulator_host.map(str::trim), &settings.endpoint) {
            (Some(h), _) if !h.is_empty() => Endpoint::Emulator(if h.contains("://") {
                h.to_owned()
            } else {
                format!("http://{h}")
            }),
            (_, Some(e)) => Endpoint::Custom(e.clone()),
            _ => Endpoint::Google,
        }
    }
}

/// The real source.
pub struct PubSubSource {
    pub settings: PubSubSettings,
    pub subscription: String,
    pub endpoint: Endpoint,
    /// Told when the subscription is reachable, and when it is not.
    pub readiness: Readiness,
}

/// Both clients take the same endpoint and credentials.
/// TLS and Google's service-account signing take the process's rustls provider.
macro_rules! configure {
    ($builder:expr, $endpoint:expr) => {{
        crate::tls::install();
        match $endpoint {
            Endpoint::Emulator(url) => $builder
                .with_endpoint(url.clone())
                .with_credentials(Anonymous::new().build()),
            Endpoint::Custom(url) => $builder.with_endpoint(url.clone()),
            Endpoint::Google => $builder,
        }
    }};
}

impl PubSubSource {
    async fn client(&self) -> Result<Subscriber, SourceError> {
        configure!(Subscriber::builder(), &self.endpoint)
            .build()
            .await
            .map_err(|e| SourceError::Connect(e.to_string()))
    }

    async fn admin(&self) -> Result<SubscriptionAdmin, SourceError> {
        configure!(SubscriptionAdmin::builder(), &self.endpoint)
            .build()
            .await
            .map_err(|e| SourceError::Connect(e.to_string()))
    }

    fn endpoint_name(&self) -> String {
        match &self.endpoint {
            Endpoint::Emulator(u) | Endpoint::Custom(u) => u.clone(),
            Endpoint::Google => "pubsub.googleapis.com".into(),
        }
    }

    fn stream(&self, client: &Subscriber) -> MessageStream {
        client
            .subscribe(self.subscription.clone())
            .set_max_outstanding_messages(self.settings.max_outstanding_messages)
            .set_max_outstanding_bytes(self.settings.max_outstanding_bytes)
            // Held handlers keep their leases extended until the consumer settles them.
            .set_shutdown_behavior(ShutdownBehavior::WaitForProcessing)
            .build()
    }
}

impl Source for PubSubSource {
    fn boundedness(&self) -> Boundedness {
        Boundedness::Unbounded
    }

    async fn run(
        self,
        out: mpsc::Sender<Batch>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<SourceStats, SourceError> {
        let client = self.client().await?;
        let admin = self.admin().await?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut streams = JoinSet::new();
        for _ in 0..self.settings.streams {
            let stream = self.stream(&client);
            streams.spawn(pull(
                stream,
                self.subscription.clone(),
                out.clone(),
                stop_rx.clone(),
                self.readiness.clone(),
            ));
        }
        drop(out);
        let probe = Probe {
            admin,
            emulator: match &self.endpoint {
                Endpoint::Emulator(url) => Some(url.clone()),
                _ => None,
            },
            subscription: self.subscription.clone(),
            endpoint: self.endpoint_name(),
            readiness: self.readiness.clone(),
        };
        let mut stats = SourceStats::default();
        let mut failed = None;
        let watching = probe.watch();
        tokio::pin!(shutdown);
        tokio::pin!(watching);
        // Only the source watches shutdown; a stream that fails for good stops the others, and
        // so does a probe told the subscription does not exist or may not be read.
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                refused = &mut watching => {
                    failed = Some(refused);
                    break;
                },
                done = streams.join_next() => match done {
                    None => break,
                    Some(r) => {
                        if settle_stream(r, &mut stats, &mut failed) {
                            break;
                        }
                    }
                },
            }
        }
        self.readiness.source_stopped();
        let _ = stop_tx.send(true);
        while let Some(r) = streams.join_next().await {
            settle_stream(r, &mut stats, &mut failed);
        }
        failed.map_or(Ok(stats), Err)
    }
}

/// Asks the service for the subscription: the one call that tells at once whether Pub/Sub is
/// reachable and the subscription usable (the streams retry in silence). Google's endpoints
/// answer the admin client's REST call; the emulator speaks only gRPC, so it is asked over
/// gRPC, without credentials.
struct Probe {
    admin: SubscriptionAdmin,
    emulator: Option<String>,
    subscription: String,
    endpoint: String,
    readiness: Readiness,
}

/// How a probe went.
enum Answer {
    Ok,
    /// Not found, permission denied: the run cannot work.
    Refused(String),
    /// No answer or a transient error: keep trying.
    Unreachable(String),
}

impl Probe {
    /// Probes at once and then every [`PROBE_EVERY`]; returns only when the subscription is
    /// refused for good.
    async fn watch(&self) -> SourceError {
        let mut every = tokio::time::interval(PROBE_EVERY);
        loop {
            every.tick().await;
            match tokio::time::timeout(PROBE_TIMEOUT, self.ask()).await {
                Ok(Answer::Ok) => self.readiness.source_connected(),
                Ok(Answer::Refused(message)) => {
                    return SourceError::Subscription {
                        subscription: self.subscription.clone(),
                        message,
                    }
                }
                Ok(Answer::Unreachable(why)) => self.unreachable(&why),
                Err(_) => {
                    self.unreachable(&format!("no answer within {}s", PROBE_TIMEOUT.as_secs()))
                }
            }
        }
    }

    fn unreachable(&self, why: &str) {
        let why = format!("Pub/Sub at {} unreachable: {why}", self.endpoint);
        ev::SourceUnavailable { why: &why }.emit();
        self.readiness.source_unavailable(&why);
    }

    async fn ask(&self) -> Answer {
        if let Some(url) = &self.emulator {
            return emulator_probe(url, &self.subscription).await;
        }
        let call = self
            .admin
            .get_subscription()
            .set_subscription(self.subscription.clone())
            .send();
        match call.await {
            Ok(_) => Answer::Ok,
            Err(e) => match e.status().map(|s| s.code) {
                Some(Code::NotFound | Code::PermissionDenied) => Answer::Refused(e.to_string()),
                _ => Answer::Unreachable(e.to_string()),
            },
        }
    }
}

/// `google.pubsub.v1.GetSubscriptionRequest`, the one field the probe sends.
#[derive(Clone, PartialEq, prost::Message)]
struct GetSubscriptionRequest {
    #[prost(string, tag = "1")]
    subscription: String,
}

/// `google.pubsub.v1.Subscription`, of which the probe reads nothing.
#[derive(Clone, PartialEq, prost::Message)]
struct SubscriptionName {
    #[prost(string, tag = "1")]
    name: String,
}

/// `GetSubscription` over plaintext gRPC (the emulator).
async fn emulator_probe(url: &str, subscription: &str) -> Answer {
    let endpoint = match tonic::transport::Endpoint::from_shared(url.to_owned()) {
        Ok(e) => e.connect_timeout(PROBE_TIMEOUT),
        Err(e) => return Answer::Refused(format!("bad emulator address {url:?}: {e}")),
    };
    let channel = match endpoint.connect().await {
        Ok(c) => c,
        Err(e) => return Answer::Unreachable(e.to_string()),
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    if let Err(e) = grpc.ready().await {
        return Answer::Unreachable(e.to_string());
    }
    let path = http::uri::PathAndQuery::from_static("/google.pubsub.v1.Subscriber/GetSubscription");
    let codec = tonic_prost::ProstCodec::<GetSubscriptionRequest, SubscriptionName>::default();
    let request = tonic::Request::new(GetSubscriptionRequest {
        subscription: subscription.to_owned(),
    });
    match grpc.unary(request, path, codec).await {
        Ok(_) => Answer::Ok,
        Err(s)
            if matches!(
                s.code(),
                tonic::Code::NotFound | tonic::Code::PermissionDenied
            ) =>
        {
            Answer::Refused(s.to_string())
        }
        Err(s) => Answer::Unreachable(s.to_string()),
    }
}

/// Adds a finished stream's outcome; true if it failed.
fn settle_stream(
    r: Result<Result<u64, SourceError>, tokio::task::JoinError>,
    stats: &mut SourceStats,
    failed: &mut Option<SourceError>,
) -> bool {
    match r {
        Ok(Ok(n)) => {
            stats.delivered += n;
            false
        }
        Ok(Err(e)) => {
            failed.get_or_insert(e);
            true
        }
        Err(e) => {
            failed.get_or_insert(SourceError::Connect(format!("stream task failed: {e}")));
            true
        }
    }
}

/// One StreamingPull stream: forwards messages until `stop`, then drops its sender (so the
/// consumer's input can close) and waits for the client to flush the acks and nacks of what
/// it handed out (`WaitForProcessing` waits until every handler is settled or dropped).
async fn pull(
    mut stream: MessageStream,
    subscription: String,
    out: mpsc::Sender<Batch>,
    mut stop: watch::Receiver<bool>,
    readiness: Readiness,
) -> Result<u64, SourceError> {
    let token = stream.shutdown_token();
    let mut delivered = 0;
    let result = loop {
        tokio::select! {
            biased;
            () = stopped(&mut stop) => break Ok(()),
            next = stream.next() => match next {
                None => break Ok(()),
                Some(Err(e)) => break Err(SourceError::Subscription {
                    subscription: subscription.clone(),
                    message: e.to_string(),
                }),
                Some(Ok((m, h))) => {
                    if delivered == 0 {
                        readiness.source_connected();
                    }
                    if out.send(vec![delivery(m, h)]).await.is_err() {
                        break Ok(());
                    }
                    delivered += 1;
                }
            },
        }
    };
    drop(out);
    token.shutdown().await;
    result.map(|()| delivered)
}

/// Resolves once the source says stop (or is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn delivery(m: Message, h: Handler) -> Delivery {
    if let (Some(metrics), Some(published)) =
        (crate::telemetry::metrics::installed(), &m.publish_time)
    {
        // How long the message waited in the subscription: the backlog's age as it drains.
        let at = DateTime::from_timestamp(published.seconds(), published.nanos().max(0) as u32);
        if let Some(at) = at {
            metrics.observe_delivery_age(at, Utc::now());
        }
    }
    Delivery {
        input: Input::Entry(RawEntry {
            data: m.data,
            origin: Origin::PubSub {
                message_id: m.message_id.as_str().into(),
            },
        }),
        acker: Box::new(Timed {
            handler: h,
            received: std::time::Instant::now(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn the_emulator_variable_wins_and_gets_a_scheme() {
        let mut s = Settings::load(None).unwrap().pubsub;
        assert_eq!(Endpoint::choose(&s, None), Endpoint::Google);
        s.endpoint = Some("https://eu-pubsub.example".into());
        assert_eq!(
            Endpoint::choose(&s, None),
            Endpoint::Custom("https://eu-pubsub.example".into())
        );
        assert_eq!(
            Endpoint::choose(&s, Some("127.0.0.1:8085")),
            Endpoint::Emulator("http://127.0.0.1:8085".into())
        );
        assert_eq!(
            Endpoint::choose(&s, Some(" ")),
            Endpoint::Custom("https://eu-pubsub.example".into())
        );
    }
}
