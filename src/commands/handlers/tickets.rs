//! The core team's commands on intervention requests: show, move through states, assign,
//! answer the requester, and list one's own.

use super::{Handler, HandlerError, format_day};
use crate::commands::args::ArgValue;
use crate::core::actions::{Action, Change, OutgoingMail, Prompt};
use crate::core::address::Address;
use crate::core::directory::{Member, Role};
use crate::core::lang::Lang;
use crate::core::tickets::{RoutingInput, Ticket, TicketEvent, TicketState, route};
use crate::core::topics::Vocabulary;
use serde_json::{Value, json};

pub(super) fn show(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let (ticket, events) = match named_ticket(h)? {
        Ok(found) => found,
        Err(answer) => return Ok(vec![answer]),
    };
    let history: Vec<Value> = events
        .iter()
        .rev()
        .take(10)
        .rev()
        .map(|e| json!({ "at": e.at.with_timezone(&chrono_tz::Europe::Paris).format("%Y-%m-%d %H:%M").to_string(), "actor": e.actor, "kind": e.kind, "detail": e.detail }))
        .collect();
    Ok(vec![h.say(
        "tickets/show",
        json!({ "ticket": ticket_view(h, ticket), "history": history }),
    )?])
}

pub(super) fn move_to(
    h: &Handler<'_>,
    to: TicketState,
    kind: &str,
) -> Result<Vec<Action>, HandlerError> {
    let (ticket, _) = match named_ticket(h)? {
        Ok(found) => found,
        Err(answer) => return Ok(vec![answer]),
    };
    if !ticket.state.can_become(to) {
        return Ok(vec![h.say(
            "errors/ticket_transition",
            json!({ "number": ticket.number, "from": ticket.state.as_str(), "to": to.as_str() }),
        )?]);
    }
    let me = h.me()?;
    let mut actions = vec![
        Action::Change(Change::SetTicketState {
            ticket: ticket.number,
            state: to,
        }),
        Action::Change(Change::TicketEvent {
            ticket: ticket.number,
            actor: me.email.clone(),
            kind: kind.into(),
            detail: format!("{} → {}", ticket.state, to),
        }),
    ];
    // Accepting an unassigned ticket takes it.
    let taken = to == TicketState::Accepted && ticket.assignee.is_none();
    if taken {
        actions.push(Action::Change(Change::AssignTicket {
            ticket: ticket.number,
            member_id: me.id,
        }));
    }
    actions.push(team_changed(
        h,
        ticket.number,
        to,
        taken.then_some(me.name.as_str()),
    ));
    actions.push(h.say(
        "tickets/changed",
        json!({ "number": ticket.number, "state": to.as_str(), "subject": ticket.subject }),
    )?);
    Ok(actions)
}

pub(super) fn assign(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let (ticket, _) = match named_ticket(h)? {
        Ok(found) => found,
        Err(answer) => return Ok(vec![answer]),
    };
    let Some(ArgValue::Member(i)) = h.args.get("member") else {
        return Err(h.bad_argument("member"));
    };
    let member = &h.ctx.directory.members[*i];
    if member.access < Role::CoreTeam {
        return Ok(vec![
            h.say("errors/not_core_team", json!({ "name": member.name }))?,
        ]);
    }
    if ticket.state.is_closed() {
        return Ok(vec![h.say(
            "errors/ticket_transition",
            json!({ "number": ticket.number, "from": ticket.state.as_str(), "to": "assigned" }),
        )?]);
    }
    let me = h.me()?;
    let mut actions = assigned_to(ticket.number, member, &me.email, "by hand").to_vec();
    actions.push(team_changed(
        h,
        ticket.number,
        TicketState::Assigned,
        Some(member.name.as_str()),
    ));
    actions.push(h.say(
        "tickets/assigned",
        json!({ "number": ticket.number, "name": member.name }),
    )?);
    if member.id != me.id {
        actions.extend(assignee_notice(h, ticket, member, Some(me.name.as_str())));
    }
    Ok(actions)
}

/// An internal note: kept in the ticket's history, never sent to the requester.
pub(super) fn comment(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let (ticket, _) = match named_ticket(h)? {
        Ok(found) => found,
        Err(answer) => return Ok(vec![answer]),
    };
    let Some(ArgValue::Text(text)) = h.args.get("text") else {
        return Err(h.bad_argument("text"));
    };
    let me = h.me()?;
    Ok(vec![
        Action::Change(Change::TicketEvent {
            ticket: ticket.number,
            actor: me.email.clone(),
            kind: "comment".into(),
            detail: text.chars().take(2000).collect(),
        }),
        h.say("tickets/commented", json!({ "number": ticket.number }))?,
    ])
}

