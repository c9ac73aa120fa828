//! Any text in every place a LogEntry carries its message (textPayload, jsonPayload.message,
//! protoPayload, a stack trace), with any severity: the message, level and location extracted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Some((&shape, text)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    let severity = ["DEFAULT", "ERROR", "7", "1.5", "loud"][usize::from(shape >> 4) % 5];
    let payload = match shape % 4 {
        0 => json!({ "textPayload": text }),
        1 => json!({ "jsonPayload": { "message": text, "logger": text } }),
        2 => json!({ "jsonPayload": { "stack_trace": text, "serviceContext": { "service": text } } }),
        _ => json!({ "protoPayload": { "status": { "message": text } } }),
    };
    let mut entry = json!({
        "timestamp": "2026-01-01T00:00:00Z",
        "severity": severity,
        "resource": { "type": "cloud_run_revision", "labels": { "service_name": text } },
        "labels": { "instanceId": text },
    });
    if let (Some(e), Some(p)) = (entry.as_object_mut(), payload.as_object()) {
        e.extend(p.clone());
    }
    let _ = log_gardener::entry::parse_entry(entry.to_string().as_bytes());
});
