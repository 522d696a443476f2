//! The command handlers: pure functions from a parsed command and the directory to actions.
//!
//! [`HANDLERS`] maps each command name to its function; the registry binds every command file
//! to its entry when it loads, so a line is dispatched without looking its name up again.

mod help;
mod news;
mod profile;
mod search;
mod stats;
mod tickets;

pub use news::preview_view;
pub use stats::STATS_WINDOW_DAYS;
pub use tickets::assigned_notice;

use super::args::{self, ArgContext, ArgError, ArgValue};
use super::registry::{ArgSpec, Interpretation, Invocation, Need, Registry};
use crate::core::actions::Action;
use crate::core::directory::{Directory, Member, Role};
use crate::core::geo::Geography;
use crate::core::lang::{self, Lang};
use crate::core::search::Weights;
use crate::core::tickets::{RoutingRule, Ticket, TicketEvent, TicketState, TicketTiming, Workload};
use crate::core::topics::{TopicIdx, Vocabulary};
use crate::prompts::{PromptError, Prompts};
use chrono::NaiveDate;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What a command handler computes: the actions answering the line.
pub type HandlerFn = fn(&Handler<'_>) -> Result<Vec<Action>, HandlerError>;

/// One command the code implements, by the name its file in `commands/` gives.
#[derive(Debug, Clone, Copy)]
pub struct CommandHandler {
    pub name: &'static str,
    pub run: HandlerFn,
}

/// Every command the code implements; each needs a file in `commands/` (see
/// [`Registry::load`]).
pub static HANDLERS: &[CommandHandler] = &[
    CommandHandler {
        name: "news-propose",
        run: news::propose,
    },
    CommandHandler {
        name: "news-list",
        run: news::list,
    },
    CommandHandler {
        name: "news-show",
        run: news::show,
    },
    CommandHandler {
        name: "news-approve",
        run: news::approve,
    },
    CommandHandler {
        name: "news-reject",
        run: news::reject,
    },
    CommandHandler {
        name: "news-edit",
        run: news::edit,
    },
    CommandHandler {
        name: "news-schedule",
        run: news::schedule,
    },
    CommandHandler {
        name: "news-delete",
        run: news::delete,
    },
    CommandHandler {
        name: "news-image",
        run: news::image,
    },
    CommandHandler {
        name: "news-warning",
        run: news::warning,
    },
    CommandHandler {
        name: "help",
        run: help::help,
    },
    CommandHandler {
        name: "topics",
        run: search::topics,
    },
    CommandHandler {
        name: "find-speaker",
        run: search::find_speaker,
    },
    CommandHandler {
        name: "my-profile",
        run: profile::my_profile,
    },
    CommandHandler {
        name: "my-topics-add",
        run: |h| profile::edit_topics(h, true),
    },
    CommandHandler {
        name: "my-topics-remove",
        run: |h| profile::edit_topics(h, false),
    },
    CommandHandler {
        name: "away",
        run: profile::away,
    },
    CommandHandler {
        name: "back",
        run: profile::back,
    },
    CommandHandler {
        name: "my-language",
        run: profile::my_language,
    },
    CommandHandler {
        name: "speaker-consent",
        run: |h| profile::consent(h, true),
    },
    CommandHandler {
        name: "speaker-withdraw",
        run: |h| profile::consent(h, false),
    },
    CommandHandler {
        name: "member-profile",
        run: profile::member_profile,
    },
    CommandHandler {
        name: "stats",
        run: stats::stats,
    },
    CommandHandler {
        name: "ticket-show",
        run: tickets::show,
    },
    CommandHandler {
        name: "ticket-accept",
        run: |h| tickets::move_to(h, TicketState::Accepted, "accepted"),
    },
    CommandHandler {
        name: "ticket-decline",
        run: |h| tickets::move_to(h, TicketState::Declined, "declined"),
    },
    CommandHandler {
        name: "ticket-done",
        run: tickets::done,
    },
    CommandHandler {
        name: "ticket-reopen",
        run: tickets::reopen,
    },
    CommandHandler {
        name: "ticket-pass",
        run: tickets::pass,
    },
    CommandHandler {
        name: "tickets-open",
        run: |h| tickets::open(h, false),
    },
    CommandHandler {
        name: "tickets-unassigned",
        run: |h| tickets::open(h, true),
    },
    CommandHandler {
        name: "ticket-wait",
        run: |h| tickets::move_to(h, TicketState::WaitingForRequester, "waiting"),
    },
    CommandHandler {
        name: "ticket-cancel",
        run: |h| tickets::move_to(h, TicketState::Cancelled, "cancelled"),
    },
    CommandHandler {
        name: "ticket-assign",
        run: tickets::assign,
    },
    CommandHandler {
        name: "my-tickets",
        run: tickets::mine,
    },
    CommandHandler {
        name: "ticket-reply",
        run: tickets::reply,
    },
    CommandHandler {
        name: "ticket-comment",
        run: tickets::comment,
    },
];

/// Why a handler could not answer. Each is a defect (a prompt, a command file or the code),
/// never something the asker typed: the engine logs it and answers with the internal-error
/// prompt.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// The role check lets only members run member commands, so the code let one through.
    #[error("'{command}' is a member command and ran without a member")]
    NoMember { command: String },
    /// The command file does not give the handler the argument it reads, or not of its kind.
    #[error("'{command}' has no '{arg}' argument of the kind its handler reads")]
    BadArgument { command: String, arg: &'static str },
}

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
    /// The ticket whose thread the line was written in, if any: there the ticket goes without
    /// saying.
    pub thread_ticket: Option<i64>,
    /// The routing rules of `bot.toml`, to route a declined ticket again.
    pub routing: &'a [RoutingRule],
    /// Now, for durations in the statistics.
    pub now: chrono::DateTime<chrono::Utc>,
    /// Who wrote the line (a news draft's author, who decided on it).
    pub sender: &'a crate::core::address::Address,
    /// The network's time zone, for times typed in chat.
    pub timezone: chrono_tz::Tz,
    /// News drafts the line may act on, loaded by the engine beforehand.
    pub news: &'a NewsData,
}

