//! What the integration tests share, in one place: the Pub/Sub emulator and `run` processes
//! (`pubsub`), real Prometheus and Alertmanager processes and a webhook receiver (`servers`),
//! a stateful GitHub issues API on wiremock (`github`), the real Redis (`redis`), and the
//! container environment
//! Terraform computes (`terraform`), the Loghub-2k lines shipped under tests/data (`loghub`),
//! and the no-leak detector (`leaks`). Each test binary compiles all of it and uses a part.
#![allow(dead_code)]

pub mod github;
pub mod leaks;
pub mod loghub;
pub mod pubsub;
pub mod redis;
pub mod servers;
pub mod terraform;
