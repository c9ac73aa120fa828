//! The receivers: Alertmanager's API v2 (`POST {url}/api/v2/alerts`) and a Slack-compatible
//! webhook (`{"text": …}`).

use std::time::Duration;

use super::payload::{alertmanager_body, webhook_text, Links};
use super::{AlertPost, AlertSink, DeliveryError};
use crate::redact::InertJson;

/// Longest one HTTP request may take (the delivery task also bounds each attempt).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(4);

fn client() -> Result<reqwest::Client, reqwest::Error> {
    // reqwest is built without a provider and panics without a process default.
    crate::tls::install();
    reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build()
}

/// Sends `body` (inert: the only way alert text leaves) as JSON and sorts the answer into retryable and permanent failures.
async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &InertJson,
) -> Result<(), DeliveryError> {
    let bytes =
        serde_json::to_vec(body.value()).map_err(|e| DeliveryError::Permanent(e.to_string()))?;
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(bytes)
        .send()
        .await
        .map_err(|e| DeliveryError::Retryable(format!("{url}: {e}")))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    let msg = format!(
        "{url}: {status}: {}",
        text.chars().take(200).collect::<String>()
    );
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Err(DeliveryError::Retryable(msg))
    } else {
        Err(DeliveryError::Permanent(msg))
    }
}

/// `kind@host[:port]`: a receiver's metric label, one per URL, that never carries a path (a
/// webhook's path is its secret).
fn receiver_label(kind: &str, url: &str) -> String {
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        })
        .unwrap_or_else(|| "unknown".into());
    format!("{kind}@{host}")
}

/// One Alertmanager of an HA set: every instance gets every post (they deduplicate).
pub struct Alertmanager {
    client: reqwest::Client,
    url: String,
    receiver: String,
    links: Links,
}

impl Alertmanager {
    /// `base` is the Alertmanager's URL, e.g. `http://alertmanager:9093`.
    pub fn new(base: &str, links: Links) -> Result<Alertmanager, reqwest::Error> {
        Ok(Alertmanager {
            client: client()?,
            url: format!("{}/api/v2/alerts", base.trim_end_matches('/')),
            receiver: receiver_label("alertmanager", base),
            links,
        })
    }
}

impl AlertSink for Alertmanager {
    fn receiver(&self) -> String {
        self.receiver.clone()
    }

    async fn deliver(&self, posts: &[AlertPost]) -> Result<(), DeliveryError> {
        post_json(
            &self.client,
            &self.url,
            &InertJson::new(&alertmanager_body(posts, &self.links)),
        )
        .await
    }
}

/// A Slack-compatible incoming webhook: one message per fire and per resolution.
pub struct Webhook {
    client: reqwest::Client,
    url: String,
    receiver: String,
    links: Links,
}

impl Webhook {
    pub fn new(url: &str, links: Links) -> Result<Webhook, reqwest::Error> {
        Ok(Webhook {
            client: client()?,
            url: url.to_owned(),
            receiver: receiver_label("webhook", url),
            links,
        })
    }
}

impl AlertSink for Webhook {
    fn receiver(&self) -> String {
        self.receiver.clone()
    }

    fn wants(&self, post: &AlertPost) -> bool {
        webhook_text(post, &self.links).is_some()
    }

    fn batch_max(&self) -> usize {
        1
    }

    async fn deliver(&self, posts: &[AlertPost]) -> Result<(), DeliveryError> {
        for p in posts {
            if let Some(text) = webhook_text(p, &self.links) {
                post_json(
                    &self.client,
                    &self.url,
                    &InertJson::new(&serde_json::json!({ "text": text })),
                )
                .await?;
            }
        }
        Ok(())
    }
}
