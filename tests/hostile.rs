//! Hostile input through the binary: every shape a replay input arrives in, broken or odd,
//! generated here. Each case asserts the documented exit code, a bounded wall time, and that
//! every planted entry is either counted or reported as malformed (`counted + malformed ==
//! planted`, from the run's summary line; an entry planted twice is counted once and told as a
//! duplicate), never dropped.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Generous for a debug build on a shared 2-core machine; the cases take well under a second
/// in release.
const WALL: Duration = Duration::from_secs(30);

/// The entry `i`: a valid LogEntry one second after the last, all one cluster.
fn entry(i: u32) -> Value {
    let at = format!("2025-09-15T19:{:02}:{:02}Z", (i / 60) % 60, i % 60);
    json!({"timestamp": at, "receiveTimestamp": at, "severity": "ERROR",
        "insertId": format!("id{i}"), "textPayload": format!("boom {i}"),
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}})
}

fn entries(from: u32, n: u32) -> Vec<Value> {
    (from..from + n).map(entry).collect()
}

fn array(v: &[Value]) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

fn lines(v: &[Value]) -> String {
    v.iter().map(|e| format!("{e}\n")).collect()
}

/// What a replay of one input did.
struct Ran {
    code: Option<i32>,
    counted: u64,
    malformed: u64,
    stderr: String,
    /// (template, count) of every cluster in the JSON worklogs.
    clusters: Vec<(String, u64)>,
}

fn replay(name: &str, input: &[u8]) -> Ran {
    replay_with(name, input, &[], false)
}

/// [`replay`] with configuration from the environment, of the file or of `-` with the file
/// on stdin.
fn replay_with(name: &str, input: &[u8], env: &[(&str, &str)], piped: bool) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, input).unwrap();
    let started = Instant::now();
    let mut command = Command::new(env!("CARGO_BIN_EXE_log-gardener"));
    command.env_remove("RUST_LOG").envs(env.iter().copied());
    if piped {
        command
            .args(["replay", "-"])
            .stdin(std::fs::File::open(&file).unwrap());
    } else {
        command.arg("replay").arg(&file);
    }
    let out = command
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(took < WALL, "{name}: took {took:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let (counted, malformed) = summary(&stderr).unwrap_or((0, 0));
    if out.status.success() && counted > 0 {
        // Malformed input is reported in the next worklog; with nothing counted there is
        // none, and the summary (and a WARN per piece) is where it is told.
        let reported = reported(&dir.path().join("out"));
        assert_eq!(
            reported,
            (counted, malformed),
            "{name}: worklogs and summary agree"
        );
    }
    Ran {
        code: out.status.code(),
        counted,
        malformed,
        stderr,
        clusters: clusters(&dir.path().join("out")),
    }
}

fn worklogs(out: &Path) -> Vec<Value> {
    let Ok(dir) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    dir.flatten()
        .filter(|f| f.file_name().to_string_lossy().ends_with("Z.json"))
        .map(|f| serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap())
        .collect()
}

fn clusters(out: &Path) -> Vec<(String, u64)> {
    worklogs(out)
        .iter()
        .flat_map(|r| r["clusters"].as_array().cloned().unwrap_or_default())
        .map(|c| {
            let t = c["template"].as_str().unwrap_or_default().to_owned();
            (t, c["count"].as_u64().unwrap_or_default())
        })
        .collect()
}

