//! Streaming pull from a Pub/Sub subscription with the official `google-cloud-pubsub` client:
//! `streams` StreamingPull streams, each in its own task, hand messages to the consumer with
//! their `Handler` still attached. This file never acks: the consumer acks once a checkpoint
//! holds the entry (the rule is written in `live::consumer`). Flow control is the service's
//! (`max_outstanding_*` per stream): unacked messages hold the stream back, so a slow
//! checkpoint slows the pull instead of growing memory.

use std::future::Future;

use google_cloud_auth::credentials::anonymous::Builder as Anonymous;
use google_cloud_pubsub::client::Subscriber;
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::handler::Handler;
use google_cloud_pubsub::subscriber::{MessageStream, ShutdownBehavior};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::delivery::{Acker, Delivery, MessageSource, SourceError, SourceStats};
use super::{Origin, RawEntry};
use crate::config::PubSubSettings;

impl Acker for Handler {
    fn ack(self: Box<Self>) {
        Handler::ack(*self);
    }
    fn nack(self: Box<Self>) {
        Handler::nack(*self);
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
}

impl PubSubSource {
    async fn client(&self) -> Result<Subscriber, SourceError> {
        let b = Subscriber::builder();
        let b = match &self.endpoint {
            Endpoint::Emulator(url) => b
                .with_endpoint(url.clone())
                .with_credentials(Anonymous::new().build()),
            Endpoint::Custom(url) => b.with_endpoint(url.clone()),
            Endpoint::Google => b,
        };
        b.build()
            .await
            .map_err(|e| SourceError::Connect(e.to_string()))
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

impl MessageSource for PubSubSource {
    async fn run(
        self,
        out: mpsc::Sender<Delivery>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<SourceStats, SourceError> {
        let client = self.client().await?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut streams = JoinSet::new();
        for _ in 0..self.settings.streams {
            let stream = self.stream(&client);
            streams.spawn(pull(
                stream,
                self.subscription.clone(),
                out.clone(),
                stop_rx.clone(),
            ));
        }
        drop(out);
        let mut stats = SourceStats::default();
        let mut failed = None;
        tokio::pin!(shutdown);
        // Only the source watches shutdown; a stream that fails for good stops the others.
        loop {
            tokio::select! {
                () = &mut shutdown => break,
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
        let _ = stop_tx.send(true);
        while let Some(r) = streams.join_next().await {
            settle_stream(r, &mut stats, &mut failed);
        }
        failed.map_or(Ok(stats), Err)
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
    out: mpsc::Sender<Delivery>,
    mut stop: watch::Receiver<bool>,
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
                    if out.send(delivery(m, h)).await.is_err() {
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
    Delivery {
        entry: RawEntry {
            data: m.data,
            origin: Origin::PubSub {
                message_id: m.message_id.as_str().into(),
            },
        },
        id: m.message_id,
        acker: Box::new(h),
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
