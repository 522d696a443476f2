//! Storage behind one trait, with SQLite (the embedded default) and PostgreSQL implementations
//! chosen by the URL scheme. Every inbound item's effects and its outgoing messages are written in
//! one transaction, so a crash can delay a reply but never lose or double it.

mod sql;

use crate::core::actions::Change;
use crate::core::directory::{DirectoryData, Intervention, Member, Organisation};
use crate::core::news::NewsDraft;
use crate::core::tickets::{Ticket, TicketEvent, TicketTiming, Workload};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use std::sync::Arc;

pub use crate::core::inbound::{InboundKey, NewMessage, OutboxMessage};
pub use sql::{PostgresStore, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{location}: migrations: {source}")]
    Migrate {
        location: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("cannot open {location}: {source}")]
    Open {
        location: String,
        source: sqlx::Error,
    },
    #[error(
        "{0} exists but is empty (0 bytes): it was truncated or created by hand. Restore a backup, or delete the file to start a new store"
    )]
    EmptyFile(String),
    #[error(
        "{0} is used by another running passerelle (SQLite serves one instance; use PostgreSQL for several)"
    )]
    InUse(String),
    #[error("unsupported store URL '{0}' (use sqlite://FILE or postgres://…)")]
    Url(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// The state of one supervised task of one running instance.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskHealth {
    pub name: String,
    pub instance: String,
    /// `running`, `restarting` or `stopped`.
    pub state: String,
    pub restarts: i64,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// An inbound item moved aside because handling it panicked or failed every time.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    pub source: String,
    pub external_id: String,
    pub error: String,
    /// Where the item now is (a file path, a mailbox folder).
    pub location: Option<String>,
    pub at: DateTime<Utc>,
}

