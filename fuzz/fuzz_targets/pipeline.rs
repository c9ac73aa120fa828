//! Any bytes as a replay file, through the whole pipeline: every piece is counted or reported,
//! and the windows close.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use log_gardener::config::Settings;
use log_gardener::pipeline::Pipeline;
use log_gardener::report::WindowReport;
use log_gardener::sinks::github::{body, model::TrackedState, Problem};
use log_gardener::sinks::markdown;
use log_gardener::source::export::{items, Item};
use log_gardener::source::{Origin, RawEntry};

/// The embedded defaults with the GitHub sink on, so every output is rendered.
static SETTINGS: LazyLock<Arc<Settings>> = LazyLock::new(|| {
    let env = [
        ("LOG_GARDENER__GITHUB__REPO", "owner/repo"),
        (
            "LOG_GARDENER__GITHUB__WORKLOG_URL",
            "https://example.com/worklogs",
        ),
        ("LOG_GARDENER__GITHUB__LOGGING_PROJECT", "project"),
    ];
    Arc::new(Settings::load_from(None, env).expect("the embedded defaults load"))
});

fuzz_target!(|data: &[u8]| {
    let mut p = Pipeline::for_replay(SETTINGS.clone());
    let path: Arc<str> = Arc::from("fuzz");
    let mut out = Vec::new();
    let (mut entries, mut unreadable) = (0u64, 0u64);
    for item in items(data, 64 * 1024) {
        match item {
            Item::Entry { data, line } => {
                entries += 1;
                let origin = Origin::File {
                    path: path.clone(),
                    line,
                };
                p.ingest(
                    &RawEntry {
                        data: data.into(),
                        origin,
                    },
                    &mut out,
                );
            }
            Item::Unreadable {
                line,
                reason,
                detail,
            } => {
                unreadable += 1;
                let origin = Origin::File {
                    path: path.clone(),
                    line,
                };
                p.reject(&origin, reason, detail, &mut out);
            }
        }
    }
    for report in p.finish(&mut out) {
        render(&report);
    }
    let c = p.counts();
    // `reject` counts an unreadable piece as received too (the run's summary reads
    // received = counted + malformed, before stitching).
    assert_eq!(
        c.received,
        entries + unreadable,
        "every piece read reaches the pipeline"
    );
    assert!(
        c.malformed >= unreadable,
        "every unreadable piece is reported: {c:?}"
    );
    // A stitched traceback counts once however many lines it had, so at most one each; and
    // nothing vanishes: an entry read is counted (alone or in a traceback) or reported.
    assert!(c.counted + c.malformed <= entries + unreadable, "{c:?}");
    assert!(entries == 0 || c.counted + c.malformed > 0, "{c:?}");
});

/// Every output a window's report becomes: the worklog (markdown and JSON) and the GitHub
/// issue of each problem, cluster or incident. None of them may panic on any input.
fn render(r: &WindowReport) {
    let _ = markdown::render(r);
    let json = serde_json::to_vec(r).expect("a report serializes");
    let _: WindowReport = serde_json::from_slice(&json).expect("a worklog's JSON reads back");
    let gh = SETTINGS.github.as_ref().expect("github is configured");
    let problems = r
        .clusters
        .iter()
        .map(|c| Problem::from_cluster(c, r.window.end));
    let incidents = r.incidents.iter().map(|i| Problem::from_incident(i, r));
    for p in problems.chain(incidents) {
        let _ = body::title(&p, p.priority);
        let _ = body::labels(&p, p.priority, &gh.label);
        let _ = body::render(&p, &TrackedState::empty(p.id.clone(), p.priority), gh);
    }
}
