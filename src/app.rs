//! Wiring: source → driver → outputs (worklog, GitHub issues, alerts, metrics), joined by
//! bounded channels; one wiring for `replay` and `run`. Only the source watches shutdown; the
//! driver ends when the source's channel closes (closing windows, writing the last
//! checkpoint, acking), the GitHub stage when the driver's outputs are dropped, the alert stage
//! and the metrics endpoint last. That drain order is written once, here.
//!
//! Everything async — HTTP clients included — is built inside the runtime, here.

pub mod alerts;
mod check;
pub mod console;
mod error;
pub mod github;
mod lease;
pub mod observe;
pub mod outputs;
mod start;

pub use check::describe;
pub use error::AppError;
pub use outputs::WindowBrief;
pub use start::block_on;

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::driver::{
    CheckpointStore, Consumer, DriveError, DriveSummary, Driver, FileCheckpoint, RedisCheckpoint,
};
use crate::sinks::alert::AlertHandle;
use crate::sinks::github::{AnyIssueSink, GithubPlaces, Token};
use crate::sinks::worklog::{DirWorklog, WorklogError};
use crate::source::file::{FileSource, Slicing};
use crate::source::pubsub::{Endpoint, PubSubSource};
use crate::source::relay::{self, Relay, RelaySource};
use crate::source::{Batch, Boundedness, Source, SourceError, SourceStats};
use crate::telemetry::Readiness;
use github::GithubRun;
use outputs::{GithubHandoff, WindowOutputs};

/// Batches in flight between the source and the driver: 16 × 512 entries keeps a file reader
/// a few milliseconds ahead without letting it run away from a slow pipeline; for Pub/Sub
/// (one message a batch) the real bound on unacked work is its flow control.
const BATCH_QUEUE: usize = 16;

/// After the driver is done, how long the source may take to flush acks, and the GitHub
/// stage to finish its sync: `run` must end within 10 s of SIGTERM even if Pub/Sub or GitHub
/// do not answer (what GitHub did not get waits in the durable outbox).
const DRAIN: Duration = Duration::from_secs(4);

/// What to run.
#[derive(Debug, Clone)]
pub enum Command {
    /// A bounded input: an export file, or `-` for stdin. Worklogs go to `out`.
    Replay {
        input: PathBuf,
        out: PathBuf,
        /// Show a progress bar (only when stderr is a terminal).
        progress: bool,
    },
    /// The Pub/Sub subscription of `[pubsub]`, until shutdown.
    Run,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub source: SourceStats,
    pub drive: DriveSummary,
    /// Worklog files written.
    pub written: Vec<PathBuf>,
    /// The last windows closed (at most [`outputs::BRIEFS_KEPT`]).
    pub windows: VecDeque<WindowBrief>,
    /// Entries read leniently, by reason, as the worklogs tell them.
    pub field_warnings: BTreeMap<String, u64>,
    /// With `[github] repo` set.
    pub github: Option<GithubRun>,
}

impl Summary {
    /// What the run did, in lines for a person (stderr): totals, then a line per window (the
    /// last few of a long run), then GitHub.
    pub fn describe(&self, replay: bool) -> Vec<String> {
        let (d, c) = (&self.drive, &self.drive.counts);
        let dir = self.written.first().and_then(|p| p.parent());
        let dir = dir.map_or_else(|| "-".into(), |p| p.display().to_string());
        let mut out = vec![if replay {
            format!(
                "read {} entries ({} malformed{}); {} counted once split tracebacks were stitched; {} windows → {} files in {dir}",
                c.received, c.malformed, duplicates(c.duplicates), c.counted, d.windows, self.written.len()
            )
        } else {
            format!(
                "run: {} messages ({} redeliveries), {} entries counted, {} malformed{}, {} windows → {} files in {dir}; {} acked",
                d.stats.delivered, d.stats.redeliveries, c.counted, c.malformed, duplicates(c.duplicates), d.windows,
                self.written.len(), d.stats.acked
            )
        }];
        if c.field_warnings > 0 {
            // By reason as the worklogs tell them (an entry may have several).
            let reasons: String = self
                .field_warnings
                .iter()
                .map(|(reason, n)| format!("{n} {reason}, "))
                .collect();
            out.push(format!(
                "  {} entries had an unusable optional field or were read from repaired JSON ({reasons}see `field_warnings` in the worklog)",
                c.field_warnings,
            ));
        }
        if d.windows > self.windows.len() as u64 {
            out.push(format!(
                "  … {} earlier windows",
                d.windows - self.windows.len() as u64
            ));
        }
        for w in &self.windows {
            if let Some(q) = &w.silent_before {
                out.push(format!(
                    "  {} → {}: no entries ({} windows, not written)",
                    q.from, q.to, q.windows
                ));
            }
            let top = w
                .top
                .as_ref()
                .map(|(p, t)| format!(", top: [{p}] {t}"))
                .unwrap_or_default();
            out.push(format!(
                "  {} → {}: {} entries, {} clusters{top}",
                w.start, w.end, w.entries, w.clusters
            ));
        }
        if let Some(g) = &self.github {
            let (mode, verb) = if g.dry_run {
                (" (dry run: nothing sent)", "planned")
            } else {
                ("", "sent")
            };
            out.push(format!(
                "  GitHub {}{mode}: {} actions {verb}, {} clusters left in the outbox",
                g.repo, g.actions, g.deferred
            ));
        }
        out
    }
}

