//! The process's one TLS crypto provider: ring, installed before any TLS client is built.
//!
//! Every HTTPS and gRPC client here (Pub/Sub and its auth, reqwest for alerts, octocrab for
//! GitHub) is compiled without a provider of its own, so that only ring is built (aws-lc is a
//! C/CMake build that cost minutes of a cold build). Such clients take rustls's process-wide
//! default and panic when there is none; Google's service-account signing takes its key
//! provider from the same default. Each place that builds a client calls [`install`] first.

use std::sync::Once;

/// Installs ring as rustls's process default, once; a no-op when this process (a test, an
/// embedding program) already installed one, which is then what every client uses.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another default is already in place: keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