/// (counted, malformed) from `read N entries (M malformed); K counted …`.
fn summary(stderr: &str) -> Option<(u64, u64)> {
    let line = stderr.lines().find(|l| l.starts_with("read "))?;
    let num = |after: &str| -> Option<u64> {
        let rest = &line[line.find(after)? + after.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let malformed = num("entries (")?;
    let counted = num("); ")?;
    Some((counted, malformed))
}

/// (entries counted, malformed reported) over every JSON worklog written (hop = length, so
/// each entry is in one window).
fn reported(out: &Path) -> (u64, u64) {
    let mut sums = (0, 0);
    for r in worklogs(out) {
        sums.0 += r["totals"]["entries"].as_u64().unwrap();
        sums.1 += r["malformed"]["total"].as_u64().unwrap();
    }
    sums
}

/// Exit 0 and every planted entry accounted for: `good` counted, `bad` reported — read whole,
/// and again as a large file and a long pipe are read (surveyed, then a slice of event time
/// at a time).
fn accounted(name: &str, input: impl AsRef<[u8]>, good: u64, bad: u64) {
    let sliced = &[("LOG_GARDENER__INPUT__SLICE_BYTES", "1024")][..];
    for (env, piped) in [(&[][..], false), (sliced, false), (sliced, true)] {
        let r = replay_with(name, input.as_ref(), env, piped);
        assert_eq!(
            r.code,
            Some(0),
            "{name} {env:?} piped {piped}: {}",
            r.stderr
        );
        assert_eq!(
            (r.counted, r.malformed),
            (good, bad),
            "{name} {env:?} piped {piped}: {}",
            r.stderr
        );
    }
}

/// A long pipe with nowhere to keep it (`TMPDIR` missing) is read whole, with a WARN naming
/// the way out: every entry still counted.
#[test]
fn a_pipe_with_no_temporary_directory_is_read_whole_and_said() {
    let input = lines(&entries(0, 200));
    let r = replay_with(
        "pipe.jsonl",
        input.as_bytes(),
        &[
            ("LOG_GARDENER__INPUT__SLICE_BYTES", "1024"),
            ("TMPDIR", "/nonexistent/log-gardener-test"),
        ],
        true,
    );
    assert_eq!(
        (r.code, r.counted, r.malformed),
        (Some(0), 200, 0),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("cannot make a temporary file for the piped input"),
        "{}",
        r.stderr
    );
}

#[test]
fn concatenated_and_mixed_shapes_lose_nothing() {
    let (a, b) = (entries(0, 3), entries(3, 3));
    accounted("two-arrays.json", array(&a) + &array(&b), 6, 0);
    accounted("array-then-lines.json", array(&a) + "\n" + &lines(&b), 6, 0);
    // Two exports that overlap, read together: an entry alike in log, time and insertId is
    // one entry, as Cloud Logging takes it (the summary says how many were not counted again).
    let overlap = [a.clone(), b.clone()].concat();
    let r = replay("overlap.json", (array(&a) + &array(&overlap)).as_bytes());
    assert!(r.stderr.contains("3 duplicates"), "{}", r.stderr);
    accounted("overlap.json", array(&a) + &array(&overlap), 6, 0);
    accounted(
        "stray.json",
        format!("{}\n]\n,\n{}", array(&a), lines(&b)),
        6,
        0,
    );
    let bom = [b"\xEF\xBB\xBF".as_slice(), array(&a).as_bytes()].concat();
    accounted("bom.json", bom, 3, 0);
    let wrapper = json!({"entries": a}).to_string();
    let pages = format!(
        "{}\n{}",
        json!({"entries": a, "nextPageToken": "abc]"}),
        json!({"entries": b})
    );
    accounted("wrapper.json", wrapper, 3, 0);
    accounted("pages.json", pages, 6, 0);
    // A repeated `entries` key (JSON leaves duplicates to the reader): both arrays count.
    let repeated = format!(
        "{{\"entries\": {}, \"nextPageToken\": \"t\", \"entries\": {}}}",
        array(&a),
        array(&b)
    );
    accounted("repeated-entries-key.json", repeated, 6, 0);
    // An entry that also holds `entries`: those count, its own fields are reported once.
    let mut own = entries(6, 1).remove(0);
    own["entries"] = json!(a);
    accounted(
        "entry-with-entries.json",
        format!("{}\n{}", own, lines(&b)),
        6,
        1,
    );
}

/// `entries.list` pages of a scan that found nothing yet: the API leaves the empty `entries`
/// out (`{"nextPageToken": "…"}`), or a client writes it as `null`. They hold no entry, so
/// nothing is reported malformed, back to back or in an array of pages.
#[test]
fn pages_without_entries_hold_nothing_to_report() {
    let (a, b) = (entries(0, 3), entries(3, 3));
    let pages = [
        json!({"nextPageToken": "p1"}),
        json!({"entries": a, "nextPageToken": "p2"}),
        json!({"entries": null, "nextPageToken": "p3"}),
        json!({"entries": b}),
    ];
    accounted("empty-pages.json", lines(&pages), 6, 0);
    accounted("empty-pages-array.json", array(&pages), 6, 0);
}

/// `json.dumps([e._asdict() for e in client.list_entries()], default=str)` with the Python
/// client: the payload under `payload` (text, or an object for a `StructEntry`), the time as
/// Python prints a datetime, the resource a list (a namedtuple), every unset field `null`.
/// Every entry was refused as `no_payload` (exit 3).
#[test]
fn the_python_clients_asdict_dumps_are_read() {
    let dumped: Vec<Value> = (0..4u32)
        .map(|i| {
            let payload = if i % 2 == 0 {
                json!(format!("py boom {i}"))
            } else {
                json!({"message": format!("py boom {i}"), "extra": [1]})
            };
            json!({"log_name": "projects/p/logs/app", "resource": ["global", {"project_id": "p"}],
                "labels": null, "insert_id": format!("py{i}"), "severity": "ERROR",
                "http_request": null, "timestamp": format!("2025-09-15 19:00:{i:02}.123456+00:00"),
                "trace": null, "span_id": null, "trace_sampled": false, "source_location": null,
                "operation": null, "logger": null, "payload": payload})
        })
        .collect();
    accounted("asdict.json", array(&dumped), 4, 0);
    let r = replay("asdict.json", array(&dumped).as_bytes());
    assert!(
        r.clusters.iter().all(|(t, _)| t.starts_with("py boom")),
        "{:?}",
        r.clusters
    );
}

#[test]
fn utf16_exports_are_transcoded() {
    let text = array(&entries(0, 4));
    for (name, be) in [("le.json", false), ("be.json", true)] {
        let mut bytes = Vec::new();
        for u in std::iter::once(0xFEFF).chain(text.encode_utf16()) {
            bytes.extend(if be { u.to_be_bytes() } else { u.to_le_bytes() });
        }
        accounted(name, bytes, 4, 0);
    }
}

#[test]
fn oversized_nested_and_binary_pieces_are_reported_with_the_rest_counted() {
    let (good, more) = (lines(&entries(0, 3)), lines(&entries(3, 3)));
    let mut huge = entry(99);
    huge["textPayload"] = Value::String("word ".repeat(1 << 20));
    let deep = format!("{}{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    let input = [
        good.as_bytes(),
        format!("{huge}\n").as_bytes(),
        format!("[{}]\n", "[".repeat(100_000) + &"]".repeat(100_000)).as_bytes(),
        format!("{deep}\n").as_bytes(),
        b"\0\0\0{\0}\n",
        b"\xff\xfe\xfd not utf-8\n",
        b"{\"timestamp\": 1700000000, \"textPayload\": \"x\"}\n",
        b"{\"timestamp\": \"2025-09-15T19:00:00+99:99\", \"textPayload\": \"x\"}\n",
        more.as_bytes(),
    ]
    .concat();
    accounted("hostile.jsonl", input, 6, 7);
    let mut one_mb = entry(1);
    one_mb["textPayload"] = Value::String("x".repeat(1 << 20));
    accounted(
        "one-mb.jsonl",
        format!("{one_mb}\n{}", lines(&entries(0, 2))),
        2,
        1,
    );
}

#[test]
fn implausible_times_are_bad_timestamps_not_decades_of_windows() {
    let mut input = entries(0, 2);
    for at in [
        "1970-01-01T00:00:01Z",
        "0000-01-01T00:00:00Z",
        "2999-01-01T00:00:00Z",
    ] {
        let mut e = entry(50);
        e["timestamp"] = json!(at);
        e["receiveTimestamp"] = json!(at);
        input.push(e);
    }
    let mut stale = entry(51);
    stale["timestamp"] = json!("2024-09-15T19:00:00Z");
    input.push(stale);
    let mut leap = entry(52);
    leap["timestamp"] = json!("2025-09-15T19:59:60.5Z");
    leap["receiveTimestamp"] = json!("2025-09-15T20:00:00Z");
    input.push(leap);
    accounted("times.json", array(&input), 3, 4);
}

#[test]
fn distinct_messages_over_many_loggers_stay_within_the_bounds_and_are_all_counted() {
    // Plain words (nothing masks them) under 400 loggers: far past a small template budget
    // and cluster bound, as set in the environment.
    let word =
        |n: u32| format!("w{}", char::from(b'a' + (n % 26) as u8)).repeat(1 + n as usize % 3);
    let input: String = (0..8_000u32)
        .map(|i| {
            let mut e = entry(i % 3_600);
            e["insertId"] = json!(format!("d{i}"));
            e["textPayload"] = json!(format!(
                "{} {} {} lost",
                word(i),
                word(i / 26),
                word(i / 676)
            ));
            e["labels"] = json!({"python_logger": format!("app.m{}", i % 400)});
            format!("{e}\n")
        })
        .collect();
    let r = replay_with(
        "distinct.jsonl",
        input.as_bytes(),
        &[
            ("LOG_GARDENER__FINGERPRINT__MAX_TEMPLATE_TOKENS", "2000"),
            ("LOG_GARDENER__FINGERPRINT__MAX_CLUSTERS", "64"),
        ],
        false,
    );
    assert_eq!(
        (r.code, r.counted, r.malformed),
        (Some(0), 8_000, 0),
        "{}",
        r.stderr
    );
    let counted: u64 = r.clusters.iter().map(|(_, n)| n).sum();
    assert_eq!(counted, 8_000, "every entry in a cluster of the worklog");
    assert!(r.clusters.len() <= 65, "{} clusters", r.clusters.len());
    assert!(r
        .clusters
        .iter()
        .any(|(t, _)| t.starts_with("<unclustered")));
}

#[test]
fn a_line_torn_inside_an_array_or_after_a_key_costs_one_piece_not_the_rest() {
    for tear in ["\"labels\":[", "\"textPayload\":", "\"labels\":{\"a\":["] {
        let mut input = format!("{{\"insertId\":\"torn\",{tear}\n");
        for i in 0..1_000 {
            input.push_str(&format!("{}\n", entry(i)));
        }
        let r = replay("torn.jsonl", input.as_bytes());
        assert_eq!(
            (r.code, r.counted, r.malformed),
            (Some(0), 1_000, 1),
            "{tear}: {}",
            r.stderr
        );
    }
}

#[test]
fn a_flood_of_message_kinds_does_not_hide_a_later_hours_p0() {
    // 200 distinct kinds at 19:xx past a bound of 64, then after a gap of a day a Cloud SQL
    // timeout: its window reports it as its own P0 cluster, not `<unclustered>`.
    let mut input: String = (0..200u32)
        .map(|i| {
            let mut e = entry(i);
            e["textPayload"] = json!(format!("w{} x{} lost", i % 20, i / 20));
            format!("{e}\n")
        })
        .collect();
    let mut p0 = entry(0);
    p0["timestamp"] = json!("2025-09-16T19:30:00Z");
    p0["receiveTimestamp"] = p0["timestamp"].clone();
    p0["textPayload"] = json!(
        "Database initialization timeout after 30s. This may indicate Cloud SQL connection issues."
    );
    input.push_str(&format!("{p0}\n"));
    let r = replay_with(
        "flood.jsonl",
        input.as_bytes(),
        &[("LOG_GARDENER__FINGERPRINT__MAX_CLUSTERS", "64")],
        false,
    );
    assert_eq!((r.code, r.counted), (Some(0), 201), "{}", r.stderr);
    assert!(
        r.clusters
            .iter()
            .any(|(t, n)| t.starts_with("Database initialization") && *n == 1),
        "{:?}",
        r.clusters
    );
    assert!(
        r.stderr.contains("top: [P0] Database initialization"),
        "{}",
        r.stderr
    );
}

#[test]
fn characters_of_several_bytes_beside_keys_and_colons_are_counted() {
    // A multi-byte character glued to a word before `:` or `=` (Japanese or Cyrillic log
    // text, a typographic quote, an emoji) once panicked the status reading: `run` would have
    // crashed on the entry at every redelivery. Every script and glue, in text and JSON
    // payloads, is counted.
    let glyphs = [
        "é",
        "ß",
        "€",
        "«",
        "“",
        "接続エラー",
        "Ошибка",
        "😀",
        "\u{300}",
    ];
    let glues = [
        "{g}RuntimeError: boom",
        "{g}status=503",
        "{g}status_code:404, retrying",
        "request {g}code=500.",
        "{g}:{g}=:{g}",
        "\"{g}status\":502",
        "HTTP {g}503",
    ];
    let mut input = String::new();
    let mut n = 0;
    for g in glyphs {
        for glue in glues {
            let text = glue.replace("{g}", g);
            let mut e = entry(n);
            if n % 2 == 0 {
                e["textPayload"] = json!(text);
            } else {
                e.as_object_mut().unwrap().remove("textPayload");
                e["jsonPayload"] = json!({"message": text, "status": g});
            }
            input.push_str(&format!("{e}\n"));
            n += 1;
        }
    }
    accounted("glyphs.jsonl", input, u64::from(n), 0);
}

#[test]
fn long_tokens_and_long_messages_make_bounded_templates() {
    // A distinct 8 KB token in every message (a blob, padding), and messages of 300 words of
    // 40 letters (12 KB; its first 128 tokens would still be 5 KB): every cluster's template is
    // at most 4 KB with no token over 256 bytes, so what each cluster keeps is bounded whatever
    // `input.max_entry_bytes` lets in.
    let word = "abcdefghij".repeat(4);
    let input: String = (0..80u32)
        .map(|i| {
            let mut e = entry(i);
            e["textPayload"] = if i % 2 == 0 {
                json!(format!(
                    "upload failed {} done",
                    "x".repeat(8_000 + i as usize)
                ))
            } else {
                json!(vec![word.as_str(); 300].join(" "))
            };
            format!("{e}\n")
        })
        .collect();
    let r = replay("long.jsonl", input.as_bytes());
    assert_eq!(
        (r.code, r.counted, r.malformed),
        (Some(0), 80, 0),
        "{}",
        r.stderr
    );
    assert!(r
        .clusters
        .iter()
        .all(|(t, _)| t.len() <= 4096 && t.split(' ').all(|w| w.len() <= 256)));
    assert!(
        r.clusters
            .iter()
            .any(|(t, n)| t == "upload failed <*> done" && *n == 40),
        "{:?}",
        r.clusters
            .iter()
            .map(|(t, n)| (&t[..t.len().min(80)], n))
            .collect::<Vec<_>>()
    );
    assert!(
        r.clusters.iter().any(|(t, n)| t.starts_with(&word)
            && t.ends_with(" <*>")
            && t.len() > 3_900
            && *n == 40),
        "the long message cut at 4 KB"
    );
}

#[test]
fn lenient_fields_are_counted_not_rejected() {
    let mut input = Vec::new();
    for (i, sev) in [
        json!(1.5),
        json!(true),
        json!({}),
        json!("2^64"),
        json!("loud"),
        json!("1e400"),
        json!("DEEP"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = entry(i as u32);
        e["severity"] = sev;
        input.push(e);
    }
    for (i, text) in [json!(42), json!("1e400"), json!("DEEP")]
        .into_iter()
        .enumerate()
    {
        let mut e = entry(10 + i as u32);
        e["textPayload"] = text;
        input.push(e);
    }
    // Optional context fields of the wrong type: read as absent, the entry counted.
    for (i, (field, value)) in [
        ("insertId", json!(123)),
        ("labels", json!([1, 2])),
        ("resource", json!("cloud_run_revision")),
        ("httpRequest", json!("GET /")),
        ("sourceLocation", json!({"line": {"no": 1}, "file": 7})),
        // Valid JSON a double cannot hold (spliced in below).
        ("labels", json!({"a": "1e400"})),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = entry(20 + i as u32);
        e[field] = value;
        input.push(e);
    }
    // A receiveTimestamp that is no time bounds nothing: counted, with a warning.
    for (i, received) in [json!("garbage"), json!("")].into_iter().enumerate() {
        let mut e = entry(30 + i as u32);
        e["receiveTimestamp"] = received;
        input.push(e);
    }
    input.push(
        json!({"log_name": "projects/p/logs/x", "timestamp": "2025-09-15T19:30:00Z",
        "insert_id": "py", "text_payload": "from python", "severity": "ERROR"}),
    );
    // 2^64 as a bare number: past u64, so JSON readers see a float; 1e400 past a double; and
    // arrays nested past serde_json's recursion limit of 128.
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let text = array(&input)
        .replace("\"2^64\"", "18446744073709551616")
        .replace("\"1e400\"", "1e400")
        .replace("\"DEEP\"", &deep);
    let r = replay("lenient.json", text.as_bytes());
    assert_eq!(
        (r.code, r.counted, r.malformed),
        (Some(0), 19, 0),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("18 entries had an unusable optional field"),
        "{}",
        r.stderr
    );
}

/// Valid JSON the typed parse refused whole: a key given twice (RFC 8259 leaves it to the
/// reader; `JSON.parse` and Python keep the last) and a lone UTF-16 surrogate escape (a string
/// cut mid-pair by a JavaScript writer). Each entry was `not_log_entry`; now read repaired, the
/// last value of a repeated key, U+FFFD for the surrogate, and counted with a field warning. A
/// repeated `timestamp` whose last value is no time is still `bad_timestamp`.
#[test]
fn repeated_keys_and_lone_surrogates_are_read_repaired() {
    let inner = |e: Value| {
        let e = e.to_string();
        e[1..e.len() - 1].to_owned()
    };
    let body = |i: u32| inner(entry(i));
    let mut plain = entry(8);
    plain.as_object_mut().unwrap().remove("textPayload");
    let input = [
        format!("{{{}, \"severity\": \"INFO\"}}", body(0)),
        format!("{{{}, \"severity\": 500, \"severity\": true}}", body(1)),
        format!("{{\"timestamp\": \"garbage\", {}}}", body(2)),
        format!("{{{}, \"textPayload\": \"boom again\"}}", body(3)),
        format!("{{{}, \"resource\": {{\"type\": \"global\"}}}}", body(4)),
        format!("{{{}, \"textPayload\": \"cut \\ud83c\"}}", body(5)),
        format!(
            "{{{}, \"textPayload\": \"\\udc00\\ud800\\ud800\"}}",
            body(6)
        ),
        format!(
            "{{{}, \"logName\": \"l\\ud800\", \"insertId\": \"\\udfff\"}}",
            body(7)
        ),
        // A pair is no lone surrogate, an escaped backslash before `u` no escape: read as
        // before, with no warning.
        format!(
            "{{\"textPayload\": \"🌍 \\ud83c\\udf0d \\\\ud800\", {}}}",
            inner(plain)
        ),
        format!("{{{}, \"timestamp\": \"garbage\"}}", body(9)),
    ]
    .join("\n");
    accounted("repaired.jsonl", &input, 9, 1);
    let r = replay("repaired.jsonl", input.as_bytes());
    assert!(
        r.stderr
            .contains("8 entries had an unusable optional field"),
        "{}",
        r.stderr
    );
    // The summary says how many were read repaired, by that name.
    assert!(r.stderr.contains(" json_repaired, "), "{}", r.stderr);
    assert!(
        r.stderr.contains("timestamp \"garbage\" is not RFC 3339"),
        "{}",
        r.stderr
    );
    // As an array, pretty, and with nothing else in it.
    let one = format!("[{{{}, \"textPayload\": \"\\ud800\"}}]", body(0));
    accounted("surrogate.json", one, 1, 0);
}

/// An array opened and never closed, before any entry (`[`, `[` and blanks, an `entries`
/// wrapper cut short): an export cut off before its first entry, not one that matched nothing.
/// It said "read 0 entries" and exited 0; now exit 3 saying so, in one line. `[]`, `[[]]`
/// and an empty input are exports that matched nothing: exit 0, as before.
#[test]
fn an_array_never_closed_before_any_entry_exits_3() {
    for input in ["[", "[ \n\t ", "[\n[\n", "{\"entries\": [", "[,,\0"] {
        for piped in [false, true] {
            let r = replay_with("cut.json", input.as_bytes(), &[], piped);
            let at = format!("{input:?} piped {piped}");
            assert_eq!(r.code, Some(3), "{at}: {}", r.stderr);
            assert!(
                r.stderr.contains("an export cut short"),
                "{at}: {}",
                r.stderr
            );
            assert_eq!(r.stderr.lines().count(), 1, "{at}: {}", r.stderr);
        }
    }
    for input in ["", "[]", "[[]]", "{\"entries\": []}"] {
        accounted("nothing.json", input, 0, 0);
    }
}

/// UTF-32 (with a BOM or without): read as UTF-16 or UTF-8 it was a few `not_json` pieces
/// whose error ("key must be a string") said nothing of the encoding. Exit 3 naming it and the
/// `iconv` command that converts it, in one line.
#[test]
fn utf32_exits_3_saying_how_to_convert_it() {
    let text = array(&entries(0, 3));
    for (be, bom) in [(false, true), (true, true), (false, false), (true, false)] {
        let mut bytes = Vec::new();
        for c in bom.then_some('\u{FEFF}').into_iter().chain(text.chars()) {
            let u = u32::from(c);
            bytes.extend(if be { u.to_be_bytes() } else { u.to_le_bytes() });
        }
        let order = if be { "BE" } else { "LE" };
        for piped in [false, true] {
            let r = replay_with("utf32.json", &bytes, &[], piped);
            let at = format!("{order} bom {bom} piped {piped}");
            assert_eq!(r.code, Some(3), "{at}: {}", r.stderr);
            let said = format!("UTF-32 text; convert it first: `iconv -f UTF-32{order} -t UTF-8 ");
            assert!(r.stderr.contains(&said), "{at}: {}", r.stderr);
            assert_eq!(r.stderr.lines().count(), 1, "{at}: {}", r.stderr);
        }
    }
}

/// Shapes an outside audit tried that already held, kept so they keep holding: CR-only and
/// CRLF line ends, arrays of arrays, JSON Lines of one-element arrays, a `timestamp` in every
/// RFC 3339 spelling (the valid ones counted, the rest `bad_timestamp`), a jsonPayload nested
/// 10,000 deep, one 200 KB token, 100,000 entries in one millisecond.
#[test]
fn shapes_of_an_outside_audit_are_counted_or_reported() {
    let e = entries(0, 3);
    accounted("cr.jsonl", lines(&e).replace('\n', "\r"), 3, 0);
    accounted("crlf.jsonl", lines(&e).replace('\n', "\r\n"), 3, 0);
    accounted("cr.json", array(&e).replace('\n', "\r"), 3, 0);
    accounted(
        "nested.json",
        json!([[e[0], [e[1]]], [e[2]]]).to_string(),
        3,
        0,
    );
    let one_each: String = e.iter().map(|x| format!("[{x}]\n")).collect();
    accounted("arrays.jsonl", one_each, 3, 0);
    let valid = [
        "2025-09-15t19:00:00z",
        "2025-09-15 19:00:00Z",
        "2025-09-15T19:00:00.123456789123Z",
        "2025-09-15T19:59:60Z",
        "2025-09-15T19:00:00-00:00",
        "2025-09-15T19:00:00.5+23:59",
    ];
    let invalid = [
        "2025-09-15T19:00:00,5Z",
        "2025-09-15T19:00Z",
        "10000-01-01T00:00:00Z",
        "2025-09-15T19:00:00+0000",
        "2025-09-15T24:00:00Z",
        " 2025-09-15T19:00:00Z",
        "",
    ];
    let timed: Vec<Value> = valid
        .iter()
        .chain(&invalid)
        .enumerate()
        .map(|(i, at)| {
            let mut x = entry(i as u32);
            x["timestamp"] = json!(at);
            x["receiveTimestamp"] = json!("2025-09-16T12:00:00Z");
            x
        })
        .collect();
    accounted("rfc3339.jsonl", lines(&timed), 6, 7);
    let mut deep = entry(5);
    deep.as_object_mut().unwrap().remove("textPayload");
    let payload = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let deep = deep
        .to_string()
        .replacen('{', &format!("{{\"jsonPayload\":{payload},"), 1);
    let mut long = entry(6);
    long["textPayload"] = json!("x".repeat(200_000));
    accounted(
        "deep-long.jsonl",
        format!("{deep}\n{long}\n{}", lines(&e)),
        5,
        0,
    );
    let burst: String = (0..100_000)
        .map(|i| {
            format!(
                "{{\"timestamp\":\"2025-09-15T19:00:00.000{}Z\",\"insertId\":\"b{i}\",\"textPayload\":\"same {}\"}}\n",
                i % 10,
                i % 7
            )
        })
        .collect();
    accounted("burst.jsonl", burst, 100_000, 0);
}

#[test]
fn empty_truncated_and_many_tiny_inputs() {
    accounted("empty.json", "", 0, 0);
    accounted("blank.json", " \n\t\r\n  \n", 0, 0);
    accounted("empty-array.json", "[]", 0, 0);
    let whole = array(&entries(0, 3));
    let truncated = &whole[..whole.len() - 40];
    accounted("truncated.json", truncated, 2, 1);
    let many = lines(&entries(0, 3)) + &"x\n".repeat(10_000);
    accounted("noise.jsonl", many, 3, 10_000);
}

#[test]
fn nothing_readable_exits_3_with_one_hint() {
    let yaml =
        "---\ninsertId: abc\nlogName: projects/p/logs/x\ntextPayload: hello\n---\n".repeat(2000);
    let text = "2025-09-15 19:00:00 INFO started\n".repeat(5000);
    for (name, input) in [
        ("export.yaml", yaml),
        ("app.log", text),
        ("numbers.json", "[1,2,3]".into()),
    ] {
        let r = replay(name, input.as_bytes());
        assert_eq!(r.code, Some(3), "{name}: {}", r.stderr);
        assert!(
            r.stderr.contains("gcloud logging read --format=json"),
            "{name}: {}",
            r.stderr
        );
        assert!(
            r.stderr.lines().count() <= 2,
            "{name}: one line, not one per line: {}",
            r.stderr
        );
    }
}

/// A file of NUL bytes (preallocated, never written) holds nothing readable: exit 3 saying how
/// many bytes were skipped, read whole, sliced or piped — not a silent "read 0 entries".
#[test]
fn a_file_of_nul_bytes_exits_3_saying_what_was_skipped() {
    let sliced = &[("LOG_GARDENER__INPUT__SLICE_BYTES", "1024")][..];
    for (name, input) in [
        ("zeros.json", vec![0u8; 4096]),
        ("commas.json", b",\0]\n".repeat(1024)),
    ] {
        for (env, piped) in [(&[][..], false), (sliced, false), (sliced, true)] {
            let r = replay_with(name, &input, env, piped);
            let at = format!("{name} {env:?} piped {piped}");
            assert_eq!(r.code, Some(3), "{at}: {}", r.stderr);
            for said in [
                "all 4096 bytes of the input were skipped",
                "gcloud logging read --format=json",
            ] {
                assert!(r.stderr.contains(said), "{at}: {said} in {}", r.stderr);
            }
            assert_eq!(r.stderr.lines().count(), 1, "{at}: {}", r.stderr);
        }
    }
}

/// A compressed export (`gcloud … | gzip`, a downloaded `.json.gz`): exit 3 and one line
/// saying which compression and the command to decompress it with, as a file or piped.
#[test]
fn a_compressed_input_exits_3_saying_to_decompress_it_first() {
    let text = array(&entries(0, 3));
    let mut gzip = vec![0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03];
    gzip.extend(text.as_bytes().iter().map(|b| b ^ 0x5A));
    for (name, input, said) in [
        (
            "export.json.gz",
            gzip,
            "gzip-compressed; decompress it first: `gunzip -c ",
        ),
        (
            "export.json.zst",
            b"\x28\xB5\x2F\xFD\x04\x58rest".to_vec(),
            "zstd-compressed",
        ),
        (
            "export.json.bz2",
            b"BZh91AY&SYrest".to_vec(),
            "bzip2-compressed",
        ),
        (
            "export.zip",
            b"PK\x03\x04\x14\x00rest".to_vec(),
            "zip-compressed",
        ),
    ] {
        for piped in [false, true] {
            let r = replay_with(name, &input, &[], piped);
            assert_eq!(r.code, Some(3), "{name} piped {piped}: {}", r.stderr);
            assert!(
                r.stderr.contains(said),
                "{name} piped {piped}: {}",
                r.stderr
            );
            assert!(
                r.stderr.contains("| log-gardener replay -`"),
                "{name} piped {piped}: {}",
                r.stderr
            );
            assert_eq!(
                r.stderr.lines().count(),
                1,
                "{name} piped {piped}: {}",
                r.stderr
            );
        }
    }
}

/// JSON objects that are none of them LogEntries (another log format, epoch timestamps,
/// empty objects): no window, so no worklog could tell them. Exit 3 naming the commonest reason
/// and the first place, read whole, sliced or piped; a few WARN lines, not one per entry.
#[test]
fn every_entry_refused_exits_3_naming_the_reason() {
    let pino = r#"{"level":50,"time":1757962800000,"pid":1,"msg":"db timeout"}"#;
    let mut epoch = entry(1);
    epoch["timestamp"] = json!(1_757_962_800);
    let cases = [
        ("pino.jsonl", format!("{pino}\n").repeat(5000), "`no_time`"),
        (
            "epoch.jsonl",
            format!("{epoch}\n").repeat(5000),
            "`bad_timestamp`",
        ),
        ("tiny.jsonl", "{}\n".repeat(5000), "`no_time`"),
    ];
    let sliced = &[("LOG_GARDENER__INPUT__SLICE_BYTES", "1024")][..];
    for (name, input, reason) in cases {
        for (env, piped) in [(&[][..], false), (sliced, false), (sliced, true)] {
            let r = replay_with(name, input.as_bytes(), env, piped);
            let at = format!("{name} {env:?} piped {piped}");
            assert_eq!(r.code, Some(3), "{at}: {}", r.stderr);
            for said in ["all 5000 entries refused", reason, "gcloud logging read"] {
                assert!(r.stderr.contains(said), "{at}: {said} in {}", r.stderr);
            }
            assert!(
                r.stderr.lines().count() <= 16,
                "{at}: a few lines, not one per entry: {}",
                r.stderr
            );
        }
    }
}

/// Ctrl-C or SIGTERM while a long export is still arriving (the pipe stays open, gcloud still
/// paging): what was read is counted and written as a replay of it whole would, exit 130 for
/// either. SIGTERM once killed the process at once (exit 143, nothing written).
#[test]
fn ctrl_c_or_sigterm_while_piping_reports_what_was_read_and_exits_130() {
    use std::io::Write;
    use std::process::Stdio;
    let bin = env!("CARGO_BIN_EXE_log-gardener");
    let dir = tempfile::tempdir().unwrap();
    let synth = Command::new(bin)
        .args(["synth", "--hours", "24", "--jsonl", "--incidents"])
        .output()
        .unwrap();
    assert!(synth.status.success());
    let export = dir.path().join("export.jsonl");
    std::fs::write(&export, &synth.stdout).unwrap();
    let whole = dir.path().join("whole");
    let ran = Command::new(bin)
        .env_remove("RUST_LOG")
        .arg("replay")
        .arg(&export)
        .arg("--out")
        .arg(&whole)
        .output()
        .unwrap();
    assert!(ran.status.success());
    let expected = reported(&whole);
    assert!(expected.0 > 5000, "a day of entries: {expected:?}");
    for signal in ["INT", "TERM"] {
        let out = dir.path().join(signal);
        let mut child = Command::new(bin)
            .env_remove("RUST_LOG")
            .args(["replay", "-", "--out"])
            .arg(&out)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&synth.stdout).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_secs(2));
        let started = Instant::now();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no exit after SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        drop(stdin);
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(130), "SIG{signal}: {stderr}");
        assert_eq!(
            reported(&out),
            expected,
            "SIG{signal}: what was read is written: {stderr}"
        );
    }
}

