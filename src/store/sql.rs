//! The two SQL stores. Their SQL is the same text (sqlx binds `$N` on SQLite too); only the
//! pool, the way a transaction starts and the outbox claim differ, so one macro writes both.

use super::{
    BatchItem, Committed, ImportCounts, InboundKey, OutboxMessage, Quarantined, Store, StoreError,
    TaskHealth,
};
use crate::core::actions::Change;
use crate::core::directory::{
    DirectoryData, Intervention, Member, Organisation, Period, ProposalCount,
};
use crate::core::lang::Lang;
use crate::core::news::{DraftPost, DraftState, NewsDraft};
use crate::core::social::PublishedPost;
use crate::core::tickets::{Ticket, TicketEvent, TicketTiming, Workload};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
    /// The database file, named in errors.
    location: String,
    file: Option<std::path::PathBuf>,
    /// The lock file held while `passerelle run` uses the database.
    instance: std::sync::Arc<std::sync::Mutex<Option<std::fs::File>>>,
}

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: sqlx::PgPool,
    /// Host, port, database and user (never the password), named in errors.
    location: String,
    /// The session holding the setup advisory lock, while held.
    setup: std::sync::Arc<tokio::sync::Mutex<Option<sqlx::pool::PoolConnection<sqlx::Postgres>>>>,
}

/// Advisory lock key for first-start work on PostgreSQL ("passerel" in ASCII).
const SETUP_LOCK: i64 = 0x7061_7373_6572_656c;

impl SqliteStore {
    async fn setup_lock(&self) -> Result<(), StoreError> {
        // Writers are serialised by BEGIN IMMEDIATE, and one instance runs per file.
        Ok(())
    }

