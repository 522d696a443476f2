//! What a core-team member needs from an intervention request: who asks, for which event, when,
//! where, on what topics and in which format.

use super::classify::{bare_subject, contains_word};
use super::message::Mailbox;
use super::rules::{MailRules, fold};
use crate::core::dates;
use crate::core::geo::{Geography, Mention, Place};
use crate::core::lang::{self, Lang};
use crate::core::text::char_end;
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
    /// Mail domain → organisation name (see [`domain_organisations`]).
    pub domains: &'a std::collections::HashMap<String, String>,
    /// The network's members: their posts on the watched list are discussion among peers.
    pub directory: Option<&'a crate::core::directory::Directory>,
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

static ASIDE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\([^()\n]{0,200}\)").expect("valid aside regex"));

static QUOTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"«\s*([^»]{3,120}?)\s*»|“([^”]{3,120})”|"([^"\n]{3,120})""#)
        .expect("valid quote regex")
});

/// A date the reply is due by ("avant le 15 décembre", "by 4 December"): not the event's.
static DEADLINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:avant|d'ici|d’ici|au plus tard|date limite|no later than|by|before|deadline)(?:\s+le|\s+la date du)?\s*:?\s*(?:\w+\s+)?$")
        .expect("valid deadline regex")
});

/// A weekday said relative to today ("jeudi prochain", "next Thursday").
static NEXT_WEEKDAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\s+prochain|next\s+(monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b")
        .expect("valid weekday regex")
});

/// An ISO week by its number ("semaine 12", "week 12").
static WEEK_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:semaine|week|sem\.)\s*(?:n°\s*|no\.?\s*)?(\d{1,2})\b")
        .expect("valid week regex")
});

/// A month's name: where the event's days are written.
static MONTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)(?-u:\b)(?:{MONTHS})(?-u:\b)")).expect("valid month regex")
});

/// The parts of `text` worth reading for dates, as byte ranges: around each month's name, the
/// words that can make a day, a range or a week of it ("du vendredi 26 au\ndimanche 28
/// février 2027", "semaine du 8 mars"), cut at spaces, overlaps merged. Reading only these
/// keeps a long mail's cost to its dates.
fn month_windows(text: &str) -> Vec<(usize, usize)> {
    // Bytes before the month ("entre le 3 et le 5 "), and after it (" 12, 2027").
    const BEFORE: usize = 48;
    const AFTER: usize = 10;
    // From the first whole word at or after `at`.
    let word_start = |mut at: usize| {
        while !text.is_char_boundary(at) {
            at += 1;
        }
        if text[..at].ends_with(char::is_whitespace) {
            return at;
        }
        text[at..]
            .find(char::is_whitespace)
            .map_or(at, |space| at + space + 1)
    };
    let mut windows: Vec<(usize, usize)> = Vec::new();
    for month in MONTH.find_iter(text) {
        let start = month
            .start()
            .checked_sub(BEFORE)
            .map_or(0, word_start)
            .min(month.start());
        let mut end = (month.end() + AFTER).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        if end < text.len() {
            end = text[month.end()..end]
                .rfind(char::is_whitespace)
                .map_or(month.end(), |space| month.end() + space);
        }
        match windows.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => windows.push((start, end)),
        }
    }
    windows
}

/// The first day of a range written with one month and a dash: "20-21 April 2027".
static RANGE_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)(?-u:\b)(\d{{1,2}})\s*(?:-|–)\s*(\d{{1,2}}\s+(?:{MONTHS})\.?(?:\s+\d{{4}})?)(?-u:\b)"
    ))
    .expect("valid range regex")
});

/// Every date written in the text, in order, without repeats (a range gives its first and
/// last days); dates without a year are the next occurrence after `today`, and dates that
/// cannot be (31 February) are skipped. Days, ranges and weeks are read by the shared
/// `dates::find_when`; a span written without a day ("en juin prochain", "in January",
/// "next week", "mars 2027") or a day without a number ("lundi") is vaguer than any written day: only the
/// first one is kept, and only when the text has no written day ("en juin … la date exacte
/// sera fixée en janvier").
pub fn find_dates(text: &str, today: NaiveDate) -> Vec<NaiveDate> {
    in_order(dated(text, today))
}

