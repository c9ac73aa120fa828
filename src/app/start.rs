//! The process's entry into [`run`](super::run): a runtime, the shutdown signals, one
//! `block_on`. Non-generic on purpose: the whole async app is instantiated here, in the
//! library, once, instead of in every binary that calls it (the binary's build was a third of
//! the cold release build).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{run, AppError, Command, Summary};
use crate::config::Settings;

type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `command` on a new runtime until it ends or SIGTERM or Ctrl-C arrives: the two stop
/// `replay` and `run` alike (Cloud Run, Kubernetes, systemd and `timeout` send SIGTERM), so
/// what was read is reported either way. Everything async is built inside the runtime, and
/// the signal handlers are installed before anything starts, so a signal at any moment is a
/// clean stop.
pub fn block_on(settings: Arc<Settings>, command: Command) -> Result<Summary, AppError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| AppError::Internal(format!("cannot start the async runtime: {e}")))?;
    let outcome = runtime.block_on(async { run(settings, command, terminate()).await });
    // A replay of stdin stopped by a signal leaves its reader thread in a read only the writer
    // can end; everything is reported by now, so do not wait for it.
    runtime.shutdown_background();
    outcome
}

/// Ctrl-C, registered when called (inside the runtime), awaited later.
fn ctrl_c() -> Signal {
    Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// SIGTERM or SIGINT.
#[cfg(unix)]
fn terminate() -> Signal {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => Box::pin(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }),
        _ => ctrl_c(),
    }
}

#[cfg(not(unix))]
fn terminate() -> Signal {
    ctrl_c()
}
