//! Turning the raw text of an argument into a typed value, or into a precise complaint.

use super::registry::{ArgKind, ArgSpec, Registry};
use crate::core::dates::{self, DateError};
use crate::core::directory::{Directory, Period};
use crate::core::geo::{Geography, Mention, Place};
use crate::core::search::SpeakerQuery;
use crate::core::text::{Folded, normalize};
use crate::core::topics::{TopicIdx, Vocabulary};
use chrono::NaiveDate;
use regex::Regex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, PartialEq)]
pub enum ArgValue {
    Text(String),
    Topics(Vec<TopicIdx>),
    Date(NaiveDate),
    Period(Period),
    /// ISO 639-1 code.
    Language(String),
    Place(Place),
    /// Index into the directory.
    Member(usize),
    Speaker(SpeakerRequest),
    Command(usize),
    Ticket(i64),
    Draft(i64),
    /// A local day and maybe a time of day.
    Moment(NaiveDate, Option<chrono::NaiveTime>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ArgError {
    Missing {
        arg: String,
    },
    UnknownTopic {
        typed: String,
        suggestions: Vec<TopicIdx>,
    },
    UnparseableDate {
        typed: String,
    },
    InvalidDate {
        typed: String,
    },
    PastDate {
        date: NaiveDate,
    },
    EndBeforeStart {
        start: NaiveDate,
        end: NaiveDate,
    },
    UnknownPlace {
        typed: String,
        suggestions: Vec<String>,
    },
    UnknownLanguage {
        typed: String,
    },
    UnknownMember {
        typed: String,
    },
    AmbiguousMember {
        typed: String,
        candidates: Vec<usize>,
    },
    UnknownCommand {
        typed: String,
    },
    BadTicket {
        typed: String,
    },
}

/// What argument parsing may consult.
#[derive(Clone, Copy)]
pub struct ArgContext<'a> {
    pub vocabulary: &'a Vocabulary,
    pub geography: &'a Geography,
    pub directory: &'a Directory,
    pub registry: &'a Registry,
    pub today: NaiveDate,
    /// Errors carry suggestions and names are looked up with typos. Off while the bot only
    /// weighs which command a line means, where that would cost more than the line.
    pub thorough: bool,
}

impl ArgContext<'_> {
    /// The same context, for weighing lines rather than answering them.
    pub fn quick(&self) -> Self {
        ArgContext {
            thorough: false,
            ..*self
        }
    }
}

/// Arguments as parsed while the bot weighs which command a line means, kept for the answer.
/// A thorough parse differs from a quick one only where the quick one fails (suggestions in
/// errors, close spellings of a name when no exact one is found), so what parsed while
/// weighing is not parsed again.
pub struct Weighing<'a> {
    quick: ArgContext<'a>,
    /// By kind of argument and text: the value, or none when the text did not parse.
    parsed: RefCell<HashMap<ArgKind, HashMap<String, Option<ArgValue>>>>,
}

impl<'a> Weighing<'a> {
    pub fn new(ctx: &ArgContext<'a>) -> Self {
        Weighing {
            quick: ctx.quick(),
            parsed: RefCell::default(),
        }
    }

    /// Whether `raw` reads as the argument: what [`Registry::interpret`] weighs lines with.
    /// Several commands weigh the same texts (the words after their cues, a name, a date):
    /// each is parsed once.
    pub fn valid(&self, spec: &ArgSpec, raw: &str) -> bool {
        let weighed = self
            .parsed
            .borrow()
            .get(&spec.kind)
            .and_then(|texts| texts.get(raw).map(Option::is_some));
        if let Some(valid) = weighed {
            return valid;
        }
        if spec.kind == ArgKind::Member && !self.quick.directory.may_name_exactly(raw) {
            return false;
        }
        let parsed = parse(spec, raw, &self.quick).ok();
        let valid = parsed.is_some();
        self.parsed
            .borrow_mut()
            .entry(spec.kind)
            .or_default()
            .insert(raw.to_string(), parsed);
        valid
    }

    /// The argument as [`parse`] reads it with `ctx`, reusing what parsed while weighing.
    pub fn parse(
        &self,
        spec: &ArgSpec,
        raw: &str,
        ctx: &ArgContext<'_>,
    ) -> Result<ArgValue, ArgError> {
        let weighed = self
            .parsed
            .borrow()
            .get(&spec.kind)
            .and_then(|texts| texts.get(raw).cloned().flatten());
        weighed.map_or_else(|| parse(spec, raw, ctx), Ok)
    }
}