/// Runs `command` until its input ends (replay) or `shutdown` resolves (either). Reads
/// `GITHUB_TOKEN` and `PUBSUB_EMULATOR_HOST` from the environment.
pub async fn run(
    settings: Arc<Settings>,
    command: Command,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary, AppError> {
    // Before any client exists: the TLS clients bring no crypto provider of their own.
    crate::tls::install();
    let clock = crate::clock::system();
    let github_token = std::env::var("GITHUB_TOKEN").ok();
    match command {
        Command::Replay {
            input,
            out,
            progress,
        } => {
            let source = FileSource::new(input)
                .with_max_entry_bytes(settings.max_entry_bytes)
                .with_slicing(Slicing {
                    hop_ms: settings.window.hop.num_milliseconds(),
                    bytes: settings.slice_bytes,
                });
            // Worklogs are flushed to disk once, at the end, not twice per file: a replay of
            // months writes thousands (a crash before the end means replaying again anyway).
            let wiring = Wiring::new(settings, DirWorklog::deferred(&out), clock);
            let wiring = wiring.with_github(github_token)?;
            let bar = progress_bar(progress, source.size());
            let name = source.display();
            let shown = bar.clone();
            let source = source.with_progress(Arc::new(move |done| shown.set_position(done)));
            let summary = wiring.drive(source, shutdown).await;
            bar.finish_and_clear();
            let summary = summary?;
            crate::atomic_file::sync(&summary.written)
                .map_err(|source| WorklogError::Io { path: out, source })?;
            match nothing_counted(&summary, &name) {
                Some(refused) => Err(refused.into()),
                None => Ok(summary),
            }
        }
        Command::Run => run_live(settings, clock, github_token, shutdown).await,
    }
}

/// `, N duplicates` when there were any (`replay`'s summary line).
fn duplicates(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} duplicates")
    }
}

/// A replay that read entries and counted none: every one was refused (another log format,
/// timestamps of another shape, all out of range), and with no window there is no worklog to
/// tell it. Exit code 3 with the commonest reason and where it was first, as for an input with
/// nothing readable at all.
fn nothing_counted(summary: &Summary, input: &str) -> Option<SourceError> {
    let c = &summary.drive.counts;
    if c.counted > 0 || c.malformed == 0 || summary.source.interrupted {
        return None;
    }
    let refused = &summary.drive.unreported;
    let (reason, n) = refused.by_reason.iter().max_by_key(|(_, n)| **n)?;
    let first = refused
        .examples
        .iter()
        .find(|e| &e.reason == reason)
        .map(|e| format!(", the first at {}: {}", e.location, e.detail))
        .unwrap_or_default();
    // Entries too large are LogEntries: exporting them again would not help.
    let hint = match reason.as_str() {
        "too_large" => "; raise input.max_entry_bytes to read them".to_owned(),
        _ => format!("; {}", crate::source::file::EXPORT_HINT),
    };
    Some(SourceError::Unrecognised {
        path: input.to_owned(),
        hint: format!(
            "nothing readable as Cloud Logging entries: all {} entries refused, {n} as `{reason}`{first}{hint}",
            c.malformed
        ),
    })
}