/// The news drafts a command line needs, and where the relay publishes.
#[derive(Debug, Default)]
pub struct NewsData {
    pub by_id: std::collections::HashMap<i64, crate::core::news::NewsDraft>,
    /// Recent drafts, those awaiting a decision first.
    pub recent: Vec<crate::core::news::NewsDraft>,
    /// A number reserved for the draft the line proposes.
    pub new_id: Option<i64>,
    /// The networks an approved draft goes to (`[social] networks`).
    pub channels: Vec<crate::core::news::Channel>,
}

/// The tickets a command line needs, read from the store before the pure handler runs.
#[derive(Debug, Default)]
pub struct TicketData {
    pub by_number: std::collections::HashMap<i64, (Ticket, Vec<TicketEvent>)>,
    /// Open tickets assigned to the asker (for "my tickets").
    pub mine: Vec<Ticket>,
    /// Every open ticket, oldest first.
    pub open: Vec<Ticket>,
    /// Open tickets per member and last assignments, to route again.
    pub work: Workload,
    /// Tickets of the statistics window, with when each was first accepted.
    pub timings: Vec<TicketTiming>,
}

/// What the engine must load for a line: the ticket number it names, and the lists its
/// command's `needs` asks for.
#[derive(Debug, Default, PartialEq)]
pub struct TicketsNeeded {
    pub number: Option<i64>,
    pub mine: bool,
    pub open: bool,
    pub work: bool,
    pub timings: bool,
    /// The news draft the line names.
    pub draft: Option<i64>,
    pub drafts: bool,
    pub new_draft: bool,
}

