//! The GitHub sink against the closest stand-in for GitHub available here: a wiremock server
//! on 127.0.0.1 answering with responses recorded from the real API (@octokit/fixtures,
//! @octokit/openapi; see tests/fixtures/github/NOTICE), and a stateful fake of the issues API
//! built from them for behaviour across windows, faults (secondary limits, 429, 5xx, answers
//! lost after the write happened) and a person's edits (label removed, note above the marker,
//! issue deleted, transferred, closed as duplicate). Then the dry run end to end through the
//! binary.

mod support;
use support::github as fake;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use fake::{fixture, Fake, Fault, OWNER, REPO, TOKEN};
use log_gardener::config::GithubSettings;
use log_gardener::entry::Severity;
use log_gardener::escalate::Priority;
use log_gardener::fingerprint::ClusterId;
use log_gardener::report::ClusterReport;
use log_gardener::sinks::github::model::IssueState;
use log_gardener::sinks::github::plan::NewIssue;
use log_gardener::sinks::github::{
    Index, IssueTracker, Listing, OctoTracker, Outbox, Pending, Syncer, Token, TrackerError,
    INDEX_FILE,
};
use serde_json::Value;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn settings(api_url: &str, owner: &str, repo: &str) -> GithubSettings {
    GithubSettings {
        owner: owner.into(),
        repo: repo.into(),
        api_url: api_url.into(),
        token_file: None,
        label: "log-gardener".into(),
        reopen_within: TimeDelta::days(14),
        write_spacing: Duration::from_millis(5),
        max_writes_per_window: 50,
        max_rate_limit_wait: Duration::from_secs(10),
        related_searches_per_window: 2,
        logging_project: None,
        state_dir: None,
        worklog_url: Some("https://worklogs.example.com/prod".into()),
        writes_per_minute: 80,
        writes_per_hour: 500,
    }
}

fn tracker(server: &MockServer, owner: &str, repo: &str) -> OctoTracker {
    OctoTracker::new(
        &settings(&server.uri(), owner, repo),
        Token::new(TOKEN).unwrap(),
    )
    .unwrap()
}

fn at(hm: &str) -> DateTime<Utc> {
    format!("2025-09-15T{hm}:00Z").parse().unwrap()
}

fn cluster(id: u64, priority: Priority, last_seen: &str) -> ClusterReport {
    ClusterReport {
        id: ClusterId(id),
        aliases: vec![],
        priority,
        reason: "rule database-unavailable: the database cannot be reached".into(),
        rule: Some("database-unavailable".into()),
        count: 10,
        severity: Severity::Error,
        by_severity: BTreeMap::from([(Severity::Error, 10)]),
        service: "netra-backend".into(),
        template: format!("Database connection {id} to <*> failed"),
        modules: vec!["app.db".into()],
        functions: vec![],
        first_seen: at("20:00"),
        last_seen: at(last_seen),
        new: false,
        baseline: None,
        sample: Some(serde_json::json!({"textPayload": "Database connection to 10.0.0.1 failed"})),
    }
}

fn pending(id: u64, priority: Priority, window_end: &str) -> Pending {
    Pending::of_cluster(&cluster(id, priority, "20:30"), at(window_end))
}

async fn syncer(server: &MockServer, outbox: Option<&Path>) -> Syncer<OctoTracker> {
    let g = settings(&server.uri(), OWNER, REPO);
    Syncer::new(
        tracker(server, OWNER, REPO),
        g,
        Outbox::new(outbox.map(Path::to_owned)),
        false,
    )
}

/// A syncer as `run` builds one: outbox and index in `dir`, a short read timeout (so an
/// answer delayed past it is a timeout after the write happened).
fn restarted(server: &MockServer, dir: &Path) -> Syncer<OctoTracker> {
    let g = settings(&server.uri(), OWNER, REPO);
    let t =
        OctoTracker::with_read_timeout(&g, Token::new(TOKEN).unwrap(), Duration::from_millis(300))
            .unwrap();
    let index = Index::load(Some(dir.join(INDEX_FILE)), &format!("{OWNER}/{REPO}"));
    Syncer::new(
        t,
        g,
        Outbox::new(Some(dir.join("github-outbox.json"))),
        false,
    )
    .with_index(index)
}

