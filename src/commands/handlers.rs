//! The command handlers: pure functions from a parsed command and the directory to actions.

use super::args::{self, ArgContext, ArgError, ArgValue};
use super::registry::{Invocation, Registry};
use crate::core::actions::{Action, Change};
use crate::core::directory::{Directory, Member, Role};
use crate::core::geo::Geography;
use crate::core::lang::{self, Lang};
use crate::core::search::{self, Nearness, Weights};
use crate::core::tickets::{Ticket, TicketEvent, TicketState};
use crate::core::topics::{TopicIdx, Vocabulary};
use crate::prompts::{PromptError, Prompts};
use chrono::NaiveDate;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Every command the code implements; each needs a file in `commands/`.
pub const HANDLERS: &[&str] = &[
    "help",
    "topics",
    "find-speaker",
    "my-profile",
    "my-topics-add",
    "my-topics-remove",
    "away",
    "back",
    "my-language",
    "speaker-consent",
    "speaker-withdraw",
    "member-profile",
    "stats",
    "ticket-show",
    "ticket-accept",
    "ticket-decline",
    "ticket-done",
    "ticket-wait",
    "ticket-cancel",
    "ticket-assign",
    "my-tickets",
    "ticket-reply",
];

/// Everything a handler may read. No clock, no I/O: `today` is given.
pub struct Context<'a> {
    pub registry: &'a Registry,
    pub prompts: &'a Prompts,
    pub vocabulary: &'a Vocabulary,
    pub geography: &'a Geography,
    pub directory: &'a Directory,
    pub asker: Option<&'a Member>,
    pub role: Role,
    pub today: NaiveDate,
    pub default_lang: Lang,
    pub max_results: usize,
    pub weights: &'a Weights,
    /// Tickets the line may act on, loaded by the engine beforehand (see [`TicketsNeeded`]).
    pub tickets: &'a TicketData,
    /// The subject tag prefix of tickets ("ODF"), for mail written from chat.
    pub ticket_prefix: &'a str,
}

/// The tickets a command line needs, read from the store before the pure handler runs.
#[derive(Debug, Default)]
pub struct TicketData {
    pub by_number: std::collections::HashMap<i64, (Ticket, Vec<TicketEvent>)>,
    /// Open tickets assigned to the asker (for "my tickets").
    pub mine: Vec<Ticket>,
}

/// What the engine must load for a line: the ticket number it names, the asker's list.
#[derive(Debug, Default, PartialEq)]
pub struct TicketsNeeded {
    pub number: Option<i64>,
    pub mine: bool,
}

pub fn tickets_needed(registry: &Registry, line: &str) -> TicketsNeeded {
    let Some(invocation) = registry.parse(line) else {
        return TicketsNeeded::default();
    };
    TicketsNeeded {
        number: invocation
            .args
            .get("ticket")
            .and_then(|t| t.trim_start_matches('#').parse().ok()),
        mine: registry.get(invocation.command).spec.name == "my-tickets",
    }
}

/// The reply to one chat line, and the language it was given in.
pub struct Outcome {
    pub lang: Lang,
    pub actions: Vec<Action>,
    /// The command that ran, for logs.
    pub command: Option<String>,
}

