//! Incoming mail through the one flow: understand it, find its ticket, decide, commit the
//! ticket changes with the outgoing mail. Every intake path (IMAP, Maildir, mbox backfill)
//! comes here, and a Message-ID seen before is a no-op whichever path brought it.

use super::{Engine, EngineError};
use crate::core::actions::{Action, Change};
use crate::core::tickets::Ticket;
use crate::mail::decide::{MailCase, MailWorld, decide};
use crate::mail::extract::Knowledge as ExtractKnowledge;
use crate::mail::{Class, MailContext, understand};
use crate::store::{Committed, InboundKey};
use chrono::{DateTime, Utc};
use std::hash::BuildHasher;

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub context: MailContext,
    /// How long a hard-bounced address stays muted.
    pub mute_for: chrono::Duration,
    pub max_per_recipient_hour: i64,
    pub max_per_recipient_day: i64,
    pub max_per_ticket_hour: i64,
    pub routing: Vec<crate::core::tickets::RoutingRule>,
    pub reopen_closed: bool,
}

#[derive(Debug, Clone)]
pub struct MailOptions {
    /// Committed with the message's own changes (an IMAP checkpoint).
    pub extra: Vec<crate::core::actions::Change>,
    /// False when backfilling an archive: tickets are recorded, nobody is written to.
    pub send_replies: bool,
}

