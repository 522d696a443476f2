//! The outbox under faults, on SQLite and PostgreSQL: a server down for a long time delays
//! messages without killing them; two workers on one store with a slow server never send a
//! message twice.

mod common;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use common::BACKENDS;
use passerelle::engine::{Delivered, DeliveryError, Outbound, OutboxWorker, Progress, RetryPolicy};
use passerelle::store::{InboundKey, NewMessage, OutboxMessage};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

fn now() -> DateTime<Utc> {
    "2026-11-26T10:00:00Z".parse().unwrap()
}

fn messages(n: usize) -> Vec<NewMessage> {
    (0..n)
        .map(|i| NewMessage {
            idempotency_key: format!("k{i}"),
            connector: "smtp".into(),
            target: format!("r{i}@example.org"),
            body: format!("body {i}"),
            ticket: None,
            thread_key: None,
            not_before: None,
        })
        .collect()
}

fn key(id: &str) -> InboundKey {
    InboundKey {
        source: "test".into(),
        external_id: id.into(),
    }
}

/// A server that is down while `down` is set, and takes `delay` per message when up.
#[derive(Default)]
struct Server {
    down: AtomicBool,
    delay: std::time::Duration,
    received: Mutex<HashMap<String, usize>>,
}

#[async_trait]
impl Outbound for Server {
    async fn deliver(
        &self,
        message: &OutboxMessage,
        _progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(DeliveryError::Transient("connection refused".into()));
        }
        tokio::time::sleep(self.delay).await;
        *self
            .received
            .lock()
            .unwrap()
            .entry(message.idempotency_key.clone())
            .or_default() += 1;
        Ok(Delivered::default())
    }
}

fn policy(lease_ms: u64) -> RetryPolicy {
    RetryPolicy {
        retry_for: std::time::Duration::from_secs(72 * 3600),
        initial_backoff: std::time::Duration::from_secs(2),
        max_backoff: std::time::Duration::from_secs(900),
        lease: std::time::Duration::from_millis(lease_ms),
    }
}

/// `n` messages queued, and a worker whose server is down.
async fn server_down_with(t: &common::TestStore, n: usize) -> (Arc<Server>, OutboxWorker) {
    t.store
        .commit(&key("queued"), &[], &messages(n), now())
        .await
        .unwrap();
    let server = Arc::new(Server::default());
    server.down.store(true, Ordering::SeqCst);
    let mut worker = OutboxWorker::new(t.store.clone(), policy(60_000), Arc::new(Notify::new()));
    worker.register("smtp", server.clone());
    (server, worker)
}

#[tokio::test]
async fn a_server_down_for_hours_delays_mail_but_loses_none() {
    for backend in BACKENDS {
        let t = common::test_store(backend).await;
        let (server, worker) = server_down_with(&t, 3).await;
        // Down for ten hours, the worker passing every time a row is due.
        let mut at = now();
        let mut passes = 0;
        while at < now() + Duration::hours(10) {
            let report = worker.run_once(at).await.unwrap();
            assert_eq!(report.dead, 0, "{backend:?}: nothing dies within retry_for");
            passes += 1;
            at = t.store.outbox_next_due().await.unwrap().unwrap();
        }
        assert!(
            passes > 40,
            "{backend:?}: retried for hours ({passes} passes)"
        );
        // Retried until 72 hours after the first failure (plus the time the pass took).
        let until = t
            .store
            .outbox_get(1)
            .await
            .unwrap()
            .unwrap()
            .retry_until
            .unwrap();
        assert!(
            until >= now() + Duration::hours(72)
                && until < now() + Duration::hours(72) + Duration::minutes(1),
            "{backend:?}: {until}"
        );
        // Backoff is capped at 15 minutes.
        let due = t.store.outbox_next_due().await.unwrap().unwrap();
        assert!(due - at <= Duration::minutes(15), "{backend:?}");

        server.down.store(false, Ordering::SeqCst);
        // The rows failed microseconds apart: a quarter of an hour later, all are due.
        let report = worker.run_once(at + Duration::minutes(15)).await.unwrap();
        assert_eq!(
            report.delivered, 3,
            "{backend:?}: all sent when the server is back"
        );
        assert!(server.received.lock().unwrap().values().all(|n| *n == 1));
    }
}

