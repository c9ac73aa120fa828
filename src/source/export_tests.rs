//! The export reader on every shape an input arrives in, read through a tiny buffer so that
//! chunk boundaries fall everywhere.

use std::io::BufReader;

use super::*;

/// (line, text) of each entry, or (line, "!reason") of each unreadable piece.
fn read_with(input: &[u8], max: usize, buf: usize) -> Result<Vec<(u64, String)>, ReadError> {
    let mut r = ExportReader::new(BufReader::with_capacity(buf, input), max);
    let mut out = Vec::new();
    while let Some(item) = r.next_item()? {
        out.push(match item {
            Item::Entry { data, line } => (line, String::from_utf8_lossy(&data).into_owned()),
            Item::Unreadable { line, reason, .. } => (line, format!("!{reason}")),
        });
    }
    Ok(out)
}

fn read(input: &str) -> Vec<(u64, String)> {
    let small = read_with(input.as_bytes(), 1 << 20, 3).unwrap();
    let large = read_with(input.as_bytes(), 1 << 20, 1 << 16).unwrap();
    assert_eq!(small, large, "the buffer size changes nothing");
    small
}

fn texts(input: &str) -> Vec<String> {
    read(input).into_iter().map(|(_, t)| t).collect()
}

#[test]
fn pretty_printed_array_elements_with_their_lines() {
    let data =
        "[\n  {\n    \"a\": \"x}],{\\\"\",\n    \"b\": [1, {\"c\": 2}]\n  },\n  {\"d\": 1}\n]\n";
    let got = read(data);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, 2);
    let v: serde_json::Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(v["a"], "x}],{\"");
    assert_eq!(got[1], (6, "{\"d\": 1}".into()));
}

#[test]
fn json_lines_skip_blank_lines_and_keep_numbers() {
    let got = read("{\"a\":1}\n\n  {\"b\":2}  \r\nnot json\n");
    assert_eq!(
        got,
        vec![
            (1, "{\"a\":1}".into()),
            (3, "{\"b\":2}".into()),
            (4, "not json".into())
        ]
    );
}

#[test]
fn concatenated_arrays_array_then_lines_and_stray_brackets_lose_nothing() {
    assert_eq!(texts("[{\"a\":1}][{\"b\":2}]"), ["{\"a\":1}", "{\"b\":2}"]);
    assert_eq!(
        texts("[\n{\"a\":1}\n]\n[\n{\"b\":2}\n]\n"),
        ["{\"a\":1}", "{\"b\":2}"]
    );
    assert_eq!(
        texts("[{\"a\":1},\n{\"b\":2}]\n{\"c\":3}\n{\"d\":4}\n"),
        ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}", "{\"d\":4}"]
    );
    assert_eq!(
        texts("[{\"a\":1}]\n]\n,\n{\"b\":2}\n"),
        ["{\"a\":1}", "{\"b\":2}"]
    );
    assert_eq!(
        texts("[[{\"a\":1}],[{\"b\":2}]]"),
        ["{\"a\":1}", "{\"b\":2}"]
    );
    assert_eq!(
        texts("\u{feff}[{\"a\":1}]\u{feff}[{\"b\":2}]"),
        ["{\"a\":1}", "{\"b\":2}"]
    );
}

