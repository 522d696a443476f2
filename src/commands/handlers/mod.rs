//! The command handlers: pure functions from a parsed command and the directory to actions.
//!
//! [`HANDLERS`] maps each command name to its function; the registry binds every command file
//! to its entry when it loads, so a line is dispatched without looking its name up again.

mod help;
mod profile;
mod search;
mod stats;
mod tickets;

use super::args::{self, ArgContext, ArgError, ArgValue};
use super::registry::{Invocation, Need, Registry};
use crate::core::actions::Action;
use crate::core::directory::{Directory, Member, Role};
use crate::core::geo::Geography;
use crate::core::lang::{self, Lang};
use crate::core::search::Weights;
use crate::core::tickets::{Ticket, TicketEvent, TicketState};
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
        run: |h| tickets::move_to(h, TicketState::Done, "done"),
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

/// Reads the command's `needs` (its TOML file) to tell the engine what to load for `line`.
pub fn tickets_needed(registry: &Registry, line: &str, thread: Option<i64>) -> TicketsNeeded {
    let invocation = match thread {
        Some(ticket) => registry.parse_in_thread(line, ticket),
        None => registry.parse(line),
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
    let invocation = match ctx.thread_ticket {
        Some(ticket) => ctx.registry.parse_in_thread(line, ticket),
        None => ctx.registry.parse(line),
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
            let data = DirectoryData {
                members: vec![camille],
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
            mine: Vec::new(),
        }
    }

    #[test]
    fn what_a_line_needs_loaded_comes_from_its_command_file() {
        let fixture = Fixture::new();
        let needed = |number, mine| TicketsNeeded { number, mine };
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
        ];
        let failures: Vec<String> = cases
            .into_iter()
            .filter_map(|(line, want)| {
                let got = tickets_needed(&fixture.registry, line, None);
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
