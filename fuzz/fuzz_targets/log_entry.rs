//! Any bytes as one Pub/Sub message: a LogEntry's record, or a reason it is not one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = log_gardener::entry::parse_entry_max(data, 256 * 1024) {
        assert!(!e.reason().is_empty());
    }
});