/// Dates as [`find_dates`] reads them, each with where it is written.
fn dated(text: &str, today: NaiveDate) -> Vec<(usize, NaiveDate)> {
    use chrono::Datelike;
    let mut found: Vec<(usize, NaiveDate)> = Vec::new();
    let mut vague: Option<(usize, NaiveDate, Option<NaiveDate>)> = None;
    for (window_start, window_end) in month_windows(text) {
        let mut from = window_start;
        while let Some(Ok(when)) = dates::find_when(&text[from..window_end], today) {
            let (start, end) = (from + when.start, from + when.end);
            let written_day = text[start..end]
                .split(|c: char| !c.is_ascii_digit())
                .any(|n| (1..=2).contains(&n.len()));
            if written_day {
                found.push((start, when.first));
                found.extend(when.last.map(|last| (start, last)));
            } else if vague.is_none() {
                vague = Some((start, when.first, when.last));
            }
            from = end;
        }
    }
    // Forms the chat reader has no use for ("20-21 April 2027", "March 12, 2027").
    for range in RANGE_START.captures_iter(text) {
        let first: u32 = range[1].parse().unwrap_or(0);
        if let Ok(last) = dates::parse_date(&range[2], today)
            && first < last.day()
            && let Some(day) = last.with_day(first)
        {
            found.push((range.get(0).map_or(0, |m| m.start()), day));
        }
    }
    for candidate in DATE_CANDIDATE.find_iter(text) {
        if let Ok(day) = dates::parse_date(candidate.as_str(), today) {
            found.push((candidate.start(), day));
        }
    }
    // Replies due by a date leave the event's dates, when there are others.
    let due = |at: usize| {
        let before = &text[text[..at]
            .char_indices()
            .rev()
            .nth(30)
            .map_or(0, |(i, _)| i)..at];
        DEADLINE.is_match(before)
    };
    if found.iter().any(|&(at, _)| !due(at)) {
        found.retain(|&(at, _)| !due(at));
    }
    if found.is_empty()
        && let Some((at, first, last)) = vague
    {
        found.push((at, first));
        found.extend(last.map(|last| (at, last)));
    }
    // Days said relative to today or by week number, when nothing more precise is written.
    if found.is_empty() {
        if let Some(weekday) = NEXT_WEEKDAY.captures(text) {
            let name = weekday.get(1).or(weekday.get(2)).map_or("", |m| m.as_str());
            if let Some(day) = next_weekday(name, today) {
                found.push((weekday.get(0).map_or(0, |m| m.start()), day));
            }
        } else if let Some(week) = WEEK_NUMBER.captures(text)
            && let Some((monday, sunday)) = iso_week(week[1].parse().unwrap_or(0), today)
        {
            let at = week.get(0).map_or(0, |m| m.start());
            found.extend([(at, monday), (at, sunday)]);
        }
    }
    found
}

/// The days in the order they are written, each once.
fn in_order(mut found: Vec<(usize, NaiveDate)>) -> Vec<NaiveDate> {
    found.sort_by_key(|(at, _)| *at);
    let mut out = Vec::new();
    for (_, day) in found {
        if !out.contains(&day) {
            out.push(day);
        }
    }
    out
}

/// The days of the event the speaker is asked to, among those the text writes: not a day
/// just past written without its year ("merci pour le 12 novembre" is not next November's),
/// nor one in a sentence about something else (a preparatory call, a publication, a prize
/// ceremony) when others remain; and when some days are in a sentence naming the kind of
/// contribution asked for ("le jeudi 11 au matin, une table ronde…"), those.
fn event_dates(
    text: &str,
    mut found: Vec<(usize, NaiveDate)>,
    today: NaiveDate,
    format_words: impl Fn(&str) -> bool,
) -> Vec<NaiveDate> {
    use chrono::Datelike;
    let year_written = |at: usize, day: NaiveDate| {
        let end = char_end(&text[at..], 40);
        text[at..at + end].contains(&day.year().to_string())
    };
    found.retain(|&(at, day)| {
        let just_past =
            day.checked_sub_months(chrono::Months::new(12))
                .is_some_and(|a_year_before| {
                    a_year_before < today && (today - a_year_before).num_days() <= 90
                });
        !just_past || year_written(at, day)
    });
    if found.len() < 2 {
        return in_order(found);
    }
    // Each date with its sentence, folded.
    let mut offset = 0;
    let spans: Vec<(usize, usize)> = sentences(text)
        .map(|s| {
            offset += s.len();
            (offset - s.len(), offset)
        })
        .collect();
    let mut dated: Vec<((usize, NaiveDate), String)> = found
        .into_iter()
        .map(|(at, day)| {
            let (a, b) = spans
                .iter()
                .copied()
                .find(|&(a, b)| a <= at && at < b)
                .unwrap_or((at, at));
            ((at, day), fold(&text[a..b]))
        })
        .collect();
    // Only the dates whose sentence is `wanted`, when some are and some are not.
    let narrow = |dated: &mut Vec<((usize, NaiveDate), String)>, wanted: &dyn Fn(&str) -> bool| {
        let some = dated.iter().filter(|(_, s)| wanted(s)).count();
        if some > 0 && some < dated.len() {
            dated.retain(|(_, s)| wanted(s));
        }
    };
    narrow(&mut dated, &|s| !NOT_THE_EVENT.is_match(s));
    narrow(&mut dated, &format_words);
    in_order(dated.into_iter().map(|(found, _)| found).collect())
}

/// What a sentence dates besides the event: its preparation, its publication, what follows.
static NOT_THE_EVENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:reunion de cadrage|reunion preparatoire|reunion de preparation|point de preparation|tech check|technical check|preparatory (?:call|meeting)|prep call|mis en ligne|mise en ligne|paraitra|sera diffuse|sera publie|will be published|will air|goes live|remise des prix|ceremonie|prize ceremony|award ceremony|candidatures sont ouvertes|applications are open)\b")
        .expect("valid regex")
});

