//! What a core-team member needs from an intervention request: who asks, for which event, when,
//! where, on what topics and in which format.

use super::classify::{bare_subject, contains_word};
use super::message::{MailMessage, Mailbox};
use super::rules::{MailRules, fold};
use crate::core::dates;
use crate::core::geo::{Geography, Mention, Place};
use crate::core::lang::{self, Lang};
use crate::core::topics::Vocabulary;
use chrono::NaiveDate;
use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestFields {
    pub contact: Option<Mailbox>,
    pub organisation: Option<String>,
    pub event: Option<String>,
    pub dates: Vec<NaiveDate>,
    pub places: Vec<String>,
    /// Held online ("en visio", "webinar", "Zoom"): a format, not a place.
    pub online: bool,
    /// Topic ids of the vocabulary.
    pub topics: Vec<String>,
    pub format: Option<String>,
    pub language: Lang,
}

/// What extraction compares the text with.
pub struct Knowledge<'a> {
    pub vocabulary: &'a Vocabulary,
    pub geography: &'a Geography,
    /// Finds the directory's organisations in a text.
    pub organisations: &'a crate::core::directory::OrganisationFinder,
}

/// How many characters of subject and new text are read for the request's fields: a request
/// says who, what, when and where in its first paragraphs, and long mails would otherwise
/// cost more than they tell.
const FIELDS_WINDOW: usize = 3000;

/// Of those, how many are searched for topics (stemming every word is the costly part).
const TOPIC_WINDOW: usize = 2500;

const MONTHS: &str = "janvier|janv|fevrier|février|fevr|févr|fev|fév|mars|avril|avr|mai|juin|juillet|juil|aout|août|septembre|sept|octobre|oct|novembre|nov|decembre|décembre|dec|déc|january|jan|february|feb|march|mar|april|apr|may|june|jun|july|jul|august|aug|september|sep|october|november|december";

static DATE_CANDIDATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)(?-u:\b)(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|\d{{1,2}}(?:er|st|nd|rd|th)?\s+(?:{MONTHS})\.?(?:\s+\d{{4}})?|(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)(?-u:\b)"
    ))
    .expect("valid date regex")
});

static QUOTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"«\s*([^»]{3,120}?)\s*»|“([^”]{3,120})”|"([^"\n]{3,120})""#)
        .expect("valid quote regex")
});

/// Every date written in the text, in order, without repeats; dates without a year are the next
/// occurrence after `today`, and dates that cannot be (31 February) are skipped.
pub fn find_dates(text: &str, today: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    for candidate in DATE_CANDIDATE.find_iter(text) {
        if let Ok(day) = dates::parse_date(candidate.as_str(), today)
            && !out.contains(&day)
        {
            out.push(day);
        }
    }
    out
}

/// The request's places as labels that `Geography::lookup` reads back (French places, with the
/// department for homonyms; places abroad as written), where the event happens first ("à Lyon",
/// "au Palais des Congrès de Lille") and those named in passing or in a body's name after
/// ("Rennes Métropole", "Ville de Besançon"), and whether the event is held online. An online
/// event keeps only the places said as where it happens: the requester's town is not a venue.
pub fn find_places(text: &str, geography: &Geography) -> (Vec<String>, bool) {
    let mut mentions = geography.find_places(text);
    let online = mentions.iter().any(|m| m.kind == Mention::Online);
    if online {
        mentions.retain(|m| m.introduced);
    }
    // Where it happens first, and a town before the department or region around it.
    mentions.sort_by_key(|m| {
        let area = matches!(
            m.kind,
            Mention::Found(Place::Department(_) | Place::Region(_))
        );
        (!m.introduced, area)
    });
    let mut places: Vec<String> = Vec::new();
    for mention in mentions {
        let name = match mention.kind {
            Mention::Found(place) => geography.label(place),
            Mention::Abroad(name) => name,
            Mention::Online => continue,
        };
        if !places.contains(&name) {
            places.push(name);
        }
    }
    (places, online)
}

