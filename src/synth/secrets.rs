//! Planted secrets for the no-leak tests: every kind below × every place a LogEntry carries text
//! × a constant value (the same secret in every entry of its cluster) and varying values. The
//! values are random (deterministic for a seed) so no 8-character piece of one occurs in any
//! honest output by chance; what the tests assert is that none leaves.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

use super::documents::{document, Document};
use super::Rng;

/// How a kind's random value is drawn.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Letters and digits, at least one of each case and a digit.
    Alnum(usize),
    /// A password: alphanumerics and `!*^`.
    Password(usize),
    /// Two alphanumeric runs joined by a dot (SendGrid, a JWT's payload and signature).
    Dotted(usize, usize),
    /// Upper-case letters and digits.
    Upper(usize),
    /// Lower-case letters and digits, at least one of each (base36).
    Lower36(usize),
    /// Lower-case hex.
    Hex(usize),
    /// Base64 with `+` and `/`.
    Base64(usize),
    Digits(usize),
    /// A Luhn-valid card number starting with this digit, in groups of four joined by the
    /// separator when there is one.
    Card(u8, Option<char>),
    Email,
    /// An international phone number, `+CC AAA NNN NNNN`.
    Phone,
    /// A North American number written nationally, `(AAA) EEE-NNNN`.
    NationalPhone,
    /// A French mobile number, `06 NN NN NN NN` with this separator, or `+33 6 NN NN NN NN`
    /// when international.
    FrenchPhone(char, bool),
    /// A Spanish mobile number, `6NN NN NN NN`, or `6NN NNN NNN` when `true`.
    SpanishPhone(bool),
    /// An Italian mobile number, `3NN NNNNNNN`.
    ItalianMobile,
    /// A Milan number whose second group reads like a year, `02 YYYY NNNN`.
    MilanPhone,
    /// A German IBAN in small letters, in groups of four.
    IbanLower,
    /// An email address in Latin letters with diacritics (`jürgen.straße@bücher-müller.de`),
    /// or in Chinese (`用户…@例子….中国`) when `true`.
    UnicodeEmail(bool),
    /// An email address with a quoted local part (`"olaf hansen"@example.net`), its quotes
    /// JSON-escaped (`\"olaf hansen\"@…`) when `true`.
    QuotedEmail(bool),
    /// A birth date, `19YY-MM-DD`.
    BirthDate,
    /// A US social security number outside the ranges never issued, its groups joined by
    /// this separator.
    Ssn(char),
    /// A bcrypt hash's salt and digest: 53 characters of its alphabet with a `.` among them
    /// (where the random-token rule once cut it, leaving the rest).
    Bcrypt,
    /// An email address percent-encoded twice (`…%2540…`), as a redirect's parameter holds one.
    EmailEncodedTwice,
    /// An email address with a random-looking local part, percent-encoded (`…%40…`), as a
    /// query string holds one.
    EmailEncodedRandom,
    /// A German IBAN with valid check digits, in groups of four.
    Iban,
    /// An IPv4 address.
    Ip,
    /// A person's name: two capitalised words.
    PersonName,
    /// A person's name in small letters, and in capitals.
    PersonNameLower,
    PersonNameUpper,
    /// A town: one capitalised word.
    Town,
    /// A postal address: a number, a street, a town and a postcode.
    Address,
    /// A national id with valid check digits.
    Id(Document),
    /// Braintree's access token, `production$<16 base36>$<32 hex>`.
    Braintree,
}

/// A secret kind: how it reads in a log (`@@` is the planted value) and the value's parts
/// (`prefix` is part of the secret itself, as vendor prefixes are).
struct Kind {
    name: &'static str,
    text: &'static str,
    prefix: &'static str,
    shape: Shape,
}

const fn k(name: &'static str, text: &'static str, prefix: &'static str, shape: Shape) -> Kind {
    Kind {
        name,
        text,
        prefix,
        shape,
    }
}

use Shape::*;

