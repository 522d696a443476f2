//! What to do with an understood mail, as a pure function: open or update a ticket, route it,
//! suggest speakers, acknowledge the requester in their language.

use super::Understanding;
use super::classify::{Class, bare_subject};
use crate::core::actions::{Action, Change, Prompt};
use crate::core::directory::Directory;
use crate::core::geo::Geography;
use crate::core::lang::Lang;
use crate::core::search::{self, SpeakerQuery, Weights};
use crate::core::tickets::{RoutingInput, RoutingRule, Ticket, TicketState, Workload, route};
use crate::core::topics::Vocabulary;
use chrono::NaiveDate;
use serde_json::json;

/// Everything a decision reads, loaded by the engine.
pub struct MailWorld<'a> {
    pub directory: &'a Directory,
    pub vocabulary: &'a Vocabulary,
    pub geography: &'a Geography,
    pub routing: &'a [RoutingRule],
    pub work: &'a Workload,
    pub weights: &'a Weights,
    pub max_results: usize,
    pub today: NaiveDate,
    pub ticket_prefix: &'a str,
    pub reopen_closed: bool,
    pub default_lang: Lang,
    /// A hard bounce mutes the failed address until then.
    pub mute_until: chrono::DateTime<chrono::Utc>,
}

/// How a mail was matched to its ticket. References and the marker carry something only the
/// recipients of the bot's mail know; a subject tag anyone can type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadedBy {
    Reference,
    Marker,
    SubjectTag,
}

/// The mail and what threading found for it.
pub struct MailCase<'a> {
    pub mail: &'a Understanding,
    /// The ticket the mail threads onto, if any.
    pub ticket: Option<&'a Ticket>,
    /// A number reserved for a new ticket, when one may be needed.
    pub new_number: Option<i64>,
    /// Random text for the new ticket's body marker.
    pub secret: &'a str,
    /// For a delivery report: the addresses the returned mail was really sent to by the bot
    /// (checked against the outbox). A report about any other address is not believed.
    pub bounced_to: &'a [String],
    /// How the mail was matched to `ticket`.
    pub threaded_by: Option<ThreadedBy>,
    /// The sender's address is proven (DKIM/DMARC, or the trusted Authentication-Results).
    pub sender_verified: bool,
    /// The mail forwards a message (`Understanding::forwarded`) and comes from a member whose
    /// address is proven: the original's sender becomes the requester. Anyone else's forward
    /// keeps its sender as requester, or a forged "forward" would make the bot write to any
    /// address.
    pub forward_trusted: bool,
}

fn event(ticket: i64, actor: &str, kind: &str, detail: impl Into<String>) -> Action {
    Action::Change(Change::TicketEvent {
        ticket,
        actor: actor.to_string(),
        kind: kind.to_string(),
        detail: detail.into(),
    })
}

/// Attachments are kept as metadata only (name, type, size), never their bodies.
fn attachments_event(mail: &Understanding, ticket: i64, actor: &str) -> Option<Action> {
    if mail.attachments.is_empty() {
        return None;
    }
    let list: Vec<String> = mail
        .attachments
        .iter()
        .map(|a| {
            format!(
                "{} ({}, {} bytes)",
                a.name.as_deref().unwrap_or("unnamed"),
                a.content_type,
                a.size
            )
        })
        .collect();
    Some(event(ticket, actor, "attachments", list.join(", ")))
}

/// "Name <address>", or the address alone.
fn mailbox_text(mailbox: &super::message::Mailbox) -> String {
    match &mailbox.name {
        Some(name) => format!("{name} <{}>", mailbox.address),
        None => mailbox.address.clone(),
    }
}

fn sender(mail: &Understanding) -> String {
    mail.from
        .as_ref()
        .map(|f| f.address.clone())
        .unwrap_or_else(|| "unknown sender".into())
}

pub fn decide(case: &MailCase<'_>, world: &MailWorld<'_>) -> Vec<Action> {
    let mut actions = act_on(case, world);
    actions.extend(relay(case.mail, world.default_lang));
    actions
}

