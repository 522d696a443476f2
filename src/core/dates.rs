//! Dates and periods typed in chat, French first and English second.
//!
//! Pure functions: "today" is always a parameter, so answers are reproducible and testable.
//! Input is normalised once by a small tokenizer (lowercase, accents folded with `deunicode`,
//! ordinal suffixes dropped, byte spans kept so errors and prefixes quote the text as typed);
//! the grammar is a handful of slice patterns over those tokens.

use std::fmt;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateError {
    /// Nothing recognisable as a date; carries the text as typed.
    Unparseable(String),
    /// A real calendar date that is before `today` (only when an explicit year made it past).
    InPast(NaiveDate),
    /// Looks like a date but does not exist (31/02/2027, 2027-13-01).
    Invalid(String),
    /// A period whose end is before its start.
    EndBeforeStart { start: NaiveDate, end: NaiveDate },
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unparseable(text) => write!(f, "not a date: {text:?}"),
            Self::InPast(date) => write!(f, "{date} is in the past"),
            Self::Invalid(text) => write!(f, "no such date: {text:?}"),
            Self::EndBeforeStart { start, end } => {
                write!(f, "period ends on {end}, before its start on {start}")
            }
        }
    }
}

impl std::error::Error for DateError {}

/// One day, in any of the forms people type in chat:
/// ISO `2027-03-12`; day-first numeric `12/03/2027`, `12-03-27`, `12.03.2027`, `12/3` (French
/// convention, also for English input); `12 mars 2027`, `1er mars`, `12 févr.`; English
/// `March 12, 2027`, `12th March`, `Sept 3`; relative `demain`, `après-demain`, `next monday`,
/// `lundi`, `dans 2 semaines`, `in a month`. A leading `le`/`on`/`the` and a weekday before an
/// explicit date (`jeudi 12 mars`) are ignored.
///
/// Without a year, the next occurrence on or after `today` is meant; an explicit year that makes
/// the date past is `InPast`. A bare weekday is the next such day, today excluded.
pub fn parse_date(text: &str, today: NaiveDate) -> Result<NaiveDate, DateError> {
    date_from_tokens(&tokenize(text), text.trim(), today)
}

/// A time of day typed in chat: `9h`, `9 h 30`, `09:30`, `14h05`, `9am`, `3.30 pm`, `midi`,
/// `noon`; with its byte range in `text`.
fn find_time(text: &str) -> Option<(std::ops::Range<usize>, chrono::NaiveTime)> {
    static TIME: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)(?:\b(?:à|a|at|vers|around)\s+)?(?:\b(?P<h>\d{1,2})\s*(?:h|:|\.)\s*(?P<m>\d{2})?\s*(?P<ampm>am|pm)?\b|\b(?P<h2>\d{1,2})\s*(?P<ampm2>am|pm)\b|\b(?P<noon>midi|noon)\b)",
        )
        .expect("time regex")
    });
    for found in TIME.captures_iter(text) {
        let whole = found.get(0)?;
        let (hour, minute) = if found.name("noon").is_some() {
            (12, 0)
        } else {
            let hour: u32 = found
                .name("h")
                .or(found.name("h2"))?
                .as_str()
                .parse()
                .ok()?;
            let minute: u32 = found
                .name("m")
                .map_or(Some(0), |m| m.as_str().parse().ok())?;
            let pm = found
                .name("ampm")
                .or(found.name("ampm2"))
                .map(|m| m.as_str().eq_ignore_ascii_case("pm"));
            let hour = match pm {
                Some(true) if hour < 12 => hour + 12,
                Some(false) if hour == 12 => 0,
                _ => hour,
            };
            (hour, minute)
        };
        // "12.03" is a date, not a time; a dot only separates hours with am/pm.
        let dotted = whole.as_str().contains('.') && found.name("ampm").is_none();
        if dotted {
            continue;
        }
        if let Some(time) = chrono::NaiveTime::from_hms_opt(hour, minute, 0) {
            return Some((whole.range(), time));
        }
    }
    None
}

/// A moment to publish at: a day as [`parse_date`] reads it (today when only a time is given)
/// and a time of day (`None` when not typed). "demain 9h", "le 3 mars à 14h30", "à 18h",
/// "tomorrow 9am", "2027-03-03 09:00".
pub fn parse_moment(
    text: &str,
    today: NaiveDate,
) -> Result<(NaiveDate, Option<chrono::NaiveTime>), DateError> {
    let (rest, time) = match find_time(text) {
        Some((range, time)) => (
            format!("{} {}", &text[..range.start], &text[range.end..]),
            Some(time),
        ),
        None => (text.to_string(), None),
    };
    let rest = rest.trim().trim_end_matches([',', '.', '?', '!']);
    // "pour lundi 9h", "for tomorrow 10am": the preposition only introduces the moment.
    let rest = ["pour ", "for ", "on "]
        .iter()
        .find_map(|p| {
            rest.get(..p.len())
                .filter(|head| head.eq_ignore_ascii_case(p))
                .map(|_| rest[p.len()..].trim_start())
        })
        .unwrap_or(rest);
    let day = if rest.is_empty() {
        today
    } else {
        parse_date(rest, today)?
    };
    match time {
        Some(_) => Ok((day, time)),
        None if rest.is_empty() => Err(DateError::Unparseable(text.trim().to_string())),
        None => Ok((day, None)),
    }
}

/// A period of unavailability, inclusive on both ends: `until X` / `jusqu'au X` (from today),
/// `from X to Y`, `du X au Y`, `X..Y`, `X - Y`, `between X and Y`, `entre le X et le Y`,
/// compact `du 3 au 14 mars`, `March 3 to 14`, `3-14 March`, a single day `X`, `pour 2 semaines`,
/// `cette semaine` (today..Sunday), `la semaine prochaine` (next Monday..Sunday).
///
/// An end without a year is the next occurrence on or after the start, so
/// `from 20 December to 5 January` crosses the new year.
pub fn parse_period(text: &str, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), DateError> {
    let open_ended = tokenize(text)
        .first()
        .is_some_and(|t| is_word(t, &["du", "from", "de", "depuis", "since", "starting"]));
    match strict_period(text, today) {
        // "la semaine du 14 décembre", "en juin 2027": a span found in the words ("du 12 mars"
        // alone has no end and stays refused).
        Err(DateError::Unparseable(typed)) if !open_ended => match find_when(text, today) {
            Some(Ok(when)) => Ok((when.first, when.last.unwrap_or(when.first))),
            _ => Err(DateError::Unparseable(typed)),
        },
        result => result,
    }
}

