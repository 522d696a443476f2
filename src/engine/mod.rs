//! The one flow: an inbound item goes through its handler, and the changes and replies it
//! produces are committed together; the outbox worker then delivers the replies.

mod apply;
mod mail;
mod news;
mod outbox;
mod reminders;
pub mod sender_auth;

pub use mail::{Held, HeldBecause, MailHandled, MailItem, MailOptions, MailSettings};
pub use news::NewsProposal;

pub use apply::{Origin, Planned};
pub use outbox::{
    Delivered, DeliveryError, Outbound, OutboxWorker, Progress, ReceiptSink, RetryPolicy,
    WorkerReport,
};

pub use crate::core::inbound::{Inbound, InboundKey, OutboxMessage, ReplyTo};

use crate::commands::{self, Context, Registry};
use crate::core::actions::Action;
use crate::core::address::Address;
use crate::core::directory::{Directory, Member, Role};
use crate::core::geo::Geography;
use crate::core::lang::Lang;
use crate::core::search::Weights;
use crate::core::topics::Vocabulary;
use crate::prompts::Prompts;
use crate::store::{Committed, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use std::sync::Arc;
use tokio::sync::{Mutex, Notify};
use tracing::Instrument;

/// A stable Message-ID from an outbox key: the same key always gives the same id, and two
/// keys never give the same id (letters, digits and `-` are kept, every other byte becomes
/// `=XX`), so replies to different requests can never thread onto one ticket.
pub fn mail_message_id(idempotency_key: &str, domain: &str) -> String {
    let mut local = String::with_capacity(idempotency_key.len() + 16);
    for byte in idempotency_key.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            local.push(char::from(byte));
        } else {
            local.push_str(&format!("={byte:02X}"));
        }
    }
    format!("passerelle.{local}@{domain}")
}

/// The outbox key a Message-ID of ours was made from ([`mail_message_id`] reversed); `None`
/// for any other id.
pub fn outbox_key_of_message_id(message_id: &str, domain: &str) -> Option<String> {
    let local = message_id
        .strip_prefix("passerelle.")?
        .strip_suffix(domain)?
        .strip_suffix('@')?;
    let mut bytes = Vec::with_capacity(local.len());
    let mut rest = local.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'=' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// The longest chat line the bot reads, in characters; a longer one gets a short answer.
pub const MAX_LINE_CHARS: usize = 2000;

/// A command line and who asks it, where: what [`Engine::command_actions`] decides on.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub sender: &'a Address,
    /// A role the channel vouches for.
    pub vouched: Option<Role>,
    /// The ticket whose thread the line was written in.
    pub thread_ticket: Option<i64>,
    pub text: &'a str,
    /// A language the asker explicitly asked for.
    pub forced: Option<Lang>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    Done {
        outbox_ids: Vec<i64>,
        command: Option<String>,
        lang: Lang,
    },
    /// Already processed: nothing done.
    Duplicate,
    /// Empty text: nothing to answer.
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Prompt(#[from] crate::prompts::PromptError),
}

impl EngineError {
    /// Whether trying again later may succeed (the store is down), as opposed to a failure
    /// the same item will hit every time.
    pub fn is_transient(&self) -> bool {
        matches!(self, EngineError::Store(_))
    }
}

/// Settings of the engine, from `bot.toml`.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub default_lang: Lang,
    pub timezone: chrono_tz::Tz,
    pub max_results: usize,
    pub weights: Weights,
    /// Addresses that are admins / core team whatever the directory says.
    pub admins: Vec<Address>,
    pub core_team: Vec<Address>,
    /// Proposals older than this many days no longer count against a speaker.
    pub proposal_window_days: u64,
    /// The domain of the Message-IDs of mail the bot sends.
    pub mail_domain: String,
    /// The connector (its name in `bot.toml`) that sends mail.
    pub mail_connector: String,
    /// Where the core team hears about tickets: a connector and a place in its terms.
    pub team: Option<(String, ReplyTo)>,
    /// Where posts of the watched mailing list are relayed, if anywhere.
    pub list_relay: Option<(String, ReplyTo)>,
    pub mail: MailSettings,
    /// Working hours for reminder delays.
    pub calendar: crate::core::business_hours::BusinessCalendar,
    pub reminders: crate::core::reminders::ReminderPolicy,
    /// Who hears about escalations; empty means the directory's admins.
    pub escalate_to: Vec<String>,
    pub social: SocialSettings,
}