    async fn setup_unlock(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn instance_claim(&self) -> Result<(), StoreError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let path = std::path::PathBuf::from(format!("{}.instance-lock", file.display()));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::Io {
                path: path.display().to_string(),
                source,
            })?;
        match lock.try_lock() {
            Ok(()) => {
                if let Ok(mut held) = self.instance.lock() {
                    *held = Some(lock);
                }
                Ok(())
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(StoreError::InUse(file.display().to_string()))
            }
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

impl PostgresStore {
    async fn setup_lock(&self) -> Result<(), StoreError> {
        let mut held = self.setup.lock().await;
        if held.is_none() {
            let mut conn = self.pool.acquire().await?;
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(SETUP_LOCK)
                .execute(&mut *conn)
                .await?;
            *held = Some(conn);
        }
        Ok(())
    }

    async fn setup_unlock(&self) -> Result<(), StoreError> {
        if let Some(mut conn) = self.setup.lock().await.take() {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(SETUP_LOCK)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    fn instance_claim(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

impl SqliteStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        use sqlx::sqlite::{
            SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
        };
        let location = format!("SQLite database {}", url.trim_start_matches("sqlite://"));
        let open_error = |source| StoreError::Open {
            location: location.clone(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // An in-memory database exists once per connection: keep exactly one.
        let connections = if url.contains(":memory:") {
            1
        } else {
            max_connections.max(1)
        };
        let file = options.get_filename().to_path_buf();
        if !url.contains(":memory:")
            && std::fs::metadata(&file).is_ok_and(|m| m.is_file() && m.len() == 0)
        {
            return Err(StoreError::EmptyFile(file.display().to_string()));
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .before_acquire(|conn, _| Box::pin(async move { Ok(usable(conn)) }))
            .connect_with(options)
            .await
            .map_err(open_error)?;
        Ok(SqliteStore {
            pool,
            location,
            file: (!url.contains(":memory:")).then_some(file),
            instance: Default::default(),
        })
    }

    /// The pool, for tests that break a connection on purpose.
    pub fn pool(&self) -> &sqlx::SqlitePool {
        &self.pool
    }
}

/// A connection still inside a transaction when it is handed out is closed instead: after a
/// failed COMMIT (a full disk), SQLite may already have rolled back, the driver's ROLLBACK then
/// fails, and the connection would refuse every later transaction ("begin_with at non-zero
/// transaction depth") until a restart.
fn usable<C: sqlx::Connection>(conn: &C) -> bool {
    if conn.is_in_transaction() {
        tracing::warn!("closing a store connection left inside a failed transaction");
        false
    } else {
        true
    }
}

impl PostgresStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        use sqlx::ConnectOptions;
        let options =
            sqlx::postgres::PgConnectOptions::from_str(url).map_err(|source| StoreError::Open {
                location: "PostgreSQL (unreadable URL)".into(),
                source,
            })?;
        let location = format!(
            "PostgreSQL at {}:{} (database {}, user {})",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("-"),
            options.get_username()
        );
        let open_error = |source| StoreError::Open {
            location: location.clone(),
            source,
        };
        // One plain connection first: a pool only says "timed out" when the server is down
        // or refuses us; a connection says why.
        match tokio::time::timeout(Duration::from_secs(15), options.connect()).await {
            Ok(Ok(conn)) => drop(conn),
            Ok(Err(source)) => return Err(open_error(source)),
            Err(_) => return Err(open_error(sqlx::Error::PoolTimedOut)),
        }
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(15))
            .before_acquire(|conn, _| Box::pin(async move { Ok(usable(conn)) }))
            .connect_with(options)
            .await
            .map_err(open_error)?;
        Ok(PostgresStore {
            pool,
            location,
            setup: Default::default(),
        })
    }

    /// The pool, for tests that need to reset a schema.
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: '{value}'"))
}

fn member_from_row<R: Row>(row: &R) -> Result<Member, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let job_role: String = row.try_get("job_role")?;
    let access: String = row.try_get("access")?;
    let languages: String = row.try_get("languages")?;
    let preferred: Option<String> = row.try_get("preferred_lang")?;
    Ok(Member {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        organisation: row.try_get("organisation")?,
        job_role: job_role
            .parse()
            .map_err(|_| corrupt("job_role", &job_role))?,
        department: row.try_get("department")?,
        topics: Vec::new(),
        languages: languages
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        bio: row.try_get("bio")?,
        matrix_id: row.try_get("matrix_id")?,
        speaker_consent: row.try_get("speaker_consent")?,
        access: access.parse().map_err(|_| corrupt("access", &access))?,
        preferred_lang: match preferred {
            Some(code) => Some(
                code.parse::<Lang>()
                    .map_err(|_| corrupt("preferred_lang", &code))?,
            ),
            None => None,
        },
        unavailable: Vec::new(),
    })
}

fn outbox_from_row<R: Row>(row: &R) -> Result<OutboxMessage, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i32: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> DateTime<Utc>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<DateTime<Utc>>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(OutboxMessage {
        id: row.try_get("id")?,
        idempotency_key: row.try_get("idempotency_key")?,
        connector: row.try_get("connector")?,
        target: row.try_get("target")?,
        body: row.try_get("body")?,
        attempts: row.try_get("attempts")?,
        status: row.try_get("status")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        retry_until: row.try_get("retry_until")?,
        ticket: row.try_get("ticket")?,
        thread_key: row.try_get("thread_key")?,
        progress: row.try_get("progress")?,
    })
}

const DRAFT_COLUMNS: &str = "id, state, source, author, text, content_warning, images, lang, revision, publish_at, decided_by, networks, created_at, origin_connector, origin_target";

fn draft_from_row<R: Row>(row: &R) -> Result<NewsDraft, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> DateTime<Utc>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<DateTime<Utc>>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = row.try_get("state")?;
    let lang: String = row.try_get("lang")?;
    let images: String = row.try_get("images")?;
    Ok(NewsDraft {
        id: row.try_get("id")?,
        state: DraftState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        source: row.try_get("source")?,
        author: row.try_get("author")?,
        text: row.try_get("text")?,
        content_warning: row.try_get("content_warning")?,
        images: serde_json::from_str(&images).map_err(|_| corrupt("images", &images))?,
        lang: lang.parse().map_err(|_| corrupt("lang", &lang))?,
        revision: row.try_get("revision")?,
        publish_at: row.try_get("publish_at")?,
        decided_by: row.try_get("decided_by")?,
        networks: split_list(&row.try_get::<String, _>("networks")?),
        origin: row
            .try_get::<Option<String>, _>("origin_connector")?
            .zip(row.try_get::<Option<String>, _>("origin_target")?),
        created_at: row.try_get("created_at")?,
        posts: Vec::new(),
    })
}

const TICKET_COLUMNS: &str = "id, state, subject, requester_email, requester_name, lang, organisation, event, dates, places, topics, format, assignee, secret";

fn split_list(text: &str) -> Vec<String> {
    text.split(';')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn ticket_from_row<R: Row>(row: &R) -> Result<Ticket, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = row.try_get("state")?;
    let lang: String = row.try_get("lang")?;
    let dates: String = row.try_get("dates")?;
    Ok(Ticket {
        number: row.try_get("id")?,
        state: state.parse().map_err(|_| corrupt("ticket state", &state))?,
        subject: row.try_get("subject")?,
        requester_email: row.try_get("requester_email")?,
        requester_name: row.try_get("requester_name")?,
        lang: lang.parse().map_err(|_| corrupt("ticket lang", &lang))?,
        organisation: row.try_get("organisation")?,
        event: row.try_get("event")?,
        dates: split_list(&dates)
            .iter()
            .map(|d| d.parse().map_err(|_| corrupt("ticket date", d)))
            .collect::<Result<_, _>>()?,
        places: split_list(&row.try_get::<String, _>("places")?),
        topics: split_list(&row.try_get::<String, _>("topics")?),
        format: row.try_get("format")?,
        assignee: row.try_get("assignee")?,
        secret: row.try_get("secret")?,
    })
}

/// Every write to the directory bumps its version, so cached snapshots reload.
const BUMP_DIRECTORY_VERSION: &str =
    "UPDATE meta SET value = value + 1 WHERE key = 'directory_version'";

const SAVE_CONNECTOR_STATE: &str = "INSERT INTO connector_state (connector, key, value) VALUES ($1, $2, $3) ON CONFLICT (connector, key) DO UPDATE SET value = excluded.value";

/// Rows per multi-row insert: far below the bind-parameter limits of SQLite and PostgreSQL.
const BULK_ROWS: usize = 500;

const OUTBOX_COLUMNS: &str = "id, idempotency_key, connector, target, body, attempts, status, last_error, created_at, retry_until, ticket, thread_key, progress";

macro_rules! sql_store {
    ($store:ty, $db:ty, $backend:literal, $begin:literal, $claim:literal, $migrations:literal) => {
        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn migrate(&self) -> Result<(), StoreError> {
                sqlx::migrate!($migrations).run(&self.pool).await.map_err(|source| StoreError::Migrate { location: self.location.clone(), source })?;
                Ok(())
            }

            fn location(&self) -> &str {
                &self.location
            }

            async fn lock_setup(&self) -> Result<(), StoreError> {
                self.setup_lock().await
            }

            async fn unlock_setup(&self) -> Result<(), StoreError> {
                self.setup_unlock().await
            }

            fn claim_instance(&self) -> Result<(), StoreError> {
                self.instance_claim()
            }

            async fn seen_keys(&self, keys: &[InboundKey]) -> Result<std::collections::HashSet<InboundKey>, StoreError> {
                let mut seen = std::collections::HashSet::new();
                for chunk in keys.chunks(BULK_ROWS) {
                    let mut select = sqlx::QueryBuilder::<$db>::new("SELECT source, external_id FROM inbound_seen WHERE (source, external_id) IN (");
                    select.push_values(chunk, |mut row, key| {
                        row.push_bind(key.source.clone()).push_bind(key.external_id.clone());
                    });
                    select.push(")");
                    for row in select.build().fetch_all(&self.pool).await? {
                        seen.insert(InboundKey { source: row.try_get("source")?, external_id: row.try_get("external_id")? });
                    }
                }
                Ok(seen)
            }

            async fn is_seen(&self, key: &InboundKey) -> Result<bool, StoreError> {
                let row = sqlx::query("SELECT 1 FROM inbound_seen WHERE source = $1 AND external_id = $2")
                    .bind(&key.source)
                    .bind(&key.external_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.is_some())
            }

            async fn commit_batch(&self, items: &[BatchItem], now: DateTime<Utc>) -> Result<Vec<Committed>, StoreError> {
                let mut tx = self.pool.begin_with($begin).await?;
                // One insert marks every key seen and says which ones were new.
                let mut inserted = std::collections::HashSet::new();
                for chunk in items.chunks(BULK_ROWS) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new("INSERT INTO inbound_seen (source, external_id, seen_at) ");
                    insert.push_values(chunk, |mut row, item| {
                        row.push_bind(item.key.source.clone()).push_bind(item.key.external_id.clone()).push_bind(now);
                    });
                    insert.push(" ON CONFLICT DO NOTHING RETURNING source, external_id");
                    for row in insert.build().fetch_all(&mut *tx).await? {
                        inserted.insert((row.try_get::<String, _>("source")?, row.try_get::<String, _>("external_id")?));
                    }
                }
                // A key twice in one batch: the first occurrence wins.
                let mut applied = Vec::with_capacity(items.len());
                for item in items {
                    applied.push(inserted.remove(&(item.key.source.clone(), item.key.external_id.clone())));
                }
                if !applied.contains(&true) {
                    tx.rollback().await?;
                    return Ok(vec![Committed::Duplicate; items.len()]);
                }
                let changes: Vec<&Change> = items.iter().zip(&applied).filter(|(_, a)| **a).flat_map(|(i, _)| &i.changes).collect();
                // Tickets first (the rest may refer to them), in bulk; then the other changes in
                // order; then the frequent ticket rows, in bulk.
                let tickets: Vec<&Ticket> = changes.iter().filter_map(|c| match c { Change::CreateTicket(t) => Some(t), _ => None }).collect();
                for chunk in tickets.chunks(BULK_ROWS) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new("INSERT INTO tickets (id, state, subject, requester_email, requester_name, lang, organisation, event, dates, places, topics, format, assignee, secret, created_at, updated_at) ");
                    insert.push_values(chunk, |mut row, t| {
                        row.push_bind(t.number)
                            .push_bind(t.state.as_str())
                            .push_bind(t.subject.clone())
                            .push_bind(t.requester_email.clone())
                            .push_bind(t.requester_name.clone())
                            .push_bind(t.lang.code())
                            .push_bind(t.organisation.clone())
                            .push_bind(t.event.clone())
                            .push_bind(t.dates.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(";"))
                            .push_bind(t.places.join(";"))
                            .push_bind(t.topics.join(";"))
                            .push_bind(t.format.clone())
                            .push_bind(t.assignee)
                            .push_bind(t.secret.clone())
                            .push_bind(now)
                            .push_bind(now);
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                let mut events = Vec::new();
                let mut links = Vec::new();
                let mut suggestions = Vec::new();
                for change in &changes {
                    match change {
                        // Inserted in bulk, above or below.
                        Change::CreateTicket(_) => {}
                        Change::TicketEvent { ticket, actor, kind, detail } => events.push((*ticket, actor, kind, detail)),
                        Change::LinkMessage { ticket, message_id, direction } => links.push((*ticket, message_id, *direction)),
                        Change::SuggestSpeakers { ticket, member_ids } => {
                            suggestions.extend(member_ids.iter().enumerate().map(|(rank, member)| (*ticket, *member, rank as i64)));
                        }
                        Change::AddTopics { member_id, topics } => {
                            for topic in topics {
                                sqlx::query("INSERT INTO member_topics (member_id, topic, position) SELECT $1, $2, COALESCE(MAX(position), 0) + 1 FROM member_topics WHERE member_id = $1 ON CONFLICT DO NOTHING")
                                    .bind(member_id)
                                    .bind(topic)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                        Change::RemoveTopics { member_id, topics } => {
                            for topic in topics {
                                sqlx::query("DELETE FROM member_topics WHERE member_id = $1 AND topic = $2")
                                    .bind(member_id)
                                    .bind(topic)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                        Change::AddUnavailability { member_id, period } => {
                            sqlx::query("INSERT INTO unavailability (member_id, start_day, end_day) VALUES ($1, $2, $3)")
                                .bind(member_id)
                                .bind(period.start)
                                .bind(period.end)
                                .execute(&mut *tx)
                                .await?;
                        }
                        Change::ClearUnavailability { member_id, from } => {
                            sqlx::query("DELETE FROM unavailability WHERE member_id = $1 AND end_day >= $2")
                                .bind(member_id)
                                .bind(from)
                                .execute(&mut *tx)
                                .await?;
                        }
                        Change::SetConsent { member_id, consent } => {
                            sqlx::query("UPDATE members SET speaker_consent = $1, updated_at = $2 WHERE id = $3")
                                .bind(consent)
                                .bind(now)
                                .bind(member_id)
                                .execute(&mut *tx)
                                .await?;
                        }
                        Change::SetLanguage { member_id, lang } => {
                            sqlx::query("UPDATE members SET preferred_lang = $1, updated_at = $2 WHERE id = $3")
                                .bind(lang.code())
                                .bind(now)
                                .bind(member_id)
                                .execute(&mut *tx)
                                .await?;
                        }
                        Change::ConnectorState { connector, key, value } => {
                            sqlx::query(SAVE_CONNECTOR_STATE).bind(connector).bind(key).bind(value).execute(&mut *tx).await?;
                        }
                        Change::MuteAddress { address, until, reason } => {
                            sqlx::query("INSERT INTO muted_addresses (address, until, reason) VALUES ($1, $2, $3) ON CONFLICT (address) DO UPDATE SET until = excluded.until, reason = excluded.reason")
                                .bind(address.to_lowercase())
                                .bind(until)
                                .bind(reason)
                                .execute(&mut *tx)
                                .await?;
                        }
                        Change::AssignTicket { ticket, member_id } => {
                            sqlx::query("UPDATE tickets SET assignee = $1, updated_at = $2 WHERE id = $3").bind(member_id).bind(now).bind(ticket).execute(&mut *tx).await?;
                        }
                        Change::UnassignTicket { ticket } => {
                            sqlx::query("UPDATE tickets SET assignee = NULL, updated_at = $1 WHERE id = $2").bind(now).bind(ticket).execute(&mut *tx).await?;
                        }
                        Change::SetTicketState { ticket, state } => {
                            sqlx::query("UPDATE tickets SET state = $1, updated_at = $2 WHERE id = $3")
                                .bind(state.as_str())
                                .bind(now)
                                .bind(ticket)
                                .execute(&mut *tx)
                                .await?;
                        }
                        Change::RecordIntervention { member_id, day, topic, event } => {
                            sqlx::query("INSERT INTO interventions (member_id, day, topic, event) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                                .bind(member_id)
                                .bind(day)
                                .bind(topic)
                                .bind(event)
                                .execute(&mut *tx)
                                .await?;
                        }
                        Change::SaveDraft(d) => {
                            sqlx::query("INSERT INTO news_drafts (id, state, source, author, text, content_warning, images, lang, revision, publish_at, decided_by, networks, created_at, updated_at, origin_connector, origin_target) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (id) DO UPDATE SET state = excluded.state, text = excluded.text, content_warning = excluded.content_warning, images = excluded.images, lang = excluded.lang, revision = excluded.revision, publish_at = excluded.publish_at, decided_by = excluded.decided_by, networks = excluded.networks, updated_at = excluded.updated_at")
                                .bind(d.id)
                                .bind(d.state.as_str())
                                .bind(&d.source)
                                .bind(&d.author)
                                .bind(&d.text)
                                .bind(&d.content_warning)
                                .bind(serde_json::to_string(&d.images).expect("images serialise"))
                                .bind(d.lang.code())
                                .bind(d.revision)
                                .bind(d.publish_at)
                                .bind(&d.decided_by)
                                .bind(d.networks.join(";"))
                                .bind(d.created_at)
                                .bind(now)
                                .bind(d.origin.as_ref().map(|(connector, _)| connector))
                                .bind(d.origin.as_ref().map(|(_, target)| target))
                                .execute(&mut *tx)
                                .await?;
                        }
                        Change::RecordPosts { draft, connector, posts, networks } => {
                            // Locks the draft's row: another network's receipt waits, then
                            // counts this one's posts.
                            sqlx::query("UPDATE news_drafts SET updated_at = $1 WHERE id = $2").bind(now).bind(draft).execute(&mut *tx).await?;
                            for post in posts {
                                sqlx::query("INSERT INTO news_posts (draft_id, connector, position, post_id, url) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
                                    .bind(draft)
                                    .bind(connector)
                                    .bind(post.index as i64)
                                    .bind(&post.id)
                                    .bind(&post.url)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            sqlx::query("UPDATE news_drafts SET state = 'published' WHERE id = $1 AND state IN ('publishing', 'scheduled') AND (SELECT COUNT(DISTINCT connector) FROM news_posts WHERE draft_id = $1) >= $2")
                                .bind(draft)
                                .bind(*networks as i64)
                                .execute(&mut *tx)
                                .await?;
                        }
                        Change::ForgetPosts { draft, connector } => {
                            sqlx::query("DELETE FROM news_posts WHERE draft_id = $1 AND connector = $2").bind(draft).bind(connector).execute(&mut *tx).await?;
                        }
                        Change::CancelPublication { draft } => {
                            sqlx::query("UPDATE outbox SET status = 'dropped', last_error = 'cancelled by the team' WHERE idempotency_key LIKE $1 AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < $2)")
                                .bind(format!("{}%", NewsDraft::key_prefix(*draft)))
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                        }
                        Change::RecordProposals { member_ids, on } => {
                            for member_id in member_ids {
                                sqlx::query("INSERT INTO proposals (member_id, day) VALUES ($1, $2)")
                                    .bind(member_id)
                                    .bind(on)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                    }
                }
                for chunk in events.chunks(BULK_ROWS) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new("INSERT INTO ticket_events (ticket_id, at, actor, kind, detail) ");
                    insert.push_values(chunk, |mut row, (ticket, actor, kind, detail)| {
                        row.push_bind(*ticket).push_bind(now).push_bind((*actor).clone()).push_bind((*kind).clone()).push_bind((*detail).clone());
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                for chunk in links.chunks(BULK_ROWS) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new("INSERT INTO ticket_messages (message_id, ticket_id, direction, at) ");
                    insert.push_values(chunk, |mut row, (ticket, message_id, direction)| {
                        row.push_bind((*message_id).clone()).push_bind(*ticket).push_bind(*direction).push_bind(now);
                    });
                    insert.push(" ON CONFLICT DO NOTHING");
                    insert.build().execute(&mut *tx).await?;
                }
                for chunk in suggestions.chunks(BULK_ROWS) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new("INSERT INTO ticket_suggestions (ticket_id, member_id, rank) ");
                    insert.push_values(chunk, |mut row, (ticket, member, rank)| {
                        row.push_bind(*ticket).push_bind(*member).push_bind(*rank);
                    });
                    insert.push(" ON CONFLICT DO NOTHING");
                    insert.build().execute(&mut *tx).await?;
                }
                if changes.iter().any(|c| c.touches_directory()) {
                    sqlx::query(BUMP_DIRECTORY_VERSION).execute(&mut *tx).await?;
                }
                let mut results = Vec::with_capacity(items.len());
                for (item, applied) in items.iter().zip(applied) {
                    if !applied {
                        results.push(Committed::Duplicate);
                        continue;
                    }
                    let mut outbox_ids = Vec::with_capacity(item.messages.len());
                    for message in &item.messages {
                        let row = sqlx::query("INSERT INTO outbox (idempotency_key, connector, target, body, next_attempt_at, created_at, ticket, thread_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
                            .bind(&message.idempotency_key)
                            .bind(&message.connector)
                            .bind(&message.target)
                            .bind(&message.body)
                            .bind(message.not_before.unwrap_or(now))
                            .bind(now)
                            .bind(message.ticket)
                            .bind(&message.thread_key)
                            .fetch_one(&mut *tx)
                            .await?;
                        outbox_ids.push(row.try_get("id")?);
                    }
                    results.push(Committed::Applied { outbox_ids });
                }
                tx.commit().await?;
                Ok(results)
            }

            async fn directory_version(&self) -> Result<i64, StoreError> {
                let row = sqlx::query("SELECT value FROM meta WHERE key = 'directory_version'").fetch_one(&self.pool).await?;
                Ok(row.try_get("value")?)
            }

            async fn load_directory(&self, recent_since: NaiveDate) -> Result<DirectoryData, StoreError> {
                let mut data = DirectoryData::default();
                for row in sqlx::query("SELECT id, name, kind, department FROM organisations ORDER BY id").fetch_all(&self.pool).await? {
                    data.organisations.push(Organisation {
                        id: row.try_get("id")?,
                        name: row.try_get("name")?,
                        kind: row.try_get("kind")?,
                        department: row.try_get("department")?,
                    });
                }
                let rows = sqlx::query("SELECT id, email, name, organisation, job_role, department, languages, bio, matrix_id, speaker_consent, access, preferred_lang FROM members ORDER BY id")
                    .fetch_all(&self.pool)
                    .await?;
                let mut index = HashMap::with_capacity(rows.len());
                for row in &rows {
                    let member = member_from_row(row)?;
                    index.insert(member.id, data.members.len());
                    data.members.push(member);
                }
                for row in sqlx::query("SELECT member_id, topic FROM member_topics ORDER BY member_id, position").fetch_all(&self.pool).await? {
                    if let Some(&i) = index.get(&row.try_get::<i64, _>("member_id")?) {
                        data.members[i].topics.push(row.try_get("topic")?);
                    }
                }
                for row in sqlx::query("SELECT member_id, start_day, end_day FROM unavailability ORDER BY member_id, start_day").fetch_all(&self.pool).await? {
                    if let Some(&i) = index.get(&row.try_get::<i64, _>("member_id")?) {
                        data.members[i].unavailable.push(Period { start: row.try_get("start_day")?, end: row.try_get("end_day")? });
                    }
                }
                for row in sqlx::query("SELECT member_id, day, topic, event FROM interventions ORDER BY member_id, day").fetch_all(&self.pool).await? {
                    data.interventions.push(Intervention {
                        member_id: row.try_get("member_id")?,
                        date: row.try_get("day")?,
                        topic: row.try_get("topic")?,
                        event: row.try_get("event")?,
                    });
                }
                let proposals = sqlx::query("SELECT member_id, MAX(day) AS last, COUNT(*) AS recent FROM proposals WHERE day >= $1 GROUP BY member_id ORDER BY member_id")
                    .bind(recent_since)
                    .fetch_all(&self.pool)
                    .await?;
                for row in proposals {
                    let recent: i64 = row.try_get("recent")?;
                    data.proposals.push(ProposalCount {
                        member_id: row.try_get("member_id")?,
                        last: row.try_get("last")?,
                        recent: u32::try_from(recent).unwrap_or(u32::MAX),
                    });
                }
                Ok(data)
            }

            async fn member_count(&self) -> Result<i64, StoreError> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM members").fetch_one(&self.pool).await?.try_get("n")?)
            }

            async fn organisation_count(&self) -> Result<i64, StoreError> {
                Ok(sqlx::query("SELECT COUNT(*) AS n FROM organisations").fetch_one(&self.pool).await?.try_get("n")?)
            }

            async fn upsert_organisations(&self, organisations: &[Organisation]) -> Result<usize, StoreError> {
                let mut tx = self.pool.begin_with($begin).await?;
                for org in organisations {
                    sqlx::query("INSERT INTO organisations (id, name, kind, department) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, department = excluded.department")
                        .bind(&org.id)
                        .bind(&org.name)
                        .bind(&org.kind)
                        .bind(&org.department)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query(BUMP_DIRECTORY_VERSION).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(organisations.len())
            }

            async fn import_members(&self, members: &[Member], now: DateTime<Utc>) -> Result<ImportCounts, StoreError> {
                let mut counts = ImportCounts::default();
                let mut tx = self.pool.begin_with($begin).await?;
                for member in members {
                    let email = member.email.trim().to_lowercase();
                    let existed = sqlx::query("SELECT 1 FROM members WHERE email = $1").bind(&email).fetch_optional(&mut *tx).await?.is_some();
                    let row = sqlx::query("INSERT INTO members (email, name, organisation, job_role, department, languages, bio, matrix_id, speaker_consent, access, preferred_lang, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (email) DO UPDATE SET name = excluded.name, organisation = excluded.organisation, job_role = excluded.job_role, department = excluded.department, languages = excluded.languages, bio = excluded.bio, matrix_id = excluded.matrix_id, speaker_consent = excluded.speaker_consent, access = excluded.access, preferred_lang = excluded.preferred_lang, updated_at = excluded.updated_at RETURNING id")
                        .bind(&email)
                        .bind(&member.name)
                        .bind(&member.organisation)
                        .bind(member.job_role.as_str())
                        .bind(&member.department)
                        .bind(member.languages.join(";"))
                        .bind(&member.bio)
                        .bind(&member.matrix_id)
                        .bind(member.speaker_consent)
                        .bind(member.access.as_str())
                        .bind(member.preferred_lang.map(|l| l.code()))
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                    let id: i64 = row.try_get("id")?;
                    if existed {
                        counts.updated += 1;
                    } else {
                        counts.created += 1;
                    }
                    sqlx::query("DELETE FROM member_topics WHERE member_id = $1").bind(id).execute(&mut *tx).await?;
                    for (position, topic) in member.topics.iter().enumerate() {
                        sqlx::query("INSERT INTO member_topics (member_id, topic, position) VALUES ($1, $2, $3)")
                            .bind(id)
                            .bind(topic)
                            .bind(position as i64)
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query("DELETE FROM unavailability WHERE member_id = $1").bind(id).execute(&mut *tx).await?;
                    for period in &member.unavailable {
                        sqlx::query("INSERT INTO unavailability (member_id, start_day, end_day) VALUES ($1, $2, $3)")
                            .bind(id)
                            .bind(period.start)
                            .bind(period.end)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                sqlx::query(BUMP_DIRECTORY_VERSION).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(counts)
            }

            async fn import_interventions(&self, rows: &[(String, Intervention)]) -> Result<usize, StoreError> {
                let mut tx = self.pool.begin_with($begin).await?;
                let mut added = 0;
                for (email, talk) in rows {
                    let done = sqlx::query("INSERT INTO interventions (member_id, day, topic, event) SELECT id, $1, $2, $3 FROM members WHERE email = $4 ON CONFLICT DO NOTHING")
                        .bind(talk.date)
                        .bind(&talk.topic)
                        .bind(&talk.event)
                        .bind(email.trim().to_lowercase())
                        .execute(&mut *tx)
                        .await?;
                    added += done.rows_affected() as usize;
                }
                sqlx::query(BUMP_DIRECTORY_VERSION).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(added)
            }

            async fn allocate_ticket_numbers(&self, count: i64) -> Result<i64, StoreError> {
                let row = sqlx::query("UPDATE meta SET value = value + $1 WHERE key = 'next_ticket' RETURNING value - $1 AS number").bind(count.max(1)).fetch_one(&self.pool).await?;
                Ok(row.try_get("number")?)
            }

            async fn allocate_draft_id(&self) -> Result<i64, StoreError> {
                let row = sqlx::query("UPDATE meta SET value = value + 1 WHERE key = 'next_draft' RETURNING value - 1 AS number").fetch_one(&self.pool).await?;
                Ok(row.try_get("number")?)
            }

            async fn draft(&self, id: i64) -> Result<Option<NewsDraft>, StoreError> {
                let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {DRAFT_COLUMNS} FROM news_drafts WHERE id = $1"))).bind(id).fetch_optional(&self.pool).await? else {
                    return Ok(None);
                };
                let mut draft = draft_from_row(&row)?;
                let posts = sqlx::query("SELECT connector, position, post_id, url FROM news_posts WHERE draft_id = $1 ORDER BY connector, position").bind(id).fetch_all(&self.pool).await?;
                for post in posts {
                    draft.posts.push(DraftPost {
                        connector: post.try_get("connector")?,
                        post: PublishedPost {
                            index: post.try_get::<i64, _>("position")? as usize,
                            id: post.try_get("post_id")?,
                            url: post.try_get("url")?,
                        },
                    });
                }
                Ok(Some(draft))
            }

            async fn recent_drafts(&self, limit: i64) -> Result<Vec<NewsDraft>, StoreError> {
                // The drafts still waiting for a decision first, then the latest others.
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {DRAFT_COLUMNS} FROM news_drafts ORDER BY CASE WHEN state IN ('pending', 'scheduled') THEN 0 ELSE 1 END, id DESC LIMIT $1"))).bind(limit).fetch_all(&self.pool).await?;
                rows.iter().map(draft_from_row).collect()
            }

            async fn ticket(&self, number: i64) -> Result<Option<Ticket>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1"))).bind(number).fetch_optional(&self.pool).await?;
                row.as_ref().map(ticket_from_row).transpose()
            }

            async fn ticket_for_messages(&self, message_ids: &[String]) -> Result<Option<i64>, StoreError> {
                if message_ids.is_empty() {
                    return Ok(None);
                }
                let mut select = sqlx::QueryBuilder::<$db>::new("SELECT message_id, ticket_id FROM ticket_messages WHERE message_id IN (");
                let mut list = select.separated(", ");
                for id in message_ids {
                    list.push_bind(id.clone());
                }
                select.push(")");
                let mut found = HashMap::new();
                for row in select.build().fetch_all(&self.pool).await? {
                    found.insert(row.try_get::<String, _>("message_id")?, row.try_get::<i64, _>("ticket_id")?);
                }
                // The most recent reference first: it is the message being answered.
                Ok(message_ids.iter().rev().find_map(|id| found.get(id).copied()))
            }

            async fn ticket_message_ids(&self, number: i64) -> Result<Vec<(String, String)>, StoreError> {
                // One commit links a mail and the bot's answer to it at the same instant: "in"
                // sorts before "out", as the mail came before its answer.
                let rows = sqlx::query("SELECT message_id, direction FROM ticket_messages WHERE ticket_id = $1 ORDER BY at, direction, message_id").bind(number).fetch_all(&self.pool).await?;
                rows.iter().map(|row| Ok((row.try_get("message_id")?, row.try_get("direction")?))).collect()
            }

            async fn open_tickets_of(&self, member_id: i64) -> Result<Vec<Ticket>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE assignee = $1 AND state NOT IN ('done', 'declined', 'cancelled') ORDER BY id")))
                    .bind(member_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(ticket_from_row).collect()
            }

            async fn open_tickets(&self) -> Result<Vec<Ticket>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE state NOT IN ('done', 'declined', 'cancelled') ORDER BY id"))).fetch_all(&self.pool).await?;
                rows.iter().map(ticket_from_row).collect()
            }

            async fn ticket_timings(&self, since: DateTime<Utc>) -> Result<Vec<TicketTiming>, StoreError> {
                let rows = sqlx::query("SELECT t.id, t.state, t.created_at, MIN(e.at) AS accepted_at FROM tickets t LEFT JOIN ticket_events e ON e.ticket_id = t.id AND e.kind = 'accepted' WHERE t.created_at >= $1 GROUP BY t.id, t.state, t.created_at ORDER BY t.id")
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        let state: String = row.try_get("state")?;
                        Ok(TicketTiming {
                            number: row.try_get("id")?,
                            state: state.parse().map_err(|_| corrupt("ticket state", &state))?,
                            created_at: row.try_get("created_at")?,
                            accepted_at: row.try_get("accepted_at")?,
                        })
                    })
                    .collect()
            }

            async fn tickets_awaiting_team(&self) -> Result<Vec<Ticket>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE state IN ('new', 'assigned') ORDER BY id"))).fetch_all(&self.pool).await?;
                rows.iter().map(ticket_from_row).collect()
            }

            async fn ticket_events(&self, number: i64) -> Result<Vec<TicketEvent>, StoreError> {
                let rows = sqlx::query("SELECT at, actor, kind, detail FROM ticket_events WHERE ticket_id = $1 ORDER BY id").bind(number).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| Ok(TicketEvent { at: row.try_get("at")?, actor: row.try_get("actor")?, kind: row.try_get("kind")?, detail: row.try_get("detail")? }))
                    .collect()
            }

            async fn ticket_suggestions(&self, number: i64) -> Result<Vec<i64>, StoreError> {
                let rows = sqlx::query("SELECT member_id FROM ticket_suggestions WHERE ticket_id = $1 ORDER BY rank").bind(number).fetch_all(&self.pool).await?;
                rows.iter().map(|row| Ok(row.try_get("member_id")?)).collect()
            }

            async fn workload(&self) -> Result<Workload, StoreError> {
                let mut work = Workload::default();
                let open = sqlx::query("SELECT assignee, COUNT(*) AS n FROM tickets WHERE assignee IS NOT NULL AND state NOT IN ('done', 'declined', 'cancelled') GROUP BY assignee").fetch_all(&self.pool).await?;
                for row in open {
                    let n: i64 = row.try_get("n")?;
                    work.open_tickets.insert(row.try_get("assignee")?, u32::try_from(n).unwrap_or(u32::MAX));
                }
                let last = sqlx::query("SELECT assignee, MAX(created_at) AS last FROM tickets WHERE assignee IS NOT NULL GROUP BY assignee").fetch_all(&self.pool).await?;
                for row in last {
                    let at: DateTime<Utc> = row.try_get("last")?;
                    work.last_assigned.insert(row.try_get("assignee")?, at.date_naive());
                }
                Ok(work)
            }

            async fn muted_until(&self, address: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
                let row = sqlx::query("SELECT until FROM muted_addresses WHERE address = $1 AND until > $2").bind(address.to_lowercase()).bind(now).fetch_optional(&self.pool).await?;
                Ok(match row {
                    Some(row) => Some(row.try_get("until")?),
                    None => None,
                })
            }

            async fn mails_to_since(&self, connector: &str, address: &str, since: DateTime<Utc>) -> Result<i64, StoreError> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE connector = $1 AND target = $2 AND created_at >= $3").bind(connector).bind(address).bind(since).fetch_one(&self.pool).await?;
                Ok(row.try_get("n")?)
            }

            async fn mails_for_ticket_since(&self, ticket: i64, since: DateTime<Utc>) -> Result<i64, StoreError> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM ticket_messages WHERE ticket_id = $1 AND direction = 'out' AND at >= $2").bind(ticket).bind(since).fetch_one(&self.pool).await?;
                Ok(row.try_get("n")?)
            }

            async fn connector_state(&self, connector: &str, key: &str) -> Result<Option<String>, StoreError> {
                let row = sqlx::query("SELECT value FROM connector_state WHERE connector = $1 AND key = $2").bind(connector).bind(key).fetch_optional(&self.pool).await?;
                Ok(match row {
                    Some(row) => Some(row.try_get("value")?),
                    None => None,
                })
            }

            async fn save_connector_state(&self, connector: &str, key: &str, value: &str) -> Result<(), StoreError> {
                sqlx::query(SAVE_CONNECTOR_STATE).bind(connector).bind(key).bind(value).execute(&self.pool).await?;
                Ok(())
            }

            async fn claim_outbox(&self, connector: &str, worker: &str, now: DateTime<Utc>, lease: chrono::Duration, limit: i64) -> Result<Vec<OutboxMessage>, StoreError> {
                let rows = sqlx::query($claim).bind(now + lease).bind(now).bind(limit).bind(connector).bind(worker).fetch_all(&self.pool).await?;
                let mut claimed = rows.iter().map(outbox_from_row).collect::<Result<Vec<_>, _>>()?;
                claimed.sort_by_key(|m| m.id);
                Ok(claimed)
            }

            async fn outbox_renew(&self, id: i64, worker: &str, until: DateTime<Utc>) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE outbox SET claimed_until = $1 WHERE id = $2 AND claimed_by = $3 AND status = 'pending'").bind(until).bind(id).bind(worker).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn outbox_delivered(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
                sqlx::query("UPDATE outbox SET status = 'done', delivered_at = $1, claimed_until = NULL WHERE id = $2").bind(now).bind(id).execute(&self.pool).await?;
                Ok(())
            }

            async fn outbox_progress(&self, id: i64, worker: &str, progress: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE outbox SET progress = $1 WHERE id = $2 AND claimed_by = $3 AND status = 'pending'").bind(progress).bind(id).bind(worker).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn outbox_retry(&self, id: i64, worker: &str, error: &str, next_attempt_at: DateTime<Utc>, retry_until: DateTime<Utc>) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE outbox SET last_error = $1, next_attempt_at = $2, claimed_until = NULL, claimed_by = NULL, retry_until = COALESCE(retry_until, $3) WHERE id = $4 AND claimed_by = $5 AND status = 'pending'")
                    .bind(error)
                    .bind(next_attempt_at)
                    .bind(retry_until)
                    .bind(id)
                    .bind(worker)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn outbox_dead(&self, id: i64, worker: &str, error: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE outbox SET status = 'dead', last_error = $1, claimed_until = NULL, claimed_by = NULL WHERE id = $2 AND claimed_by = $3 AND status = 'pending'").bind(error).bind(id).bind(worker).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn outbox_list(&self, status: Option<&str>, limit: i64) -> Result<Vec<OutboxMessage>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC LIMIT $2"))).bind(status).bind(limit).fetch_all(&self.pool).await?;
                rows.iter().map(outbox_from_row).collect()
            }

            async fn outbox_requeue(&self, id: Option<i64>, now: DateTime<Utc>) -> Result<u64, StoreError> {
                // A row a worker is delivering right now is left alone: requeueing it could
                // send it twice.
                let done = match id {
                    Some(id) => sqlx::query("UPDATE outbox SET status = 'pending', next_attempt_at = $1, retry_until = NULL, claimed_by = NULL, claimed_until = NULL WHERE id = $2 AND status IN ('dead', 'pending') AND (claimed_until IS NULL OR claimed_until < $1)").bind(now).bind(id).execute(&self.pool).await?,
                    None => sqlx::query("UPDATE outbox SET status = 'pending', next_attempt_at = $1, retry_until = NULL, claimed_by = NULL, claimed_until = NULL WHERE status = 'dead'").bind(now).execute(&self.pool).await?,
                };
                Ok(done.rows_affected())
            }

            async fn outbox_drop(&self, id: i64) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE outbox SET status = 'dropped', claimed_until = NULL, claimed_by = NULL WHERE id = $1 AND status IN ('dead', 'pending')").bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn outbox_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
                let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status ORDER BY status").fetch_all(&self.pool).await?;
                rows.iter().map(|row| Ok((row.try_get("status")?, row.try_get("n")?))).collect()
            }

            async fn outbox_get(&self, id: i64) -> Result<Option<OutboxMessage>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1"))).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(outbox_from_row).transpose()
            }

            async fn outbox_by_key(&self, idempotency_key: &str) -> Result<Option<OutboxMessage>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE idempotency_key = $1"))).bind(idempotency_key).fetch_optional(&self.pool).await?;
                row.as_ref().map(outbox_from_row).transpose()
            }

