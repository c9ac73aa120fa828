//! Properties of secrets in the fingerprint and the redactor: a secret is a variable recognised
//! before masking, so its value never changes the cluster of the message around it and no
//! template holds one, even a constant one; redaction and masking are idempotent.

use log_gardener::entry::SeverityClass;
use log_gardener::fingerprint::{Fingerprinter, KeyParts};
use log_gardener::redact::{mask_secrets, redact, Inert};
use proptest::prelude::*;

const KEY: KeyParts<'static> = KeyParts {
    service: "svc",
    class: SeverityClass::Error,
    location: "mod.fn",
};

/// Where a secret goes: `{}` is its value; a vendor prefix before it is part of the secret.
#[derive(Debug, Clone, Copy)]
struct Hole(&'static str);

impl Hole {
    fn fill(self, value: &str) -> String {
        self.0.replace("{}", value)
    }

    /// The placement as masking should leave it: the whole token a variable.
    fn masked(self) -> String {
        let (before, after) = self.0.split_once("{}").unwrap();
        let keep = before
            .rfind([' ', '=', ':', '"', '/', '?'])
            .map_or(0, |i| i + 1);
        let keep = if before.contains("://") || before.starts_with("app:") {
            before.len()
        } else {
            keep
        };
        format!("{}<*>{after}", &before[..keep])
    }
}

/// A secret's placement with a hole for its value, and two values of the same shape.
fn secret() -> impl Strategy<Value = (Hole, String, String)> {
    fn two(
        hole: &'static str,
        s: impl Strategy<Value = String> + Clone,
    ) -> impl Strategy<Value = (Hole, String, String)> {
        (s.clone(), s).prop_map(move |(a, b)| (Hole(hole), a, b))
    }
    let mixed = "[a-z0-9]{3,10}[0-9A-Z][a-zA-Z0-9!$%^*+]{2,14}";
    let card = "[0-9]{14}".prop_map(|d| luhn(&format!("4{d}")));
    prop_oneof![
        two("password={}", mixed),
        two("token: {}", mixed),
        two("\"client_secret\": \"{}\"", mixed),
        two("X-Api-Key: {}", mixed),
        two("AWS_SECRET_ACCESS_KEY={}", mixed),
        two("postgres://app:{}@db.internal:5432/app", mixed),
        two("app:{}@tcp(db:3306)/app", mixed),
        two("Authorization: Bearer {}", "[A-Za-z0-9._-]{8,40}"),
        two("AKIA{}", "[A-Z0-9]{16}"),
        two("ghp_{}", "[A-Za-z0-9]{36}"),
        two("npm_{}", "[A-Za-z0-9]{36}"),
        two("sk_live_{}", "[A-Za-z0-9]{24}"),
        two("xoxb-{}", "[0-9]{10}-[A-Za-z0-9]{16}"),
        two("SG.{}", "[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}"),
        two(
            "eyJhbGciOiJIUzI1NiJ9.eyJ{}",
            "[A-Za-z0-9_-]{12,20}\\.[A-Za-z0-9_-]{20,40}"
        ),
        two("mail {}", "[a-z]{1,8}\\.q@[a-z]{2,8}\\.com"),
        two("GET /cb?code={}&state=1", "[A-Za-z0-9]{8,20}"),
        two("paid with {}", card),
    ]
}

/// `digits` with a Luhn check digit appended.
fn luhn(digits: &str) -> String {
    let sum: u32 = digits
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| match (i % 2 == 0, d * 2) {
            (true, dd) if dd > 9 => dd - 9,
            (true, dd) => dd,
            (false, _) => d,
        })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

fn pieces(secret: &str) -> Vec<String> {
    let c: Vec<char> = secret.chars().collect();
    c.windows(8.min(c.len()))
        .map(|w| w.iter().collect())
        .collect()
}

fn sentence(prefix: &[String], placed: &str, suffix: &[String]) -> String {
    format!("{} {placed} {}", prefix.join(" "), suffix.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_secret_never_changes_the_cluster_nor_enters_the_template(
        (hole, a, b) in secret(),
        prefix in proptest::collection::vec("[a-z]{3,9}", 1..4),
        suffix in proptest::collection::vec("[a-z]{3,9}", 0..3),
    ) {
        let (ma, mb) = (
            sentence(&prefix, &hole.fill(&a), &suffix),
            sentence(&prefix, &hole.fill(&b), &suffix),
        );
        let fp = Fingerprinter::new();
        let (ia, ib) = (fp.fingerprint(&KEY, &ma), fp.fingerprint(&KEY, &mb));
        prop_assert_eq!(ia, ib, "{} / {}", ma, mb);
        // Without secrets the surrounding words are what they were.
        let plain = sentence(&prefix, &hole.masked(), &suffix);
        prop_assert_eq!(fp.fingerprint(&KEY, &plain), ia, "{}", plain);
        let t = fp.resolve(ia).unwrap().template;
        for p in pieces(&a).iter().chain(&pieces(&b)) {
            prop_assert!(!t.contains(p.as_str()), "{} in template {}", p, t);
        }
    }

    #[test]
    fn redaction_masking_and_inert_are_idempotent(
        (hole, a, _b) in secret(),
        noise in "[ -~\u{200B}\u{202E}\u{1b}]{0,20}",
    ) {
        let text = format!("{noise} {} {noise}", hole.fill(&a));
        let once = redact(&text).into_owned();
        prop_assert_eq!(redact(&once).into_owned(), once.clone());
        let masked = mask_secrets(&text).into_owned();
        prop_assert_eq!(mask_secrets(&masked).into_owned(), masked.clone());
        let inert = Inert::new(&text);
        prop_assert_eq!(Inert::new(inert.as_str()), inert.clone());
        for p in pieces(&a) {
            prop_assert!(!inert.as_str().contains(p.as_str()), "{} in {}", p, inert);
            prop_assert!(!masked.contains(p.as_str()), "{} in {}", p, masked);
        }
    }
}

#[test]
fn a_constant_secret_in_every_message_is_no_template_text() {
    let fp = Fingerprinter::new();
    let secret = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let mut ids = Vec::new();
    for i in 0..1000 {
        let m = format!(
            "AuthServiceClient initialized - Service Secret=s3cr3tValue99 token {secret} attempt {i}"
        );
        ids.push(fp.fingerprint(&KEY, &m));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    let t = fp.resolve(ids[0]).unwrap().template;
    assert!(!t.contains("s3cr3t") && !t.contains("ghp_0123"), "{t}");
    assert_eq!(
        t,
        "AuthServiceClient initialized - Service Secret=<*> token <*> attempt <*>"
    );
}