/// Longest excerpt of a list post in the relay: a chat room is not a mail client.
const RELAY_CHARS: usize = 1500;

/// A post of the watched list, for the relay room: who wrote, the subject on a thread's first
/// mail, and what they wrote without quotes and signature. Robot mail is never relayed.
fn relay(mail: &Understanding, lang: Lang) -> Option<Action> {
    if !mail.list_post
        || mail.classification.machine.is_some()
        || matches!(mail.classification.class, Class::AutoReply | Class::Bounce)
    {
        return None;
    }
    let thread = mail
        .thread_root
        .clone()
        .or(mail.message_id.clone())
        .unwrap_or_else(|| mail.content_key.clone());
    let text = mail.new_text.trim();
    let excerpt: String = text.chars().take(RELAY_CHARS).collect();
    Some(Action::Relay {
        thread,
        body: Prompt {
            lang,
            key: "relay/list_post".into(),
            vars: json!({
                "from": mail.from.as_ref().map(|f| f.name.clone().unwrap_or_else(|| f.address.clone())),
                "subject": bare_subject(&mail.subject),
                "text": excerpt,
                "cut": excerpt.len() < text.len(),
                "reply": mail.thread_root.is_some(),
            }),
        },
    })
}

/// A post of the watched list tagged as news (`[NEWS]`, `[Actu]`, `[Actualité]` in its
/// subject, on a thread's first mail), as the text of a news draft: the subject without its
/// tags, and the first link of the mail when the subject has none.
pub fn news_text(mail: &Understanding) -> Option<String> {
    static TAGS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\[[^\]]{0,40}\]").expect("subject tag regex")
    });
    static NEWS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)^\[\s*(?:news|actus?|actualit[ée]s?)\s*\]$")
            .expect("news tag regex")
    });
    static LINK: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"https?://[^\s<>\)\]]+").expect("link regex")
    });
    if !mail.list_post
        || mail.thread_root.is_some()
        || mail.classification.machine.is_some()
        || matches!(mail.classification.class, Class::AutoReply | Class::Bounce)
    {
        return None;
    }
    let subject = bare_subject(&mail.subject);
    if !TAGS
        .find_iter(subject)
        .any(|tag| NEWS.is_match(tag.as_str()))
    {
        return None;
    }
    let title = TAGS.replace_all(subject, "");
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    let link = if LINK.is_match(&title) {
        None
    } else {
        LINK.find(&mail.new_text).map(|l| {
            l.as_str()
                .trim_end_matches(['.', ',', ';', ':'])
                .to_string()
        })
    };
    let text = match link {
        Some(link) => format!("{title} {link}"),
        None => title,
    };
    (!text.trim().is_empty()).then_some(text)
}

/// What the mail itself calls for: a ticket, a note on one, a muted address.
fn act_on(case: &MailCase<'_>, world: &MailWorld<'_>) -> Vec<Action> {
    let mail = case.mail;
    match (case.ticket, mail.classification.class) {
        (ticket, Class::Bounce) => {
            // A dead address is muted, but only when the report answers mail the bot sent to
            // it: anyone can forge a report naming any address.
            let sent_to = |address: &str| {
                case.bounced_to
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(address))
            };
            let verdict = |r: &super::message::FailedRecipient| {
                if !sent_to(&r.address) {
                    Err("not muted: the report does not answer mail we sent there")
                } else if !r.is_dead_address() {
                    Err("not muted: not a dead address")
                } else {
                    Ok(())
                }
            };
            let mut actions: Vec<Action> = mail
                .failed_recipients
                .iter()
                .filter(|r| verdict(r).is_ok())
                .map(|r| {
                    Action::Change(Change::MuteAddress {
                        address: r.address.clone(),
                        until: world.mute_until,
                        reason: r
                            .diagnostic
                            .clone()
                            .or(r.status.clone())
                            .unwrap_or_else(|| "dead address".into()),
                    })
                })
                .collect();
            if let Some(ticket) = ticket {
                let failed: Vec<String> = mail
                    .failed_recipients
                    .iter()
                    .map(|r| {
                        let code = r.code().unwrap_or_else(|| "no status".into());
                        match verdict(r) {
                            Ok(()) => format!("{} ({code}, dead address, muted)", r.address),
                            Err(why) => format!("{} ({code}, {why})", r.address),
                        }
                    })
                    .collect();
                actions.push(event(
                    ticket.number,
                    "mailer-daemon",
                    "bounce",
                    failed.join(", "),
                ));
            }
            actions
        }
        (Some(ticket), _) => on_ticket(case, ticket, world),
        (None, Class::Request) => new_ticket(case, world, None),
        _ => Vec::new(),
    }
}

