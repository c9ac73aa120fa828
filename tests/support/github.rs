//! A stateful GitHub issues API on wiremock: issues in a Mutex, answers built from the
//! recorded `issue.json` / `issue-comment.json` examples (see fixtures/github/NOTICE). It lists
//! the way GitHub documents it — `state=all`, `since` (updated at or after), `sort=updated`,
//! `direction=asc`, pages with `Link` headers, an `ETag` on each page and `304 Not Modified`
//! for a matching `If-None-Match` — and injects faults on demand: the secondary rate limit
//! (403 with `retry-after`, or without any header), 429, 5xx, a write that happens but whose
//! answer comes too late, deleted (410) and transferred (301) issues, and a person's edits.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const OWNER: &str = "acme";
pub const REPO: &str = "backend";
pub const TOKEN: &str = "ghp_test_token_not_real";

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/github/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// A fault for the next write (POST or PATCH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// GitHub's secondary limit: 403 with `retry-after: n`.
    SecondaryLimit(u64),
    /// The secondary limit without headers ("wait at least a minute").
    SecondaryLimitNoHeader,
    /// 429 with `retry-after: n`.
    TooManyRequests(u64),
    /// 502 Bad Gateway.
    ServerError,
    /// The write is applied, but its answer comes after this delay (past the client's read
    /// timeout: the client sees a timeout although GitHub did it).
    LateAnswer(Duration),
}

#[derive(Default)]
pub struct State {
    pub base: String,
    pub issues: Vec<Value>,
    pub comments: Vec<(u64, String)>,
    /// Faults for the next writes, in order; `None` lets a write through.
    pub faults: VecDeque<Option<Fault>>,
    /// Answer the next create with 422 (the recorded validation error).
    pub reject_next_create: bool,
    /// Issues per listed page, to make pagination happen.
    pub page_size: usize,
    /// Issue numbers deleted (410) and transferred (301, with the new location).
    pub deleted: Vec<u64>,
    pub transferred: Vec<u64>,
    pub requests: Vec<String>,
    /// Listings answered 304.
    pub not_modified: usize,
    /// Issues returned by listings, all pages together (what a window's listing costs).
    pub listed: usize,
    pub unauthorized: usize,
    /// The fake's clock: every change sets the issue's `updated_at` to one more second.
    pub changes: i64,
}

#[derive(Clone)]
pub struct Fake(pub Arc<Mutex<State>>);

fn stamp(n: i64) -> String {
    chrono::DateTime::from_timestamp(1_757_962_800 + n, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Fake {
    pub async fn start(page_size: usize) -> (MockServer, Fake) {
        let server = MockServer::start().await;
        let fake = Fake(Arc::new(Mutex::new(State {
            base: server.uri(),
            page_size,
            ..State::default()
        })));
        Mock::given(path_regex(format!("^/repos/{OWNER}/{REPO}/issues.*$")))
            .respond_with(fake.clone())
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/search/issues$"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    json!({"total_count": 0, "incomplete_results": false, "items": []}),
                ),
            )
            .mount(&server)
            .await;
        (server, fake)
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    pub fn issue(&self, number: u64) -> Value {
        self.lock()
            .issues
            .iter()
            .find(|i| i["number"] == number)
            .cloned()
            .unwrap()
    }

    /// Changes an issue as a person would (bumps `updated_at`).
    pub fn edit(&self, number: u64, f: impl FnOnce(&mut Value)) {
        let mut s = self.lock();
        s.changes += 1;
        let at = stamp(s.changes);
        let i = s.issues.iter_mut().find(|i| i["number"] == number).unwrap();
        f(i);
        i["updated_at"] = at.into();
    }

    /// Closes an issue as a person would.
    pub fn close(&self, number: u64, reason: &str, at: &str) {
        self.edit(number, |i| {
            i["state"] = "closed".into();
            i["state_reason"] = reason.into();
            i["closed_at"] = at.into();
        });
    }

    /// Deletes an issue: it leaves the listing, requests for it answer 410.
    pub fn delete(&self, number: u64) {
        let mut s = self.lock();
        s.issues.retain(|i| i["number"] != number);
        s.deleted.push(number);
    }

    /// Transfers an issue to another repository: it leaves the listing, requests for it
    /// answer 301.
    pub fn transfer(&self, number: u64) {
        let mut s = self.lock();
        s.issues.retain(|i| i["number"] != number);
        s.transferred.push(number);
    }

    /// The issue numbers whose first marker line names `id` (one per problem is the promise).
    pub fn issues_of(&self, id: &str) -> Vec<u64> {
        self.lock()
            .issues
            .iter()
            .filter(|i| {
                i["body"].as_str().is_some_and(|b| {
                    b.contains(&format!("log-gardener:problem={id}"))
                        || b.contains(&format!("log-gardener:cluster={id}"))
                })
            })
            .filter_map(|i| i["number"].as_u64())
            .collect()
    }
}

fn labels(names: &Value) -> Value {
    Value::Array(
        names
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|n| json!({"id": 1, "name": n, "color": "ededed", "default": false}))
            .collect(),
    )
}