pub fn parse(spec: &ArgSpec, raw: &str, ctx: &ArgContext<'_>) -> Result<ArgValue, ArgError> {
    match spec.kind {
        ArgKind::Text => Ok(ArgValue::Text(raw.to_string())),
        ArgKind::Topics => parse_topics(raw, ctx).map(ArgValue::Topics),
        ArgKind::Date => dates::parse_date(raw, ctx.today)
            .map(ArgValue::Date)
            .map_err(|e| date_error(e, raw)),
        ArgKind::Period => dates::parse_period(raw, ctx.today)
            .map(|(start, end)| ArgValue::Period(Period { start, end }))
            .map_err(|e| date_error(e, raw)),
        ArgKind::Language => language_code(raw)
            .map(|code| ArgValue::Language(code.to_string()))
            .ok_or_else(|| ArgError::UnknownLanguage {
                typed: raw.to_string(),
            }),
        ArgKind::Place => ctx
            .geography
            .lookup(raw)
            .map(ArgValue::Place)
            .ok_or_else(|| ArgError::UnknownPlace {
                typed: raw.to_string(),
                suggestions: if ctx.thorough {
                    ctx.geography.suggestions(raw, 3)
                } else {
                    Vec::new()
                },
            }),
        ArgKind::Member => parse_member(raw, ctx).map(ArgValue::Member),
        ArgKind::SpeakerQuery => parse_speaker_query(raw, ctx).map(ArgValue::Speaker),
        ArgKind::Command => parse_command(raw, ctx.registry).map(ArgValue::Command),
        ArgKind::Ticket => raw
            .trim()
            .trim_start_matches('#')
            .parse()
            .map(ArgValue::Ticket)
            .map_err(|_| ArgError::BadTicket {
                typed: raw.to_string(),
            }),
        ArgKind::Draft => raw
            .trim()
            .trim_start_matches('#')
            .parse()
            .map(ArgValue::Draft)
            .map_err(|_| ArgError::BadTicket {
                typed: raw.to_string(),
            }),
        ArgKind::Moment => crate::core::dates::parse_moment(raw, ctx.today)
            .map(|(day, time)| ArgValue::Moment(day, time))
            .map_err(|e| date_error(e, raw)),
    }
}

fn date_error(error: DateError, typed: &str) -> ArgError {
    match error {
        DateError::Unparseable(_) => ArgError::UnparseableDate {
            typed: typed.to_string(),
        },
        DateError::Invalid(_) => ArgError::InvalidDate {
            typed: typed.to_string(),
        },
        DateError::InPast(date) => ArgError::PastDate { date },
        DateError::EndBeforeStart { start, end } => ArgError::EndBeforeStart { start, end },
    }
}