const KINDS: [Kind; 142] = [
    k("password", "password=@@", "", Password(14)),
    k("password-spaced", "password = @@", "", Password(14)),
    k("passphrase", "passphrase=@@", "", Password(14)),
    k("pwd-colon", "db_pwd: @@", "", Password(14)),
    k("token-colon", "token: @@", "", Alnum(20)),
    k("api-key-colon", "api_key: @@", "", Alnum(24)),
    k("x-api-key", "X-Api-Key: @@", "", Alnum(32)),
    k(
        "authorization-bearer",
        "Authorization: Bearer @@",
        "",
        Alnum(32),
    ),
    k(
        "authorization-basic",
        "Authorization: Basic @@",
        "",
        Base64(24),
    ),
    k("bearer", "sent Bearer @@ upstream", "", Alnum(28)),
    k("json-password", r#"{"password": "@@"}"#, "", Password(14)),
    k(
        "json-escaped",
        r#"{\"client_secret\": \"@@\"}"#,
        "",
        Password(16),
    ),
    k(
        "aws-secret-env",
        "AWS_SECRET_ACCESS_KEY: @@",
        "",
        Base64(40),
    ),
    k("jwt-secret-env", "JWT_SECRET_KEY=@@", "", Alnum(32)),
    k("aws-access-key", "@@", "AKIA", Upper(16)),
    k("aws-bare-secret", "AKIAIOSFODNN7EXAMPLE @@", "", Base64(40)),
    k("github-classic", "@@", "ghp_", Alnum(36)),
    k("github-oauth", "@@", "gho_", Alnum(36)),
    k("github-fine", "@@", "github_pat_11", Alnum(60)),
    k("slack-bot", "@@", "xoxb-1234567890-", Alnum(24)),
    k("slack-app", "@@", "xapp-1-A0123-", Alnum(30)),
    k(
        "slack-webhook",
        "https://hooks.slack.com/services/@@",
        "T0",
        Alnum(30),
    ),
    k("stripe", "@@", "sk_live_", Alnum(24)),
    k("sendgrid", "@@", "SG.", Dotted(22, 43)),
    k("npm", "@@", "npm_", Alnum(36)),
    k("google-api", "@@", "AIza", Alnum(35)),
    k(
        "gcp-private-key",
        r#""private_key": "-----BEGIN PRIVATE KEY-----\n@@\n-----END PRIVATE KEY-----\n""#,
        "",
        Base64(64),
    ),
    k(
        "pem-block",
        "-----BEGIN RSA PRIVATE KEY-----\n@@\n-----END RSA PRIVATE KEY-----",
        "",
        Base64(64),
    ),
    k("pem-body-line", "@@", "MII", Base64(61)),
    k("jwt", "@@", "eyJhbGciOiJIUzI1NiJ9.eyJ", Dotted(30, 43)),
    k(
        "dsn-postgres",
        "postgres://app:@@@db.internal:5432/app",
        "",
        Alnum(14),
    ),
    k("dsn-mysql-go", "app:@@@tcp(db:3306)/app", "", Alnum(14)),
    k("dsn-redis", "redis://:@@@cache:6379/0", "", Alnum(14)),
    k("query-key", "GET /maps?key=@@&z=1", "", Alnum(32)),
    k(
        "oauth-code",
        "GET /callback?code=@@&state=xyz",
        "",
        Alnum(24),
    ),
    k(
        "sas-sig",
        "GET /blob?sv=2021-08-06&sig=@@&se=2030",
        "",
        Alnum(44),
    ),
    k(
        "azure-account-key",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=@@;EndpointSuffix=core",
        "",
        Base64(88),
    ),
    k("email", "@@", "", Email),
    k("card-visa", "@@", "", Card(4, Some(' '))),
    k("card-mastercard", "@@", "", Card(5, None)),
    k(
        "percent-encoded",
        "body=%7B%22password%22%3A%22@@%22%7D",
        "",
        Alnum(14),
    ),
    k("cookie", "Cookie: session=@@; theme=dark", "", Alnum(24)),
    k("session-id", "sessionid=@@", "", Alnum(20)),
    k("key-like-entropy", "signing_key_v2=@@", "", Alnum(32)),
    k("env-dump", "DB_PASSWORD=@@", "", Password(14)),
    k("xml", "<password>@@</password>", "", Password(14)),
    k(
        "sentry-dsn",
        "https://@@@o42.ingest.sentry.io/7",
        "",
        Hex(32),
    ),
    k("openai", "@@", "sk-proj-", Alnum(48)),
    k("gitlab", "@@", "glpat-", Alnum(20)),
    k("otp", "otp=@@", "", Digits(8)),
    k("tab-separated", "password\t@@\tuser\tbob", "", Password(14)),
    k(
        "cli-flag",
        "migrate --db-password @@ --verbose",
        "",
        Password(14),
    ),
    k("mysql-cli", "mysql -u app -p@@ -h db", "", Alnum(14)),
    k(
        "curl-user",
        "curl -u admin:@@ https://api.internal",
        "",
        Alnum(14),
    ),
    k("sqlplus", "sqlplus app/@@@orcl", "", Alnum(14)),
    k(
        "htpasswd",
        "htpasswd -b -c /etc/nginx/.htpasswd admin @@",
        "",
        Alnum(14),
    ),
    // Named in prose, glued to a name, or short: no key and separator announce them.
    k(
        "api-key-prose",
        "retrying with api key @@ now",
        "",
        Alnum(20),
    ),
    k("passwd-prose", "passwd @@", "", Password(14)),
    k("login-connect", "login bob/@@@orcl", "", Alnum(14)),
    k("card-glued", "card_@@", "", Card(4, None)),
    k("vendor-glued", "token@@", "ghp_", Alnum(36)),
    k("random-18", "sent @@ upstream", "", Alnum(18)),
    k("base36-after-eq", "ref=@@", "", Lower36(40)),
    // Personal data beside emails and cards.
    k("phone-international", "call back on @@ today", "", Phone),
    k("phone-keyed", "phone_number=@@", "", Digits(10)),
    k("ssn", "ssn @@ on file", "", Ssn('-')),
    k("iban", "refund to @@ queued", "", Iban),
    k("client-ip", "remote_ip=@@ user_agent=curl", "", Ip),
    k("phone-national", "sms to @@ failed", "", NationalPhone),
    k("passport", "passport_number=@@ checked", "", Upper(9)),
    k("birth-date", "date_of_birth: @@", "", BirthDate),
    // A capability link: whoever has it can use it.
    k("reset-link", "GET /password/reset/@@ 200", "", Hex(32)),
    k(
        "name-value-pair",
        r#"env: [{"name": "DB_PASSWORD", "value": "@@"}]"#,
        "",
        Password(14),
    ),
    k(
        "sql-password",
        "CREATE USER app IDENTIFIED BY '@@'",
        "",
        Password(14),
    ),
    k(
        "xml-namespaced",
        r#"<wsse:Password Type="PasswordText">@@</wsse:Password>"#,
        "",
        Password(14),
    ),
    // Shapes of a fifth probe: other languages, framework dumps, Redis, SAML.
    k(
        "password-german",
        "Anmeldung fehlgeschlagen passwort=@@",
        "",
        Password(14),
    ),
    k(
        "password-chinese",
        "数据库连接失败，密码：@@",
        "",
        Password(14),
    ),
    k(
        "django-querydict",
        "<QueryDict: {'username': ['bob'], 'password': ['@@']}>",
        "",
        Password(14),
    ),
    k(
        "xml-property",
        r#"<property name="password" value="@@"/>"#,
        "",
        Password(14),
    ),
    k("redis-auth", r#""AUTH" "default" "@@""#, "", Password(14)),
    k(
        "saml-response",
        "POST /saml/acs SAMLResponse=@@",
        "",
        Base64(120),
    ),
    // Shapes of a sixth probe: names and addresses under their keys, national ids by their
    // check digits, phone numbers outside North America, passwords in prose, vendor keys.
    k(
        "customer-name",
        "customer_name=@@ order_id=5501",
        "",
        PersonName,
    ),
    k(
        "full-name-json",
        r#"{"full_name": "@@", "plan": "pro"}"#,
        "",
        PersonName,
    ),
    k(
        "shipping-address",
        "shipping_address=@@ status=ok",
        "",
        Address,
    ),
    k("cpf", "cliente @@ cadastrado", "", Id(Document::Cpf)),
    k("nir", "assuré @@ inconnu", "", Id(Document::Nir)),
    k("aadhaar", "uid @@ linked", "", Id(Document::Aadhaar)),
    k("sin", "applicant SIN @@ verified", "", Id(Document::Sin)),
    k("china-id", "证件 @@ 已验证", "", Id(Document::China)),
    k("dni", "titular @@ verificado", "", Id(Document::Dni)),
    k("nino", "claimant @@ matched", "", Id(Document::Nino)),
    k(
        "steuer-id",
        "Steuer-ID @@ gespeichert",
        "",
        Id(Document::SteuerId),
    ),
    k("phone-uk", "call back on @@ today", "+44 20 ", Digits(8)),
    k("phone-keyed-national", "Telefon: 030 @@", "", Digits(8)),
    k(
        "password-sentence",
        "the admin password for staging is @@",
        "",
        Password(14),
    ),
    k(
        "ldapsearch",
        "ldapsearch -x -D cn=admin -w @@ -b dc=acme",
        "",
        Alnum(14),
    ),
    k(
        "net-use",
        r"net use \\fs01\share @@ /user:acme\bob",
        "",
        Alnum(14),
    ),
    k(
        "php-var-dump",
        "[\"password\"]=>\n  string(14) \"@@\"",
        "",
        Password(14),
    ),
    k(
        "terraform-random-password",
        "# random_password.db will be created\n  + result = \"@@\"",
        "",
        Alnum(20),
    ),
    k("smtp-auth-plain", "C: AUTH PLAIN @@", "", Base64(32)),
    k("braintree", "@@", "access_token$", Braintree),
    k("mapbox", "@@", "pk.eyJ", Dotted(40, 22)),
    k("datadog", "DD-API-KEY: @@", "", Hex(32)),
    k("url-path-key", "POST /api/v1/hooks/@@ 200", "", Alnum(40)),
    // Shapes of a seventh probe: names in XML and SOAP, in small letters or capitals, under
    // `name` alone; addresses and names as objects; passwords in Romance languages; a national
    // id under its short key.
    k(
        "name-xml",
        r#"<order id="5501"><firstName>@@</firstName><status>new</status></order>"#,
        "",
        PersonName,
    ),
    k(
        "name-soap",
        "<soapenv:Body><ns2:GetCustomerResponse><ns2:Name><ns2:First>@@</ns2:First><ns2:Last>Schmidt</ns2:Last></ns2:Name></ns2:GetCustomerResponse></soapenv:Body>",
        "",
        PersonName,
    ),
    k("cardholder-xml", "<cardholder>@@</cardholder>", "", PersonNameUpper),
    k("name-lowercase", "holder: @@ card declined", "", PersonNameLower),
    k("last-name-particle", "last_name=van der @@ retry=2", "", PersonNameLower),
    k("name-caps", "name=@@ action=refund", "", PersonNameUpper),
    k("name-caps-json", r#"{"name": "@@", "plan": "pro"}"#, "", PersonNameUpper),
    k(
        "address-object",
        r#"{"address": {"street": "Elm Road 14", "city": "@@", "postcode": "LS1 4AP"}}"#,
        "",
        Town,
    ),
    k(
        "shipping-object",
        r#"{"shipping": {"line1": "@@", "line2": "Flat 2"}}"#,
        "",
        Address,
    ),
    k("password-spanish", "clave: @@", "", Password(14)),
    k("password-french-spaced", "mot de passe : @@", "", Password(14)),
    k("password-portuguese", "senha: @@", "", Password(14)),
    k("sin-key", r#"{"sin": "@@"}"#, "", Id(Document::Sin)),
    // Shapes of an eighth probe (an outside canary audit): a French number with no word
    // naming it, a name under a user's key, a crawler's contact in its user agent, and the
    // addresses in other scripts or with a quoted local part that the email rule once missed;
    // and of that review's own probes, a Spanish number and an IBAN in small letters.
    k("phone-french", "SMS au @@", "", FrenchPhone(' ', false)),
    k("phone-french-dotted", "rappel @@ ok", "", FrenchPhone('.', false)),
    k("phone-french-international", "SMS au @@", "", FrenchPhone(' ', true)),
    k("phone-spanish", "llamar al @@ mañana", "", SpanishPhone(false)),
    k("iban-lowercase", "refund to @@ queued", "", IbanLower),
    k("user-name", "user=@@ logged in", "", PersonName),
    k(
        "username-json",
        r#"{"username": "@@", "plan": "pro"}"#,
        "",
        PersonName,
    ),
    k(
        "mailto-user-agent",
        "Mozilla/5.0 (compatible; Bot/1.0; mailto:@@)",
        "",
        Email,
    ),
    k(
        "email-diacritics",
        "delivery failed to @@: mailbox full",
        "",
        UnicodeEmail(false),
    ),
    k("email-chinese", "送信失敗 @@ です", "", UnicodeEmail(true)),
    k(
        "email-quoted",
        "SMTP rejected RCPT TO:<@@> 553",
        "",
        QuotedEmail(false),
    ),
    k(
        "email-quoted-escaped",
        r#"{"msg": "RCPT TO:<@@>"}"#,
        "",
        QuotedEmail(true),
    ),
    // Shapes of a ninth probe (an outside canary audit): the caller's address as Cloud Audit
    // Logs and PostgreSQL name it, a social security number spaced, a password hash, and an
    // email percent-encoded twice.
    k("caller-ip", "callerIp=@@ method=storage.objects.get", "", Ip),
    k(
        "caller-ip-json",
        r#"{"requestMetadata": {"callerIp": "@@", "callerSuppliedUserAgent": "gcloud"}}"#,
        "",
        Ip,
    ),
    k(
        "client-addr",
        "connection authorized: user=app client_addr=@@",
        "",
        Ip,
    ),
    k("envoy-external-address", "x-envoy-external-address: @@", "", Ip),
    k("forwarded-for", "Forwarded: for=@@;proto=https", "", Ip),
    k("ssn-spaced", "applicant ssn @@ verified", "", Ssn(' ')),
    k("bcrypt", "stored hash @@ for user", "$2b$12$", Bcrypt),
    k(
        "email-encoded-twice",
        "redirect=https%3A%2F%2Fa.io%2Fu%3Fe%3D@@",
        "",
        EmailEncodedTwice,
    ),
    // Shapes of a tenth probe (a review's leftovers): an encoded email after a name, mobile
    // numbers as Spain and Italy also print them, and a Milan number with a year-like group.
    k(
        "email-encoded-query",
        "GET /v1/session?login=@@&next=/ 302",
        "",
        EmailEncodedRandom,
    ),
    k("phone-spanish-333", "llamar al @@ mañana", "", SpanishPhone(true)),
    k("phone-italian-mobile", "richiamare @@ domani", "", ItalianMobile),
    k("phone-milan", "chiamare lo @@ ufficio", "", MilanPhone),
    k("card-dotted", "paid with @@ today", "", Card(4, Some('.'))),
];

/// Every place of a LogEntry that carries text, and how a text goes there.
const PLACES: [&str; 16] = [
    "textPayload",
    "jsonPayload.message",
    "jsonPayload.nested",
    "jsonPayload.number",
    "jsonPayload.stack_trace",
    "labels",
    "resource.labels.service_name",
    "httpRequest.requestUrl",
    "httpRequest.userAgent",
    "httpRequest.referer",
    "sourceLocation.file",
    "sourceLocation.function",
    "serviceContext.service",
    "jsonPayload.logger",
    "labels.python_logger",
    "insertId",
];

/// How many entries of each kind × place carry its shared value and how many a value of their
/// own. The shared one is what a template miner would keep as a literal token (it recurs), so it
/// needs at least two entries; a value of its own is what it would turn into a variable.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub constant: usize,
    pub varying: usize,
}

impl Mix {
    /// What `replay` gets: three and three.
    pub const FULL: Mix = Mix {
        constant: 3,
        varying: 3,
    };
    /// Small enough for Google's Pub/Sub fake (~80 messages/s) and still every kind × place
    /// both ways: two entries share a value, one has its own.
    pub const LIVE: Mix = Mix {
        constant: 2,
        varying: 1,
    };
}

/// The planted entries (in time order, within the hour from `start`) and every value planted.
pub fn corpus(start: DateTime<Utc>, seed: u64) -> (Vec<Value>, Vec<String>) {
    corpus_of(start, seed, Mix::FULL)
}

/// [`corpus`] with `mix` entries per kind × place: `KINDS × PLACES × (constant + varying)`
/// entries and `KINDS × PLACES × (1 + varying)` values.
pub fn corpus_of(start: DateTime<Utc>, seed: u64, mix: Mix) -> (Vec<Value>, Vec<String>) {
    assert!(mix.constant >= 2, "a shared value recurs: {mix:?}");
    let mut rng = Rng::new(seed);
    let (mut entries, mut values) = (Vec::new(), Vec::new());
    for kind in &KINDS {
        for place in PLACES {
            let constant = value(kind, &mut rng);
            values.push(constant.clone());
            for i in 0..mix.constant + mix.varying {
                let v = if i < mix.constant {
                    constant.clone()
                } else {
                    let v = value(kind, &mut rng);
                    values.push(v.clone());
                    v
                };
                let text = kind.text.replace("@@", &v);
                let at = start + TimeDelta::milliseconds(rng.below(3_500_000) as i64);
                entries.push(place_text(place, kind.name, &text, at, &mut rng));
            }
        }
    }
    entries.sort_by(|a, b| a["timestamp"].as_str().cmp(&b["timestamp"].as_str()));
    (entries, values)
}

/// The kind of the `i`th value [`corpus_of`] returned with `mix`.
pub fn kind_of(i: usize, mix: Mix) -> &'static str {
    KINDS[i / (PLACES.len() * (1 + mix.varying))].name
}

/// Kinds only the random-token check recognises, by how random they read: a few in a
/// thousand of their values are missed (measured in `redact::check`'s tests), so no seed
/// can promise none is. Every other kind is recognised by its shape or its key, always.
pub const BY_ENTROPY: [&str; 3] = ["random-18", "base36-after-eq", "url-path-key"];

/// How many kinds and places the corpus covers.
pub fn coverage() -> (usize, usize) {
    (KINDS.len(), PLACES.len())
}

fn value(kind: &Kind, rng: &mut Rng) -> String {
    const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"0123456789";
    let mut pick = |set: &[u8], n: usize| -> String {
        (0..n)
            .map(|_| set[rng.below(set.len() as u64) as usize] as char)
            .collect()
    };
    let alnum = [UPPER, LOWER, DIGITS].concat();
    let body = match kind.shape {
        // Classes guaranteed up front, so no value reads as a word.
        Alnum(n) => format!(
            "{}{}{}",
            pick(UPPER, 1),
            pick(DIGITS, 1),
            pick(&alnum, n - 2)
        ),
        Password(n) => format!(
            "{}{}{}{}",
            pick(UPPER, 1),
            pick(DIGITS, 1),
            pick(b"!*^", 1),
            pick(&alnum, n - 3)
        ),
        Dotted(a, b) => format!(
            "{}{}{}.{}{}",
            pick(UPPER, 1),
            pick(DIGITS, 1),
            pick(&alnum, a - 2),
            pick(LOWER, 1),
            pick(&alnum, b - 1)
        ),
        Upper(n) => pick(&[UPPER, DIGITS].concat(), n),
        Lower36(n) => format!(
            "{}{}{}",
            pick(LOWER, 1),
            pick(DIGITS, 1),
            pick(&[LOWER, DIGITS].concat(), n - 2)
        ),
        Hex(n) => pick(b"0123456789abcdef", n),
        Base64(n) => format!(
            "{}{}{}",
            pick(UPPER, 1),
            pick(LOWER, 1),
            pick(&[&alnum[..], b"+/"].concat(), n - 2)
        ),
        Digits(n) => format!("{}{}", pick(b"123456789", 1), pick(DIGITS, n - 1)),
        Card(first, separator) => card(first, &pick(DIGITS, 14), separator),
        Email => format!(
            "{}.{}@{}.io",
            pick(LOWER, 6),
            pick(DIGITS, 4),
            pick(LOWER, 8)
        ),
        Phone => format!(
            "+{}{} {}{} {} {}",
            pick(b"123456789", 1),
            pick(DIGITS, 1),
            pick(b"23456789", 1),
            pick(DIGITS, 2),
            pick(DIGITS, 3),
            pick(DIGITS, 4)
        ),
        NationalPhone => format!(
            "({}{}) {}{}-{}",
            pick(b"23456789", 1),
            pick(DIGITS, 2),
            pick(b"23456789", 1),
            pick(DIGITS, 2),
            pick(DIGITS, 4)
        ),
        FrenchPhone(sep, international) => {
            let pairs: Vec<String> = (0..4).map(|_| pick(DIGITS, 2)).collect();
            let mobile = pick(b"67", 1);
            match international {
                true => format!("+33 {mobile} {}", pairs.join(" ")),
                false => format!("0{mobile}{sep}{}", pairs.join(&sep.to_string())),
            }
        }
        SpanishPhone(false) => format!(
            "6{} {} {} {}",
            pick(DIGITS, 2),
            pick(DIGITS, 2),
            pick(DIGITS, 2),
            pick(DIGITS, 2)
        ),
        SpanishPhone(true) => format!(
            "6{} {} {}",
            pick(DIGITS, 2),
            pick(DIGITS, 3),
            pick(DIGITS, 3)
        ),
        ItalianMobile => format!(
            "3{}{} {}",
            pick(b"123456789", 1),
            pick(DIGITS, 1),
            pick(DIGITS, 7)
        ),
        MilanPhone => format!("02 20{} {}", pick(DIGITS, 2), pick(DIGITS, 4)),
        IbanLower => iban("DE", &pick(DIGITS, 18)).to_lowercase(),
        // Random letters around the non-ASCII ones: a piece of the value is found whether an
        // output writes them as they are or escaped.
        UnicodeEmail(false) => format!(
            "{}ü{}.{}ß{}@{}ü{}-{}.de",
            pick(LOWER, 5),
            pick(LOWER, 4),
            pick(LOWER, 4),
            pick(LOWER, 5),
            pick(LOWER, 6),
            pick(LOWER, 4),
            pick(LOWER, 6)
        ),
        UnicodeEmail(true) => format!("用户{}@例子{}.中国", pick(LOWER, 9), pick(LOWER, 9)),
        QuotedEmail(escaped) => {
            let quote = if escaped { "\\\"" } else { "\"" };
            format!(
                "{quote}{} {}{quote}@{}.net",
                pick(LOWER, 9),
                pick(LOWER, 9),
                pick(LOWER, 9)
            )
        }
        BirthDate => format!(
            "19{}-{:02}-{:02}",
            pick(DIGITS, 2),
            1 + rng.below(12),
            1 + rng.below(28)
        ),
        Ssn(sep) => format!(
            "{}{}{sep}{}{}{sep}{}{}",
            pick(b"12345", 1),
            pick(DIGITS, 2),
            pick(b"123456789", 1),
            pick(DIGITS, 1),
            pick(b"123456789", 1),
            pick(DIGITS, 3)
        ),
        Bcrypt => format!(
            "{}{}{}.{}",
            pick(UPPER, 1),
            pick(DIGITS, 1),
            pick(&[&alnum[..], b"/"].concat(), 38),
            pick(&alnum, 12)
        ),
        EmailEncodedRandom => format!(
            "{}{}{}%40{}.com",
            pick(UPPER, 1),
            pick(DIGITS, 1),
            pick(&alnum, 14),
            pick(LOWER, 8)
        ),
        EmailEncodedTwice => format!(
            "{}.{}%2540{}.io",
            pick(LOWER, 6),
            pick(DIGITS, 4),
            pick(LOWER, 8)
        ),
        Iban => iban("DE", &pick(DIGITS, 18)),
        Ip => format!(
            "{}.{}.{}.{}",
            11 + rng.below(212),
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        ),
        PersonName => format!(
            "{}{} {}{}",
            pick(UPPER, 1),
            pick(LOWER, 7),
            pick(UPPER, 1),
            pick(LOWER, 9)
        ),
        PersonNameLower => format!("{} {}", pick(LOWER, 8), pick(LOWER, 10)),
        PersonNameUpper => format!("{} {}", pick(UPPER, 8), pick(UPPER, 10)),
        Town => format!("{}{}", pick(UPPER, 1), pick(LOWER, 9)),
        Address => format!(
            "{}{} {}{} Street, {}{} {}",
            pick(b"123456789", 1),
            pick(DIGITS, 2),
            pick(UPPER, 1),
            pick(LOWER, 8),
            pick(UPPER, 1),
            pick(LOWER, 8),
            pick(DIGITS, 5)
        ),
        Id(kind) => {
            let digits: Vec<u8> = pick(DIGITS, 17).bytes().map(|b| b - b'0').collect();
            let letter = pick(UPPER, 1).as_bytes()[0] - b'A';
            document(kind, &digits, letter)
        }
        Braintree => format!(
            "production${}${}",
            pick(&[LOWER, DIGITS].concat(), 16),
            pick(b"0123456789abcdef", 32)
        ),
    };
    format!("{}{body}", kind.prefix)
}

/// An IBAN of `country` and the digits `bban`, its check digits computed (ISO 13616), in
/// groups of four.
fn iban(country: &str, bban: &str) -> String {
    let mut rest = 0u32;
    for b in bban.bytes().chain(country.bytes()).chain(*b"00") {
        rest = match b {
            b'A'..=b'Z' => (rest * 100 + u32::from(b - b'A') + 10) % 97,
            _ => (rest * 10 + u32::from(b - b'0')) % 97,
        };
    }
    let all = format!("{country}{:02}{bban}", 98 - rest);
    let groups: Vec<&str> = all
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("ASCII"))
        .collect();
    groups.join(" ")
}

/// A 16-digit Luhn-valid number: `first`, then `rest` (14 digits), then the check digit.
fn card(first: u8, rest: &str, separator: Option<char>) -> String {
    let digits: Vec<u32> = std::iter::once(u32::from(first))
        .chain(rest.chars().filter_map(|c| c.to_digit(10)))
        .collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2 == 0, d * 2) {
            (true, dd) if dd > 9 => dd - 9,
            (true, dd) => dd,
            (false, _) => d,
        })
        .sum();
    let all: String = digits
        .iter()
        .chain(std::iter::once(&((10 - sum % 10) % 10)))
        .map(|d| char::from_digit(*d, 10).unwrap_or('0'))
        .collect();
    let Some(separator) = separator else {
        return all;
    };
    let groups: Vec<&str> = (0..4).map(|g| &all[g * 4..g * 4 + 4]).collect();
    groups.join(&separator.to_string())
}