/// A ticket given to `member`, with who did it and why in its history.
fn assigned_to(number: i64, member: &Member, actor: &str, why: &str) -> [Action; 3] {
    [
        Action::Change(Change::AssignTicket {
            ticket: number,
            member_id: member.id,
        }),
        Action::Change(Change::SetTicketState {
            ticket: number,
            state: TicketState::Assigned,
        }),
        Action::Change(Change::TicketEvent {
            ticket: number,
            actor: actor.into(),
            kind: "assigned".into(),
            detail: format!("{}: {why}", member.email),
        }),
    ]
}

/// The team's thread of the ticket hears who changed it, in the team's language.
fn team_changed(
    h: &Handler<'_>,
    number: i64,
    state: TicketState,
    assignee: Option<&str>,
) -> Action {
    team_notice(
        h,
        number,
        "team/changed",
        json!({ "state": state.as_str(), "assignee": assignee }),
    )
}

/// A notice in the ticket's team thread, in the team's language; `vars` get the ticket's
/// number and who acted.
fn team_notice(h: &Handler<'_>, number: i64, key: &str, mut vars: Value) -> Action {
    if let Value::Object(map) = &mut vars {
        map.insert("number".into(), json!(number));
        map.insert(
            "by".into(),
            json!(h.ctx.asker.map(|m| m.name.clone()).unwrap_or_default()),
        );
    }
    Action::TeamNotice {
        ticket: number,
        body: Prompt {
            lang: h.ctx.default_lang,
            key: key.into(),
            vars,
        },
    }
}

/// The new assignee hears of the ticket in chat; `by` is who handed it over, when a person did.
fn assignee_notice(
    h: &Handler<'_>,
    ticket: &Ticket,
    member: &Member,
    by: Option<&str>,
) -> Option<Action> {
    assigned_notice(ticket, member, h.ctx.vocabulary, h.ctx.default_lang, by)
}

/// The new assignee hears of the ticket directly, in their language, where the team works (a
/// direct message on Matrix); nothing for a member without a Matrix id. Intake uses it too.
pub fn assigned_notice(
    ticket: &Ticket,
    member: &Member,
    vocabulary: &Vocabulary,
    default_lang: Lang,
    by: Option<&str>,
) -> Option<Action> {
    let lang = member.preferred_lang.unwrap_or(default_lang);
    Some(Action::DirectNotice {
        to: Address::Matrix(member.matrix_id.clone()?),
        ticket: ticket.number,
        body: Prompt {
            lang,
            key: "team/assigned_to_you".into(),
            vars: json!({
                "number": ticket.number,
                "subject": ticket.subject,
                "requester": ticket.requester_name.clone().unwrap_or_else(|| ticket.requester_email.clone()),
                "organisation": ticket.organisation,
                "event": ticket.event,
                "dates": ticket.dates.iter().map(|d| format_day(lang, *d)).collect::<Vec<_>>(),
                "places": ticket.places,
                "topics": ticket.topics.iter().filter_map(|t| vocabulary.by_id(t)).map(|t| vocabulary.get(t).label(lang).to_string()).collect::<Vec<_>>(),
                "by": by,
            }),
        },
    })
}

/// A core-team member writes to the requester: the mail goes out in the requester's
/// language frame, threaded on the ticket, and the history keeps what was said.
pub(super) fn reply(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let (ticket, _) = match named_ticket(h)? {
        Ok(found) => found,
        Err(answer) => return Ok(vec![answer]),
    };
    let Some(ArgValue::Text(text)) = h.args.get("text") else {
        return Err(h.bad_argument("text"));
    };
    let me = h.me()?;
    let marker = ticket.marker(h.ctx.ticket_prefix);
    let body = h.ctx.prompts.render(
        ticket.lang,
        "mail/team_reply",
        json!({ "text": text, "name": me.name, "marker": marker }),
    )?;
    let excerpt: String = text.chars().take(280).collect();
    Ok(vec![
        h.say(
            "tickets/replied",
            json!({ "number": ticket.number, "requester": ticket.requester_email }),
        )?,
        Action::SendMail(OutgoingMail {
            to: ticket.requester_email.clone(),
            subject: ticket.mail_subject(h.ctx.ticket_prefix),
            body,
            in_reply_to: None,
            references: Vec::new(),
            ticket: Some(ticket.number),
            auto_submitted: "auto-generated".into(),
        }),
        Action::Change(Change::TicketEvent {
            ticket: ticket.number,
            actor: me.email.clone(),
            kind: "reply".into(),
            detail: excerpt,
        }),
    ])
}

pub(super) fn mine(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    list(h, "mine", h.ctx.tickets.mine.iter())
}