/// The request's places as labels that `Geography::lookup` reads back (French places, with the
/// department for homonyms; places abroad as written), where the event happens first ("à Lyon",
/// "au Palais des Congrès de Lille") and those named in passing or in a body's name after
/// ("Rennes Métropole", "Ville de Besançon"), and whether the event is held online. An online
/// event keeps only the places said as where it happens: the requester's town is not a venue.
pub fn find_places(text: &str, geography: &Geography) -> (Vec<String>, bool) {
    let mut mentions = geography.find_places(text);
    let online = mentions.iter().any(|m| m.kind == Mention::Online);
    if online {
        // An online event happens nowhere: a town said in brackets gives the time zone or an
        // aside ("at 11 a.m. Eastern (5 p.m. in Paris)").
        let in_brackets = |span: &std::ops::Range<usize>| {
            let open = text[..span.start].rfind('(');
            let close = text[..span.start].rfind(')');
            open.is_some_and(|o| close.is_none_or(|c| c < o))
                && text[span.end..]
                    .find(')')
                    .is_some_and(|c| text[span.end..].find('(').is_none_or(|o| c < o) && c < 60)
        };
        mentions.retain(|m| m.introduced && !in_brackets(&m.span));
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

/// `text` with the bodies named in quotes left out. Their pattern's Unicode word boundary
/// sends the regex engine to its slowest search on accented text, and it cannot match
/// without a quotation mark: most requests have none.
fn without_named_bodies<'t>(text: &'t str, rules: &MailRules) -> std::borrow::Cow<'t, str> {
    if text.contains(['«', '“', '"']) {
        rules.named_bodies.replace_all(text, " ")
    } else {
        text.into()
    }
}

/// What a request's fields are read from: for a forward, the original's.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub subject: &'a str,
    /// What the requester wrote, without quotes and signature.
    pub text: &'a str,
    /// Their signature (see `quotes::Split::signature`).
    pub signature: &'a str,
    pub contact: Option<&'a Mailbox>,
}

pub fn extract(
    source: &Source<'_>,
    rules: &MailRules,
    knowledge: &Knowledge<'_>,
    today: NaiveDate,
    default_lang: Lang,
) -> RequestFields {
    let subject = bare_subject(source.subject);
    let mut all = format!("{subject}\n{}", source.text);
    all.truncate(char_end(&all, FIELDS_WINDOW));
    let folded = fold(&all);
    // Dates are not topics: "March" must not stem into "marchés". A request names its topics
    // early: the subject and the beginning of the text are enough. A signature left at the
    // end of the text ("Mark\nLyon Civic Tech Meetup") names who asks, not what about.
    let signature = source.signature.trim();
    let text = source.text.trim_end();
    let text = (!signature.is_empty())
        .then(|| text.strip_suffix(signature))
        .flatten()
        .unwrap_or(text);
    let topic_end = (subject.len() + 1 + text.len()).min(all.len());
    let mut head = all[..char_end(&all[..topic_end], TOPIC_WINDOW)].to_string();
    // So does their body's name in the text ("the Grenoble School of Public Management").
    // A web form's field says it outright; else the signature.
    let organisation = rules
        .field_labels
        .captures(text)
        .map(|c| c[1].trim().to_string())
        .or_else(|| organisation(source.signature, source.contact, rules, knowledge));
    if let Some(name) = organisation.as_deref().filter(|n| head.contains(n)) {
        head = head.replace(name, " ");
    }
    // Nor are sentences about travel costs or accommodation (looked for sentence by sentence
    // only in a text that has some).
    let logistics = |folded: &str| rules.logistics.any_in(folded);
    let topical: std::borrow::Cow<'_, str> = if logistics(&folded) {
        sentences(&head)
            .filter(|sentence| !logistics(&fold(sentence)))
            .collect::<String>()
            .into()
    } else {
        head.as_str().into()
    };
    let without_dates = DATE_CANDIDATE.replace_all(&topical, " ");
    // A body named in quotes ("la commission « Société, environnement et qualité de vie »") is
    // who asks, not what about.
    let without_dates = without_named_bodies(&without_dates, rules);
    // Asides in brackets give examples or the venue ("(écoles, gymnases, piscines)",
    // "(médiathèque, centre-ville)"), not what the request is about.
    let without_dates = ASIDE.replace_all(&without_dates, " ");
    let topics = main_topics(&without_dates, rules, knowledge.vocabulary);
    // The subject names the kind of contribution asked for when it names one ("Formation des
    // élus", "Invitation: opening keynote"), not just "intervention" (the last, general
    // format); else the text's likeliest one.
    let format_in = |text: &str| rules.format_words.groups_in(text).min();
    let general = rules.formats.len().saturating_sub(1);
    let format_index = format_in(&fold(subject))
        .filter(|&f| f != general)
        .or_else(|| format_in(&folded));
    let format = format_index.map(|i| rules.formats[i].name.clone());
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
    let normalized = crate::core::text::normalize_folded(&folded);
    let (places, online) = find_places(&all, knowledge.geography);
    RequestFields {
        contact: source.contact.cloned(),
        organisation,
        event,
        dates: event_dates(&all, dated(&all, today), today, |sentence| {
            format_index.is_some_and(|f| rules.format_words.groups_in(sentence).any(|g| g == f))
        }),
        places,
        online,
        topics,
        format,
        language: lang::detect_normalized(&normalized).unwrap_or(default_lang),
    }
}

/// The first `weekday` (French or English name) after today: "jeudi prochain" said on a
/// Thursday is a week later.
fn next_weekday(name: &str, today: NaiveDate) -> Option<NaiveDate> {
    use chrono::{Datelike, Weekday};
    let weekday = match name.to_lowercase().as_str() {
        "lundi" | "monday" => Weekday::Mon,
        "mardi" | "tuesday" => Weekday::Tue,
        "mercredi" | "wednesday" => Weekday::Wed,
        "jeudi" | "thursday" => Weekday::Thu,
        "vendredi" | "friday" => Weekday::Fri,
        "samedi" | "saturday" => Weekday::Sat,
        "dimanche" | "sunday" => Weekday::Sun,
        _ => return None,
    };
    let ahead = (7 + weekday.num_days_from_monday() as i64
        - today.weekday().num_days_from_monday() as i64)
        % 7;
    today.checked_add_days(chrono::Days::new(if ahead == 0 { 7 } else { ahead as u64 }))
}

