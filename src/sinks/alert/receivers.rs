//! The receivers: Alertmanager's API v2 (`POST {url}/api/v2/alerts`), a Slack-compatible
//! webhook (`{"text": …}`), and a recording fake for tests that can be told to fail.

use std::time::Duration;

use super::payload::{alertmanager_body, webhook_text, Links};
use super::{AlertPost, AlertSink, DeliveryError};

/// Longest one HTTP request may take (the delivery task also bounds each attempt).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(4);

fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build()
}

/// Sends `body` as JSON and sorts the answer into retryable and permanent failures.
async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> Result<(), DeliveryError> {
    let bytes = serde_json::to_vec(body).map_err(|e| DeliveryError::Permanent(e.to_string()))?;
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

/// One Alertmanager of an HA set: every instance gets every post (they deduplicate).
pub struct Alertmanager {
    client: reqwest::Client,
    url: String,
    links: Links,
}

impl Alertmanager {
    /// `base` is the Alertmanager's URL, e.g. `http://alertmanager:9093`.
    pub fn new(base: &str, links: Links) -> Result<Alertmanager, reqwest::Error> {
        Ok(Alertmanager {
            client: client()?,
            url: format!("{}/api/v2/alerts", base.trim_end_matches('/')),
            links,
        })
    }
}

impl AlertSink for Alertmanager {
    fn receiver(&self) -> &'static str {
        "alertmanager"
    }

    async fn deliver(&self, posts: &[AlertPost]) -> Result<(), DeliveryError> {
        post_json(
            &self.client,
            &self.url,
            &alertmanager_body(posts, &self.links),
        )
        .await
    }
}

/// A Slack-compatible incoming webhook: one message per fire and per resolution.
pub struct Webhook {
    client: reqwest::Client,
    url: String,
    links: Links,
}

impl Webhook {
    pub fn new(url: &str, links: Links) -> Result<Webhook, reqwest::Error> {
        Ok(Webhook {
            client: client()?,
            url: url.to_owned(),
            links,
        })
    }
}

impl AlertSink for Webhook {
    fn receiver(&self) -> &'static str {
        "webhook"
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
                    &serde_json::json!({ "text": text }),
                )
                .await?;
            }
        }
        Ok(())
    }
}