/// Every open ticket, or only those nobody has, oldest first.
pub(super) fn open(h: &Handler<'_>, unassigned_only: bool) -> Result<Vec<Action>, HandlerError> {
    let open = h.ctx.tickets.open.iter();
    if unassigned_only {
        list(h, "unassigned", open.filter(|t| t.assignee.is_none()))
    } else {
        list(h, "open", open)
    }
}

/// A chat answer stays readable: the oldest tickets first, the rest counted.
const LISTED_TICKETS: usize = 25;

fn list<'t>(
    h: &Handler<'_>,
    scope: &str,
    tickets: impl Iterator<Item = &'t Ticket>,
) -> Result<Vec<Action>, HandlerError> {
    let all: Vec<&Ticket> = tickets.collect();
    let shown: Vec<Value> = all
        .iter()
        .take(LISTED_TICKETS)
        .map(|t| ticket_view(h, t))
        .collect();
    Ok(vec![h.say(
        "tickets/list",
        json!({ "tickets": shown, "scope": scope, "total": all.len(), "more": all.len().saturating_sub(LISTED_TICKETS) }),
    )?])
}

/// A closed ticket opened again: back to its assignee when it had one, else to the team.
pub(super) fn reopen(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let (ticket, _) = match named_ticket(h)? {
        Ok(found) => found,
        Err(answer) => return Ok(vec![answer]),
    };
    let to = match ticket.assignee {
        Some(_) => TicketState::Assigned,
        None => TicketState::New,
    };
    if !ticket.state.is_closed() {
        return Ok(vec![h.say(
            "errors/ticket_transition",
            json!({ "number": ticket.number, "from": ticket.state.as_str(), "to": "new" }),
        )?]);
    }
    let me = h.me()?;
    let assignee = member_of(h, ticket.assignee);
    let mut actions = vec![
        Action::Change(Change::SetTicketState {
            ticket: ticket.number,
            state: to,
        }),
        Action::Change(Change::TicketEvent {
            ticket: ticket.number,
            actor: me.email.clone(),
            kind: "reopened".into(),
            detail: format!("{} → {}", ticket.state, to),
        }),
        team_notice(
            h,
            ticket.number,
            "team/changed",
            json!({ "state": "reopened", "assignee": assignee.map(|m| &m.name) }),
        ),
        h.say(
            "tickets/changed",
            json!({ "number": ticket.number, "state": "reopened", "subject": ticket.subject }),
        )?,
    ];
    if let Some(member) = assignee.filter(|m| m.id != me.id) {
        actions.extend(assignee_notice(h, ticket, member, Some(me.name.as_str())));
    }
    Ok(actions)
}

/// The assignee cannot take the ticket: it goes to the next best member by the routing rules,
/// passing over everyone who declined it already; with nobody left it is up for grabs.
pub(super) fn pass(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let (ticket, events) = match named_ticket(h)? {
        Ok(found) => found,
        Err(answer) => return Ok(vec![answer]),
    };
    let me = h.me()?;
    if ticket.state.is_closed() {
        return Ok(vec![h.say(
            "errors/ticket_transition",
            json!({ "number": ticket.number, "from": ticket.state.as_str(), "to": "new" }),
        )?]);
    }
    if ticket.assignee != Some(me.id) {
        return Ok(vec![h.say(
            "errors/not_assignee",
            json!({ "number": ticket.number, "assignee": member_name(h, ticket.assignee) }),
        )?]);
    }
    let directory = h.ctx.directory;
    let mut excluded: Vec<i64> = events
        .iter()
        .filter(|e| e.kind == "passed")
        .filter_map(|e| directory.by_email(&e.actor).map(|m| m.id))
        .collect();
    excluded.push(me.id);
    let geography = h.ctx.geography;
    let input = RoutingInput {
        topics: ticket.topics.clone(),
        regions: ticket
            .places
            .iter()
            .filter_map(|p| geography.lookup(p))
            .map(|p| geography.region_of(p))
            .collect(),
        excluded,
    };
    let decision = route(
        &input,
        h.ctx.routing,
        directory,
        geography,
        &h.ctx.tickets.work,
        h.ctx.today,
    );
    let next = decision
        .as_ref()
        .and_then(|d| directory.index_of(d.member_id))
        .map(|i| &directory.members[i]);
    let mut actions = vec![Action::Change(Change::TicketEvent {
        ticket: ticket.number,
        actor: me.email.clone(),
        kind: "passed".into(),
        detail: "declined the assignment".into(),
    })];
    match (&decision, next) {
        (Some(decision), Some(next)) => {
            actions.extend(assigned_to(
                ticket.number,
                next,
                "passerelle",
                &decision.reason,
            ));
            actions.extend(assignee_notice(h, ticket, next, None));
        }
        _ => actions.extend([
            Action::Change(Change::UnassignTicket {
                ticket: ticket.number,
            }),
            Action::Change(Change::SetTicketState {
                ticket: ticket.number,
                state: TicketState::New,
            }),
            Action::Change(Change::TicketEvent {
                ticket: ticket.number,
                actor: "passerelle".into(),
                kind: "unassigned".into(),
                detail: "everyone in the core team declined it".into(),
            }),
        ]),
    }
    actions.push(team_notice(
        h,
        ticket.number,
        "team/passed",
        json!({ "assignee": next.map(|m| &m.name), "reason": decision.as_ref().map(|d| &d.reason) }),
    ));
    actions.push(h.say(
        "tickets/passed",
        json!({ "number": ticket.number, "assignee": next.map(|m| &m.name) }),
    )?);
    Ok(actions)
}