/// [`parse_period`] without looking for a span inside the words (which [`find_when`] does
/// with this).
fn strict_period(text: &str, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), DateError> {
    let typed = text.trim();
    let toks = tokenize(text);

    if let Some(words) = all_words(&toks) {
        let to_sunday = u64::from(6 - today.weekday().num_days_from_monday());
        if let Some(period) = month_period(&words, today) {
            return Ok(period);
        }
        match words.as_slice() {
            ["cette", "semaine"] | ["this", "week"] => {
                return checked(today, plus(today, to_sunday, typed)?, today);
            }
            // "la semaine pro", "sem pro": how it is typed in a hurry.
            ["la", "semaine" | "sem", "prochaine" | "pro"]
            | ["semaine" | "sem", "prochaine" | "pro"]
            | ["next", "week"] => {
                let monday = plus(today, to_sunday + 1, typed)?;
                return checked(monday, plus(monday, 6, typed)?, today);
            }
            ["the", "week", "after", "next"] | ["week", "after", "next"] => {
                let monday = plus(today, to_sunday + 8, typed)?;
                return checked(monday, plus(monday, 6, typed)?, today);
            }
            // "d'ici la fin du mois", "until the end of the month": from today on.
            ["d", "ici", "la", "fin", "du", "mois"]
            | ["jusqu", "a", "la", "fin", "du", "mois"]
            | ["until" | "by", "the", "end", "of", "the", "month"] => {
                return checked(today, end_of_month(today, typed)?, today);
            }
            _ => {}
        }
    }

    if let [first, rest @ ..] = toks.as_slice()
        && is_word(first, &["pour", "for"])
        && let Some((n, unit)) = amount(rest)
    {
        // Inclusive ends: "for 2 weeks" from a Thursday ends on the second Wednesday.
        if n == 0 {
            return Err(invalid(typed));
        }
        let end = shift(today, n, unit)
            .and_then(|d| d.pred_opt())
            .ok_or_else(|| invalid(typed))?;
        return checked(today, end, today);
    }

    if let [first, rest @ ..] = toks.as_slice()
        && is_word(first, &["until", "till", "jusqu"])
    {
        let rest = if is_word(first, &["jusqu"]) {
            strip_leading(rest, &["au", "a", "aux"])
        } else {
            rest
        };
        let end = resolve(
            parse_spec(rest, span(text, rest), today)?,
            today,
            today,
            span(text, rest),
        )?;
        return checked(today, end, today);
    }

    let (intro, body) = match toks.as_slice() {
        [first, rest @ ..] if is_word(first, &["from", "du", "de", "between", "entre"]) => {
            (word(first), rest)
        }
        all => (None, all),
    };

    // "à" separates only after "de" ("de lundi à vendredi"): elsewhere "a" is an article.
    let separator = body.iter().enumerate().skip(1).find(|(_, t)| {
        t.kind == Kind::Range
            || is_word(
                t,
                &["to", "until", "till", "through", "au", "and", "et", "jusqu"],
            )
            || (intro == Some("de") && is_word(t, &["a"]))
    });
    if let Some((i, sep)) = separator {
        let right = &body[i + 1..];
        let right = if is_word(sep, &["jusqu"]) {
            strip_leading(right, &["au", "a", "aux"])
        } else {
            right
        };
        return halves(&body[..i], right, text, today);
    }

    // No separator word: a single day, or "X - Y" where dashes may also sit inside the dates,
    // so every dash is tried. "from X" alone is open-ended, which a period cannot express.
    let mut best = None;
    if intro.is_none() {
        match date_from_tokens(body, typed, today) {
            Ok(day) => return Ok((day, day)),
            Err(DateError::Unparseable(_)) => {}
            Err(e) => best = Some(e),
        }
    }
    for (i, _) in body
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind == Kind::Dash)
    {
        match halves(&body[..i], &body[i + 1..], text, today) {
            Ok(period) => return Ok(period),
            Err(DateError::Unparseable(_)) => {}
            Err(e) => {
                best.get_or_insert(e);
            }
        }
    }
    Err(best.unwrap_or_else(|| DateError::Unparseable(typed.to_owned())))
}

/// A month's first and last days, its next occurrence from `today` (this month included).
fn whole_month(month: u32, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let year = if month < today.month() {
        today.year() + 1
    } else {
        today.year()
    };
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    Some((first, first.checked_add_months(Months::new(1))?.pred_opt()?))
}

/// Periods said with a month or the year's end: "tout le mois de décembre", "in February",
/// "jusqu'à fin décembre", "until the end of the year".
fn month_period(words: &[&str], today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let end_of_year = NaiveDate::from_ymd_opt(today.year(), 12, 31)?;
    match words {
        ["jusqu", "a", "la", "fin", "de", "l", "annee"]
        | ["until", "the", "end", "of", "the", "year"]
        | ["until", "end", "of", "year"]
        | ["until", "the", "end", "of", "year"]
        | ["jusqu", "a", "fin", "decembre"] => return Some((today, end_of_year)),
        _ => {}
    }
    let (last, head) = words.split_last()?;
    let (m, _) = month(last)?;
    let (first, end) = whole_month(m, today)?;
    match head {
        []
        | ["en"]
        | ["in"]
        | ["throughout"]
        | ["during"]
        | ["all"]
        | ["all", "of"]
        | ["courant"]
        | ["le", "mois", "de"]
        | ["tout", "le", "mois", "de"]
        | ["mois", "de"]
        | ["the", "whole", "of"]
        | ["for", "all", "of"] => Some((first.max(today), end)),
        ["jusqu", "a", "fin"]
        | ["jusqu", "a", "la", "fin", "de"]
        | ["until", "the", "end", "of"]
        | ["until", "end", "of"]
        | ["till", "the", "end", "of"] => Some((today, end)),
        _ => None,
    }
}

/// Splits a trailing date phrase off a command ("licensing in Bretagne on 12 March 2027",
/// "les licences le 12 mars 2027"). Tries the last introducer (`on`, `for`, `le`, `pour le`,
/// `pour`, `au`) first, then a bare trailing ISO or dd/mm/yyyy date. Returns `None` when no suffix
/// even tries to be a date (no number, month name or relative day word), so "on licensing" and
/// "sur le RGPD" stay part of the command; a suffix that tries and fails is `Some((before, Err))`.
pub fn split_trailing_date(
    text: &str,
    today: NaiveDate,
) -> Option<(String, Result<NaiveDate, DateError>)> {
    let toks = tokenize(text);
    let mut candidates: Vec<(usize, usize)> = Vec::new(); // (cut token, first date token)
    for (i, tok) in toks.iter().enumerate().rev() {
        if is_word(tok, &["on", "for", "le", "pour", "au"]) {
            // "pour le 12 mars": the cut goes before "pour", not between the two words.
            let cut = match i.checked_sub(1) {
                Some(p) if is_word(tok, &["le"]) && is_word(&toks[p], &["pour"]) => p,
                _ => i,
            };
            candidates.push((cut, i + 1));
        }
    }
    if let Some(start) = trailing_numeric_date(&toks) {
        candidates.push((start, start));
    }

    let mut first_failure = None;
    for (cut, from) in candidates {
        let suffix = &toks[from..];
        let Some(first) = suffix.first() else {
            continue;
        };
        let typed = text.get(first.start..).unwrap_or_default().trim();
        let result = date_from_tokens(suffix, typed, today);
        let before = text
            .get(..toks[cut].start)
            .unwrap_or_default()
            .trim()
            .trim_end_matches([',', ';', ':'])
            .trim_end()
            .to_owned();
        if result.is_ok() {
            return Some((before, result));
        }
        if first_failure.is_none() && suffix.iter().any(looks_like_date) {
            first_failure = Some((before, result));
        }
    }
    first_failure
}

/// A day or a span of days written somewhere in a line, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundWhen {
    /// Byte range in the text, introducer ("le", "on", "pour le") included.
    pub start: usize,
    pub end: usize,
    pub first: NaiveDate,
    /// The last day, for a span ("du 3 au 5 mars", "en juin", "next week").
    pub last: Option<NaiveDate>,
}