/// An ERROR entry of a Cloud Run service with `text` at `place`.
fn place_text(place: &str, kind: &str, text: &str, at: DateTime<Utc>, rng: &mut Rng) -> Value {
    let ts = at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut e = json!({
        "insertId": rng.hex(16),
        "resource": {"type": "cloud_run_revision", "labels": {"project_id": "acme-staging",
            "service_name": "billing", "revision_name": "billing-00007-abc", "location": "us-central1"}},
        "timestamp": ts,
        "severity": "ERROR",
        "logName": "projects/acme-staging/logs/run.googleapis.com%2Fstderr",
        "receiveTimestamp": ts,
    });
    let message = format!("upload failed ({kind}) at step {}", rng.below(50));
    let with = format!("upload failed ({kind}): {text} (attempt {})", rng.below(50));
    match place {
        "textPayload" => e["textPayload"] = json!(with),
        "jsonPayload.message" => e["jsonPayload"] = json!({"message": with}),
        // A text that is a JSON object is also there as the object (a request body logged
        // as structure, not as text).
        "jsonPayload.nested" => {
            let mut body = vec![json!(text)];
            body.extend(
                serde_json::from_str::<Value>(text)
                    .ok()
                    .filter(Value::is_object),
            );
            e["jsonPayload"] =
                json!({"message": message, "request": {"headers": {"note": text}, "body": body}});
        }
        // A value of digits alone as a JSON number (a card number the producer did not
        // quote), anything else as a string under the same key.
        "jsonPayload.number" => {
            let value = text
                .parse::<u64>()
                .map_or_else(|_| json!(text), |n| json!(n));
            e["jsonPayload"] = json!({"message": message, "card": value});
        }
        "jsonPayload.stack_trace" => {
            e["jsonPayload"] = json!({"message": message, "stack_trace": format!(
                "Traceback (most recent call last):\n  File \"/app/upload.py\", line 12, in put\n    raise UploadError(msg)\nUploadError: {text}"
            )});
        }
        "labels" => {
            e["labels"] = json!({"note": text});
            e["textPayload"] = json!(message);
        }
        "resource.labels.service_name" => {
            e["resource"]["labels"]["service_name"] = json!(text);
            e["textPayload"] = json!(message);
        }
        "httpRequest.requestUrl" | "httpRequest.userAgent" | "httpRequest.referer" => {
            let field = place.trim_start_matches("httpRequest.");
            let mut req = json!({"requestMethod": "GET", "requestUrl": "https://api.acme.io/v1/upload",
                "status": 500, "userAgent": "curl/8.5.0", "referer": "https://app.acme.io/"});
            req[field] = json!(if field == "requestUrl" {
                format!("https://api.acme.io/v1/upload?{text}")
            } else {
                text.to_owned()
            });
            e["httpRequest"] = req;
        }
        "sourceLocation.file" | "sourceLocation.function" => {
            let field = place.trim_start_matches("sourceLocation.");
            let mut loc = json!({"file": "upload.py", "line": "12", "function": "put"});
            loc[field] = json!(text);
            e["sourceLocation"] = loc;
            e["textPayload"] = json!(message);
        }
        "serviceContext.service" => {
            if let Some(labels) = e["resource"]["labels"].as_object_mut() {
                labels.remove("service_name");
            }
            e["jsonPayload"] = json!({"message": message, "serviceContext": {"service": text}});
        }
        "jsonPayload.logger" => e["jsonPayload"] = json!({"message": message, "logger": text}),
        "labels.python_logger" => {
            e["labels"] = json!({"python_logger": text});
            e["textPayload"] = json!(message);
        }
        _ => {
            e["insertId"] = json!(text);
            e["textPayload"] = json!(message);
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_at_every_place_constant_and_varying() {
        let (entries, values) = corpus("2025-09-15T19:00:00Z".parse().unwrap(), 7);
        let (kinds, places) = coverage();
        assert!(kinds >= 40);
        assert_eq!(entries.len(), kinds * places * 6);
        assert_eq!(values.len(), kinds * places * 4);
        for (e, v) in entries.iter().zip(&values).take(3) {
            let text = e.to_string();
            assert!(text.contains("ERROR") && v.len() >= 8, "{text}");
        }
        assert!(card(4, "11111111111111", Some(' ')).starts_with("4111 1111 1111 111"));
    }

    #[test]
    fn the_live_mix_is_every_kind_at_every_place_in_fewer_entries() {
        let start = "2025-09-15T19:00:00Z".parse().unwrap();
        let (entries, values) = corpus_of(start, 7, Mix::LIVE);
        let (kinds, places) = coverage();
        assert_eq!(entries.len(), kinds * places * 3);
        assert_eq!(values.len(), kinds * places * 2);
        // The same seed and mix give the same corpus: a test can rebuild what it published.
        assert_eq!(corpus_of(start, 7, Mix::LIVE).1, values);
    }
}
