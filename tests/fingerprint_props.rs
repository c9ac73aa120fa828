//! Properties of the fingerprint: masking is idempotent, messages that differ only in variable
//! values share a cluster, and fine ids are deterministic.

mod support;
use support::loghub;

use log_gardener::entry::SeverityClass;
use log_gardener::fingerprint::mask::mask;
use log_gardener::fingerprint::{Fingerprinter, KeyParts};
use proptest::prelude::*;

const KEY: KeyParts<'static> = KeyParts {
    service: "svc",
    class: SeverityClass::Error,
    location: "mod.fn",
};

/// A variable value of one of the typed kinds, rendered as it appears in logs.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i32>().prop_map(|n| n.to_string()),
        (0u32..1000, 0u32..10).prop_map(|(a, b)| format!("{a}.{b}s")),
        (1u32..100_000).prop_map(|n| format!("{n}ms")),
        any::<u32>().prop_map(|n| format!("0x{n:x}")),
        any::<u128>().prop_map(uuid),
        any::<[u8; 4]>().prop_map(|[a, b, c, d]| format!("{a}.{b}.{c}.{d}")),
        (any::<[u8; 4]>(), 1u16..).prop_map(|([a, b, c, d], p)| format!("{a}.{b}.{c}.{d}:{p}")),
        ("[a-z]{2,8}", "[a-z]{2,8}", 1u16..).prop_map(|(h, d, p)| format!("{h}.{d}.com:{p}")),
        ("[a-z]{1,8}", "[a-z]{2,8}").prop_map(|(u, d)| format!("{u}.x@{d}.org")),
        ("[a-z]{2,8}", "[a-z0-9/_]{0,16}").prop_map(|(h, p)| format!("https://{h}.io/{p}")),
        "(/[a-z0-9_.]{1,8}){1,5}",
        (1970u32..2100, 1u32..13, 1u32..29, 0u32..24, 0u32..60)
            .prop_map(|(y, mo, d, h, mi)| format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:07.25Z")),
        "'[a-zA-Z0-9_]{1,12}'",
        ("[a-z]{2,6}", any::<u32>()).prop_map(|(w, n)| format!("{w}_{n:08x}")),
        (1u32..1000).prop_map(|n| format!("demo-user-{n:03}")),
        any::<i64>().prop_map(|n| format!("blk_{n}")),
    ]
}

fn uuid(n: u128) -> String {
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Sentences with one slot per value; the slot text is replaced in order.
const SENTENCES: [&str; 4] = [
    "Took {} to process request {} from {}",
    "user {} failed to open {} (attempt {})",
    "connection to {} closed after {}, {} bytes sent",
    "job {} finished: status={} elapsed={}",
];

fn fill(sentence: &str, values: &[String]) -> String {
    let mut out = String::new();
    for (i, part) in sentence.split("{}").enumerate() {
        if i > 0 {
            out.push_str(values.get(i - 1).map(String::as_str).unwrap_or("0"));
        }
        out.push_str(part);
    }
    out
}

proptest! {
    #[test]
    fn masking_is_idempotent(s in "[ -~]{0,80}") {
        let once = mask(&s);
        prop_assert_eq!(mask(&once), once.clone());
    }

    #[test]
    fn masking_typed_values_is_idempotent(v in value(), w in value()) {
        let s = format!("x {v} y={w}, z");
        let once = mask(&s);
        prop_assert_eq!(mask(&once), once.clone());
    }

    #[test]
    fn variable_values_share_a_cluster(
        which in 0..SENTENCES.len(),
        kinds in proptest::collection::vec(value(), 3),
        seeds in proptest::collection::vec(any::<u32>(), 3),
    ) {
        // Same sentence, same kind of value per slot, different values.
        let a = fill(SENTENCES[which], &kinds);
        let other: Vec<String> = kinds.iter().zip(&seeds).map(|(v, s)| revalue(v, *s)).collect();
        let b = fill(SENTENCES[which], &other);
        let fp = Fingerprinter::new();
        let (ia, ib) = (fp.fingerprint(&KEY, &a), fp.fingerprint(&KEY, &b));
        let (ra, rb) = (fp.resolve(ia), fp.resolve(ib));
        prop_assert!(ra.is_some());
        prop_assert_eq!(ra.map(|r| r.id), rb.map(|r| r.id), "{} | {}", a, b);
    }

    #[test]
    fn parse_lines_gives_one_result_per_line(lines in proptest::collection::vec("\\PC{0,30}( \\PC{0,10}){0,3}", 0..12)) {
        // Arbitrary Unicode, similar lines included: mining must never panic or drop a line.
        let mut all = lines.clone();
        all.extend(lines.iter().map(|l| format!("{l} 42")));
        let out = log_gardener::fingerprint::parse_lines(all.iter().map(String::as_str));
        prop_assert_eq!(out.len(), all.len());
    }

    #[test]
    fn fine_ids_are_deterministic(s in "[ -~]{0,80}") {
        let one = Fingerprinter::new().fingerprint(&KEY, &s);
        let two = Fingerprinter::new().fingerprint(&KEY, &s);
        prop_assert_eq!(one, two);
        prop_assert_eq!(one, KEY.id_of(&mask(&s)));
    }
}

/// The same kind of value with other digits: every digit shifted by `seed`, every lower-case
/// letter too, so structure (length, punctuation, position of letters) is kept.
fn revalue(v: &str, seed: u32) -> String {
    let shift = (seed % 9 + 1) as u8;
    let quoted = v.starts_with('\'');
    v.bytes()
        .enumerate()
        .map(|(i, c)| match c {
            b'0'..=b'9' if !(i == 0 && c == b'0') => b'0' + (c - b'0' + shift) % 10,
            b'a'..=b'z' if quoted => b'a' + (c - b'a' + shift) % 26,
            _ => c,
        } as char)
        .collect()
}

#[test]
fn streaming_matches_batch_in_any_order() {
    for name in loghub::DATASETS {
        let lines =
            loghub::contents(name).unwrap_or_else(|e| panic!("{name}: tests/data/loghub-2k: {e}"));
        let batch = log_gardener::fingerprint::parse_lines(lines.iter().map(String::as_str));
        let key = KeyParts::DEFAULT;
        for reversed in [false, true] {
            let fp = Fingerprinter::new();
            let order: Vec<&String> = if reversed {
                lines.iter().rev().collect()
            } else {
                lines.iter().collect()
            };
            for line in order {
                fp.fingerprint(&key, line);
            }
            for (line, (id, template)) in lines.iter().zip(&batch) {
                let resolved = fp.resolve(fp.fingerprint(&key, line));
                assert_eq!(
                    resolved.map(|r| (r.id, r.template)),
                    Some((*id, template.clone())),
                    "{name}: {line}"
                );
            }
        }
    }
}