/// Closing a handled ticket records the talk as a past intervention of whoever gave it (the
/// speaker named in the line, else the assignee), so the fairness ranking learns from it.
pub(super) fn done(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let mut actions = move_to(h, TicketState::Done, "done")?;
    let Some((ticket, _)) = named_ticket(h)?.ok() else {
        return Ok(actions);
    };
    // The move was refused (the answer says why): nothing to record.
    if !ticket.state.can_become(TicketState::Done) {
        return Ok(actions);
    }
    let speaker = match h.args.get("speaker") {
        Some(ArgValue::Member(i)) => Some(&h.ctx.directory.members[*i]),
        Some(_) => return Err(h.bad_argument("speaker")),
        None => member_of(h, ticket.assignee),
    };
    let Some(speaker) = speaker else {
        actions.push(h.say("tickets/no_speaker", json!({ "number": ticket.number }))?);
        return Ok(actions);
    };
    let day = ticket.dates.first().copied().unwrap_or(h.ctx.today);
    let what = ticket.event.as_deref().unwrap_or(&ticket.subject);
    let event = match ticket.places.first() {
        Some(place) => format!(
            "{what}, {place} ({} #{})",
            h.ctx.ticket_prefix, ticket.number
        ),
        None => format!("{what} ({} #{})", h.ctx.ticket_prefix, ticket.number),
    };
    actions.push(Action::Change(Change::RecordIntervention {
        member_id: speaker.id,
        day,
        topic: ticket.topics.first().cloned(),
        event: event.clone(),
    }));
    actions.push(Action::Change(Change::TicketEvent {
        ticket: ticket.number,
        actor: h.me()?.email.clone(),
        kind: "intervention".into(),
        detail: format!("{}: {day} {event}", speaker.email),
    }));
    actions.push(h.say(
        "tickets/recorded",
        json!({ "name": speaker.name, "day": format_day(h.lang, day) }),
    )?);
    Ok(actions)
}

/// The ticket named by the line (the engine loaded it, see `needs` in the command file), or
/// the answer saying there is none.
fn named_ticket<'a>(
    h: &Handler<'a>,
) -> Result<Result<&'a (Ticket, Vec<TicketEvent>), Action>, HandlerError> {
    let Some(ArgValue::Ticket(number)) = h.args.get("ticket") else {
        return Ok(Err(
            h.say("errors/unknown_ticket", json!({ "number": "?" }))?
        ));
    };
    match h.ctx.tickets.by_number.get(number) {
        Some(found) => Ok(Ok(found)),
        None => Ok(Err(
            h.say("errors/unknown_ticket", json!({ "number": number }))?
        )),
    }
}

fn ticket_view(h: &Handler<'_>, ticket: &Ticket) -> Value {
    json!({
        "number": ticket.number,
        "state": ticket.state.as_str(),
        "subject": ticket.subject,
        "requester": ticket.requester_name.clone().unwrap_or_else(|| ticket.requester_email.clone()),
        "email": ticket.requester_email,
        "organisation": ticket.organisation,
        "event": ticket.event,
        "dates": ticket.dates.iter().map(|d| format_day(h.lang, *d)).collect::<Vec<_>>(),
        "places": ticket.places,
        "topics": h.labels_of_ids(&ticket.topics),
        "format": ticket.format,
        "assignee": member_name(h, ticket.assignee),
    })
}

fn member_name(h: &Handler<'_>, id: Option<i64>) -> Option<String> {
    member_of(h, id).map(|m| m.name.clone())
}

fn member_of<'a>(h: &Handler<'a>, id: Option<i64>) -> Option<&'a Member> {
    id.and_then(|id| h.ctx.directory.index_of(id))
        .map(|i| &h.ctx.directory.members[i])
}