/// Monday to Sunday of ISO week `week`, this year's if it has not ended yet, else next year's.
fn iso_week(week: u32, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    use chrono::Datelike;
    [today.iso_week().year(), today.iso_week().year() + 1]
        .into_iter()
        .filter_map(|year| NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon))
        .map(|monday| (monday, monday + chrono::Days::new(6)))
        .find(|&(_, sunday)| sunday >= today)
}

/// The sentences of a subject line and a text, line breaks kept: a sentence ends at '.', '!',
/// '?', at the subject's end, a blank line or a list item, never at a line break alone (mail is
/// wrapped mid-sentence: "… pas d'un budget important mais pourrons rembourser les\nfrais de
/// route.").
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let subject_end = text.find('\n');
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= text.len() {
            return None;
        }
        let end = (start..text.len())
            .find(|&i| match bytes[i] {
                b'.' | b'!' | b'?' => true,
                b'\n' => {
                    let next = text[i + 1..].trim_start_matches([' ', '\t']);
                    Some(i) == subject_end
                        || next.is_empty()
                        || next.starts_with(['\n', '\r', '-', '*', '•'])
                }
                _ => false,
            })
            .map_or(text.len(), |i| i + 1);
        let sentence = &text[start..end];
        start = end;
        Some(sentence)
    })
}

/// Most topics a request is filed under: a request is about one to three things, and a
/// longer list makes routing and speaker search follow its passing mentions.
const MAIN_TOPICS: usize = 3;

/// The request's main topics, from its subject and text (`text`: the subject, a line break,
/// the text).
/// A request names what it is about in its subject or again and again; everything else is a
/// passing mention ("des étudiants", "le portail de l'événement", "une plateforme de
/// visio"): a topic counts when the subject names it or the text names it twice, else the
/// most named ones. The event's own kind ("atelier", "webinaire", "datathon",
/// "formation") is the format, never a topic. The network's whole field ("open data") is the
/// topic only when no narrower one is.
fn main_topics(text: &str, rules: &MailRules, vocabulary: &Vocabulary) -> Vec<String> {
    // The event's kind: a phrase opening with a format's word ("formation des agents",
    // "atelier").
    let event_kind = |hit: &crate::core::topics::TopicHit| {
        hit.matched
            .split([' ', '\'', '-'])
            .next()
            .is_some_and(|word| rules.format_starts.contains(word))
    };
    // Each part read once: the subject is the text's first line.
    let (subject, body) = text.split_once('\n').unwrap_or((text, ""));
    // What the request says the contribution is about, when it says so.
    let mut asked: Vec<crate::core::topics::TopicIdx> = Vec::new();
    for clause in topic_clauses(body, rules) {
        let found = vocabulary.match_phrases(&clause);
        let field = found
            .field
            .filter(|&f| field_heads(&clause, f, &found, vocabulary));
        for topic in (found.hits.iter())
            .filter(|hit| !event_kind(hit))
            .map(|hit| hit.topic)
            .chain(field)
        {
            if !asked.contains(&topic) {
                asked.push(topic);
            }
        }
    }
    // Else the topics named most, and the field (the matcher's answer when nothing narrower
    // is named: weighed below, after the narrower topics).
    let not_topic = |hit: &crate::core::topics::TopicHit| {
        !vocabulary.get(hit.topic).field_phrases.is_empty() || event_kind(hit)
    };
    // (topic, mentions, named in the subject), in order of first mention.
    let mut counts: Vec<(crate::core::topics::TopicIdx, usize, bool)> = Vec::new();
    let mut count = |topic, in_subject: bool| match counts.iter_mut().find(|c| c.0 == topic) {
        Some(c) => {
            c.1 += 1;
            c.2 |= in_subject;
        }
        None => counts.push((topic, 1, in_subject)),
    };
    let mut field = None;
    for (part, in_subject) in [(subject, true), (body, false)] {
        let found = vocabulary.match_phrases(part);
        field = field.or(found.field);
        for hit in found.hits.iter().filter(|h| !not_topic(h)) {
            count(hit.topic, in_subject);
        }
    }
    // The field said to be what the talk is about counts like a narrower topic.
    for &topic in &asked {
        if !vocabulary.get(topic).field_phrases.is_empty() {
            count(topic, false);
        }
    }
    // A subject names the event as often as the talk ("Intervention aux Rencontres de l'ESS"):
    // it decides only when the text does not say what the talk is about.
    let main = |&&(topic, mentions, in_subject): &&(_, usize, bool)| {
        if asked.is_empty() {
            in_subject || mentions >= 2
        } else {
            asked.contains(&topic) || mentions - usize::from(in_subject) >= 2
        }
    };
    let mut chosen: Vec<_> = counts.iter().filter(main).collect();
    // A topic the request keeps coming back to makes the others, named once or a third as
    // often, passing mentions ("tourism data … publishing", "energy data … open and shared").
    let lead = chosen.iter().map(|c| c.1).max().unwrap_or(0);
    if lead >= 3 {
        chosen.retain(|c| c.1 >= 2 && 3 * c.1 > lead);
    }
    chosen.sort_by_key(|c| std::cmp::Reverse((c.2 || asked.contains(&c.0), c.1)));
    if chosen.is_empty() {
        // The most named topics (all of them when equally named: "les licences ouvertes et la
        // réutilisation"), else the field when the text says it.
        let most = counts.iter().map(|c| c.1).max();
        chosen.extend(counts.iter().filter(|c| Some(c.1) == most));
        if chosen.is_empty() {
            return field
                .map(|t| vec![vocabulary.get(t).id.clone()])
                .unwrap_or_default();
        }
    }
    chosen
        .into_iter()
        .take(MAIN_TOPICS)
        .map(|c| vocabulary.get(c.0).id.clone())
        .collect()
}