pub fn extract(
    mail: &MailMessage,
    text: &str,
    rules: &MailRules,
    knowledge: &Knowledge<'_>,
    today: NaiveDate,
    default_lang: Lang,
) -> RequestFields {
    let subject = bare_subject(&mail.subject);
    let all: String = format!("{subject}\n{text}")
        .chars()
        .take(FIELDS_WINDOW)
        .collect();
    let folded = fold(&all);
    // Dates are not topics: "March" must not stem into "marchés". A request names its topics
    // early: the subject and the beginning of the text are enough.
    let head: String = all.chars().take(TOPIC_WINDOW).collect();
    let without_dates = DATE_CANDIDATE.replace_all(&head, " ");
    let mut topics: Vec<String> = Vec::new();
    for hit in &knowledge.vocabulary.match_phrases(&without_dates).hits {
        let id = &knowledge.vocabulary.get(hit.topic).id;
        if !topics.contains(id) {
            topics.push(id.clone());
        }
    }
    let format = rules
        .formats
        .iter()
        .find(|f| f.words.iter().any(|w| contains_word(&folded, w)))
        .map(|f| f.name.clone());
    let event = QUOTED
        .captures(&all)
        .and_then(|c| {
            c.iter()
                .skip(1)
                .flatten()
                .next()
                .map(|m| m.as_str().trim().to_string())
        })
        .or_else(|| (!subject.is_empty()).then(|| subject.to_string()));
    let normalized = crate::core::text::normalize(&all);
    let organisation = knowledge.organisations.longest_in_normalized(&normalized);
    let (places, online) = find_places(&all, knowledge.geography);
    RequestFields {
        contact: mail.reply_to.clone().or_else(|| mail.from.clone()),
        organisation,
        event,
        dates: find_dates(&all, today),
        places,
        online,
        topics,
        format,
        language: lang::detect_normalized(&normalized).unwrap_or(default_lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::geo::tests::geography;

    #[test]
    fn finds_dates_in_french_and_english_prose() {
        let today: NaiveDate = "2026-11-26".parse().unwrap();
        let cases: [(&str, &[&str]); 5] = [
            ("notre conférence du 12 mars 2027 à Lyon", &["2027-03-12"]),
            (
                "le 12/03/2027 puis le 1er avril",
                &["2027-03-12", "2027-04-01"],
            ),
            (
                "our event on March 12, 2027 and on 2027-03-13",
                &["2027-03-12", "2027-03-13"],
            ),
            ("at 10.30 on 31/02/2027", &[]),
            ("rien de daté ici, sauf 2026", &[]),
        ];
        for (text, expected) in cases {
            let found: Vec<String> = find_dates(text, today)
                .iter()
                .map(|d| d.to_string())
                .collect();
            assert_eq!(found, expected, "{text}");
        }
    }

    #[test]
    fn finds_places_venues_abroad_and_online() {
        let geo = geography();
        let cases: [(&str, &[&str], bool); 11] = [
            ("notre conférence à Lyon le 12 mars", &["Lyon"], false),
            (
                "une table ronde en Bretagne, puis à Saint-Brieuc",
                &["Saint-Brieuc", "Bretagne"],
                false,
            ),
            ("our conference in Bordeaux", &["Bordeaux"], false),
            (
                "au Palais des Congrès de Lille, le 3 mars",
                &["Lille"],
                false,
            ),
            ("une journée à Valence (82)", &["Valence (82)"], false),
            (
                "Forum in Brussels, also streamed online",
                &["Brussels"],
                true,
            ),
            ("en visio, données mises en ligne", &[], true),
            (
                "La Ville de Besançon organise un webinaire en ligne",
                &[],
                true,
            ),
            (
                "Rennes Métropole organise une journée à Vitré",
                &["Vitré", "Rennes"],
                false,
            ),
            ("à Bientôt", &[], false),
            ("en Narnie", &[], false),
        ];
        for (text, places, online) in cases {
            let (found, held_online) = find_places(text, &geo);
            assert_eq!(found, places, "{text}");
            assert_eq!(held_online, online, "{text}");
        }
    }
}
