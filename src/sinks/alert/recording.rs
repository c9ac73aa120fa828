//! A receiver that records: every delivered post, and when each attempt happened; the first
//! `fail_first` attempts fail (retryably). For tests (feature `test-util`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{AlertSink, DeliveryError};
use crate::alerting::AlertPost;

/// Test fake: records every delivered post; the first `fail_first` attempts fail (retryably),
/// and so does every attempt while it is `down`.
#[derive(Clone, Default)]
pub struct RecordingSink {
    pub posts: Arc<Mutex<Vec<AlertPost>>>,
    /// When each attempt happened (tokio time), delivered or not.
    pub attempts: Arc<Mutex<Vec<tokio::time::Instant>>>,
    fail_first: Arc<AtomicUsize>,
    down: Arc<std::sync::atomic::AtomicBool>,
    /// Whether it only wants what a chat wants (fires and resolutions).
    chat: bool,
}

impl RecordingSink {
    pub fn failing_first(n: usize) -> RecordingSink {
        let s = RecordingSink::default();
        s.fail_first.store(n, Ordering::SeqCst);
        s
    }

    /// A receiver that, like the webhook, takes only fires and resolutions.
    pub fn chat() -> RecordingSink {
        RecordingSink {
            chat: true,
            ..RecordingSink::default()
        }
    }

    /// Every attempt fails while down (an outage).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn delivered(&self) -> Vec<AlertPost> {
        self.posts.lock().map(|p| p.clone()).unwrap_or_default()
    }

    pub fn attempt_times(&self) -> Vec<tokio::time::Instant> {
        self.attempts.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

impl AlertSink for RecordingSink {
    fn wants(&self, post: &AlertPost) -> bool {
        !self.chat || post.change != crate::alerting::Change::Reposted
    }

    fn batch_max(&self) -> usize {
        if self.chat {
            1
        } else {
            usize::MAX
        }
    }

    fn receiver(&self) -> String {
        "recording".into()
    }

    async fn deliver(&self, posts: &[AlertPost]) -> Result<(), DeliveryError> {
        if let Ok(mut a) = self.attempts.lock() {
            a.push(tokio::time::Instant::now());
        }
        let failing = self.down.load(Ordering::SeqCst)
            || self
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
