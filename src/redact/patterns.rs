//! The secret shapes the recogniser looks for, most specific first: a later rule must not see
//! half of a secret an earlier one should have taken whole (a URL's `user:pass@host` would
//! otherwise read as an email). Three families, as gitleaks and detect-secrets have them: key
//! words in any syntax, vendor prefixes, and long random tokens (checked by entropy).
//!
//! Each rule's regex names the secret `v` (else the whole match is the secret) and, when the
//! kind follows from a key name, that key `k`. Everything else a match covers stays.

use super::check::Check;

/// What a rule's secret is called in `[REDACTED:<kind>]`.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Fixed(&'static str),
    /// Named after the key in group `k` (`dbPassword` → `password`).
    FromKey,
}

pub struct Source {
    pub pattern: String,
    pub kind: Kind,
    pub check: Check,
}

/// Endings of key names whose value is a secret. A key must *end* with one, so `tokenizer` and
/// `max_tokens` are not secrets while `csrf_token`, `dbPassword`, `X-Api-Key`,
/// `AWS_SECRET_ACCESS_KEY`, `JWT_SECRET_KEY` and `AccountKey` are.
const KEY_END: &str = r"(?:pass(?:word|wd|phrase)?|pwd|secret|token|credentials?|signature|auth|bearer|otp|api[_-]?key|(?:access|secret|private|account|shared[_-]?access|client|signing|encryption|master|auth|session|app|license|service)[_-]?key|private[_-]?key[_-]?id)";

/// Between a key and its value: `=`, `:`, `=>`, each maybe spaced, the key maybe quoted (also
/// JSON-escaped, `\"`), and the same percent-encoded (`%3D`, `%3A`, `%22`, once or twice).
const SEP: &str =
    r#"(?:\\?["']|%(?:25)?2[27])?\s*(?:%(?:25)?20)*(?:=>|[:=]|%(?:25)?3[aAdD])\s*(?:%(?:25)?20)*"#;
const OPEN_QUOTE: &str = r#"(?:\\?["']|%(?:25)?2[27])?"#;

/// Characters a bare value runs over. `,;&` end it (log lines list fields with them).
const BARE_VALUE: &str = r#"[^\s"'\\&,;`]+"#;

/// A token after a key-like word is a secret when long and random enough
/// ([`Check::Entropy`]): `cache_key=users` stays, `signing_key_v2=8fK2pQ…` goes.
const KEY_LIKE: &str =
    r"(?:key|keys|cred|creds|salt|hmac|nonce|seed|cert|hash|sign|pk|sk|priv|jwt|sas)";