fn etag(v: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    format!("W/\"{:x}\"", h.finish())
}

impl State {
    fn tick(&mut self) -> String {
        self.changes += 1;
        stamp(self.changes)
    }

    fn list(&mut self, req: &Request) -> ResponseTemplate {
        let q: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(
            get("state").as_deref(),
            Some("all"),
            "must list closed ones too"
        );
        assert_eq!(get("labels"), None, "identity is the marker, not the label");
        assert_eq!(
            (get("sort").as_deref(), get("direction").as_deref()),
            (Some("updated"), Some("asc")),
            "resumable order"
        );
        let since = get("since");
        let page: usize = get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let mut matching: Vec<&Value> = self
            .issues
            .iter()
            .filter(|i| {
                since
                    .as_deref()
                    .is_none_or(|s| i["updated_at"].as_str().unwrap_or("") >= s)
            })
            .collect();
        matching.sort_by_key(|i| {
            (
                i["updated_at"].as_str().unwrap_or("").to_owned(),
                i["number"].as_u64(),
            )
        });
        let size = self.page_size.max(1);
        let items: Vec<&Value> = matching
            .iter()
            .skip((page - 1) * size)
            .take(size)
            .copied()
            .collect();
        let body = json!(items);
        let tag = etag(&body);
        let sent = req
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok());
        if sent == Some(tag.as_str()) {
            self.not_modified += 1;
            return ResponseTemplate::new(304).insert_header("etag", tag.as_str());
        }
        self.listed += items.len();
        let mut resp = ResponseTemplate::new(200)
            .set_body_json(body)
            .insert_header("etag", tag.as_str());
        if page * size < matching.len() {
            // Built on the server's own address (the request's URL may lack it).
            let mut next = reqwest::Url::parse(&format!("{}{}", self.base, req.url.path()))
                .expect("the fake's URL");
            next.query_pairs_mut()
                .extend_pairs(q.iter().filter(|(k, _)| k != "page"))
                .append_pair("page", &(page + 1).to_string());
            let next = format!("<{next}>; rel=\"next\"");
            resp = resp.insert_header("link", next.as_str());
        }
        resp
    }

    fn create(&mut self, body: &Value) -> ResponseTemplate {
        if std::mem::take(&mut self.reject_next_create) {
            return ResponseTemplate::new(422).set_body_json(fixture("validation-failed-422.json"));
        }
        let number = self
            .issues
            .iter()
            .filter_map(|i| i["number"].as_u64())
            .chain(self.deleted.iter().copied())
            .chain(self.transferred.iter().copied())
            .max()
            .unwrap_or(0)
            + 1;
        let mut issue = fixture("issue.json");
        issue["number"] = number.into();
        issue["title"] = body["title"].clone();
        issue["body"] = body["body"].clone();
        issue["labels"] = labels(&body["labels"]);
        issue["state"] = "open".into();
        issue["state_reason"] = Value::Null;
        issue["closed_at"] = Value::Null;
        issue["html_url"] = format!("https://github.com/{OWNER}/{REPO}/issues/{number}").into();
        issue["repository_url"] = format!("https://api.github.com/repos/{OWNER}/{REPO}").into();
        issue["updated_at"] = self.tick().into();
        issue.as_object_mut().unwrap().remove("pull_request");
        self.issues.push(issue.clone());
        ResponseTemplate::new(201).set_body_json(issue)
    }

    fn gone(&self, number: u64) -> Option<ResponseTemplate> {
        if self.deleted.contains(&number) {
            return Some(
                ResponseTemplate::new(410)
                    .set_body_json(json!({"message": "This issue was deleted"})),
            );
        }
        if self.transferred.contains(&number) {
            let to = format!("{}/repositories/999/issues/{number}", self.base);
            return Some(
                ResponseTemplate::new(301)
                    .insert_header("location", to.as_str())
                    .set_body_json(json!({"message": "Moved Permanently", "url": to})),
            );
        }
        None
    }

    fn update(&mut self, number: u64, body: &Value) -> ResponseTemplate {
        if let Some(r) = self.gone(number) {
            return r;
        }
        let at = self.tick();
        let Some(issue) = self.issues.iter_mut().find(|i| i["number"] == number) else {
            return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
        };
        for key in ["title", "body", "state", "state_reason"] {
            if !body[key].is_null() {
                issue[key] = body[key].clone();
            }
        }
        if body["state"] == "open" {
            issue["closed_at"] = Value::Null;
        }
        if body["state"] == "closed" {
            issue["closed_at"] = at.clone().into();
        }
        if !body["labels"].is_null() {
            issue["labels"] = labels(&body["labels"]);
        }
        issue["updated_at"] = at.into();
        ResponseTemplate::new(200).set_body_json(issue.clone())
    }

    fn comment(&mut self, number: u64, body: &Value) -> ResponseTemplate {
        if let Some(r) = self.gone(number) {
            return r;
        }
        let text = body["body"].as_str().unwrap_or_default().to_owned();
        self.comments.push((number, text.clone()));
        let mut c = fixture("issue-comment.json");
        c["body"] = text.into();
        ResponseTemplate::new(201).set_body_json(c)
    }

    fn comments_of(&self, number: u64) -> ResponseTemplate {
        if let Some(r) = self.gone(number) {
            return r;
        }
        let items: Vec<Value> = self
            .comments
            .iter()
            .filter(|(n, _)| *n == number)
            .map(|(_, b)| {
                let mut c = fixture("issue-comment.json");
                c["body"] = b.clone().into();
                c
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(items)
    }

    fn fault(&mut self) -> Option<Fault> {
        self.faults.pop_front().flatten()
    }
}

fn limited(status: u16, retry_after: Option<u64>) -> ResponseTemplate {
    let mut r = ResponseTemplate::new(status).set_body_json(json!({
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
    }));
    if let Some(n) = retry_after {
        r = r.insert_header("retry-after", n.to_string().as_str());
    }
    r
}

impl Respond for Fake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.lock();
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if !auth.is_some_and(|a| a.ends_with(TOKEN)) {
            s.unauthorized += 1;
            return ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"}));
        }
        let path = req.url.path().to_owned();
        s.requests.push(format!("{} {path}", req.method));
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let write = req.method.as_str() != "GET";
        let mut late = None;
        if write {
            match s.fault() {
                Some(Fault::SecondaryLimit(n)) => return limited(403, Some(n)),
                Some(Fault::SecondaryLimitNoHeader) => return limited(403, None),
                Some(Fault::TooManyRequests(n)) => return limited(429, Some(n)),
                Some(Fault::ServerError) => {
                    return ResponseTemplate::new(502)
                        .set_body_json(json!({"message": "Server Error"}))
                }
                Some(Fault::LateAnswer(d)) => late = Some(d),
                None => {}
            }
        }
        let rest = path
            .trim_start_matches(&format!("/repos/{OWNER}/{REPO}/issues"))
            .trim_start_matches('/');
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        let n = |p: &str| p.parse::<u64>().unwrap_or(0);
        let resp = match (req.method.as_str(), &parts[..]) {
            ("GET", []) => s.list(req),
            ("POST", []) => s.create(&body),
            ("PATCH", [i]) => s.update(n(i), &body),
            ("POST", [i, "comments"]) => s.comment(n(i), &body),
            ("GET", [i, "comments"]) => s.comments_of(n(i)),
            _ => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        };
        match late {
            Some(d) => resp.set_delay(d),
            None => resp,
        }
    }
}

