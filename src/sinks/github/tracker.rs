//! The one place that talks to GitHub: the [`IssueTracker`] trait and its octocrab
//! implementation. Requests go through octocrab's raw `_get`/`_post`/`_patch` so that every
//! status and rate-limit header is ours to read, and bodies are parsed leniently.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use http::header::HeaderMap;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{RelatedIssue, RemoteIssue};
use super::plan::{IssuePatch, NewIssue};
use crate::config::GithubSettings;
use crate::redact::{Inert, InertJson};

/// Why a request failed, by what the caller does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    /// GitHub asked us to wait (403/429 with `retry-after` or `x-ratelimit-reset`): wait that
    /// long and send the same request again, or keep it in the outbox if that is too long.
    #[error("rate limited by GitHub: retry after {0:?}")]
    RateLimited(Duration),
    /// A network failure, a timeout or a 5xx: keep the work in the outbox, try next window.
    #[error("GitHub unavailable: {0}")]
    Retryable(String),
    /// GitHub refused the request (401, 404, 410, 422, …): sending it again gives the same
    /// answer; the action is dropped and reported.
    #[error("GitHub refused the request ({status}): {message}")]
    Permanent { status: u16, message: String },
    /// The issue was deleted (410), is not there (404) or was moved to another repository
    /// (301): it is forgotten, and the problem gets a new issue here.
    #[error("issue gone ({status}): {message}")]
    Gone { status: u16, message: String },
}

/// What an incremental listing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// 304: nothing changed since the listing the ETag was for (free of rate limit).
    NotModified,
    Issues {
        /// Issues and pull requests updated since the cursor, oldest update first.
        issues: Vec<RemoteIssue>,
        /// The first page's ETag, for the next conditional request.
        etag: Option<String>,
        /// False when the page cap stopped it: the rest comes with the next listing (the
        /// cursor moves only as far as was read, so nothing is skipped).
        complete: bool,
    },
}

/// The issue operations the sink needs. Implemented by [`OctoTracker`] (GitHub) and
/// [`super::memory::MemoryTracker`] (dry run and tests).
pub trait IssueTracker: Send + Sync {
    /// The repository's issues (every state, any label) updated at or after `since`, oldest
    /// update first, at most `max_pages` pages; with `etag`, a conditional request.
    fn list_updated(
        &self,
        since: Option<DateTime<Utc>>,
        etag: Option<&str>,
        max_pages: usize,
    ) -> impl Future<Output = Result<Listing, TrackerError>> + Send;
    /// The bodies of the issue's comments created or updated at or after `since`.
    fn comment_bodies(
        &self,
        number: u64,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<String>, TrackerError>> + Send;
    fn create(
        &self,
        issue: &NewIssue,
    ) -> impl Future<Output = Result<RemoteIssue, TrackerError>> + Send;
    fn update(
        &self,
        number: u64,
        patch: &IssuePatch,
    ) -> impl Future<Output = Result<RemoteIssue, TrackerError>> + Send;
    fn comment(
        &self,
        number: u64,
        body: &str,
    ) -> impl Future<Output = Result<(), TrackerError>> + Send;
    /// Issues (not labelled `exclude_label`) that mention `phrase`; advisory, at most `limit`.
    fn search(
        &self,
        phrase: &str,
        exclude_label: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RelatedIssue>, TrackerError>> + Send;
}

/// A GitHub token. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(token: impl Into<String>) -> Option<Token> {
        let t: String = token.into().trim().to_owned();
        (!t.is_empty()).then_some(Token(t))
    }

