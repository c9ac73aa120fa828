//! The `log-gardener` command line: parse flags, set up tracing, load settings, call `app`.
//!
//! Exit codes: 0 success (malformed entries are reported in the worklog, not fatal);
//! 1 internal error; 2 bad command line or configuration; 3 input unreadable;
//! 4 worklog unwritable; 130 interrupted before the input was fully read.
//! `run` also: 3 the subscription cannot be pulled or the checkpoint read; 5 the last
//! checkpoint could not be written (unacked messages are redelivered on the next start).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use log_gardener::app::live::LiveError;
use log_gardener::app::{self, AppError, ReplayOptions};
use log_gardener::config::Settings;
use log_gardener::sinks::github::{AnyIssueSink, Token};

/// The binary's allocator: the pipeline allocates a few small strings per entry, and
/// mimalloc makes that markedly cheaper than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use log_gardener::live::{CheckpointError, FileCheckpoint};
use log_gardener::sinks::worklog::DirWorklog;
use log_gardener::source::pubsub::{Endpoint, PubSubSource};

#[derive(Parser)]
#[command(
    name = "log-gardener",
    version,
    about = "Tends a backend's Cloud Logging entries: clusters, hourly windows, priorities, worklogs."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pipeline over a `gcloud logging read --format=json` export (or JSON Lines, or
    /// `-` for stdin) and write one worklog per one-hour window.
    Replay {
        file: PathBuf,
        /// TOML configuration (overrides the built-in defaults).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Directory for the worklogs [default: report.dir, "worklogs"].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Streaming-pull the Pub/Sub subscription of `[pubsub]`, count continuously, write a
    /// worklog as each window closes. Stops cleanly on SIGTERM / Ctrl-C.
    Run {
        /// TOML configuration (overrides the built-in defaults).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Read one message per line on stdin, write `cluster_id<TAB>template` per line.
    Parse,
    /// Validate a configuration file and print what it sets.
    CheckConfig { file: PathBuf },
    /// Write a realistic example export (what the quick start replays).
    Synth {
        /// Hours of logs.
        #[arg(long, default_value_t = 2)]
        hours: u32,
        /// Seed for ids, times and values.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First hour, RFC 3339.
        #[arg(long, default_value = "2025-09-15T19:00:00Z")]
        start: chrono::DateTime<chrono::Utc>,
        /// JSON Lines instead of a gcloud-style JSON array.
        #[arg(long)]
        jsonl: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Both rustls providers are compiled in (octocrab: ring, google-cloud-pubsub: aws-lc); with
    // two, rustls cannot pick one itself, so any TLS client built without an explicit provider
    // would panic. Choose once, before any client exists. Err = one was installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Replay { file, config, out } => replay(file, config, out),
        Command::Run { config } => run(config),
        Command::Parse => parse(),
        Command::CheckConfig { file } => check_config(file),
        Command::Synth {
            hours,
            seed,
            start,
            jsonl,
        } => {
            let entries = log_gardener::synth::generate(start, hours, seed);
            let text = if jsonl {
                log_gardener::synth::json_lines(&entries)
            } else {
                log_gardener::synth::gcloud_export(&entries)
            };
            print_or_exit(std::io::stdout().lock().write_all(text.as_bytes()))
        }
    }
}

fn load(config: Option<&std::path::Path>) -> Result<Settings, ExitCode> {
    Settings::load(config).map_err(|e| {
        eprintln!("error: configuration: {e}");
        ExitCode::from(2)
    })
}

/// The GitHub token: `GITHUB_TOKEN`, else `github.token_file`; never printed.
fn github_token(settings: &Settings) -> Result<Option<Token>, ExitCode> {
    let Some(g) = &settings.github else {
        return Ok(None);
    };
    Token::resolve(std::env::var("GITHUB_TOKEN").ok(), g).map_err(|e| {
        eprintln!("error: configuration: github.token_file: {e}");
        ExitCode::from(2)
    })
}

/// The GitHub stage of `run`, if `[github]` is configured (dry run without a token).
fn issue_sink(settings: &Settings) -> Result<Option<AnyIssueSink>, ExitCode> {
    let Some(g) = &settings.github else {
        return Ok(None);
    };
    let token = github_token(settings)?;
    AnyIssueSink::new(g, token, settings.issue_min_priority, &settings.worklog_dir)
        .map(Some)
        .map_err(|e| {
            eprintln!("error: configuration: github: {e}");
            ExitCode::from(2)
        })
}

fn replay(file: PathBuf, config: Option<PathBuf>, out: Option<PathBuf>) -> ExitCode {
    let settings = match load(config.as_deref()) {
        Ok(s) => Arc::new(s),
        Err(code) => return code,
    };
    let github_token = match github_token(&settings) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let opts = ReplayOptions {
        input: file,
        out: out.unwrap_or_else(|| settings.worklog_dir.clone()),
        progress: std::io::stderr().is_terminal(),
        github_token,
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match runtime.block_on(app::replay(settings, opts, ctrl_c)) {
        Ok(s) => {
            print_summary(&s);
            if s.file.interrupted {
                ExitCode::from(130)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                AppError::Input(_) => 3,
                AppError::Worklog(_) => 4,
                AppError::Github(_) => 2,
                AppError::Internal(_) => 1,
            })
        }
    }
}

/// What a replay did, on stderr: totals, then a line per window (the last few of a long run).
fn print_summary(s: &app::ReplaySummary) {
    const SHOWN: usize = 24;
    let c = s.counts;
    let dir = s.written.first().and_then(|p| p.parent());
    eprintln!(
        "read {} entries ({} malformed); {} counted once split tracebacks were stitched; {} windows → {} files in {}",
        c.received, c.malformed, c.counted, s.reports.len(), s.written.len(),
        dir.map_or_else(|| "-".into(), |p| p.display().to_string())
    );
    if s.reports.len() > SHOWN {
        eprintln!("  … {} earlier windows", s.reports.len() - SHOWN);
    }
    for r in s.reports.iter().skip(s.reports.len().saturating_sub(SHOWN)) {
        let top = r.clusters.first().map(|c| {
            format!(
                ", top: [{}] {}",
                c.priority,
                log_gardener::report::readable(&c.template)
            )
        });
        eprintln!(
            "  {} → {}: {} entries, {} clusters{}",
            r.window.start,
            r.window.end,
            r.totals.entries,
            r.clusters.len(),
            top.unwrap_or_default()
        );
    }
    if let Some(last) = s.github.last() {
        let actions: usize = s.github.iter().map(|g| g.sent.len()).sum();
        let (mode, verb) = if last.dry_run {
            (" (dry run: nothing sent)", "planned")
        } else {
            ("", "sent")
        };
        eprintln!(
            "  GitHub {}{mode}: {actions} actions {verb}, {} clusters left in the outbox",
            last.repo, last.deferred
        );
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(1)
        })
}

fn run(config: Option<PathBuf>) -> ExitCode {
    let settings = match load(config.as_deref()) {
        Ok(s) => Arc::new(s),
        Err(code) => return code,
    };
    let Some(subscription) = settings.pubsub.subscription.clone() else {
        eprintln!(
            "error: configuration: pubsub.subscription: required for `run` (with pubsub.project)"
        );
        return ExitCode::from(2);
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let emulator = std::env::var("PUBSUB_EMULATOR_HOST").ok();
    let source = PubSubSource {
        endpoint: Endpoint::choose(&settings.pubsub, emulator.as_deref()),
        settings: settings.pubsub.clone(),
        subscription,
    };
    let checkpoints = Arc::new(FileCheckpoint::new(&settings.live.checkpoint));
    let sink = DirWorklog::new(&settings.worklog_dir);
    let issues = match issue_sink(&settings) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let outcome = runtime.block_on(async {
        let (observe, background) = match app::observe::start(&settings).await {
            Ok(started) => started,
            Err(e) => {
                eprintln!("error: configuration: {e}");
                return Err(ExitCode::from(2));
            }
        };
        eprintln!("metrics on http://{}/metrics", background.metrics_addr);
        let stop = async {
            terminated().await;
            eprintln!("stopping: draining in-flight messages, writing the last checkpoint");
        };
        let result = app::live::run(
            settings.clone(),
            source,
            checkpoints,
            sink,
            issues,
            observe,
            stop,
        )
        .await;
        background.stop().await;
        Ok(result)
    });
    let outcome = match outcome {
        Ok(result) => result,
        Err(code) => return code,
    };
    match outcome {
        Ok(s) => {
            eprintln!(
                "run: {} messages ({} redeliveries), {} entries counted, {} malformed, {} windows → {} files; {} acked",
                s.stats.delivered, s.stats.duplicates, s.counts.counted, s.counts.malformed,
                s.reports.len(), s.written.len(), s.stats.acked
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                LiveError::Source(_) => 3,
                LiveError::Checkpoint(CheckpointError::Unreadable { .. }) => 3,
                LiveError::Checkpoint(CheckpointError::Write { .. }) => 5,
                LiveError::Worklog(_) => 4,
                LiveError::Internal(_) => 1,
            })
        }
    }
}

/// SIGTERM (Cloud Run, Kubernetes, systemd) or SIGINT (Ctrl-C).
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn parse() -> ExitCode {
    let config = log_gardener::fingerprint::FingerprintConfig::default();
    let input = std::io::BufReader::with_capacity(1 << 16, std::io::stdin().lock());
    let parsed = match log_gardener::fingerprint::parse_reader(input, &config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot read stdin: {e}");
            return ExitCode::from(3);
        }
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if let Err(e) = parsed.write_to(&mut out) {
        return print_or_exit(Err(e));
    }
    print_or_exit(out.flush())
}

fn check_config(file: PathBuf) -> ExitCode {
    match load(Some(&file)) {
        Ok(s) => {
            let w = &s.window;
            println!(
                "{}: ok. window {}s, hop {}s, bucket {}s, lateness {}s; pubsub {}; {} rules: {}",
                file.display(),
                w.length.num_seconds(),
                w.hop.num_seconds(),
                w.bucket.num_seconds(),
                w.allowed_lateness.num_seconds(),
                s.pubsub
                    .subscription
                    .as_deref()
                    .unwrap_or("(no subscription)"),
                s.escalation.rules.len(),
                s.escalation
                    .rules
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            match &s.github {
                Some(g) => println!(
                    "github: {}/{} at {}, label {:?}, issues for {} and above",
                    g.owner, g.repo, g.api_url, g.label, s.issue_min_priority
                ),
                None => println!("github: off (github.repo is empty)"),
            }
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn print_or_exit(r: std::io::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write output: {e}");
            ExitCode::from(1)
        }
    }
}