/// A stderr or stdout that cannot be written (`2>/dev/full`, a full disk) is no panic (exit
/// 101): a replay writes its worklogs all the same and exits 0, its WARNs and summary dropped;
/// a command whose product is stdout (`check-config`, `parse`, `synth`) exits 1.
#[cfg(target_os = "linux")]
#[test]
fn a_full_stderr_or_stdout_is_no_panic_and_the_worklogs_are_written() {
    use std::io::Write;
    use std::process::Stdio;
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    // Refused pieces, so there are WARNs to write as well as the summary.
    std::fs::write(
        &input,
        lines(&entries(0, 50))
            + "not json
{}
",
    )
    .unwrap();
    for (name, stdout, stderr) in [("stderr", false, true), ("both", true, true)] {
        let out = dir.path().join(name);
        let status = Command::new(env!("CARGO_BIN_EXE_log-gardener"))
            .env("RUST_LOG", "info")
            .arg("replay")
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .stdout(if stdout { full().into() } else { Stdio::null() })
            .stderr(if stderr { full().into() } else { Stdio::null() })
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(0), "replay, {name} full");
        assert_eq!(reported(&out), (50, 2), "replay, {name} full");
    }
    let config = dir.path().join("lg.toml");
    std::fs::write(&config, "[window]\nhop = \"15m\"\n").unwrap();
    let product = |args: &[&std::ffi::OsStr], stdin: &[u8]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_log-gardener"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(full())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let check = product(&["check-config".as_ref(), config.as_os_str()], b"");
    let parse = product(&["parse".as_ref()], b"user 42 logged in\n");
    let synth = product(&["synth".as_ref(), "--hours".as_ref(), "1".as_ref()], b"");
    for (name, (code, stderr)) in [("check-config", check), ("parse", parse), ("synth", synth)] {
        assert_eq!(code, Some(1), "{name}: {stderr}");
        assert!(stderr.contains("cannot write output"), "{name}: {stderr}");
    }
    // Both gone: still no panic, the same exit code.
    let status = Command::new(env!("CARGO_BIN_EXE_log-gardener"))
        .arg("check-config")
        .arg(&config)
        .stdout(full())
        .stderr(full())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "check-config, both full");
}

