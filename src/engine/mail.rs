//! Incoming mail through the one flow: understand it, find its ticket, decide, commit the
//! ticket changes with the outgoing mail. Every intake path (IMAP, Maildir, mbox backfill)
//! comes here, and a Message-ID seen before is a no-op whichever path brought it.

use super::{Engine, EngineError};
use crate::core::actions::{Action, Change};
use crate::core::address::Address;
use crate::core::inbound::InboundKey;
use crate::core::tickets::Ticket;
use crate::core::tickets::Workload;
use crate::mail::auth::{AuthMethod, SenderAuth};
use crate::mail::decide::{MailCase, MailWorld, ThreadedBy, decide};
use crate::mail::extract::Knowledge as ExtractKnowledge;
use crate::mail::{Class, MailContext, understand};
use crate::store::{BatchItem, Committed};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use tracing::Instrument;

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
    pub authentication: crate::config::MailAuthConfig,
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
        /// Why the message could not be parsed, when it could not: intake moves it aside.
        unreadable: Option<String>,
    },
    Duplicate,
}

/// Eight random hexadecimal characters, from the process's random hasher seed.
fn secret(seed: &str) -> String {
    let hash = std::collections::hash_map::RandomState::new().hash_one(seed);
    format!("{:08x}", hash as u32)
}

impl Engine {
    /// Whether the author of a mail is proven, by the method `bot.toml` names.
    pub async fn sender_auth(&self, raw: &[u8], mail: &crate::mail::Understanding) -> SenderAuth {
        let Some(from) = &mail.from else {
            return SenderAuth::Fail("no sender".into());
        };
        let settings = &self.settings.mail.authentication;
        match settings.method {
            AuthMethod::Off => SenderAuth::Fail("mail authentication is off".into()),
            AuthMethod::AuthenticationResults => crate::mail::auth::verdict_from_results(
                &mail.auth_results,
                &settings.authserv_id,
                &from.address,
            ),
            AuthMethod::Dkim => self.dkim.check(raw, &from.address).await,
        }
    }

    /// A known member may write a chat command by mail (first line, or the subject): the answer
    /// goes back by mail. Only a proven sender's command runs: one whose `From:` cannot be
    /// proven runs nothing and gets no answer (anyone can write a member's address). Anyone
    /// else's mail follows the usual path.
    async fn mail_command(
        &self,
        key: &InboundKey,
        raw: &[u8],
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
        let auth = self.sender_auth(raw, mail).await;
        if !auth.is_pass() {
            tracing::warn!(from = %from.address, reason = %auth.reason(), "command by mail refused: the sender is not proven");
            return Ok(Some(
                match self.apply(key, None, Vec::new(), now, None).await?.0 {
                    Committed::Duplicate => MailHandled::Duplicate,
                    Committed::Applied { outbox_ids } => MailHandled::Done {
                        class: mail.classification.class,
                        ticket: None,
                        outbox_ids,
                        may_answer: false,
                        command: None,
                        unreadable: None,
                    },
                },
            ));
        }
        let Ok(sender) = Address::parse(&from.address) else {
            return Ok(None);
        };
        let reference = key.reference();
        let (actions, command, lang, _) = self
            .command_actions(
                super::Asked {
                    sender: &sender,
                    vouched: None,
                    thread_ticket: None,
                    text: line,
                    forced: None,
                },
                &reference,
                now,
            )
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
        Ok(Some(
            match self.apply(key, None, actions, now, None).await?.0 {
                Committed::Duplicate => MailHandled::Duplicate,
                Committed::Applied { outbox_ids } => {
                    tracing::info!(command = command.as_deref().unwrap_or("-"), %lang, from = %from.address, "command by mail");
                    MailHandled::Done {
                        class: mail.classification.class,
                        ticket: None,
                        outbox_ids,
                        may_answer: true,
                        command,
                        unreadable: None,
                    }
                }
            },
        ))
    }