fn parse_topics(raw: &str, ctx: &ArgContext<'_>) -> Result<Vec<TopicIdx>, ArgError> {
    let vocabulary = ctx.vocabulary;
    let found = vocabulary.match_text(&without_filler(raw));
    // Words joining a list ("licences et RGPD") are not unknown topics.
    let leftover: Vec<&String> = found
        .leftover
        .iter()
        .filter(|w| !LIST_FILLER.contains(&w.as_str()))
        .collect();
    if found.hits.is_empty() || !leftover.is_empty() {
        let typed = if found.hits.is_empty() {
            raw.to_string()
        } else {
            leftover
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let suggestions = if ctx.thorough {
            vocabulary.look_alikes(&typed, 3)
        } else {
            Vec::new()
        };
        return Err(ArgError::UnknownTopic { typed, suggestions });
    }
    Ok(found.topics())
}

/// Removes the [`LIST_FILLER`] words of a text before its topics are read: "supprimer" or
/// "profile" must not be read as a topic by typo tolerance.
fn without_filler(raw: &str) -> String {
    raw.split(|c: char| c.is_whitespace() || matches!(c, '\'' | '’'))
        .filter(|w| !LIST_FILLER.contains(&normalize(w).as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words around a list of topics that are not unknown topics: joining words, and what people
/// add when they say it freely ("ajoute RGPD à mes thèmes", "add GDPR to my expertise").
const LIST_FILLER: &[&str] = &[
    "and",
    "et",
    "puis",
    "also",
    "aussi",
    "mes",
    "mon",
    "ma",
    "my",
    "me",
    "moi",
    "je",
    "i",
    "tu",
    "you",
    "peux",
    "can",
    "could",
    "please",
    "svp",
    "stp",
    "merci",
    "thanks",
    "theme",
    "themes",
    "topic",
    "topics",
    "sujet",
    "sujets",
    "fiche",
    "profil",
    "profile",
    "expertise",
    "expertises",
    "competence",
    "competences",
    "skills",
    "skill",
    "liste",
    "list",
    "it",
    "them",
    "les",
    "from",
    "into",
    "dans",
    "aux",
    "ajoute",
    "add",
    "retire",
    "remove",
    "thematique",
    "thematiques",
    "domaine",
    "domaines",
    "plus",
    "more",
    "s",
    "as",
    "comme",
    "well",
    "bien",
    "it",
    "this",
    "ca",
    "cela",
    "cette",
    "ce",
    "that",
    "entry",
    "dedans",
    "too",
    "ajouter",
    "rajouter",
    "retirer",
    "enlever",
    "supprimer",
    "delete",
    "put",
    "no",
    "longer",
    "working",
    "work",
    "m",
    "now",
    "l",
    "y",
    "connais",
    "travaille",
    "the",
    "a",
    "to",
    "in",
    "on",
    "of",
    "ne",
    "pas",
    "more",
    "any",
    "anymore",
    "for",
    "gere",
    "maintenant",
    "u",
    "enleve",
    "like",
    "changed",
    "job",
    "boulot",
    "d",
    "aussi",
    "please",
    "pls",
    "thx",
    "merci",
    "ds",
];

/// Words of politeness that may end a line after an argument.
const POLITENESS: &[&str] = &[
    "pls", "plz", "please", "stp", "svp", "merci", "thx", "thanks", "mercii", "ty",
];

/// Words that ask for someone and say nothing of the subject: what may be left of a search
/// that names no topic ("qqn de dispo pour un jury à Rennes ?", "anyone available for a panel
/// in Lyon, any subject").
const SOMEONE_FILLER: &[&str] = &[
    // "sujet libre", "topic is flexible", "any subject really", "could someone do a …"
    "libre",
    "flexible",
    "really",
    "ideally",
    "asking",
    "give",
    "run",
    "could",
    "would",
    "can",
    "looking",
    "do",
    "someone",
    "qqn",
    "qqun",
    "qq1",
    "quelqu",
    "quelqun",
    "un",
    "une",
    "qlq1",
    "somebody",
    "anyone",
    "anybody",
    "any1",
    "smb",
    "smbd",
    "sb",
    "intervenant",
    "intervenante",
    "intervenants",
    "intervenantes",
    "e",
    "speaker",
    "speakers",
    "expert",
    "experte",
    "experts",
    "personne",
    "person",
    "people",
    "dispo",
    "dispos",
    "disponible",
    "disponibles",
    "available",
    "free",
    "pr",
    "pour",
    "for",
    "chaud",
    "chaude",
    "chauds",
    "motive",
    "motivee",
    "partant",
    "partante",
    "interested",
    "keen",
    "animer",
    "co",
    "coanimer",
    "animate",
    "moderate",
    "moderer",
    "peu",
    "importe",
    "sujet",
    "theme",
    "topic",
    "subject",
    "any",
    "n",
    "quel",
    "whatever",
    "matter",
    "doesn",
    "meetup",
    "evenement",
    "event",
    "besoin",
    "need",
    "needed",
    "cherche",
    "cherchons",
    "trouve",
    "find",
    "qui",
    "who",
    "est",
    "is",
    "are",
    "us",
    "nous",
    "me",
    "moi",
    "ya",
    "il",
    "y",
    "a",
    "t",
    "has",
    "have",
    "got",
    "de",
    "d",
    "the",
    "faire",
    "tenir",
    "sit",
    "on",
    "siege",
    "sieger",
];

/// Languages a speaker may be asked to speak, by the names people use for them in French and
/// English. "corse" is left out: it names the region far more often than the language.
const LANGUAGES: &[(&str, &str)] = &[
    ("fr", "fr"),
    ("french", "fr"),
    ("francais", "fr"),
    ("francaise", "fr"),
    ("en", "en"),
    ("english", "en"),
    ("anglais", "en"),
    ("anglaise", "en"),
    ("es", "es"),
    ("spanish", "es"),
    ("espagnol", "es"),
    ("de", "de"),
    ("german", "de"),
    ("allemand", "de"),
    ("it", "it"),
    ("italian", "it"),
    ("italien", "it"),
    ("pt", "pt"),
    ("portuguese", "pt"),
    ("portugais", "pt"),
    ("nl", "nl"),
    ("dutch", "nl"),
    ("neerlandais", "nl"),
    ("br", "br"),
    ("breton", "br"),
    ("oc", "oc"),
    ("occitan", "oc"),
    ("ca", "ca"),
    ("catalan", "ca"),
    ("eu", "eu"),
    ("basque", "eu"),
];

pub fn language_code(typed: &str) -> Option<&'static str> {
    let key = normalize(typed);
    LANGUAGES
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, code)| *code)
}

fn parse_member(raw: &str, ctx: &ArgContext<'_>) -> Result<usize, ArgError> {
    let directory = ctx.directory;
    // "give ticket 450 to Maelys pls": a please after the name is no part of it.
    let raw = raw
        .trim_end_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
        .rsplit_once(' ')
        .filter(|(_, last)| POLITENESS.contains(&normalize(last).as_str()))
        .map_or(raw, |(name, _)| name.trim_end_matches([' ', ',']));
    let found = if ctx.thorough {
        directory.find_by_name(raw)
    } else {
        directory.find_by_name_exactly(raw)
    };
    match found.as_slice() {
        [] => Err(ArgError::UnknownMember {
            typed: raw.to_string(),
        }),
        [only] => directory
            .index_of(only.id)
            .ok_or_else(|| ArgError::UnknownMember {
                typed: raw.to_string(),
            }),
        many => Err(ArgError::AmbiguousMember {
            typed: raw.to_string(),
            candidates: many
                .iter()
                .filter_map(|m| directory.index_of(m.id))
                .take(5)
                .collect(),
        }),
    }
}

fn parse_command(raw: &str, registry: &Registry) -> Result<usize, ArgError> {
    let typed = normalize(raw);
    let key = typed.replace(' ', "-");
    let cued_besides_help = |text: &str| {
        registry
            .cued_command(text)
            .filter(|&c| registry.get(c).spec.name != "help")
    };
    registry
        .by_name(&key)
        .or_else(|| registry.parse_in(raw, None).map(|inv| inv.command))
        .or_else(|| {
            registry.commands().iter().position(|c| {
                c.normalized_examples()
                    .iter()
                    .any(|e| e.starts_with(&typed))
            })
        })
        // "aide sur la recherche d'intervenant", "how do I mark myself as away": the command
        // the words would cue (help's own cues, "aide", "how do I", name no command).
        .or_else(|| cued_besides_help(raw))
        // "how do I use the away command?": a word that is a command's name.
        .or_else(|| typed.split(' ').find_map(|word| registry.by_name(word)))
        // "comment je fais pour me déclarer absent": the words after a lead-in.
        .or_else(|| {
            let words: Vec<&str> = raw.split_whitespace().collect();
            (1..words.len().min(4)).find_map(|skip| cued_besides_help(&words[skip..].join(" ")))
        })
        .ok_or_else(|| ArgError::UnknownCommand {
            typed: raw.to_string(),
        })
}

/// Words after which a capitalised word must be a place.
static WHERE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\s(?:in|en|a|near|around|pres de|autour de|dans(?: le| la| les| l)?)\s")
        .expect("valid regex")
});