/// Reads the command's `needs` (its TOML file) to tell the engine what to load for `line`,
/// understood as [`handle_line`] will understand it.
pub fn tickets_needed(arg_ctx: &ArgContext<'_>, line: &str, thread: Option<i64>) -> TicketsNeeded {
    let registry = arg_ctx.registry;
    let weighing = args::Weighing::new(arg_ctx);
    let valid = |spec: &ArgSpec, raw: &str| weighing.valid(spec, raw);
    let invocation = match thread {
        Some(ticket) => registry.parse_in_thread(line, ticket),
        None => registry.interpret(line, &valid).invocation(),
    };
    let Some(invocation) = invocation else {
        return TicketsNeeded::default();
    };
    let needs = &registry.get(invocation.command).spec.needs;
    TicketsNeeded {
        // The registry checked that a command needing a ticket has a `ticket` argument.
        number: invocation
            .args
            .get("ticket")
            .filter(|_| needs.contains(&Need::Ticket))
            .and_then(|t| t.trim_start_matches('#').parse().ok()),
        mine: needs.contains(&Need::MyTickets),
        open: needs.contains(&Need::OpenTickets),
        work: needs.contains(&Need::Routing),
        timings: needs.contains(&Need::TicketTimings),
        draft: invocation
            .args
            .get("draft")
            .filter(|_| needs.contains(&Need::Draft))
            .and_then(|t| t.trim_start_matches('#').parse().ok()),
        drafts: needs.contains(&Need::Drafts),
        new_draft: needs.contains(&Need::NewDraft),
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
) -> Result<Outcome, HandlerError> {
    let weighing = args::Weighing::new(&arg_context(ctx));
    let valid = |spec: &ArgSpec, raw: &str| weighing.valid(spec, raw);
    let (invocation, ambiguous) = match ctx.thread_ticket {
        Some(ticket) => (ctx.registry.parse_in_thread(line, ticket), Vec::new()),
        None => match ctx.registry.interpret(line, &valid) {
            Interpretation::Command(invocation) => (Some(invocation), Vec::new()),
            Interpretation::Ambiguous(commands) => (None, commands),
            Interpretation::Unknown => (None, Vec::new()),
        },
    };
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
        if !ambiguous.is_empty() {
            let choices: Vec<Value> = ambiguous
                .into_iter()
                .map(|i| command_view(ctx.registry, i, lang))
                .collect();
            return Ok(Outcome {
                lang,
                actions: vec![Action::Reply(say(
                    "errors/which_command",
                    json!({ "typed": line.trim(), "choices": choices }),
                )?)],
                command: None,
            });
        }
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
    let values = match typed_args(ctx, &invocation, &weighing) {
        Ok(values) => values,
        Err(error) => return reply(arg_error(ctx, lang, &invocation, error)?),
    };
    let handler = Handler {
        ctx,
        name: &name,
        lang,
        args: &values,
    };
    let actions = match (command.run)(&handler) {
        // Vouched for by a role (a room's power levels, the config lists) but not in the
        // directory: the command acts on a directory entry there is none of.
        Err(HandlerError::NoMember { .. }) => {
            let required = command.spec.role.max(Role::Member);
            return reply(say(
                "errors/permission",
                json!({ "command": name, "required": required.as_str(), "known": false }),
            )?);
        }
        result => result?,
    };
    Ok(Outcome {
        lang,
        actions,
        command: Some(name),
    })
}

fn arg_context<'a>(ctx: &Context<'a>) -> ArgContext<'a> {
    ArgContext {
        vocabulary: ctx.vocabulary,
        geography: ctx.geography,
        directory: ctx.directory,
        registry: ctx.registry,
        today: ctx.today,
        thorough: true,
    }
}