            async fn outbox_next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
                let row = sqlx::query("SELECT next_attempt_at FROM outbox WHERE status = 'pending' ORDER BY next_attempt_at LIMIT 1").fetch_optional(&self.pool).await?;
                Ok(match row {
                    Some(row) => Some(row.try_get("next_attempt_at")?),
                    None => None,
                })
            }

            async fn record_task_health(&self, health: &TaskHealth) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO task_health (name, instance, state, restarts, last_error, updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name, instance) DO UPDATE SET state = excluded.state, restarts = excluded.restarts, last_error = excluded.last_error, updated_at = excluded.updated_at")
                    .bind(&health.name)
                    .bind(&health.instance)
                    .bind(&health.state)
                    .bind(health.restarts)
                    .bind(&health.last_error)
                    .bind(health.updated_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn task_health(&self) -> Result<Vec<TaskHealth>, StoreError> {
                let rows = sqlx::query("SELECT name, instance, state, restarts, last_error, updated_at FROM task_health ORDER BY updated_at DESC, name").fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| {
                        Ok(TaskHealth {
                            name: row.try_get("name")?,
                            instance: row.try_get("instance")?,
                            state: row.try_get("state")?,
                            restarts: row.try_get("restarts")?,
                            last_error: row.try_get("last_error")?,
                            updated_at: row.try_get("updated_at")?,
                        })
                    })
                    .collect()
            }

            async fn quarantine(&self, item: &Quarantined) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO quarantine (source, external_id, error, location, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, external_id) DO UPDATE SET error = excluded.error, location = excluded.location, at = excluded.at")
                    .bind(&item.source)
                    .bind(&item.external_id)
                    .bind(&item.error)
                    .bind(&item.location)
                    .bind(item.at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn quarantined(&self, limit: i64) -> Result<Vec<Quarantined>, StoreError> {
                let rows = sqlx::query("SELECT source, external_id, error, location, at FROM quarantine ORDER BY id DESC LIMIT $1").bind(limit).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| {
                        Ok(Quarantined {
                            source: row.try_get("source")?,
                            external_id: row.try_get("external_id")?,
                            error: row.try_get("error")?,
                            location: row.try_get("location")?,
                            at: row.try_get("at")?,
                        })
                    })
                    .collect()
            }

            async fn quarantine_count(&self) -> Result<i64, StoreError> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM quarantine").fetch_one(&self.pool).await?;
                Ok(row.try_get("n")?)
            }

            async fn try_lease(&self, name: &str, holder: &str, now: DateTime<Utc>, ttl: chrono::Duration) -> Result<bool, StoreError> {
                let done = sqlx::query("INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at WHERE leases.holder = excluded.holder OR leases.expires_at < $4")
                    .bind(name)
                    .bind(holder)
                    .bind(now + ttl)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn lease_holder(&self, name: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
                let row = sqlx::query("SELECT holder, expires_at FROM leases WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
                Ok(match row {
                    Some(row) => Some((row.try_get("holder")?, row.try_get("expires_at")?)),
                    None => None,
                })
            }

            async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2").bind(name).bind(holder).execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}

sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    "sqlite",
    "BEGIN IMMEDIATE",
    "UPDATE outbox SET claimed_until = $1, claimed_by = $5, attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND connector = $4 AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY id LIMIT $3) RETURNING id, idempotency_key, connector, target, body, attempts, status, last_error, created_at, retry_until, ticket, thread_key, progress",
    "migrations/sqlite"
);

sql_store!(
    PostgresStore,
    sqlx::Postgres,
    "postgres",
    "BEGIN",
    "UPDATE outbox SET claimed_until = $1, claimed_by = $5, attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND connector = $4 AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id, idempotency_key, connector, target, body, attempts, status, last_error, created_at, retry_until, ticket, thread_key, progress",
    "migrations/postgres"
);