/// A message threaded onto an existing ticket.
fn on_ticket(case: &MailCase<'_>, ticket: &Ticket, world: &MailWorld<'_>) -> Vec<Action> {
    let mail = case.mail;
    let from = sender(mail);
    let mut actions = Vec::new();
    // Matched by subject tag alone: unless a proven requester or member wrote it, it is kept
    // as an unverified note that links nothing and changes nothing (a guessed "[ODF #3]" must
    // not reopen, resume or redirect a ticket).
    let known = from.eq_ignore_ascii_case(&ticket.requester_email)
        || world.directory.by_email(&from).is_some();
    if case.threaded_by == Some(ThreadedBy::SubjectTag) && !(known && case.sender_verified) {
        let excerpt: String = mail.new_text.chars().take(280).collect();
        actions.push(event(ticket.number, &from, "unverified-message", excerpt));
        return actions;
    }
    if let Some(id) = &mail.message_id {
        actions.push(Action::Change(Change::LinkMessage {
            ticket: ticket.number,
            message_id: id.clone(),
            direction: "in",
        }));
    }
    let excerpt: String = mail.new_text.chars().take(280).collect();
    actions.push(event(ticket.number, &from, "message", excerpt.clone()));
    actions.extend(attachments_event(mail, ticket.number, &from));
    let reopened = ticket.state.is_closed() && world.reopen_closed;
    let resumed = ticket.state == TicketState::WaitingForRequester
        && from.eq_ignore_ascii_case(&ticket.requester_email);
    actions.push(Action::TeamNotice {
        ticket: ticket.number,
        body: Prompt {
            lang: world.default_lang,
            key: "team/message".into(),
            vars: json!({
                "from": from,
                "number": ticket.number,
                "excerpt": excerpt,
                "reopened": reopened,
                "resumed": resumed,
            }),
        },
    });
    if ticket.state.is_closed() {
        if world.reopen_closed {
            actions.push(Action::Change(Change::SetTicketState {
                ticket: ticket.number,
                state: TicketState::New,
            }));
            actions.push(event(
                ticket.number,
                &from,
                "reopened",
                format!("new message while {}", ticket.state),
            ));
        } else if let Some(number) = case.new_number {
            actions.push(event(
                ticket.number,
                &from,
                "linked",
                format!("follow-up opened as #{number}"),
            ));
            actions.extend(new_ticket(case, world, Some(ticket)));
        }
    } else if ticket.state == TicketState::WaitingForRequester
        && from.eq_ignore_ascii_case(&ticket.requester_email)
    {
        // Waiting for the requester means someone was already working on it.
        let back = if ticket.assignee.is_some() {
            TicketState::Accepted
        } else {
            TicketState::New
        };
        actions.push(Action::Change(Change::SetTicketState {
            ticket: ticket.number,
            state: back,
        }));
        actions.push(event(
            ticket.number,
            &from,
            "requester-answered",
            "the reminder clock runs again",
        ));
    }
    actions
}