/// The first date or span of days in free text ("… à Rennes le 3 mars, svp", "in June",
/// "la semaine prochaine", "dans deux semaines", "entre le 3 et le 5 mars"). A number after
/// "dans le" or in brackets is a department ("dans le 22", "(35)"), never a day.
///
/// A date that is written in full but cannot be (a past year, 31 February) is an error with
/// the text typed, rather than a shorter date read inside it.
pub fn find_when(text: &str, today: NaiveDate) -> Option<Result<FoundWhen, (String, DateError)>> {
    let toks = tokenize(text);
    let found = |i: usize, j: usize, first: NaiveDate, last: Option<NaiveDate>| {
        // Take the introducer with it.
        let mut from = i;
        while from > 0
            && is_word(
                &toks[from - 1],
                &[
                    "le", "on", "the", "pour", "for", "au", "a", "en", "in", "of", "du", "courant",
                ],
            )
        {
            from -= 1;
        }
        Some(Ok(FoundWhen {
            start: toks[from].start,
            end: toks[j - 1].end,
            first,
            last,
        }))
    };
    for i in 0..toks.len() {
        let tok = &toks[i];
        let before = |n: usize| i.checked_sub(n).map(|k| &toks[k]);
        // Spans named by words.
        if let Some(w) = word(tok) {
            let next = toks.get(i + 1).and_then(word);
            let month_ahead = |months: u32| {
                let start = today
                    .with_day(1)?
                    .checked_add_months(chrono::Months::new(months))?;
                let end = start
                    .checked_add_months(chrono::Months::new(1))?
                    .pred_opt()?;
                Some((start, end))
            };
            let after = |n: usize| toks.get(i + n).and_then(word);
            if (w, next, after(2)) == ("week", Some("after"), Some("next")) {
                let (a, b) = strict_period("the week after next", today).ok()?;
                return found(i, i + 3, a, Some(b));
            }
            if w == "fin" && (next, after(2)) == (Some("du"), Some("mois")) {
                let (a, b) = strict_period("jusqu'à la fin du mois", today).ok()?;
                return found(i, i + 3, a, Some(b));
            }
            match (w, next) {
                ("next", Some("month")) | ("mois", Some("prochain" | "pro")) => {
                    let (a, b) = month_ahead(1)?;
                    return found(i, i + 2, a, Some(b));
                }
                ("next", Some("week")) | ("semaine" | "sem", Some("prochaine" | "pro")) => {
                    let (a, b) = strict_period("next week", today).ok()?;
                    return found(i, i + 2, a, Some(b));
                }
                ("semaine", Some("du")) | ("week", Some("of")) => {
                    if let Some(end) = (i + 3..=(i + 6).min(toks.len()))
                        .rev()
                        .find(|&e| date_from_tokens(&toks[i + 2..e], text, today).is_ok())
                    {
                        let day = date_from_tokens(&toks[i + 2..end], text, today).ok()?;
                        let monday = day
                            - chrono::Duration::days(i64::from(
                                day.weekday().num_days_from_monday(),
                            ));
                        return found(i, end, monday, Some(monday + chrono::Duration::days(6)));
                    }
                }
                _ => {}
            }
            // A month alone: the whole month, its next occurrence ("en juin", "in June 2027").
            // "mi-mars", "mid-March", "début mars", "fin janvier", "early February", "end of
            // January" say no day nor the whole month: no date.
            let part = |t: Option<&Token>| {
                t.and_then(word).is_some_and(|b| {
                    matches!(b, "mi" | "mid" | "debut" | "fin" | "early" | "late" | "end")
                })
            };
            let dashed = before(1).is_some_and(|t| t.kind == Kind::Dash);
            let of = before(1).and_then(word) == Some("of");
            if month(w).is_some() && (part(before(1)) || (dashed || of) && part(before(2))) {
                continue;
            }
            if let Some((m, _)) = month(w)
                && !before(1).is_some_and(|t| matches!(t.kind, Kind::Num { .. }))
                && !toks
                    .get(i + 1)
                    .is_some_and(|t| matches!(t.kind, Kind::Num { digits: 1 | 2, .. }))
            {
                let (year, end) = match toks.get(i + 1).map(|t| &t.kind) {
                    Some(Kind::Num { value, digits: 4 }) => (*value as i32, i + 2),
                    _ => {
                        let year = if m < today.month() {
                            today.year() + 1
                        } else {
                            today.year()
                        };
                        (year, i + 1)
                    }
                };
                let start = NaiveDate::from_ymd_opt(year, m, 1)?;
                let last = start
                    .checked_add_months(chrono::Months::new(1))?
                    .pred_opt()?;
                return found(i, end, start, Some(last));
            }
        }
        let may_start = looks_like_date(tok)
            || is_word(
                tok,
                &[
                    "du", "from", "between", "entre", "dans", "in", "jusqu", "until",
                ],
            );
        if !may_start {
            continue;
        }
        // "…, le 15": a day of the month alone, at the end of the line.
        if let Kind::Num {
            value,
            digits: 1 | 2,
        } = tok.kind
            && (1..=31).contains(&value)
            && i + 1 == toks.len()
            && before(1).is_some_and(|t| is_word(t, &["le", "the"]))
            && !before(2).is_some_and(|t| is_word(t, &["dans", "in"]))
        {
            let this_month = today.with_day(value);
            let day = match this_month {
                Some(d) if d >= today => Some(d),
                _ => today
                    .with_day(1)
                    .and_then(|d| d.checked_add_months(Months::new(1)))
                    .and_then(|d| d.with_day(value)),
            };
            if let Some(day) = day {
                return found(i, i + 1, day, None);
            }
        }
        if matches!(tok.kind, Kind::Num { .. }) {
            let department = (before(1).is_some_and(|t| is_word(t, &["le", "la"]))
                && before(2).is_some_and(|t| is_word(t, &["dans", "in"])))
                || text[..tok.start].trim_end().ends_with('(');
            if department {
                continue;
            }
        }
        // A piece without a number, a month, a day or a unit reads as no date
        // ([`may_hold_a_time`]): "in English", "dans le cadre" are not parsed.
        let Some(first_timely) = (i..(i + 8).min(toks.len())).find(|&k| timely(&toks[k])) else {
            continue;
        };
        for j in (first_timely + 1..=(i + 8).min(toks.len())).rev() {
            let piece = &text[tok.start..toks[j - 1].end];
            let ranged = toks[i..j].iter().any(|t| {
                t.kind == Kind::Range
                    || t.kind == Kind::Dash
                    || is_word(t, &["au", "to", "and", "et", "until", "jusqu", "through"])
            }) || is_word(tok, &["du", "from", "between", "entre"]);
            let result = if ranged {
                strict_period(piece, today).map(|(a, b)| (a, (a != b).then_some(b)))
            } else {
                date_from_tokens(&toks[i..j], piece, today).map(|day| (day, None))
            };
            match result {
                Ok((first, last)) => return found(i, j, first, last),
                Err(DateError::Unparseable(_)) => {}
                Err(e) => return Some(Err((piece.to_string(), e))),
            }
        }
    }
    None
}

/// A token, with the byte span of the typed text it came from.
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

#[derive(PartialEq, Eq)]
enum Kind {
    /// A number; `digits` tells a year ("2027", "27") from a day or a month.
    Num {
        value: u32,
        digits: usize,
    },
    /// Letters, or letters mixed with digits ("5g"), which are never part of a date.
    Word(String),
    Slash,
    Dash,
    /// A dot between two digits ("12.03.2027"); other dots mark abbreviations and vanish.
    Dot,
    /// Two or more dots, as in "X..Y".
    Range,
}

const ORDINAL_SUFFIXES: &[&str] = &["er", "ere", "re", "e", "eme", "st", "nd", "rd", "th"];

