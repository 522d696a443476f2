//! One leader among the instances sharing a store runs the singleton jobs (IMAP watch,
//! reminders). It holds a lease in the store and renews it at a third of its length; when it
//! dies, the lease runs out and another instance takes it at its next try.

use crate::store::Store;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The lease's name in the store.
pub const LEASE: &str = "singletons";

/// Tries to take or renew the lease every `ttl / 3` until `stop`, telling `leader` whether
/// this instance leads. Gives the lease up on the way out so another takes over at once.
pub async fn campaign(
    store: Arc<dyn Store>,
    instance: String,
    ttl: Duration,
    leader: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let lease = chrono::Duration::from_std(ttl)?;
    loop {
        let leads = match store
            .try_lease(LEASE, &instance, chrono::Utc::now(), lease)
            .await
        {
            Ok(leads) => leads,
            Err(error) => {
                // Unsure whether the lease still holds: stop the singletons rather than risk
                // two leaders.
                tracing::warn!(%error, "cannot renew the leader lease");
                false
            }
        };
        leader.send_if_modified(|current| {
            if *current != leads {
                tracing::info!(%instance, leads, "leadership changed");
                *current = leads;
                true
            } else {
                false
            }
        });
        tokio::select! {
            _ = tokio::time::sleep(ttl / 3) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            leader.send_replace(false);
            if let Err(error) = store.release_lease(LEASE, &instance).await {
                tracing::warn!(%error, "cannot release the leader lease");
            }
            return Ok(());
        }
    }
}

/// Runs `job(stop)` only while this instance leads: started when leadership comes, stopped
/// (through its own stop signal, and awaited) when it goes or when `stop` turns true.
pub async fn while_leader<F, Fut>(
    mut leader: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
    job: F,
) -> anyhow::Result<()>
where
    F: Fn(watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    loop {
        while !*leader.borrow_and_update() {
            tokio::select! {
                changed = leader.changed() => if changed.is_err() { return Ok(()) },
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return Ok(());
            }
        }
        let (halt, halted) = watch::channel(false);
        let running = job(halted);
        tokio::pin!(running);
        loop {
            tokio::select! {
                result = &mut running => {
                    result?;
                    anyhow::bail!("ended on its own while leading")
                }
                _ = leader.changed() => {
                    if !*leader.borrow_and_update() {
                        let _ = halt.send(true);
                        if let Err(error) = running.as_mut().await {
                            tracing::warn!(%error, "failed while giving up leadership");
                        }
                        break;
                    }
                }
                _ = stop.changed() => {
                    let _ = halt.send(true);
                    return running.as_mut().await;
                }
            }
        }
        if *stop.borrow() {
            return Ok(());
        }
    }
}
