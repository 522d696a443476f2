//! Free phrasing. A line that no command pattern takes is read for the cue words each command
//! lists in its file (`cues.fr`, `cues.en`), in any order, with typos, missing accents and
//! elisions forgiven; the arguments are then read from the rest of the line by shared slot
//! extractors. Two commands cued equally strongly get a clarifying question, not a guess.

use super::registry::{ArgKind, ArgSpec};
use crate::core::lang::Lang;
use crate::core::text::{Folded, close_enough};
use regex::Regex;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// A chat line cut into lowercase ASCII words, each remembering where it was typed.
pub struct Words<'a> {
    pub line: &'a str,
    folded: Folded,
    /// Byte ranges of the words in the folded text.
    spans: Vec<(usize, usize)>,
    /// One bit per first letter (a–z) of the words: most cues are ruled out by it at once.
    initials: u32,
}

fn initial_bit(word: &str) -> u32 {
    match word.as_bytes().first() {
        Some(b @ b'a'..=b'z') => 1 << (b - b'a'),
        _ => 1 << 26,
    }
}

impl<'a> Words<'a> {
    pub fn new(line: &'a str) -> Self {
        let folded = Folded::new(line);
        let mut spans = Vec::new();
        let mut start = None;
        for (i, b) in folded.text.bytes().enumerate() {
            match (b.is_ascii_alphanumeric(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    spans.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            spans.push((s, folded.text.len()));
        }
        let initials = spans
            .iter()
            .fold(0, |bits, &(s, e)| bits | initial_bit(&folded.text[s..e]));
        Words {
            line,
            folded,
            spans,
            initials,
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn iter_words(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.word(i))
    }

    pub fn word(&self, i: usize) -> &str {
        let (s, e) = self.spans[i];
        &self.folded.text[s..e]
    }

    /// Byte offset in the typed line where word `i` starts (the line's end past the last).
    pub fn start_of(&self, i: usize) -> usize {
        match self.spans.get(i) {
            Some(&(s, _)) => self.folded.original_range(s, s).0,
            None => self.line.len(),
        }
    }

    /// Byte offset in the typed line just after word `i`.
    pub fn end_of(&self, i: usize) -> usize {
        let (_, e) = self.spans[i];
        self.folded.original_range(e, e).0
    }
}

/// One word of a cue: as written, a prefix ("trouv*"), or a gap of a few words ("...").
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Word(String),
    Prefix(String),
    Gap,
}

/// Words a cue may skip at a gap: "mets l'accessibilité numérique dans mes compétences" still
/// reads "mets … compétences".
const GAP: usize = 5;

#[derive(Debug, Clone)]
pub struct Cue {
    pub lang: Lang,
    parts: Vec<Part>,
    /// How much the cue says: its words, gaps excluded.
    pub weight: usize,
    /// Written with a leading `~`: a generic cue ("quelqu'un", "anyone") that counts only when
    /// the command's arguments read well ("quelqu'un a vu mon chargeur ?" is no search).
    pub weak: bool,
}

impl Cue {
    /// Parses a cue as written in a command file: words folded to ASCII, `*` ending a prefix,
    /// `...` a gap.
    pub fn parse(text: &str, lang: Lang) -> Result<Cue, String> {
        let (text, weak) = match text.strip_prefix('~') {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        let mut parts = Vec::new();
        for raw in text.split_whitespace() {
            if raw == "..." {
                parts.push(Part::Gap);
                continue;
            }
            let (body, prefix) = match raw.strip_suffix('*') {
                Some(body) => (body, true),
                None => (raw, false),
            };
            let words = Words::new(body);
            let count = words.len();
            if count == 0 {
                return Err(format!("cue {text:?}: '{raw}' has no letters"));
            }
            for i in 0..count {
                let w = words.word(i).to_string();
                parts.push(if prefix && i + 1 == count {
                    Part::Prefix(w)
                } else {
                    Part::Word(w)
                });
            }
        }
        if matches!(parts.first(), Some(Part::Gap) | None) || parts.last() == Some(&Part::Gap) {
            return Err(format!("cue {text:?} must start and end with a word"));
        }
        let weight = parts.iter().filter(|p| **p != Part::Gap).count();
        Ok(Cue {
            lang,
            parts,
            weight,
            weak,
        })
    }

    /// The first place the cue occurs: the positions of the words it matched (what a gap
    /// skipped is not the cue's, it may be an argument: "ajoute RGPD à mes thèmes").
    pub fn find(&self, words: &Words<'_>) -> Option<Vec<usize>> {
        // A cue's first word, typed or slipped, starts with its first letter.
        match self.parts.first() {
            Some(Part::Word(w) | Part::Prefix(w)) if words.initials & initial_bit(w) == 0 => {
                return None;
            }
            Some(Part::Word(w)) if w.len() < 6 && !words.iter_words().any(|x| x == w) => {
                return None;
            }
            _ => {}
        }
        let mut matched = Vec::with_capacity(self.parts.len());
        (0..words.len()).find_map(|start| {
            matched.clear();
            self.match_at(words, 0, start, &mut matched)
                .then(|| matched.clone())
        })
    }

    /// Matches parts from `part` on at word `at`, pushing the matched positions.
    fn match_at(
        &self,
        words: &Words<'_>,
        part: usize,
        at: usize,
        matched: &mut Vec<usize>,
    ) -> bool {
        let Some(current) = self.parts.get(part) else {
            return true;
        };
        if *current == Part::Gap {
            return (at..=(at + GAP).min(words.len()))
                .any(|next| self.match_at(words, part + 1, next, matched));
        }
        if at >= words.len() || !word_matches(current, words.word(at)) {
            return false;
        }
        matched.push(at);
        if self.match_at(words, part + 1, at + 1, matched) {
            return true;
        }
        matched.pop();
        false
    }
}

/// A typed word for a cue's word: the same, or one slip away from six letters on. A slip is
/// looked for only when the first letters agree: they rarely slip, and comparing every word of
/// a line with every cue of the registry would cost more than the line.
fn word_matches(part: &Part, word: &str) -> bool {
    let slip = |w: &str, typed: &str| {
        w.len() >= 6 && w.as_bytes()[0] == typed.as_bytes()[0] && close_enough(typed, w)
    };
    match part {
        Part::Word(w) => w == word || slip(w, word),
        Part::Prefix(p) => {
            word.starts_with(p.as_str()) || (word.len() >= p.len() && slip(p, &word[..p.len()]))
        }
        Part::Gap => true,
    }
}

/// Numbers that name a ticket: "#12", "n° 12", "demande 12", or a bare number that is not part
/// of a date or a time.
static TICKET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:(?:#|\bn\s*(?:°|o|deg)\.?|\bno\.?|\bnum(?:ero|ber)?)\s*(\d{1,6})|\b(\d{1,6}))\b(?:\s*(?:er|e|eme)?\s*(janv|fev|mars|avr|mai|juin|juil|aout|sept|oct|nov|dec|jan|feb|mar|apr|may|jun|jul|aug|sep|h\b|h\d|:\d|/))?")
        .expect("valid ticket regex")
});

/// The ticket number a line names, if any: (start, end) in the folded line, and the number.
pub fn ticket_number(folded_line: &str) -> Option<(usize, usize, String)> {
    TICKET.captures_iter(folded_line).find_map(|c| {
        let whole = c.get(0)?;
        // The second half of "12/03" or "14:30" is no ticket either.
        let after_separator = folded_line[..whole.start()].ends_with(['/', ':', '.', '-']);
        if c.get(3).is_some() || after_separator {
            return None;
        }
        let n = c.get(1).or(c.get(2))?;
        Some((whole.start(), whole.end(), n.as_str().to_string()))
    })
}

/// Fills the raw argument texts of a command cued at words `cue` of the line, from the rest
/// of the line. The values are parsed and checked later, as for a pattern's captures.
pub fn fill_args(
    args: &[ArgSpec],
    words: &Words<'_>,
    cue: &[usize],
    valid: &dyn Fn(&ArgSpec, &str) -> bool,
) -> BTreeMap<String, String> {
    let line = words.line;
    let mut out = BTreeMap::new();
    // The line without the cue's words, as typed: what the arguments are read from.
    let mut rest = String::with_capacity(line.len());
    let mut from = 0;
    for &i in cue {
        rest.push_str(&line[from..words.start_of(i)]);
        rest.push(' ');
        from = words.end_of(i);
    }
    rest.push_str(&line[from..]);
    let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    let rest = rest.trim();
    let after = cue.last().map_or(line, |&i| &line[words.end_of(i)..]);
    let folded_line = Folded::new(line);
    // Digits that were not typed as digits ("👍" folds to ":+1:") name no ticket.
    let ticket = ticket_number(&folded_line.text).filter(|(start, end, _)| {
        let (from, to) = folded_line.original_range(*start, *end);
        line[from..to].chars().any(|c| c.is_ascii_digit())
    });
    for spec in args {
        let value = match spec.kind {
            ArgKind::Ticket | ArgKind::Draft => ticket.as_ref().map(|(_, _, n)| n.clone()),
            // What follows the number ("programme 4 demain 9h").
            ArgKind::Moment => ticket.as_ref().and_then(|(_, end, _)| {
                let from = folded_line.original_range(*end, *end).0;
                let text = trim_filler(line[from..].trim_start_matches([',', ';', ':', '-', ' ']));
                (!text.is_empty()).then(|| text.to_string())
            }),
            ArgKind::Text => after_colon(line).or_else(|| {
                let (_, end, _) = ticket.as_ref()?;
                let from = folded_line.original_range(*end, *end).0;
                let text = line[from..].trim_start_matches([',', ';', ':', '-', ' ', '.']);
                (!text.trim().is_empty()).then(|| text.trim().to_string())
            }),
            ArgKind::Member => member_in(words, cue, &|typed| valid(spec, typed)),
            // Cues may hold the language ("en anglais svp"): the whole line is read.
            ArgKind::Language => words.iter_words().find_map(|w| {
                (w.len() > 2 && super::args::language_code(w).is_some()).then(|| w.to_string())
            }),
            ArgKind::Period => {
                // The longest run of words that reads as a period ("absente du 3 au 14 mars,
                // merci" → "du 3 au 14 mars").
                let text = trim_filler(rest);
                let cut = Words::new(text);
                let found = (0..cut.len())
                    .filter(|&i| may_start_period(cut.word(i)))
                    .find_map(|start| {
                        (start + 1..=cut.len()).rev().find_map(|end| {
                            let candidate = &text[cut.start_of(start)..cut.end_of(end - 1)];
                            valid(spec, candidate).then(|| candidate.to_string())
                        })
                    });
                found.or_else(|| (!text.is_empty()).then(|| text.to_string()))
            }
            // A search reads everything it can from the whole line: cue words are often its
            // format too ("une table ronde", "a jury member"), and leftover words are harmless.
            ArgKind::SpeakerQuery => {
                let text = trim_filler(line);
                (!text.is_empty()).then(|| text.to_string())
            }
            // "ajoute la thématique santé à mon profil": what the cue's gap skipped is the
            // list; without a gap, what follows the cue.
            ArgKind::Topics if gap(words, cue).is_some() => {
                let (a, b) = gap(words, cue).expect("checked");
                Some(line[a..b].trim().to_string())
            }
            ArgKind::Topics => {
                let text = trim_filler(rest);
                (!text.is_empty()).then(|| text.to_string())
            }
            ArgKind::Command => {
                let text = trim_filler(after.trim());
                (!text.is_empty()).then(|| text.to_string())
            }
            ArgKind::Date | ArgKind::Place => None,
        };
        if let Some(value) = value {
            out.insert(spec.name.clone(), value);
        }
    }
    out
}

/// Whether a period may start at this word: a number, a month or day name, or a word that
/// opens one ("du", "jusqu", "next", "la semaine…"). Trying every word would parse dates
/// quadratically often.
fn may_start_period(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_digit())
        || matches!(
            word,
            "du" | "de"
                | "from"
                | "between"
                | "entre"
                | "jusqu"
                | "until"
                | "till"
                | "la"
                | "le"
                | "cette"
                | "this"
                | "next"
                | "tout"
                | "in"
                | "en"
                | "throughout"
                | "during"
                | "all"
                | "pour"
                | "for"
                | "semaine"
                | "week"
                | "mois"
                | "month"
                | "demain"
                | "tomorrow"
                | "aujourd"
                | "today"
                | "courant"
                | "the"
                | "on"
        )
        || crate::core::dates::names_a_day_or_month(word)
}

/// The typed text a cue's gap skipped, as a byte range of the line, if it skipped any.
fn gap(words: &Words<'_>, cue: &[usize]) -> Option<(usize, usize)> {
    let (first, last) = (*cue.first()?, *cue.last()?);
    let skipped: Vec<usize> = (first..last).filter(|i| !cue.contains(i)).collect();
    let (a, b) = (*skipped.first()?, *skipped.last()?);
    Some((words.start_of(a), words.end_of(b)))
}

/// The text after the first colon, for notes and replies ("note sur la 12 : …").
pub fn after_colon(line: &str) -> Option<String> {
    let (_, text) = line.split_once(':')?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// A member named in the line: the longest run of up to three words, outside the cue, that is
/// exactly one member's name.
fn member_in(
    words: &Words<'_>,
    cue: &[usize],
    find_member: &dyn Fn(&str) -> bool,
) -> Option<String> {
    for len in (1..=3).rev() {
        for start in 0..words.len().saturating_sub(len - 1) {
            let end = start + len;
            if cue.iter().any(|&i| (start..end).contains(&i)) {
                continue;
            }
            // A name is typed with capitals, or is an address, or is a whole name typed in
            // lowercase after a word that introduces someone ("la fiche de nolwenn kervella").
            let first = &words.line[words.start_of(start)..];
            let capitalised = first.starts_with(|c: char| c.is_uppercase()) || first.contains('@');
            let introduced = start > 0
                && len >= 2
                && matches!(
                    words.word(start - 1),
                    "de" | "d"
                        | "of"
                        | "for"
                        | "pour"
                        | "a"
                        | "to"
                        | "sur"
                        | "about"
                        | "est"
                        | "is"
                        | "par"
                        | "by"
                        | "fiche"
                        | "profil"
                        | "profile"
                        | "avec"
                        | "with"
                );
            if !capitalised && !introduced {
                continue;
            }
            let typed = &words.line[words.start_of(start)..words.end_of(end - 1)];
            if find_member(typed) {
                return Some(typed.to_string());
            }
        }
    }
    None
}

/// Politeness and filler people put around a request, which no argument is made of.
static FILLER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:\s|[,;:.!?-]|s'il (?:te|vous) pla[iî]t|svp|stp|please|pls|merci|thanks|thank you|bonjour|salut|hello|hi|hey|ok|d'accord)*|(?:\s|[,;:.!?-]|s'il (?:te|vous) pla[iî]t|svp|stp|please|pls|merci|thanks|thank you|🙏|😊|🙂)*$")
        .expect("valid filler regex")
});