/// Handles one line of chat. `forced` is a language the connector was told to use.
pub fn handle_line(
    ctx: &Context<'_>,
    line: &str,
    forced: Option<Lang>,
) -> Result<Outcome, PromptError> {
    let invocation = ctx.registry.parse(line);
    let written = invocation
        .as_ref()
        .map(|i| i.lang)
        .or_else(|| lang::detect(line));
    // An explicit request wins, then the member's profile, then the language they wrote in.
    let lang = forced
        .or(ctx.asker.and_then(|m| m.preferred_lang))
        .or(written)
        .unwrap_or(ctx.default_lang);
    let say = |key: &str, vars: Value| ctx.prompts.render(lang, key, vars);

    let Some(invocation) = invocation else {
        let suggestions: Vec<Value> = ctx
            .registry
            .suggest(line, ctx.role, 3)
            .into_iter()
            .map(|i| command_view(ctx.registry, i, lang))
            .collect();
        let text = say(
            "errors/unknown_command",
            json!({ "typed": line.trim(), "suggestions": suggestions }),
        )?;
        return Ok(Outcome {
            lang,
            actions: vec![Action::Reply(text)],
            command: None,
        });
    };
    let command = ctx.registry.get(invocation.command);
    let name = command.spec.name.clone();
    let reply = |text: String| {
        Ok(Outcome {
            lang,
            actions: vec![Action::Reply(text)],
            command: Some(name.clone()),
        })
    };

    if ctx.role < command.spec.role {
        return reply(say(
            "errors/permission",
            json!({ "command": name, "required": command.spec.role.as_str(), "known": ctx.asker.is_some() }),
        )?);
    }
    let values = match typed_args(ctx, &invocation) {
        Ok(values) => values,
        Err(error) => return reply(arg_error(ctx, lang, &invocation, error)?),
    };
    let handler = Handler {
        ctx,
        lang,
        args: &values,
    };
    let actions = handler.run(&name)?;
    Ok(Outcome {
        lang,
        actions,
        command: Some(name),
    })
}

fn typed_args(
    ctx: &Context<'_>,
    invocation: &Invocation,
) -> Result<BTreeMap<String, ArgValue>, (String, ArgError)> {
    let arg_ctx = ArgContext {
        vocabulary: ctx.vocabulary,
        geography: ctx.geography,
        directory: ctx.directory,
        registry: ctx.registry,
        today: ctx.today,
    };
    let mut values = BTreeMap::new();
    for spec in &ctx.registry.get(invocation.command).spec.args {
        match invocation.args.get(&spec.name) {
            Some(raw) => {
                let value = args::parse(spec, raw, &arg_ctx).map_err(|e| (spec.name.clone(), e))?;
                values.insert(spec.name.clone(), value);
            }
            None if spec.required => {
                return Err((
                    spec.name.clone(),
                    ArgError::Missing {
                        arg: spec.name.clone(),
                    },
                ));
            }
            None => {}
        }
    }
    Ok(values)
}

fn arg_error(
    ctx: &Context<'_>,
    lang: Lang,
    invocation: &Invocation,
    (arg, error): (String, ArgError),
) -> Result<String, PromptError> {
    let spec = &ctx.registry.get(invocation.command).spec;
    let example = spec.examples.get(lang).first().cloned().unwrap_or_default();
    let topic_labels = |topics: &[TopicIdx]| -> Vec<String> {
        topics
            .iter()
            .map(|&t| ctx.vocabulary.get(t).label(lang).to_string())
            .collect()
    };
    let (key, vars) = match error {
        ArgError::Missing { .. } => {
            let described = spec
                .args
                .iter()
                .find(|a| a.name == arg)
                .map(|a| match lang {
                    Lang::Fr => a.fr.clone(),
                    Lang::En => a.en.clone(),
                });
            (
                "errors/missing_arg",
                json!({ "arg": described.unwrap_or(arg), "example": example }),
            )
        }
        ArgError::UnknownTopic { typed, suggestions } => (
            "errors/unknown_topic",
            json!({ "typed": typed, "suggestions": topic_labels(&suggestions) }),
        ),
        ArgError::UnparseableDate { typed } => {
            ("errors/unparseable_date", json!({ "typed": typed }))
        }
        ArgError::InvalidDate { typed } => ("errors/invalid_date", json!({ "typed": typed })),
        ArgError::PastDate { date } => (
            "errors/past_date",
            json!({ "date": format_day(lang, date) }),
        ),
        ArgError::EndBeforeStart { start, end } => (
            "errors/end_before_start",
            json!({ "start": format_day(lang, start), "end": format_day(lang, end) }),
        ),
        ArgError::UnknownPlace { typed, suggestions } => (
            "errors/unknown_place",
            json!({ "typed": typed, "suggestions": suggestions }),
        ),
        ArgError::UnknownLanguage { typed } => {
            ("errors/unknown_language", json!({ "typed": typed }))
        }
        ArgError::UnknownMember { typed } => ("errors/unknown_member", json!({ "typed": typed })),
        ArgError::AmbiguousMember { typed, candidates } => {
            let names: Vec<String> = candidates
                .iter()
                .map(|&i| ctx.directory.members[i].name.clone())
                .collect();
            (
                "errors/ambiguous_member",
                json!({ "typed": typed, "candidates": names }),
            )
        }
        ArgError::BadTicket { typed } => ("errors/unknown_ticket", json!({ "number": typed })),
        ArgError::UnknownCommand { typed } => {
            let suggestions: Vec<Value> = ctx
                .registry
                .suggest(&typed, ctx.role, 3)
                .into_iter()
                .map(|i| command_view(ctx.registry, i, lang))
                .collect();
            (
                "errors/unknown_command",
                json!({ "typed": typed, "suggestions": suggestions }),
            )
        }
    };
    ctx.prompts.render(lang, key, vars)
}