/// A speaker search as asked: the query the ranking reads, and what else the line said.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerRequest {
    pub query: SpeakerQuery,
    /// The last day of a span of days ("du 3 au 5 mars", "en juin"); the query's date is the
    /// first.
    pub until: Option<NaiveDate>,
    /// The kind of contribution ([`crate::core::formats`]).
    pub format: Option<&'static str>,
    pub online: bool,
    /// A place outside France, as written: no distance is reckoned.
    pub abroad: Option<String>,
}

/// Blanks a byte range of `text` (kept the same length, so later ranges stay valid).
fn blank(text: &mut String, start: usize, end: usize) {
    text.replace_range(start..end, &" ".repeat(end - start));
}

/// Languages named in a request: "en anglais", "in English", "qui parle espagnol",
/// "Spanish-speaking", "anglophone".
static LANGUAGE_ASKED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(?:(?:en|in|qui parle(?:nt)?|parlant|speaking|who speaks?|speaks?|can speak|peut parler|sachant parler)\s+(?P<a>[a-z]{4,12})|(?P<b>[a-z]{4,12})[ -]speaking)(?-u:\b)|^(?P<d>[a-z]{4,12})(?-u:\b)|(?-u:\b)(?P<c>anglophone|francophone|hispanophone|germanophone|lusophone|italophone|neerlandophone)s?(?-u:\b)")
        .expect("valid regex")
});

const PHONE_LANGUAGES: &[(&str, &str)] = &[
    ("anglophone", "en"),
    ("francophone", "fr"),
    ("hispanophone", "es"),
    ("germanophone", "de"),
    ("lusophone", "pt"),
    ("italophone", "it"),
    ("neerlandophone", "nl"),
];

