//! Turning the raw text of an argument into a typed value, or into a precise complaint.

use super::registry::{ArgKind, ArgSpec, Registry};
use crate::core::dates::{self, DateError};
use crate::core::directory::{Directory, Period};
use crate::core::geo::{Geography, Place};
use crate::core::search::SpeakerQuery;
use crate::core::text::{Folded, normalize};
use crate::core::topics::{TopicIdx, Vocabulary};
use chrono::NaiveDate;
use regex::Regex;
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
    Speaker(SpeakerQuery),
    Command(usize),
    Ticket(i64),
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
pub struct ArgContext<'a> {
    pub vocabulary: &'a Vocabulary,
    pub geography: &'a Geography,
    pub directory: &'a Directory,
    pub registry: &'a Registry,
    pub today: NaiveDate,
}

pub fn parse(spec: &ArgSpec, raw: &str, ctx: &ArgContext<'_>) -> Result<ArgValue, ArgError> {
    match spec.kind {
        ArgKind::Text => Ok(ArgValue::Text(raw.to_string())),
        ArgKind::Topics => parse_topics(raw, ctx.vocabulary).map(ArgValue::Topics),
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
                suggestions: ctx.geography.suggestions(raw, 3),
            }),
        ArgKind::Member => parse_member(raw, ctx.directory).map(ArgValue::Member),
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

fn parse_topics(raw: &str, vocabulary: &Vocabulary) -> Result<Vec<TopicIdx>, ArgError> {
    let found = vocabulary.match_text(raw);
    // Words joining a list ("licences et RGPD") are not unknown topics.
    let leftover: Vec<&String> = found
        .leftover
        .iter()
        .filter(|w| !matches!(w.as_str(), "and" | "et" | "puis" | "also" | "aussi"))
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
        let suggestions = vocabulary.look_alikes(&typed, 3);
        return Err(ArgError::UnknownTopic { typed, suggestions });
    }
    Ok(found.topics())
}

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

fn parse_member(raw: &str, directory: &Directory) -> Result<usize, ArgError> {
    let found = directory.find_by_name(raw);
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
    let key = normalize(raw).replace(' ', "-");
    registry
        .by_name(&key)
        .or_else(|| registry.parse(raw).map(|inv| inv.command))
        .or_else(|| {
            registry.commands().iter().position(|c| {
                c.spec
                    .examples
                    .fr
                    .iter()
                    .chain(&c.spec.examples.en)
                    .any(|e| normalize(e).starts_with(&normalize(raw)))
            })
        })
        .ok_or_else(|| ArgError::UnknownCommand {
            typed: raw.to_string(),
        })
}

/// Words that introduce a place or a language at the end of a query ("… en Bretagne",
/// "… in English", "… à Lyon", "… qui parle anglais").
static INTRODUCER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\s(?:in|en|a|near|around|pres de|autour de|dans(?: le| la| les)?|speaking|who speaks|qui parlent?|parlant)\s").expect("valid regex")
});

/// "RGPD in Occitanie in English on 2027-03-12" → topics, place, language and date.
fn parse_speaker_query(raw: &str, ctx: &ArgContext<'_>) -> Result<SpeakerQuery, ArgError> {
    let mut rest = raw.trim().to_string();
    let mut date = None;
    if let Some((before, result)) = dates::split_trailing_date(&rest, ctx.today) {
        date = Some(result.map_err(|e| {
            let typed = rest[before.len()..].trim().to_string();
            date_error(e, &typed)
        })?);
        rest = before;
    }
    let (mut place, mut language) = (None, None);
    loop {
        let folded = Folded::new(&rest);
        let Some(found) = INTRODUCER.find_iter(&folded.text).last() else {
            break;
        };
        let (cut, tail_start) = (
            folded.original_range(found.start(), found.end()).0,
            folded.original_range(found.end(), found.end()).0,
        );
        let tail = &rest[tail_start..];
        if language.is_none()
            && let Some(code) = language_code(tail)
        {
            language = Some(code.to_string());
        } else if place.is_none()
            && let Some(p) = ctx.geography.lookup(tail)
        {
            place = Some(p);
        } else {
            break;
        }
        rest.truncate(cut);
    }
    let found = ctx.vocabulary.match_text(&rest);
    if found.hits.is_empty() {
        return Err(ArgError::UnknownTopic {
            typed: rest.clone(),
            suggestions: ctx.vocabulary.look_alikes(&rest, 3),
        });
    }
    if place.is_none() {
        // "licences en Narnie": a capitalised tail after a place word, that matched nothing.
        let folded = Folded::new(&rest);
        if let Some(found_intro) = INTRODUCER.find_iter(&folded.text).last() {
            let tail_start = folded
                .original_range(found_intro.end(), found_intro.end())
                .0;
            let tail = rest[tail_start..].trim();
            let tail_is_leftover = normalize(tail)
                .split(' ')
                .all(|w| found.leftover.iter().any(|l| l == w));
            if tail.chars().next().is_some_and(char::is_uppercase)
                && tail_is_leftover
                && !ctx
                    .vocabulary
                    .match_text(&rest[..tail_start])
                    .hits
                    .is_empty()
            {
                return Err(ArgError::UnknownPlace {
                    typed: tail.to_string(),
                    suggestions: ctx.geography.suggestions(tail, 3),
                });
            }
        }
    }
    Ok(SpeakerQuery {
        topics: found.topics(),
        place,
        language,
        date,
    })
}