#[test]
fn wrappers_and_api_pages_yield_their_entries() {
    assert_eq!(
        texts("{\"entries\": [{\"a\":1}, {\"b\":[2]}]}"),
        ["{\"a\":1}", "{\"b\":[2]}"]
    );
    let pages = "{\n  \"entries\": [\n    {\"a\":1}\n  ],\n  \"nextPageToken\": \"t]}{\"\n}\n{\"entries\":[{\"b\":2}]}\n{\"c\":3}\n";
    assert_eq!(texts(pages), ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
    assert_eq!(
        texts("[{\"nextPageToken\":\"x\",\"entries\":[{\"a\":1}]},{\"b\":2}]"),
        ["{\"a\":1}", "{\"b\":2}"]
    );
    // NUL bytes between entries (a crashed writer's padding) separate them like whitespace.
    assert_eq!(
        texts("{\"a\":1}\0{\"b\":2}\0\0\0\n\0{\"c\":3}"),
        ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]
    );
    // A repeated `entries` key: both arrays are read.
    assert_eq!(
        texts("{\"entries\":[{\"a\":1}],\"nextPageToken\":\"t\",\"entries\":[{\"b\":2},{\"c\":3}]}\n{\"d\":4}"),
        ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}", "{\"d\":4}"]
    );
    // A key that merely starts like `entries`, or `entries` inside an entry, is no wrapper.
    assert_eq!(texts("{\"entriesX\":[1]}"), ["{\"entriesX\":[1]}"]);
    assert_eq!(
        texts("{\"j\":{\"entries\":[1]}}"),
        ["{\"j\":{\"entries\":[1]}}"]
    );
    assert_eq!(
        texts("{\"entries\":1,\"x\":[2]}"),
        ["{\"entries\":1,\"x\":[2]}"]
    );
    // Nor the array of a long or escaped key after a scalar `entries`.
    for key in ["a_key_longer_than_any_looked_for", "x\\u0041"] {
        let input = format!("{{\"entries\":1,\"{key}\":[2]}}");
        assert_eq!(texts(&input), [input]);
    }
}

/// An entry that also holds `entries` (a time or a payload of its own, before or after the
/// array): its entries are read and its own fields reported once on its line, not dropped
/// unsaid. A page's own keys (`nextPageToken`, a key merely like one) are not an entry's.
#[test]
fn a_wrapper_with_fields_of_an_entry_is_reported_once() {
    for input in [
        "\n{\"timestamp\":\"t\",\"entries\":[{\"a\":1}],\"x\":[2]}\n{\"b\":2}",
        "\n{\"entries\":[{\"a\":1}],\"text_payload\":\"x\"}\n{\"b\":2}",
        "\n{\"jsonPayload\":{},\"entries\":[{\"a\":1}],\"entries\":[]}\n{\"b\":2}",
    ] {
        assert_eq!(
            read(input),
            [
                (2, "{\"a\":1}".to_owned()),
                (2, "!not_log_entry".to_owned()),
                (3, "{\"b\":2}".to_owned())
            ],
            "{input}"
        );
    }
    for input in [
        "{\"nextPageToken\":\"t\",\"entries\":[{\"a\":1}]}",
        "{\"timestampX\":1,\"entries\":[{\"a\":1}],\"j\":{\"timestamp\":1}}",
    ] {
        assert_eq!(texts(input), ["{\"a\":1}"], "{input}");
    }
    // Text before a wrapper is reported, not lost: the wrapper shows the input is an export.
    assert_eq!(
        read("oops\n{\"entries\":[]}"),
        [(1, "!not_json".to_owned())]
    );
}

#[test]
fn odd_array_content_is_passed_on_not_dropped() {
    assert_eq!(
        texts("[1, \"x,]\", {\"a\":1}, true]"),
        ["!not_log_entry", "!not_log_entry", "{\"a\":1}", "true"]
    );
    assert!(texts("[]").is_empty());
    assert!(texts("").is_empty());
    assert!(texts(" \n\t\r\n").is_empty());
    let truncated = read("[{\"a\":1},{\"a\": \"unterminated");
    assert_eq!(
        truncated.len(),
        2,
        "a truncated export still yields its piece"
    );
    assert_eq!(truncated[1].1, "{\"a\": \"unterminated");
}

