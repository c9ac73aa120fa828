//! The validated `[pubsub]` and `[live]` sections: what `log-gardener run` needs.

use std::path::PathBuf;
use std::time::Duration;

use chrono::TimeDelta;

use super::raw::{RawLive, RawPubSub, RawState};
use super::{dur_in, echoed, in_range, invalid, obs, ConfigError};

/// What to do with a Pub/Sub message that is not a LogEntry (it is counted and reported
/// either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMalformed {
    /// Ack it once the checkpoint holds its count: it is gone.
    Ack,
    /// Nack it at once: Pub/Sub redelivers it until the subscription's dead-letter policy
    /// moves it away. Counted on every delivery.
    Nack,
}

/// The subscription `run` pulls from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubSubSettings {
    /// `projects/P/subscriptions/S`, or `None` when not configured (then `run` refuses).
    pub subscription: Option<String>,
    pub streams: usize,
    pub max_outstanding_messages: i64,
    pub max_outstanding_bytes: i64,
    /// gRPC endpoint override (the emulator); `None` = Google's endpoint with ADC.
    pub endpoint: Option<String>,
    pub on_malformed: OnMalformed,
}

impl PubSubSettings {
    /// What all streams together may hold unacked (Pub/Sub's flow control): (messages, bytes).
    pub fn allowance(&self) -> (usize, usize) {
        let all = |per_stream: i64| (per_stream.max(1) as usize).saturating_mul(self.streams);
        (
            all(self.max_outstanding_messages),
            all(self.max_outstanding_bytes),
        )
    }
}

/// How windows close in a live run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watermark {
    /// The wall clock: a window closes `allowed_lateness` after its end, by the clock.
    WallClock,
    /// The latest event time seen: for backfilling a subscription of old entries.
    EventTime,
}

/// Checkpointing and window closing of `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSettings {
    pub checkpoint: PathBuf,
    pub checkpoint_every: Duration,
    pub tick: Duration,
    pub watermark: Watermark,
    /// With the event-time watermark: the latest event time as seen this long ago closes
    /// windows (see `driver::watermark`).
    pub hold_back: TimeDelta,
    pub flush_on_shutdown: bool,
    pub dedupe_ids: usize,
    /// The event times a live run counts, around the clock when a message is pulled.
    pub accepts: EventTimes,
}

/// Event times a live run counts: at most `max_age` before the clock, `max_ahead` after it.
/// Anything else is a clock at zero, a broken field or a replayed archive, and would open
/// windows that close at once (or never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTimes {
    pub max_age: TimeDelta,
    pub max_ahead: TimeDelta,
}

impl EventTimes {
    /// Why `at` is not counted at clock time `now`, if it is not.
    pub fn refuses(
        &self,
        at: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<String> {
        use super::duration::format_duration;
        if at < now - self.max_age {
            Some(format!(
                "{} is more than live.max_age ({}) before the clock ({})",
                at.to_rfc3339(),
                format_duration(self.max_age),
                now.to_rfc3339()
            ))
        } else if at > now + self.max_ahead {
            Some(format!(
                "{} is more than live.max_ahead ({}) after the clock ({})",
                at.to_rfc3339(),
                format_duration(self.max_ahead),
                now.to_rfc3339()
            ))
        } else {
            None
        }
    }
}

pub(super) fn pubsub_settings(p: &RawPubSub) -> Result<PubSubSettings, ConfigError> {
    let subscription = match (p.project.trim(), p.subscription.trim()) {
        (_, "") => None,
        (_, s) if s.starts_with("projects/") => Some(s.to_owned()),
        ("", _) => {
            return Err(invalid(
                "pubsub.project",
                "required when pubsub.subscription is a bare id",
            )
            .across(&["pubsub.subscription"]))
        }
        (project, s) => Some(format!("projects/{project}/subscriptions/{s}")),
    };
    // Per stream; what the process holds at most is streams × these (see the memory budget
    // in terraform/variables.tf).
    let max_outstanding_messages = in_range(
        "pubsub.max_outstanding_messages",
        p.max_outstanding_messages,
        1,
        1_000_000,
    )?;
    let max_outstanding_bytes = in_range(
        "pubsub.max_outstanding_bytes",
        p.max_outstanding_bytes,
        1 << 20,
        1 << 30,
    )?;
    let endpoint = match p.endpoint.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(e) => Some(obs::url("pubsub.endpoint", e)?),
    };
    let on_malformed = match p.on_malformed.as_str() {
        "ack" => OnMalformed::Ack,
        "nack" => OnMalformed::Nack,
        other => {
            return Err(invalid(
                "pubsub.on_malformed",
                format!("{:?} is not \"ack\" or \"nack\"", echoed(other)),
            ))
        }
    };
    Ok(PubSubSettings {
        subscription,
        streams: in_range("pubsub.streams", p.streams, 1, 16)?,
        max_outstanding_messages,
        max_outstanding_bytes,
        endpoint,
        on_malformed,
    })
}

