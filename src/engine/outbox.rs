//! Delivers outbox rows through their connectors, with retries and exponential backoff.
//! A row is marked done only after its connector accepted it; the idempotency key travels with
//! it so a connector that can deduplicate (Matrix txn id, Mastodon Idempotency-Key, Message-ID)
//! turns a redelivery after a crash into a no-op.

use crate::store::{OutboxMessage, Store, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: server down, timeout, rate limit.
    #[error("temporary: {0}")]
    Transient(String),
    /// Retrying cannot help: rejected, malformed.
    #[error("permanent: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait Outbound: Send + Sync {
    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError>;
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: i32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a claimed row is reserved before another worker may take it.
    pub lease: Duration,
}

impl RetryPolicy {
    /// Delay before the next attempt after `attempts` failures: doubling, capped.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let doublings = attempts.saturating_sub(1).clamp(0, 20) as u32;
        self.initial_backoff
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max_backoff)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerReport {
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
}

pub struct OutboxWorker {
    store: Arc<dyn Store>,
    connectors: HashMap<String, Arc<dyn Outbound>>,
    policy: RetryPolicy,
    signal: Arc<Notify>,
}

impl OutboxWorker {
    pub fn new(store: Arc<dyn Store>, policy: RetryPolicy, signal: Arc<Notify>) -> Self {
        OutboxWorker {
            store,
            connectors: HashMap::new(),
            policy,
            signal,
        }
    }

    pub fn register(&mut self, name: &str, outbound: Arc<dyn Outbound>) {
        self.connectors.insert(name.to_string(), outbound);
    }

    /// Delivers everything due now for the registered connectors.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<WorkerReport, StoreError> {
        let mut report = WorkerReport::default();
        let lease =
            chrono::Duration::from_std(self.policy.lease).unwrap_or(chrono::Duration::seconds(60));
        let mut names: Vec<&String> = self.connectors.keys().collect();
        names.sort();
        for name in names {
            loop {
                let batch = self.store.claim_outbox(name, now, lease, 32).await?;
                if batch.is_empty() {
                    break;
                }
                for message in batch {
                    self.deliver_one(&self.connectors[name], &message, now, &mut report)
                        .await?;
                }
            }
        }
        Ok(report)
    }

    async fn deliver_one(
        &self,
        outbound: &Arc<dyn Outbound>,
        message: &OutboxMessage,
        now: DateTime<Utc>,
        report: &mut WorkerReport,
    ) -> Result<(), StoreError> {
        let span = tracing::info_span!("outbox", id = message.id, key = %message.idempotency_key, connector = %message.connector);
        let _guard = span.enter();
        match outbound.deliver(message).await {
            Ok(()) => {
                self.store
                    .outbox_delivered(message.id, Utc::now().max(now))
                    .await?;
                report.delivered += 1;
            }
            Err(DeliveryError::Transient(reason))
                if message.attempts < self.policy.max_attempts =>
            {
                let delay = self.policy.backoff(message.attempts);
                tracing::warn!(attempts = message.attempts, retry_in_ms = delay.as_millis() as u64, %reason, "delivery failed, will retry");
                let next =
                    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(1));
                self.store.outbox_retry(message.id, &reason, next).await?;
                report.retried += 1;
            }
            Err(error) => {
                tracing::error!(attempts = message.attempts, %error, "delivery abandoned");
                self.store
                    .outbox_dead(message.id, &error.to_string())
                    .await?;
                report.dead += 1;
            }
        }
        Ok(())
    }

    /// Runs until `shutdown` turns true: delivers, then sleeps until woken or the next row is due.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let mut failures = 0u32;
        loop {
            let wait = match self.run_once(Utc::now()).await {
                Ok(_) => {
                    failures = 0;
                    match self.store.outbox_next_due().await {
                        Ok(Some(due)) => (due - Utc::now())
                            .to_std()
                            .unwrap_or(Duration::ZERO)
                            .clamp(Duration::from_millis(20), Duration::from_secs(30)),
                        _ => Duration::from_secs(30),
                    }
                }
                Err(error) => {
                    failures += 1;
                    let wait = self.policy.backoff(failures as i32);
                    tracing::error!(%error, retry_in_ms = wait.as_millis() as u64, "outbox worker cannot reach the store");
                    wait
                }
            };
            tokio::select! {
                _ = self.signal.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                // Deliver what the last inbound items queued before stopping.
                if let Err(error) = self.run_once(Utc::now()).await {
                    tracing::error!(%error, "final outbox pass failed");
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            lease: Duration::from_secs(60),
        };
        let delays: Vec<u64> = (1..=7).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(delays, vec![2, 4, 8, 16, 32, 60, 60]);
    }
}