/// The problems that qualify for an issue over `worklogs`: one per incident and one per
/// cluster in none, at P3 or above (as the GitHub stage plans them).
pub fn qualifying<'a>(worklogs: impl IntoIterator<Item = &'a Value>) -> BTreeSet<String> {
    use log_gardener::escalate::Priority;
    use log_gardener::report::WindowReport;
    worklogs
        .into_iter()
        .flat_map(|w| {
            let r: WindowReport = serde_json::from_value(w.clone()).unwrap();
            log_gardener::sinks::github::pending(&r, Priority::P3)
        })
        .map(|p| p.problem.id.0)
        .collect()
}

/// The problem ids an issue body's hidden marker names: its own and its aliases.
pub fn marked_ids(body: &str) -> BTreeSet<String> {
    body.lines()
        .find_map(|l| l.trim().strip_prefix("<!-- log-gardener:problem="))
        .and_then(|l| l.strip_suffix("-->"))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let mut ids: BTreeSet<String> = parts.next().map(str::to_owned).into_iter().collect();
            for p in parts {
                if let Some(a) = p.strip_prefix("aliases=") {
                    ids.extend(a.split(',').map(str::to_owned));
                }
            }
            ids
        })
        .unwrap_or_default()
}

/// How many of the fake's issues carry each problem id of `wanted` in their marker.
pub fn issues_per_problem(fake: &Fake, wanted: &BTreeSet<String>) -> BTreeMap<String, u32> {
    let mut seen = BTreeMap::new();
    for i in &fake.lock().issues {
        let ids = marked_ids(i["body"].as_str().unwrap_or(""));
        for id in wanted.iter().filter(|id| ids.contains(*id)) {
            *seen.entry(id.clone()).or_default() += 1;
        }
    }
    seen
}
