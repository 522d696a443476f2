//! The one way anything reaches the store: guard → plan → commit → notify. Chat lines, mail,
//! commands by mail and reminders all come through here, so no source can skip the loop guard
//! or write an outbox row another way.

use super::{Engine, EngineError, Held, HeldBecause, mail_message_id};
use crate::core::actions::{Action, Change, MailEnvelope, OutgoingMail, Prompt};
use crate::core::address::Address;
use crate::core::inbound::{InboundKey, NewMessage, ReplyTo};
use crate::core::lang::Lang;
use crate::store::{BatchItem, Committed};
use chrono::{DateTime, Utc};

/// Where the answers of an item go: `Action::Reply` is sent by this connector to this place.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub connector: &'a str,
    pub reply_to: &'a ReplyTo,
}

/// One item's effects, guarded and planned, not yet committed.
#[derive(Debug, Clone)]
pub struct Planned {
    pub item: BatchItem,
    /// Mails the loop guard held back.
    pub held: Vec<Held>,
}

impl Engine {
    /// Renders prompts, runs the loop guard and turns actions into store changes and outbox
    /// rows. With `tell` (the asker's language), each held mail replaces the item's answers
    /// with a sentence saying what was held and why, instead of claiming it was sent.
    pub async fn prepare(
        &self,
        key: &InboundKey,
        origin: Option<Origin<'_>>,
        actions: Vec<Action>,
        now: DateTime<Utc>,
        tell: Option<Lang>,
    ) -> Result<Planned, EngineError> {
        let (mut actions, held) = self.guard_telling(actions, now).await?;
        for action in &mut actions {
            if let Action::SendMail(mail) | Action::SendPromptedMail { mail, .. } = action {
                self.thread_on_ticket(mail).await?;
            }
        }
        if let Some(lang) = tell
            && !held.is_empty()
        {
            actions.retain(|a| !matches!(a, Action::Reply(_)));
            for mail in &held {
                actions.push(Action::Reply(self.held_message(lang, mail)?));
            }
        }
        let (changes, messages) = self.plan(key, origin, actions)?;
        Ok(Planned {
            item: BatchItem {
                key: key.clone(),
                changes,
                messages,
            },
            held,
        })
    }

    /// Prepares and commits one item; wakes the outbox when rows were queued.
    pub async fn apply(
        &self,
        key: &InboundKey,
        origin: Option<Origin<'_>>,
        actions: Vec<Action>,
        now: DateTime<Utc>,
        tell: Option<Lang>,
    ) -> Result<(Committed, Planned), EngineError> {
        let planned = self.prepare(key, origin, actions, now, tell).await?;
        let committed = self
            .commit_prepared(std::slice::from_ref(&planned.item), now)
            .await?
            .pop()
            .unwrap_or(Committed::Duplicate);
        Ok((committed, planned))
    }