    /// `GITHUB_TOKEN` if set (passed in by the caller), else the contents of `token_file`.
    pub fn resolve(env: Option<String>, g: &GithubSettings) -> std::io::Result<Option<Token>> {
        if let Some(t) = env.and_then(Token::new) {
            return Ok(Some(t));
        }
        match &g.token_file {
            Some(path) => Ok(Token::new(std::fs::read_to_string(path)?)),
            None => Ok(None),
        }
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// Issues of one repository on GitHub or GitHub Enterprise.
pub struct OctoTracker {
    crab: octocrab::Octocrab,
    repo_path: String,
    repo_query: String,
}

impl OctoTracker {
    pub fn new(g: &GithubSettings, token: Token) -> Result<OctoTracker, TrackerError> {
        OctoTracker::with_read_timeout(g, token, Duration::from_secs(30))
    }

    /// With a read timeout other than 30 s (tests of a timeout after the write happened).
    pub fn with_read_timeout(
        g: &GithubSettings,
        token: Token,
        read: Duration,
    ) -> Result<OctoTracker, TrackerError> {
        let permanent = |e: octocrab::Error| TrackerError::Permanent {
            status: 0,
            message: format!("cannot set up the GitHub client for {}: {e}", g.api_url),
        };
        let crab = octocrab::Octocrab::builder()
            .base_uri(g.api_url.as_str())
            .map_err(permanent)?
            .personal_token(token.0)
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(read))
            .build()
            .map_err(permanent)?;
        Ok(OctoTracker {
            crab,
            repo_path: format!("/repos/{}/{}", g.owner, g.repo),
            repo_query: format!("{}/{}", g.owner, g.repo),
        })
    }

    /// Sends a request (any body inert, the only way one leaves); a 2xx (or 304) answer's status, headers and JSON body.
    async fn send(
        &self,
        method: http::Method,
        uri: &str,
        body: Option<&InertJson>,
        headers: Option<HeaderMap>,
    ) -> Result<(u16, HeaderMap, Value), TrackerError> {
        let network = |e: octocrab::Error| TrackerError::Retryable(e.to_string());
        let body = body.map(InertJson::value);
        let res = match method {
            http::Method::POST => self.crab._post(uri, body).await,
            http::Method::PATCH => self.crab._patch(uri, body).await,
            _ => self.crab._get_with_headers(uri, headers).await,
        }
        .map_err(network)?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = self.crab.body_to_string(res).await.map_err(network)?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) || status == 304 {
            return Ok((status, headers, json));
        }
        Err(classify(status, &headers, &json, now_epoch()))
    }

    /// An issue-specific request: a 301, 404 or 410 means the issue is gone from here.
    async fn send_issue(
        &self,
        method: http::Method,
        uri: &str,
        body: &InertJson,
    ) -> Result<Value, TrackerError> {
        self.send(method, uri, Some(body), None)
            .await
            .map(|(_, _, v)| v)
            .map_err(gone)
    }

    fn parse<T: DeserializeOwned>(v: Value) -> Result<T, TrackerError> {
        serde_json::from_value(v)
            .map_err(|e| TrackerError::Retryable(format!("unexpected answer: {e}")))
    }
}

/// GitHub's limits: titles up to 256 characters, bodies up to 65,536. The renderer keeps well
/// under them; these cuts are the last line, so a request is never refused for its size.
const MAX_TITLE_CHARS: usize = 256;
const MAX_BODY_CHARS: usize = 65_536;
/// Search queries: the key phrase, at most this long.
const MAX_PHRASE_CHARS: usize = 120;

/// A new issue as it is sent: title on one line and cut, body cut, labels inert.
fn limited(title: &str, body: Option<&str>, labels: &[String]) -> Value {
    let mut v = serde_json::json!({
        "title": Inert::rendered(title).line(MAX_TITLE_CHARS),
        "labels": labels.iter().map(|l| Inert::new(l).line(50)).collect::<Vec<_>>(),
    });
    if let Some(b) = body {
        v["body"] = Inert::rendered(b).cut(MAX_BODY_CHARS).into_string().into();
    }
    v
}

fn now_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Maps a failed answer to what to do next. `now` is seconds since the epoch.
pub fn classify(status: u16, headers: &HeaderMap, body: &Value, now: u64) -> TrackerError {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let message = describe(body);
    if status == 403 || status == 429 {
        if let Some(secs) = header("retry-after") {
            return TrackerError::RateLimited(Duration::from_secs(secs.max(1)));
        }
        if header("x-ratelimit-remaining") == Some(0) {
            let reset = header("x-ratelimit-reset").unwrap_or(now + 60);
            return TrackerError::RateLimited(Duration::from_secs(
                reset.saturating_sub(now).max(1),
            ));
        }
        // GitHub: a secondary limit without headers means "wait at least a minute".
        if status == 429 || message.to_lowercase().contains("rate limit") {
            return TrackerError::RateLimited(Duration::from_secs(60));
        }
    }
    if status >= 500 || status == 408 {
        return TrackerError::Retryable(format!("{status}: {message}"));
    }
    TrackerError::Permanent { status, message }
}

