//! A receiver that records: every delivered post, and when each attempt happened; the first
//! `fail_first` attempts fail (retryably). For tests (feature `test-util`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{AlertSink, DeliveryError};
use crate::alerting::AlertPost;

/// Test fake: records every delivered post; the first `fail_first` attempts fail (retryably).
#[derive(Clone, Default)]
pub struct RecordingSink {
    pub posts: Arc<Mutex<Vec<AlertPost>>>,
    /// When each attempt happened (tokio time), delivered or not.
    pub attempts: Arc<Mutex<Vec<tokio::time::Instant>>>,
    fail_first: Arc<AtomicUsize>,
}

impl RecordingSink {
    pub fn failing_first(n: usize) -> RecordingSink {
        let s = RecordingSink::default();
        s.fail_first.store(n, Ordering::SeqCst);
        s
    }

    pub fn delivered(&self) -> Vec<AlertPost> {
        self.posts.lock().map(|p| p.clone()).unwrap_or_default()
    }

    pub fn attempt_times(&self) -> Vec<tokio::time::Instant> {
        self.attempts.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

impl AlertSink for RecordingSink {
    fn receiver(&self) -> &'static str {
        "recording"
    }

    async fn deliver(&self, posts: &[AlertPost]) -> Result<(), DeliveryError> {
        if let Ok(mut a) = self.attempts.lock() {
            a.push(tokio::time::Instant::now());
        }
        let failing = self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(DeliveryError::Retryable("told to fail".into()));
        }
        if let Ok(mut p) = self.posts.lock() {
            p.extend_from_slice(posts);
        }
        Ok(())
    }
}