fn tokenize(text: &str) -> Vec<Token> {
    // Fold to ASCII lowercase once, each char remembering the span of the typed char it came from.
    let mut chars: Vec<(char, usize, usize)> = Vec::new();
    for (start, c) in text.char_indices() {
        let end = start + c.len_utf8();
        if c.is_ascii() {
            chars.push((c.to_ascii_lowercase(), start, end));
        } else {
            let folded = deunicode::deunicode_char(c).unwrap_or(" ");
            chars.extend(folded.chars().map(|a| (a.to_ascii_lowercase(), start, end)));
        }
    }
    let at = |j: Option<usize>, test: fn(&char) -> bool| {
        j.and_then(|j| chars.get(j)).is_some_and(|(c, ..)| test(c))
    };

    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&(c, start, _)) = chars.get(i) {
        let mut next = i + 1;
        let kind = match c {
            c if c.is_ascii_alphanumeric() => {
                while at(Some(next), char::is_ascii_alphanumeric) {
                    next += 1;
                }
                Some(word_or_number(
                    chars[i..next].iter().map(|(c, ..)| *c).collect(),
                ))
            }
            '/' => Some(Kind::Slash),
            // A hyphen inside a word ("après-demain") is just a space.
            '-' if at(i.checked_sub(1), char::is_ascii_alphabetic)
                && at(Some(i + 1), char::is_ascii_alphabetic) =>
            {
                None
            }
            '-' => Some(Kind::Dash),
            '.' => {
                while at(Some(next), |c| *c == '.') {
                    next += 1;
                }
                if next - i > 1 {
                    Some(Kind::Range)
                } else if at(i.checked_sub(1), char::is_ascii_digit)
                    && at(Some(i + 1), char::is_ascii_digit)
                {
                    Some(Kind::Dot)
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(kind) = kind {
            tokens.push(Token {
                kind,
                start,
                end: chars[next - 1].2,
            });
        }
        i = next;
    }
    without_day_fillers(tokens)
}

/// "le 22 de février", "il 17 di marzo", "le jour 3 de mars", as Spanish and Italian speakers
/// write French: the words between a day and its month go.
fn without_day_fillers(tokens: Vec<Token>) -> Vec<Token> {
    let word = |t: Option<&Token>, words: &[&str]| {
        t.is_some_and(|t| matches!(&t.kind, Kind::Word(w) if words.contains(&w.as_str())))
    };
    let is_month = |t: Option<&Token>| {
        t.is_some_and(|t| matches!(&t.kind, Kind::Word(w) if month(w).is_some()))
    };
    let is_day = |t: Option<&Token>| {
        t.is_some_and(|t| matches!(t.kind, Kind::Num { value, digits } if digits <= 2 && (1..=31).contains(&value)))
    };
    let fillers = ["de", "del", "di"];
    let keep: Vec<bool> = (0..tokens.len())
        .map(|k| {
            let (before, this, after) = (
                k.checked_sub(1).and_then(|b| tokens.get(b)),
                tokens.get(k),
                tokens.get(k + 1),
            );
            let between_day_and_month = word(this, &fillers) && is_day(before) && is_month(after);
            let day_word_before = word(this, &["jour", "giorno", "dia"])
                && is_day(after)
                && (is_month(tokens.get(k + 2))
                    || (word(tokens.get(k + 2), &fillers) && is_month(tokens.get(k + 3))));
            !(between_day_and_month || day_word_before)
        })
        .collect();
    if keep.iter().all(|&k| k) {
        return tokens;
    }
    tokens
        .into_iter()
        .zip(keep)
        .filter_map(|(token, keep)| keep.then_some(token))
        .collect()
}

/// "12", "1er", "12th" are numbers; anything else alphanumeric is a word.
fn word_or_number(run: String) -> Kind {
    let digits = run.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && (digits == run.len() || ORDINAL_SUFFIXES.contains(&&run[digits..])) {
        let value = run.bytes().take(digits).fold(0u32, |n, b| {
            n.saturating_mul(10).saturating_add(u32::from(b - b'0'))
        });
        Kind::Num { value, digits }
    } else {
        Kind::Word(run)
    }
}

fn word(tok: &Token) -> Option<&str> {
    match &tok.kind {
        Kind::Word(w) => Some(w),
        _ => None,
    }
}

fn is_word(tok: &Token, options: &[&str]) -> bool {
    word(tok).is_some_and(|w| options.contains(&w))
}

fn all_words(toks: &[Token]) -> Option<Vec<&str>> {
    toks.iter().map(word).collect()
}

fn strip_leading<'a>(mut toks: &'a [Token], words: &[&str]) -> &'a [Token] {
    while let [first, rest @ ..] = toks
        && is_word(first, words)
    {
        toks = rest;
    }
    toks
}

/// The typed text covered by `toks`.
fn span<'a>(text: &'a str, toks: &[Token]) -> &'a str {
    match (toks.first(), toks.last()) {
        (Some(first), Some(last)) => text.get(first.start..last.end).unwrap_or_default(),
        _ => "",
    }
}

/// (name, month, may come before the day). Only English puts the month first: "March 12".
const MONTHS: &[(&str, u32, bool)] = &[
    ("janvier", 1, false),
    ("janv", 1, false),
    ("january", 1, true),
    ("jan", 1, true),
    ("fevrier", 2, false),
    ("fevr", 2, false),
    ("fev", 2, false),
    ("february", 2, true),
    ("feb", 2, true),
    ("mars", 3, false),
    ("march", 3, true),
    ("mar", 3, true),
    ("avril", 4, false),
    ("avr", 4, false),
    ("april", 4, true),
    ("apr", 4, true),
    ("mai", 5, false),
    ("may", 5, true),
    ("juin", 6, false),
    ("june", 6, true),
    ("jun", 6, true),
    ("juillet", 7, false),
    ("juil", 7, false),
    ("july", 7, true),
    ("jul", 7, true),
    ("aout", 8, false),
    ("august", 8, true),
    ("aug", 8, true),
    ("septembre", 9, false),
    ("september", 9, true),
    ("sept", 9, true),
    ("sep", 9, true),
    ("octobre", 10, false),
    ("october", 10, true),
    ("oct", 10, true),
    ("novembre", 11, false),
    ("november", 11, true),
    ("nov", 11, true),
    ("decembre", 12, false),
    ("december", 12, true),
    ("dec", 12, true),
];

/// Whether a folded word names a month or a weekday ("mars", "friday").
pub fn names_a_day_or_month(word: &str) -> bool {
    month(word).is_some() || weekday(word).is_some()
}

/// Whether a folded word names a month ("mars", "sept", "february").
pub fn names_a_month(word: &str) -> bool {
    month(word).is_some()
}

fn month(word: &str) -> Option<(u32, bool)> {
    MONTHS
        .iter()
        .find(|(name, ..)| *name == word)
        .map(|&(_, m, first)| (m, first))
}

const WEEKDAYS: &[(&str, Weekday)] = &[
    ("lundi", Weekday::Mon),
    ("monday", Weekday::Mon),
    ("mardi", Weekday::Tue),
    ("tuesday", Weekday::Tue),
    ("mercredi", Weekday::Wed),
    ("wednesday", Weekday::Wed),
    ("jeudi", Weekday::Thu),
    ("thursday", Weekday::Thu),
    ("vendredi", Weekday::Fri),
    ("friday", Weekday::Fri),
    ("samedi", Weekday::Sat),
    ("saturday", Weekday::Sat),
    ("dimanche", Weekday::Sun),
    ("sunday", Weekday::Sun),
];