/// "Validation Failed (Label.color: invalid)": GitHub's message and its error details.
fn describe(body: &Value) -> String {
    let mut msg = body["message"].as_str().unwrap_or("no message").to_owned();
    if let Some(errors) = body["errors"].as_array() {
        let details: Vec<String> = errors
            .iter()
            .map(|e| match e.as_str() {
                Some(s) => s.to_owned(),
                None => format!(
                    "{}.{}: {}",
                    e["resource"].as_str().unwrap_or("?"),
                    e["field"].as_str().unwrap_or("?"),
                    e["message"].as_str().or(e["code"].as_str()).unwrap_or("?")
                ),
            })
            .collect();
        if !details.is_empty() {
            msg = format!("{msg} ({})", details.join("; "));
        }
    }
    msg
}

/// For a request about one issue: a 301, 404 or 410 means the issue is gone from here.
fn gone(e: TrackerError) -> TrackerError {
    match e {
        TrackerError::Permanent { status, message } if matches!(status, 301 | 404 | 410) => {
            TrackerError::Gone { status, message }
        }
        e => e,
    }
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn if_none_match(etag: Option<&str>) -> Option<HeaderMap> {
    let value = http::HeaderValue::from_str(etag?).ok()?;
    let mut h = HeaderMap::new();
    h.insert(http::header::IF_NONE_MATCH, value);
    Some(h)
}

/// The `rel="next"` target of a `Link` header.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

impl IssueTracker for OctoTracker {
    async fn list_updated(
        &self,
        since: Option<DateTime<Utc>>,
        etag: Option<&str>,
        max_pages: usize,
    ) -> Result<Listing, TrackerError> {
        let mut uri = Some(format!(
            "{}/issues?state=all&sort=updated&direction=asc&per_page=100{}",
            self.repo_path,
            since
                .map(|t| format!("&since={}", t.to_rfc3339_opts(SecondsFormat::Secs, true)))
                .unwrap_or_default()
        ));
        let (mut out, mut first_etag, mut pages) = (Vec::new(), None, 0);
        while let Some(u) = uri.take() {
            if pages == max_pages {
                return Ok(Listing::Issues {
                    issues: out,
                    etag: first_etag,
                    complete: false,
                });
            }
            let headers = (pages == 0).then(|| if_none_match(etag)).flatten();
            let (status, headers, page) = self.send(http::Method::GET, &u, None, headers).await?;
            if status == 304 {
                return Ok(Listing::NotModified);
            }
            if pages == 0 {
                first_etag = header_str(&headers, "etag");
            }
            pages += 1;
            let items: Vec<Value> = Self::parse(page)?;
            // One odd item must not hide the others: skip what does not parse.
            out.extend(
                items
                    .into_iter()
                    .filter_map(|v| serde_json::from_value(v).ok()),
            );
            uri = header_str(&headers, "link").as_deref().and_then(next_link);
        }
        Ok(Listing::Issues {
            issues: out,
            etag: first_etag,
            complete: true,
        })
    }

    async fn comment_bodies(
        &self,
        number: u64,
        since: DateTime<Utc>,
    ) -> Result<Vec<String>, TrackerError> {
        let mut uri = Some(format!(
            "{}/issues/{number}/comments?per_page=100&since={}",
            self.repo_path,
            since.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
        let mut out = Vec::new();
        // An issue with more than 10,000 recent comments is not one we could keep tidy anyway.
        for _ in 0..100 {
            let Some(u) = uri.take() else { break };
            let (_, headers, page) = self
                .send(http::Method::GET, &u, None, None)
                .await
                .map_err(gone)?;
            let items = page.as_array().cloned().unwrap_or_default();
            out.extend(
                items
                    .iter()
                    .filter_map(|c| c["body"].as_str().map(str::to_owned)),
            );
            uri = header_str(&headers, "link").as_deref().and_then(next_link);
        }
        Ok(out)
    }

    async fn create(&self, issue: &NewIssue) -> Result<RemoteIssue, TrackerError> {
        let body = InertJson::new(&limited(
            issue.title.as_str(),
            Some(&issue.body),
            &issue.labels,
        ));
        let uri = format!("{}/issues", self.repo_path);
        let (_, _, v) = self
            .send(http::Method::POST, &uri, Some(&body), None)
            .await?;
        Self::parse(v)
    }

    async fn update(&self, number: u64, patch: &IssuePatch) -> Result<RemoteIssue, TrackerError> {
        let mut body = serde_json::to_value(patch).unwrap_or(Value::Null);
        if let Some(t) = &patch.title {
            body["title"] = Inert::rendered(t)
                .line(MAX_TITLE_CHARS)
                .into_string()
                .into();
        }
        if let Some(b) = &patch.body {
            body["body"] = Inert::rendered(b).cut(MAX_BODY_CHARS).into_string().into();
        }
        if patch.state == Some(super::model::IssueState::Open) {
            body["state_reason"] = "reopened".into();
        }
        let body = InertJson::new(&body);
        let uri = format!("{}/issues/{number}", self.repo_path);
        let v = self.send_issue(http::Method::PATCH, &uri, &body).await?;
        Self::parse(v)
    }

    async fn comment(&self, number: u64, body: &str) -> Result<(), TrackerError> {
        let uri = format!("{}/issues/{number}/comments", self.repo_path);
        let body = InertJson::new(&serde_json::json!({
            "body": Inert::rendered(body).cut(MAX_BODY_CHARS)
        }));
        self.send_issue(http::Method::POST, &uri, &body).await?;
        Ok(())
    }

    async fn search(
        &self,
        phrase: &str,
        exclude_label: &str,
        limit: usize,
    ) -> Result<Vec<RelatedIssue>, TrackerError> {
        // The query leaves in a URL: redacted, one line, short (a 200 KB word must not go).
        let phrase = Inert::new(phrase)
            .line(MAX_PHRASE_CHARS)
            .as_str()
            .replace('"', " ");
        let q = format!(
            "\"{phrase}\" repo:{} is:issue -label:\"{exclude_label}\"",
            self.repo_query
        );
        let uri = format!(
            "/search/issues?q={}&per_page={}",
            utf8_percent_encode(&q, NON_ALPHANUMERIC),
            limit.clamp(1, 100)
        );
        let (_, _, v) = self.send(http::Method::GET, &uri, None, None).await?;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        Ok(items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .take(limit)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_stay_within_github_limits_and_inert() {
        let huge = format!("{} password=hunter2xyz @bob\u{202E}", "w".repeat(200_000));
        let v = limited(&huge, Some(&huge), &[format!("service:{huge}")]);
        let title = v["title"].as_str().unwrap();
        let body = v["body"].as_str().unwrap();
        assert!(title.chars().count() <= MAX_TITLE_CHARS);
        assert!(body.chars().count() <= MAX_BODY_CHARS);
        assert!(v["labels"][0].as_str().unwrap().chars().count() <= 50);
        let small = limited(
            "x password=hunter2xyz\u{202E}",
            Some("token: q1w2e3r4t5"),
            &[],
        );
        let text = small.to_string();
        for leak in ["hunter2xyz", "q1w2e3r4t5", "\u{202E}"] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
    }

    #[test]
    fn next_link_reads_github_link_headers() {
        let l = r#"<https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel="prev", <https://api.github.com/repositories/1000/issues?per_page=3&page=3>; rel="next", <https://api.github.com/repositories/1000/issues?per_page=3&page=5>; rel="last""#;
        assert_eq!(
            next_link(l).as_deref(),
            Some("https://api.github.com/repositories/1000/issues?per_page=3&page=3")
        );
        assert_eq!(next_link(r#"<x>; rel="last""#), None);
    }

    #[test]
    fn classify_reads_rate_limit_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        let none = Value::Null;
        assert_eq!(
            classify(403, &h, &none, 0),
            TrackerError::RateLimited(Duration::from_secs(7))
        );
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-reset", "1030".parse().unwrap());
        assert_eq!(
            classify(403, &h, &none, 1000),
            TrackerError::RateLimited(Duration::from_secs(30))
        );
        let forbidden = serde_json::json!({"message": "Resource not accessible by integration"});
        assert!(matches!(
            classify(403, &HeaderMap::new(), &forbidden, 0),
            TrackerError::Permanent { status: 403, .. }
        ));
        assert!(matches!(
            classify(502, &HeaderMap::new(), &none, 0),
            TrackerError::Retryable(_)
        ));
    }
}
