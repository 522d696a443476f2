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
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: server down, timeout.
    #[error("temporary: {0}")]
    Transient(String),
    /// Worth retrying, not before `after` (a 429 with `Retry-After`, a rate-limit reset).
    #[error("rate limited for {}s: {reason}", after.as_secs())]
    RetryAfter { after: Duration, reason: String },
    /// Retrying cannot help: rejected, malformed.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// What a connector reports once a row is delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// What the outside system gave back that people should see (the URLs of published
    /// posts), in the connector's own format; handed to the [`ReceiptSink`] before the row is
    /// marked done.
    pub receipt: Option<String>,
}

/// Lets a connector record how far a delivery got, before and after each outside call (the
/// posts of a thread already up, a call whose outcome is unknown). The next attempt reads it
/// back in [`OutboxMessage::progress`], so a retry resumes instead of repeating.
#[async_trait]
pub trait Progress: Send + Sync {
    async fn save(&self, progress: &str) -> Result<(), DeliveryError>;
}

/// Where receipts go: the engine reports them where the row's request came from. It must be
/// idempotent per row (a crash after it and before the row is marked done repeats it).
#[async_trait]
pub trait ReceiptSink: Send + Sync {
    async fn delivered(
        &self,
        message: &OutboxMessage,
        receipt: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// A row given up on, with the connector's words: told to whoever asked for it.
    async fn failed(
        &self,
        _message: &OutboxMessage,
        _error: &str,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
pub trait Outbound: Send + Sync {
    async fn deliver(
        &self,
        message: &OutboxMessage,
        progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError>;

    /// Whether this instance can deliver now. A connector whose session lives on one instance
    /// only (a Matrix device on the leader) says no elsewhere, so that instance's worker leaves
    /// its rows to the one that can, instead of failing them.
    fn ready(&self) -> bool {
        true
    }
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Temporary failures are retried for this long after the first one, then the row is dead.
    pub retry_for: Duration,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a claimed row is reserved; the worker renews it while delivering.
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

    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(60))
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
    /// Names this worker's claims, so only it renews or settles them.
    id: String,
    receipts: Option<Arc<dyn ReceiptSink>>,
}

/// Saves progress on the row this worker holds.
struct RowProgress<'a> {
    store: &'a dyn Store,
    id: i64,
    worker: &'a str,
}

#[async_trait]
impl Progress for RowProgress<'_> {
    async fn save(&self, progress: &str) -> Result<(), DeliveryError> {
        match self
            .store
            .outbox_progress(self.id, self.worker, progress)
            .await
        {
            Ok(true) => Ok(()),
            // Another worker holds the row now: going on could send what it sends.
            Ok(false) => Err(DeliveryError::Transient(
                "outbox claim lost while delivering".into(),
            )),
            Err(error) => Err(DeliveryError::Transient(format!(
                "cannot record the delivery's progress: {error}"
            ))),
        }
    }
}

/// A name unique to this worker across processes and machines sharing one store.
fn worker_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{nanos:x}-{n}", std::process::id())
}

impl OutboxWorker {
    pub fn new(store: Arc<dyn Store>, policy: RetryPolicy, signal: Arc<Notify>) -> Self {
        OutboxWorker {
            store,
            connectors: HashMap::new(),
            policy,
            signal,
            id: worker_id(),
            receipts: None,
        }
    }

    /// Where receipts of delivered rows are reported.
    pub fn report_receipts(&mut self, sink: Arc<dyn ReceiptSink>) {
        self.receipts = Some(sink);
    }

    pub fn register(&mut self, name: &str, outbound: Arc<dyn Outbound>) {
        self.connectors.insert(name.to_string(), outbound);
    }