/// A chained Python traceback as Cloud Run writes it, one entry per stderr line, the empty
/// lines around the chain phrase included; two instances crash at once, their lines shuffled
/// together: one cluster per real problem, headed by the root cause, nothing else.
#[test]
fn chained_tracebacks_split_per_line_with_blank_lines_are_one_cluster() {
    let tb = [
        "Traceback (most recent call last):",
        "  File \"/app/db.py\", line 42, in connect",
        "    conn = pool.get(timeout=30)",
        "TimeoutError: QueuePool limit of size 5 overflow 10 reached",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        "  File \"/app/main.py\", line 10, in handler",
        "sqlalchemy.exc.OperationalError: connection to server at \"10.1.2.3\" failed",
    ];
    let mut planted = Vec::new();
    for crash in 0..20u32 {
        for instance in ["a1b2c3", "d4e5f6"] {
            for (i, line) in tb.iter().enumerate() {
                let micros =
                    crash * 60_000_000 + u32::from(instance == "d4e5f6") * 400 + i as u32 * 30;
                let at = chrono::DateTime::from_timestamp(1_757_962_800, 0).unwrap()
                    + chrono::TimeDelta::microseconds(micros.into());
                let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                planted.push(json!({"timestamp": at, "severity": "ERROR",
                    "insertId": format!("{instance}-{crash}-{i:02}"), "textPayload": line,
                    "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
                    "labels": {"instanceId": instance},
                    "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}}}));
            }
        }
    }
    // A fixed shuffle: newest first, then every third line moved to the front.
    planted.reverse();
    let (front, rest): (Vec<_>, Vec<_>) = planted
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 3 == 0);
    let shuffled: Vec<Value> = front.into_iter().chain(rest).map(|(_, v)| v).collect();
    let r = replay("chained.jsonl", lines(&shuffled).as_bytes());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.counted, 40, "one entry per traceback: {}", r.stderr);
    assert_eq!(r.clusters.len(), 1, "{:?}", r.clusters);
    let (template, count) = &r.clusters[0];
    assert_eq!(*count, 40);
    assert!(
        template.starts_with("TimeoutError: QueuePool limit")
            && template.contains("sqlalchemy.exc.OperationalError"),
        "headed by the root cause, the chain after it: {template}"
    );
}

/// `replay` of a small valid input with `--config config` and `env`: its exit code and stderr.
fn replay_config(config: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, lines(&entries(0, 3))).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_log-gardener"))
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .arg("replay")
        .arg(&input)
        .arg("--config")
        .arg(config)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A configuration that cannot work stops at startup with exit 2 and one line naming the file,
/// or the key and where its value was set.
#[test]
fn hostile_configuration_exits_2_naming_the_file_or_the_key_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = replay_config(dir.path(), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot read the configuration file {}: it is a directory",
            dir.path().display()
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // A variable that breaks a check of a default's is named.
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "").unwrap();
    let (code, stderr) = replay_config(&config, &[("LOG_GARDENER__WINDOW__HOP", "7s")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "window.bucket (from the built-in defaults): must divide window.hop; window.hop is \
             from environment variable LOG_GARDENER__WINDOW__HOP"
        ),
        "{stderr}"
    );
    // A quoted number in a file is no number (the environment's "5" is one).
    let config = dir.path().join("lg.toml");
    std::fs::write(&config, "[window]\nhistory = \"5\"\n").unwrap();
    let (code, stderr) = replay_config(&config, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    let said = format!(
        "window.history (from {}): invalid type: string \"5\", expected an integer",
        config.display()
    );
    assert!(stderr.contains(&said), "{stderr}");
    std::fs::write(&config, "").unwrap();
    let (code, stderr) = replay_config(&config, &[("LOG_GARDENER__WINDOW__HISTORY", "5")]);
    assert_eq!(code, Some(0), "{stderr}");
    // A variable that makes a table of an unknown section or of a value, or a string of a
    // list or a table, is named (not "the built-in defaults", not no key at all).
    for (var, value, said) in [
        ("LOG_GARDENER__NOPE__X", "1", "nope (from environment variable LOG_GARDENER__NOPE__X): unknown key"),
        (
            "LOG_GARDENER__WINDOW__HOP__X",
            "1",
            "window.hop (from environment variable LOG_GARDENER__WINDOW__HOP__X): invalid type: a table",
        ),
        (
            "LOG_GARDENER__ESCALATION__COUNT",
            "5",
            "escalation.count (from environment variable LOG_GARDENER__ESCALATION__COUNT): invalid type: string \"5\", expected an array",
        ),
        (
            "LOG_GARDENER__ESCALATION__SPIKE",
            "4",
            "escalation.spike (from environment variable LOG_GARDENER__ESCALATION__SPIKE): invalid type: string \"4\", expected a table",
        ),
        ("LOG_GARDENER__RULES", "x", "rules (from environment variable LOG_GARDENER__RULES): invalid type"),
    ] {
        let (code, stderr) = replay_config(&config, &[(var, value)]);
        assert_eq!(code, Some(2), "{var}: {stderr}");
        assert!(stderr.contains(said), "{var}: {said} in {stderr}");
    }
    // A number no integer or double holds: the key, not only the file.
    for (text, said) in [
        (
            "[window]\nhistory = 99999999999999999999\n",
            "window.history",
        ),
        (
            "[escalation]\nspike = { factor = 1e309, min_count = 20, raise = 1 }\n",
            "escalation.spike.factor",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let (code, stderr) = replay_config(&config, &[]);
        assert_eq!(code, Some(2), "{stderr}");
        let said = format!("{said} (from {}): ", config.display());
        assert!(stderr.contains(&said), "{said} in {stderr}");
    }
    // A rule's field past its type's range: the key with its dot.
    std::fs::write(
        &config,
        "[[rules]]\nname = \"r\"\nmessage = \"x\"\nadjust = -99999999999\n",
    )
    .unwrap();
    let (code, stderr) = replay_config(&config, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    let said = format!("rules[0].adjust (from {}): invalid type", config.display());
    assert!(stderr.contains(&said), "{stderr}");
}

/// Compressed data after text (`cat export.json more.json.gz`, a `.gz` appended): it was read
/// as lines of binary pieces, reported as `not_json`, and exit 0 with no word of what they
/// were. Now the entries before it are counted and written, and exit 3 with one line naming
/// the format, where it starts and the command that reads the rest — read whole, sliced or
/// piped.
#[test]
fn compressed_data_after_text_exits_3_saying_where_and_how_to_read_the_rest() {
    let mut gzip = vec![0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03];
    gzip.extend(array(&entries(10, 3)).bytes().map(|b| b ^ 0x5A));
    let zstd = b"\x28\xB5\x2F\xFD\x04\x58\x0A\x00rest".to_vec();
    for (name, head, tail, command) in [
        (
            "array-gz",
            format!("{}\n", array(&entries(0, 3))),
            &gzip,
            "gunzip -c",
        ),
        ("lines-zst", lines(&entries(0, 3)), &zstd, "zstd -dc"),
        ("blank-gz", "\u{feff}\n\n".to_owned(), &gzip, "gunzip -c"),
    ] {
        let mut input = head.clone().into_bytes();
        input.extend_from_slice(tail);
        let byte = head.len();
        let line = head.matches('\n').count() + 1;
        let planted = if head.contains('{') { 3 } else { 0 };
        let sliced = &[("LOG_GARDENER__INPUT__SLICE_BYTES", "1024")][..];
        for (env, piped) in [(&[][..], false), (sliced, false), (sliced, true)] {
            let r = replay_with(name, &input, env, piped);
            let case = format!("{name} {env:?} piped {piped}: {}", r.stderr);
            assert_eq!(r.code, Some(3), "{case}");
            assert_eq!(r.stderr.lines().count(), 1, "{case}");
            let file = if piped {
                "FILE".to_owned()
            } else {
                String::new()
            };
            for said in [
                format!("-compressed data from line {line} (byte {byte}) on"),
                format!("`tail -c +{} {file}", byte + 1),
                format!(" | {command} | log-gardener replay -`"),
            ] {
                assert!(r.stderr.contains(&said), "{said} in {case}");
            }
            let counted: u64 = r.clusters.iter().map(|(_, n)| n).sum();
            assert_eq!(counted, planted, "{case}");
        }
    }
}

/// A field under its camelCase and its snake_case name both (the Python client's dump merged
/// with the API's form), at the top level or within `httpRequest`, and a key repeated within
/// `httpRequest` or `resource`: each entry was refused (`not_log_entry`, a duplicate field) or
/// lost its `httpRequest`; now counted, the camelCase one read, and the summary says how many
/// entries were read repaired, as `json_repaired`.
#[test]
fn camel_and_snake_case_twins_are_counted_and_the_summary_names_json_repaired() {
    let mut input = String::new();
    for (i, twin) in [
        r#""insert_id": "snake""#,
        r#""text_payload": "snake""#,
        r#""receive_timestamp": "2025-09-15T19:00:09Z", "received_timestamp": "x""#,
        r#""log_name": "projects/p/logs/snake""#,
        r#""httpRequest": {"requestMethod": "GET", "request_method": "PUT", "status": 500, "status": 502}"#,
        r#""resource": {"type": "x", "type": "cloud_run_revision"}"#,
    ]
    .iter()
    .enumerate()
    {
        let mut e = entry(i as u32);
        e["logName"] = json!("projects/p/logs/camel");
        let e = e.to_string();
        input += &format!("{{{twin}, {}\n", &e[1..]);
    }
    accounted("twins.jsonl", &input, 6, 0);
    let r = replay("twins.jsonl", input.as_bytes());
    assert!(
        r.stderr.contains(
            "6 entries had an unusable optional field or were read from repaired JSON (6 \
             json_repaired, see `field_warnings` in the worklog)"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.clusters.iter().all(|(t, _)| !t.contains("snake")),
        "{:?}",
        r.clusters
    );
}

/// `check-config FILE` with `env`: exit code, stderr, and how long it took.
fn check_config(config: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_log-gardener"))
        .env_remove("RUST_LOG")
        .env_remove("GITHUB_TOKEN")
        .envs(env.iter().copied())
        .arg("check-config")
        .arg(config)
        .output()
        .unwrap();
    assert!(started.elapsed() < WALL, "{config:?} {env:?}");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A configuration of hostile sizes: a 100 KB line (a TOML syntax error, a value, a key) made an
/// error of 100 to 200 KB, the whole line quoted and underlined; now one short line naming the
/// key and the file or variable, the value cut with `…`. 10,000 Alertmanager URLs or count
/// tiers were accepted; a `--config` or `github.token_file` of `/dev/zero` read until memory
/// ran out. Each is exit 2 naming the key (or the file) and where it was set.
#[test]
fn configuration_of_hostile_sizes_exits_2_in_one_short_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lg.toml");
    // Under the 128 KiB a single environment variable may hold.
    let long = "x".repeat(100_000);
    let path = config.display().to_string();
    let urls = vec!["\"http://am:9093\""; 10_000].join(",");
    let env_urls = vec!["http://am:9093"; 5_000].join(",");
    let tiers = vec!["{ at_least = 5, raise = 1 }"; 17].join(",");
    for (text, env, said) in [
        (
            format!("[window]\nhop = \"1h\"\nhistory = 5 {long}\n"),
            None,
            format!("window.history (from {path}): not TOML at line 3, column 11: "),
        ),
        (
            format!("[window]\n{long} = 1\n"),
            None,
            format!("xxxxxxxxxx… (from {path}): unknown key"),
        ),
        (
            format!("[metrics]\nlisten = \"{long}\"\n"),
            None,
            format!("metrics.listen (from {path}): \"xxxxxxxxxx"),
        ),
        (
            String::new(),
            Some(("LOG_GARDENER__WINDOW__HISTORY", long.as_str())),
            "window.history (from environment variable LOG_GARDENER__WINDOW__HISTORY): invalid \
             type: string \"xxxxxxxxxx"
                .to_owned(),
        ),
        (
            String::new(),
            Some(("LOG_GARDENER__WINDOW__HOP", long.as_str())),
            "window.hop (from environment variable LOG_GARDENER__WINDOW__HOP): \"xxxxxxxxxx"
                .to_owned(),
        ),
        (
            format!("[alerts]\nalertmanager_urls = [{urls}]\n"),
            None,
            format!("alerts.alertmanager_urls (from {path}): 10000 URLs; at most 16"),
        ),
        (
            String::new(),
            Some(("LOG_GARDENER__ALERTS__ALERTMANAGER_URLS", env_urls.as_str())),
            "alerts.alertmanager_urls (from environment variable \
             LOG_GARDENER__ALERTS__ALERTMANAGER_URLS): 5000 URLs; at most 16"
                .to_owned(),
        ),
        (
            format!("[escalation]\ncount = [{tiers}]\n"),
            None,
            format!("escalation.count (from {path}): 17 tiers; at most 16"),
        ),
        (
            "[github]\nrepo = \"o/n\"\ntoken_file = \"/dev/zero\"\n".to_owned(),
            None,
            format!("github.token_file (from {path}): cannot read /dev/zero: larger than 64 KiB"),
        ),
    ] {
        std::fs::write(&config, &text).unwrap();
        let (code, stderr) = check_config(&config, &env.into_iter().collect::<Vec<_>>());
        let case = format!(
            "{}: {}",
            &said[..said.len().min(60)],
            &stderr[..stderr.len().min(600)]
        );
        assert_eq!(code, Some(2), "{case}");
        assert!(stderr.contains(&said), "{case}");
        assert_eq!(stderr.lines().count(), 1, "{case}");
        assert!(stderr.len() < 600, "{case}");
    }
    let (code, stderr) = check_config(Path::new("/dev/zero"), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("configuration file /dev/zero: larger than 16 MiB"),
        "{stderr}"
    );
}