impl Default for MailOptions {
    fn default() -> Self {
        MailOptions {
            extra: Vec::new(),
            send_replies: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum MailHandled {
    Done {
        class: Class,
        ticket: Option<i64>,
        outbox_ids: Vec<i64>,
        may_answer: bool,
        /// The chat command a member sent by mail, when the mail was one.
        command: Option<String>,
    },
    Duplicate,
}

/// Eight random hexadecimal characters, from the process's random hasher seed.
fn secret(seed: &str) -> String {
    let hash = std::collections::hash_map::RandomState::new().hash_one(seed);
    format!("{:08x}", hash as u32)
}

impl Engine {
    /// A known member may write a chat command by mail (first line, or the subject): the answer
    /// goes back by mail. Anyone else's mail follows the usual path.
    async fn mail_command(
        &self,
        key: &InboundKey,
        mail: &crate::mail::Understanding,
        directory: &crate::core::directory::Directory,
        now: DateTime<Utc>,
    ) -> Result<Option<MailHandled>, EngineError> {
        let Some(from) = mail.from.as_ref().filter(|_| mail.may_answer()) else {
            return Ok(None);
        };
        if directory.by_email(&from.address).is_none() {
            return Ok(None);
        }
        let registry = &self.knowledge.registry;
        let first_line = mail
            .new_text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let subject = crate::mail::classify::bare_subject(&mail.subject);
        let Some(line) = [first_line, subject]
            .into_iter()
            .find(|l| registry.parse(l).is_some())
        else {
            return Ok(None);
        };
        let reference = format!("{}:{}", key.source, key.external_id);
        let (actions, command, lang, _) = self
            .command_actions(&from.address, line, None, &reference, now)
            .await?;
        let actions: Vec<Action> = actions
            .into_iter()
            .map(|action| match action {
                Action::Reply(body) => {
                    let subject =
                        format!("Re: {}", if subject.is_empty() { line } else { subject });
                    Action::SendMail(mail.answer(&from.address, subject, body, None))
                }
                other => other,
            })
            .collect();
        let actions = self.guard(actions, now).await?;
        let (changes, messages) = self.plan(key, "smtp", &from.address, actions);
        Ok(Some(
            match self.store.commit(key, &changes, &messages, now).await? {
                Committed::Duplicate => MailHandled::Duplicate,
                Committed::Applied { outbox_ids } => {
                    tracing::info!(command = command.as_deref().unwrap_or("-"), %lang, from = %from.address, "command by mail");
                    if !outbox_ids.is_empty() {
                        self.outbox_signal.notify_one();
                    }
                    MailHandled::Done {
                        class: mail.classification.class,
                        ticket: None,
                        outbox_ids,
                        may_answer: true,
                        command,
                    }
                }
            },
        ))
    }

    /// Loop protection on the way out: mail to a muted address, or beyond the caps per
    /// recipient and per ticket over sliding windows, is dropped and noted on its ticket.
    pub(crate) async fn guard(
        &self,
        actions: Vec<Action>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Action>, EngineError> {
        let settings = &self.settings.mail;
        let mut kept = Vec::with_capacity(actions.len());
        // Mails kept in this batch count too.
        let mut batch: Vec<(String, Option<i64>)> = Vec::new();
        for action in actions {
            let Action::SendMail(mail) = &action else {
                kept.push(action);
                continue;
            };
            let to = mail.to.to_lowercase();
            let queued_here = batch.iter().filter(|(t, _)| *t == to).count() as i64;
            let on_ticket_here = batch
                .iter()
                .filter(|(_, t)| t.is_some() && *t == mail.ticket)
                .count() as i64;
            let refusal = if let Some(until) = self.store.muted_until(&to, now).await? {
                Some(format!(
                    "{to} is muted until {} after a hard bounce",
                    until.format("%Y-%m-%d")
                ))
            } else if self
                .store
                .mails_to_since(&to, now - chrono::Duration::hours(1))
                .await?
                + queued_here
                >= settings.max_per_recipient_hour
            {
                Some(format!(
                    "{to} already got {} mails in the last hour",
                    settings.max_per_recipient_hour
                ))
            } else if self
                .store
                .mails_to_since(&to, now - chrono::Duration::days(1))
                .await?
                + queued_here
                >= settings.max_per_recipient_day
            {
                Some(format!(
                    "{to} already got {} mails in the last day",
                    settings.max_per_recipient_day
                ))
            } else if let Some(ticket) = mail.ticket
                && self
                    .store
                    .mails_for_ticket_since(ticket, now - chrono::Duration::hours(1))
                    .await?
                    + on_ticket_here
                    >= settings.max_per_ticket_hour
            {
                Some(format!(
                    "ticket #{ticket} already sent {} mails in the last hour",
                    settings.max_per_ticket_hour
                ))
            } else {
                None
            };
            match refusal {
                Some(reason) => {
                    tracing::warn!(to = %to, %reason, "outgoing mail suppressed");
                    if let Some(ticket) = mail.ticket {
                        kept.push(Action::Change(Change::TicketEvent {
                            ticket,
                            actor: "passerelle".into(),
                            kind: "mail-suppressed".into(),
                            detail: reason,
                        }));
                    }
                }
                None => {
                    batch.push((to, mail.ticket));
                    kept.push(action);
                }
            }
        }
        Ok(kept)
    }

    /// Handles one raw message. `fallback` identifies it when it has no Message-ID (the
    /// mailbox and UID, the Maildir file name…).
    pub async fn handle_mail(
        &self,
        fallback: InboundKey,
        raw: &[u8],
        now: DateTime<Utc>,
    ) -> Result<MailHandled, EngineError> {
        self.handle_mail_with(fallback, raw, now, MailOptions::default())
            .await
    }

    /// Like [`Engine::handle_mail`], committing `extra` changes (an IMAP checkpoint) in the
    /// same transaction.
    pub async fn handle_mail_with(
        &self,
        fallback: InboundKey,
        raw: &[u8],
        now: DateTime<Utc>,
        options: MailOptions,
    ) -> Result<MailHandled, EngineError> {
        let today = self.today(now);
        let directory = self.directory(today).await?;
        let k = &self.knowledge;
        let extract = ExtractKnowledge {
            vocabulary: &k.vocabulary,
            geography: &k.geography,
            organisations: &directory.organisation_finder,
        };
        let settings = &self.settings.mail;
        let mail = understand(
            raw,
            &k.mail_rules,
            &settings.context,
            &extract,
            today,
            self.settings.default_lang,
        );
        let key = match &mail.message_id {
            Some(id) => InboundKey {
                source: "mail".into(),
                external_id: id.clone(),
            },
            None => fallback,
        };
        let span = tracing::info_span!("mail", source = %key.source, id = %key.external_id);
        let _guard = span.enter();
        if self.store.is_seen(&key).await? {
            tracing::info!("message already processed");
            return Ok(MailHandled::Duplicate);
        }

        if let Some(handled) = self.mail_command(&key, &mail, &directory, now).await? {
            return Ok(handled);
        }

        // Threading: References and In-Reply-To, then the body marker, then the subject tag.
        let mut ticket: Option<Ticket> = None;
        if let Some(number) = self.store.ticket_for_messages(&mail.thread_ids).await? {
            ticket = self.store.ticket(number).await?;
        }
        if ticket.is_none()
            && let Some((number, secret)) = &mail.marker
        {
            ticket = self
                .store
                .ticket(*number)
                .await?
                .filter(|t| t.secret.eq_ignore_ascii_case(secret));
        }
        if ticket.is_none()
            && let Some(number) = mail.classification.ticket
        {
            ticket = self.store.ticket(number).await?;
        }
        let needs_number = match &ticket {
            None => mail.classification.class == Class::Request,
            Some(t) => t.state.is_closed() && !settings.reopen_closed,
        };
        let new_number = if needs_number {
            Some(self.store.allocate_ticket_number().await?)
        } else {
            None
        };
        // Routing needs the team's workload only when a ticket is opened.
        let work = if needs_number {
            self.store.workload().await?
        } else {
            Default::default()
        };
        let secret = secret(&key.external_id);
        let world = MailWorld {
            mute_until: now + settings.mute_for,
            directory: &directory,
            vocabulary: &k.vocabulary,
            geography: &k.geography,
            prompts: &k.prompts,
            routing: &settings.routing,
            work: &work,
            weights: &self.settings.weights,
            max_results: self.settings.max_results,
            today,
            ticket_prefix: &settings.context.ticket_prefix,
            reopen_closed: settings.reopen_closed,
            default_lang: self.settings.default_lang,
        };
        let case = MailCase {
            mail: &mail,
            ticket: ticket.as_ref(),
            new_number,
            secret: &secret,
        };
        let actions = match decide(&case, &world) {
            // An archive is history: its requesters were answered long ago, and suggesting
            // speakers for it today must not count against them in fair rotation.
            Ok(actions) if !options.send_replies => actions
                .into_iter()
                .filter(|a| {
                    !matches!(
                        a,
                        Action::SendMail(_) | Action::Change(Change::RecordProposals { .. })
                    )
                })
                .collect(),
            Ok(actions) => actions,
            Err(error) => {
                // A broken template must not lose the mail: record the ticket without the reply.
                tracing::error!(%error, "mail prompt failed to render");
                return Err(EngineError::Prompt(error));
            }
        };
        let reply_to = mail
            .from
            .as_ref()
            .map(|f| f.address.clone())
            .unwrap_or_default();
        let actions = self.guard(actions, now).await?;
        let (mut changes, messages) = self.plan(&key, "smtp", &reply_to, actions);
        changes.extend(options.extra);
        let ticket_number = changes
            .iter()
            .find_map(|c| match c {
                crate::core::actions::Change::CreateTicket(t) => Some(t.number),
                _ => None,
            })
            .or(ticket.as_ref().map(|t| t.number));
        match self.store.commit(&key, &changes, &messages, now).await? {
            Committed::Duplicate => Ok(MailHandled::Duplicate),
            Committed::Applied { outbox_ids } => {
                tracing::info!(
                    class = ?mail.classification.class,
                    reason = %mail.classification.reason,
                    machine = ?mail.classification.machine,
                    ticket = ?ticket_number,
                    replies = outbox_ids.len(),
                    "mail handled"
                );
                if !outbox_ids.is_empty() {
                    self.outbox_signal.notify_one();
                }
                Ok(MailHandled::Done {
                    command: None,
                    class: mail.classification.class,
                    ticket: ticket_number,
                    outbox_ids,
                    may_answer: mail.may_answer(),
                })
            }
        }
    }
}