/// "RGPD in Occitanie in English on 2027-03-12", "quelqu'un pour parler d'open data à Rennes
/// le 3 mars": what is found anywhere in the text is taken out (date, format, online, language,
/// place) and the topics are read from what is left.
fn parse_speaker_query(raw: &str, ctx: &ArgContext<'_>) -> Result<SpeakerRequest, ArgError> {
    let mut text = raw.trim().to_string();
    let (mut date, mut until) = (None, None);
    match dates::find_when(&text, ctx.today) {
        Some(Ok(when)) => {
            date = Some(when.first);
            until = when.last;
            blank(&mut text, when.start, when.end);
        }
        // A date that tries and fails ("le 31 février", a past year) is said so.
        Some(Err((typed, e))) => return Err(date_error(e, &typed)),
        None => {}
    }
    let mut online = false;
    let mut format = None;
    // Format words in the plural ("des hackathons", "workshops"): what the speaker knows when
    // nothing else names a topic.
    let mut plural_formats = Vec::new();
    for found in crate::core::formats::find(&text) {
        match found.kind {
            crate::core::formats::Found::Online => online = true,
            crate::core::formats::Found::Format(name) => {
                format.get_or_insert(name);
                if text[found.start..found.end].ends_with(['s', 'x']) {
                    plural_formats.push((name, text[found.start..found.end].to_string()));
                }
            }
        }
        blank(&mut text, found.start, found.end);
    }
    let mut language = None;
    let folded = Folded::new(&text);
    let mut spoken = Vec::new();
    for captures in LANGUAGE_ASKED.captures_iter(&folded.text) {
        // A pattern may leave the language first ("… intervenant en | allemand sur …").
        let named = captures
            .name("a")
            .or(captures.name("b"))
            .or(captures.name("d"));
        let code = match (named, captures.name("c")) {
            (Some(name), _) => language_code(name.as_str()),
            (None, Some(phone)) => PHONE_LANGUAGES
                .iter()
                .find(|(w, _)| *w == phone.as_str())
                .map(|(_, c)| *c),
            _ => None,
        };
        if let Some(code) = code {
            let whole = captures.get(0).expect("whole match");
            spoken.push(folded.original_range(whole.start(), whole.end()));
            language.get_or_insert(code.to_string());
        }
    }
    for (start, end) in spoken {
        blank(&mut text, start, end);
    }
    let mut place = None;
    let mut abroad = None;
    for mention in ctx.geography.find_places(&text) {
        match mention.kind {
            Mention::Found(found) => {
                place.get_or_insert(found);
            }
            Mention::Abroad(name) => {
                abroad.get_or_insert(name);
            }
            Mention::Online => online = true,
        }
        blank(&mut text, mention.span.start, mention.span.end);
    }
    // "licences en Narnie": a capitalised word after a word that says where ("en", "à",
    // "in") that names no place; "au Sénat", "devant la Commission" are venues, not errors.
    let unknown_place = if place.is_none() && abroad.is_none() {
        let folded = Folded::new(&text);
        WHERE
            .find_iter(&format!(" {} ", folded.text))
            .find_map(|found| {
                let tail_start = folded.original_range(found.end() - 1, found.end() - 1).0;
                // The capitalised words that follow, a name of up to three ("in Port Harcourt").
                let tail = &text[tail_start..];
                let spans = word_spans(tail);
                let (a, first_end) = *spans.first()?;
                let mut end = first_end;
                for &(from, to) in spans.iter().skip(1).take(2) {
                    let joined = tail[end..from].chars().all(|c| c == ' ');
                    if !joined || !tail[from..to].starts_with(char::is_uppercase) {
                        break;
                    }
                    end = to;
                }
                let name = &tail[a..end];
                name.starts_with(char::is_uppercase)
                    .then(|| name.to_string())
            })
    } else {
        None
    };
    let mut found = ctx.vocabulary.match_text(&text);
    // "quelqu'un qui a déjà organisé des hackathons pour en parler": no topic but the plural
    // format word, which is then the topic rather than the event.
    if found.hits.is_empty()
        && let Some((name, topic)) = plural_formats.iter().find_map(|(name, typed)| {
            let as_topic = ctx.vocabulary.match_phrases(typed);
            (!as_topic.hits.is_empty()).then_some((*name, as_topic))
        })
    {
        found.hits = topic.hits;
        if format == Some(name) {
            format = None;
        }
    }
    // "qqn pour un jury à Rennes le 6 décembre": no topic and no other word, but a format, a
    // place, a day or a language: a search on those alone.
    let something_else_asked = place.is_some()
        || abroad.is_some()
        || date.is_some()
        || format.is_some()
        || online
        || language.is_some();
    let asks_for_someone_only = found
        .leftover
        .iter()
        .all(|w| SOMEONE_FILLER.contains(&w.as_str()) || POLITENESS.contains(&w.as_str()));
    if found.hits.is_empty() && !(asks_for_someone_only && something_else_asked) {
        let typed = if found.leftover.is_empty() {
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            found.leftover.join(" ")
        };
        // What is left of a sentence looks like no label as a whole: only a few words typed
        // as a topic are worth comparing with the labels.
        let short = typed.split(' ').count() <= 3;
        return Err(ArgError::UnknownTopic {
            suggestions: if ctx.thorough && short {
                ctx.vocabulary.look_alikes(&typed, 3)
            } else {
                Vec::new()
            },
            typed,
        });
    }
    if place.is_none()
        && let Some(typed) = unknown_place
        && normalize(&typed)
            .split(' ')
            .all(|part| found.leftover.iter().any(|w| w == part))
    {
        // "licences à Rennnes": a capitalised name after a place word that is no place but
        // is spelt like one is a slip, asked back. One spelt like no French place ("in
        // Bengaluru", "à Ouagadougou") is a place abroad, kept as written.
        let suggestions = ctx.geography.suggestions(&typed, 3);
        if !suggestions.is_empty() {
            return Err(ArgError::UnknownPlace {
                suggestions: if ctx.thorough {
                    suggestions
                } else {
                    Vec::new()
                },
                typed,
            });
        }
        abroad = Some(typed);
    }
    Ok(SpeakerRequest {
        query: SpeakerQuery {
            topics: found.topics(),
            place,
            language,
            date,
        },
        until,
        format,
        online,
        abroad,
    })
}