fn typed_args(
    ctx: &Context<'_>,
    invocation: &Invocation,
    weighing: &args::Weighing<'_>,
) -> Result<BTreeMap<String, ArgValue>, (String, ArgError)> {
    let arg_ctx = arg_context(ctx);
    let mut values = BTreeMap::new();
    for spec in &ctx.registry.get(invocation.command).spec.args {
        match invocation.args.get(&spec.name) {
            Some(raw) => {
                let value = weighing
                    .parse(spec, raw, &arg_ctx)
                    .map_err(|e| (spec.name.clone(), e))?;
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

/// What a handler function receives: the context, and the line's language and typed arguments.
pub struct Handler<'a> {
    ctx: &'a Context<'a>,
    /// The command that runs, for errors.
    name: &'a str,
    lang: Lang,
    args: &'a BTreeMap<String, ArgValue>,
}

impl<'a> Handler<'a> {
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
    fn me(&self) -> Result<&'a Member, HandlerError> {
        self.ctx.asker.ok_or_else(|| HandlerError::NoMember {
            command: self.name.to_string(),
        })
    }

    /// The error for an argument the handler reads and did not get.
    fn bad_argument(&self, arg: &'static str) -> HandlerError {
        HandlerError::BadArgument {
            command: self.name.to_string(),
            arg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::actions::Change;
    use crate::core::directory::{DirectoryData, JobRole};
    use std::path::Path;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    fn today() -> NaiveDate {
        "2026-11-26".parse().unwrap()
    }

    /// The shipped commands, prompts and vocabulary, and one core-team member.
    struct Fixture {
        registry: Registry,
        prompts: Prompts,
        vocabulary: Vocabulary,
        geography: Geography,
        directory: Directory,
        weights: Weights,
    }

    impl Fixture {
        fn new() -> Fixture {
            let vocabulary =
                Vocabulary::from_toml(include_str!("../../../data/topics.toml")).unwrap();
            let geography = crate::core::geo::tests::geography();
            let camille = Member {
                id: 1,
                email: "camille.roux@example.org".into(),
                name: "Camille Roux".into(),
                organisation: None,
                job_role: JobRole::Staff,
                department: Some("35".into()),
                topics: vec!["licensing".into()],
                languages: vec!["fr".into()],
                bio: String::new(),
                matrix_id: None,
                speaker_consent: true,
                access: Role::CoreTeam,
                preferred_lang: None,
                unavailable: Vec::new(),
            };
            let yanis = Member {
                id: 2,
                email: "yanis.benali@example.org".into(),
                name: "Yanis Benali".into(),
                matrix_id: Some("@yanis:example.org".into()),
                preferred_lang: Some(Lang::En),
                ..camille.clone()
            };
            let data = DirectoryData {
                members: vec![camille, yanis],
                ..Default::default()
            };
            Fixture {
                registry: Registry::load(&root().join("commands"), HANDLERS).unwrap(),
                prompts: Prompts::load(&root().join("prompts")).unwrap(),
                directory: Directory::build(data, &vocabulary, &geography, today()),
                vocabulary,
                geography,
                weights: Weights::default(),
            }
        }

        /// Handles `line` from the member, or from a stranger given `role`.
        fn run(
            &self,
            line: &str,
            asker: Option<&Member>,
            role: Role,
            tickets: &TicketData,
        ) -> Result<Outcome, HandlerError> {
            let ctx = Context {
                registry: &self.registry,
                prompts: &self.prompts,
                vocabulary: &self.vocabulary,
                geography: &self.geography,
                directory: &self.directory,
                asker,
                role,
                today: today(),
                default_lang: Lang::Fr,
                max_results: 5,
                weights: &self.weights,
                tickets,
                ticket_prefix: "ODF",
                thread_ticket: None,
                routing: &[],
                now: today().and_hms_opt(12, 0, 0).unwrap().and_utc(),
                sender: &crate::core::address::Address::Email(
                    asker.map_or("someone@example.org".into(), |m| m.email.clone()),
                ),
                timezone: chrono_tz::Europe::Paris,
                news: &NewsData::default(),
            };
            handle_line(&ctx, line, None)
        }

        fn camille(&self) -> &Member {
            &self.directory.members[0]
        }
    }

    fn ticket(state: TicketState) -> TicketData {
        let ticket = Ticket {
            number: 12,
            state,
            subject: "Rencontres".into(),
            requester_email: "ada@example.org".into(),
            requester_name: None,
            lang: Lang::Fr,
            organisation: None,
            event: None,
            dates: Vec::new(),
            places: Vec::new(),
            topics: Vec::new(),
            format: None,
            assignee: Some(1),
            secret: "k3f9a0c1".into(),
        };
        TicketData {
            by_number: [(12, (ticket, Vec::new()))].into(),
            ..Default::default()
        }
    }

    /// The answers a line gave, as text.
    fn replies(outcome: &Outcome) -> Vec<&str> {
        outcome
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Reply(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn what_a_line_needs_loaded_comes_from_its_command_file() {
        let fixture = Fixture::new();
        let needed = |number, mine| TicketsNeeded {
            number,
            mine,
            ..Default::default()
        };
        let open = || TicketsNeeded {
            open: true,
            ..Default::default()
        };
        let cases = [
            ("demande 12", needed(Some(12), false)),
            ("voir la demande n° 12", needed(Some(12), false)),
            ("accept ticket #12", needed(Some(12), false)),
            ("confie la demande 7 à Yanis Benali", needed(Some(7), false)),
            ("reply to ticket 3: Hello", needed(Some(3), false)),
            (
                "la demande 12 est en attente du demandeur",
                needed(Some(12), false),
            ),
            ("my tickets", needed(None, true)),
            ("mes demandes", needed(None, true)),
            ("aide", needed(None, false)),
            ("find a speaker on licensing", needed(None, false)),
            ("bonjour", needed(None, false)),
            ("show me the open tickets", open()),
            ("quelles sont les demandes en cours ?", open()),
            ("demandes sans responsable", open()),
            (
                "stats",
                TicketsNeeded {
                    open: true,
                    timings: true,
                    ..Default::default()
                },
            ),
            (
                "je ne peux pas prendre la demande 12",
                TicketsNeeded {
                    number: Some(12),
                    work: true,
                    ..Default::default()
                },
            ),
        ];
        let failures: Vec<String> = cases
            .into_iter()
            .filter_map(|(line, want): (&str, TicketsNeeded)| {
                let arg_ctx = ArgContext {
                    vocabulary: &fixture.vocabulary,
                    geography: &fixture.geography,
                    directory: &fixture.directory,
                    registry: &fixture.registry,
                    today: "2026-11-26".parse().unwrap(),
                    thorough: true,
                };
                let got = tickets_needed(&arg_ctx, line, None);
                (got != want).then(|| format!("{line:?}: got {got:?}, want {want:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn a_shipped_ticket_command_without_its_needs_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::read_to_string(root().join("commands/ticket-show.toml")).unwrap();
        let without_needs: String = file
            .lines()
            .filter(|l| !l.starts_with("needs"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(dir.path().join("ticket-show.toml"), without_needs).unwrap();
        let table: Vec<CommandHandler> = HANDLERS
            .iter()
            .filter(|h| h.name == "ticket-show")
            .copied()
            .collect();
        // What a command loads is declared, never guessed from its name or its arguments.
        let errors = Registry::load(dir.path(), &table).unwrap_err();
        assert!(
            errors[0].to_string().contains("needs = [\"ticket\"]"),
            "{errors:?}"
        );
    }

    #[test]
    fn each_ticket_command_moves_the_ticket_to_its_state() {
        let fixture = Fixture::new();
        let cases = [
            (
                "accept ticket 12",
                TicketState::Assigned,
                TicketState::Accepted,
            ),
            (
                "j'accepte la demande 12",
                TicketState::Assigned,
                TicketState::Accepted,
            ),
            ("decline ticket 12", TicketState::New, TicketState::Declined),
            ("close ticket 12", TicketState::Accepted, TicketState::Done),
            (
                "la demande 12 est terminée",
                TicketState::Accepted,
                TicketState::Done,
            ),
            (
                "ticket 12 is waiting for the requester",
                TicketState::Accepted,
                TicketState::WaitingForRequester,
            ),
            (
                "annuler la demande 12",
                TicketState::Assigned,
                TicketState::Cancelled,
            ),
        ];
        let mut failures = Vec::new();
        for (line, from, to) in cases {
            let outcome = fixture
                .run(line, Some(fixture.camille()), Role::CoreTeam, &ticket(from))
                .unwrap();
            let moved = Action::Change(Change::SetTicketState {
                ticket: 12,
                state: to,
            });
            if !outcome.actions.contains(&moved) {
                failures.push(format!("{line:?}: {:?}", outcome.actions));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn a_ticket_the_engine_did_not_find_is_answered_not_an_error() {
        let fixture = Fixture::new();
        let outcome = fixture
            .run(
                "accept ticket 99",
                Some(fixture.camille()),
                Role::CoreTeam,
                &ticket(TicketState::New),
            )
            .unwrap();
        assert_eq!(outcome.command.as_deref(), Some("ticket-accept"));
        assert!(
            matches!(outcome.actions.as_slice(), [Action::Reply(text)] if text.contains("99")),
            "{:?}",
            outcome.actions
        );
    }

    #[test]
    fn a_member_command_without_a_directory_entry_says_how_to_get_one() {
        let fixture = Fixture::new();
        // A member by a room's power levels, not in the directory.
        let outcome = fixture
            .run("my profile", None, Role::Member, &TicketData::default())
            .expect("an answer, not an error");
        assert!(
            matches!(outcome.actions.as_slice(), [Action::Reply(text)] if text.contains("add your address to the directory")),
            "{:?}",
            outcome.actions
        );
        let error = HandlerError::NoMember {
            command: "my-profile".into(),
        };
        assert_eq!(
            error.to_string(),
            "'my-profile' is a member command and ran without a member"
        );
    }

    #[test]
    fn the_team_asks_for_its_work_as_people_say_it() {
        let fixture = Fixture::new();
        let cases = [
            ("show me the open tickets", "tickets-open"),
            ("Show me the open tickets please", "tickets-open"),
            ("what are the open requests?", "tickets-open"),
            ("list all requests", "tickets-open"),
            ("quelles sont les demandes en cours ?", "tickets-open"),
            ("Quelles sont les demandes en cours", "tickets-open"),
            ("montre-moi les demandes ouvertes", "tickets-open"),
            ("où en sont les demandes ?", "tickets-open"),
            ("tickets ouverts", "tickets-open"),
            // Phrasings tried after the patterns were written, which the first version missed.
            ("c'est quoi les demandes ouvertes ?", "tickets-open"),
            ("liste les tickets", "tickets-open"),
            ("any open requests?", "tickets-open"),
            ("what's pending?", "tickets-open"),
            (
                "y a-t-il des demandes sans responsable ?",
                "tickets-unassigned",
            ),
            ("demandes sans responsable", "tickets-unassigned"),
            (
                "quelles sont les demandes non attribuées ?",
                "tickets-unassigned",
            ),
            ("show me the unassigned requests", "tickets-unassigned"),
            ("which tickets have no owner?", "tickets-unassigned"),
            ("mes demandes en cours", "my-tickets"),
            ("show me my tickets", "my-tickets"),
            ("which requests are assigned to me?", "my-tickets"),
            ("réattribue la demande 12 à Yanis Benali", "ticket-assign"),
            ("reassign ticket 12 to Yanis Benali", "ticket-assign"),
            ("rouvre la demande 12", "ticket-reopen"),
            ("reopen request #12", "ticket-reopen"),
            ("je ne peux pas prendre la demande 12", "ticket-pass"),
            ("I can't take ticket 12", "ticket-pass"),
            ("pass on request 12", "ticket-pass"),
            (
                "clore la demande 12, intervenante : Yanis Benali",
                "ticket-done",
            ),
            ("close ticket 12 speaker: Yanis Benali", "ticket-done"),
            ("statistiques des demandes", "stats"),
            ("team stats", "stats"),
            // Declining the request for the network stays apart from handing it back.
            ("refuse la demande 12", "ticket-decline"),
        ];
        let failures: Vec<String> = cases
            .into_iter()
            .filter_map(|(line, want)| {
                let got = fixture
                    .registry
                    .parse(line)
                    .map(|i| fixture.registry.get(i.command).spec.name.clone());
                (got.as_deref() != Some(want))
                    .then(|| format!("{line:?}: got {got:?}, want {want}"))
            })
            .collect();
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn in_a_ticket_thread_the_team_reassigns_passes_closes_and_reopens_without_the_number() {
        let fixture = Fixture::new();
        let cases = [
            ("passe-la à Yanis Benali", Some("ticket-assign")),
            ("confie-la à Yanis Benali", Some("ticket-assign")),
            ("Yanis Benali pourrait le faire", None),
            ("passe à Yanis Benali", Some("ticket-assign")),
            ("give it to Yanis Benali", Some("ticket-assign")),
            ("je passe", Some("ticket-pass")),
            ("pas dispo, désolée", Some("ticket-pass")),
            ("pas dispo le 12 mais le 13 oui", None),
            ("pas dispo", Some("ticket-pass")),
            ("pass", Some("ticket-pass")),
            ("c'est fait", Some("ticket-done")),
            ("done, speaker: Yanis Benali", Some("ticket-done")),
            ("rouvrir", Some("ticket-reopen")),
            ("reopen it", Some("ticket-reopen")),
        ];
        let mut failures = Vec::new();
        for (line, want) in cases {
            let got = fixture
                .registry
                .parse_in_thread(line, 12)
                .map(|i| fixture.registry.get(i.command).spec.name.clone());
            // Lines no pattern knows are notes (the fallback), never another command.
            let want = want.unwrap_or("ticket-comment");
            if got.as_deref() != Some(want) {
                failures.push(format!("{line:?}: got {got:?}, want {want}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn handing_a_ticket_back_routes_it_to_the_next_member_once_then_leaves_it_up_for_grabs() {
        let fixture = Fixture::new();
        let camille = fixture.camille();
        let run = |tickets: &TicketData| {
            fixture
                .run(
                    "je passe sur la demande 12",
                    Some(camille),
                    Role::CoreTeam,
                    tickets,
                )
                .unwrap()
        };
        let outcome = run(&ticket(TicketState::Assigned));
        let actions = &outcome.actions;
        assert!(
            actions.contains(&Action::Change(Change::AssignTicket {
                ticket: 12,
                member_id: 2
            })),
            "{actions:?}"
        );
        // Yanis hears of it directly, in his language.
        assert!(
            actions.iter().any(|a| matches!(a, Action::DirectNotice { to: crate::core::address::Address::Matrix(id), ticket: 12, body } if id == "@yanis:example.org" && body.lang == Lang::En && body.key == "team/assigned_to_you")),
            "{actions:?}"
        );
        assert!(
            actions.iter().any(|a| matches!(a, Action::TeamNotice { ticket: 12, body } if body.key == "team/passed" && body.vars["assignee"] == "Yanis Benali")),
            "{actions:?}"
        );
        assert!(replies(&outcome)[0].contains("Yanis Benali"), "{actions:?}");

        // Yanis declined it before: nobody is left, so it is up for grabs.
        let mut declined = ticket(TicketState::Assigned);
        declined
            .by_number
            .get_mut(&12)
            .unwrap()
            .1
            .push(TicketEvent {
                at: chrono::Utc::now(),
                actor: "yanis.benali@example.org".into(),
                kind: "passed".into(),
                detail: String::new(),
            });
        let actions = run(&declined).actions;
        assert!(
            actions.contains(&Action::Change(Change::UnassignTicket { ticket: 12 }))
                && actions.contains(&Action::Change(Change::SetTicketState {
                    ticket: 12,
                    state: TicketState::New
                })),
            "{actions:?}"
        );
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::DirectNotice { .. })),
            "{actions:?}"
        );

        // Only the assignee can hand it back; the others are told how to reassign.
        let mut theirs = ticket(TicketState::Assigned);
        theirs.by_number.get_mut(&12).unwrap().0.assignee = Some(2);
        let outcome = run(&theirs);
        assert!(
            matches!(replies(&outcome).as_slice(), [text] if text.contains("Yanis Benali") && text.contains("confie la demande 12")),
            "{:?}",
            outcome.actions
        );
        assert!(
            outcome
                .actions
                .iter()
                .all(|a| matches!(a, Action::Reply(_)))
        );
    }

    #[test]
    fn closing_records_the_talk_for_the_named_speaker_or_the_assignee() {
        let fixture = Fixture::new();
        let mut accepted = ticket(TicketState::Accepted);
        {
            let t = &mut accepted.by_number.get_mut(&12).unwrap().0;
            t.dates = vec!["2027-03-12".parse().unwrap()];
            t.places = vec!["Lyon".into()];
            t.topics = vec!["licensing".into()];
            t.event = Some("Rencontres de la donnée".into());
        }
        let recorded = |line: &str, tickets: &TicketData| -> Vec<(i64, NaiveDate, String)> {
            fixture
                .run(line, Some(fixture.camille()), Role::CoreTeam, tickets)
                .unwrap()
                .actions
                .into_iter()
                .filter_map(|a| match a {
                    Action::Change(Change::RecordIntervention {
                        member_id,
                        day,
                        event,
                        ..
                    }) => Some((member_id, day, event)),
                    _ => None,
                })
                .collect()
        };
        let day: NaiveDate = "2027-03-12".parse().unwrap();
        let event = "Rencontres de la donnée, Lyon (ODF #12)".to_string();
        assert_eq!(
            recorded("close ticket 12", &accepted),
            vec![(1, day, event.clone())],
            "the assignee spoke"
        );
        assert_eq!(
            recorded("clore la demande 12, intervenant : Yanis Benali", &accepted),
            vec![(2, day, event)],
            "the named speaker spoke"
        );
        // A refused move records nothing.
        assert!(recorded("close ticket 12", &ticket(TicketState::New)).is_empty());
        // Nobody to credit: the answer says how to name the speaker.
        let mut nobody = ticket(TicketState::Accepted);
        nobody.by_number.get_mut(&12).unwrap().0.assignee = None;
        let outcome = fixture
            .run(
                "close ticket 12",
                Some(fixture.camille()),
                Role::CoreTeam,
                &nobody,
            )
            .unwrap();
        assert!(
            replies(&outcome).iter().any(|r| r.contains("speaker:")),
            "{:?}",
            outcome.actions
        );
    }

    #[test]
    fn reopening_a_closed_ticket_gives_it_back_to_its_assignee() {
        let fixture = Fixture::new();
        let mut done = ticket(TicketState::Done);
        done.by_number.get_mut(&12).unwrap().0.assignee = Some(2);
        let outcome = fixture
            .run(
                "rouvre la demande 12",
                Some(fixture.camille()),
                Role::CoreTeam,
                &done,
            )
            .unwrap();
        assert!(
            outcome
                .actions
                .contains(&Action::Change(Change::SetTicketState {
                    ticket: 12,
                    state: TicketState::Assigned
                })),
            "{:?}",
            outcome.actions
        );
        assert!(
            outcome.actions.iter().any(|a| matches!(a, Action::DirectNotice { body, .. } if body.vars["by"] == "Camille Roux")),
            "{:?}",
            outcome.actions
        );
        // An open ticket is not reopened.
        let outcome = fixture
            .run(
                "reopen ticket 12",
                Some(fixture.camille()),
                Role::CoreTeam,
                &ticket(TicketState::Accepted),
            )
            .unwrap();
        assert!(
            outcome
                .actions
                .iter()
                .all(|a| matches!(a, Action::Reply(_))),
            "{:?}",
            outcome.actions
        );
    }

    #[test]
    fn open_and_unassigned_lists_and_the_team_figures() {
        let fixture = Fixture::new();
        let mut data = TicketData::default();
        let base = ticket(TicketState::Assigned)
            .by_number
            .remove(&12)
            .unwrap()
            .0;
        for (number, assignee, state) in [
            (3, Some(1), TicketState::Accepted),
            (5, None, TicketState::New),
            (8, Some(1), TicketState::WaitingForRequester),
        ] {
            data.open.push(Ticket {
                number,
                assignee,
                state,
                ..base.clone()
            });
        }
        let at =
            |h: i64| today().and_hms_opt(8, 0, 0).unwrap().and_utc() + chrono::Duration::hours(h);
        data.timings = [(3, Some(2)), (5, None), (8, Some(10)), (9, Some(30))]
            .into_iter()
            .map(|(number, accepted)| crate::core::tickets::TicketTiming {
                number,
                state: TicketState::Accepted,
                created_at: at(0),
                accepted_at: accepted.map(at),
            })
            .collect();
        let camille = Some(fixture.camille());
        let text = |line: &str| {
            let outcome = fixture.run(line, camille, Role::CoreTeam, &data).unwrap();
            replies(&outcome).join("\n")
        };
        let open = text("show me the open tickets");
        assert!(
            open.contains("Open requests (3)")
                && open.contains("#3")
                && open.contains("#8")
                && open.contains("waiting for the requester, Camille Roux"),
            "{open}"
        );
        let unassigned = text("demandes sans responsable");
        assert!(
            unassigned.contains("n° 5") && !unassigned.contains("n° 3"),
            "{unassigned}"
        );
        let stats = text("team stats");
        assert!(
            stats.contains("Open requests: 3 (1 new, 0 assigned, 1 accepted, 1 waiting")
                && stats.contains("4 requests received, 3 accepted; median time to accept: 10.0 h")
                && stats.contains("Camille Roux 2, Yanis Benali 0"),
            "{stats}"
        );
    }

    #[test]
    fn the_table_names_each_command_once() {
        for (i, handler) in HANDLERS.iter().enumerate() {
            assert!(
                !HANDLERS[..i].iter().any(|h| h.name == handler.name),
                "{} twice",
                handler.name
            );
        }
    }
}