#[tokio::test]
async fn a_message_failing_past_retry_for_is_dead_and_can_be_requeued() {
    for backend in BACKENDS {
        let t = common::test_store(backend).await;
        let (server, worker) = server_down_with(&t, 1).await;
        worker.run_once(now()).await.unwrap();
        let report = worker.run_once(now() + Duration::hours(73)).await.unwrap();
        assert_eq!(report.dead, 1, "{backend:?}");
        let dead = t.store.outbox_list(Some("dead"), 10).await.unwrap();
        assert!(
            dead[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("connection refused"),
            "{backend:?}: {dead:?}"
        );
        server.down.store(false, Ordering::SeqCst);
        assert_eq!(
            t.store
                .outbox_requeue(None, now() + Duration::hours(74))
                .await
                .unwrap(),
            1
        );
        let report = worker.run_once(now() + Duration::hours(74)).await.unwrap();
        assert_eq!(report.delivered, 1, "{backend:?}");
    }
}

/// Two instances on one store, a server taking three times the lease per message: each
/// message is sent exactly once, because a worker renews its claim while it delivers.
#[tokio::test]
async fn two_workers_and_a_slow_server_send_each_message_once() {
    for backend in BACKENDS {
        let t = common::test_store(backend).await;
        t.store
            .commit(&key("slow"), &[], &messages(8), now())
            .await
            .unwrap();
        let server = Arc::new(Server {
            delay: std::time::Duration::from_millis(600),
            ..Server::default()
        });
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let mut worker =
                    OutboxWorker::new(t.store.clone(), policy(200), Arc::new(Notify::new()));
                worker.register("smtp", server.clone());
                Arc::new(worker)
            })
            .collect();
        let runs: Vec<_> = workers
            .iter()
            .map(|w| {
                let w = w.clone();
                tokio::spawn(async move { w.run_once(Utc::now()).await.unwrap() })
            })
            .collect();
        let mut delivered = 0;
        for run in runs {
            delivered += run.await.unwrap().delivered;
        }
        let received = server.received.lock().unwrap().clone();
        assert_eq!(received.len(), 8, "{backend:?}: {received:?}");
        assert!(
            received.values().all(|n| *n == 1),
            "{backend:?}: a message was sent twice: {received:?}"
        );
        assert_eq!(delivered, 8, "{backend:?}");
    }
}

/// Holds every delivery until released.
#[derive(Default)]
struct Hanging {
    release: Notify,
    started: AtomicBool,
}

#[async_trait]
impl Outbound for Hanging {
    async fn deliver(
        &self,
        _message: &OutboxMessage,
        _progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        self.started.store(true, Ordering::SeqCst);
        self.release.notified().await;
        Ok(Delivered::default())
    }
}

#[tokio::test]
async fn a_network_that_hangs_holds_up_only_its_own_rows() {
    for backend in BACKENDS {
        let t = common::test_store(backend).await;
        let mut rows = messages(3);
        rows[0].connector = "hanging".into();
        t.store
            .commit(&key("mixed"), &[], &rows, now())
            .await
            .unwrap();
        let hanging = Arc::new(Hanging::default());
        let fast = Arc::new(Server::default());
        let mut worker =
            OutboxWorker::new(t.store.clone(), policy(60_000), Arc::new(Notify::new()));
        worker.register("hanging", hanging.clone());
        worker.register("smtp", fast.clone());
        let worker = Arc::new(worker);
        let pass = tokio::spawn({
            let worker = worker.clone();
            async move { worker.run_once(now()).await.unwrap() }
        });
        // The other connector's two rows go out while the hanging one is still held.
        let (received, _) = common::eventually("the fast rows", async || {
            let n = fast.received.lock().unwrap().len();
            (n == 2).then_some(n)
        })
        .await;
        assert_eq!(received, 2, "{backend:?}");
        assert!(hanging.started.load(Ordering::SeqCst), "{backend:?}");
        assert!(
            !pass.is_finished(),
            "{backend:?}: the hanging row is still out"
        );
        hanging.release.notify_one();
        let report = pass.await.unwrap();
        assert_eq!(report.delivered, 3, "{backend:?}");
    }
}