fn weekday(word: &str) -> Option<Weekday> {
    WEEKDAYS
        .iter()
        .find(|(name, _)| *name == word)
        .map(|&(_, wd)| wd)
}

/// Whether a text holds a word that a date or a period needs: a number, a month, a day of the
/// week, "demain", a unit ("deux semaines"). Without one, no part of it parses as either, and
/// trying each part would cost the square of its length.
pub fn may_hold_a_time(text: &str) -> bool {
    tokenize(text).iter().any(timely)
}

/// Whether a token is one a date or a period needs (see [`may_hold_a_time`]).
fn timely(tok: &Token) -> bool {
    looks_like_date(tok)
        || word(tok).is_some_and(|w| {
            unit(w).is_some()
                || matches!(
                    w,
                    "weekend" | "hui" | "hier" | "yesterday" | "fin" | "end" | "sem"
                )
        })
}

/// Whether a token shows that a suffix means to be a date, for `split_trailing_date`.
fn looks_like_date(tok: &Token) -> bool {
    match &tok.kind {
        Kind::Num { .. } => true,
        Kind::Word(w) => {
            month(w).is_some()
                || weekday(w).is_some()
                || [
                    "aujourd",
                    "today",
                    "demain",
                    "tomorrow",
                    "tmrw",
                    "tmr",
                    "tomorow",
                    "noel",
                    "christmas",
                ]
                .contains(&w.as_str())
        }
        _ => false,
    }
}

const COUNT_WORDS: &[(&str, u32)] = &[
    ("un", 1),
    ("une", 1),
    ("a", 1),
    ("an", 1),
    ("one", 1),
    ("deux", 2),
    ("two", 2),
    ("trois", 3),
    ("three", 3),
    ("quatre", 4),
    ("four", 4),
    ("cinq", 5),
    ("five", 5),
    ("six", 6),
    ("sept", 7),
    ("seven", 7),
    ("huit", 8),
    ("eight", 8),
    ("neuf", 9),
    ("nine", 9),
    ("dix", 10),
    ("ten", 10),
];

enum Unit {
    Day,
    Week,
    Month,
}

/// "3 jours", "a week", "deux mois".
fn amount(toks: &[Token]) -> Option<(u32, Unit)> {
    let [count, unit] = toks else {
        return None;
    };
    let n = match &count.kind {
        Kind::Num { value, .. } => *value,
        Kind::Word(w) => COUNT_WORDS.iter().find(|(name, _)| name == w)?.1,
        _ => return None,
    };
    Some((n, self::unit(word(unit)?)?))
}

/// The unit a word counts in ("jours", "weeks", "mois").
fn unit(word: &str) -> Option<Unit> {
    match word {
        "jour" | "jours" | "day" | "days" => Some(Unit::Day),
        "semaine" | "semaines" | "week" | "weeks" => Some(Unit::Week),
        "mois" | "month" | "months" => Some(Unit::Month),
        _ => None,
    }
}

/// Months keep the day of month, clamped to the month's end (31 January + 1 month = 28 February).
fn shift(date: NaiveDate, n: u32, unit: Unit) -> Option<NaiveDate> {
    match unit {
        Unit::Day => date.checked_add_days(Days::new(n.into())),
        Unit::Week => date.checked_add_days(Days::new(u64::from(n) * 7)),
        Unit::Month => date.checked_add_months(Months::new(n)),
    }
}

/// The last day of `date`'s month.
fn end_of_month(date: NaiveDate, typed: &str) -> Result<NaiveDate, DateError> {
    date.with_day(1)
        .and_then(|first| first.checked_add_months(Months::new(1)))
        .and_then(|next| next.pred_opt())
        .ok_or_else(|| invalid(typed))
}

fn plus(date: NaiveDate, days: u64, typed: &str) -> Result<NaiveDate, DateError> {
    date.checked_add_days(Days::new(days))
        .ok_or_else(|| invalid(typed))
}

fn invalid(typed: &str) -> DateError {
    DateError::Invalid(typed.to_owned())
}

/// What the text says, before a year is chosen.
enum Spec {
    /// Relative words, already anchored on today.
    Fixed(NaiveDate),
    /// A bare weekday: the next one after today.
    Weekday(Weekday),
    DayMonth {
        day: u32,
        month: u32,
        year: Option<i32>,
    },
    /// A lone day number, only meaningful as the start of "du 3 au 14 mars".
    Day(u32),
}

fn date_from_tokens(toks: &[Token], typed: &str, today: NaiveDate) -> Result<NaiveDate, DateError> {
    let date = resolve(parse_spec(toks, typed, today)?, today, today, typed)?;
    if date < today {
        return Err(DateError::InPast(date));
    }
    Ok(date)
}

fn parse_spec(toks: &[Token], typed: &str, today: NaiveDate) -> Result<Spec, DateError> {
    let toks = strip_leading(toks, &["le", "on", "the"]);
    if let Some(spec) = relative(toks, typed, today)? {
        return Ok(spec);
    }
    // A weekday before an explicit date ("jeudi 12 mars") is ignored: the date is more specific.
    let toks = match toks {
        [first, rest @ ..] if !rest.is_empty() && word(first).and_then(weekday).is_some() => {
            strip_leading(rest, &["the"])
        }
        _ => toks,
    };
    absolute(toks, typed)
}

fn relative(toks: &[Token], typed: &str, today: NaiveDate) -> Result<Option<Spec>, DateError> {
    if let [intro, rest @ ..] = toks
        && is_word(intro, &["dans", "in"])
        && let Some((n, unit)) = amount(rest)
    {
        let date = shift(today, n, unit).ok_or_else(|| invalid(typed))?;
        return Ok(Some(Spec::Fixed(date)));
    }
    let Some(words) = all_words(toks) else {
        return Ok(None);
    };
    let days = match words.as_slice() {
        ["aujourd", "hui"] | ["today"] => 0,
        ["demain"] | ["tomorrow"] | ["tmrw"] | ["tmr"] | ["tomorow"] => 1,
        ["apres", "demain"] | ["day", "after", "tomorrow"] => 2,
        // Christmas Day, the next one ("until Christmas", "jusqu'à Noël").
        ["noel"] | ["christmas"] | ["christmas", "day"] => {
            return Ok(Some(Spec::DayMonth {
                day: 25,
                month: 12,
                year: None,
            }));
        }
        [day] | [day, "prochain" | "prochaine"] | ["next" | "this" | "ce", day] => {
            return Ok(weekday(day).map(Spec::Weekday));
        }
        _ => return Ok(None),
    };
    plus(today, days, typed).map(|d| Some(Spec::Fixed(d)))
}