/// The social relay's settings (`[social]`).
#[derive(Debug, Clone, Default)]
pub struct SocialSettings {
    /// The networks an approved draft goes to, each through its connector.
    pub channels: Vec<crate::core::news::Channel>,
    /// Where drafts are previewed and decided.
    pub review: Option<(String, ReplyTo)>,
}

/// Everything loaded once at start: the data the handlers read.
pub struct Knowledge {
    pub registry: Registry,
    pub prompts: Prompts,
    pub vocabulary: Vocabulary,
    pub geography: Geography,
    pub mail_rules: crate::mail::MailRules,
}

pub struct Engine {
    store: Arc<dyn Store>,
    knowledge: Arc<Knowledge>,
    settings: EngineSettings,
    /// (directory version, day it was built for, snapshot).
    cache: Mutex<Option<(i64, NaiveDate, Arc<Directory>)>>,
    outbox_signal: Arc<Notify>,
    dkim: sender_auth::DkimChecker,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        knowledge: Arc<Knowledge>,
        settings: EngineSettings,
    ) -> Result<Self, sender_auth::PinnedRecordError> {
        let pinned: Vec<(String, String)> = settings
            .mail
            .authentication
            .dkim_keys
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Engine {
            dkim: sender_auth::DkimChecker::new(&pinned)?,
            store,
            knowledge,
            settings,
            cache: Mutex::new(None),
            outbox_signal: Arc::new(Notify::new()),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn knowledge(&self) -> &Arc<Knowledge> {
        &self.knowledge
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Woken whenever new outbox rows are committed.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox_signal.clone()
    }

    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.settings.timezone).date_naive()
    }

    /// The directory snapshot, rebuilt when the store changed or the day turned.
    pub async fn directory(&self, today: NaiveDate) -> Result<Arc<Directory>, EngineError> {
        let version = self.store.directory_version().await?;
        let mut cache = self.cache.lock().await;
        if let Some((v, day, directory)) = cache.as_ref()
            && *v == version
            && *day == today
        {
            return Ok(directory.clone());
        }
        let since = today - chrono::Days::new(self.settings.proposal_window_days);
        let data = self.store.load_directory(since).await?;
        let k = &self.knowledge;
        let directory = Arc::new(Directory::build(data, &k.vocabulary, &k.geography, today));
        *cache = Some((version, today, directory.clone()));
        Ok(directory)
    }

    /// The role of a sender: the higher of the directory's and the config lists'.
    pub fn role_of(
        &self,
        sender: &Address,
        member: Option<&Member>,
        vouched: Option<Role>,
    ) -> Role {
        let listed = |list: &[Address]| list.contains(sender);
        let from_config = if listed(&self.settings.admins) {
            Role::Admin
        } else if listed(&self.settings.core_team) {
            Role::CoreTeam
        } else {
            Role::Anyone
        };
        from_config
            .max(member.map(|m| m.access).unwrap_or(Role::Anyone))
            .max(vouched.unwrap_or(Role::Anyone))
    }

    pub async fn handle(&self, inbound: &Inbound) -> Result<Handled, EngineError> {
        self.handle_at(inbound, Utc::now()).await
    }

    /// Handles one inbound item as of `now`.
    pub async fn handle_at(
        &self,
        inbound: &Inbound,
        now: DateTime<Utc>,
    ) -> Result<Handled, EngineError> {
        // Instrumented, never entered: a span guard held across `.await` panics when the task
        // moves between threads ("tried to clone a span that already closed").
        let span = tracing::info_span!("inbound", source = %inbound.key.source, id = %inbound.key.external_id);
        self.handle_in_span(inbound, now).instrument(span).await
    }

    async fn handle_in_span(
        &self,
        inbound: &Inbound,
        now: DateTime<Utc>,
    ) -> Result<Handled, EngineError> {
        if inbound.text.trim().is_empty() {
            return Ok(Handled::Ignored);
        }
        if self.store.is_seen(&inbound.key).await? {
            tracing::info!("duplicate inbound item ignored");
            return Ok(Handled::Duplicate);
        }
        let reference = inbound.key.reference();
        let length = inbound.text.chars().count();
        let (actions, command, lang, role) = if length > MAX_LINE_CHARS {
            // Not parsed at all: a pasted document would cost seconds of matching.
            let start: String = inbound.text.chars().take(500).collect();
            let lang = inbound
                .lang
                .or_else(|| crate::core::lang::detect(&start))
                .unwrap_or(self.settings.default_lang);
            tracing::warn!(length, "chat line too long; not read");
            let text = self.knowledge.prompts.render(
                lang,
                "errors/too_long",
                serde_json::json!({ "length": length, "max": MAX_LINE_CHARS }),
            )?;
            let role = self.role_of(&inbound.sender, None, inbound.vouched_role);
            (vec![Action::Reply(text)], None, lang, role)
        } else {
            self.command_actions(
                Asked {
                    sender: &inbound.sender,
                    vouched: inbound.vouched_role,
                    thread_ticket: inbound.ticket,
                    text: &inbound.text,
                    forced: inbound.lang,
                },
                &reference,
                now,
            )
            .await?
        };
        // Written in the ticket's own thread, the answer is already where the team looks: a
        // notice about the same ticket there would say it twice.
        let mut actions = actions;
        // A news draft remembers where it was proposed, for reports when no review place is set.
        for action in &mut actions {
            if let Action::Change(crate::core::actions::Change::SaveDraft(draft)) = action
                && draft.origin.is_none()
            {
                draft.origin = Some((inbound.connector.clone(), inbound.reply_to.target()));
            }
        }
        if let Some(ticket) = inbound.ticket {
            actions.retain(|a| !matches!(a, Action::TeamNotice { ticket: t, .. } if *t == ticket));
        }
        // Mail asked for from chat goes through the same loop guard as any other; the person
        // is told what was held back instead of being told it was sent.
        let origin = Origin {
            connector: &inbound.connector,
            reply_to: &inbound.reply_to,
        };
        match self
            .apply(&inbound.key, Some(origin), actions, now, Some(lang))
            .await?
        {
            (Committed::Duplicate, _) => {
                tracing::info!("duplicate inbound item ignored");
                Ok(Handled::Duplicate)
            }
            (Committed::Applied { outbox_ids }, planned) => {
                tracing::info!(command = command.as_deref().unwrap_or("-"), %lang, role = %role, changes = planned.item.changes.len(), replies = outbox_ids.len(), "handled");
                Ok(Handled::Done {
                    outbox_ids,
                    command,
                    lang,
                })
            }
        }
    }

    /// Runs one command line for a sender: the tickets it names are read first, then the pure
    /// handler decides. A template that fails to render becomes the internal-error answer,
    /// carrying `reference` so the team can find the log line.
    pub async fn command_actions(
        &self,
        asked: Asked<'_>,
        reference: &str,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Action>, Option<String>, Lang, Role), EngineError> {
        let Asked {
            sender,
            vouched,
            thread_ticket,
            text,
            forced,
        } = asked;
        let today = self.today(now);
        let directory = self.directory(today).await?;
        let asker = directory.by_address(sender);
        let role = self.role_of(sender, asker, vouched);
        let k = &self.knowledge;
        let arg_ctx = commands::args::ArgContext {
            vocabulary: &k.vocabulary,
            geography: &k.geography,
            directory: &directory,
            registry: &k.registry,
            today,
            thorough: true,
        };
        let needed = commands::tickets_needed(&arg_ctx, text, thread_ticket);
        let mut tickets = commands::TicketData::default();
        if let Some(number) = needed.number
            && let Some(ticket) = self.store.ticket(number).await?
        {
            let events = self.store.ticket_events(number).await?;
            tickets.by_number.insert(number, (ticket, events));
        }
        if needed.mine
            && let Some(me) = asker
        {
            tickets.mine = self.store.open_tickets_of(me.id).await?;
        }
        if needed.open {
            tickets.open = self.store.open_tickets().await?;
        }
        if needed.work {
            tickets.work = self.store.workload().await?;
        }
        if needed.timings {
            tickets.timings = self
                .store
                .ticket_timings(now - chrono::Duration::days(commands::handlers::STATS_WINDOW_DAYS))
                .await?;
        }
        let mut news = commands::NewsData {
            channels: self.settings.social.channels.clone(),
            ..Default::default()
        };
        if let Some(id) = needed.draft
            && let Some(draft) = self.store.draft(id).await?
        {
            news.by_id.insert(id, draft);
        }
        if needed.drafts {
            news.recent = self.store.recent_drafts(20).await?;
        }
        if needed.new_draft {
            news.new_id = Some(self.store.allocate_draft_id().await?);
        }
        let ctx = Context {
            tickets: &tickets,
            ticket_prefix: &self.settings.mail.context.ticket_prefix,
            thread_ticket,
            registry: &k.registry,
            prompts: &k.prompts,
            vocabulary: &k.vocabulary,
            geography: &k.geography,
            directory: &directory,
            asker,
            role,
            today,
            default_lang: self.settings.default_lang,
            max_results: self.settings.max_results,
            weights: &self.settings.weights,
            routing: &self.settings.mail.routing,
            now,
            sender,
            timezone: self.settings.timezone,
            news: &news,
        };
        Ok(match commands::handle_line(&ctx, text, forced) {
            Ok(outcome) => (outcome.actions, outcome.command, outcome.lang, role),
            Err(error) => {
                let lang = forced
                    .or(asker.and_then(|m| m.preferred_lang))
                    .unwrap_or(self.settings.default_lang);
                tracing::error!(%error, "a prompt failed to render");
                let text = k.prompts.render(
                    lang,
                    "errors/internal",
                    serde_json::json!({ "id": reference }),
                );
                (
                    text.into_iter().map(Action::Reply).collect(),
                    None,
                    lang,
                    role,
                )
            }
        })
    }

    /// What connector `connector` saved under `key` (a mailbox's checkpoint, a sync token).
    pub async fn connector_state(
        &self,
        connector: &str,
        key: &str,
    ) -> Result<Option<String>, EngineError> {
        Ok(self.store.connector_state(connector, key).await?)
    }

    /// Saves a connector's state on its own; state that must move with an item's effects goes
    /// in as a [`crate::core::actions::Change::ConnectorState`] instead.
    pub async fn save_connector_state(
        &self,
        connector: &str,
        key: &str,
        value: &str,
    ) -> Result<(), EngineError> {
        Ok(self
            .store
            .save_connector_state(connector, key, value)
            .await?)
    }

    /// Records an inbound item that was moved aside because handling it failed for good.
    pub async fn quarantine(
        &self,
        source: &str,
        external_id: &str,
        error: &str,
        location: Option<&str>,
    ) -> Result<(), EngineError> {
        self.store
            .quarantine(&crate::store::Quarantined {
                source: source.to_string(),
                external_id: external_id.to_string(),
                error: error.to_string(),
                location: location.map(str::to_string),
                at: Utc::now(),
            })
            .await?;
        Ok(())
    }

    /// A reply for when the store cannot be reached, in the sender's language if known.
    pub fn unavailable_message(&self, inbound: &Inbound) -> Option<String> {
        let lang = inbound
            .lang
            .or_else(|| crate::core::lang::detect(&inbound.text))
            .unwrap_or(self.settings.default_lang);
        self.knowledge
            .prompts
            .render(
                lang,
                "errors/unavailable",
                serde_json::json!({ "id": inbound.key.reference() }),
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::mail_message_id;

    #[test]
    fn message_ids_are_stable_and_never_shared_by_two_keys() {
        let keys = [
            "mail:col_1@x:0",
            "mail:col.1@x:0",
            "mail:col=5F1@x:0",
            "mail:col-1@x:0",
            "mail:col 1@x:0",
            "mail:cöl_1@x:0",
        ];
        let ids: Vec<String> = keys
            .iter()
            .map(|k| mail_message_id(k, "example.org"))
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "{ids:?}");
        assert_eq!(ids[0], mail_message_id(keys[0], "example.org"));
        assert_eq!(ids[0], "passerelle.mail=3Acol=5F1=40x=3A0@example.org");
        for (key, id) in keys.iter().zip(&ids) {
            assert_eq!(
                super::outbox_key_of_message_id(id, "example.org").as_deref(),
                Some(*key)
            );
        }
        assert_eq!(super::outbox_key_of_message_id(&ids[0], "other.org"), None);
        assert_eq!(
            super::outbox_key_of_message_id("abc@example.org", "example.org"),
            None
        );
        assert_eq!(
            super::outbox_key_of_message_id("passerelle.x=4@example.org", "example.org"),
            None
        );
        // Only characters a Message-ID's left part allows.
        for id in &ids {
            let local = id.split('@').next().unwrap();
            assert!(
                local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.=".contains(c)),
                "{id}"
            );
        }
    }
}