    /// Delivers everything due for the registered connectors, as of `now` plus the time this
    /// pass has taken: rows are claimed one at a time, each with a fresh lease, so a slow
    /// server never lets another worker take a row this one is still sending. Each connector's
    /// rows go out side by side with the others': a network that hangs until its timeout
    /// delays only its own rows.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<WorkerReport, StoreError> {
        let started = std::time::Instant::now();
        let clock = || {
            now + chrono::Duration::from_std(started.elapsed()).unwrap_or(chrono::Duration::zero())
        };
        let mut names: Vec<&String> = self.connectors.keys().collect();
        names.sort();
        let deliveries = names
            .into_iter()
            .filter(|name| self.connectors[*name].ready())
            .map(|name| async move {
                let mut report = WorkerReport::default();
                loop {
                    let claimed = self
                        .store
                        .claim_outbox(name, &self.id, clock(), self.policy.lease(), 1)
                        .await?;
                    let Some(message) = claimed.into_iter().next() else {
                        return Ok::<_, StoreError>(report);
                    };
                    let span = tracing::info_span!("outbox", id = message.id, key = %message.idempotency_key, connector = %message.connector, attempt = message.attempts);
                    self.deliver_one(&self.connectors[name], &message, &clock, &mut report)
                        .instrument(span)
                        .await?;
                }
            });
        let mut report = WorkerReport::default();
        for outcome in futures::future::join_all(deliveries).await {
            let one = outcome?;
            report.delivered += one.delivered;
            report.retried += one.retried;
            report.dead += one.dead;
        }
        Ok(report)
    }

    async fn deliver_one(
        &self,
        outbound: &Arc<dyn Outbound>,
        message: &OutboxMessage,
        clock: &impl Fn() -> DateTime<Utc>,
        report: &mut WorkerReport,
    ) -> Result<(), StoreError> {
        let progress = RowProgress {
            store: self.store.as_ref(),
            id: message.id,
            worker: &self.id,
        };
        let result = {
            let delivery = outbound.deliver(message, &progress);
            tokio::pin!(delivery);
            // The lease is renewed at a third of its length while the connector works.
            let mut renew =
                tokio::time::interval((self.policy.lease / 3).max(Duration::from_millis(10)));
            renew.tick().await;
            loop {
                tokio::select! {
                    result = &mut delivery => break result,
                    _ = renew.tick() => {
                        match self.store.outbox_renew(message.id, &self.id, clock() + self.policy.lease()).await {
                            Ok(true) => {}
                            Ok(false) => tracing::warn!("outbox claim lost while delivering"),
                            Err(error) => tracing::warn!(%error, "cannot renew the outbox claim"),
                        }
                    }
                }
            }
        };
        let now = clock();
        let settled = match result {
            Ok(delivered) => {
                if let (Some(sink), Some(receipt)) = (&self.receipts, &delivered.receipt) {
                    // Reported before the row is done: a crash in between redelivers the row,
                    // the connector finds its posts already up, and the report is deduplicated.
                    sink.delivered(message, receipt, now).await?;
                }
                self.store.outbox_delivered(message.id, now).await?;
                report.delivered += 1;
                true
            }
            Err(error @ (DeliveryError::Transient(_) | DeliveryError::RetryAfter { .. })) => {
                let (reason, asked_delay) = match error {
                    DeliveryError::RetryAfter { after, reason } => (reason, Some(after)),
                    DeliveryError::Transient(reason) | DeliveryError::Permanent(reason) => {
                        (reason, None)
                    }
                };
                let retry_for = chrono::Duration::from_std(self.policy.retry_for)
                    .unwrap_or(chrono::Duration::hours(72));
                let until = message.retry_until.unwrap_or(now + retry_for);
                if now < until {
                    // The server's own delay when it gave one, never sooner than our backoff.
                    let delay = self
                        .policy
                        .backoff(message.attempts)
                        .max(asked_delay.unwrap_or_default());
                    tracing::warn!(attempts = message.attempts, retry_in_ms = delay.as_millis() as u64, retry_until = %until, %reason, "delivery failed, will retry");
                    let next = now
                        + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(1));
                    report.retried += 1;
                    self.store
                        .outbox_retry(message.id, &self.id, &reason, next, until)
                        .await?
                } else {
                    tracing::error!(attempts = message.attempts, %reason, "delivery abandoned after retrying since the first failure");
                    report.dead += 1;
                    let error = format!("temporary: {reason}");
                    self.report_failure(message, &error, now).await;
                    self.store.outbox_dead(message.id, &self.id, &error).await?
                }
            }
            Err(error) => {
                tracing::error!(attempts = message.attempts, %error, "delivery abandoned");
                report.dead += 1;
                self.report_failure(message, &error.to_string(), now).await;
                self.store
                    .outbox_dead(message.id, &self.id, &error.to_string())
                    .await?
            }
        };
        if !settled {
            tracing::warn!(
                "outbox claim lost before the outcome was recorded; the row stays with its new holder"
            );
        }
        Ok(())
    }

    /// Tells the receipt sink about a row given up on. A failure to tell is logged, never
    /// fatal: the row is dead either way and `outbox list` shows it.
    async fn report_failure(&self, message: &OutboxMessage, error: &str, now: DateTime<Utc>) {
        if let Some(sink) = &self.receipts
            && let Err(report_error) = sink.failed(message, error, now).await
        {
            tracing::error!(%report_error, "cannot report a failed delivery");
        }
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
            retry_for: Duration::from_secs(3600),
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            lease: Duration::from_secs(60),
        };
        let delays: Vec<u64> = (1..=7).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(delays, vec![2, 4, 8, 16, 32, 60, 60]);
    }
}