fn absolute(toks: &[Token], typed: &str) -> Result<Spec, DateError> {
    // "the 12th of March": "of" carries nothing.
    let kinds: Vec<&Kind> = toks
        .iter()
        .map(|t| &t.kind)
        .filter(|k| !matches!(k, Kind::Word(w) if w == "of"))
        .collect();
    let is_sep = |k: &Kind| matches!(k, Kind::Slash | Kind::Dash | Kind::Dot);
    let month_first = |w: &str| month(w).filter(|&(_, first)| first).map(|(m, _)| m);
    let dm = |day: u32, month: u32, year: Option<i32>| Ok(Spec::DayMonth { day, month, year });
    use Kind::{Num, Word};
    match kinds.as_slice() {
        [
            Num {
                value: y,
                digits: 4,
            },
            a,
            Num {
                value: m,
                digits: 1 | 2,
            },
            b,
            Num {
                value: d,
                digits: 1 | 2,
            },
        ] if is_sep(a) && is_sep(b) => dm(*d, *m, i32::try_from(*y).ok()),
        [
            Num {
                value: d,
                digits: 1 | 2,
            },
            a,
            Num {
                value: m,
                digits: 1 | 2,
            },
            b,
            Num { value: y, digits },
        ] if is_sep(a) && is_sep(b) => match (*digits, i32::try_from(*y)) {
            (2, Ok(y)) => dm(*d, *m, Some(2000 + y)),
            (4, Ok(y)) => dm(*d, *m, Some(y)),
            _ => Err(invalid(typed)),
        },
        [
            Num {
                value: d,
                digits: 1 | 2,
            },
            a,
            Num {
                value: m,
                digits: 1 | 2,
            },
        ] if is_sep(a) => dm(*d, *m, None),
        [
            Num {
                value: d,
                digits: 1 | 2,
            },
            Word(w),
        ] if let Some((m, _)) = month(w) => dm(*d, m, None),
        [
            Word(w),
            Num {
                value: d,
                digits: 1 | 2,
            },
        ] if let Some(m) = month_first(w) => dm(*d, m, None),
        [
            Num {
                value: d,
                digits: 1 | 2,
            },
            Word(w),
            Num {
                value: y,
                digits: 4,
            },
        ] if let Some((m, _)) = month(w) => dm(*d, m, i32::try_from(*y).ok()),
        [
            Word(w),
            Num {
                value: d,
                digits: 1 | 2,
            },
            Num {
                value: y,
                digits: 4,
            },
        ] if let Some(m) = month_first(w) => dm(*d, m, i32::try_from(*y).ok()),
        [
            Num {
                value: d,
                digits: 1 | 2,
            },
        ] => Ok(Spec::Day(*d)),
        _ => Err(DateError::Unparseable(typed.to_owned())),
    }
}

/// Turns a spec into a date on or after `floor` when no year is given (`floor` is today, or the
/// start of a period for its end). Past-ness is left to the callers.
fn resolve(
    spec: Spec,
    today: NaiveDate,
    floor: NaiveDate,
    typed: &str,
) -> Result<NaiveDate, DateError> {
    match spec {
        Spec::Fixed(date) => Ok(date),
        Spec::Weekday(wd) => {
            let from = today.succ_opt().ok_or_else(|| invalid(typed))?.max(floor);
            from.iter_days()
                .take(7)
                .find(|d| d.weekday() == wd)
                .ok_or_else(|| invalid(typed))
        }
        Spec::DayMonth {
            day,
            month,
            year: Some(year),
        } => NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| invalid(typed)),
        // Eight years always reach a 29 February.
        Spec::DayMonth {
            day,
            month,
            year: None,
        } => (floor.year()..=floor.year() + 8)
            .filter_map(|y| NaiveDate::from_ymd_opt(y, month, day))
            .find(|d| *d >= floor)
            .ok_or_else(|| invalid(typed)),
        Spec::Day(_) => Err(DateError::Unparseable(typed.to_owned())),
    }
}

/// Both sides of "X au Y"; a bare day borrows the other side's month ("du 3 au 14 mars",
/// "March 3 to 14").
fn halves(
    left: &[Token],
    right: &[Token],
    text: &str,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), DateError> {
    let (left_typed, right_typed) = (span(text, left), span(text, right));
    let first = parse_spec(left, left_typed, today)?;
    let last = parse_spec(right, right_typed, today)?;
    let (start, end) = match (first, last) {
        (
            Spec::Day(first),
            Spec::DayMonth {
                day: last,
                month,
                year,
            },
        )
        | (
            Spec::DayMonth {
                day: first,
                month,
                year,
            },
            Spec::Day(last),
        ) => {
            let start = resolve(
                Spec::DayMonth {
                    day: first,
                    month,
                    year,
                },
                today,
                today,
                left_typed,
            )?;
            let end = NaiveDate::from_ymd_opt(start.year(), month, last)
                .ok_or_else(|| invalid(right_typed))?;
            (start, end)
        }
        (first, last) => {
            let start = resolve(first, today, today, left_typed)?;
            (start, resolve(last, today, start, right_typed)?)
        }
    };
    checked(start, end, today)
}

/// A past end is reported before anything else: the whole period is then over.
fn checked(
    start: NaiveDate,
    end: NaiveDate,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), DateError> {
    if end < today {
        Err(DateError::InPast(end))
    } else if start < today {
        Err(DateError::InPast(start))
    } else if end < start {
        Err(DateError::EndBeforeStart { start, end })
    } else {
        Ok((start, end))
    }
}