/// A new ticket for a request (or the follow-up of a closed one), routed, with suggested
/// speakers and, unless the sender is a robot, an acknowledgement in their language.
fn new_ticket(case: &MailCase<'_>, world: &MailWorld<'_>, follows: Option<&Ticket>) -> Vec<Action> {
    let mail = case.mail;
    let Some(number) = case.new_number else {
        return Vec::new();
    };
    let fields = mail.request.clone();
    let lang = fields
        .as_ref()
        .map(|f| f.language)
        .or(follows.map(|t| t.lang))
        .unwrap_or(world.default_lang);
    // Who forwarded the request, when its original sender is the requester.
    let forwarder = mail
        .forwarded
        .as_ref()
        .filter(|_| case.forward_trusted)
        .and(mail.from.as_ref());
    let contact = if mail.forwarded.is_some() && forwarder.is_none() {
        mail.from.clone()
    } else {
        fields
            .as_ref()
            .and_then(|f| f.contact.clone())
            .or_else(|| mail.from.clone())
    };
    let Some(contact) = contact else {
        return Vec::new();
    };
    let topics = fields
        .as_ref()
        .map(|f| f.topics.clone())
        .or(follows.map(|t| t.topics.clone()))
        .unwrap_or_default();
    let places = fields
        .as_ref()
        .map(|f| f.places.clone())
        .or(follows.map(|t| t.places.clone()))
        .unwrap_or_default();
    let dates = fields
        .as_ref()
        .map(|f| f.dates.clone())
        .or(follows.map(|t| t.dates.clone()))
        .unwrap_or_default();
    // A forward's own subject is the forwarder's "TR : …" of the original's.
    let subject = bare_subject(
        mail.forwarded
            .as_ref()
            .and_then(|f| f.subject.as_deref())
            .unwrap_or(&mail.subject),
    )
    .to_string();

    let g = world.geography;
    let regions: Vec<usize> = places
        .iter()
        .filter_map(|p| g.lookup(p))
        .map(|p| g.region_of(p))
        .collect();
    let decision = route(
        &RoutingInput {
            topics: topics.clone(),
            regions,
            excluded: Vec::new(),
        },
        world.routing,
        world.directory,
        g,
        world.work,
        world.today,
    );

    let ticket = Ticket {
        number,
        state: if decision.is_some() {
            TicketState::Assigned
        } else {
            TicketState::New
        },
        subject: subject.clone(),
        requester_email: contact.address.clone(),
        requester_name: contact.name.clone(),
        lang,
        organisation: fields.as_ref().and_then(|f| f.organisation.clone()),
        event: fields.as_ref().and_then(|f| f.event.clone()),
        dates: dates.clone(),
        places: places.clone(),
        topics: topics.clone(),
        format: fields.as_ref().and_then(|f| f.format.clone()),
        assignee: decision.as_ref().map(|d| d.member_id),
        secret: case.secret.to_string(),
    };
    let mut actions = vec![Action::Change(Change::CreateTicket(ticket.clone()))];
    if let Some(id) = &mail.message_id {
        actions.push(Action::Change(Change::LinkMessage {
            ticket: number,
            message_id: id.clone(),
            direction: "in",
        }));
    }
    let created = match follows {
        Some(old) => format!("follow-up of closed ticket #{}", old.number),
        None => mail.classification.reason.clone(),
    };
    actions.push(event(number, &contact.address, "created", created));
    if let Some(by) = forwarder {
        actions.push(event(number, &by.address, "forwarded", mailbox_text(by)));
    }
    actions.extend(attachments_event(mail, number, &contact.address));
    let assignee = decision
        .as_ref()
        .and_then(|d| world.directory.index_of(d.member_id))
        .map(|i| &world.directory.members[i]);
    match &decision {
        Some(d) => actions.push(event(
            number,
            "passerelle",
            "assigned",
            format!(
                "{}: {}",
                assignee.map(|m| m.email.as_str()).unwrap_or("?"),
                d.reason
            ),
        )),
        None => actions.push(event(
            number,
            "passerelle",
            "unassigned",
            "nobody in the core team to route to",
        )),
    }

    let query = SpeakerQuery {
        topics: topics
            .iter()
            .filter_map(|t| world.vocabulary.by_id(t))
            .collect(),
        place: places.first().and_then(|p| g.lookup(p)),
        language: (lang != Lang::Fr).then(|| lang.code().to_string()),
        date: dates.iter().copied().find(|d| *d >= world.today),
    };
    let mut speakers: Vec<String> = Vec::new();
    if !query.topics.is_empty() {
        let outcome = search::search(
            world.directory,
            world.vocabulary,
            g,
            &query,
            world.weights,
            world.max_results,
        );
        let ids: Vec<i64> = outcome
            .ranked
            .iter()
            .map(|r| world.directory.members[r.member].id)
            .collect();
        if !ids.is_empty() {
            let names: Vec<&str> = outcome
                .ranked
                .iter()
                .map(|r| world.directory.members[r.member].name.as_str())
                .collect();
            actions.push(event(number, "passerelle", "suggested", names.join(", ")));
            speakers = names.iter().map(|n| n.to_string()).collect();
            actions.push(Action::Change(Change::SuggestSpeakers {
                ticket: number,
                member_ids: ids.clone(),
            }));
            actions.push(Action::Change(Change::RecordProposals {
                member_ids: ids,
                on: world.today,
            }));
        }
    }

    let team_lang = world.default_lang;
    actions.push(Action::TeamNotice {
        ticket: number,
        body: Prompt {
            lang: team_lang,
            key: "team/new_ticket".into(),
            vars: json!({
                "number": number,
                "subject": ticket.subject,
                "requester": mailbox_text(&contact),
                "forwarded_by": forwarder.map(mailbox_text),
                "organisation": ticket.organisation,
                "event": ticket.event,
                "dates": dates.iter().map(|d| crate::commands::handlers::format_day(team_lang, *d)).collect::<Vec<_>>(),
                "places": places,
                "topics": topics.iter().map(|t| world.vocabulary.by_id(t).map(|i| world.vocabulary.get(i).label(team_lang).to_string()).unwrap_or_else(|| t.clone())).collect::<Vec<_>>(),
                "speakers": speakers,
                "assignee": assignee.map(|m| m.name.clone()),
                "reason": decision.as_ref().map(|d| d.reason.clone()),
            }),
        },
    });
    // The assignee hears of it directly too, in their own language.
    actions.extend(assignee.and_then(|member| {
        crate::commands::handlers::assigned_notice(
            &ticket,
            member,
            world.vocabulary,
            team_lang,
            None,
        )
    }));
    if !mail.may_answer() {
        return actions;
    }
    let ack = |mail: crate::core::actions::OutgoingMail| Action::SendPromptedMail {
        mail,
        body: Prompt {
            lang,
            key: "mail/ack".into(),
            vars: json!({
                "name": contact.name,
                "number": number,
                "event": ticket.event,
                "assignee": assignee.map(|m| m.name.clone()),
                "marker": ticket.marker(world.ticket_prefix),
            }),
        },
    };
    let subject = ticket.mail_subject(world.ticket_prefix);
    match (forwarder, &mail.forwarded) {
        (Some(by), Some(original)) => {
            // The requester never saw the forward: the acknowledgement starts a conversation of
            // its own, and replies to it thread by its Message-ID.
            let acknowledged = !original.robot;
            if acknowledged {
                let mut fresh = mail.answer(
                    &contact.address,
                    subject.clone(),
                    String::new(),
                    Some(number),
                );
                fresh.in_reply_to = None;
                fresh.references = Vec::new();
                actions.push(ack(fresh));
            }
            let member_lang = world
                .directory
                .by_email(&by.address)
                .and_then(|m| m.preferred_lang)
                .unwrap_or(world.default_lang);
            actions.push(Action::SendPromptedMail {
                mail: mail.answer(&by.address, subject, String::new(), Some(number)),
                body: Prompt {
                    lang: member_lang,
                    key: "mail/forwarded".into(),
                    vars: json!({
                        "name": by.name,
                        "number": number,
                        "requester": mailbox_text(&contact),
                        "acknowledged": acknowledged,
                        "assignee": assignee.map(|m| m.name.clone()),
                        "marker": ticket.marker(world.ticket_prefix),
                    }),
                },
            });
        }
        _ => actions.push(ack(mail.answer(
            &contact.address,
            subject,
            String::new(),
            Some(number),
        ))),
    }
    actions
}
