//! Any bytes as a replay file, through the whole pipeline: every piece is counted or reported,
//! and the windows close.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use log_gardener::config::Settings;
use log_gardener::pipeline::Pipeline;
use log_gardener::source::export::{items, Item};
use log_gardener::source::{Origin, RawEntry};

static SETTINGS: LazyLock<Arc<Settings>> =
    LazyLock::new(|| Arc::new(Settings::load(None).expect("the embedded defaults load")));

fuzz_target!(|data: &[u8]| {
    let mut p = Pipeline::for_replay(SETTINGS.clone());
    let path: Arc<str> = Arc::from("fuzz");
    let mut out = Vec::new();
    let (mut entries, mut unreadable) = (0u64, 0u64);
    for item in items(data, 64 * 1024) {
        match item {
            Item::Entry { data, line } => {
                entries += 1;
                let origin = Origin::File { path: path.clone(), line };
                p.ingest(&RawEntry { data: data.into(), origin }, &mut out);
            }
            Item::Unreadable { line, reason, detail } => {
                unreadable += 1;
                let origin = Origin::File { path: path.clone(), line };
                p.reject(&origin, reason, detail, &mut out);
            }
        }
    }
    let _ = p.finish(&mut out);
    let c = p.counts();
    // `reject` counts an unreadable piece as received too (the run's summary reads
    // received = counted + malformed, before stitching).
    assert_eq!(
        c.received,
        entries + unreadable,
        "every piece read reaches the pipeline"
    );
    assert!(c.malformed >= unreadable, "every unreadable piece is reported: {c:?}");
    // A stitched traceback counts once however many lines it had, so at most one each; and
    // nothing vanishes: an entry read is counted (alone or in a traceback) or reported.
    assert!(c.counted + c.malformed <= entries + unreadable, "{c:?}");
    assert!(entries == 0 || c.counted + c.malformed > 0, "{c:?}");
});
