//! The core team's commands on intervention requests: show, move through states, assign,
//! answer the requester, and list one's own.

use super::{Handler, HandlerError, format_day};
use crate::commands::args::ArgValue;
use crate::core::actions::{Action, Change, OutgoingMail, Prompt};
use crate::core::directory::Role;
use crate::core::tickets::{Ticket, TicketEvent, TicketState};
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
    Ok(vec![
        Action::Change(Change::AssignTicket {
            ticket: ticket.number,
            member_id: member.id,
        }),
        Action::Change(Change::SetTicketState {
            ticket: ticket.number,
            state: TicketState::Assigned,
        }),
        Action::Change(Change::TicketEvent {
            ticket: ticket.number,
            actor: me.email.clone(),
            kind: "assigned".into(),
            detail: format!("{}: by hand", member.email),
        }),
        team_changed(
            h,
            ticket.number,
            TicketState::Assigned,
            Some(member.name.as_str()),
        ),
        h.say(
            "tickets/assigned",
            json!({ "number": ticket.number, "name": member.name }),
        )?,
    ])
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

/// The team's thread of the ticket hears who changed it, in the team's language.
fn team_changed(
    h: &Handler<'_>,
    number: i64,
    state: TicketState,
    assignee: Option<&str>,
) -> Action {
    let by = h.ctx.asker.map(|m| m.name.clone()).unwrap_or_default();
    Action::TeamNotice {
        ticket: number,
        body: Prompt {
            lang: h.ctx.default_lang,
            key: "team/changed".into(),
            vars: json!({ "by": by, "number": number, "state": state.as_str(), "assignee": assignee }),
        },
    }
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
    let tickets: Vec<Value> = h
        .ctx
        .tickets
        .mine
        .iter()
        .map(|t| ticket_view(h, t))
        .collect();
    Ok(vec![h.say("tickets/list", json!({ "tickets": tickets }))?])
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
    id.and_then(|id| h.ctx.directory.index_of(id))
        .map(|i| h.ctx.directory.members[i].name.clone())
}
