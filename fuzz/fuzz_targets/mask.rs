//! Any text through what makes templates and outputs of it: masking (secrets included), the
//! redactor and the output boundary. Redaction is idempotent; what leaves holds no control or
//! invisible characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use log_gardener::fingerprint::mask;
use log_gardener::redact::{redact, Inert};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let template = log_gardener::fingerprint::mask::mask(&text);
    // The service's convention, which reads HTTP statuses by their keys and words.
    let mut service = String::new();
    mask::mask_into_with(&text, mask::Numbers::KeepStatus, &mut service);
    let once = redact(&text).into_owned();
    assert_eq!(redact(&once), once, "redaction is idempotent");
    for out in [
        Inert::new(&text),
        Inert::new(&template),
        Inert::new(&service),
    ] {
        assert!(
            !out.as_str().chars().any(|c| (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
            "{out:?}"
        );
    }
});
