//! Any bytes as a replay file: the reader yields entries or says what it could not read, and
//! never takes more than `max` bytes for one piece.
#![no_main]

use libfuzzer_sys::fuzz_target;
use log_gardener::source::export::{items, Item};

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    for item in items(data, MAX) {
        match item {
            Item::Entry { data, line } => {
                assert!(data.len() <= MAX, "an entry past the bound at line {line}");
            }
            Item::Unreadable { detail, .. } => assert!(detail.len() <= 4 * MAX),
        }
    }
});