/// (pattern, kind, check), applied in this order.
pub fn sources() -> Vec<Source> {
    let keyed = |pattern: String, check: Check| Source {
        pattern,
        kind: Kind::FromKey,
        check,
    };
    let fixed = |pattern: &str, kind: &'static str, check: Check| Source {
        pattern: pattern.to_owned(),
        kind: Kind::Fixed(kind),
        check,
    };
    vec![
        fixed(
            r"(?s)-----BEGIN[ A-Z0-9_-]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[ A-Z0-9_-]*PRIVATE KEY(?: BLOCK)?-----|\z)",
            "private_key",
            Check::None,
        ),
        fixed(
            r#"(?i)\b(?:proxy-)?authorization\\?["']?\s*[:=]\s*\\?["']?(?:(?:bearer|basic|token|digest|negotiate|apikey|sso-key|dpop|gsstoken)\s+)?(?P<v>[^\s"'\\,;]+)"#,
            "authorization",
            Check::NotPlaceholder,
        ),
        fixed(
            r"(?i)\bbearer\s+(?P<v>[A-Za-z0-9\-._~+/]{8,}=*)",
            "bearer",
            Check::NotPlaceholder,
        ),
        // scheme://user:password@host; the password may hold `@` and `:`, the last `@` ends it.
        fixed(
            r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/?#@\[\]]*:(?P<v>[^\s/?#]+)@",
            "password",
            Check::NotPlaceholder,
        ),
        // scheme://<key>@host with no password (Sentry DSNs, token-as-user git URLs).
        fixed(
            r"\b[a-zA-Z][a-zA-Z0-9+.-]*://(?P<v>[A-Za-z0-9_-]{16,})@",
            "token",
            Check::None,
        ),
        // Go/MySQL `user:pass@tcp(host:3306)/db`, and `user:pass@host` without a scheme.
        fixed(
            r"(?:^|[^\w.+:/@\[-])[\w.+-]+:(?P<v>[^\s:@/'\x22\]]+)@(?:(?:tcp6?|udp|unix)\(|[A-Za-z0-9][\w-]*(?:\.[\w-]+)*(?::\d+)?\b)",
            "password",
            Check::NotPlaceholder,
        ),
        fixed(
            r"(?i)(?:hooks\.slack\.com/(?:services|workflows|triggers)/|discord(?:app)?\.com/api/webhooks/|webhook\.office\.com/webhookb2/|api\.telegram\.org/bot|outlook\.office\.com/webhook/)(?P<v>[\w/@+.:-]+)",
            "webhook",
            Check::None,
        ),
        fixed(
            r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
            "jwt",
            Check::None,
        ),
        fixed(
            r#"(?i)\b(?:set-)?cookie\\?["']?\s*[:=]\s*(?P<v>\\?"(?:[^"\\]|\\[^"])*\\?"|'[^']*'|[^\r\n]+)"#,
            "cookie",
            Check::Quoted,
        ),
        fixed(
            r#"(?i)\b(?:[\w.-]*[_.-])?(?:session(?:[_-]?(?:id|key|token))?|sessid|jsessionid|phpsessid|sid)=(?P<v>[^\s;&,"'<>]+)"#,
            "session",
            Check::NotPlaceholder,
        ),
        // Quoted values first, so one with spaces goes whole.
        keyed(
            format!(r#"(?i)\b(?P<k>[\w.-]*?{KEY_END}){SEP}\s*\\?"(?P<v>[^"\\\r\n]+)"#),
            Check::NotPlaceholder,
        ),
        keyed(
            format!(r#"(?i)\b(?P<k>[\w.-]*?{KEY_END}){SEP}\s*'(?P<v>[^'\\\r\n]+)"#),
            Check::NotPlaceholder,
        ),
        keyed(
            format!(r"(?i)<(?P<k>[\w.-]*?{KEY_END})>(?P<v>[^<]+)</"),
            Check::NotPlaceholder,
        ),
        keyed(
            format!(r"(?i)\b(?P<k>[\w.-]*?{KEY_END}){SEP}{OPEN_QUOTE}(?P<v>{BARE_VALUE})"),
            Check::NotProse,
        ),
        // Query-string keys that are secrets only there: `?key=`, OAuth `?code=`, SAS `sig=`.
        keyed(
            r#"(?i)(?:[?&;]|%(?:25)?26|%(?:25)?3[fF])(?P<k>key|code|sig|sas|ticket|jwt|hmac|assertion|otp|auth_code|authcode|apikey)=(?P<v>[^\s&#"'<>]+)"#.into(),
            Check::NotPlaceholder,
        ),
        keyed(
            format!(r#"(?i)\b(?P<k>[\w.-]*?{KEY_LIKE}[\w.-]*?){SEP}{OPEN_QUOTE}(?P<v>[A-Za-z0-9+/=_.~-]{{16,}})"#),
            Check::Entropy(3.3),
        ),
        fixed(VENDOR, "token", Check::None),
        fixed(
            r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b",
            "aws_key",
            Check::None,
        ),
        fixed(
            r"(?:^|[^A-Za-z0-9+/_=.~-])(?P<v>[A-Za-z0-9+/_~-]{20,}={0,2})(?:$|[^A-Za-z0-9+/_=~-])",
            "secret",
            Check::Random,
        ),
        fixed(
            r"(?:^|[^\w.+-])(?P<v>[2-6](?:[ -]?[0-9]){12,18})(?:$|[^\w-])",
            "card",
            Check::Luhn,
        ),
        fixed(
            r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
            "email",
            Check::None,
        ),
    ]
}

/// Tokens known by their vendor prefix (gitleaks' rule set names these; the code is ours).
const VENDOR: &str = concat!(
    r"\b(?:",
    r"sk-(?:proj-|ant-(?:api\d\d-|admin\d\d-)?|live-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    r"|[rsp]k_(?:live|test|prod)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9+/=]{20,}",
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}",
    r"|xox[abposrce]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}",
    r"|gl(?:pat|ptt|dt|rt|cbt|oas|soat|ft|imt|agent|deploy|cs)-[A-Za-z0-9_-]{20,}",
    r"|ya29\.[A-Za-z0-9_-]{20,}|GOCSPX-[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{35}",
    r"|1//0[A-Za-z0-9_-]{30,}",
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}|npm_[A-Za-z0-9]{30,}",
    r"|pypi-[A-Za-z0-9_-]{50,}|hf_[A-Za-z0-9]{30,}|dapi[a-f0-9]{32}",
    r"|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|do[opr]_v1_[a-f0-9]{64}",
    r"|hv[sbr]\.[A-Za-z0-9_-]{24,}|lin_api_[A-Za-z0-9]{40}|PMAK-[a-f0-9]{24}-[a-f0-9]{34}",
    r"|NRAK-[A-Z0-9]{27}|glsa_[A-Za-z0-9_]{32,}|glc_[A-Za-z0-9+/=]{32,}",
    r"|AGE-SECRET-KEY-1[0-9A-Z]{58}|key-[0-9a-zA-Z]{32}|SK[0-9a-fA-F]{32}",
    r"|sq0(?:atp|csp)-[0-9A-Za-z_-]{22,}|rubygems_[a-f0-9]{48}|figd_[A-Za-z0-9_-]{40}",
    r"|dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}|ATATT3[A-Za-z0-9_=-]{100,}",
    r"|[a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34}|[0-9]{8,10}:AA[0-9A-Za-z_-]{33}",
    r"|EAA[A-Za-z0-9]{90,}|xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}|sntrys_[A-Za-z0-9+/=_]{40,}",
    r"|dckr_pat_[A-Za-z0-9_-]{27}|pscale_(?:tkn|pw|oauth)_[A-Za-z0-9=._-]{32,}",
    r"|[0-9a-f]{32}-us[0-9]{1,2}",
    r")"
);

/// ASCII word boundaries and classes: log text is mostly ASCII, and Unicode `\b` would push the
/// regex engine off its fast DFA path for every message.
pub fn ascii(pattern: &str) -> String {
    pattern
        .replace(r"\b", r"(?-u:\b)")
        .replace(r"\w", r"[0-9A-Za-z_]")
}

/// The kind a secret's key name suggests: `dbPassword` → `password`, `api_key` → `api_key`.
pub fn key_kind(key: &str) -> &'static str {
    let k = key.to_ascii_lowercase();
    let rules: [(&[&str], &'static str); 10] = [
        (&["cookie"], "cookie"),
        (&["authorization"], "authorization"),
        (&["pass", "pwd"], "password"),
        (&["session", "sessid", "sid"], "session"),
        (
            &[
                "apikey",
                "api_key",
                "api-key",
                "accesskey",
                "access_key",
                "access-key",
                "accountkey",
            ],
            "api_key",
        ),
        (&["code"], "code"),
        (&["token", "auth", "jwt", "bearer"], "token"),
        (&["sig"], "signature"),
        (&["secret", "credential", "private"], "secret"),
        (&["key"], "api_key"),
    ];
    rules
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| k.contains(n)))
        .map_or("secret", |(_, kind)| kind)
}
