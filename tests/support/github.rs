//! A stateful GitHub issues API on wiremock: issues in a Mutex, answers built from the
//! recorded `issue.json` / `issue-comment.json` examples (see fixtures/github/NOTICE), listing
//! paginated with `Link` headers, and rate-limit answers on demand.

use std::sync::{Arc, Mutex};

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

#[derive(Default)]
pub struct State {
    pub base: String,
    pub issues: Vec<Value>,
    pub comments: Vec<(u64, String)>,
    /// How to answer the next writes: `Some(n)` is a 403 with `retry-after: n` (GitHub's
    /// secondary limit), `None` lets the write through.
    pub rate_limit_next_writes: Vec<Option<u64>>,
    /// Answer the next create with 422 (the recorded validation error).
    pub reject_next_create: bool,
    /// Issues per listed page, to make pagination happen.
    pub page_size: usize,
    pub requests: Vec<String>,
    pub unauthorized: usize,
}

#[derive(Clone)]
pub struct Fake(pub Arc<Mutex<State>>);

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

    /// Closes an issue as a person would.
    pub fn close(&self, number: u64, reason: &str, at: &str) {
        let mut s = self.lock();
        let i = s.issues.iter_mut().find(|i| i["number"] == number).unwrap();
        i["state"] = "closed".into();
        i["state_reason"] = reason.into();
        i["closed_at"] = at.into();
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

impl State {
    fn list(&self, req: &Request) -> ResponseTemplate {
        let q: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let label = get("labels").unwrap_or_default();
        assert_eq!(
            get("state").as_deref(),
            Some("all"),
            "must list closed ones too"
        );
        let page: usize = get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let mut matching: Vec<&Value> = self
            .issues
            .iter()
            .filter(|i| {
                i["labels"]
                    .as_array()
                    .is_some_and(|ls| ls.iter().any(|l| l["name"] == label.as_str()))
            })
            .collect();
        matching.sort_by_key(|i| std::cmp::Reverse(i["number"].as_u64()));
        let size = self.page_size.max(1);
        let items: Vec<&Value> = matching
            .iter()
            .skip((page - 1) * size)
            .take(size)
            .copied()
            .collect();
        let mut resp = ResponseTemplate::new(200).set_body_json(items);
        if page * size < matching.len() {
            let next = format!(
                "<{}/repos/{OWNER}/{REPO}/issues?labels={label}&state=all&per_page=100&page={}>; rel=\"next\"",
                self.base,
                page + 1
            );
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
        issue["pull_request"] = Value::Null;
        issue.as_object_mut().unwrap().remove("pull_request");
        self.issues.push(issue.clone());
        ResponseTemplate::new(201).set_body_json(issue)
    }

    fn update(&mut self, number: u64, body: &Value) -> ResponseTemplate {
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
        if !body["labels"].is_null() {
            issue["labels"] = labels(&body["labels"]);
        }
        ResponseTemplate::new(200).set_body_json(issue.clone())
    }

    fn comment(&mut self, number: u64, body: &Value) -> ResponseTemplate {
        let text = body["body"].as_str().unwrap_or_default().to_owned();
        self.comments.push((number, text.clone()));
        let mut c = fixture("issue-comment.json");
        c["body"] = text.into();
        ResponseTemplate::new(201).set_body_json(c)
    }
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
        if write {
            let limited = if s.rate_limit_next_writes.is_empty() {
                None
            } else {
                s.rate_limit_next_writes.remove(0)
            };
            if let Some(secs) = limited {
                return ResponseTemplate::new(403)
                    .insert_header("retry-after", secs.to_string().as_str())
                    .set_body_json(json!({
                        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
                    }));
            }
        }
        let rest = path
            .trim_start_matches(&format!("/repos/{OWNER}/{REPO}/issues"))
            .trim_start_matches('/');
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        match (req.method.as_str(), &parts[..]) {
            ("GET", []) => s.list(req),
            ("POST", []) => s.create(&body),
            ("PATCH", [n]) => s.update(n.parse().unwrap_or(0), &body),
            ("POST", [n, "comments"]) => s.comment(n.parse().unwrap_or(0), &body),
            _ => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}