    /// Loop protection on the way out: mail to a muted address, or beyond the caps per
    /// recipient and per ticket over sliding windows, is dropped and noted on its ticket. Says
    /// which mails it held back and why, so a person who asked for them can be told.
    pub(crate) async fn guard_telling(
        &self,
        actions: Vec<Action>,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Action>, Vec<Held>), EngineError> {
        let mut held = Vec::new();
        let settings = &self.settings.mail;
        let mut kept = Vec::with_capacity(actions.len());
        // Mails kept in this batch count too.
        let mut batch: Vec<(String, Option<i64>)> = Vec::new();
        for action in actions {
            let (Action::SendMail(mail) | Action::SendPromptedMail { mail, .. }) = &action else {
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
                Some(HeldBecause::Muted(until))
            } else if self
                .store
                .mails_to_since(
                    &self.settings.mail_connector,
                    &to,
                    now - chrono::Duration::hours(1),
                )
                .await?
                + queued_here
                >= settings.max_per_recipient_hour
            {
                Some(HeldBecause::RecipientHour(settings.max_per_recipient_hour))
            } else if self
                .store
                .mails_to_since(
                    &self.settings.mail_connector,
                    &to,
                    now - chrono::Duration::days(1),
                )
                .await?
                + queued_here
                >= settings.max_per_recipient_day
            {
                Some(HeldBecause::RecipientDay(settings.max_per_recipient_day))
            } else if let Some(ticket) = mail.ticket
                && self
                    .store
                    .mails_for_ticket_since(ticket, now - chrono::Duration::hours(1))
                    .await?
                    + on_ticket_here
                    >= settings.max_per_ticket_hour
            {
                Some(HeldBecause::TicketHour(
                    ticket,
                    settings.max_per_ticket_hour,
                ))
            } else {
                None
            };
            match refusal {
                Some(because) => {
                    let reason = because.describe(&to);
                    held.push(Held {
                        to: to.clone(),
                        because,
                    });
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
        Ok((kept, held))
    }

    /// Handles one raw message. It is identified by its Message-ID, or without one by its
    /// content, whichever intake path (IMAP, Maildir, archive) brings it.
    pub async fn handle_mail(
        &self,
        raw: &[u8],
        now: DateTime<Utc>,
    ) -> Result<MailHandled, EngineError> {
        self.handle_mail_with(raw, now, MailOptions::default())
            .await
    }

    /// Like [`Engine::handle_mail`], with options: extra changes committed in the same
    /// transaction (an IMAP checkpoint), or no mail sent (an archive being backfilled).
    pub async fn handle_mail_with(
        &self,
        raw: &[u8],
        now: DateTime<Utc>,
        options: MailOptions,
    ) -> Result<MailHandled, EngineError> {
        let item = MailItem {
            raw,
            extra: options.extra,
        };
        let mut handled = self
            .handle_mails(std::slice::from_ref(&item), now, options.send_replies)
            .await?;
        Ok(handled.pop().unwrap_or(MailHandled::Duplicate))
    }

    /// Handles several messages, in order, and commits them in one transaction. A message may
    /// thread onto a ticket opened by an earlier one of the same batch. Used with one message
    /// for live intake, and with many for backfill.
    pub async fn handle_mails(
        &self,
        items: &[MailItem<'_>],
        now: DateTime<Utc>,
        send_replies: bool,
    ) -> Result<Vec<MailHandled>, EngineError> {
        let today = self.today(now);
        let directory = self.directory(today).await?;
        let k = &self.knowledge;
        let domains = crate::mail::extract::domain_organisations(&directory, &k.mail_rules);
        let extract = ExtractKnowledge {
            vocabulary: &k.vocabulary,
            geography: &k.geography,
            organisations: &directory.organisation_finder,
            domains: &domains,
            directory: Some(&*directory),
        };
        let settings = &self.settings.mail;
        let mut results: Vec<Option<MailHandled>> = vec![None; items.len()];
        let mut batch: Vec<BatchItem> = Vec::new();
        let mut pending = Vec::new();
        let mut overlay = Overlay::default();
        let mut work: Option<Workload> = None;
        // Understand everything first (on every core: it is pure work), then ask the store
        // about every key at once.
        let understand_one = |item: &MailItem<'_>| {
            let mail = understand(
                item.raw,
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
                None => InboundKey {
                    source: "mail-content".into(),
                    external_id: mail.content_key.clone(),
                },
            };
            (mail, key)
        };
        let understood: Vec<(crate::mail::Understanding, InboundKey)> =
            if items.len() < PARALLEL_FROM {
                items.iter().map(understand_one).collect()
            } else {
                let threads = std::thread::available_parallelism()
                    .map(usize::from)
                    .unwrap_or(1);
                let chunk = items.len().div_ceil(threads);
                std::thread::scope(|scope| {
                    let parts: Vec<_> = items
                        .chunks(chunk)
                        .map(|part| {
                            scope.spawn(move || part.iter().map(understand_one).collect::<Vec<_>>())
                        })
                        .collect();
                    parts
                        .into_iter()
                        .flat_map(|part| part.join().expect("understanding a mail does not panic"))
                        .collect()
                })
            };
        let keys: Vec<InboundKey> = understood.iter().map(|(_, key)| key.clone()).collect();
        let already = self.store.seen_keys(&keys).await?;
        // Ticket numbers for a batch are reserved together; one left unused (a request that
        // threaded onto an existing ticket) is a gap, as after a crash.
        let mut numbers = Numbers::default();
        // requests_from[i]: how many requests there are from message i on.
        let mut requests_from = vec![0i64; understood.len() + 1];
        for (i, (mail, _)) in understood.iter().enumerate().rev() {
            requests_from[i] =
                requests_from[i + 1] + i64::from(mail.classification.class == Class::Request);
        }
        for (i, (item, (mail, key))) in items.iter().zip(understood).enumerate() {
            // Instrumented, never entered: a guard held across `.await` panics when the task
            // moves between threads.
            let span = tracing::info_span!("mail", source = %key.source, id = %key.external_id);
            let immediate = async {
                if overlay.seen.contains(&key) || already.contains(&key) {
                    tracing::info!("message already processed");
                    return Ok::<_, EngineError>(Some(MailHandled::Duplicate));
                }
                overlay.seen.insert(key.clone());
                // A member's forward of a request is that request, not a command.
                let forwarded_request =
                    mail.forwarded.is_some() && mail.classification.class == Class::Request;
                if send_replies
                    && !forwarded_request
                    && let Some(handled) = self
                    .mail_command(&key, item.raw, &mail, &directory, now)
                    .await?
                {
                    return Ok(Some(handled));
                }
                let (ticket, threaded_by) = match self.find_ticket(&mail, &mut overlay).await? {
                    Some((ticket, how)) => (Some(ticket), Some(how)),
                    None => (None, None),
                };
                let needs_number = match &ticket {
                    None => mail.classification.class == Class::Request,
                    Some(t) => t.state.is_closed() && !settings.reopen_closed,
                };
                let new_number = if needs_number {
                    if numbers.next == numbers.end {
                        // Enough for every request still to come in this batch.
                        let wanted = requests_from[i].max(1);
                        numbers.next = self.store.allocate_ticket_numbers(wanted).await?;
                        numbers.end = numbers.next + wanted;
                    }
                    numbers.next += 1;
                    Some(numbers.next - 1)
                } else {
                    None
                };
                // Routing needs the team's workload only when a ticket is opened.
                if needs_number && work.is_none() {
                    work = Some(self.store.workload().await?);
                }
                let no_work = Workload::default();
                let secret = secret(&key.external_id);
                let world = MailWorld {
                    mute_until: now + settings.mute_for,
                    directory: &directory,
                    vocabulary: &k.vocabulary,
                    geography: &k.geography,
                    routing: &settings.routing,
                    work: work.as_ref().unwrap_or(&no_work),
                    weights: &self.settings.weights,
                    max_results: self.settings.max_results,
                    today,
                    ticket_prefix: &settings.context.ticket_prefix,
                    reopen_closed: settings.reopen_closed,
                    default_lang: self.settings.default_lang,
                };
                // Proving the sender costs DNS lookups: only done live, when a subject tag
                // alone matched a known sender's mail to a ticket. An archive's old
                // signatures prove nothing today (keys rotate), so backfill never asks DNS.
                let sender_verified = match (&ticket, threaded_by, &mail.from) {
                    (Some(t), Some(ThreadedBy::SubjectTag), Some(from))
                        if send_replies
                            && (from.address.eq_ignore_ascii_case(&t.requester_email)
                                || directory.by_email(&from.address).is_some()) =>
                    {
                        self.sender_auth(item.raw, &mail).await.is_pass()
                    }
                    _ => false,
                };
                let bounced_to = if mail.classification.class == Class::Bounce {
                    self.sent_to(&mail.original_ids).await?
                } else {
                    Vec::new()
                };
                // A forward makes its original's sender the requester only when a member sent
                // it and, live, proves it: an archive's signatures prove nothing today, but
                // backfill writes to nobody.
                let forward_trusted = match &mail.from {
                    Some(from)
                        if forwarded_request
                            && ticket.is_none()
                            && directory.by_email(&from.address).is_some() =>
                    {
                        !send_replies || self.sender_auth(item.raw, &mail).await.is_pass()
                    }
                    _ => false,
                };
                let case = MailCase {
                    mail: &mail,
                    ticket: ticket.as_ref(),
                    new_number,
                    secret: &secret,
                    bounced_to: &bounced_to,
                    threaded_by,
                    sender_verified,
                    forward_trusted,
                };
                let actions = decide(&case, &world);
                // A list post tagged as news becomes a draft for the team, before the mail
                // itself is committed: a crash in between reads the mail again, and the draft,
                // keyed by the mail, is not made twice. An archive's news is old news.
                if send_replies && let Some(text) = crate::mail::decide::news_text(&mail) {
                    let proposal = super::NewsProposal {
                        key: InboundKey::new("list-news", &key.external_id),
                        source: "mail",
                        author: mail
                            .from
                            .as_ref()
                            .map_or_else(|| "?".to_string(), |f| f.address.clone()),
                        text,
                        trusted: false,
                    };
                    self.propose_news(&proposal, now).await?;
                }
                // An archive is history: its requesters were answered long ago, suggesting
                // speakers for it today must not count against them in fair rotation, and a
                // bounce mutes only for what is left of the mute period after its own date (an
                // older one, or one without a date, says nothing of an address today).
                let actions: Vec<Action> = if send_replies {
                    actions
                } else {
                    let bounced_on = mail.date.map(|d| d.min(now));
                    actions
                        .into_iter()
                        .filter_map(|a| match a {
                            Action::SendMail(_)
                            | Action::SendPromptedMail { .. }
                            | Action::TeamNotice { .. }
                            | Action::DirectNotice { .. }
                            | Action::Relay { .. }
                            | Action::Change(Change::RecordProposals { .. }) => None,
                            Action::Change(Change::MuteAddress {
                                address, reason, ..
                            }) => bounced_on
                                .map(|on| on + settings.mute_for)
                                .filter(|until| *until > now)
                                .map(|until| {
                                    Action::Change(Change::MuteAddress {
                                        address,
                                        until,
                                        reason,
                                    })
                                }),
                            other => Some(other),
                        })
                        .collect()
                };
                let mut planned = self.prepare(&key, None, actions, now, None).await?.item;
                planned.changes.extend(item.extra.iter().cloned());
                overlay.record(&planned.changes, today, work.as_mut());
                let ticket_number = planned
                    .changes
                    .iter()
                    .find_map(|c| match c {
                        Change::CreateTicket(t) => Some(t.number),
                        _ => None,
                    })
                    .or(ticket.as_ref().map(|t| t.number));
                tracing::info!(class = ?mail.classification.class, reason = %mail.classification.reason, machine = ?mail.classification.machine, ticket = ?ticket_number, replies = planned.messages.len(), "mail handled");
                pending.push((
                    i,
                    mail.classification.class,
                    ticket_number,
                    mail.may_answer(),
                    mail.parse_error.clone(),
                ));
                batch.push(planned);
                Ok(None)
            }
            .instrument(span)
            .await?;
            if immediate.is_some() {
                results[i] = immediate;
            }
        }
        if !batch.is_empty() {
            let committed = self.commit_prepared(&batch, now).await?;
            for ((i, class, ticket, may_answer, unreadable), outcome) in
                pending.into_iter().zip(committed)
            {
                results[i] = Some(match outcome {
                    Committed::Duplicate => MailHandled::Duplicate,
                    Committed::Applied { outbox_ids } => MailHandled::Done {
                        class,
                        ticket,
                        outbox_ids,
                        may_answer,
                        command: None,
                        unreadable,
                    },
                });
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(MailHandled::Duplicate))
            .collect())
    }

    /// Who the bot really sent these Message-IDs to: a report about any other address is
    /// forged or misdirected.
    async fn sent_to(&self, message_ids: &[String]) -> Result<Vec<String>, EngineError> {
        let mut addresses = Vec::new();
        for id in message_ids {
            let Some(key) = super::outbox_key_of_message_id(id, &self.settings.mail_domain) else {
                continue;
            };
            if let Some(row) = self.store.outbox_by_key(&key).await?
                && row.status != "dropped"
            {
                addresses.push(row.target.to_lowercase());
            }
        }
        Ok(addresses)
    }

    /// The ticket a mail threads onto, and how: References and In-Reply-To, then the body
    /// marker (with its secret), then the subject tag — looking first at what this batch
    /// changed.
    async fn find_ticket(
        &self,
        mail: &crate::mail::Understanding,
        overlay: &mut Overlay,
    ) -> Result<Option<(Ticket, ThreadedBy)>, EngineError> {
        let mut number = mail
            .thread_ids
            .iter()
            .rev()
            .find_map(|id| overlay.threads.get(id).copied());
        if number.is_none() {
            number = self.store.ticket_for_messages(&mail.thread_ids).await?;
        }
        if let Some(n) = number
            && let Some(ticket) = self.ticket_in(n, overlay).await?
        {
            return Ok(Some((ticket, ThreadedBy::Reference)));
        }
        if let Some((n, secret)) = &mail.marker
            && let Some(ticket) = self
                .ticket_in(*n, overlay)
                .await?
                .filter(|t| t.secret.eq_ignore_ascii_case(secret))
        {
            return Ok(Some((ticket, ThreadedBy::Marker)));
        }
        Ok(match mail.classification.ticket {
            Some(n) => self
                .ticket_in(n, overlay)
                .await?
                .map(|t| (t, ThreadedBy::SubjectTag)),
            None => None,
        })
    }

    async fn ticket_in(
        &self,
        number: i64,
        overlay: &mut Overlay,
    ) -> Result<Option<Ticket>, EngineError> {
        if let Some(ticket) = overlay.tickets.get(&number) {
            return Ok(Some(ticket.clone()));
        }
        let ticket = self.store.ticket(number).await?;
        if let Some(t) = &ticket {
            overlay.tickets.insert(number, t.clone());
        }
        Ok(ticket)
    }
}

/// A mail the loop guard held back.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub to: String,
    pub because: HeldBecause,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HeldBecause {
    /// Muted after a hard bounce, until then.
    Muted(DateTime<Utc>),
    /// The address already got this many mails in the last hour.
    RecipientHour(i64),
    /// … in the last day.
    RecipientDay(i64),
    /// The ticket already sent this many mails in the last hour.
    TicketHour(i64, i64),
}

impl HeldBecause {
    /// For the ticket history and the logs.
    fn describe(&self, to: &str) -> String {
        match self {
            HeldBecause::Muted(until) => format!(
                "{to} is muted until {} after a hard bounce",
                until.format("%Y-%m-%d")
            ),
            HeldBecause::RecipientHour(max) => {
                format!("{to} already got {max} mails in the last hour")
            }
            HeldBecause::RecipientDay(max) => {
                format!("{to} already got {max} mails in the last day")
            }
            HeldBecause::TicketHour(ticket, max) => {
                format!("ticket #{ticket} already sent {max} mails in the last hour")
            }
        }
    }
}

/// Batches at least this large are understood on several threads.
const PARALLEL_FROM: usize = 32;

/// Ticket numbers reserved for a batch: `next` up to, not including, `end`.
#[derive(Default)]
struct Numbers {
    next: i64,
    end: i64,
}

/// One raw message to handle, with changes to commit alongside it.
pub struct MailItem<'a> {
    pub raw: &'a [u8],
    pub extra: Vec<Change>,
}

/// What a batch has decided so far and not yet committed, so later messages see it.
#[derive(Default)]
struct Overlay {
    seen: HashSet<InboundKey>,
    /// Message-ID → ticket, for messages linked in this batch.
    threads: HashMap<String, i64>,
    /// Tickets read or written in this batch, as they now are.
    tickets: HashMap<i64, Ticket>,
}

impl Overlay {
    fn record(
        &mut self,
        changes: &[Change],
        today: chrono::NaiveDate,
        work: Option<&mut Workload>,
    ) {
        let mut work = work;
        for change in changes {
            match change {
                Change::CreateTicket(t) => {
                    if let (Some(work), Some(member)) = (work.as_deref_mut(), t.assignee) {
                        *work.open_tickets.entry(member).or_default() += 1;
                        work.last_assigned.insert(member, today);
                    }
                    self.tickets.insert(t.number, t.clone());
                }
                Change::LinkMessage {
                    ticket, message_id, ..
                } => {
                    self.threads.insert(message_id.clone(), *ticket);
                }
                Change::SetTicketState { ticket, state } => {
                    if let Some(t) = self.tickets.get_mut(ticket) {
                        t.state = *state;
                    }
                }
                Change::AssignTicket { ticket, member_id } => {
                    if let Some(t) = self.tickets.get_mut(ticket) {
                        t.assignee = Some(*member_id);
                    }
                }
                _ => {}
            }
        }
    }
}