#[test]
fn a_torn_line_ends_its_piece_instead_of_swallowing_the_rest() {
    // Torn inside a string, and torn between fields.
    assert_eq!(
        texts("{\"a\":\"cut\n{\"b\":1}\n{\"c\":2,\n{\"d\":3}\n"),
        ["{\"a\":\"cut", "{\"b\":1}", "{\"c\":2,", "{\"d\":3}"]
    );
    // Torn inside an array, and after a key: an unindented `{` starts a new line.
    assert_eq!(
        texts("{\"a\":[\n{\"b\":1}\n{\"c\":\n{\"d\":2}\n"),
        ["{\"a\":[", "{\"b\":1}", "{\"c\":", "{\"d\":2}"]
    );
    // A value on the line after its key, or objects in an array, indented: not a tear.
    assert_eq!(
        texts("{\"a\":\n  {\"b\":1}\n}"),
        ["{\"a\":\n  {\"b\":1}\n}"]
    );
    // Printed without indentation (Python's `indent=0`): nested objects at the start of their
    // lines, after lines of the entry's own.
    assert_eq!(
        texts("[\n{\n\"a\": [\n{\n\"b\": 1\n}\n]\n}\n]"),
        ["{\n\"a\": [\n{\n\"b\": 1\n}\n]\n}"]
    );
    assert_eq!(
        texts("[\n{\"a\": [\n\t{\"b\": 1},\r\n  {\"c\": 2}\n]}\n]"),
        ["{\"a\": [\n\t{\"b\": 1},\r\n  {\"c\": 2}\n]}"]
    );
}

#[test]
fn an_over_long_piece_is_skipped_unbuffered_and_reported_with_its_line() {
    let big = format!(
        "[\n{{\"a\":1}},\n{{\"t\":\"{}\"}},\n{{\"b\":2}}]",
        "x".repeat(5000)
    );
    let got = read_with(big.as_bytes(), 1000, 64).unwrap();
    assert_eq!(
        got,
        vec![
            (2, "{\"a\":1}".into()),
            (3, "!too_large".into()),
            (4, "{\"b\":2}".into())
        ]
    );
    let line = format!("{}\n{{\"b\":2}}\n", "y".repeat(5000));
    let got = read_with(line.as_bytes(), 1000, 64).unwrap();
    assert_eq!(got, vec![(1, "!too_large".into()), (2, "{\"b\":2}".into())]);
}

#[test]
fn nothing_json_is_unrecognised_but_text_before_json_is_reported() {
    let yaml = "---\ninsertId: abc\nlogName: projects/p/logs/x\n";
    match read_with(yaml.as_bytes(), 1 << 20, 64) {
        Err(ReadError::Unrecognised { pieces, line, .. }) => assert_eq!((pieces, line), (3, 1)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        read_with(b"[1,2,3]", 1 << 20, 64),
        Err(ReadError::Unrecognised { .. })
    ));
    assert_eq!(
        read("banner line\n{\"a\":1}\n"),
        vec![(1, "!not_json".into()), (2, "{\"a\":1}".into())]
    );
}

#[test]
fn a_long_text_log_stops_at_the_sniff_limit_without_holding_it() {
    let text = "INFO something happened\n".repeat(SNIFF_PIECES + 5);
    assert!(matches!(
        read_with(text.as_bytes(), 1 << 20, 1 << 16),
        Err(ReadError::Unrecognised {
            pieces: SNIFF_PIECES,
            ..
        })
    ));
}