/// Whether a clause saying what a talk is about is about the network's whole field: it opens
/// with the field ("sur l'ouverture des données publiques locales", "about open data"), and no
/// narrower topic follows as its complement ("l'ouverture des données de consommation
/// d'énergie" is about energy).
fn field_heads(
    clause: &str,
    field: crate::core::topics::TopicIdx,
    found: &crate::core::topics::TopicMatch,
    vocabulary: &Vocabulary,
) -> bool {
    let normalized = crate::core::text::normalize(clause);
    let words: Vec<&str> = (normalized.split(' '))
        .filter(|w| !w.is_empty())
        .skip_while(|w| crate::core::text::is_stopword(w))
        .collect();
    let opening = words.join(" ");
    vocabulary.get(field).field_phrases.iter().any(|phrase| {
        let Some(after) = opening.strip_prefix(phrase.as_str()) else {
            return false;
        };
        let qualifies = ["de ", "des ", "du ", "d ", "of "]
            .iter()
            .any(|p| after.trim_start().starts_with(p))
            && found.hits.iter().any(|h| h.topic != field);
        (after.is_empty() || after.starts_with(' ')) && !qualifies
    })
}

/// The clauses of a request's text that say what the contribution is about (folded): from a
/// topic cue ("sur", "Le sujet :", "a talk on") to the sentence's end, a colon or a blank
/// line, asides in brackets and quoted bodies' names left out, each part of the text read
/// once.
fn topic_clauses(body: &str, rules: &MailRules) -> Vec<String> {
    let folded = fold(&without_named_bodies(body, rules));
    let mut clauses = Vec::new();
    let mut read_up_to = 0;
    // "sur", "on" within four words of what is asked ("une table ronde sur", "a 20-minute talk
    // on", "la mission d'information du Sénat sur").
    let after_ask = |at: usize| {
        let before = folded[..at].trim_end();
        let from = (before.rmatch_indices(char::is_whitespace).nth(3)).map_or(0, |(i, _)| i);
        rules.topic_preposition_after.any_in(&before[from..])
    };
    let mut cues: Vec<_> = (rules.topic_prepositions.spans_in(&folded).into_iter())
        .filter(|p| after_ask(p.start))
        .chain(rules.topic_cues.spans_in(&folded))
        .collect();
    cues.sort_by_key(|c| c.start);
    for cue in cues {
        if cue.start < read_up_to {
            continue;
        }
        // The cue's own colon ("Le sujet : …") opens the clause rather than ending it.
        let rest = &folded[cue.end..];
        let start = cue.end + (rest.len() - rest.trim_start_matches([' ', '\t', ':']).len());
        let (mut clause, mut depth, mut end) = (String::new(), 0usize, folded.len());
        for (i, c) in folded[start..].char_indices() {
            match c {
                '(' | '[' => depth += 1,
                ')' | ']' => depth = depth.saturating_sub(1),
                '.' | '!' | '?' | ';' | ':' if depth == 0 => {
                    end = start + i;
                    break;
                }
                '\n' if folded[start + i + 1..]
                    .trim_start_matches([' ', '\t', '\r'])
                    .starts_with('\n') =>
                {
                    end = start + i;
                    break;
                }
                _ if depth == 0 => clause.push(if c == '\n' { ' ' } else { c }),
                _ => {}
            }
        }
        read_up_to = end;
        clauses.push(clause);
    }
    clauses
}

/// Longest signature line read for the requester's body, in characters.
const SIGNATURE_LINE: usize = 160;

