//! Properties of the fingerprint: masking is idempotent, messages that differ only in variable
//! values share a cluster, and fine ids are deterministic.

mod support;
use support::loghub;

use log_gardener::entry::SeverityClass;
use log_gardener::fingerprint::mask::mask;
use log_gardener::fingerprint::{FingerprintConfig, Fingerprinter, KeyParts};
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
    use log_gardener::fingerprint::{mask::Numbers, parse_lines, parse_lines_with};
    let mut statuses = 0;
    for name in loghub::DATASETS {
        let lines =
            loghub::contents(name).unwrap_or_else(|e| panic!("{name}: tests/data/loghub-2k: {e}"));
        // The service keeps HTTP statuses that `parse` (Loghub's convention) writes as `<*>`.
        let batch = parse_lines_with(lines.iter().map(String::as_str), Numbers::KeepStatus);
        let loghub = parse_lines(lines.iter().map(String::as_str));
        statuses += batch
            .iter()
            .zip(&loghub)
            .filter(|(s, l)| s.1 != l.1)
            .count();
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
    assert!(
        statuses > 0,
        "the service keeps statuses Loghub's convention masks"
    );
}

/// Templates drawn from a small vocabulary so that many are compatible, share word slots or
/// differ only in how many variables they carry: the relations mining depends on.
fn template_set() -> impl Strategy<Value = Vec<String>> {
    let word = prop_oneof![
        Just("session"),
        Just("closed"),
        Just("opened"),
        Just("for"),
        Just("user"),
        Just("cyrus"),
        Just("news"),
        Just("test"),
        Just("bob"),
        Just("<*>"),
        Just("<*>:<*>"),
        Just("u7"),
        Just("x9"),
        Just("RUNNING"),
        Just("DONE"),
        Just("(<*>)"),
        Just("KB"),
        Just("rhost=<*>"),
        Just("rhost=zummit.com"),
        Just("delete"),
    ];
    let template = proptest::collection::vec(word, 1..7).prop_map(|w| w.join(" "));
    proptest::collection::btree_set(template, 1..40).prop_map(|s| s.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn shuffled_inputs_give_identical_templates_and_ids(
        set in template_set(),
        seed in any::<u64>(),
    ) {
        // The same set of messages in another order: every message's final cluster id and
        // template are the same.
        let mut shuffled = set.clone();
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            shuffled.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let resolve_all = |order: &[String]| {
            let fp = Fingerprinter::new();
            for m in order {
                fp.fingerprint(&KEY, m);
            }
            set.iter()
                .map(|m| fp.resolve(fp.fingerprint(&KEY, m)))
                .collect::<Vec<_>>()
        };
        let a = resolve_all(&set);
        prop_assert_eq!(&a, &resolve_all(&shuffled));
        // And the batch of `log-gardener parse`, in the shuffled order, agrees with a
        // streaming fingerprinter fed the original order.
        let batch = log_gardener::fingerprint::parse_lines(shuffled.iter().map(String::as_str));
        let fp = Fingerprinter::new();
        for m in &set {
            fp.fingerprint(&KeyParts::DEFAULT, m);
        }
        for (m, (id, template)) in shuffled.iter().zip(batch) {
            let got = fp.resolve(fp.fingerprint(&KeyParts::DEFAULT, m));
            prop_assert_eq!(got, Some(log_gardener::fingerprint::Resolved { id, template }));
        }
    }
}

/// A 40,000-word message (about 300 KB) used to take memory quadratic in its words; now only
/// its first `max_tokens` tokens count, so the work is bounded whatever its length.
#[test]
fn a_40000_word_message_is_cut_at_max_tokens() {
    // Distinct plain words (`kaaa`, `kaab`, ...): none is masked.
    let word = |mut i: usize| {
        let mut w = String::from("k");
        for _ in 0..4 {
            w.push((b'a' + (i % 26) as u8) as char);
            i /= 26;
        }
        w
    };
    let words: Vec<String> = (0..40_000).map(word).collect();
    let message = words.join(" ");
    let config = FingerprintConfig::default();
    let fp = Fingerprinter::with_config(config);
    let id = fp.fingerprint(&KEY, &message);
    let resolved = fp.resolve(id).map(|r| r.template).unwrap_or_default();
    let tokens: Vec<&str> = resolved.split(' ').collect();
    assert_eq!(tokens.len(), config.max_tokens + 1);
    assert_eq!(
        tokens[..config.max_tokens],
        words[..config.max_tokens]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()[..]
    );
    assert_eq!(tokens.last(), Some(&"<*>"));
    // Another message agreeing on the first 128 tokens is the same event, the same fine id.
    let other = format!("{} tail differs", words[..200].join(" "));
    assert_eq!(fp.fingerprint(&KEY, &other), id);
    // The exported state holds the cut template only.
    let state = fp.export();
    assert_eq!(state.families[0].templates, vec![resolved.clone()]);
    // A smaller cap cuts earlier.
    let small = Fingerprinter::with_config(FingerprintConfig {
        max_tokens: 16,
        ..config
    });
    let t = small
        .resolve(small.fingerprint(&KEY, &message))
        .map(|r| r.template);
    assert_eq!(t.map(|t| t.split(' ').count()), Some(17));
}

/// Many distinct messages under one key, more than a key stores: every one keeps an id that
/// resolves (none is dropped), the stored set stops at the bound, and ids are stable across an
/// export and restore.
#[test]
fn past_the_template_bound_nothing_is_dropped() {
    let config = FingerprintConfig {
        max_templates_per_key: 50,
        ..FingerprintConfig::default()
    };
    let fp = Fingerprinter::with_config(config);
    let vocab = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    ];
    let messages: Vec<String> = (0..400)
        .map(|i| {
            let w = |k: usize| vocab[(i / 8usize.pow(k as u32)) % 8];
            format!("{} {} {} done", w(0), w(1), w(2))
        })
        .collect();
    let ids: Vec<_> = messages.iter().map(|m| fp.fingerprint(&KEY, m)).collect();
    let state = fp.export();
    assert_eq!(state.families[0].templates.len(), 50);
    for (m, id) in messages.iter().zip(&ids) {
        let r = fp.resolve(*id);
        assert!(r.is_some(), "{m} resolves");
    }
    let back = Fingerprinter::from_state_with_config(state, config);
    for (m, id) in messages.iter().zip(&ids) {
        assert_eq!(back.fingerprint(&KEY, m), *id);
        assert_eq!(back.resolve(*id), fp.resolve(*id), "{m}");
    }
}

/// Proptest finds: the path mask turned `/a` into `<*>`, and the `user:pass@host` rule then
/// read `[<*>{a` as a password on the second pass (a mask's `<*>` is never a password), or a
/// user name right after a `<*>` (`@0+:a@a` → `@<*>+:a@a`); a Windows path mask made a quoted
/// value (`"A:A:/a"A"` → `"A:<*>"`, not read again as one value).
#[test]
fn a_mask_inside_a_dsn_shape_is_masked_once() {
    for s in [
        "a:[/a{a@a",
        "redis://u:x/y@cache:6379",
        "pW:\\0{a",
        "@0+:a@a",
        "0*>A:A@A",
        "\"A:A:/a\"A\"",
    ] {
        let once = mask(s);
        assert_eq!(mask(&once), once, "{s}");
    }
}