fn trim_filler(text: &str) -> &str {
    let mut text = text.trim();
    for m in FILLER.find_iter(text) {
        if m.start() == 0 && !m.is_empty() {
            text = &text[m.end()..];
            break;
        }
    }
    if let Some(m) = FILLER
        .find_iter(text)
        .filter(|m| m.end() == text.len())
        .last()
    {
        text = &text[..m.start()];
    }
    text.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cues_match_in_any_form_people_type() {
        let cases = [
            (
                "trouv* ... intervenant*",
                "Trouve-moi vite un intervenant",
                Some(vec![0, 4]),
            ),
            ("qui connait", "Qui connaît les données ?", Some(vec![0, 1])),
            (
                "qu'est-ce que tu sais faire",
                "qu'est ce que tu sais faire",
                Some(vec![0, 1, 2, 3, 4, 5, 6]),
            ),
            (
                "intervenant*",
                "intervenants budget Grenoble",
                Some(vec![0]),
            ),
            ("intervenant*", "un intervennant", Some(vec![1])),
            ("speaker*", "any speakers on data", Some(vec![1])),
            ("ma fiche", "montre-moi ma fiche", Some(vec![2, 3])),
            ("ma fiche", "ma fille", None),
            ("prend*", "je reprends", None),
        ];
        for (cue, line, expected) in cases {
            let cue = Cue::parse(cue, Lang::Fr).unwrap();
            assert_eq!(cue.find(&Words::new(line)), expected, "{line}");
        }
    }

    #[test]
    fn ticket_numbers_are_not_dates_or_times() {
        let cases = [
            ("je prends la 12", Some("12")),
            ("demande #34 svp", Some("34")),
            ("ticket n° 7", Some("7")),
            ("la demande n°118", Some("118")),
            ("le 12 mars", None),
            ("a 14h", None),
            ("le 12/03", None),
            ("pour la demande 5 du 12 mars", Some("5")),
        ];
        for (line, expected) in cases {
            let found = ticket_number(&Folded::new(line).text).map(|(_, _, n)| n);
            assert_eq!(found.as_deref(), expected, "{line}");
        }
    }

    #[test]
    fn filler_around_a_request_goes() {
        let cases = [
            ("bonjour, les licences svp", "les licences"),
            ("RGPD please 🙏", "RGPD"),
            ("merci", ""),
            ("la qualité des données", "la qualité des données"),
        ];
        for (text, expected) in cases {
            assert_eq!(trim_filler(text), expected, "{text}");
        }
    }
}