/// The requester's own body, never the event's venue or city. In their signature, the first
/// line part that names a known organisation or a kind of body ("Ville de …", "Université …",
/// "Présidente de l'association …"); else, after the line with their name, the first part that
/// is neither a job title nor a unit, an address or a place ("Events Lead, International Open
/// Data Standards Forum"); else the organisation of the directory's members who write from the
/// same mail domain.
pub fn organisation(
    signature: &str,
    contact: Option<&Mailbox>,
    rules: &MailRules,
    knowledge: &Knowledge<'_>,
) -> Option<String> {
    let lines: Vec<&str> = signature
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && l.chars().count() <= SIGNATURE_LINE)
        .take(rules.signature_lines)
        .collect();
    let mut first_plain: Option<&str> = None;
    // Without a line naming the person, a first line of two to four capitalised words is
    // taken for their name (a shared mailbox's display name is not a person's).
    let name_at = contact.and_then(|c| name_line(&lines, c)).or_else(|| {
        let words: Vec<&str> = lines.first()?.split_whitespace().collect();
        ((2..=4).contains(&words.len())
            && lines.len() >= 2
            && words
                .iter()
                .all(|w| w.chars().next().is_some_and(char::is_uppercase)))
        .then_some(0)
    });
    for (i, line) in lines.iter().enumerate() {
        let parts = line
            .split([',', '|', '–', '—', '/', '•', '(', ')'])
            .flat_map(|part| part.split(" - "))
            .map(|part| part.trim().trim_end_matches('.').trim())
            // "Pour le Conseil départemental des Landes", "For the City of Ghent".
            .map(|part| {
                [
                    "Pour le ",
                    "Pour la ",
                    "Pour l'",
                    "Pour l’",
                    "Pour les ",
                    "For the ",
                ]
                .iter()
                .find_map(|p| part.strip_prefix(p))
                .unwrap_or(part)
            })
            .filter(|part| !part.is_empty());
        for part in parts {
            // A known organisation's whole name (not "Rennes" inside "Université Rennes 2",
            // nor in a postal address).
            let normalized = crate::core::text::normalize(part);
            if let Some(name) = knowledge.organisations.longest_in_normalized(&normalized)
                && crate::core::text::normalize(&name) == normalized
            {
                return Some(part.to_string());
            }
            let folded = fold(part);
            // A kind of body; a part that is only the kind ("Quimper Bretagne Occidentale -
            // Communauté d'agglomération") takes the whole line.
            if let Some(found) = rules.body_patterns.iter().find_map(|r| r.find(&folded)) {
                let kind_only = found.as_str().trim().len() + 2 >= folded.len();
                return Some(if kind_only { line } else { part }.to_string());
            }
            // A title naming its body: "Présidente de l'association DataCampus".
            if let Some(of) = OF_BODY.find(part)
                && rules
                    .body_patterns
                    .iter()
                    .any(|r| r.is_match(&fold(&part[of.end()..])))
            {
                let body = &part[of.end()..];
                let mut chars = body.chars();
                return chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect());
            }
            if first_plain.is_none()
                && name_at.is_some_and(|n| i > n)
                && plain_name(part, &folded, rules, knowledge)
            {
                first_plain = Some(part);
            }
        }
    }
    let by_domain = || {
        let domain = contact?.address.rsplit_once('@')?.1;
        knowledge.domains.get(domain).cloned()
    };
    // A body writing under its own name ("Association des maires de l'Isère" <communication@…>).
    let display_name = || {
        let name = contact?.name.as_deref()?;
        let folded = fold(name);
        rules
            .body_patterns
            .iter()
            .any(|r| r.is_match(&folded))
            .then(|| name.to_string())
    };
    first_plain
        .map(str::to_string)
        .or_else(display_name)
        .or_else(by_domain)
}

/// "… de l'", "… du ", "… of the ": where a title names the body it serves.
static OF_BODY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:de l['’]|du |de la |des |d['’]|of the |at the )").expect("valid regex")
});

/// The signature line with the person's name: their display name, else their address's
/// local part, compared without case, accents, spaces or punctuation.
fn name_line(lines: &[&str], contact: &Mailbox) -> Option<usize> {
    let squash =
        |text: &str| -> String { fold(text).chars().filter(|c| c.is_alphanumeric()).collect() };
    let wanted: Vec<String> = match &contact.name {
        Some(name) => name
            .split_whitespace()
            .map(squash)
            .filter(|w| w.len() >= 3 && !HONORIFICS.contains(&w.as_str()))
            .collect(),
        None => contact
            .address
            .split('@')
            .next()
            .unwrap_or("")
            .split(['.', '-', '_'])
            .filter(|w| w.len() >= 3)
            .map(squash)
            .collect(),
    };
    if wanted.is_empty() || wanted.iter().any(String::is_empty) {
        return None;
    }
    lines.iter().position(|line| {
        let line = squash(line);
        wanted.iter().all(|w| line.contains(w.as_str()))
    })
}

/// Words before a name that signatures leave out.
const HONORIFICS: &[&str] = &[
    "prof",
    "professor",
    "mme",
    "mrs",
    "miss",
    "mlle",
    "monsieur",
    "madame",
];

/// A part that can only be the body's name: no job title or unit, no phone, postcode or
/// address, no place.
fn plain_name(part: &str, folded: &str, rules: &MailRules, knowledge: &Knowledge<'_>) -> bool {
    let digits = part.chars().filter(char::is_ascii_digit).count();
    part.chars().count() >= 3
        && digits < 4
        && !part.contains(['@', ':'])
        && !folded.contains("www.")
        && !rules.title_words.iter().any(|w| contains_word(folded, w))
        && (knowledge.geography.lookup(part).is_none() || Geography::is_landmark(part))
}