/// Byte ranges of the words of a text (letters, digits, hyphens and apostrophes inside).
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let inside = c.is_alphanumeric() || (start.is_some() && matches!(c, '-' | '\'' | '’'));
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::HANDLERS;
    use crate::core::directory::{DirectoryData, JobRole, Member, Role};
    use crate::core::geo::tests::geography;
    use std::fmt::Debug;
    use std::path::Path;

    /// Thursday.
    fn today() -> NaiveDate {
        "2026-11-26".parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn member(id: i64, name: &str) -> Member {
        Member {
            id,
            email: format!("{}@example.org", normalize(name).replace(' ', ".")),
            name: name.to_string(),
            organisation: None,
            job_role: JobRole::Staff,
            department: None,
            topics: Vec::new(),
            languages: vec!["fr".into()],
            bio: String::new(),
            matrix_id: None,
            speaker_consent: true,
            access: Role::Member,
            preferred_lang: None,
            unavailable: Vec::new(),
        }
    }

    /// The shipped vocabulary, geography and commands, and a handful of members.
    struct World {
        vocabulary: Vocabulary,
        geography: Geography,
        directory: Directory,
        registry: Registry,
    }

    impl World {
        fn new() -> World {
            let vocabulary = Vocabulary::from_toml(include_str!("../../data/topics.toml")).unwrap();
            let geography = geography();
            let members = [
                "Camille Roux",
                "Camille Martin",
                "Yanis Benali",
                "Élodie Lefèvre",
            ]
            .iter()
            .enumerate()
            .map(|(i, name)| member(i as i64 + 1, name))
            .collect();
            let data = DirectoryData {
                members,
                ..Default::default()
            };
            let directory = Directory::build(data, &vocabulary, &geography, today());
            let registry = Registry::load(
                &Path::new(env!("CARGO_MANIFEST_DIR")).join("commands"),
                HANDLERS,
            )
            .unwrap();
            World {
                vocabulary,
                geography,
                directory,
                registry,
            }
        }

        fn parse(&self, kind: ArgKind, raw: &str) -> Result<ArgValue, ArgError> {
            let spec = ArgSpec {
                name: "value".into(),
                kind,
                required: true,
                fr: String::new(),
                en: String::new(),
            };
            let ctx = ArgContext {
                vocabulary: &self.vocabulary,
                geography: &self.geography,
                directory: &self.directory,
                registry: &self.registry,
                today: today(),
                thorough: true,
            };
            parse(&spec, raw, &ctx)
        }

        fn topics(&self, ids: &[&str]) -> Vec<TopicIdx> {
            ids.iter()
                .map(|id| self.vocabulary.by_id(id).unwrap())
                .collect()
        }

        fn place(&self, name: &str) -> Place {
            self.geography.lookup(name).unwrap()
        }

        fn member(&self, id: i64) -> usize {
            self.directory.index_of(id).unwrap()
        }

        fn command(&self, name: &str) -> usize {
            self.registry.by_name(name).unwrap()
        }
    }

    /// Runs every case and reports all mismatches at once.
    fn check<T: PartialEq + Debug>(cases: Vec<(&str, T)>, f: impl Fn(&str) -> T) {
        let failures: Vec<String> = cases
            .into_iter()
            .filter_map(|(input, want)| {
                let got = f(input);
                (got != want).then(|| format!("{input:?}: got {got:?}, want {want:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    /// Topic look-alikes follow the vocabulary file; the cases check what was not understood.
    fn without_topic_suggestions(result: Result<ArgValue, ArgError>) -> Result<ArgValue, ArgError> {
        result.map_err(|error| match error {
            ArgError::UnknownTopic { typed, .. } => ArgError::UnknownTopic {
                typed,
                suggestions: Vec::new(),
            },
            other => other,
        })
    }

    fn unknown_topic(typed: &str) -> Result<ArgValue, ArgError> {
        Err(ArgError::UnknownTopic {
            typed: typed.into(),
            suggestions: Vec::new(),
        })
    }

    #[test]
    fn text_is_kept_as_typed() {
        let world = World::new();
        check(
            vec![
                (
                    "Bonjour, à bientôt !",
                    Ok(ArgValue::Text("Bonjour, à bientôt !".into())),
                ),
                (
                    "Hello: see you",
                    Ok(ArgValue::Text("Hello: see you".into())),
                ),
            ],
            |raw| world.parse(ArgKind::Text, raw),
        );
    }

    #[test]
    fn topics() {
        let world = World::new();
        let ok = |ids: &[&str]| Ok(ArgValue::Topics(world.topics(ids)));
        check(
            vec![
                ("RGPD", ok(&["data-protection"])),
                ("GDPR", ok(&["data-protection"])),
                ("licences et RGPD", ok(&["licensing", "data-protection"])),
                (
                    "licences, qualité des données",
                    ok(&["licensing", "data-quality"]),
                ),
                ("licensing and metadata", ok(&["licensing", "metadata"])),
                ("Licensing, GDPR", ok(&["licensing", "data-protection"])),
                ("astrologie", unknown_topic("astrologie")),
                ("RGPD et astrologie", unknown_topic("astrologie")),
                ("knitting", unknown_topic("knitting")),
                ("GDPR and knitting", unknown_topic("knitting")),
            ],
            |raw| without_topic_suggestions(world.parse(ArgKind::Topics, raw)),
        );
    }

    #[test]
    fn dates() {
        let world = World::new();
        let ok = |s: &str| Ok(ArgValue::Date(day(s)));
        let unparseable = |s: &str| {
            Err(ArgError::UnparseableDate {
                typed: s.to_string(),
            })
        };
        check(
            vec![
                ("12 mars 2027", ok("2027-03-12")),
                ("le 1er mars", ok("2027-03-01")),
                ("demain", ok("2026-11-27")),
                ("March 12, 2027", ok("2027-03-12")),
                ("tomorrow", ok("2026-11-27")),
                ("2027-03-12", ok("2027-03-12")),
                ("bientôt", unparseable("bientôt")),
                ("soon", unparseable("soon")),
                (
                    "31/02/2027",
                    Err(ArgError::InvalidDate {
                        typed: "31/02/2027".into(),
                    }),
                ),
                (
                    "12 mars 2020",
                    Err(ArgError::PastDate {
                        date: day("2020-03-12"),
                    }),
                ),
                (
                    "March 12, 2020",
                    Err(ArgError::PastDate {
                        date: day("2020-03-12"),
                    }),
                ),
            ],
            |raw| world.parse(ArgKind::Date, raw),
        );
    }

    #[test]
    fn periods() {
        let world = World::new();
        let ok = |start: &str, end: &str| {
            Ok(ArgValue::Period(Period {
                start: day(start),
                end: day(end),
            }))
        };
        check(
            vec![
                ("jusqu'au 15 janvier", ok("2026-11-26", "2027-01-15")),
                ("du 3 au 14 mars", ok("2027-03-03", "2027-03-14")),
                ("la semaine prochaine", ok("2026-11-30", "2026-12-06")),
                ("until 2027-01-15", ok("2026-11-26", "2027-01-15")),
                (
                    "from 20 December to 5 January",
                    ok("2026-12-20", "2027-01-05"),
                ),
                ("next week", ok("2026-11-30", "2026-12-06")),
                ("demain", ok("2026-11-27", "2026-11-27")),
                (
                    "quand je peux",
                    Err(ArgError::UnparseableDate {
                        typed: "quand je peux".into(),
                    }),
                ),
                (
                    "whenever",
                    Err(ArgError::UnparseableDate {
                        typed: "whenever".into(),
                    }),
                ),
                (
                    "du 2027-03-14 au 2027-03-03",
                    Err(ArgError::EndBeforeStart {
                        start: day("2027-03-14"),
                        end: day("2027-03-03"),
                    }),
                ),
                (
                    "until 2020-01-15",
                    Err(ArgError::PastDate {
                        date: day("2020-01-15"),
                    }),
                ),
                (
                    "until 30/02/2027",
                    Err(ArgError::InvalidDate {
                        typed: "until 30/02/2027".into(),
                    }),
                ),
            ],
            |raw| world.parse(ArgKind::Period, raw),
        );
    }

    #[test]
    fn languages() {
        let world = World::new();
        let ok = |code: &str| Ok(ArgValue::Language(code.into()));
        let unknown = |s: &str| {
            Err(ArgError::UnknownLanguage {
                typed: s.to_string(),
            })
        };
        check(
            vec![
                ("anglais", ok("en")),
                ("Français", ok("fr")),
                ("espagnol", ok("es")),
                ("occitan", ok("oc")),
                ("English", ok("en")),
                ("german", ok("de")),
                ("fr", ok("fr")),
                // The region far more often than the language.
                ("corse", unknown("corse")),
                ("klingon", unknown("klingon")),
                ("elvish", unknown("elvish")),
            ],
            |raw| world.parse(ArgKind::Language, raw),
        );
    }

    #[test]
    fn places() {
        let world = World::new();
        let ok = |name: &str| Ok(ArgValue::Place(world.place(name)));
        let unknown = |s: &str, suggestions: &[&str]| {
            Err(ArgError::UnknownPlace {
                typed: s.to_string(),
                suggestions: suggestions.iter().map(|s| s.to_string()).collect(),
            })
        };
        check(
            vec![
                ("Bretagne", ok("Bretagne")),
                ("Brittany", ok("Bretagne")),
                ("Gironde", ok("Gironde")),
                ("33", ok("Gironde")),
                ("Lyon", ok("Lyon")),
                ("Narnie", unknown("Narnie", &["Normandie", "Marne"])),
                ("Narnia", unknown("Narnia", &[])),
                ("Bretagn", unknown("Bretagn", &["Bretagne"])),
            ],
            |raw| world.parse(ArgKind::Place, raw),
        );
    }

    #[test]
    fn members() {
        let world = World::new();
        let ok = |id: i64| Ok(ArgValue::Member(world.member(id)));
        check(
            vec![
                ("Camille Roux", ok(1)),
                ("camille roux", ok(1)),
                ("camille.roux@example.org", ok(1)),
                ("Elodie Lefevre", ok(4)),
                ("Yanis", ok(3)),
                ("Yanis Benalli", ok(3)),
                ("Yanis pls", ok(3)),
                ("camille roux, merci !", ok(1)),
                (
                    "Camille",
                    Err(ArgError::AmbiguousMember {
                        typed: "Camille".into(),
                        candidates: vec![world.member(1), world.member(2)],
                    }),
                ),
                (
                    "Dominique Personne",
                    Err(ArgError::UnknownMember {
                        typed: "Dominique Personne".into(),
                    }),
                ),
            ],
            |raw| world.parse(ArgKind::Member, raw),
        );
    }

    #[test]
    fn tickets() {
        let world = World::new();
        let bad = |s: &str| {
            Err(ArgError::BadTicket {
                typed: s.to_string(),
            })
        };
        check(
            vec![
                ("12", Ok(ArgValue::Ticket(12))),
                ("#12", Ok(ArgValue::Ticket(12))),
                (" 7 ", Ok(ArgValue::Ticket(7))),
                ("douze", bad("douze")),
                ("twelve", bad("twelve")),
                ("12a", bad("12a")),
            ],
            |raw| world.parse(ArgKind::Ticket, raw),
        );
    }

    #[test]
    fn commands() {
        let world = World::new();
        let ok = |name: &str| Ok(ArgValue::Command(world.command(name)));
        let unknown = |s: &str| {
            Err(ArgError::UnknownCommand {
                typed: s.to_string(),
            })
        };
        check(
            vec![
                // By name, as the list shows it.
                ("find-speaker", ok("find-speaker")),
                ("find speaker", ok("find-speaker")),
                ("away", ok("away")),
                // As the command is typed.
                ("trouve un intervenant", ok("find-speaker")),
                ("absente", ok("away")),
                ("statistiques", ok("stats")),
                ("who am I", ok("my-profile")),
                // The start of an example.
                ("mes thèmes", ok("my-topics-add")),
                ("my topics", ok("my-topics-add")),
                ("danse", unknown("danse")),
                ("dance", unknown("dance")),
            ],
            |raw| world.parse(ArgKind::Command, raw),
        );
    }

    #[test]
    fn a_place_spelt_like_no_french_one_is_abroad() {
        let world = World::new();
        let cases = [
            ("licensing in Narnia", Some("Narnia")),
            (
                "a workshop on election results data in Abuja next month",
                Some("Abuja"),
            ),
            (
                "a talk on smart cities in Bengaluru on 3rd February",
                Some("Bengaluru"),
            ),
            (
                "un atelier sur les données électorales à Ouagadougou",
                Some("Ouagadougou"),
            ),
            ("licences à Lyon", None),
        ];
        for (typed, expected) in cases {
            match world.parse(ArgKind::SpeakerQuery, typed) {
                Ok(ArgValue::Speaker(request)) => {
                    assert_eq!(request.abroad.as_deref(), expected, "{typed}")
                }
                other => panic!("{typed}: {other:?}"),
            }
        }
    }

    #[test]
    fn speaker_queries() {
        let world = World::new();
        let ok =
            |topics: &[&str], place: Option<&str>, language: Option<&str>, date: Option<&str>| {
                Ok(ArgValue::Speaker(SpeakerRequest {
                    query: SpeakerQuery {
                        topics: world.topics(topics),
                        place: place.map(|p| world.place(p)),
                        language: language.map(str::to_string),
                        date: date.map(day),
                    },
                    until: None,
                    format: None,
                    online: false,
                    abroad: None,
                }))
            };
        check(
            vec![
                ("RGPD", ok(&["data-protection"], None, None, None)),
                (
                    "les licences en Bretagne",
                    ok(&["licensing"], Some("Bretagne"), None, None),
                ),
                (
                    "la qualité des données à Lyon",
                    ok(&["data-quality"], Some("Lyon"), None, None),
                ),
                (
                    "le RGPD en Occitanie en anglais le 12 mars 2027",
                    ok(
                        &["data-protection"],
                        Some("Occitanie"),
                        Some("en"),
                        Some("2027-03-12"),
                    ),
                ),
                (
                    "RGPD in Occitanie in English on 2027-03-12",
                    ok(
                        &["data-protection"],
                        Some("Occitanie"),
                        Some("en"),
                        Some("2027-03-12"),
                    ),
                ),
                (
                    "data quality in Gironde",
                    ok(&["data-quality"], Some("Gironde"), None, None),
                ),
                (
                    "licensing in Spanish",
                    ok(&["licensing"], None, Some("es"), None),
                ),
                ("astrologie", unknown_topic("astrologie")),
                ("astrology in Brittany", unknown_topic("astrology")),
                // No topic but a place and a day: a search on those; any other word is still
                // an unknown topic.
                (
                    "qqn de dispo à Lyon le 12 mars 2027",
                    ok(&[], Some("Lyon"), None, Some("2027-03-12")),
                ),
                (
                    "anyone available in Gironde",
                    ok(&[], Some("Gironde"), None, None),
                ),
                ("astrologie à Lyon", unknown_topic("astrologie")),
                (
                    "licences en Narnie",
                    Err(ArgError::UnknownPlace {
                        typed: "Narnie".into(),
                        suggestions: vec!["Normandie".into(), "Marne".into()],
                    }),
                ),
                (
                    "RGPD le 31/02/2027",
                    Err(ArgError::InvalidDate {
                        typed: "31/02/2027".into(),
                    }),
                ),
                (
                    "GDPR on 12 March 2020",
                    Err(ArgError::PastDate {
                        date: day("2020-03-12"),
                    }),
                ),
            ],
            |raw| without_topic_suggestions(world.parse(ArgKind::SpeakerQuery, raw)),
        );
    }
}