#[test]
fn hostile_nesting_costs_no_stack_and_bounded_memory() {
    let deep = format!(
        "{}{}\n{{\"a\":1}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let got = read_with(deep.as_bytes(), 1000, 1 << 16).unwrap();
    assert_eq!(got.last().unwrap().1, "{\"a\":1}");
    let objects = format!(
        "{}{}\n{{\"a\":1}}",
        "{\"k\":".repeat(100_000),
        "}".repeat(100_000)
    );
    let got = read_with(objects.as_bytes(), 1000, 1 << 16).unwrap();
    assert_eq!(got, vec![(1, "!too_large".into()), (2, "{\"a\":1}".into())]);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A LogEntry-like object whose strings hold the characters that trip a scanner.
    fn object() -> impl Strategy<Value = serde_json::Value> {
        let text = || proptest::string::string_regex(r#"[a-z\[\]{}",:\\\n é]{0,24}"#).unwrap();
        (text(), text(), 0u32..1000).prop_map(|(a, b, n)| {
            serde_json::json!({"textPayload": a, "labels": {"k": b, "entries": [n]}, "n": n})
        })
    }

    /// The same objects written as an array, JSON Lines, or API pages, glued together.
    fn layout(objs: &[serde_json::Value], shape: u8) -> String {
        let (half, rest) = objs.split_at(objs.len() / 2);
        let lines =
            |v: &[serde_json::Value]| -> String { v.iter().map(|o| format!("{o}\n")).collect() };
        let array = |v: &[serde_json::Value]| serde_json::to_string_pretty(v).unwrap();
        match shape % 4 {
            0 => array(objs),
            1 => format!("{}\n{}", array(half), lines(rest)),
            2 => format!(
                "{}{}",
                serde_json::json!({"entries": half, "nextPageToken": "p]"}),
                serde_json::json!({"entries": rest})
            ),
            _ => format!("\u{feff}{}]\n,{}", array(half), array(rest)),
        }
    }

    proptest! {
        #[test]
        fn every_entry_comes_back_in_every_layout(
            objs in proptest::collection::vec(object(), 1..12),
            shape in 0u8..4,
            buf in 1usize..64,
        ) {
            let text = layout(&objs, shape);
            let got = read_with(text.as_bytes(), 1 << 20, buf).unwrap();
            let back: Vec<serde_json::Value> = got
                .iter()
                .map(|(_, t)| serde_json::from_str(t).unwrap())
                .collect();
            prop_assert_eq!(back, objs);
        }

        #[test]
        fn any_bytes_end_without_panic_and_in_bounded_pieces(
            bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            let mut r = ExportReader::new(&bytes[..], 64);
            let mut n = 0;
            while let Ok(Some(item)) = r.next_item() {
                if let Item::Entry { data, .. } = item {
                    prop_assert!(data.len() <= 64);
                }
                n += 1;
                prop_assert!(n <= bytes.len() + 1);
            }
        }
    }
}

#[test]
fn an_input_of_nuls_or_stray_separators_is_nothing_readable_a_blank_one_is_empty() {
    for input in [
        &b"\0\0\0\0"[..],
        b"\0\n\0\n",
        b",,,",
        b"]]\n",
        b"\xEF\xBB\xBF\0",
    ] {
        for buf in [3, 1 << 16] {
            match read_with(input, 1 << 20, buf) {
                Err(ReadError::Skipped { bytes }) => assert_eq!(bytes, input.len() as u64),
                other => panic!("{input:?}: {other:?}"),
            }
        }
    }
    for input in ["", " \n\t\r\n", "[]", "\0\0[]\0\0", "[\0]"] {
        assert!(read(input).is_empty(), "{input:?}");
    }
    assert_eq!(texts("\0\0{\"a\":1}\0\0"), ["{\"a\":1}"]);
}

#[test]
fn only_a_page_without_entries_is_taken_for_one() {
    for page in [
        r#"{"nextPageToken": "x"}"#,
        " {\n  \"entries\" : null, \"nextPageToken\": \"x\"}",
        r#"{"entries": null}"#,
    ] {
        assert!(empty_page(page.as_bytes()), "{page}");
    }
    for other in [
        r#"{"textPayload": "nextPageToken", "nextPageToken": "x"}"#,
        r#"{"nextPageToken": "x", "textPayload": "a"}"#,
        r#"{"entries": [], "x": 1}"#,
        r#"{"nextPageToken": 5}"#,
        "{}",
        "{",
    ] {
        assert!(!empty_page(other.as_bytes()), "{other}");
    }
}
