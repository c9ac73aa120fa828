//! The configuration as written in TOML. Unknown keys are errors; every field says what it does.
//! Defaults live in `config/default.toml`, the one place a user reads them.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Sliding windows in event time.
    pub window: RawWindow,
    /// Re-joining tracebacks split one line per entry.
    pub stitch: RawStitch,
    /// Thresholds that raise a cluster's priority.
    pub escalation: RawEscalation,
    /// Worklog output.
    pub report: RawReport,
    /// Limits on input.
    pub input: RawInput,
    /// Bounds of fingerprinting: work per message, clusters held.
    pub fingerprint: RawFingerprint,
    /// GitHub issues, one per cluster at or above `report.issue_min_priority`.
    pub github: RawGithub,
    /// The Pub/Sub subscription `run` pulls from.
    pub pubsub: RawPubSub,
    /// How `run` closes windows and checkpoints its state.
    pub live: RawLive,
    /// Where `run` keeps its checkpoint: a local file, or Redis.
    pub state: RawState,
    /// The Prometheus endpoint.
    pub metrics: RawMetrics,
    /// Near-real-time alerts to Alertmanager and a webhook.
    pub alerts: RawAlerts,
    /// Priority rules, first match wins.
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    /// Window length, e.g. "1h".
    pub length: String,
    /// How often a window closes, e.g. "1h" (tumbling) or "15m" (sliding); divides a day.
    pub hop: String,
    /// Count granularity, e.g. "1m"; divides `hop`.
    pub bucket: String,
    /// How long after a window's end entries for it are still waited for, e.g. "5m".
    pub allowed_lateness: String,
    /// Live mode: how long after its close a window is revised for entries that arrive late.
    pub revise_within: String,
    /// Previous windows remembered per cluster, the baseline for spikes.
    pub history: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStitch {
    /// Largest gap between two lines of one traceback, e.g. "250ms".
    pub max_gap: String,
    /// A traceback is cut after this many lines.
    pub max_lines: usize,
    /// Live mode: how far out of event-time order the lines of one traceback may arrive (a
    /// later entry of its stream further than this closes it), and how long of clock time an
    /// open traceback waits for its next line before it is counted, e.g. "5s".
    pub horizon: String,
    /// Live mode: lines of counted tracebacks remembered, so a line arriving after its
    /// traceback was counted still joins it (0: none).
    pub remember_lines: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEscalation {
    /// Thresholds never raise a cluster above this priority (P0 is for rules).
    pub ceiling: String,
    /// Count tiers: at least `at_least` entries in the window raises by `raise` levels.
    #[serde(default)]
    pub count: Vec<RawCountTier>,
    /// Spike against the cluster's previous windows.
    pub spike: Option<RawSpike>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCountTier {
    /// Entries in the window that trigger the tier.
    pub at_least: u64,
    /// Levels to raise (1 = P3 → P2).
    pub raise: i32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpike {
    /// This many times the mean of previous windows is a spike.
    pub factor: f64,
    /// Fewer entries than this is never a spike.
    pub min_count: u64,
    /// Levels to raise.
    pub raise: i32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    /// Where worklogs are written (`replay --out` overrides it).
    pub dir: String,
    /// Clusters at or above this priority get a GitHub issue action in the plan.
    pub issue_min_priority: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFingerprint {
    /// Tokens of a message that count for its cluster; the rest reads as one trailing `<*>`.
    pub max_tokens: usize,
    /// Distinct templates mined per key (service, severity class, logger); past it a template
    /// joins a stored one it differs from in one token, else is a cluster of its own.
    pub max_templates_per_key: usize,
    /// Tokens of the templates stored over all keys; past it no key stores another (a new one
    /// reads as above, and is remembered only while a window holds it).
    pub max_template_tokens: usize,
    /// Distinct keys (service, severity class, logger) at most; entries of further loggers are
    /// clustered under their service's `<other loggers>`, of further services under `<other>`.
    pub max_keys: usize,
    /// Distinct clusters held in the open windows at most; entries of further message kinds
    /// are counted in their service's `<unclustered>` cluster (reported and alerted on).
    pub max_clusters: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    /// Entries larger than this are rejected as malformed (Cloud Logging's own limit is 256 KB).
    pub max_entry_bytes: usize,
    /// A replayed file larger than this is read in slices of event time of about this many
    /// bytes of entries, closing windows as it goes.
    pub slice_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGithub {
    /// The repository issues go to, "owner/name"; empty turns the GitHub sink off.
    pub repo: String,
    /// REST API root: "https://api.github.com", or "https://HOST/api/v3" for GitHub Enterprise.
    pub api_url: String,
    /// File holding the token (a mounted secret); `GITHUB_TOKEN` in the environment wins.
    /// Without either, the sink runs dry: planned actions go to the worklog, nothing is sent.
    pub token_file: String,
    /// The label that marks our issues; they are found by listing issues with it.
    pub label: String,
    /// A cluster recurring within this long after its issue was closed as completed reopens
    /// it; later, a new issue is opened that links the old one.
    pub reopen_within: String,
    /// Pause between two writes (GitHub allows about 80 content-creating requests a minute).
    pub write_spacing: String,
    /// Writes per window at most; the rest waits in the outbox for the next window.
    pub max_writes_per_window: usize,
    /// A rate-limit answer asking to wait longer than this defers the rest to the outbox.
    pub max_rate_limit_wait: String,
    /// Searches for related issues (not ours) per window; 0 turns the search off.
    pub related_searches_per_window: usize,
    /// Google Cloud project for the Cloud Logging query link; empty leaves `project=` out.
    pub logging_project: String,
    /// Where the outbox (`github-outbox.json`) and the issue index (`github-index.json`) are
    /// kept; empty means the worklog directory.
    pub state_dir: String,
    /// Base URL where the worklogs are published; issues link `<url>/<window-end>.md`.
    /// Empty: no worklog links.
    pub worklog_url: String,
    /// Writes (creates, updates, comments) per minute at most (GitHub's secondary limit: 80).
    pub writes_per_minute: usize,
    /// Writes per hour at most (GitHub's secondary limit: 500).
    pub writes_per_hour: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPubSub {
    /// Google Cloud project of the subscription ("" = must be given before `run`).
    pub project: String,
    /// Subscription id (or a full `projects/P/subscriptions/S` path).
    pub subscription: String,
    /// Parallel StreamingPull streams.
    pub streams: usize,
    /// Per stream: the server stops sending when this many messages are unacked.
    pub max_outstanding_messages: i64,
    /// Per stream: the server stops sending when this many bytes are unacked.
    pub max_outstanding_bytes: i64,
    /// gRPC endpoint override, e.g. "http://127.0.0.1:8085"; `PUBSUB_EMULATOR_HOST` wins.
    pub endpoint: Option<String>,
    /// What to do with a message that is not a LogEntry: "ack" (count, report, drop) or
    /// "nack" (count, report, leave it to the subscription's dead-letter policy).
    pub on_malformed: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLive {
    /// Where the checkpoint (window state, known clusters, recent message ids) is written.
    pub checkpoint: String,
    /// How often the checkpoint is written; messages are acked only after it is.
    pub checkpoint_every: String,
    /// How often due windows are closed.
    pub tick: String,
    /// "wall-clock": windows close when the clock passes their end + allowed lateness;
    /// "event-time": when the latest entry's timestamp does (for backfills of old entries).
    pub watermark: String,
    /// "event-time": the watermark is the latest entry's timestamp as seen this long ago.
    pub hold_back: String,
    /// Close every window holding entries when `run` stops (after SIGTERM/SIGINT).
    pub flush_on_shutdown: bool,
    /// Message ids remembered to recognise redeliveries; also how many entries (by log, event
    /// time and insertId) the checkpoint keeps, so one published again after a restart is a
    /// duplicate.
    pub dedupe_ids: usize,
    /// Entries stamped longer ago than this, by the clock when pulled, are `bad_timestamp`.
    pub max_age: String,
    /// Entries stamped further ahead than this are `bad_timestamp`.
    pub max_ahead: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    /// `redis://host:port[/db]`: the checkpoint lives in Redis (Memorystore), under a lease
    /// that one replica holds at a time; "" = the file `live.checkpoint`.
    pub redis_url: String,
    /// Prefix of every Redis key (one deployment per prefix).
    pub key_prefix: String,
    /// How long the lease outlives its holder: a replica that stops renewing it is replaced
    /// after this long.
    pub lease: String,
    /// Entries the relay stream may hold before the replicas stop relaying (and so pulling).
    pub max_backlog: u64,
    /// How long a relayed message id is remembered, so a redelivery adds nothing.
    pub dedupe_ttl: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Address of `/metrics`, `/healthz` and `/readyz`, e.g. "127.0.0.1:9464".
    pub listen: String,
    /// Clusters of the last window exported by name; the rest are summed as "other".
    pub top_k: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// Alertmanager base URLs (an HA set: every one gets every alert); empty = none.
    #[serde(default)]
    pub alertmanager_urls: Vec<String>,
    /// A Slack-compatible webhook URL; "" = none.
    pub webhook_url: String,
    /// Least urgent priority that alerts, e.g. "P1".
    pub min_priority: String,
    /// Alertmanager's resolve_timeout: firing alerts are re-posted every half of it.
    pub resolve_timeout: String,
    /// A cluster with no entries for this long is quiet, e.g. "15m".
    pub quiet_after: String,
    /// A quiet cluster is resolved (posted once) only after this much more silence; entries
    /// in between keep its alert firing without a word, e.g. "30m".
    pub flap_window: String,
    /// A cluster fires a new alert at most once per this, unless more urgent, e.g. "1h".
    pub rate_limit: String,
    /// Google Cloud project for the Cloud Logging link in alerts; "" = no link.
    pub logging_project: String,
    /// Posts waiting per receiver; when full the oldest is dropped and counted.
    pub queue: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Short name, quoted as the reason for the priority.
    pub name: String,
    /// Why the rule exists, shown next to the priority.
    pub description: Option<String>,
    /// Regex on the cluster's template (variables appear as `<*>`).
    pub message: Option<String>,
    /// Regex on the logger / module / function / file.
    pub logger: Option<String>,
    /// Regex on the service name.
    pub service: Option<String>,
    /// Only entries at least this severe (e.g. "ERROR").
    pub min_severity: Option<String>,
    /// Only entries at most this severe.
    pub max_severity: Option<String>,
    /// Set this priority ("P0".."P5").
    pub priority: Option<String>,
    /// Or move the severity's default priority by this many levels (-1 = more urgent).
    pub adjust: Option<i32>,
    /// Whether count/spike thresholds may still raise the result.
    #[serde(default = "yes")]
    pub thresholds: bool,
}

impl RawRule {
    /// No condition at all: the rule matches every cluster.
    pub fn matches_everything(&self) -> bool {
        self.message.is_none()
            && self.logger.is_none()
            && self.service.is_none()
            && self.min_severity.is_none()
            && self.max_severity.is_none()
    }
}

fn yes() -> bool {
    true
}