fn command_view(registry: &Registry, i: usize, lang: Lang) -> Value {
    let spec = &registry.get(i).spec;
    json!({
        "name": spec.name,
        "summary": spec.summary.get(lang),
        "example": spec.examples.get(lang).first().cloned().unwrap_or_default(),
    })
}

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A day as people write it: "12 mars 2027", "12 March 2027".
pub fn format_day(lang: Lang, day: NaiveDate) -> String {
    use chrono::Datelike;
    let month = day.month0() as usize;
    match lang {
        Lang::Fr if day.day() == 1 => format!("1er {} {}", MONTHS_FR[month], day.year()),
        Lang::Fr => format!("{} {} {}", day.day(), MONTHS_FR[month], day.year()),
        Lang::En => format!("{} {} {}", day.day(), MONTHS_EN[month], day.year()),
    }
}

struct Handler<'a> {
    ctx: &'a Context<'a>,
    lang: Lang,
    args: &'a BTreeMap<String, ArgValue>,
}

impl Handler<'_> {
    fn say(&self, key: &str, vars: Value) -> Result<Action, PromptError> {
        self.ctx
            .prompts
            .render(self.lang, key, vars)
            .map(Action::Reply)
    }

    fn label(&self, topic: TopicIdx) -> String {
        self.ctx.vocabulary.get(topic).label(self.lang).to_string()
    }

    fn labels_of_ids(&self, ids: &[String]) -> Vec<String> {
        ids.iter()
            .map(|id| {
                self.ctx
                    .vocabulary
                    .by_id(id)
                    .map(|t| self.label(t))
                    .unwrap_or_else(|| id.clone())
            })
            .collect()
    }

    /// The asker; the role check guarantees it for every member command.
    fn me(&self) -> Result<&Member, PromptError> {
        self.ctx.asker.ok_or_else(|| PromptError::Render {
            lang: self.lang,
            key: "-".into(),
            message: "member command without a member".into(),
        })
    }

    fn run(&self, name: &str) -> Result<Vec<Action>, PromptError> {
        match name {
            "help" => self.help(),
            "topics" => self.topics(),
            "find-speaker" => self.find_speaker(),
            "my-profile" => Ok(vec![self.profile(self.me()?, true)?]),
            "member-profile" => match self.args.get("member") {
                Some(ArgValue::Member(i)) => {
                    Ok(vec![self.profile(&self.ctx.directory.members[*i], false)?])
                }
                _ => Ok(vec![]),
            },
            "my-topics-add" => self.edit_topics(true),
            "my-topics-remove" => self.edit_topics(false),
            "away" => self.away(),
            "back" => {
                let me = self.me()?;
                Ok(vec![
                    Action::Change(Change::ClearUnavailability {
                        member_id: me.id,
                        from: self.ctx.today,
                    }),
                    self.say("profile/back", json!({}))?,
                ])
            }
            "my-language" => self.my_language(),
            "speaker-consent" | "speaker-withdraw" => {
                let consent = name == "speaker-consent";
                let me = self.me()?;
                Ok(vec![
                    Action::Change(Change::SetConsent {
                        member_id: me.id,
                        consent,
                    }),
                    self.say("profile/consent", json!({ "consent": consent }))?,
                ])
            }
            "stats" => self.stats(),
            "ticket-show" => self.ticket_show(),
            "ticket-accept" => self.ticket_move(TicketState::Accepted, "accepted"),
            "ticket-decline" => self.ticket_move(TicketState::Declined, "declined"),
            "ticket-done" => self.ticket_move(TicketState::Done, "done"),
            "ticket-wait" => self.ticket_move(TicketState::WaitingForRequester, "waiting"),
            "ticket-cancel" => self.ticket_move(TicketState::Cancelled, "cancelled"),
            "ticket-assign" => self.ticket_assign(),
            "my-tickets" => self.my_tickets(),
            "ticket-reply" => self.ticket_reply(),
            other => Err(PromptError::Render {
                lang: self.lang,
                key: "-".into(),
                message: format!("no handler for {other}"),
            }),
        }
    }

    fn help(&self) -> Result<Vec<Action>, PromptError> {
        let registry = self.ctx.registry;
        if let Some(ArgValue::Command(i)) = self.args.get("command") {
            let spec = &registry.get(*i).spec;
            return Ok(vec![self.say(
                "help/command",
                json!({
                    "name": spec.name,
                    "summary": spec.summary.get(self.lang),
                    "help": spec.help.get(self.lang).trim(),
                    "examples": spec.examples.get(self.lang),
                    "role": spec.role.as_str(),
                }),
            )?]);
        }
        let commands: Vec<Value> = (0..registry.commands().len())
            .filter(|&i| registry.get(i).spec.role <= self.ctx.role)
            .map(|i| command_view(registry, i, self.lang))
            .collect();
        Ok(vec![
            self.say("help/list", json!({ "commands": commands }))?,
        ])
    }

    fn topics(&self) -> Result<Vec<Action>, PromptError> {
        let vocabulary = self.ctx.vocabulary;
        let topics: Vec<Value> = (0..vocabulary.len() as TopicIdx)
            .map(|t| {
                json!({
                    "label": self.label(t),
                    "id": vocabulary.get(t).id,
                    "sector": vocabulary.get(t).observatory.is_some(),
                    "speakers": self.ctx.directory.speaker_count(t),
                })
            })
            .collect();
        Ok(vec![self.say("topics/list", json!({ "topics": topics }))?])
    }

    fn find_speaker(&self) -> Result<Vec<Action>, PromptError> {
        let Some(ArgValue::Speaker(query)) = self.args.get("query") else {
            return Ok(vec![]);
        };
        let ctx = self.ctx;
        let outcome = search::search(
            ctx.directory,
            ctx.vocabulary,
            ctx.geography,
            query,
            ctx.weights,
            ctx.max_results,
        );
        let asked = json!({
            "topics": query.topics.iter().map(|&t| self.label(t)).collect::<Vec<_>>(),
            "place": query.place.map(|p| ctx.geography.place_name(p)),
            "language": query.language,
            "date": query.date.map(|d| format_day(self.lang, d)),
        });
        if outcome.ranked.is_empty() {
            let suggestions: Vec<String> =
                outcome.suggestions.iter().map(|&t| self.label(t)).collect();
            return Ok(vec![self.say(
                "search/none",
                json!({ "asked": asked, "suggestions": suggestions, "unavailable": outcome.unavailable, "wrong_language": outcome.wrong_language }),
            )?]);
        }
        let results: Vec<Value> = outcome
            .ranked
            .iter()
            .enumerate()
            .map(|(n, ranked)| {
                let member = &ctx.directory.members[ranked.member];
                let history = &ctx.directory.histories[ranked.member];
                let place = ctx.directory.departments[ranked.member].map(|d| {
                    let dep = ctx.geography.department(d);
                    json!({ "department": dep.name, "region": ctx.geography.region(dep.region).name })
                });
                let nearness = ranked.nearness.as_ref().map(|n| match n {
                    Nearness::SameDepartment => json!({ "kind": "department" }),
                    Nearness::SameRegion => json!({ "kind": "region" }),
                    Nearness::Distance(km) => json!({ "kind": "distance", "km": km }),
                });
                let last = history.last_intervention.as_ref().map(|(day, event)| {
                    json!({ "date": format_day(self.lang, *day), "event": event, "days": (ctx.today - *day).num_days() })
                });
                json!({
                    "rank": n + 1,
                    "name": member.name,
                    "organisation": member.organisation.as_deref().and_then(|o| ctx.directory.organisation(o)).map(|o| o.name.clone()),
                    "elected": member.job_role == crate::core::directory::JobRole::Elected,
                    "place": place,
                    "languages": member.languages,
                    "matched": ranked.matched_topics.iter().map(|&t| self.label(t)).collect::<Vec<_>>(),
                    "nearness": nearness,
                    "last": last,
                    "recent": history.recent_interventions,
                    "newcomer": ranked.newcomer,
                    "contact": member.matrix_id.clone().unwrap_or_else(|| member.email.clone()),
                })
            })
            .collect();
        let proposed: Vec<i64> = outcome
            .ranked
            .iter()
            .map(|r| ctx.directory.members[r.member].id)
            .collect();
        Ok(vec![
            Action::Change(Change::RecordProposals {
                member_ids: proposed,
                on: ctx.today,
            }),
            self.say(
                "search/results",
                json!({
                    "asked": asked,
                    "results": results,
                    "matching": outcome.matching,
                    "unavailable": outcome.unavailable,
                    "wrong_language": outcome.wrong_language,
                }),
            )?,
        ])
    }

    fn profile(&self, member: &Member, own: bool) -> Result<Action, PromptError> {
        let ctx = self.ctx;
        let place = member
            .department
            .as_deref()
            .and_then(|d| ctx.geography.department_by_code(d))
            .map(|d| {
                let dep = ctx.geography.department(d);
                format!("{} ({})", dep.name, ctx.geography.region(dep.region).name)
            });
        let periods: Vec<Value> = member
            .unavailable
            .iter()
            .filter(|p| p.end >= ctx.today)
            .map(|p| json!({ "start": format_day(self.lang, p.start), "end": format_day(self.lang, p.end) }))
            .collect();
        let history = ctx
            .directory
            .index_of(member.id)
            .map(|i| &ctx.directory.histories[i]);
        self.say(
            "profile/show",
            json!({
                "own": own,
                "name": member.name,
                "email": member.email,
                "matrix": member.matrix_id,
                "organisation": member.organisation.as_deref().and_then(|o| ctx.directory.organisation(o)).map(|o| o.name.clone()),
                "elected": member.job_role == crate::core::directory::JobRole::Elected,
                "place": place,
                "topics": self.labels_of_ids(&member.topics),
                "languages": member.languages,
                "consent": member.speaker_consent,
                "unavailable": periods,
                "language": member.preferred_lang.map(|l| l.code()),
                "access": member.access.as_str(),
                "bio": member.bio,
                "talks": history.map(|h| h.total_interventions).unwrap_or(0),
            }),
        )
    }

    fn edit_topics(&self, add: bool) -> Result<Vec<Action>, PromptError> {
        let Some(ArgValue::Topics(topics)) = self.args.get("topics") else {
            return Ok(vec![]);
        };
        let me = self.me()?;
        let ids: Vec<String> = topics
            .iter()
            .map(|&t| self.ctx.vocabulary.get(t).id.clone())
            .collect();
        let (changed, unchanged): (Vec<String>, Vec<String>) = ids
            .into_iter()
            .partition(|id| me.topics.contains(id) != add);
        let mut now: Vec<String> = me
            .topics
            .iter()
            .filter(|t| add || !changed.contains(t))
            .cloned()
            .collect();
        if add {
            now.extend(changed.iter().cloned());
        }
        let mut actions = Vec::new();
        if !changed.is_empty() {
            let member_id = me.id;
            let topics = changed.clone();
            actions.push(Action::Change(if add {
                Change::AddTopics { member_id, topics }
            } else {
                Change::RemoveTopics { member_id, topics }
            }));
        }
        actions.push(self.say(
            "profile/topics",
            json!({
                "added": add,
                "changed": self.labels_of_ids(&changed),
                "unchanged": self.labels_of_ids(&unchanged),
                "topics": self.labels_of_ids(&now),
            }),
        )?);
        Ok(actions)
    }

    fn away(&self) -> Result<Vec<Action>, PromptError> {
        let Some(ArgValue::Period(period)) = self.args.get("period") else {
            return Ok(vec![]);
        };
        let me = self.me()?;
        Ok(vec![
            Action::Change(Change::AddUnavailability { member_id: me.id, period: *period }),
            self.say("profile/away", json!({ "start": format_day(self.lang, period.start), "end": format_day(self.lang, period.end) }))?,
        ])
    }

    fn my_language(&self) -> Result<Vec<Action>, PromptError> {
        let Some(ArgValue::Language(code)) = self.args.get("language") else {
            return Ok(vec![]);
        };
        let me = self.me()?;
        match code.parse::<Lang>() {
            Ok(chosen) => {
                // Confirm in the newly chosen language: that is the one they asked for.
                let text = self
                    .ctx
                    .prompts
                    .render(chosen, "profile/language", json!({}))?;
                Ok(vec![
                    Action::Change(Change::SetLanguage {
                        member_id: me.id,
                        lang: chosen,
                    }),
                    Action::Reply(text),
                ])
            }
            Err(_) => Ok(vec![
                self.say("errors/bot_language", json!({ "typed": code }))?,
            ]),
        }
    }

    /// The ticket named by the line, or the answer saying there is none.
    fn ticket(&self) -> Result<Result<&(Ticket, Vec<TicketEvent>), Action>, PromptError> {
        let Some(ArgValue::Ticket(number)) = self.args.get("ticket") else {
            return Ok(Err(
                self.say("errors/unknown_ticket", json!({ "number": "?" }))?
            ));
        };
        match self.ctx.tickets.by_number.get(number) {
            Some(found) => Ok(Ok(found)),
            None => Ok(Err(
                self.say("errors/unknown_ticket", json!({ "number": number }))?
            )),
        }
    }

    fn member_name(&self, id: Option<i64>) -> Option<String> {
        id.and_then(|id| self.ctx.directory.index_of(id))
            .map(|i| self.ctx.directory.members[i].name.clone())
    }

    fn ticket_view(&self, ticket: &Ticket) -> Value {
        json!({
            "number": ticket.number,
            "state": ticket.state.as_str(),
            "subject": ticket.subject,
            "requester": ticket.requester_name.clone().unwrap_or_else(|| ticket.requester_email.clone()),
            "email": ticket.requester_email,
            "organisation": ticket.organisation,
            "event": ticket.event,
            "dates": ticket.dates.iter().map(|d| format_day(self.lang, *d)).collect::<Vec<_>>(),
            "places": ticket.places,
            "topics": self.labels_of_ids(&ticket.topics),
            "format": ticket.format,
            "assignee": self.member_name(ticket.assignee),
        })
    }

    fn ticket_show(&self) -> Result<Vec<Action>, PromptError> {
        let (ticket, events) = match self.ticket()? {
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
        Ok(vec![self.say(
            "tickets/show",
            json!({ "ticket": self.ticket_view(ticket), "history": history }),
        )?])
    }

    fn ticket_move(&self, to: TicketState, kind: &str) -> Result<Vec<Action>, PromptError> {
        let (ticket, _) = match self.ticket()? {
            Ok(found) => found,
            Err(answer) => return Ok(vec![answer]),
        };
        if !ticket.state.can_become(to) {
            return Ok(vec![self.say("errors/ticket_transition", json!({ "number": ticket.number, "from": ticket.state.as_str(), "to": to.as_str() }))?]);
        }
        let me = self.me()?;
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
        if to == TicketState::Accepted && ticket.assignee.is_none() {
            actions.push(Action::Change(Change::AssignTicket {
                ticket: ticket.number,
                member_id: me.id,
            }));
        }
        actions.push(self.say(
            "tickets/changed",
            json!({ "number": ticket.number, "state": to.as_str(), "subject": ticket.subject }),
        )?);
        Ok(actions)
    }

    fn ticket_assign(&self) -> Result<Vec<Action>, PromptError> {
        let (ticket, _) = match self.ticket()? {
            Ok(found) => found,
            Err(answer) => return Ok(vec![answer]),
        };
        let Some(ArgValue::Member(i)) = self.args.get("member") else {
            return Ok(vec![]);
        };
        let member = &self.ctx.directory.members[*i];
        if member.access < Role::CoreTeam {
            return Ok(vec![
                self.say("errors/not_core_team", json!({ "name": member.name }))?,
            ]);
        }
        if ticket.state.is_closed() {
            return Ok(vec![self.say(
                "errors/ticket_transition",
                json!({ "number": ticket.number, "from": ticket.state.as_str(), "to": "assigned" }),
            )?]);
        }
        let me = self.me()?;
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
            self.say(
                "tickets/assigned",
                json!({ "number": ticket.number, "name": member.name }),
            )?,
        ])
    }

    /// A core-team member writes to the requester: the mail goes out in the requester's
    /// language frame, threaded on the ticket, and the history keeps what was said.
    fn ticket_reply(&self) -> Result<Vec<Action>, PromptError> {
        let (ticket, _) = match self.ticket()? {
            Ok(found) => found,
            Err(answer) => return Ok(vec![answer]),
        };
        let Some(ArgValue::Text(text)) = self.args.get("text") else {
            return Ok(vec![]);
        };
        let me = self.me()?;
        let marker = ticket.marker(self.ctx.ticket_prefix);
        let body = self.ctx.prompts.render(
            ticket.lang,
            "mail/team_reply",
            json!({ "text": text, "name": me.name, "marker": marker }),
        )?;
        let excerpt: String = text.chars().take(280).collect();
        Ok(vec![
            self.say(
                "tickets/replied",
                json!({ "number": ticket.number, "requester": ticket.requester_email }),
            )?,
            Action::SendMail(crate::core::actions::OutgoingMail {
                to: ticket.requester_email.clone(),
                subject: ticket.mail_subject(self.ctx.ticket_prefix),
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

    fn my_tickets(&self) -> Result<Vec<Action>, PromptError> {
        let tickets: Vec<Value> = self
            .ctx
            .tickets
            .mine
            .iter()
            .map(|t| self.ticket_view(t))
            .collect();
        Ok(vec![
            self.say("tickets/list", json!({ "tickets": tickets }))?,
        ])
    }

    fn stats(&self) -> Result<Vec<Action>, PromptError> {
        let directory = self.ctx.directory;
        let vocabulary = self.ctx.vocabulary;
        let uncovered: Vec<String> = (0..vocabulary.len() as TopicIdx)
            .filter(|&t| directory.speaker_count(t) == 0)
            .map(|t| self.label(t))
            .collect();
        Ok(vec![self.say(
            "stats/show",
            json!({
                "members": directory.len(),
                "speakers": directory.members.iter().filter(|m| m.speaker_consent).count(),
                "organisations": directory.organisation_count(),
                "topics": vocabulary.len(),
                "uncovered": uncovered,
                "talks": directory.histories.iter().map(|h| h.total_interventions).sum::<u32>(),
            }),
        )?])
    }
}