pub(super) fn live_settings(l: &RawLive) -> Result<LiveSettings, ConfigError> {
    let std_dur = |key: &str, s: &str, lo: TimeDelta, hi: TimeDelta| {
        dur_in(key, s, lo, hi).map(|d| d.to_std().unwrap_or_default())
    };
    let watermark = match l.watermark.as_str() {
        "wall-clock" => Watermark::WallClock,
        "event-time" => Watermark::EventTime,
        other => {
            return Err(invalid(
                "live.watermark",
                format!(
                    "{:?} is not \"wall-clock\" or \"event-time\"",
                    echoed(other)
                ),
            ))
        }
    };
    if l.checkpoint.trim().is_empty() {
        return Err(invalid("live.checkpoint", "needs a file path"));
    }
    Ok(LiveSettings {
        checkpoint: PathBuf::from(&l.checkpoint),
        // Messages wait for the checkpoint before they are acked; the client extends their
        // leases meanwhile, but minutes of unacked messages only grow the redelivery backlog.
        checkpoint_every: std_dur(
            "live.checkpoint_every",
            &l.checkpoint_every,
            TimeDelta::milliseconds(100),
            TimeDelta::minutes(5),
        )?,
        tick: std_dur(
            "live.tick",
            &l.tick,
            TimeDelta::milliseconds(10),
            TimeDelta::minutes(1),
        )?,
        watermark,
        // Pub/Sub's longest lease is 10 minutes; a redelivery later than an hour is lost to
        // any watermark.
        hold_back: dur_in(
            "live.hold_back",
            &l.hold_back,
            TimeDelta::zero(),
            TimeDelta::hours(1),
        )?,
        flush_on_shutdown: l.flush_on_shutdown,
        dedupe_ids: in_range("live.dedupe_ids", l.dedupe_ids, 1, 10_000_000)?,
        accepts: EventTimes {
            // Up to the years an entry may carry at all (`entry::time::YEARS`).
            max_age: dur_in(
                "live.max_age",
                &l.max_age,
                TimeDelta::hours(1),
                TimeDelta::days(36_500),
            )?,
            max_ahead: dur_in(
                "live.max_ahead",
                &l.max_ahead,
                TimeDelta::zero(),
                TimeDelta::days(1),
            )?,
        },
    })
}

/// Where `run` keeps its state (the `[state]` section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSettings {
    /// `None`: the checkpoint file `live.checkpoint`.
    pub redis: Option<RedisSettings>,
}

/// The checkpoint in Redis, written only by the replica holding the lease.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    pub url: String,
    pub key_prefix: String,
    pub lease: Duration,
    /// Entries the relay stream may hold before the replicas stop relaying.
    pub max_backlog: u64,
    /// How long a relayed message id is remembered.
    pub dedupe_ttl: Duration,
}

impl std::fmt::Debug for RedisSettings {
    /// The URL may carry a password: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("key_prefix", &self.key_prefix)
            .field("lease", &self.lease)
            .field("max_backlog", &self.max_backlog)
            .field("dedupe_ttl", &self.dedupe_ttl)
            .finish_non_exhaustive()
    }
}

/// `pubsub`: the relay's backlog must hold what the holder may take before it checkpoints.
pub(super) fn state_settings(
    s: &RawState,
    pubsub: &PubSubSettings,
) -> Result<StateSettings, ConfigError> {
    let url = s.redis_url.trim();
    if url.is_empty() {
        return Ok(StateSettings { redis: None });
    }
    let parsed = reqwest::Url::parse(url).ok();
    let scheme = parsed.as_ref().map(|u| u.scheme().to_owned());
    match scheme.as_deref() {
        Some("redis") if parsed.as_ref().and_then(|u| u.host_str()).is_some() => {}
        Some("rediss") => {
            return Err(invalid(
                "state.redis_url",
                "TLS (rediss://) is not built in: reach Memorystore over the private network \
                 with redis:// (the value is not shown)",
            ))
        }
        _ => {
            return Err(invalid(
                "state.redis_url",
                "not a redis://host:port URL (the value is not shown)",
            ))
        }
    }
    let key_prefix = s.key_prefix.trim();
    if key_prefix.is_empty() || key_prefix.contains(['{', '}', ' ']) {
        return Err(invalid(
            "state.key_prefix",
            "needs a name without spaces or braces",
        ));
    }
    let std_dur_in =
        |key, s, lo, hi| dur_in(key, s, lo, hi).map(|d| d.to_std().unwrap_or_default());
    let lease = std_dur_in(
        "state.lease",
        &s.lease,
        TimeDelta::seconds(3),
        TimeDelta::minutes(10),
    )?;
    let max_backlog = in_range("state.max_backlog", s.max_backlog, 1_000, 100_000_000)?;
    // The holder checkpoints (and so trims) early once half of this waits: a smaller backlog
    // would leave it waiting for the checkpoint timer instead.
    let allowance = pubsub.allowance().0 as u64;
    if max_backlog < allowance {
        return Err(invalid(
            "state.max_backlog",
            format!(
                "must be at least pubsub.streams × pubsub.max_outstanding_messages ({allowance}): \
                 the holder trims the relay stream after a checkpoint, which it writes early \
                 only once half of that waits"
            ),
        )
        .across(&["pubsub.streams", "pubsub.max_outstanding_messages"]));
    }
    let dedupe_ttl = std_dur_in(
        "state.dedupe_ttl",
        &s.dedupe_ttl,
        TimeDelta::minutes(10),
        TimeDelta::days(31),
    )?;
    Ok(StateSettings {
        redis: Some(RedisSettings {
            url: url.to_owned(),
            key_prefix: key_prefix.to_owned(),
            lease,
            max_backlog,
            dedupe_ttl,
        }),
    })
}