async fn run_live(
    settings: Arc<Settings>,
    clock: Clock,
    github_token: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary, AppError> {
    let subscription = settings.pubsub.subscription.clone().ok_or_else(|| {
        AppError::Config("pubsub.subscription: required for `run` (with pubsub.project)".into())
    })?;
    let (observe, background) = observe::start(&settings, clock.clone())
        .await
        .map_err(|e| AppError::Config(e.to_string()))?;
    console::say(format_args!(
        "metrics on http://{}/metrics",
        background.metrics_addr
    ));
    let emulator = std::env::var("PUBSUB_EMULATOR_HOST").ok();
    let source = PubSubSource {
        endpoint: Endpoint::choose(&settings.pubsub, emulator.as_deref()),
        settings: settings.pubsub.clone(),
        subscription,
        readiness: observe.readiness.clone(),
    };
    let mut wiring = Wiring::new(
        settings.clone(),
        DirWorklog::new(&settings.worklog_dir),
        clock,
    );

    // The shutdown signal, watched by the standby loop and then by the source.
    let (stop_tx, mut stopped) = tokio::sync::watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let signal = stop_tx.clone();
    tokio::spawn(async move {
        shutdown.await;
        signal.send_replace(true);
    });
    let Some(r) = &settings.state.redis else {
        wiring.checkpoints = Some(Arc::new(FileCheckpoint::new(&settings.live.checkpoint)));
        wiring.readiness = observe.readiness.clone();
        wiring.alerts = observe.alerts.clone();
        let wiring = wiring.with_github(github_token)?;
        drop(observe);
        let result = wiring.drive(source, stopping(stopped)).await;
        background.stop().await;
        return result;
    };
    // Several replicas: each pulls and relays into Redis; the lease holder counts.
    let store = Arc::new(RedisCheckpoint::new(r)?);
    let relay =
        Relay::new(r, &store).map_err(|e| AppError::Config(format!("state.redis_url: {e}")))?;
    let relay = Arc::new(relay.with_readiness(observe.readiness.clone()));
    let (tx, rx) = mpsc::channel::<Batch>(BATCH_QUEUE);
    let mut pull_stop = stopped.clone();
    let stop_all = stop_tx.clone();
    let pulling = tokio::spawn(async move {
        let pulled = source
            .run(tx, async move {
                let _ = pull_stop.wait_for(|s| *s).await;
            })
            .await;
        // A subscription refused for good stops the whole replica (exit 3).
        stop_tx.send_replace(true);
        pulled
    });
    let relaying = tokio::spawn(relay::relay(relay.clone(), rx, stopped.clone()));
    // Everything the holder needs is built now: a bad setting stops a standby at once.
    wiring.github_places = Some(GithubPlaces {
        outbox: Arc::new(store.blob("github-outbox")),
        index: Arc::new(store.blob("github-index")),
    });
    wiring.checkpoints = Some(store.clone());
    wiring.readiness = observe.readiness.clone();
    wiring.alerts = observe.alerts.clone();
    let readiness = observe.readiness.clone();
    drop(observe);
    let wiring = wiring.with_github(github_token);
    let held = match &wiring {
        Ok(_) => lease::acquire(&store, &readiness, &mut stopped).await,
        Err(_) => None,
    };
    let result = match (wiring, held) {
        (Err(e), _) => Err(e),
        (Ok(_), None) => Ok(Summary::default()),
        (Ok(wiring), Some(_)) => {
            let held = lease::Held::keep(store.clone());
            let source = RelaySource {
                relay,
                store,
                max_unsettled: settings.pubsub.allowance(),
            };
            let result = wiring.drive(source, stopping(stopped)).await;
            held.release().await;
            result
        }
    };
    // The counting ended (or never began): pulling and relaying end with it.
    stop_all.send_replace(true);
    let pulled = join_source(pulling).await;
    if tokio::time::timeout(DRAIN, relaying).await.is_err() {
        tracing::warn!("relaying to Redis did not finish in time; Pub/Sub redelivers what it held");
    }
    background.stop().await;
    let summary = result?;
    pulled?;
    Ok(summary)
}

/// Resolves once the shutdown signal has been sent.
async fn stopping(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
    console::say("stopping: draining in-flight messages, writing the last checkpoint");
}

/// One run's stages, before they start. Tests build one with fakes (a fake source, a memory
/// checkpoint, a paused clock) and call [`Wiring::drive`].
pub struct Wiring {
    pub settings: Arc<Settings>,
    pub worklog: DirWorklog,
    pub clock: Clock,
    /// `None` for a replay: nothing to make durable.
    pub checkpoints: Option<Arc<dyn CheckpointStore>>,
    pub readiness: Readiness,
    pub alerts: Option<AlertHandle>,
    pub github: Option<AnyIssueSink>,
    /// Where a live GitHub stage keeps its outbox and index; `None`: files.
    pub github_places: Option<GithubPlaces>,
}

impl Wiring {
    pub fn new(settings: Arc<Settings>, worklog: DirWorklog, clock: Clock) -> Wiring {
        Wiring {
            settings,
            worklog,
            clock,
            checkpoints: None,
            readiness: Readiness::new(),
            alerts: None,
            github: None,
            github_places: None,
        }
    }

    /// The GitHub stage if `[github]` is configured: on GitHub with a token (`GITHUB_TOKEN`,
    /// else `github.token_file`), a dry run without one.
    pub fn with_github(mut self, env_token: Option<String>) -> Result<Wiring, AppError> {
        let Some(g) = &self.settings.github else {
            return Ok(self);
        };
        let token = Token::resolve(env_token, g)
            .map_err(|e| AppError::Config(format!("github.token_file: {e}")))?;
        let places = self.github_places.take();
        let sink = AnyIssueSink::new(g, token, self.worklog.dir(), places)
            .map_err(|e| AppError::Config(format!("github: {e}")))?;
        self.github = Some(sink);
        Ok(self)
    }

    /// Runs `source` through the driver until it ends, then drains every stage in order.
    pub async fn drive(
        self,
        source: impl Source,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Summary, AppError> {
        let mut checkpoint = match &self.checkpoints {
            Some(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.load())
                    .await
                    .map_err(|e| AppError::Internal(e.to_string()))??
            }
            None => None,
        };
        let mut alerts_committed = 0;
        if let (Some(alerts), Some(_)) = (&self.alerts, &self.checkpoints) {
            // Live alerts survive a restart; a fire goes out only once a checkpoint holds it,
            // so a crash in between never pages twice.
            if let Some(saved) = checkpoint.as_mut().and_then(|c| c.alerts.take()) {
                alerts_committed = saved.seq;
                alerts.restore(saved);
            }
            alerts.hold_fires_until_committed();
        }
        self.readiness.set_checkpoint_loaded(true);
        let input = source.boundedness();
        let durable = self.checkpoints.is_some();
        let consumer = Consumer::new(self.settings.clone(), input, checkpoint, durable);
        let mut outputs = WindowOutputs::new(self.worklog.clone());
        outputs.alerts = self.alerts;
        let issues = self.github.map(|sink| {
            let (tx, rx) = mpsc::channel(github::WINDOW_QUEUE);
            outputs.github = Some(GithubHandoff {
                outbox: sink.outbox(),
                min_priority: self.settings.issue_min_priority,
                windows: tx,
            });
            tokio::spawn(github::run(sink, rx, self.worklog.clone()))
        });
        let (tx, rx) = mpsc::channel::<Batch>(BATCH_QUEUE);
        let source = tokio::spawn(source.run(tx, shutdown));
        let driver = Driver {
            settings: self.settings,
            consumer,
            checkpoints: self.checkpoints,
            outputs,
            clock: self.clock,
            readiness: self.readiness,
            alerts_committed,
        };
        let (outputs, driven) = driver.run(rx).await;
        let source = join_source(source).await;
        // Dropping the GitHub hand-off closes the stage's window channel; dropping the alert
        // handle lets the alert stage drain and end.
        let WindowOutputs {
            written,
            briefs,
            github: handoff,
            alerts,
            worklog: _,
            field_warnings,
        } = outputs;
        drop((handoff, alerts));
        // A replay read to its end waits for GitHub however long it takes; a run (or an
        // interrupted replay) gives it the drain time, then leaves the rest in the outbox.
        let patient =
            input == Boundedness::Bounded && !source.as_ref().is_ok_and(|s| s.interrupted);
        let github = match issues {
            Some(task) => join_github(task, (!patient).then_some(DRAIN)).await?,
            None => None,
        };
        let drive = driven.map_err(|e| match e {
            DriveError::Checkpoint(c) => AppError::from(c),
            DriveError::Output(w) => AppError::Worklog(w),
        })?;
        Ok(Summary {
            source: source?,
            drive,
            written,
            windows: briefs,
            field_warnings,
            github,
        })
    }
}

/// The source flushes its acks once the driver settled them; it may not take forever.
async fn join_source(
    task: tokio::task::JoinHandle<Result<SourceStats, crate::source::SourceError>>,
) -> Result<SourceStats, AppError> {
    match tokio::time::timeout(DRAIN, task).await {
        Ok(joined) => joined
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(AppError::Source),
        Err(_) => {
            tracing::warn!("the source did not finish in time (Pub/Sub did not confirm the last acks); they may be redelivered, and are recognised");
            Ok(SourceStats::default())
        }
    }
}

/// The GitHub stage ends when its window channel closes (the outputs are dropped by now);
/// what it cannot send in time waits in its outbox for the next start.
async fn join_github(
    task: tokio::task::JoinHandle<Result<GithubRun, WorklogError>>,
    within: Option<Duration>,
) -> Result<Option<GithubRun>, AppError> {
    let joined = match within {
        Some(d) => tokio::time::timeout(d, task).await,
        None => Ok(task.await),
    };
    match joined {
        Ok(joined) => Ok(Some(
            joined.map_err(|e| AppError::Internal(e.to_string()))??,
        )),
        Err(_) => {
            tracing::warn!(
                "GitHub sync still busy at shutdown; the next start resumes from the outbox"
            );
            Ok(None)
        }
    }
}

fn progress_bar(enabled: bool, len: Option<u64>) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let (bar, template) = match len {
        Some(len) => (
            ProgressBar::new(len),
            "{spinner} replaying [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        ),
        None => (
            ProgressBar::no_length(),
            "{spinner} replaying {bytes} ({bytes_per_sec})",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests;