/// Mail domain → organisation name, from the directory's members: a domain whose members all
/// belong to one organisation, unless it is a shared one (webmail, internet providers).
pub fn domain_organisations(
    directory: &crate::core::directory::Directory,
    rules: &MailRules,
) -> std::collections::HashMap<String, String> {
    let mut seen: std::collections::HashMap<String, Option<String>> = Default::default();
    for member in &directory.members {
        let Some((_, domain)) = member.email.rsplit_once('@') else {
            continue;
        };
        let domain = domain.to_lowercase();
        if rules.shared_domains.contains(&domain) {
            continue;
        }
        let name = member
            .organisation
            .as_deref()
            .and_then(|id| directory.organisation(id))
            .map(|o| o.name.clone());
        seen.entry(domain)
            .and_modify(|known| {
                if *known != name {
                    *known = None;
                }
            })
            .or_insert(name);
    }
    seen.into_iter()
        .filter_map(|(domain, name)| Some((domain, name?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::geo::tests::geography;

    #[test]
    fn finds_dates_in_french_and_english_prose() {
        let today: NaiveDate = "2026-11-26".parse().unwrap();
        let cases: [(&str, &[&str]); 17] = [
            // The date a reply is due by is not the event's.
            (
                "l'audition aura lieu le 20 janvier 2027. Merci de répondre avant le 15 décembre prochain.",
                &["2027-01-20"],
            ),
            ("please reply by 4 December", &["2026-12-04"]),
            // Relative days and week numbers, when nothing more precise is written.
            (
                "on aimerait vous interviewer jeudi prochain vers 8h",
                &["2026-12-03"],
            ),
            ("next Monday if possible", &["2026-11-30"]),
            ("une formation en semaine 12", &["2027-03-22", "2027-03-28"]),
            ("notre conférence du 12 mars 2027 à Lyon", &["2027-03-12"]),
            ("les 5 et 6 février 2027", &["2027-02-05", "2027-02-06"]),
            ("du 5 au 7 mars", &["2027-03-05", "2027-03-07"]),
            ("from 9 to 10 June 2027", &["2027-06-09", "2027-06-10"]),
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
            (
                "du vendredi 26 au\ndimanche 28 février 2027",
                &["2027-02-26", "2027-02-28"],
            ),
            (
                "en juin prochain ; la date exacte sera fixée en janvier",
                &["2027-06-01", "2027-06-30"],
            ),
            ("any day in January works", &["2027-01-01", "2027-01-31"]),
            (
                "lundi ou en mars, mais le 4 mars de préférence",
                &["2027-03-04"],
            ),
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
    fn only_the_event_the_speaker_is_asked_to_is_dated() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let round_table = |sentence: &str| sentence.contains("table ronde");
        let cases: [(&str, &[&str]); 4] = [
            // A day just past, without its year, is a past mention, not next year's.
            (
                "Merci encore pour le 12 novembre ! Pourriez-vous revenir le 25 mars ?",
                &["2027-03-25"],
            ),
            // A preparatory call and a prize ceremony date something else.
            (
                "- jeudi 10 décembre : réunion de cadrage en visio
- 22 et 23 janvier 2027 : le datathon
- 16 février : remise des prix",
                &["2027-01-22", "2027-01-23"],
            ),
            // Of a two-day event, the day the contribution asked for is on.
            (
                "Les Assises se tiennent les 10 et 11 février 2027. Le jeudi 11 février au matin, une table ronde réunira les opérateurs.",
                &["2027-02-11"],
            ),
            // A year written keeps a date a year ahead.
            ("Le 12 novembre 2027, une table ronde.", &["2027-11-12"]),
        ];
        for (text, expected) in cases {
            let found: Vec<String> = event_dates(text, dated(text, today), today, round_table)
                .iter()
                .map(|d| d.to_string())
                .collect();
            assert_eq!(found, expected, "{text}");
        }
    }

    #[test]
    fn sentences_end_at_punctuation_blank_lines_and_list_items_not_at_wrapped_lines() {
        let text = "Sujet\nPas de budget mais nous pourrons rembourser les\nfrais. Merci !\n\nBonjour\n- un point\n- un autre";
        let found: Vec<&str> = sentences(text).collect();
        assert_eq!(
            found,
            [
                "Sujet\n",
                "Pas de budget mais nous pourrons rembourser les\nfrais.",
                " Merci !",
                "\n",
                "\nBonjour\n",
                "- un point\n",
                "- un autre"
            ]
        );
        assert_eq!(found.concat(), text);
    }

    #[test]
    fn clauses_start_at_topic_cues_and_end_at_the_sentence_or_a_colon() {
        let rules = crate::mail::rules::tests::rules();
        let cases: [(&str, &[&str]); 6] = [
            (
                "Nous cherchons un intervenant pour une table ronde sur l'usage des données\ngéographiques (îlots de chaleur, zones inondables) dans la planification. Merci.",
                &["l'usage des donnees geographiques  dans la planification"],
            ),
            // "sur" and "on" as places or days open nothing.
            (
                "Les données sont sur notre portail. Rendez-vous on Monday at the chamber of commerce.",
                &[],
            ),
            (
                "a 20-minute talk on data sharing across the border: agreements, common formats.",
                &["data sharing across the border"],
            ),
            // A cue's own colon opens the clause.
            (
                "Le sujet : créer la Base adresse locale, et vérifier la qualité des adresses.",
                &["creer la base adresse locale, et verifier la qualite des adresses"],
            ),
            // A quoted body's name is left out; text already read is not read twice.
            (
                "Dans le cadre de son étude sur l'ouverture des données, la commission « Société, environnement » souhaite vous entendre.",
                &["l'ouverture des donnees, la   souhaite vous entendre"],
            ),
            (
                "Pourriez-vous présenter comment publier ses budgets\n\nMerci",
                &["comment publier ses budgets"],
            ),
        ];
        for (body, want) in cases {
            assert_eq!(topic_clauses(body, &rules), want, "{body}");
        }
    }

    #[test]
    fn main_topics_follow_what_the_talk_is_about_over_the_subject_and_passing_mentions() {
        let rules = crate::mail::rules::tests::rules();
        let vocabulary =
            Vocabulary::from_toml(include_str!("../../data/topics.toml")).expect("topics");
        let cases: [(&str, &[&str]); 7] = [
            // A topic named again and again makes one named once a passing mention, even in
            // what the talk is about.
            (
                "Tourism data workshop\nWe would like a talk on how cities open tourism data and share it with partners. Tourism offices and tourist flows matter to us.",
                &["tourism"],
            ),
            // The subject names the event; the text says what the talk is about.
            (
                "Intervention aux Rencontres de l'ESS\nNous aimerions qu'une personne présente comment les associations peuvent réutiliser les données ouvertes.",
                &["reuse"],
            ),
            // The field as an item of its own counts next to a narrower topic.
            (
                "Audition\nLa mission d'information du Sénat sur l'ouverture des données publiques souhaite vous entendre. Elle porterait sur l'état de l'ouverture des données et sur la transparence des algorithmes publics.",
                &["algorithms-transparency", "open-data"],
            ),
            // The field qualifying a narrower topic does not.
            (
                "Table ronde\nUne table ronde sur l'ouverture des données de consommation d'énergie.",
                &["energy"],
            ),
            (
                "Demande\nUn cours sur la datavisualisation à partir de données ouvertes.",
                &["dataviz"],
            ),
            // No clause: the subject and what is named twice decide, as before.
            (
                "Atelier mobilité\nNous organisons une journée. Les données de mobilité et la mobilité douce.",
                &["transport"],
            ),
            (
                "Bonjour\nNous organisons un groupe de travail sur la publication des données budgétaires au format SCDL.",
                &["finance", "standards"],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(main_topics(text, &rules, &vocabulary), want, "{text}");
        }
    }

    #[test]
    fn finds_places_venues_abroad_and_online() {
        let geo = geography();
        let cases: [(&str, &[&str], bool); 15] = [
            // An online event's town in brackets is the time zone.
            (
                "a free online webinar at 11 a.m. Eastern (5 p.m. in Paris)",
                &[],
                true,
            ),
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
            // What is published, found or read online is no online event.
            (
                "une journée à Vitré : pourquoi les tournées sont dures à trouver en ligne",
                &["Vitré"],
                false,
            ),
            (
                "a talk in Lyon on the pages a city puts online",
                &["Lyon"],
                false,
            ),
            (
                "une formation à Vitré : nous avons mis ce géoportail en ligne l'an passé",
                &["Vitré"],
                false,
            ),
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

    #[test]
    fn the_organisation_is_the_requesters_body_never_the_venue() {
        let rules = crate::mail::rules::tests::rules();
        let vocabulary =
            Vocabulary::from_toml(include_str!("../../data/topics.toml")).expect("topics");
        let geography = geography();
        let organisations = crate::core::directory::OrganisationFinder::new(
            ["Rennes Métropole", "Métropole de Lyon"].into_iter(),
        );
        let domains: std::collections::HashMap<String, String> = [(
            "rennesmetropole.example".to_string(),
            "Rennes Métropole".to_string(),
        )]
        .into();
        let knowledge = Knowledge {
            vocabulary: &vocabulary,
            geography: &geography,
            organisations: &organisations,
            domains: &domains,
            directory: None,
        };
        let from = |address: &str| Mailbox {
            name: None,
            address: address.into(),
        };
        let cases: [(&str, &str, Option<&str>); 12] = [
            (
                "Hélène Vasseur\nChargée de mission, Association Territoires Connectés",
                "h@assoc.example",
                Some("Association Territoires Connectés"),
            ),
            (
                "Julien Garnier\nDirection du numérique\nVille de Saint-Malo\n02 99 00 00 00",
                "j@mairie.example",
                Some("Ville de Saint-Malo"),
            ),
            (
                "Camille\nService SIG | Rennes Métropole",
                "c@rennes.example",
                Some("Rennes Métropole"),
            ),
            (
                "Nadia Ferhat\nConseil départemental de la Gironde",
                "n@gironde.example",
                Some("Conseil départemental de la Gironde"),
            ),
            (
                "Marc Dubois - Maître de conférences - Université de Nantes",
                "m@univ.example",
                Some("Université de Nantes"),
            ),
            (
                "Sophie Lemaire\nQuimper Bretagne Occidentale - Communauté d'agglomération",
                "s@quimper.example",
                Some("Quimper Bretagne Occidentale - Communauté d'agglomération"),
            ),
            (
                "Alex",
                "alex@rennesmetropole.example",
                Some("Rennes Métropole"),
            ),
            // A known name inside another body's name, or in an address, is not that body.
            (
                "Léa\nMaître de conférences, Université de Lyon\n69000 Métropole de Lyon",
                "l@univ.example",
                Some("Université de Lyon"),
            ),
            ("Tom Keller\nProgramme manager", "tom@gmail.com", None),
            // After the person's name, the first part that is not a title, unit or place.
            (
                "Anne Dubreuil\nAdministratrice, secrétariat de la mission d'information\nSénat",
                "anne.dubreuil@senat.example",
                Some("Sénat"),
            ),
            (
                "Best wishes,\nSarah Connell\nEvents Lead, International Open Data Standards Forum\nGeneva, Switzerland",
                "sarah.connell@iodsf.example",
                Some("International Open Data Standards Forum"),
            ),
            (
                "Inès Carrère\nPrésidente de l'association DataCampus\nUniversité Toulouse Capitole",
                "ines@datacampus.example",
                Some("Association DataCampus"),
            ),
        ];
        for (signature, address, expected) in cases {
            let contact = from(address);
            assert_eq!(
                organisation(signature, Some(&contact), &rules, &knowledge).as_deref(),
                expected,
                "{signature}"
            );
        }
    }
}
