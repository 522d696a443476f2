//! Long-running tasks (intake, delivery, reminders) run supervised: a task that panics, fails
//! or ends on its own is logged, recorded in the store's health table (shown by `doctor`) and
//! restarted with backoff, while the others go on.

use crate::panic_message;
use crate::store::{Store, TaskHealth};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Restart delays: doubling from `initial` up to `max`; a task that ran for `healthy_after`
/// starts again from `initial`.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub healthy_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(60),
        }
    }
}

pub struct Supervisor {
    store: Arc<dyn Store>,
    instance: String,
    stop: watch::Receiver<bool>,
    backoff: Backoff,
    tasks: Vec<JoinHandle<()>>,
}

impl Supervisor {
    pub fn new(
        store: Arc<dyn Store>,
        instance: String,
        stop: watch::Receiver<bool>,
        backoff: Backoff,
    ) -> Self {
        Supervisor {
            store,
            instance,
            stop,
            backoff,
            tasks: Vec::new(),
        }
    }

    /// Runs `make(stop)` until the stop signal; restarts it whenever it panics, fails or
    /// returns before the stop signal.
    pub fn spawn<F, Fut>(&mut self, name: &str, make: F)
    where
        F: Fn(watch::Receiver<bool>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let name = name.to_string();
        let store = self.store.clone();
        let instance = self.instance.clone();
        let mut stop = self.stop.clone();
        let backoff = self.backoff.clone();
        self.tasks.push(tokio::spawn(async move {
            let mut restarts = 0i64;
            let mut delay = backoff.initial;
            let mut last_error: Option<String> = None;
            let health = |state: &str, restarts: i64, last_error: &Option<String>| TaskHealth {
                    name: name.clone(),
                    instance: instance.clone(),
                    state: state.to_string(),
                    restarts,
                    last_error: last_error.clone(),
                    updated_at: chrono::Utc::now(),
                };
            loop {
                record(&*store, health("running", restarts, &last_error)).await;
                let started = tokio::time::Instant::now();
                let outcome = tokio::spawn(make(stop.clone())).await;
                let stopping = *stop.borrow();
                let error = match outcome {
                    Ok(Ok(())) if stopping => None,
                    Ok(Ok(())) => Some("ended on its own".to_string()),
                    Ok(Err(error)) => Some(format!("{error:#}")),
                    Err(join) if join.is_panic() => Some(format!(
                        "panicked: {}",
                        panic_message(join.into_panic().as_ref())
                    )),
                    Err(join) => Some(join.to_string()),
                };
                if stopping {
                    record(&*store, health("stopped", restarts, &error.or(last_error))).await;
                    return;
                }
                if started.elapsed() >= backoff.healthy_after {
                    delay = backoff.initial;
                }
                let error = error.unwrap_or_default();
                tracing::error!(task = %name, restarts = restarts + 1, retry_in_ms = delay.as_millis() as u64, %error, "task failed; restarting it");
                last_error = Some(error);
                restarts += 1;
                record(&*store, health("restarting", restarts, &last_error)).await;
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => {}
                }
                if *stop.borrow() {
                    record(&*store, health("stopped", restarts, &last_error)).await;
                    return;
                }
                delay = (delay * 2).min(backoff.max);
            }
        }));
    }

    /// Waits for every task to finish after the stop signal.
    pub async fn join(self) {
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "supervisor task ended abnormally");
            }
        }
    }
}

/// Best effort: the store may be the thing that is failing.
async fn record(store: &dyn Store, health: TaskHealth) {
    if let Err(error) = store.record_task_health(&health).await {
        tracing::warn!(task = %health.name, %error, "cannot record task health");
    }
}
