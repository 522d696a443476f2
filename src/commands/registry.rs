//! Commands are data: one TOML file per command in `commands/`, loaded into a registry that
//! parses chat lines into invocations and generates help.

use super::handlers::{CommandHandler, HandlerFn};
use super::understand::{self, Cue, Hits, Lexicon, Words};
use crate::core::directory::Role;
use crate::core::lang::Lang;
use crate::core::text::{Folded, normalize};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What kind of value an argument holds; parsed by [`super::args`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArgKind {
    Text,
    Topics,
    Date,
    Period,
    Language,
    Place,
    Member,
    SpeakerQuery,
    Command,
    Ticket,
    /// A news draft's number.
    Draft,
    /// A day and maybe a time ("demain 9h"), to publish at.
    Moment,
}

/// What a command reads from the store, loaded by the engine before the pure handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    /// The ticket named by the `ticket` argument, with its history.
    Ticket,
    /// The open tickets assigned to the asker.
    MyTickets,
    /// Every open ticket.
    OpenTickets,
    /// The team's workload and the routing rules, to route a ticket again.
    Routing,
    /// When recent tickets came in and were accepted, for the statistics.
    TicketTimings,
    /// The news draft named by the `draft` argument, with its posts.
    Draft,
    /// The recent news drafts, those awaiting a decision first.
    Drafts,
    /// A fresh news draft number (the line proposes a draft).
    NewDraft,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgSpec {
    pub name: String,
    pub kind: ArgKind,
    #[serde(default)]
    pub required: bool,
    /// What the argument is, in each language, for "missing argument" answers.
    pub fr: String,
    pub en: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerLang<T> {
    pub fr: T,
    pub en: T,
}

impl<T> PerLang<T> {
    pub fn get(&self, lang: Lang) -> &T {
        match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    pub name: String,
    pub role: Role,
    /// One line for the command list.
    pub summary: PerLang<String>,
    /// The longer text of `help <command>`.
    pub help: PerLang<String>,
    /// Regexes matched against the line folded to lowercase ASCII (accents removed), anchored.
    pub patterns: PerLang<Vec<String>>,
    #[serde(default)]
    pub args: Vec<ArgSpec>,
    pub examples: PerLang<Vec<String>>,
    /// What the handler reads from the store; the engine loads it first.
    #[serde(default)]
    pub needs: Vec<Need>,
    /// Patterns matched in a ticket's own thread (a Matrix room's), where the ticket goes
    /// without saying: "réponse : …" there is "réponds à la demande 12 : …".
    #[serde(default)]
    pub thread_patterns: Option<PerLang<Vec<String>>>,
    /// In a ticket's thread, a line no command recognises runs this one, as its `text`.
    #[serde(default)]
    pub thread_fallback: bool,
    /// Cue words for free phrasing (see [`super::understand`]): a line no pattern takes means
    /// the command whose cue it holds most strongly; `*` ends a prefix, `...` skips a few words.
    #[serde(default)]
    pub cues: Option<PerLang<Vec<String>>>,
    /// Phrases, written as cues, that say a line is not this command whatever cue it holds:
    /// "quelqu'un a le code du wifi ?" asks for a thing, "le webinaire d'hier était top" talks
    /// of a past event. Patterns still apply.
    #[serde(default)]
    pub unless: Option<PerLang<Vec<String>>>,
    /// The command only shows something (a list, figures): one of its words in a longer
    /// statement mentions the thing without asking for it ("les stats du portail ont doublé").
    #[serde(default)]
    pub shows: bool,
}

#[derive(Debug)]
pub struct Command {
    pub spec: CommandSpec,
    pub file: PathBuf,
    patterns: Vec<(Lang, Regex)>,
    thread_patterns: Vec<(Lang, Regex)>,
    cues: Vec<Cue>,
    unless: Vec<Cue>,
    /// The examples, French then English, normalised once: "how do I …" lines are read
    /// against them.
    normalized_examples: Vec<String>,
    /// The handler of the same name, bound at load.
    pub(super) run: HandlerFn,
}

/// A command a line may mean: its score, index, the cue's words, the cue's language and the
/// arguments read from the line.
type Candidate = (usize, usize, Vec<usize>, Lang, BTreeMap<String, String>);

/// What a line means.
#[derive(Debug, Clone, PartialEq)]
pub enum Interpretation {
    Command(Invocation),
    /// Commands the line could equally mean, to ask which.
    Ambiguous(Vec<usize>),
    Unknown,
}

impl Interpretation {
    pub fn invocation(self) -> Option<Invocation> {
        match self {
            Interpretation::Command(invocation) => Some(invocation),
            _ => None,
        }
    }
}

/// A line recognised as a command, with its raw argument texts.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub command: usize,
    /// The language of the pattern that matched.
    pub lang: Lang,
    pub args: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl Command {
    /// The examples of both languages, French first, as [`normalize`] folds them.
    pub fn normalized_examples(&self) -> &[String] {
        &self.normalized_examples
    }
}

#[derive(Debug)]
pub struct Registry {
    commands: Vec<Command>,
    /// The words of every command's cues.
    lexicon: Lexicon,
    /// For each cue word, the cues keyed by it ([`Cue::key`]) as (command, cue): a line is
    /// searched only for the cues whose key it holds, a few of more than a thousand.
    by_key: Vec<Vec<(usize, usize)>>,
    /// [`ABOUT_THE_BOT`], read once per line: such a line asks for no command but help.
    about_the_bot: Vec<Cue>,
}

impl Registry {
    /// Loads every `*.toml` in `dir`. `handlers` lists the commands the code implements: a file
    /// naming anything else is an error, and so is a handler without a file.
    pub fn load(dir: &Path, handlers: &[CommandHandler]) -> Result<Self, Vec<RegistryError>> {
        let mut errors = Vec::new();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect(),
            Err(source) => {
                return Err(vec![RegistryError::Read {
                    path: dir.to_path_buf(),
                    source,
                }]);
            }
        };
        files.sort();
        let mut commands = Vec::new();
        let mut lexicon = Lexicon::default();
        let about_the_bot: Vec<Cue> = Lang::ALL
            .into_iter()
            .flat_map(|lang| ABOUT_THE_BOT.get(lang).iter().map(move |p| (lang, p)))
            .map(|(lang, phrase)| {
                Cue::parse(phrase, lang, &mut lexicon).expect("the phrases about the bot parse")
            })
            .collect();
        for path in files {
            match std::fs::read_to_string(&path) {
                Ok(source) => match Self::compile(&path, &source, handlers, &mut lexicon) {
                    Ok(command) => commands.push(command),
                    Err(message) => errors.push(RegistryError::Invalid { path, message }),
                },
                Err(source) => errors.push(RegistryError::Read { path, source }),
            }
        }
        for handler in handlers {
            let file = dir.join(format!("{}.toml", handler.name));
            let already_reported = errors.iter().any(|e| matches!(e, RegistryError::Invalid { path, .. } | RegistryError::Read { path, .. } if *path == file));
            if !already_reported
                && !commands
                    .iter()
                    .any(|c: &Command| c.spec.name == handler.name)
            {
                errors.push(RegistryError::Invalid {
                    path: file,
                    message: format!(
                        "no command file for the built-in command '{}'",
                        handler.name
                    ),
                });
            }
        }
        for (i, command) in commands.iter().enumerate() {
            if commands[..i]
                .iter()
                .any(|c| c.spec.name == command.spec.name)
            {
                errors.push(RegistryError::Invalid {
                    path: command.file.clone(),
                    message: format!("command '{}' is defined twice", command.spec.name),
                });
            }
        }
        if errors.is_empty() {
            let mut by_key = vec![Vec::new(); lexicon.len()];
            for (i, command) in commands.iter().enumerate() {
                for (j, cue) in command.cues.iter().enumerate() {
                    by_key[cue.key(&lexicon)].push((i, j));
                }
            }
            Ok(Registry {
                commands,
                lexicon,
                by_key,
                about_the_bot,
            })
        } else {
            Err(errors)
        }
    }

    fn compile(
        path: &Path,
        source: &str,
        handlers: &[CommandHandler],
        lexicon: &mut Lexicon,
    ) -> Result<Command, String> {
        let spec: CommandSpec = toml::from_str(source).map_err(|e| e.to_string())?;
        let Some(handler) = handlers.iter().find(|h| h.name == spec.name) else {
            let known: Vec<&str> = handlers.iter().map(|h| h.name).collect();
            return Err(format!(
                "'{}' is not a command the bot implements (known: {})",
                spec.name,
                known.join(", ")
            ));
        };
        // The engine reads the ticket number from the `ticket` argument's text.
        if spec.needs.contains(&Need::Ticket)
            && !spec
                .args
                .iter()
                .any(|a| a.name == "ticket" && a.kind == ArgKind::Ticket)
        {
            return Err(
                "needs = [\"ticket\"] requires an argument named 'ticket' of kind 'ticket'".into(),
            );
        }
        // Without it the ticket would never be loaded and every use would answer "unknown".
        if spec.args.iter().any(|a| a.kind == ArgKind::Ticket)
            && !spec.needs.contains(&Need::Ticket)
        {
            return Err("a ticket argument needs needs = [\"ticket\"]".into());
        }
        // The same for drafts: the engine reads the number from the `draft` argument.
        if spec.needs.contains(&Need::Draft)
            != spec
                .args
                .iter()
                .any(|a| a.name == "draft" && a.kind == ArgKind::Draft)
        {
            return Err(
                "needs = [\"draft\"] goes with an argument named 'draft' of kind 'draft'".into(),
            );
        }
        let mut patterns = Vec::new();
        for lang in Lang::ALL {
            if spec.patterns.get(lang).is_empty() {
                return Err(format!("patterns.{lang} is empty"));
            }
            if spec.examples.get(lang).is_empty() {
                return Err(format!("examples.{lang} is empty"));
            }
            for (n, pattern) in spec.patterns.get(lang).iter().enumerate() {
                let regex = Regex::new(&format!("(?i)^(?:{pattern})$"))
                    .map_err(|e| format!("patterns.{lang}[{n}]: {e}"))?;
                for group in regex.capture_names().flatten() {
                    if !spec.args.iter().any(|a| a.name == group) {
                        return Err(format!(
                            "patterns.{lang}[{n}]: group '{group}' is not a declared argument"
                        ));
                    }
                }
                patterns.push((lang, regex));
            }
        }
        let in_thread = spec.thread_patterns.is_some() || spec.thread_fallback;
        if in_thread && !spec.needs.contains(&Need::Ticket) {
            return Err("thread_patterns and thread_fallback need needs = [\"ticket\"]".into());
        }
        if spec.thread_fallback && !spec.args.iter().any(|a| a.name == "text") {
            return Err("thread_fallback needs an argument named 'text'".into());
        }
        let mut thread_patterns = Vec::new();
        for lang in Lang::ALL {
            let listed = spec
                .thread_patterns
                .as_ref()
                .map(|p| p.get(lang).as_slice());
            for (n, pattern) in listed.unwrap_or_default().iter().enumerate() {
                let regex = Regex::new(&format!("(?i)^(?:{pattern})$"))
                    .map_err(|e| format!("thread_patterns.{lang}[{n}]: {e}"))?;
                if let Some(group) = regex
                    .capture_names()
                    .flatten()
                    .find(|g| !spec.args.iter().any(|a| a.name == *g))
                {
                    return Err(format!(
                        "thread_patterns.{lang}[{n}]: group '{group}' is not a declared argument"
                    ));
                }
                thread_patterns.push((lang, regex));
            }
        }
        let mut cues = Vec::new();
        for lang in Lang::ALL {
            let listed = spec.cues.as_ref().map(|c| c.get(lang).as_slice());
            for (n, cue) in listed.unwrap_or_default().iter().enumerate() {
                cues.push(
                    Cue::parse(cue, lang, lexicon).map_err(|e| format!("cues.{lang}[{n}]: {e}"))?,
                );
            }
        }
        let mut unless = Vec::new();
        for lang in Lang::ALL {
            let listed = spec.unless.as_ref().map(|c| c.get(lang).as_slice());
            for (n, phrase) in listed.unwrap_or_default().iter().enumerate() {
                unless.push(
                    Cue::parse(phrase, lang, lexicon)
                        .map_err(|e| format!("unless.{lang}[{n}]: {e}"))?,
                );
            }
        }
        let normalized_examples = spec
            .examples
            .fr
            .iter()
            .chain(&spec.examples.en)
            .map(|e| normalize(e))
            .collect();
        Ok(Command {
            spec,
            file: path.to_path_buf(),
            patterns,
            thread_patterns,
            cues,
            unless,
            normalized_examples,
            run: handler.run,
        })
    }

    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    pub fn get(&self, i: usize) -> &Command {
        &self.commands[i]
    }

    pub fn by_name(&self, name: &str) -> Option<usize> {
        self.commands.iter().position(|c| c.spec.name == name)
    }

    /// The command a line invokes, if any: a pattern of a command file, else free phrasing.
    pub fn parse(&self, line: &str) -> Option<Invocation> {
        self.interpret(line, &|_, _| true).invocation()
    }

    /// What a line means: a command's pattern, else the command whose cue words it holds most
    /// strongly, with its arguments read from the rest of the line; two commands cued equally
    /// are a question to ask back. `valid` tells whether a text is a good value of an argument
    /// (a known topic, one member's name…): a command whose arguments the line holds is likelier.
    /// Several commands weigh the same texts, so it may be asked the same text more than once:
    /// [`super::args::Weighing::valid`] keeps its answers (and its values, for the answer).
    pub fn interpret(&self, line: &str, valid: &dyn Fn(&ArgSpec, &str) -> bool) -> Interpretation {
        // "la demande quarante-deux", "le douze mars": read as if typed in digits.
        let line = &*crate::core::numbers::in_digits(line);
        // "pour Grenoble, euh non, Échirolles": read as the writer meant it.
        let line = &*understand::without_corrections(line);
        // "> Nouvelle demande #92 : …\nje prends !": a reply under a quote asks what the reply
        // says; the quote tells which ticket or draft a reply without a number is about.
        if let Some((quote, reply)) = understand::quote_and_reply(line) {
            let read = self.interpret(reply, valid);
            let Interpretation::Command(invocation) = &read else {
                return read;
            };
            let spec = &self.commands[invocation.command].spec;
            let lacks_number = spec.args.iter().any(|a| {
                matches!(a.kind, ArgKind::Ticket | ArgKind::Draft)
                    && !invocation.args.contains_key(&a.name)
            });
            return match understand::numbered_in(&quote) {
                Some(named) if lacks_number => self.interpret(&format!("{named}, {reply}"), valid),
                _ => read,
            };
        }
        if let Some(mut invocation) = self.parse_in(line, None) {
            self.keep_final_punctuation(line, &mut invocation);
            return Interpretation::Command(invocation);
        }
        let trimmed = clean_line(line);
        // "@camille.roux t'as vu que le 412 a été annulé ?": a line that opens on someone
        // else's handle is said to them, not to the bot ("@passerelle …").
        if trimmed.strip_prefix('@').is_some_and(|rest| {
            rest.starts_with(char::is_alphanumeric)
                && !rest
                    .get(..BOT_NAME.len())
                    .is_some_and(|name| name.eq_ignore_ascii_case(BOT_NAME))
        }) {
            return Interpretation::Unknown;
        }
        let words = Words::new(trimmed);
        // "J'ai accepté le ticket 40 hier soir", "the webinar yesterday had 140 attendees":
        // what already happened, told to the room, asks nothing.
        if reports_the_past(&words) && !asks_the_bot(trimmed, &words) {
            return Interpretation::Unknown;
        }
        let hits = self.lexicon.read(&words);
        // What the bot said or does, told to the room, asks nothing of it; asking how it
        // works is asking for help.
        let about_the_bot = self
            .about_the_bot
            .iter()
            .any(|phrase| phrase.find(&hits).is_some());
        let unquoted = without_quotes(trimmed);
        let unquoted_hits = unquoted
            .as_deref()
            .map(|line| self.lexicon.read(&Words::new(line)));
        // "réponds à la 12 : nous cherchons un intervenant": what follows a colon is the
        // argument's text, not what the line asks, when what precedes says something.
        let head_hits = trimmed
            .split_once(':')
            .map(|(head, _)| self.lexicon.read(&Words::new(head)))
            .filter(|head| {
                self.keyed_cues(head)
                    .iter()
                    .any(|&(i, j)| self.commands[i].cues[j].find(head).is_some())
            });
        // (score, command, cue words, cue language, arguments read)
        // Where the head ends, when the line is weighed on its head alone.
        let colon = trimmed.find(':');
        let weigh = |cue_hits: &Hits, in_head: bool| {
            // Each cued command with its strongest cue: (command, weight, words, language,
            // weak, the most it may score).
            let mut cued = Vec::new();
            for keyed in self.keyed_cues(cue_hits).chunk_by(|a, b| a.0 == b.0) {
                let (i, command) = (keyed[0].0, &self.commands[keyed[0].0]);
                // (weight, words, language, weak) of the strongest cue found.
                let found: Vec<(usize, Vec<usize>, Lang, bool)> = keyed
                    .iter()
                    .map(|&(_, j)| &command.cues[j])
                    .filter_map(|cue| {
                        cue.find(cue_hits)
                            .map(|at| (cue.weight, at, cue.lang, cue.weak))
                    })
                    .collect();
                let Some((weight, cue_words, lang, _)) = found
                    .iter()
                    .max_by_key(|(weight, at, _, weak)| (!*weak, *weight, std::cmp::Reverse(at[0])))
                    .cloned()
                else {
                    continue;
                };
                let only_weak = found.iter().all(|f| f.3);
                let most = 2 * weight
                    + 2 * command
                        .spec
                        .args
                        .iter()
                        .filter(|a| a.kind != ArgKind::Text)
                        .count();
                cued.push((i, weight, cue_words, lang, only_weak, most));
            }
            // Reading a command's arguments is what costs: the likeliest are weighed first,
            // and a command that could not score as high as one already weighed is not (it
            // could be neither chosen nor tied with the choice).
            let mut order: Vec<usize> = (0..cued.len()).collect();
            order.sort_by_key(|&k| std::cmp::Reverse(cued[k].5));
            let mut scored: Vec<Option<Candidate>> = vec![None; cued.len()];
            let mut top = 0;
            for k in order {
                let (i, weight, _, lang, only_weak, most) = cued[k];
                if most < top {
                    break;
                }
                let command = &self.commands[i];
                let cue_words = std::mem::take(&mut cued[k].2);
                if (about_the_bot && command.spec.name != "help")
                    || command
                        .unless
                        .iter()
                        .any(|phrase| phrase.find(&hits).is_some())
                {
                    continue;
                }
                // "tapez « je prends la 14 » pour la prendre": a command cued only inside
                // quotes, in a longer line, is mentioned, not asked.
                if let Some(outside) = &unquoted_hits
                    && !command.cues.iter().any(|cue| cue.find(outside).is_some())
                {
                    continue;
                }
                // A command whose arguments the line also gives is the likelier one; a ticket
                // command without a ticket number the less likely.
                let mut args =
                    understand::fill_args(&command.spec.args, &words, &cue_words, &valid);
                // "réponds à la 33 : nous vous proposons Yanis Benali": weighed on its head, a
                // line names its member there, not in the text after the colon.
                if in_head && let Some(colon) = colon {
                    for spec in &command.spec.args {
                        if spec.kind == ArgKind::Member
                            && args.get(&spec.name).is_some_and(|v| {
                                trimmed.find(v.as_str()).is_none_or(|at| at > colon)
                            })
                        {
                            args.remove(&spec.name);
                        }
                    }
                }
                // A ticket command names its ticket, a command about someone names them, a change
                // of language names the language: without them the words meant something else
                // ("je prends le train", "comment on fait", "talk about data in Reims").
                // A line that is a cue of several words alone ("ok je prends", "I'll take it")
                // is that command without its number: the answer asks for it.
                let cue_alone = cue_words.len() >= 2
                    && (0..words.len())
                        .filter(|i| !cue_words.contains(i))
                        .all(|i| CUE_ASIDES.contains(&words.word(i)));
                let missing =
                    |a: &&ArgSpec| a.required && !args.get(&a.name).is_some_and(|v| valid(a, v));
                let numbered = |a: &ArgSpec| matches!(a.kind, ArgKind::Ticket | ArgKind::Draft);
                let without_number = command.spec.args.iter().filter(missing).any(numbered);
                if (without_number && !cue_alone)
                    || command
                        .spec
                        .args
                        .iter()
                        .filter(missing)
                        .any(|a| matches!(a.kind, ArgKind::Member | ArgKind::Language))
                {
                    continue;
                }
                let given = command
                    .spec
                    .args
                    .iter()
                    .filter(|a| {
                        a.kind != ArgKind::Text && args.get(&a.name).is_some_and(|v| valid(a, v))
                    })
                    .count();
                if only_weak && given == 0 {
                    continue;
                }
                // A command that shows something, named by one word in passing in a longer
                // statement, is not asked for ("les stats du portail ont doublé ce mois-ci",
                // "the topics for the March seminar are due Friday"): beyond a few words it
                // must be a question or a request to the bot.
                if command.spec.shows
                    && weight == 1
                    && words.len() > cue_words.len() + WORDS_IN_PASSING
                    && !asks_the_bot(line, &words)
                {
                    continue;
                }
                // Asking for the number is the less likely reading next to a command the
                // line gives whole ("open tickets pls").
                let score = 2 * weight + 2 * given - usize::from(without_number);
                top = top.max(score);
                scored[k] = Some((score, i, cue_words, lang, args));
            }
            // In the order the commands were cued: ties are broken as before.
            scored.into_iter().flatten().collect::<Vec<Candidate>>()
        };
        // "on a une demande de la CCI : intervention sur … qui est dispo ?": when what precedes
        // the colon cues nothing that reads well, the whole line is weighed.
        let mut best = match &head_hits {
            Some(head) => weigh(head, true),
            None => Vec::new(),
        };
        if best.is_empty() {
            best = weigh(&hits, false);
        }
        best.sort_by_key(|b| std::cmp::Reverse(b.0));
        match best.as_slice() {
            [] => Interpretation::Unknown,
            [(top, ..), (second, other, ..), ..]
                if top == second
                    && self.commands[best[0].1].spec.role == self.commands[*other].spec.role =>
            {
                Interpretation::Ambiguous(
                    best.iter()
                        .take_while(|b| b.0 == *top)
                        .map(|b| b.1)
                        .take(3)
                        .collect(),
                )
            }
            [(_, command, cue_words, cue_lang, args), ..] => {
                // A cue shared by both languages ("stats", "ok") tells nothing of the language.
                let shared = self.commands[*command]
                    .cues
                    .iter()
                    .any(|c| c.lang != *cue_lang && c.find(&hits).as_ref() == Some(cue_words));
                // Most of the network writes French first: a tie is French. A sentence says its
                // language better than one cue word borrowed from the other ("qui peut faire
                // une keynote", "quelqu'un pour présenter").
                let detected = crate::core::lang::detect(trimmed);
                let lang = if shared {
                    detected.unwrap_or(Lang::Fr)
                } else if words.len() >= SENTENCE_WORDS {
                    detected.unwrap_or(*cue_lang)
                } else {
                    *cue_lang
                };
                let mut invocation = Invocation {
                    command: *command,
                    lang,
                    args: args.clone(),
                };
                self.keep_final_punctuation(line, &mut invocation);
                Interpretation::Command(invocation)
            }
        }
    }

    /// Like [`Registry::parse`], trying only the patterns of `only` when given (a word such as
    /// "stats" is a command in both languages).
    pub fn parse_in(&self, line: &str, only: Option<Lang>) -> Option<Invocation> {
        let trimmed = clean_line(line);
        let folded = Folded::new(trimmed);
        for (i, command) in self.commands.iter().enumerate() {
            for (lang, regex) in &command.patterns {
                if only.is_some_and(|o| o != *lang) {
                    continue;
                }
                if let Some(args) = captured(regex, &folded, trimmed) {
                    // A line both languages' patterns take ("propose news: …", "stats") is
                    // in the language its words say, French when they say nothing.
                    let both = only.is_none()
                        && command.patterns.iter().any(|(other, regex)| {
                            other != lang && captured(regex, &folded, trimmed).is_some()
                        });
                    let lang = if both {
                        crate::core::lang::detect(trimmed).unwrap_or(Lang::Fr)
                    } else {
                        *lang
                    };
                    return Some(Invocation {
                        command: i,
                        lang,
                        args,
                    });
                }
            }
        }
        None
    }

    /// A note or a reply is kept as typed after its colon, final punctuation included (the line
    /// was read without it: "qui peut parler de RGPD ?").
    fn keep_final_punctuation(&self, line: &str, invocation: &mut Invocation) {
        for spec in &self.commands[invocation.command].spec.args {
            if spec.kind == ArgKind::Text
                && invocation.args.contains_key(&spec.name)
                && let Some(text) = understand::after_colon(line)
            {
                invocation.args.insert(spec.name.clone(), text);
            }
        }
    }

    /// The command whose cue words a text holds most strongly, whatever its arguments: what
    /// "how do I close a ticket" asks help about. Generic cues ("quelqu'un", which needs its
    /// arguments to read well) do not count; of equally weighty cues, words in a row ("internal
    /// note") say more than words with a gap ("put … on"). None on a tie.
    pub fn cued_command(&self, text: &str) -> Option<usize> {
        let hits = self.lexicon.read(&Words::new(clean_line(text)));
        let mut best: Vec<((usize, bool), usize)> = self
            .keyed_cues(&hits)
            .chunk_by(|a, b| a.0 == b.0)
            .filter_map(|keyed| {
                keyed
                    .iter()
                    .map(|&(i, j)| &self.commands[i].cues[j])
                    .filter(|cue| !cue.weak && cue.find(&hits).is_some())
                    .map(|cue| (cue.weight, !cue.has_gap()))
                    .max()
                    .map(|w| (w, keyed[0].0))
            })
            .collect();
        best.sort_by_key(|b| std::cmp::Reverse(b.0));
        match best.as_slice() {
            [(a, i), (b, _), ..] if a > b => Some(*i),
            [(_, i)] => Some(*i),
            _ => None,
        }
    }

    /// The cues a line read by the lexicon may hold, as (command, cue) in the registry's
    /// order: those keyed by a word it holds.
    fn keyed_cues(&self, hits: &Hits) -> Vec<(usize, usize)> {
        let mut keyed: Vec<(usize, usize)> = hits
            .held()
            .flat_map(|term| self.by_key[term].iter().copied())
            .collect();
        keyed.sort_unstable();
        keyed
    }

    /// The command a line invokes in the thread of ticket `ticket`: any command as written,
    /// else a thread pattern with the ticket implied, else the thread's fallback (a note).
    pub fn parse_in_thread(&self, line: &str, ticket: i64) -> Option<Invocation> {
        // Free phrasing is not guessed here: in a thread, a line no pattern takes is a note
        // ("pas dispo le 12 mais le 13 oui" is not the writer going away).
        let line = &*crate::core::numbers::in_digits(line);
        if let Some(invocation) = self.parse_in(line, None) {
            return Some(invocation);
        }
        let trimmed = clean_line(line);
        let folded = Folded::new(trimmed);
        let with_ticket = |command: usize, lang: Lang, mut args: BTreeMap<String, String>| {
            args.insert("ticket".into(), ticket.to_string());
            Invocation {
                command,
                lang,
                args,
            }
        };
        for (i, command) in self.commands.iter().enumerate() {
            for (lang, regex) in &command.thread_patterns {
                if let Some(args) = captured(regex, &folded, trimmed) {
                    return Some(with_ticket(i, *lang, args));
                }
            }
        }
        let fallback = self.commands.iter().position(|c| c.spec.thread_fallback)?;
        let text = line.trim();
        if text.is_empty() {
            return None;
        }
        let lang = crate::core::lang::detect(text).unwrap_or(Lang::Fr);
        Some(with_ticket(
            fallback,
            lang,
            BTreeMap::from([("text".to_string(), text.to_string())]),
        ))
    }

    /// Commands whose examples look most like an unrecognised line: "did you mean …".
    pub fn suggest(&self, line: &str, role: Role, limit: usize) -> Vec<usize> {
        let typed = normalize(clean_line(line));
        let typed_words: Vec<&str> = typed.split(' ').filter(|w| w.len() > 2).collect();
        let mut scored: Vec<(f64, usize)> = Vec::new();
        for (i, command) in self.commands.iter().enumerate() {
            if command.spec.role > role {
                continue;
            }
            let mut best = 0.0f64;
            for lang in Lang::ALL {
                for example in command.spec.examples.get(lang) {
                    let example = normalize(example);
                    let head_len = typed.len().min(example.len());
                    let whole = crate::core::text::jaro_winkler(&typed, &example);
                    let head = strsim::normalized_damerau_levenshtein(&typed, &example[..head_len]);
                    let shared = typed_words
                        .iter()
                        .filter(|w| {
                            example
                                .split(' ')
                                .any(|e| crate::core::text::close_enough(w, e) || e == **w)
                        })
                        .count();
                    let overlap = if typed_words.is_empty() {
                        0.0
                    } else {
                        shared as f64 / typed_words.len() as f64
                    };
                    best = best.max(whole.max(head).max(overlap));
                }
            }
            if best >= 0.7 {
                scored.push((best, i));
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().take(limit).map(|(_, i)| i).collect()
    }
}

/// The named groups of `regex` matched on the folded line, as the original text typed; `None`
/// when the line does not match.
fn captured(regex: &Regex, folded: &Folded, original: &str) -> Option<BTreeMap<String, String>> {
    // Most patterns miss: a match test allocates no capture slots, which cost more than the
    // search itself over the registry's patterns.
    if !regex.is_match(&folded.text) {
        return None;
    }
    let captures = regex.captures(&folded.text)?;
    let mut args = BTreeMap::new();
    for name in regex.capture_names().flatten() {
        if let Some(m) = captures.name(name) {
            let (from, to) = folded.original_range(m.start(), m.end());
            let value = original[from..to].trim();
            if !value.is_empty() {
                args.insert(name.to_string(), value.to_string());
            }
        }
    }
    Some(args)
}

/// From this many words a line's own language outweighs its cue's.
const SENTENCE_WORDS: usize = 6;

/// Words besides its cue that a line naming a command that shows something may hold and still
/// be a bare request ("stats du réseau pour le bilan annuel").
const WORDS_IN_PASSING: usize = 5;

/// Whether a line tells what already happened: a time gone by ("hier", "last week") with a
/// verb in the past ("a été", "s'est", "j'ai …", "was", "we declined"), and nobody sought nor
/// any state declared now ("je suis de retour", "qui peut y aller").
fn reports_the_past(words: &Words<'_>) -> bool {
    let all: Vec<&str> = words.iter_words().collect();
    let pairs = || all.windows(2).map(|w| (w[0], w[1]));
    let gone_by = all
        .iter()
        .any(|w| matches!(*w, "hier" | "yesterday" | "avant-hier"))
        || pairs().any(|pair| {
            matches!(
                pair,
                ("semaine", "derniere")
                    | ("semaine", "passee")
                    | ("mois", "dernier")
                    | ("an", "dernier")
                    | (
                        "last",
                        "week" | "month" | "night" | "year" | "friday" | "monday"
                    )
            )
        });
    let past_verb = all.iter().any(|w| {
        matches!(
            *w,
            "etait" | "etais" | "etaient" | "was" | "were" | "had" | "went" | "did"
        )
    }) || pairs().any(|(a, b)| {
        matches!(
            (a, b),
            ("a" | "ont", "ete") | ("s", "est") | ("j", "ai") | ("nous", "avons")
        ) || (matches!(a, "i" | "we" | "they") && b.len() > 4 && b.ends_with("ed"))
    });
    let now_or_asking = all.iter().any(|w| {
        matches!(
            *w,
            "qui"
                | "who"
                | "quelqu"
                | "qqn"
                | "someone"
                | "anyone"
                | "somebody"
                | "besoin"
                | "need"
        )
    }) || pairs().any(|pair| {
        matches!(
            pair,
            ("je", "suis" | "serai") | ("i", "am" | "will") | ("i", "m") | ("je", "reprends")
        )
    });
    // "ticket 66 terminé, j'y suis allé hier": a line that opens on a ticket is about it now.
    let number = |w: &&str| w.chars().all(|c| c.is_ascii_digit());
    let opens_on_a_ticket = match all.as_slice() {
        [first, ..] if number(first) => true,
        ["ticket" | "demande" | "request" | "la" | "le", second, ..] => number(second),
        _ => false,
    };
    gone_by && past_verb && !now_or_asking && !opens_on_a_ticket
}

/// Whether a line is put to the bot: a question, a name of the bot, a polite, imperative or
/// wanting word of request.
fn asks_the_bot(line: &str, words: &Words<'_>) -> bool {
    line.contains('?')
        || words.iter_words().any(|w| {
            matches!(
                w,
                "passerelle"
                    | "bot"
                    | "stp"
                    | "svp"
                    | "please"
                    | "pls"
                    | "plz"
                    | "montre"
                    | "montrez"
                    | "affiche"
                    | "affichez"
                    | "liste"
                    | "listez"
                    | "donne"
                    | "donnez"
                    | "envoie"
                    | "show"
                    | "list"
                    | "give"
                    | "display"
                    | "peux"
                    | "pouvez"
                    | "pourrais"
                    | "pourriez"
                    | "can"
                    | "could"
                    | "voir"
                    | "see"
                    | "quels"
                    | "quelles"
                    | "combien"
                    | "voudrais"
                    | "voudrait"
                    | "souhaite"
                    | "souhaiterais"
                    | "aimerais"
                    | "solliciter"
                    | "besoin"
                    | "like"
                    | "want"
                    | "need"
            )
        })
}

/// The line with what it quotes (« … », “ … ”, " … ") blanked out, when it quotes something
/// and says something besides; `None` otherwise.
fn without_quotes(line: &str) -> Option<String> {
    if !line.contains(['«', '“', '"']) {
        return None;
    }
    let mut out = String::with_capacity(line.len());
    let mut open = false;
    let mut quoted_any = false;
    for c in line.chars() {
        match (c, open) {
            ('«' | '“' | '"', false) => open = true,
            ('»' | '”' | '"', true) => {
                open = false;
                quoted_any = true;
                out.push(' ');
                continue;
            }
            _ => {}
        }
        out.push(if open { ' ' } else { c });
    }
    (quoted_any && out.chars().any(char::is_alphanumeric)).then_some(out)
}

/// Lines that report what the bot said or does ("le bot m'a répondu en anglais", "the bot
/// told me nobody covers telecom", "si vous tapez « je prends la 14 » le bot vous met sur le
/// ticket"): no command is asked, whatever command words they hold.
const ABOUT_THE_BOT: PerLang<&[&str]> = PerLang {
    fr: &[
        "le bot m a",
        "le bot nous a",
        "le bot a repondu",
        "le bot a dit",
        "le bot dit",
        "le bot vous",
        "le bot te",
        "passerelle m a repondu",
        "passerelle a repondu",
        "si vous tapez",
        "si tu tapes",
        "demande au bot",
        "le bot a encore",
        "le bot a trouve",
    ],
    en: &[
        "the bot told",
        "the bot said",
        "the bot says",
        "the bot gave",
        "the bot answered",
        "the bot replied",
        "the bot puts",
        "if you type",
        "asked the bot",
    ],
};

/// Words around a cue that say nothing more ("ok je prends", "bon, je passe", "I'll take it").
const CUE_ASIDES: &[&str] = &[
    "ok", "okay", "oki", "dac", "bon", "alors", "allez", "go", "vas", "y", "moi", "stp", "svp",
    "pls", "please", "then", "so", "fine", "i", "ll", "it", "this", "one", "la", "le", "l", "ca",
    "celle", "celui", "ci", "je", "j",
];

/// The bot's name as people address it in chat ("@passerelle stats ?").
const BOT_NAME: &str = "passerelle";

/// A chat line without the trailing punctuation people add ("qui peut parler de RGPD ?").
fn clean_line(line: &str) -> &str {
    line.trim()
        .trim_end_matches(['?', '!', '.', ' ', '\u{a0}', '\u{202f}'])
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::HANDLERS;

    fn shipped() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("commands")
    }

    /// The entries of the real table for `names`, so a small directory can be complete.
    fn table(names: &[&str]) -> Vec<CommandHandler> {
        names
            .iter()
            .map(|name| *HANDLERS.iter().find(|h| h.name == *name).unwrap())
            .collect()
    }

    /// A minimal command file: `pattern` in both languages, then `rest` (more top-level keys,
    /// then `[[args]]` tables).
    fn command_file(name: &str, pattern: &str, rest: &str) -> String {
        format!(
            "name = \"{name}\"\nrole = \"anyone\"\n\
             summary.fr = \"r\"\nsummary.en = \"s\"\nhelp.fr = \"a\"\nhelp.en = \"h\"\n\
             patterns.fr = ['{pattern}']\npatterns.en = ['{pattern}']\n\
             examples.fr = [\"{name}\"]\nexamples.en = [\"{name}\"]\n{rest}"
        )
    }

    const TICKET_ARG: &str =
        "[[args]]\nname = \"ticket\"\nkind = \"ticket\"\nrequired = true\nfr = \"n\"\nen = \"n\"\n";

    /// A commands directory: file names and contents.
    type Files = Vec<(&'static str, String)>;

    /// Loads `files` from a fresh directory with the handlers `names`.
    fn load(names: &[&str], files: &[(&str, String)]) -> Result<Registry, String> {
        let dir = tempfile::tempdir().unwrap();
        for (file, contents) in files {
            std::fs::write(dir.path().join(file), contents).unwrap();
        }
        Registry::load(dir.path(), &table(names)).map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    #[test]
    fn a_help_question_names_the_command_its_strongest_cue_words_belong_to() {
        let registry = Registry::load(&shipped(), HANDLERS).unwrap_or_else(|e| panic!("{e:?}"));
        let cases = [
            ("close a ticket", None),
            // "quelqu'un" is generic: "attribu* … à" decides.
            ("attribue une demande à quelqu'un", Some("ticket-assign")),
            // Words in a row ("internal note") over words with a gap ("put … on").
            (
                "to put an internal note on a ticket",
                Some("ticket-comment"),
            ),
            ("pour se désister d'une demande", Some("ticket-pass")),
            ("finding a speaker", Some("find-speaker")),
        ];
        for (text, want) in cases {
            let got = registry
                .cued_command(text)
                .map(|i| registry.get(i).spec.name.as_str());
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn handles_bare_cues_and_the_language_of_shared_patterns() {
        let registry = Registry::load(&shipped(), HANDLERS).unwrap_or_else(|e| panic!("{e:?}"));
        let read = |line: &str| match registry.interpret(line, &|_, _| true) {
            Interpretation::Command(invocation) => Some((
                registry.get(invocation.command).spec.name.clone(),
                invocation.lang,
            )),
            _ => None,
        };
        assert_eq!(read("@camille.roux tu peux prendre la demande 12 ?"), None);
        assert_eq!(read("@yanis stats ?"), None);
        assert_eq!(
            read("@passerelle stats ?").map(|r| r.0),
            Some("stats".into())
        );
        // A cue alone is the command without its number (the answer asks for it); with other
        // words it is something else.
        assert_eq!(
            read("ok je prends").map(|r| r.0),
            Some("ticket-accept".into())
        );
        assert_eq!(read("je prends le train de 8 h"), None);
        // Both languages' patterns take "propose news: …": the words say which it is.
        assert_eq!(
            read("propose news: Nantes launches its open data week on 8 December"),
            Some(("news-propose".into(), Lang::En))
        );
        assert_eq!(
            read("propose news: la Ville de Nantes lance sa semaine de l'open data"),
            Some(("news-propose".into(), Lang::Fr))
        );
    }

    #[test]
    fn thanks_for_help_ask_for_nothing_but_asking_for_help_does() {
        let registry = Registry::load(&shipped(), HANDLERS).unwrap_or_else(|e| panic!("{e:?}"));
        let help = registry.by_name("help");
        let read = |line: &str| match registry.interpret(line, &|_, _| true) {
            Interpretation::Command(invocation) => Some(invocation.command),
            _ => None,
        };
        for line in [
            "np, happy to help",
            "thanks for the help!",
            "merci, ça m'a bien aidé",
        ] {
            assert_eq!(read(line), None, "{line}");
        }
        for line in [
            "can you help me?",
            "j'ai besoin d'aide",
            "aide-moi stp",
            "help",
        ] {
            assert_eq!(read(line), help, "{line}");
        }
    }

    #[test]
    fn commands_quoted_or_reported_from_the_bot_are_not_asked() {
        let registry = Registry::load(&shipped(), HANDLERS).unwrap_or_else(|e| panic!("{e:?}"));
        let read = |line: &str| match registry.interpret(line, &|_, _| true) {
            Interpretation::Command(invocation) => {
                Some(registry.get(invocation.command).spec.name.clone())
            }
            _ => None,
        };
        let cases = [
            (
                "si vous tapez « je prends la 14 » le bot vous met sur le ticket",
                None,
            ),
            ("hier j'ai tapé « stats » par curiosité", None),
            ("lol le bot m'a répondu en anglais", None),
            (
                "the bot told me nobody covers telecom, is that right?",
                None,
            ),
            // What is quoted is the text; the command is asked outside the quotes.
            (
                "« notre commune organise une conférence » trouve-moi un intervenant",
                Some("find-speaker"),
            ),
            ("« je prends la 14 »", Some("ticket-accept")),
            // Numbers in words are read as digits.
            ("montre moi le ticket quarante-deux", Some("ticket-show")),
            // What already happened is told, not asked; a line about a ticket now still asks.
            (
                "J'ai accepté le ticket 40 hier soir, c'était pour Rennes",
                None,
            ),
            (
                "We declined ticket 39 last month because it was a paid event",
                None,
            ),
            ("ticket 66 terminé, j'y suis allé hier", Some("ticket-done")),
            ("news approve 9", Some("news-approve")),
        ];
        for (line, expected) in cases {
            assert_eq!(read(line).as_deref(), expected, "{line}");
        }
    }

    #[test]
    fn slack_shorthand_for_time_away_keeps_the_whole_period() {
        let registry = Registry::load(&shipped(), HANDLERS).unwrap_or_else(|e| panic!("{e:?}"));
        let Interpretation::Command(invocation) =
            registry.interpret("afk till friday", &|_, _| true)
        else {
            panic!("afk is time away");
        };
        assert_eq!(registry.get(invocation.command).spec.name, "away");
        assert_eq!(
            invocation.args.get("period").map(String::as_str),
            Some("till friday")
        );
    }

    #[test]
    fn every_handler_has_its_file_and_every_file_its_handler() {
        let registry = Registry::load(&shipped(), HANDLERS).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(registry.commands().len(), HANDLERS.len());
        for handler in HANDLERS {
            let i = registry
                .by_name(handler.name)
                .unwrap_or_else(|| panic!("no command file for {}", handler.name));
            assert_eq!(
                registry.get(i).file.file_stem().unwrap(),
                handler.name,
                "a command's file is named after it"
            );
            assert!(
                std::ptr::fn_addr_eq(registry.get(i).run, handler.run),
                "{} is bound to another handler",
                handler.name
            );
        }
    }

    #[test]
    fn a_small_directory_loads_and_parses() {
        let registry = load(
            &["stats", "ticket-show"],
            &[
                ("stats.toml", command_file("stats", "stats", "")),
                (
                    "ticket-show.toml",
                    command_file(
                        "ticket-show",
                        r"ticket #?(?P<ticket>\d+)",
                        &format!("needs = [\"ticket\"]\n{TICKET_ARG}"),
                    ),
                ),
            ],
        )
        .unwrap();
        let invocation = registry.parse("Ticket #12 ?").unwrap();
        assert_eq!(registry.get(invocation.command).spec.name, "ticket-show");
        assert_eq!(invocation.args["ticket"], "12");
        assert_eq!(registry.get(invocation.command).spec.needs, [Need::Ticket]);
        assert_eq!(registry.parse("bonjour"), None);
    }

    #[test]
    fn broken_directories_are_refused_naming_the_file() {
        let stats = || ("stats.toml", command_file("stats", "stats", ""));
        let cases: Vec<(&str, Files, &[&str])> = vec![
            (
                "a handler without a file",
                vec![],
                &[
                    "stats.toml",
                    "no command file for the built-in command 'stats'",
                ],
            ),
            (
                "a file without a handler",
                vec![stats(), ("dance.toml", command_file("dance", "dance", ""))],
                &[
                    "dance.toml",
                    "'dance' is not a command the bot implements (known: stats)",
                ],
            ),
            (
                "a name defined twice",
                vec![
                    stats(),
                    ("stats2.toml", command_file("stats", "statistics", "")),
                ],
                &["stats2.toml", "command 'stats' is defined twice"],
            ),
            (
                "a pattern group that is not an argument",
                vec![(
                    "stats.toml",
                    command_file("stats", "stats (?P<nope>.+)", ""),
                )],
                &[
                    "stats.toml",
                    "patterns.fr[0]: group 'nope' is not a declared argument",
                ],
            ),
            (
                "a pattern that is not a regex",
                vec![("stats.toml", command_file("stats", "(unclosed", ""))],
                &["stats.toml", "patterns.fr[0]", "regex"],
            ),
            (
                "an unknown key",
                vec![(
                    "stats.toml",
                    command_file("stats", "stats", "colour = \"blue\"\n"),
                )],
                &["stats.toml", "unknown field `colour`"],
            ),
            (
                "an unknown need",
                vec![(
                    "stats.toml",
                    command_file("stats", "stats", "needs = [\"tickets\"]\n"),
                )],
                &[
                    "stats.toml",
                    "unknown variant `tickets`",
                    "`ticket`",
                    "`my-tickets`",
                ],
            ),
            (
                "a ticket needed without a ticket argument",
                vec![(
                    "stats.toml",
                    command_file("stats", "stats", "needs = [\"ticket\"]\n"),
                )],
                &[
                    "stats.toml",
                    "needs = [\"ticket\"] requires an argument named 'ticket'",
                ],
            ),
            (
                "a ticket needed from an argument of another kind",
                vec![(
                    "stats.toml",
                    command_file(
                        "stats",
                        r"stats (?P<ticket>\d+)",
                        &format!(
                            "needs = [\"ticket\"]\n{}",
                            TICKET_ARG.replace("kind = \"ticket\"", "kind = \"text\"")
                        ),
                    ),
                )],
                &["stats.toml", "of kind 'ticket'"],
            ),
            (
                "a ticket argument never loaded",
                vec![(
                    "stats.toml",
                    command_file("stats", r"stats (?P<ticket>\d+)", TICKET_ARG),
                )],
                &["stats.toml", "a ticket argument needs needs = [\"ticket\"]"],
            ),
        ];
        let mut failures = Vec::new();
        for (case, files, expected) in cases {
            match load(&["stats"], &files) {
                Ok(_) => failures.push(format!("{case}: loaded")),
                Err(message) => {
                    for part in expected {
                        if !message.contains(part) {
                            failures.push(format!("{case}: {message:?} lacks {part:?}"));
                        }
                    }
                }
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }
}