    /// Commits prepared items in one transaction (backfill's batch form of [`Engine::apply`]).
    pub async fn commit_prepared(
        &self,
        items: &[BatchItem],
        now: DateTime<Utc>,
    ) -> Result<Vec<Committed>, EngineError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let committed = self.store.commit_batch(items, now).await?;
        if committed
            .iter()
            .any(|c| matches!(c, Committed::Applied { outbox_ids } if !outbox_ids.is_empty()))
        {
            self.outbox_signal.notify_one();
        }
        Ok(committed)
    }

    /// Splits actions into store changes and outbox rows. Each row's idempotency key is the
    /// inbound key and its position; a mail's Message-ID is derived from that key, so a
    /// redelivery after a crash carries the same Message-ID. Mail goes through the connector
    /// `[mail] connector` names; a mail whose body is a prompt is rendered here.
    fn plan(
        &self,
        key: &InboundKey,
        origin: Option<Origin<'_>>,
        actions: Vec<Action>,
    ) -> Result<(Vec<Change>, Vec<NewMessage>), EngineError> {
        let mut changes = Vec::new();
        let mut messages: Vec<NewMessage> = Vec::new();
        for action in actions {
            let idempotency_key = format!("{}:{}", key.reference(), messages.len());
            match action {
                Action::Change(change) => changes.push(change),
                Action::Reply(body) => match origin {
                    Some(origin) => messages.push(NewMessage {
                        idempotency_key,
                        connector: origin.connector.to_string(),
                        target: origin.reply_to.target(),
                        body,
                        ticket: None,
                        thread_key: None,
                        not_before: None,
                    }),
                    None => {
                        tracing::error!(id = %key.reference(), "an answer with nowhere to go was dropped")
                    }
                },
                Action::SendMail(mail) => {
                    messages.push(self.mail_row(idempotency_key, mail, &mut changes));
                }
                Action::TeamNotice { ticket, body } => {
                    if let Some((connector, target)) = &self.settings.team {
                        messages.push(NewMessage {
                            idempotency_key,
                            connector: connector.clone(),
                            target: target.target(),
                            body: self.render(&body)?,
                            ticket: Some(ticket),
                            thread_key: None,
                            not_before: None,
                        });
                    }
                }
                Action::Relay { thread, body } => {
                    if let Some((connector, target)) = &self.settings.list_relay {
                        messages.push(NewMessage {
                            idempotency_key,
                            connector: connector.clone(),
                            target: target.target(),
                            body: self.render(&body)?,
                            ticket: None,
                            thread_key: Some(format!("list:{thread}")),
                            not_before: None,
                        });
                    }
                }
                // Reachable only on a Matrix team channel, for a member with a Matrix id.
                Action::DirectNotice { to, ticket, body } => {
                    if let (Some((connector, ReplyTo::Matrix { .. })), Address::Matrix(user)) =
                        (&self.settings.team, to)
                    {
                        messages.push(NewMessage {
                            idempotency_key,
                            connector: connector.clone(),
                            target: ReplyTo::Matrix {
                                room: user,
                                thread: None,
                            }
                            .target(),
                            body: self.render(&body)?,
                            ticket: Some(ticket),
                            thread_key: None,
                            not_before: None,
                        });
                    }
                }
                Action::Publish {
                    connector,
                    key,
                    job,
                    not_before,
                } => messages.push(NewMessage {
                    // The draft's own key: approving twice can never queue a second row.
                    idempotency_key: key,
                    target: format!("social:{connector}"),
                    connector,
                    body: serde_json::to_string(&job).expect("a social job serialises"),
                    ticket: None,
                    thread_key: Some(crate::core::news::NewsDraft::thread_key(job.draft())),
                    not_before,
                }),
                Action::NewsNotice { draft, body } => {
                    let body = self.render(&body)?;
                    let thread_key = Some(crate::core::news::NewsDraft::thread_key(draft));
                    match (&self.settings.social.review, origin) {
                        (Some((connector, target)), origin) => {
                            // Asked elsewhere (another room, the console): a copy answers there.
                            if let Some(origin) = origin.filter(|o| {
                                o.connector != connector || !same_place(o.reply_to, target)
                            }) {
                                messages.push(NewMessage {
                                    idempotency_key: format!("{idempotency_key}:here"),
                                    connector: origin.connector.to_string(),
                                    target: origin.reply_to.target(),
                                    body: body.clone(),
                                    ticket: None,
                                    thread_key: None,
                                    not_before: None,
                                });
                            }
                            messages.push(NewMessage {
                                idempotency_key,
                                connector: connector.clone(),
                                target: target.target(),
                                body,
                                ticket: None,
                                thread_key,
                                not_before: None,
                            });
                        }
                        (None, Some(origin)) => messages.push(NewMessage {
                            idempotency_key,
                            connector: origin.connector.to_string(),
                            target: origin.reply_to.target(),
                            body,
                            ticket: None,
                            thread_key: None,
                            not_before: None,
                        }),
                        (None, None) => {
                            tracing::warn!(id = %key.reference(), draft, "no review place for a news notice: set [social] review_connector")
                        }
                    }
                }
                Action::SendPromptedMail { mut mail, body } => {
                    mail.body = self.render(&body).inspect_err(
                        |error| tracing::error!(%error, "a mail prompt failed to render"),
                    )?;
                    messages.push(self.mail_row(idempotency_key, mail, &mut changes));
                }
            }
        }
        Ok((changes, messages))
    }

    fn render(&self, prompt: &Prompt) -> Result<String, crate::prompts::PromptError> {
        self.knowledge
            .prompts
            .render(prompt.lang, &prompt.key, &prompt.vars)
    }

    /// A mail about a ticket written from chat (a reply to the requester) answers the ticket's
    /// mail thread: In-Reply-To the requester's last mail, References its first mails and last
    /// ones, so the requester's client shows one conversation.
    async fn thread_on_ticket(&self, mail: &mut OutgoingMail) -> Result<(), EngineError> {
        let Some(ticket) = mail.ticket else {
            return Ok(());
        };
        if mail.in_reply_to.is_some() || !mail.references.is_empty() {
            return Ok(());
        }
        let ids = self.store.ticket_message_ids(ticket).await?;
        mail.in_reply_to = ids
            .iter()
            .rev()
            .find(|(_, direction)| direction == "in")
            .map(|(id, _)| id.clone());
        // A long ticket keeps its header short: the thread's start and its latest mails.
        const KEPT: usize = 10;
        let start = ids.len().saturating_sub(KEPT - 1).max(1);
        mail.references = ids
            .iter()
            .take(1)
            .chain(ids.iter().skip(start))
            .map(|(id, _)| id.clone())
            .collect();
        Ok(())
    }

    /// The outbox row of a mail, its Message-ID fixed from the row's key and threaded onto its
    /// ticket.
    fn mail_row(
        &self,
        idempotency_key: String,
        mail: OutgoingMail,
        changes: &mut Vec<Change>,
    ) -> NewMessage {
        let message_id = mail_message_id(&idempotency_key, &self.settings.mail_domain);
        if let Some(ticket) = mail.ticket {
            changes.push(Change::LinkMessage {
                ticket,
                message_id: message_id.clone(),
                direction: "out",
            });
        }
        let ticket = mail.ticket;
        let envelope = MailEnvelope { message_id, mail };
        NewMessage {
            idempotency_key,
            connector: self.settings.mail_connector.clone(),
            target: envelope.mail.to.clone(),
            body: serde_json::to_string(&envelope).expect("a mail serialises"),
            ticket,
            thread_key: None,
            not_before: None,
        }
    }

    /// Why a mail asked for in chat was not sent, in the asker's language.
    fn held_message(&self, lang: Lang, held: &Held) -> Result<String, EngineError> {
        let (why, until, max) = match &held.because {
            HeldBecause::Muted(until) => (
                "muted",
                Some(crate::commands::handlers::format_day(
                    lang,
                    until.with_timezone(&self.settings.timezone).date_naive(),
                )),
                None,
            ),
            HeldBecause::RecipientHour(max) => ("recipient-hour", None, Some(*max)),
            HeldBecause::RecipientDay(max) => ("recipient-day", None, Some(*max)),
            HeldBecause::TicketHour(_, max) => ("ticket-hour", None, Some(*max)),
        };
        Ok(self.knowledge.prompts.render(
            lang,
            "errors/mail_held",
            serde_json::json!({ "to": held.to, "why": why, "until": until, "max": max }),
        )?)
    }
}

/// Whether two places are the same room (a thread of a Matrix room is in the room).
fn same_place(a: &ReplyTo, b: &ReplyTo) -> bool {
    match (a, b) {
        (ReplyTo::Matrix { room: x, .. }, ReplyTo::Matrix { room: y, .. }) => x == y,
        _ => a == b,
    }
}