/// Syncs until the outbox is empty (at most `n` times); the reports.
async fn drain(s: &mut Syncer<OctoTracker>, n: usize) -> Vec<String> {
    let mut stops = Vec::new();
    for _ in 0..n {
        let rep = s.sync(vec![]).await;
        if let Some(why) = rep.stopped {
            stops.push(why);
        }
        if rep.deferred == 0 {
            return stops;
        }
    }
    panic!("the outbox did not drain: {stops:?}");
}

// ---- recorded responses ------------------------------------------------------------------

#[tokio::test]
async fn recorded_pagination_is_followed_through_link_headers() {
    let server = MockServer::start().await;
    let pages: Vec<Value> = serde_json::from_value(fixture("paginate-issues.json")).unwrap();
    for (i, page) in pages.iter().enumerate() {
        let link = page["link"]
            .as_str()
            .unwrap_or("")
            .replace("https://api.github.com", &server.uri());
        let resp = ResponseTemplate::new(200)
            .set_body_json(page["response"].clone())
            .insert_header("link", link.as_str());
        let mock = if i == 0 {
            Mock::given(method("GET"))
                .and(path("/repos/octokit-fixture-org/paginate-issues/issues"))
                .and(query_param("sort", "updated"))
                .and(query_param("direction", "asc"))
                .and(query_param("state", "all"))
        } else {
            Mock::given(method("GET"))
                .and(path("/repositories/1000/issues"))
                .and(query_param("page", (i + 1).to_string()))
        };
        mock.respond_with(resp).expect(1).mount(&server).await;
    }
    let t = tracker(&server, "octokit-fixture-org", "paginate-issues");
    let Listing::Issues {
        issues,
        complete: true,
        ..
    } = t.list_updated(None, None, 100).await.unwrap()
    else {
        panic!("a complete listing")
    };
    let numbers: Vec<u64> = issues.iter().map(|i| i.number).collect();
    assert_eq!(numbers, (1..=13).rev().collect::<Vec<_>>());
    assert_eq!(issues[0].title, "Test issue 13");
    // None carries our marker: none is taken for one of ours.
    let mut index = Index::load(None, "octokit-fixture-org/paginate-issues");
    index.apply(None, issues, None);
    assert!(index.is_empty());
}

#[tokio::test]
async fn recorded_search_results_become_related_issues() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("search-issues.json")))
        .expect(1)
        .mount(&server)
        .await;
    let t = tracker(&server, "octokit-fixture-org", "search-issues");
    let related = t.search("sesame", "log-gardener", 5).await.unwrap();
    assert_eq!(related.len(), 2);
    assert!(related.iter().all(|r| r.number > 0 && !r.title.is_empty()));
    let req = &server.received_requests().await.unwrap()[0];
    let q = req
        .url
        .query_pairs()
        .find(|(k, _)| k == "q")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        q,
        "\"sesame\" repo:octokit-fixture-org/search-issues is:issue -label:\"log-gardener\""
    );
}

#[tokio::test]
async fn a_recorded_422_is_a_clear_permanent_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/repos/{OWNER}/{REPO}/issues")))
        .respond_with(
            ResponseTemplate::new(422).set_body_json(fixture("validation-failed-422.json")),
        )
        .mount(&server)
        .await;
    let t = tracker(&server, OWNER, REPO);
    let err = t
        .create(&NewIssue {
            title: "t".into(),
            body: "b".into(),
            labels: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TrackerError::Permanent {
            status: 422,
            message: "Validation Failed (Label.color: invalid)".into()
        }
    );
}

#[tokio::test]
async fn the_recorded_issue_example_parses() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/repos/{OWNER}/{REPO}/issues")))
        .respond_with(ResponseTemplate::new(201).set_body_json(fixture("issue.json")))
        .mount(&server)
        .await;
    let issue = tracker(&server, OWNER, REPO)
        .create(&NewIssue {
            title: "t".into(),
            body: "b".into(),
            labels: vec!["bug".into()],
        })
        .await
        .unwrap();
    assert_eq!((issue.number, issue.state), (1347, IssueState::Open));
    assert!(issue.has_label("bug"));
    let sent: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["labels"], serde_json::json!(["bug"]));
}