/// One inbound item's effects, for [`Store::commit_batch`].
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    pub key: InboundKey,
    pub changes: Vec<Change>,
    pub messages: Vec<NewMessage>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Committed {
    Applied {
        outbox_ids: Vec<i64>,
    },
    /// The key was already processed; nothing was written.
    Duplicate,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub created: usize,
    pub updated: usize,
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    fn backend(&self) -> &'static str;
    /// Where the data lives (file, or host and database), for messages.
    fn location(&self) -> &str;
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Serialises first-start work (migrations, loading seed data) between instances started
    /// together on one database; released by [`Store::unlock_setup`].
    async fn lock_setup(&self) -> Result<(), StoreError>;
    async fn unlock_setup(&self) -> Result<(), StoreError>;
    /// Claims the store for one long-running instance, when the backend allows only one
    /// (SQLite); held until the process ends. PostgreSQL serves several instances.
    fn claim_instance(&self) -> Result<(), StoreError>;

    async fn is_seen(&self, key: &InboundKey) -> Result<bool, StoreError>;
    /// Which of these keys were already processed, in one query.
    async fn seen_keys(
        &self,
        keys: &[InboundKey],
    ) -> Result<std::collections::HashSet<InboundKey>, StoreError>;
    /// Marks `key` seen, applies `changes` and queues `messages`, all or nothing.
    async fn commit(
        &self,
        key: &InboundKey,
        changes: &[Change],
        messages: &[NewMessage],
        now: DateTime<Utc>,
    ) -> Result<Committed, StoreError> {
        let item = BatchItem {
            key: key.clone(),
            changes: changes.to_vec(),
            messages: messages.to_vec(),
        };
        let mut results = self.commit_batch(std::slice::from_ref(&item), now).await?;
        Ok(results.pop().unwrap_or(Committed::Duplicate))
    }

    /// Commits many inbound items in one transaction: each item whose key was already seen is
    /// skipped whole (`Duplicate`), the others are applied, with bulk inserts where possible.
    async fn commit_batch(
        &self,
        items: &[BatchItem],
        now: DateTime<Utc>,
    ) -> Result<Vec<Committed>, StoreError>;

    /// Bumped by every change to the directory, so cached snapshots know when to reload.
    async fn directory_version(&self) -> Result<i64, StoreError>;
    /// Everything a directory snapshot needs; proposals are counted since `recent_since`.
    async fn load_directory(&self, recent_since: NaiveDate) -> Result<DirectoryData, StoreError>;
    async fn member_count(&self) -> Result<i64, StoreError>;
    async fn organisation_count(&self) -> Result<i64, StoreError>;

    async fn upsert_organisations(
        &self,
        organisations: &[Organisation],
    ) -> Result<usize, StoreError>;
    /// Creates or updates members by email, in one transaction. Ids of `members` are ignored.
    async fn import_members(
        &self,
        members: &[Member],
        now: DateTime<Utc>,
    ) -> Result<ImportCounts, StoreError>;
    /// Records past talks for members given by email; a talk already recorded is skipped.
    async fn import_interventions(
        &self,
        rows: &[(String, Intervention)],
    ) -> Result<usize, StoreError>;

    /// The next ticket number. Numbers are never reused; a crash may leave a gap.
    async fn allocate_ticket_number(&self) -> Result<i64, StoreError> {
        self.allocate_ticket_numbers(1).await
    }
    /// Reserves `count` consecutive numbers and returns the first.
    async fn allocate_ticket_numbers(&self, count: i64) -> Result<i64, StoreError>;
    async fn ticket(&self, number: i64) -> Result<Option<Ticket>, StoreError>;
    /// The next news draft id, reserved (an id left unused is skipped).
    async fn allocate_draft_id(&self) -> Result<i64, StoreError>;
    /// A draft with its posts.
    async fn draft(&self, id: i64) -> Result<Option<NewsDraft>, StoreError>;
    /// Up to `limit` drafts, those waiting for a decision first, newest first (without posts).
    async fn recent_drafts(&self, limit: i64) -> Result<Vec<NewsDraft>, StoreError>;
    /// The ticket one of these Message-IDs is threaded onto (the last one first).
    async fn ticket_for_messages(&self, message_ids: &[String]) -> Result<Option<i64>, StoreError>;
    /// The Message-IDs threaded onto a ticket, oldest first, each with its direction ("in"
    /// from outside, "out" sent by the bot).
    async fn ticket_message_ids(&self, number: i64) -> Result<Vec<(String, String)>, StoreError>;
    /// Open tickets assigned to a member.
    async fn open_tickets_of(&self, member_id: i64) -> Result<Vec<Ticket>, StoreError>;
    /// Every open ticket, oldest first.
    async fn open_tickets(&self) -> Result<Vec<Ticket>, StoreError>;
    /// Tickets created since `since`, with when each was first accepted.
    async fn ticket_timings(&self, since: DateTime<Utc>) -> Result<Vec<TicketTiming>, StoreError>;
    /// Tickets waiting for the team (new or assigned), oldest first.
    async fn tickets_awaiting_team(&self) -> Result<Vec<Ticket>, StoreError>;
    async fn ticket_events(&self, number: i64) -> Result<Vec<TicketEvent>, StoreError>;
    async fn ticket_suggestions(&self, number: i64) -> Result<Vec<i64>, StoreError>;
    /// Open tickets per assignee and when each was last given one, for routing.
    async fn workload(&self) -> Result<Workload, StoreError>;

    /// Until when an address is muted, if it is at `now`.
    async fn muted_until(
        &self,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Mails queued to an address through `connector` (the one that sends mail) since then.
    async fn mails_to_since(
        &self,
        connector: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// Mails sent on a ticket since then.
    async fn mails_for_ticket_since(
        &self,
        ticket: i64,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// What connector `connector` saved under `key` (see [`Change::ConnectorState`]).
    async fn connector_state(
        &self,
        connector: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError>;
    async fn save_connector_state(
        &self,
        connector: &str,
        key: &str,
        value: &str,
    ) -> Result<(), StoreError>;

    /// Claims up to `limit` due messages of one connector for `worker` until `now + lease`; a
    /// claim not settled or renewed by then may be taken by another worker.
    async fn claim_outbox(
        &self,
        connector: &str,
        worker: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    /// Extends `worker`'s claim on a row; false when the claim was lost to another worker.
    async fn outbox_renew(
        &self,
        id: i64,
        worker: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    async fn outbox_delivered(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Records how far `worker`'s claimed row got (see `engine::outbox::Progress`). False when
    /// the claim was lost.
    async fn outbox_progress(
        &self,
        id: i64,
        worker: &str,
        progress: &str,
    ) -> Result<bool, StoreError>;
    /// Puts `worker`'s claimed row back for a later attempt; `retry_until` is kept from the
    /// first failure. False when the claim was lost.
    async fn outbox_retry(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        retry_until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Gives up on `worker`'s claimed row: it stays in the table, marked dead, for people to
    /// look at (`passerelle outbox list`). False when the claim was lost.
    async fn outbox_dead(&self, id: i64, worker: &str, error: &str) -> Result<bool, StoreError>;
    async fn outbox_get(&self, id: i64) -> Result<Option<OutboxMessage>, StoreError>;
    async fn outbox_by_key(
        &self,
        idempotency_key: &str,
    ) -> Result<Option<OutboxMessage>, StoreError>;
    /// Rows with this status (all when `None`), newest first.
    async fn outbox_list(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    /// Makes a dead or pending row (or, with `None`, every dead row) due now; returns how many.
    async fn outbox_requeue(&self, id: Option<i64>, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Marks a dead or pending row dropped: it is never sent. False when there is no such row.
    async fn outbox_drop(&self, id: i64) -> Result<bool, StoreError>;
    /// Rows per status.
    async fn outbox_counts(&self) -> Result<Vec<(String, i64)>, StoreError>;
    /// When the next pending message is due, if any.
    async fn outbox_next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    async fn record_task_health(&self, health: &TaskHealth) -> Result<(), StoreError>;
    async fn task_health(&self) -> Result<Vec<TaskHealth>, StoreError>;
    /// Records an item moved aside; a second record for the same item updates it.
    async fn quarantine(&self, item: &Quarantined) -> Result<(), StoreError>;
    /// Quarantined items, newest first.
    async fn quarantined(&self, limit: i64) -> Result<Vec<Quarantined>, StoreError>;
    async fn quarantine_count(&self) -> Result<i64, StoreError>;

    /// Takes or renews the lease `name` for `holder` until `now + ttl`; false while another
    /// holder's lease runs. Leases elect one instance for the singleton jobs.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Result<bool, StoreError>;
    /// Gives the lease up at once, so another instance takes over without waiting.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
    /// Who holds the lease `name` and until when, if anyone ever took it.
    async fn lease_holder(&self, name: &str)
    -> Result<Option<(String, DateTime<Utc>)>, StoreError>;
}

/// Opens the store named by `url` (`sqlite://path`, `sqlite::memory:`, `postgres://…`).
pub async fn open(url: &str, max_connections: u32) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, max_connections).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            PostgresStore::connect(url, max_connections).await?,
        ))
    } else {
        Err(StoreError::Url(url.to_string()))
    }
}
