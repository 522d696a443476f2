//! `passerelle outbox`: looking at and repairing the outbox, whether or not a bot is running
//! (a running bot picks up what is requeued here).

use crate::config::Config;
use crate::store::{self, OutboxMessage, Store};
use anyhow::Context as _;
use std::sync::Arc;

/// The store alone, migrated: no knowledge files or seed data are needed to repair the outbox.
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = store::open(&config.store_url(), 1)
        .await
        .with_context(|| format!("cannot open the store {}", config.store_url()))?;
    store.migrate().await?;
    Ok(store)
}

/// Messages with this status (all when `None`), newest first.
pub async fn outbox_list(
    config: &Config,
    status: Option<&str>,
    limit: i64,
) -> anyhow::Result<Vec<OutboxMessage>> {
    Ok(open_store(config).await?.outbox_list(status, limit).await?)
}

/// Makes message `id` (or, with `None`, every dead message) due now; returns how many.
pub async fn outbox_retry(config: &Config, id: Option<i64>) -> anyhow::Result<u64> {
    let store = open_store(config).await?;
    Ok(store.outbox_requeue(id, chrono::Utc::now()).await?)
}

/// Marks a dead or waiting message dropped; false when there is no such message.
pub async fn outbox_drop(config: &Config, id: i64) -> anyhow::Result<bool> {
    Ok(open_store(config).await?.outbox_drop(id).await?)
}