#[tokio::test]
async fn github_enterprise_paths_keep_the_api_prefix() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/repos/{OWNER}/{REPO}/issues")))
        .and(query_param("since", "2025-09-15T20:00:00Z"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let g = settings(&format!("{}/api/v3", server.uri()), OWNER, REPO);
    let t = OctoTracker::new(&g, Token::new(TOKEN).unwrap()).unwrap();
    let listing = t.list_updated(Some(at("20:00")), None, 100).await.unwrap();
    assert!(
        matches!(listing, Listing::Issues { ref issues, complete: true, .. } if issues.is_empty())
    );
}

// ---- behaviour across windows, on the stateful fake ---------------------------------------

#[tokio::test]
async fn the_same_cluster_over_three_windows_is_one_issue() {
    let (server, gh) = Fake::start(100).await;
    let mut s = syncer(&server, None).await;
    for end in ["21:00", "22:00", "23:00"] {
        let rep = s.sync(vec![pending(1, Priority::P1, end)]).await;
        assert_eq!(rep.stopped, None, "{rep:?}");
    }
    let st = gh.lock();
    assert_eq!(st.issues.len(), 1, "{:?}", st.requests);
    let body = st.issues[0]["body"].as_str().unwrap();
    assert!(body.starts_with("<!-- log-gardener:problem=0000000000000001 -->"));
    assert!(body.contains("| 30 in all tracked windows |"), "{body}");
    assert_eq!(
        st.issues[0]["title"],
        "[P1] Database connection 1 to <*> failed"
    );
    assert_eq!(st.unauthorized, 0);
}

#[tokio::test]
async fn pagination_is_followed_so_issues_on_later_pages_are_found() {
    let (server, gh) = Fake::start(2).await;
    let mut s = syncer(&server, None).await;
    let five = |end| (1..=5).map(|id| pending(id, Priority::P2, end)).collect();
    s.sync(five("21:00")).await;
    let rep = s.sync(five("22:00")).await;
    assert_eq!(rep.issues_known, 5);
    assert!(
        rep.sent.iter().all(|a| a.kind == "update"),
        "{:?}",
        rep.sent
    );
    assert_eq!(gh.lock().issues.len(), 5);
}

#[tokio::test]
async fn a_restart_mid_sync_creates_no_duplicate() {
    let (server, gh) = Fake::start(100).await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("github-outbox.json");
    let mut s = syncer(&server, Some(&outbox)).await;
    // GitHub answers the second write with a rate limit longer than we wait: the rest is
    // kept in the outbox, and the process "dies".
    gh.lock().faults = [None, Some(Fault::SecondaryLimit(3600))].into();
    let rep = s
        .sync(
            (1..=3)
                .map(|id| pending(id, Priority::P1, "21:00"))
                .collect(),
        )
        .await;
    assert_eq!(rep.deferred, 2, "{rep:?}");
    drop(s);
    // The first create went through.
    assert_eq!(gh.lock().issues.len(), 1);
    // The outbox also claims cluster 1, as if the process died before noting its create.
    let mut kept: Vec<Pending> = serde_json::from_slice(&std::fs::read(&outbox).unwrap()).unwrap();
    kept.insert(0, pending(1, Priority::P1, "21:00"));
    std::fs::write(&outbox, serde_json::to_vec(&kept).unwrap()).unwrap();

    let mut s = syncer(&server, Some(&outbox)).await;
    let rep = s.sync(vec![]).await;
    assert_eq!(rep.deferred, 0);
    let st = gh.lock();
    let mut ids: Vec<String> = st
        .issues
        .iter()
        .map(|i| {
            i["body"]
                .as_str()
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((st.issues.len(), ids.len()), (3, 3), "{ids:?}");
    assert!(!outbox.exists());
}

#[tokio::test]
async fn closed_then_recurring_is_reopened_and_not_planned_is_left_alone() {
    let (server, gh) = Fake::start(100).await;
    let mut s = syncer(&server, None).await;
    s.sync(vec![
        pending(1, Priority::P1, "21:00"),
        pending(2, Priority::P1, "21:00"),
    ])
    .await;
    gh.close(1, "completed", "2025-09-15T21:10:00Z");
    gh.close(2, "not_planned", "2025-09-15T21:10:00Z");
    let back = |id| Pending::of_cluster(&cluster(id, Priority::P1, "21:45"), at("22:00"));
    let rep = s.sync(vec![back(1), back(2)]).await;
    let kinds: Vec<&str> = rep.sent.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["comment", "reopen"]);
    let one = gh.issue(1);
    assert_eq!(
        (one["state"].as_str(), one["state_reason"].as_str()),
        (Some("open"), Some("reopened"))
    );
    assert!(one["labels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["name"] == "regression"));
    let two = gh.issue(2);
    assert_eq!(two["state"], "closed");
    assert_eq!(two["state_reason"], "not_planned");
    assert!(
        two["body"]
            .as_str()
            .unwrap()
            .contains("| 10 in all tracked windows |"),
        "not rewritten"
    );
    let comments = gh.lock().comments.clone();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].0, 1);
    assert_eq!(gh.lock().issues.len(), 2);
}

#[tokio::test]
async fn a_403_with_retry_after_is_waited_out() {
    let (server, gh) = Fake::start(100).await;
    let mut s = syncer(&server, None).await;
    gh.lock().faults = [Some(Fault::SecondaryLimit(1))].into();
    let start = std::time::Instant::now();
    let rep = s.sync(vec![pending(1, Priority::P1, "21:00")]).await;
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!((rep.sent.len(), rep.deferred), (1, 0), "{rep:?}");
    assert_eq!(rep.sent[0].error, None);
    assert_eq!(gh.lock().issues.len(), 1);
}

#[tokio::test]
async fn a_422_on_create_is_reported_and_the_next_cluster_still_goes() {
    let (server, gh) = Fake::start(100).await;
    let mut s = syncer(&server, None).await;
    gh.lock().reject_next_create = true;
    let rep = s
        .sync(vec![
            pending(1, Priority::P1, "21:00"),
            pending(2, Priority::P1, "21:00"),
        ])
        .await;
    let err = rep.sent[0].error.as_deref().unwrap();
    assert!(
        err.contains("422") && err.contains("Validation Failed"),
        "{err}"
    );
    assert_eq!(rep.sent[1].error, None);
    assert_eq!(gh.lock().issues.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_faults_and_human_edits_each_problem_keeps_one_issue_and_no_comment_repeats() {
    let (server, gh) = Fake::start(2).await;
    let dir = tempfile::tempdir().unwrap();
    let five = |priority, end| {
        (1..=5)
            .map(|id| pending(id, priority, end))
            .collect::<Vec<_>>()
    };

    // Window 1: five P2 problems through a secondary limit, a 429 and a 502.
    let mut s = restarted(&server, dir.path());
    gh.lock().faults = [
        Some(Fault::SecondaryLimit(1)),
        None,
        Some(Fault::TooManyRequests(1)),
        Some(Fault::ServerError),
        Some(Fault::SecondaryLimitNoHeader),
    ]
    .into();
    s.sync(five(Priority::P2, "21:00")).await;
    drain(&mut restarted(&server, dir.path()), 5).await;
    let first: Vec<Vec<u64>> = (1..=5)
        .map(|id| gh.issues_of(&format!("{id:016x}")))
        .collect();
    assert!(first.iter().all(|i| i.len() == 1), "{first:?}");
    let n = |id: usize| first[id - 1][0];

    // People: remove our label, write a note above the marker, delete one, transfer one,
    // close one as a duplicate.
    gh.edit(n(1), |i| {
        let kept: Vec<Value> = i["labels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["name"] != "log-gardener")
            .cloned()
            .collect();
        i["labels"] = kept.into();
    });
    gh.edit(n(2), |i| {
        i["body"] = format!(
            "Owner: db team, runbook linked below.\n\n{}",
            i["body"].as_str().unwrap()
        )
        .into();
    });
    gh.delete(n(3));
    gh.transfer(n(4));
    gh.close(n(5), "duplicate", "2025-09-15T21:30:00Z");

    // Window 2: all five escalate to P1. The first write (an escalation comment) is taken by
    // GitHub but its answer comes too late; then a restart.
    gh.lock().faults = [Some(Fault::LateAnswer(Duration::from_secs(1)))].into();
    let mut s = restarted(&server, dir.path());
    s.sync(five(Priority::P1, "22:00")).await;
    drop(s);
    drain(&mut restarted(&server, dir.path()), 5).await;

    // Window 2 replayed (a restart from an old checkpoint): nothing at all is written.
    let writes_before = gh
        .lock()
        .requests
        .iter()
        .filter(|r| !r.starts_with("GET"))
        .count();
    let mut s = restarted(&server, dir.path());
    s.sync(five(Priority::P1, "22:00")).await;
    let writes_after = gh
        .lock()
        .requests
        .iter()
        .filter(|r| !r.starts_with("GET"))
        .count();
    assert_eq!(
        writes_before, writes_after,
        "replaying a window writes nothing"
    );
    // Nothing changed since (the first listing still sees our last writes and moves the
    // cursor past them): the listing after is answered 304.
    s.sync(vec![]).await;
    let before = gh.lock().not_modified;
    s.sync(vec![]).await;
    assert_eq!(gh.lock().not_modified, before + 1);

    for id in 1..=5u64 {
        let issues = gh.issues_of(&format!("{id:016x}"));
        assert_eq!(issues.len(), 1, "problem {id}: {issues:?}");
    }
    let one = gh.issue(n(1));
    assert!(
        one["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["name"] == "log-gardener"),
        "label put back"
    );
    assert!(one["title"].as_str().unwrap().starts_with("[P1]"));
    let two = gh.issue(n(2));
    assert!(
        two["body"].as_str().unwrap().starts_with("Owner: db team"),
        "the note is kept"
    );
    assert!(two["body"]
        .as_str()
        .unwrap()
        .contains("| 20 in all tracked windows |"));
    let three = gh.issues_of(&format!("{:016x}", 3))[0];
    assert!(
        three != n(3)
            && gh.issue(three)["title"]
                .as_str()
                .unwrap()
                .starts_with("[P1]")
    );
    let four = gh.issues_of(&format!("{:016x}", 4))[0];
    assert_ne!(four, n(4));
    let five_ = gh.issue(n(5));
    assert_eq!(five_["state_reason"], "duplicate");
    assert!(
        five_["body"]
            .as_str()
            .unwrap()
            .contains("| 10 in all tracked windows |"),
        "left alone"
    );

    let comments = gh.lock().comments.clone();
    let mut unique = comments.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        comments.len(),
        "a comment was repeated: {comments:#?}"
    );
    let on = |n: u64| comments.iter().filter(|(i, _)| *i == n).count();
    assert_eq!(
        (on(n(1)), on(n(2))),
        (1, 1),
        "one escalation comment each: {comments:#?}"
    );
    assert_eq!(gh.lock().unauthorized, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_lists_only_what_changed_since_its_cursor() {
    let (server, gh) = Fake::start(100).await;
    let dir = tempfile::tempdir().unwrap();
    // Fifty issues of other people, closed long ago.
    {
        let mut st = gh.lock();
        for n in 1..=50u64 {
            let mut i = fixture("issue.json");
            i["number"] = n.into();
            i["body"] = "not ours".into();
            i["updated_at"] = format!("2020-01-01T00:00:{n:02}Z").into();
            st.issues.push(i);
        }
    }
    let mut s = restarted(&server, dir.path());
    s.sync(vec![pending(1, Priority::P1, "21:00")]).await;
    drop(s);
    assert_eq!(
        gh.lock().listed,
        50,
        "the first start reads every issue once"
    );
    let mut s = restarted(&server, dir.path());
    s.sync(vec![pending(1, Priority::P1, "22:00")]).await;
    let listed = gh.lock().listed - 50;
    assert!(
        listed <= 2,
        "after a restart only what was updated since the cursor is listed again: {listed}"
    );
    assert_eq!(gh.issues_of(&format!("{:016x}", 1)).len(), 1);
    assert_eq!(gh.lock().issues.len(), 51);
}

// ---- the dry run, end to end --------------------------------------------------------------

#[test]
fn without_a_token_the_replay_plans_and_reports_but_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/netra-backend-staging-2h.json");
    let out = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_log-gardener"))
        .env_remove("RUST_LOG")
        .env_remove("GITHUB_TOKEN")
        .env("LOG_GARDENER__GITHUB__REPO", "acme/backend")
        // Nothing listens here: a dry run must not try.
        .env("LOG_GARDENER__GITHUB__API_URL", "http://127.0.0.1:9")
        .arg("replay")
        .arg(&sample)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("dry run"), "{stderr}");
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let first: Value = serde_json::from_str(&read("2025-09-15T200000Z.github.json")).unwrap();
    let second: Value = serde_json::from_str(&read("2025-09-15T210000Z.github.json")).unwrap();
    assert_eq!(first["dry_run"], true);
    let kinds = |v: &Value| -> Vec<String> {
        v["sent"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!kinds(&first).is_empty() && kinds(&first).iter().all(|k| k == "create"));
    // Clusters seen again in the second window update the issue planned in the first.
    let created: Vec<&Value> = first["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["action"]["cluster"])
        .collect();
    for a in second["sent"].as_array().unwrap() {
        if created.contains(&&a["action"]["cluster"]) {
            assert_ne!(
                a["kind"], "create",
                "a second issue for {}",
                a["action"]["cluster"]
            );
        }
    }
    let md = read("2025-09-15T200000Z.md");
    let gh = md.find("## GitHub").expect("no GitHub section");
    assert!(gh < md.find("*Generated by log-gardener").unwrap());
    assert!(md.contains("Dry run (no token)"));
    let report: Value = serde_json::from_str(&read("2025-09-15T200000Z.json")).unwrap();
    assert_eq!(report["github"]["dry_run"], true);
    assert!(!out.join("github-outbox.json").exists());
}

/// Runs `replay` of the shipped sample against `api_url` with a token; returns stderr.
fn replay_live(api_url: &str, out: &Path) -> String {
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/netra-backend-staging-2h.json");
    let run = Command::new(env!("CARGO_BIN_EXE_log-gardener"))
        .env_remove("RUST_LOG")
        .env("GITHUB_TOKEN", TOKEN)
        .env("LOG_GARDENER__GITHUB__REPO", format!("{OWNER}/{REPO}"))
        .env("LOG_GARDENER__GITHUB__API_URL", api_url)
        .env("LOG_GARDENER__GITHUB__WRITE_SPACING", "1ms")
        .arg("replay")
        .arg(&sample)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{stderr}");
    assert!(!stderr.contains(TOKEN), "the token was printed: {stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_twice_through_the_binary_keeps_one_issue_per_cluster() {
    let (server, gh) = Fake::start(3).await;
    let dir = tempfile::tempdir().unwrap();
    let uri = server.uri();
    let first = {
        let (uri, out) = (uri.clone(), dir.path().join("one"));
        tokio::task::spawn_blocking(move || replay_live(&uri, &out))
            .await
            .unwrap()
    };
    let created = gh.lock().issues.len();
    assert!(created > 0, "{first}");
    let bodies: Vec<Value> = gh.lock().issues.iter().map(|i| i["body"].clone()).collect();
    // A second run over the same export: every issue is found again (through pagination),
    // and the same windows merged again change nothing.
    let second = {
        let (uri, out) = (uri.clone(), dir.path().join("two"));
        tokio::task::spawn_blocking(move || replay_live(&uri, &out))
            .await
            .unwrap()
    };
    let st = gh.lock();
    assert_eq!(st.issues.len(), created, "{second}");
    let after: Vec<Value> = st.issues.iter().map(|i| i["body"].clone()).collect();
    assert_eq!(bodies, after);
    assert_eq!(st.unauthorized, 0);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("two/2025-09-15T210000Z.github.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["sent"], serde_json::json!([]));
}
