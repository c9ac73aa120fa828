//! The `log-gardener` command line: parse flags, set up tracing, load settings, call the
//! library (`app::block_on` for `replay` and `run`). Exit codes are documented on
//! `app::AppError::exit_code` and in the README.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use log_gardener::app::console::say;
use log_gardener::app::{self, Command as AppCommand};
use log_gardener::config::Settings;

/// The binary's allocator: the pipeline allocates a few small strings per entry, and
/// mimalloc makes that markedly cheaper than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// `-` for stdin) and write one worklog per one-hour window. SIGTERM or Ctrl-C stops it
    /// with what was read reported (exit 130).
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
    /// Score the built-in fingerprinter on labelled logs in the Loghub layout (GA, PA, FGA, FTA
    /// per data set and averaged), e.g. `log-gardener eval tests/data/loghub-2k`.
    Eval(log_gardener::eval::EvalArgs),
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
        /// Add the failure scenarios to the first hour: a crash loop, a database outage and
        /// an upstream 503 burst.
        #[arg(long)]
        incidents: bool,
        /// Add, to every hour, shapes the background lacks: an image scanner's findings, Node's
        /// unhandled rejection and a Python exception group split per line, a load balancer's
        /// 502s, thirty unrelated errors on one instance.
        #[arg(long, conflicts_with = "incidents")]
        shapes: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        // Every log line leaves through the redactor, at every level.
        .with_writer(|| log_gardener::redact::InertWriter(std::io::stderr()))
        // A log line that cannot be written is dropped: the subscriber's own report of it
        // would go to the same failing stderr with `eprintln!`, which panics.
        .log_internal_errors(false)
        .with_ansi(false)
        .init();
    match cli.command {
        Command::Replay { file, config, out } => with_settings(config, |s| {
            let out = out.unwrap_or_else(|| s.worklog_dir.clone());
            let progress = std::io::stderr().is_terminal();
            let cmd = AppCommand::Replay {
                input: file,
                out,
                progress,
            };
            run_app(s, cmd)
        }),
        Command::Run { config } => with_settings(config, |s| run_app(s, AppCommand::Run)),
        Command::Parse => parse(),
        Command::Eval(args) => ExitCode::from(log_gardener::eval::run(&args)),
        Command::CheckConfig { file } => with_settings(Some(file.clone()), |s| {
            let mut out = std::io::stdout().lock();
            print_or_exit(writeln!(out, "{}", app::describe(&s, &file)).and_then(|()| out.flush()))
        }),
        Command::Synth {
            hours,
            seed,
            start,
            jsonl,
            incidents,
            shapes,
        } => {
            let entries = if incidents {
                log_gardener::synth::incidents::incident_hours(start, hours, seed)
            } else if shapes {
                log_gardener::synth::shapes::shape_hours(start, hours, seed)
            } else {
                log_gardener::synth::generate(start, hours, seed)
            };
            let text = if jsonl {
                log_gardener::synth::json_lines(&entries)
            } else {
                log_gardener::synth::gcloud_export(&entries)
            };
            print_or_exit(std::io::stdout().lock().write_all(text.as_bytes()))
        }
    }
}

fn with_settings(config: Option<PathBuf>, f: impl FnOnce(Arc<Settings>) -> ExitCode) -> ExitCode {
    match Settings::load_checked(config.as_deref()) {
        Ok(s) => f(Arc::new(s)),
        Err(e) => {
            say(format_args!("error: configuration: {e}"));
            ExitCode::from(2)
        }
    }
}

/// Runs `replay` or `run` (the runtime and the signals are the library's) and maps what
/// happened to the exit code.
fn run_app(settings: Arc<Settings>, cmd: AppCommand) -> ExitCode {
    let replay = matches!(cmd, AppCommand::Replay { .. });
    match app::block_on(settings, cmd) {
        Ok(s) => {
            for line in s.describe(replay) {
                say(line);
            }
            if s.source.interrupted {
                ExitCode::from(130)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            say(format_args!("error: {e}"));
            ExitCode::from(e.exit_code())
        }
    }
}

fn parse() -> ExitCode {
    let config = log_gardener::fingerprint::FingerprintConfig::default();
    let input = std::io::BufReader::with_capacity(1 << 16, std::io::stdin().lock());
    let parsed = match log_gardener::fingerprint::parse_reader(input, &config) {
        Ok(p) => p,
        Err(e) => {
            say(format_args!("error: cannot read stdin: {e}"));
            return ExitCode::from(3);
        }
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if let Err(e) = parsed.write_to(&mut out) {
        return print_or_exit(Err(e));
    }
    print_or_exit(out.flush())
}

/// The exit code of a command whose product is its stdout (`check-config`, `parse`, `synth`):
/// 1 when it cannot be written (a full disk), 0 when the reader went away (`| head`).
fn print_or_exit(r: std::io::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            say(format_args!("error: cannot write output: {e}"));
            ExitCode::from(1)
        }
    }
}