/// Index of a trailing "2027-03-12" or "12/03/2027" with no introducer before it.
fn trailing_numeric_date(toks: &[Token]) -> Option<usize> {
    let start = toks.len().checked_sub(5)?;
    let is_num = |t: &Token, digits: &[usize]| matches!(t.kind, Kind::Num { digits: n, .. } if digits.contains(&n));
    let is_sep = |t: &Token| matches!(t.kind, Kind::Slash | Kind::Dash | Kind::Dot);
    let [a, s1, b, s2, c] = &toks[start..] else {
        return None;
    };
    let shaped = is_sep(s1)
        && is_sep(s2)
        && is_num(b, &[1, 2])
        && ((is_num(a, &[4]) && is_num(c, &[1, 2])) || (is_num(a, &[1, 2]) && is_num(c, &[4])));
    shaped.then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("test date exists")
    }

    /// Thursday.
    fn today() -> NaiveDate {
        d(2026, 11, 26)
    }

    fn ok(y: i32, m: u32, day: u32) -> Result<NaiveDate, DateError> {
        Ok(d(y, m, day))
    }

    fn past(y: i32, m: u32, day: u32) -> Result<NaiveDate, DateError> {
        Err(DateError::InPast(d(y, m, day)))
    }

    fn invalid(text: &str) -> Result<NaiveDate, DateError> {
        Err(DateError::Invalid(text.into()))
    }

    fn unparseable(text: &str) -> Result<NaiveDate, DateError> {
        Err(DateError::Unparseable(text.into()))
    }

    /// Runs every case and reports all mismatches at once.
    fn check<T: PartialEq + fmt::Debug>(cases: Vec<(&str, T)>, f: impl Fn(&str) -> T) {
        let failures: Vec<String> = cases
            .into_iter()
            .filter_map(|(input, want)| {
                let got = f(input);
                (got != want).then(|| format!("{input:?}: got {got:?}, want {want:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn parse_date_table() {
        let cases = vec![
            // Numeric, day first.
            ("2027-03-12", ok(2027, 3, 12)),
            ("12/03/2027", ok(2027, 3, 12)),
            ("12-03-2027", ok(2027, 3, 12)),
            ("12.03.2027", ok(2027, 3, 12)),
            ("12/03/27", ok(2027, 3, 12)),
            ("12/03", ok(2027, 3, 12)),
            ("12/3", ok(2027, 3, 12)),
            ("26/11", ok(2026, 11, 26)),
            ("25/11", ok(2027, 11, 25)),
            ("29/02", ok(2028, 2, 29)),
            ("26/11/2026", ok(2026, 11, 26)),
            // French month names.
            ("12 mars 2027", ok(2027, 3, 12)),
            ("1er mars", ok(2027, 3, 1)),
            ("12 mars", ok(2027, 3, 12)),
            ("  12   MARS  ", ok(2027, 3, 12)),
            ("le 12 mars 2027.", ok(2027, 3, 12)),
            ("12 février", ok(2027, 2, 12)),
            ("12 fevrier", ok(2027, 2, 12)),
            // As Spanish and Italian speakers write French.
            ("le 22 de février", ok(2027, 2, 22)),
            ("le jour 3 de mars", ok(2027, 3, 3)),
            ("12 févr.", ok(2027, 2, 12)),
            ("12 fev", ok(2027, 2, 12)),
            ("3 janv.", ok(2027, 1, 3)),
            ("5 avr.", ok(2027, 4, 5)),
            ("14 juil.", ok(2027, 7, 14)),
            ("15 août", ok(2027, 8, 15)),
            ("2 sept.", ok(2027, 9, 2)),
            ("15 oct.", ok(2027, 10, 15)),
            ("30 nov.", ok(2026, 11, 30)),
            ("25 déc.", ok(2026, 12, 25)),
            ("jeudi 12 mars", ok(2027, 3, 12)),
            ("le lundi 30 novembre", ok(2026, 11, 30)),
            // English.
            ("March 12", ok(2027, 3, 12)),
            ("March 12, 2027", ok(2027, 3, 12)),
            ("12 March 2027", ok(2027, 3, 12)),
            ("12th March", ok(2027, 3, 12)),
            ("March 12th", ok(2027, 3, 12)),
            ("on March 12!", ok(2027, 3, 12)),
            ("the 12th of March", ok(2027, 3, 12)),
            ("Thursday, March 12", ok(2027, 3, 12)),
            ("Jan 5", ok(2027, 1, 5)),
            ("Feb 1st", ok(2027, 2, 1)),
            ("Apr 2nd", ok(2027, 4, 2)),
            ("Jun 3rd", ok(2027, 6, 3)),
            ("Jul 4", ok(2027, 7, 4)),
            ("Aug 15", ok(2027, 8, 15)),
            ("Sep 30", ok(2027, 9, 30)),
            ("Sept 3", ok(2027, 9, 3)),
            ("Oct 1", ok(2027, 10, 1)),
            ("Nov 30", ok(2026, 11, 30)),
            ("Dec 24", ok(2026, 12, 24)),
            // Relative.
            ("aujourd'hui", ok(2026, 11, 26)),
            ("Aujourd’hui", ok(2026, 11, 26)),
            ("today", ok(2026, 11, 26)),
            ("demain", ok(2026, 11, 27)),
            ("Tomorrow", ok(2026, 11, 27)),
            ("après-demain", ok(2026, 11, 28)),
            ("apres demain", ok(2026, 11, 28)),
            ("the day after tomorrow", ok(2026, 11, 28)),
            ("lundi prochain", ok(2026, 11, 30)),
            ("next monday", ok(2026, 11, 30)),
            ("lundi", ok(2026, 11, 30)),
            ("Monday", ok(2026, 11, 30)),
            ("jeudi", ok(2026, 12, 3)),
            ("next thursday", ok(2026, 12, 3)),
            ("dimanche", ok(2026, 11, 29)),
            ("dans 3 jours", ok(2026, 11, 29)),
            ("in 3 days", ok(2026, 11, 29)),
            ("dans 2 semaines", ok(2026, 12, 10)),
            ("dans deux semaines", ok(2026, 12, 10)),
            ("in 2 weeks", ok(2026, 12, 10)),
            ("dans un mois", ok(2026, 12, 26)),
            ("in a month", ok(2026, 12, 26)),
            // Errors.
            ("blah", unparseable("blah")),
            ("", unparseable("")),
            ("12", unparseable("12")),
            ("mars 12", unparseable("mars 12")),
            ("dans 3 lunes", unparseable("dans 3 lunes")),
            ("31/02/2027", invalid("31/02/2027")),
            ("31/02", invalid("31/02")),
            ("13/13/2027", invalid("13/13/2027")),
            ("2027-13-01", invalid("2027-13-01")),
            ("le 45 mars", invalid("le 45 mars")),
            ("12/03/202", invalid("12/03/202")),
            ("2020-03-12", past(2020, 3, 12)),
            ("le 12 mars 2025", past(2025, 3, 12)),
            ("25/11/2026", past(2026, 11, 25)),
        ];
        for (input, expected) in &cases {
            if expected.is_ok() {
                assert!(may_hold_a_time(input), "{input}");
            }
        }
        check(cases, |input| parse_date(input, today()));
    }

    #[test]
    fn the_middle_of_a_month_is_no_date() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        for text in [
            "un atelier mi-mars à Rennes",
            "mid-March in Lyon",
            "vers la mi mars",
            "un atelier début mars à Rennes",
            "fin janvier à Lyon",
            "in early February",
            "at the end of January",
        ] {
            assert!(find_when(text, today).is_none(), "{text}");
        }
        assert!(find_when("un atelier en mars à Rennes", today).is_some());
    }

    #[test]
    fn spans_said_in_words_are_found_inside_a_line() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        for (text, first, last) in [
            (
                "someone for a workshop in Lyon the week after next",
                d(2026, 12, 7),
                d(2026, 12, 13),
            ),
            (
                "qqn en Bretagne sur l'adressage d'ici la fin du mois ?",
                today,
                d(2026, 11, 30),
            ),
        ] {
            let when = find_when(text, today).and_then(Result::ok).expect(text);
            assert_eq!((when.first, when.last), (first, Some(last)), "{text}");
        }
    }

    #[test]
    fn a_month_later_is_clamped_to_month_end() {
        assert_eq!(parse_date("in a month", d(2027, 1, 31)), ok(2027, 2, 28));
        assert_eq!(parse_date("dans un mois", d(2028, 1, 31)), ok(2028, 2, 29));
    }

    #[test]
    fn parse_period_table() {
        type Period = Result<(NaiveDate, NaiveDate), DateError>;
        let p = |a: NaiveDate, b: NaiveDate| -> Period { Ok((a, b)) };
        let cases: Vec<(&str, Period)> = vec![
            ("du 3 au 14 mars", p(d(2027, 3, 3), d(2027, 3, 14))),
            ("du 3 au 14 mars 2027", p(d(2027, 3, 3), d(2027, 3, 14))),
            ("Du 1er au 3 mars", p(d(2027, 3, 1), d(2027, 3, 3))),
            ("March 3 to 14", p(d(2027, 3, 3), d(2027, 3, 14))),
            ("3-14 March", p(d(2027, 3, 3), d(2027, 3, 14))),
            (
                "from 20 to 25 December",
                p(d(2026, 12, 20), d(2026, 12, 25)),
            ),
            ("until 2027-01-15", p(today(), d(2027, 1, 15))),
            ("jusqu'au 15 janvier", p(today(), d(2027, 1, 15))),
            ("jusqu au 15/01", p(today(), d(2027, 1, 15))),
            ("jusqu’à demain", p(today(), d(2026, 11, 27))),
            (
                "from 20 December to 5 January",
                p(d(2026, 12, 20), d(2027, 1, 5)),
            ),
            (
                "du 20 décembre au 5 janvier",
                p(d(2026, 12, 20), d(2027, 1, 5)),
            ),
            ("2027-03-12..2027-03-14", p(d(2027, 3, 12), d(2027, 3, 14))),
            ("12/03/2027 - 14/03/2027", p(d(2027, 3, 12), d(2027, 3, 14))),
            ("12-03-2027 - 14-03-2027", p(d(2027, 3, 12), d(2027, 3, 14))),
            ("12 mars au 14 mars", p(d(2027, 3, 12), d(2027, 3, 14))),
            (
                "between March 3 and March 14",
                p(d(2027, 3, 3), d(2027, 3, 14)),
            ),
            (
                "entre le 3 mars et le 14 mars",
                p(d(2027, 3, 3), d(2027, 3, 14)),
            ),
            ("from monday to friday", p(d(2026, 11, 30), d(2026, 12, 4))),
            ("du lundi au vendredi", p(d(2026, 11, 30), d(2026, 12, 4))),
            ("de demain à vendredi", p(d(2026, 11, 27), d(2026, 11, 27))),
            ("12 mars", p(d(2027, 3, 12), d(2027, 3, 12))),
            ("12-03-2027", p(d(2027, 3, 12), d(2027, 3, 12))),
            ("demain", p(d(2026, 11, 27), d(2026, 11, 27))),
            ("pour 2 semaines", p(today(), d(2026, 12, 9))),
            ("for 2 weeks", p(today(), d(2026, 12, 9))),
            ("for 3 days", p(today(), d(2026, 11, 28))),
            ("pour un mois", p(today(), d(2026, 12, 25))),
            ("cette semaine", p(today(), d(2026, 11, 29))),
            ("this week", p(today(), d(2026, 11, 29))),
            ("la semaine prochaine", p(d(2026, 11, 30), d(2026, 12, 6))),
            ("la semaine pro", p(d(2026, 11, 30), d(2026, 12, 6))),
            ("the week after next", p(d(2026, 12, 7), d(2026, 12, 13))),
            ("d'ici la fin du mois", p(today(), d(2026, 11, 30))),
            ("until Christmas", p(today(), d(2026, 12, 25))),
            ("jusqu'à Noël", p(today(), d(2026, 12, 25))),
            ("next week", p(d(2026, 11, 30), d(2026, 12, 6))),
            // Errors.
            (
                "du 14 au 3 mars",
                Err(DateError::EndBeforeStart {
                    start: d(2027, 3, 14),
                    end: d(2027, 3, 3),
                }),
            ),
            (
                "from 2027-03-10 to 2027-03-05",
                Err(DateError::EndBeforeStart {
                    start: d(2027, 3, 10),
                    end: d(2027, 3, 5),
                }),
            ),
            ("until 2025-06-01", Err(DateError::InPast(d(2025, 6, 1)))),
            (
                "du 1er au 3 mars 2025",
                Err(DateError::InPast(d(2025, 3, 3))),
            ),
            (
                "du 31/02/2027 au 5/03/2027",
                Err(DateError::Invalid("31/02/2027".into())),
            ),
            (
                "31/02/2027 - 5/03/2027",
                Err(DateError::Invalid("31/02/2027".into())),
            ),
            (
                "du 12 mars",
                Err(DateError::Unparseable("du 12 mars".into())),
            ),
            (
                "pour 0 jours",
                Err(DateError::Invalid("pour 0 jours".into())),
            ),
            ("blah", Err(DateError::Unparseable("blah".into()))),
        ];
        for (input, expected) in &cases {
            if expected.is_ok() {
                assert!(may_hold_a_time(input), "{input}");
            }
        }
        check(cases, |input| parse_period(input, today()));
    }

    #[test]
    fn split_trailing_date_table() {
        type Split = Option<(String, Result<NaiveDate, DateError>)>;
        let some =
            |before: &str, r: Result<NaiveDate, DateError>| -> Split { Some((before.into(), r)) };
        let cases: Vec<(&str, Split)> = vec![
            (
                "RGPD in Occitanie in English on 2027-03-12",
                some("RGPD in Occitanie in English", ok(2027, 3, 12)),
            ),
            (
                "les licences ouvertes en Bretagne le 12 mars 2027",
                some("les licences ouvertes en Bretagne", ok(2027, 3, 12)),
            ),
            (
                "trouve un intervenant sur les licences le 12 mars 2027",
                some("trouve un intervenant sur les licences", ok(2027, 3, 12)),
            ),
            (
                "find a speaker on licensing in Bretagne on 12 March 2027",
                some("find a speaker on licensing in Bretagne", ok(2027, 3, 12)),
            ),
            ("licensing on monday", some("licensing", ok(2026, 11, 30))),
            (
                "un intervenant pour le 12 mars",
                some("un intervenant", ok(2027, 3, 12)),
            ),
            (
                "un intervenant pour demain",
                some("un intervenant", ok(2026, 11, 27)),
            ),
            ("someone for tomorrow", some("someone", ok(2026, 11, 27))),
            ("intervenant au 12/03", some("intervenant", ok(2027, 3, 12))),
            (
                "Licences Ouvertes, le 12 mars",
                some("Licences Ouvertes", ok(2027, 3, 12)),
            ),
            (
                "speaker on licensing on Thursday, March 12",
                some("speaker on licensing", ok(2027, 3, 12)),
            ),
            (
                "speaker on RGPD on the day after tomorrow",
                some("speaker on RGPD", ok(2026, 11, 28)),
            ),
            ("open data 2027-03-12", some("open data", ok(2027, 3, 12))),
            ("open data 12/03/2027", some("open data", ok(2027, 3, 12))),
            (
                "licensing on 31/02/2027",
                some("licensing", invalid("31/02/2027")),
            ),
            (
                "intervenant le 45 mars",
                some("intervenant", invalid("45 mars")),
            ),
            (
                "licensing on 2020-01-01",
                some("licensing", past(2020, 1, 1)),
            ),
            ("licensing", None),
            ("le RGPD", None),
            ("find a speaker on licensing", None),
            ("trouve un intervenant sur le RGPD", None),
            ("speaker on 5G networks", None),
            ("upgrade to version 1.2.3", None),
        ];
        check(cases, |input| split_trailing_date(input, today()));
    }

    #[test]
    fn display_is_short_english() {
        let err = DateError::EndBeforeStart {
            start: d(2027, 3, 14),
            end: d(2027, 3, 3),
        };
        assert_eq!(
            err.to_string(),
            "period ends on 2027-03-03, before its start on 2027-03-14"
        );
        assert_eq!(
            DateError::Invalid("31/02".into()).to_string(),
            "no such date: \"31/02\""
        );
    }
    #[test]
    fn moments_are_a_day_and_maybe_a_time() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let at = |h, m| Some(chrono::NaiveTime::from_hms_opt(h, m, 0).unwrap());
        let cases = [
            ("demain 9h", Ok((day(2026, 11, 27), at(9, 0)))),
            ("demain à 9 h 30", Ok((day(2026, 11, 27), at(9, 30)))),
            ("le 3 mars à 14h30", Ok((day(2027, 3, 3), at(14, 30)))),
            ("à 18h", Ok((today, at(18, 0)))),
            ("tomorrow 9am", Ok((day(2026, 11, 27), at(9, 0)))),
            ("tomorrow at 3.30 pm", Ok((day(2026, 11, 27), at(15, 30)))),
            ("2027-03-03 09:00", Ok((day(2027, 3, 3), at(9, 0)))),
            ("12/03 à midi", Ok((day(2027, 3, 12), at(12, 0)))),
            ("lundi", Ok((day(2026, 11, 30), None))),
            ("pour lundi 9h", Ok((day(2026, 11, 30), at(9, 0)))),
            ("for Friday at noon?", Ok((day(2026, 11, 27), at(12, 0)))),
            ("for tomorrow 10am", Ok((day(2026, 11, 27), at(10, 0)))),
            ("12.03", Ok((day(2027, 3, 12), None))),
            ("25h", Err(())),
            ("bientôt", Err(())),
        ];
        for (text, expected) in cases {
            let found = parse_moment(text, today).map_err(|_| ());
            assert_eq!(found, expected, "{text}");
        }
    }
}
