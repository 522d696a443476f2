//! Free phrasing. A line that no command pattern takes is read for the cue words each command
//! lists in its file (`cues.fr`, `cues.en`), in any order, with typos, missing accents and
//! elisions forgiven; the arguments are then read from the rest of the line by shared slot
//! extractors. Two commands cued equally strongly get a clarifying question, not a guess.

use super::registry::{ArgKind, ArgSpec};
use crate::core::lang::Lang;
use crate::core::text::{Folded, close_enough, letter_kinds, typo_budget};
use regex::Regex;
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

/// A chat line cut into lowercase ASCII words, each remembering where it was typed.
pub struct Words<'a> {
    pub line: &'a str,
    folded: Folded,
    /// Byte ranges of the words in the folded text.
    spans: Vec<(usize, usize)>,
    /// The ticket number the line names, read once however many commands ask.
    ticket: OnceCell<Option<(usize, usize, String)>>,
}

impl<'a> Words<'a> {
    pub fn new(line: &'a str) -> Self {
        let folded = Folded::new(line);
        let spans = crate::core::text::ascii_word_spans(&folded.text);
        Words {
            line,
            folded,
            spans,
            ticket: OnceCell::new(),
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

    /// The ticket number the line names, as [`ticket_number`] reads it, typed as digits ("👍"
    /// folds to ":+1:"): (start, end) in the folded line, and the number.
    fn ticket(&self) -> Option<&(usize, usize, String)> {
        self.ticket
            .get_or_init(|| {
                ticket_number(&self.folded.text).filter(|(start, end, _)| {
                    let (from, to) = self.folded.original_range(*start, *end);
                    self.line[from..to].chars().any(|c| c.is_ascii_digit())
                })
            })
            .as_ref()
    }

    /// What the line's number is the number of, from the noun just before it ("l'actu n°12",
    /// "draft #15", "la demande 4"): a ticket, a news draft, or either when no noun says.
    fn numbered(&self) -> Numbered {
        let Some((start, _, _)) = self.ticket() else {
            return Numbered::Either;
        };
        let before = &self.folded.text[..*start];
        let noun = before
            .split(|c: char| !c.is_ascii_alphanumeric())
            .rev()
            .filter(|w| !w.is_empty())
            .find(|w| !NUMBER_FILLER.contains(w));
        match noun {
            Some(w) if DRAFT_NOUNS.contains(&w) => Numbered::Draft,
            Some(w) if TICKET_NOUNS.contains(&w) => Numbered::Ticket,
            _ => Numbered::Either,
        }
    }
}

/// What a number in a line counts: see [`Words::numbered`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Numbered {
    Ticket,
    Draft,
    Either,
}

/// Nouns of a news draft and of a ticket, folded; and the words between such a noun and its
/// number ("le brouillon numéro 4", "ticket n° 7").
const DRAFT_NOUNS: &[&str] = &[
    "brouillon",
    "brouillons",
    "draft",
    "drafts",
    "actu",
    "actus",
    "actualite",
    "actualites",
    "post",
    "posts",
    "publication",
    "publications",
    "billet",
    "news",
    "toot",
    "tweet",
];
const TICKET_NOUNS: &[&str] = &[
    "ticket",
    "tickets",
    "demande",
    "demandes",
    "request",
    "requests",
    "req",
    "dossier",
    "sollicitation",
];
const NUMBER_FILLER: &[&str] = &["n", "no", "num", "numero", "number", "nr"];

/// One word of a cue: a word of the [`Lexicon`] (as written, or a prefix "trouv*"), or a gap
/// of a few words ("...").
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Term(usize),
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
    /// Whether the cue skips words somewhere ("put ... on").
    pub fn has_gap(&self) -> bool {
        self.parts.contains(&Part::Gap)
    }

    /// Parses a cue as written in a command file: words folded to ASCII, `*` ending a prefix,
    /// `...` a gap. Its words go into `lexicon`, which reads lines for it.
    pub fn parse(text: &str, lang: Lang, lexicon: &mut Lexicon) -> Result<Cue, String> {
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
                let term = lexicon.intern(words.word(i), prefix && i + 1 == count);
                parts.push(Part::Term(term));
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

    /// The first place the cue occurs in a line read by the lexicon: the positions of the words
    /// it matched (what a gap skipped is not the cue's, it may be an argument: "ajoute RGPD à
    /// mes thèmes").
    pub fn find(&self, hits: &Hits) -> Option<Vec<usize>> {
        // Most cues have a word the line lacks anywhere: they are ruled out before any search.
        let absent = |p: &Part| matches!(p, Part::Term(t) if !hits.anywhere(*t));
        if self.parts.iter().any(absent) {
            return None;
        }
        let mut matched = Vec::with_capacity(self.parts.len());
        (0..hits.len()).find_map(|start| {
            matched.clear();
            self.match_at(hits, 0, start, &mut matched)
                .then(|| matched.clone())
        })
    }

    /// A word every match of the cue holds, the longest (the rarest, likely): a line without
    /// it need not be searched for the cue.
    pub(super) fn key(&self, lexicon: &Lexicon) -> usize {
        self.parts
            .iter()
            .filter_map(|p| match *p {
                Part::Term(t) => Some(t),
                Part::Gap => None,
            })
            .max_by_key(|&t| lexicon.terms[t].text.len())
            .expect("a cue starts with a word")
    }

    /// Matches parts from `part` on at word `at`, pushing the matched positions.
    fn match_at(&self, hits: &Hits, part: usize, at: usize, matched: &mut Vec<usize>) -> bool {
        let Some(current) = self.parts.get(part) else {
            return true;
        };
        let Part::Term(term) = *current else {
            return (at..=(at + GAP).min(hits.len()))
                .any(|next| self.match_at(hits, part + 1, next, matched));
        };
        if at >= hits.len() || !hits.at(at).contains(&term) {
            return false;
        }
        matched.push(at);
        if self.match_at(hits, part + 1, at + 1, matched) {
            return true;
        }
        matched.pop();
        false
    }
}

/// A word of cues: as written, or a prefix.
#[derive(Debug)]
struct Term {
    text: String,
    prefix: bool,
    /// The kinds of letters of `text` ([`letter_kinds`]): words apart by more kinds than the
    /// typo budget are no slip of each other.
    letters: u64,
}

/// The words of every cue, each kept once and indexed, so that a line is compared with each
/// word once however many cues share it, and only with those it may match.
#[derive(Debug, Default)]
pub struct Lexicon {
    terms: Vec<Term>,
    ids: HashMap<(String, bool), usize>,
    /// Whole words, by their text.
    exact: HashMap<String, Vec<usize>>,
    /// Prefixes, by their first letter.
    prefixes: HashMap<u8, Vec<usize>>,
    /// Words and prefixes that forgive a slip (six letters on), by their first letter, shortest
    /// first.
    slips: HashMap<u8, Vec<usize>>,
}

impl Lexicon {
    /// How many cue words there are; each is a number below this.
    pub(super) fn len(&self) -> usize {
        self.terms.len()
    }

    fn intern(&mut self, text: &str, prefix: bool) -> usize {
        let key = (text.to_string(), prefix);
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.terms.len();
        let first = text.as_bytes()[0];
        if prefix {
            self.prefixes.entry(first).or_default().push(id);
        } else {
            self.exact.entry(text.to_string()).or_default().push(id);
        }
        self.terms.push(Term {
            text: text.to_string(),
            prefix,
            letters: letter_kinds(text),
        });
        if text.len() >= SLIP_FROM {
            let same_start = self.slips.entry(first).or_default();
            let at = same_start.partition_point(|&t| self.terms[t].text.len() <= text.len());
            same_start.insert(at, id);
        }
        self.ids.insert(key, id);
        id
    }

    /// Which cue words each word of the line is.
    pub fn read(&self, words: &Words<'_>) -> Hits {
        let mut hits = Hits {
            terms: Vec::new(),
            ends: Vec::with_capacity(words.len()),
            anywhere: vec![0; self.terms.len().div_ceil(64)],
        };
        for typed in words.iter_words() {
            let from = hits.terms.len();
            let first = typed.as_bytes()[0];
            hits.terms
                .extend(self.exact.get(typed).into_iter().flatten());
            for &id in self.prefixes.get(&first).into_iter().flatten() {
                if typed.starts_with(&self.terms[id].text) {
                    hits.terms.push(id);
                }
            }
            // Shorthand is the word it stands for ("u", "pr", "jprends", "smb", "indispo").
            if let Some(&(_, word)) = SHORTHAND.iter().find(|(short, _)| *short == typed) {
                hits.terms
                    .extend(self.exact.get(word).into_iter().flatten());
                let first = word.as_bytes()[0];
                for &id in self.prefixes.get(&first).into_iter().flatten() {
                    if word.starts_with(&self.terms[id].text) && !hits.terms[from..].contains(&id) {
                        hits.terms.push(id);
                    }
                }
            }
            // A word typed right needs no slip looked for; one slip changes the length by two
            // at most.
            let same_start = self.slips.get(&first).map_or(&[][..], Vec::as_slice);
            let short_enough =
                same_start.partition_point(|&t| self.terms[t].text.len() <= typed.len() + 2);
            let typed_letters = letter_kinds(typed);
            for &id in &same_start[..short_enough] {
                let term = &self.terms[id];
                // What `close_enough` would rule out, ruled out by letters first: more kinds of
                // letters on either side than the typo budget allows (a prefix's letters are in
                // the typed word's start, give or take its slips), or lengths too far apart.
                let lacking = (term.letters & !typed_letters).count_ones() as usize;
                if term.prefix {
                    if lacking > typo_budget(term.text.len()) {
                        continue;
                    }
                } else {
                    let budget = typo_budget(term.text.len().min(typed.len()));
                    let extra = (typed_letters & !term.letters).count_ones() as usize;
                    if term.text.len().abs_diff(typed.len()) > budget
                        || lacking > budget
                        || extra > budget
                    {
                        continue;
                    }
                }
                if !hits.terms[from..].contains(&id)
                    && second_letters_agree(typed, &term.text)
                    && self.terms[id].slipped(typed)
                {
                    hits.terms.push(id);
                }
            }
            for &id in &hits.terms[from..] {
                hits.anywhere[id / 64] |= 1 << (id % 64);
            }
            hits.ends.push(hits.terms.len());
        }
        hits
    }
}

/// What people type in a hurry, and the cue word it stands for.
const SHORTHAND: &[(&str, &str)] = &[
    ("u", "you"),
    ("ur", "your"),
    ("r", "are"),
    ("pr", "pour"),
    ("ds", "dans"),
    ("qd", "quand"),
    ("jprends", "prends"),
    ("jpeux", "peux"),
    ("jsuis", "suis"),
    ("jveux", "veux"),
    ("jpasse", "passe"),
    ("smb", "someone"),
    ("smbd", "someone"),
    ("sb", "someone"),
    ("some1", "someone"),
    ("any1", "anyone"),
    ("plz", "please"),
    ("pls", "please"),
    ("thx", "thanks"),
    ("indispo", "indisponible"),
    ("cb", "combien"),
];

/// Whether one slip could turn `typed` into `term` (or its start) as far as their second and
/// third letters tell, first letters agreeing: a slip after the second letter leaves it in
/// place, one at it leaves the third, a letter dropped or doubled there shifts it by one. Only
/// words that allow one slip are ruled out so (two slips may do both).
fn second_letters_agree(typed: &str, term: &str) -> bool {
    let (t, w) = (typed.as_bytes(), term.as_bytes());
    if t.len() < 3 || w.len() < 3 || typo_budget(w.len().min(t.len())) > 1 {
        return true;
    }
    t[1] == w[1] || t[1] == w[2] || t[2] == w[1] || t[2] == w[2]
}

/// Cue words shorter than this must be typed right: one slip changes a short word.
const SLIP_FROM: usize = 6;

impl Term {
    /// A typed word one slip away from the cue word (its first letters agreeing: they rarely
    /// slip); for a prefix, the typed word's start.
    fn slipped(&self, typed: &str) -> bool {
        let w = &self.text;
        if w.as_bytes()[0] != typed.as_bytes()[0] {
            return false;
        }
        if self.prefix {
            // What follows a prefix is free, so a slip in it is taken only after three
            // letters typed right ("retenues" is no slip of "revenu*").
            typed.len() >= w.len()
                && typed.as_bytes()[..3.min(w.len())] == w.as_bytes()[..3.min(w.len())]
                && close_enough(&typed[..w.len()], w)
        } else {
            close_enough(typed, w)
        }
    }
}

/// A line as the [`Lexicon`] read it: the cue words each of its words is.
pub struct Hits {
    /// The cue words of every word, one after the other.
    terms: Vec<usize>,
    /// Where each word's cue words end in `terms`.
    ends: Vec<usize>,
    /// One bit per cue word the line holds somewhere.
    anywhere: Vec<u64>,
}

impl Hits {
    /// How many words the line has.
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn at(&self, word: usize) -> &[usize] {
        let from = if word == 0 { 0 } else { self.ends[word - 1] };
        &self.terms[from..self.ends[word]]
    }

    fn anywhere(&self, term: usize) -> bool {
        self.anywhere[term / 64] & (1 << (term % 64)) != 0
    }

    /// The cue words the line holds somewhere, in increasing order.
    pub(super) fn held(&self) -> impl Iterator<Item = usize> + '_ {
        self.anywhere.iter().enumerate().flat_map(|(block, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    block * 64 + bit
                })
            })
        })
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
        // A bare number in brackets is a department ("aux élus de Montreuil (62)").
        let department = c.get(2).is_some()
            && folded_line[..whole.start()].ends_with('(')
            && folded_line[whole.end()..].starts_with(')');
        if c.get(3).is_some() || after_separator || department {
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
    let folded_line = &words.folded;
    let ticket = words.ticket();
    for spec in args {
        let value = match spec.kind {
            // "reject draft 9" names no ticket, "la demande 4" no draft.
            ArgKind::Ticket if words.numbered() == Numbered::Draft => None,
            ArgKind::Draft if words.numbered() == Numbered::Ticket => None,
            ArgKind::Ticket | ArgKind::Draft => ticket.map(|(_, _, n)| n.clone()),
            // What follows the number ("programme 4 demain 9h").
            ArgKind::Moment => ticket.and_then(|(_, end, _)| {
                let from = folded_line.original_range(*end, *end).0;
                let text = trim_filler(line[from..].trim_start_matches([',', ';', ':', '-', ' ']));
                (!text.is_empty()).then(|| text.to_string())
            }),
            ArgKind::Text => after_colon(line).or_else(|| {
                let (_, end, _) = ticket?;
                let from = folded_line.original_range(*end, *end).0;
                let text = line[from..].trim_start_matches([',', ';', ':', '-', ' ', '.']);
                // "mets cette photo sur l'actu 12 stp 📷" gives no text.
                let says_something = trim_filler(text.trim()).chars().any(char::is_alphanumeric);
                says_something.then(|| text.trim().to_string())
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
                let tried = if crate::core::dates::may_hold_a_time(text) {
                    cut.len()
                } else {
                    0
                };
                // A run without a number, a month, a day or a unit reads as no period: only
                // runs holding one are parsed.
                let timely: Vec<bool> = (0..tried)
                    .map(|i| crate::core::dates::may_hold_a_time(cut.word(i)))
                    .collect();
                let found = (0..tried)
                    .filter(|&i| may_start_period(cut.word(i)))
                    .find_map(|start| {
                        let longest = (start + PERIOD_WORDS).min(cut.len());
                        let first_timely = (start..longest).find(|&i| timely[i])?;
                        (first_timely + 1..=longest).rev().find_map(|end| {
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
            // list; else what follows the cue ("delete the topic smart city from my
            // profile"); else the line without the cue ("je ne travaille plus sur les
            // licences, retire-les"). The first that reads as topics, else the first typed.
            ArgKind::Topics => {
                let in_gap = gap(words, cue).map(|(a, b)| line[a..b].trim());
                let candidates = [in_gap, Some(trim_filler(after)), Some(trim_filler(rest))];
                let typed = candidates.iter().flatten().filter(|t| !t.is_empty());
                typed
                    .clone()
                    .find(|t| valid(spec, t))
                    .or_else(|| typed.clone().next())
                    .map(|t| t.to_string())
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

/// The most words a period takes ("from the 3rd of March to the 14th of March"): longer runs
/// are not parsed, which would cost the square of a long line's length.
const PERIOD_WORDS: usize = 10;

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

/// A line made of quoted lines ("> …", as clients quote the message answered) and the reply
/// below them: (the quote without its marks, the reply). `None` for a line without both.
pub fn quote_and_reply(line: &str) -> Option<(String, &str)> {
    if !line.starts_with('>') || !line.contains('\n') {
        return None;
    }
    let mut quote = String::new();
    let mut reply_at = None;
    let mut at = 0;
    for part in line.split_inclusive('\n') {
        match part.trim_start().strip_prefix('>') {
            Some(quoted) if reply_at.is_none() => {
                quote.push_str(quoted.trim());
                quote.push(' ');
            }
            _ if reply_at.is_none() && part.trim().is_empty() => {}
            _ => {
                reply_at.get_or_insert(at);
            }
        }
        at += part.len();
    }
    let reply = line[reply_at?..].trim();
    (!reply.is_empty()).then(|| (quote.trim().to_string(), reply))
}

static NUMBERED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(demande|ticket|request|brouillon|draft)\s*(?:n°\s*|#\s*)?(\d{1,6})\b")
        .expect("valid numbered regex")
});

/// The ticket or draft a text names, as "demande 92" or "brouillon 19".
pub fn numbered_in(text: &str) -> Option<String> {
    let found = NUMBERED.captures(text)?;
    Some(format!("{} {}", found[1].to_lowercase(), &found[2]))
}

/// Words that take back what was just typed ("pour Grenoble, euh non, Échirolles", "in
/// English, sorry, in German"), folded, longest first.
const CORRECTIONS: &[&str] = &[
    "enfin non plutot",
    "non finalement",
    "ah non c'est",
    "ah non c est",
    "non c'est",
    "non c est",
    "non pardon",
    "pardon",
    "euh non",
    "enfin non",
    "non plutot",
    "ah non",
    "je veux dire",
    "sorry",
    "i mean",
    "oops",
    "oups",
];

/// Words that open a value: a value typed again after a correction replaces the run from the
/// same word before it ("le 12 janvier, pardon le 13", "en visio, non finalement en
/// présentiel").
const OPENERS: &[&str] = &[
    "en", "in", "a", "au", "aux", "dans", "le", "la", "les", "l", "un", "une", "des", "the", "an",
    "pour", "for", "on", "sur", "du", "de", "at", "near", "vers",
];

/// Articles open values alike: "un atelier, enfin non plutôt une table ronde".
const ARTICLES: &[&str] = &["un", "une", "des", "le", "la", "les", "l", "the", "an"];

/// The line as its writer meant it once they corrected themselves: what a correction takes
/// back goes, from the word that opens the corrected value ("trouve un intervenant pour
/// Grenoble, euh non, Échirolles" → "… pour Échirolles"). Lines without a correction word
/// after a comma are returned as they are.
pub fn without_corrections(line: &str) -> std::borrow::Cow<'_, str> {
    // Most lines hold no correction: told apart without folding them.
    let lower = line.to_ascii_lowercase();
    let may_correct = line.contains(',')
        && [
            "non",
            "pardon",
            "sorry",
            "mean",
            "oops",
            "oups",
            "veux dire",
        ]
        .iter()
        .any(|word| lower.contains(word));
    if !may_correct {
        return std::borrow::Cow::Borrowed(line);
    }
    let words = Words::new(line);
    let (folded, text) = (&words.folded, &words.folded.text);
    // (start of the comma, end of the correction words) in the folded text.
    let found = text.match_indices(',').find_map(|(comma, _)| {
        let after = text[comma + 1..].trim_start_matches([' ', ',']);
        let skipped = text.len() - comma - 1 - after.len();
        CORRECTIONS.iter().find_map(|marker| {
            let rest = after.strip_prefix(marker)?;
            rest.starts_with([' ', ',']).then(|| {
                let end = comma + 1 + skipped + marker.len();
                (
                    comma,
                    end + (rest.len() - rest.trim_start_matches([' ', ',']).len()),
                )
            })
        })
    });
    let Some((comma, value_at)) = found else {
        return std::borrow::Cow::Borrowed(line);
    };
    let value_first = text[value_at..]
        .split([' ', ',', '\''])
        .next()
        .unwrap_or("");
    let before: Vec<(usize, &str)> = words
        .spans
        .iter()
        .take_while(|&&(start, _)| start < comma)
        .map(|&(start, end)| (start, &text[start..end]))
        .collect();
    // The taken-back value starts at the same opening word, else at the last capitalised word
    // ("Grenoble, euh non, Échirolles"), within the last few words.
    let recent = &before[before.len().saturating_sub(6)..];
    let article = |w: &str| ARTICLES.contains(&w);
    let from = if OPENERS.contains(&value_first) {
        recent
            .iter()
            .rev()
            .find(|(_, w)| *w == value_first || (article(w) && article(value_first)))
            .map(|&(at, _)| at)
    } else if value_first.starts_with(|c: char| c.is_ascii_digit()) {
        // "à 14h, non pardon 14h30": the last number.
        recent
            .iter()
            .rev()
            .find(|(_, w)| w.starts_with(|c: char| c.is_ascii_digit()))
            .map(|&(at, _)| at)
    } else {
        // The line's first word is capitalised as a sentence opens, not as a name.
        recent
            .iter()
            .rev()
            .filter(|&&(at, _)| at > 0)
            .find(|&&(at, _)| {
                let (from, _) = folded.original_range(at, at);
                line[from..].starts_with(char::is_uppercase)
            })
            .map(|&(at, _)| at)
    };
    let Some(from) = from else {
        return std::borrow::Cow::Borrowed(line);
    };
    let (cut_from, _) = folded.original_range(from, from);
    let (cut_to, _) = folded.original_range(value_at, value_at);
    std::borrow::Cow::Owned(format!("{}{}", &line[..cut_from], &line[cut_to..]))
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
            // Shorthand stands for its word, whole or as a prefix's start.
            ("can you", "can u find smb", Some(vec![0, 1])),
            ("prends", "jprends le 56", Some(vec![0])),
            ("indisponible*", "indispo le 8", Some(vec![0])),
            ("someone", "find me smb", Some(vec![2])),
        ];
        for (cue, line, expected) in cases {
            let mut lexicon = Lexicon::default();
            let cue = Cue::parse(cue, Lang::Fr, &mut lexicon).unwrap();
            let hits = lexicon.read(&Words::new(line));
            assert_eq!(cue.find(&hits), expected, "{line}");
        }
    }

    #[test]
    fn a_number_counts_what_the_noun_before_it_names() {
        let cases = [
            ("affiche l'actu n°12", Numbered::Draft),
            ("reject draft 9, off topic", Numbered::Draft),
            ("supprime les posts du brouillon 5 partout", Numbered::Draft),
            ("je prends la demande 12", Numbered::Ticket),
            ("ticket n° 7 stp", Numbered::Ticket),
            ("le brouillon numéro 4", Numbered::Draft),
            ("can you schedule #15 for Friday at noon?", Numbered::Either),
            ("je prends la 12", Numbered::Either),
            ("pas de numéro ici", Numbered::Either),
        ];
        for (line, expected) in cases {
            assert_eq!(Words::new(line).numbered(), expected, "{line}");
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
            ("aux élus de Montreuil (62)", None),
            ("la demande (#62)", Some("62")),
        ];
        for (line, expected) in cases {
            let found = ticket_number(&Folded::new(line).text).map(|(_, _, n)| n);
            assert_eq!(found.as_deref(), expected, "{line}");
        }
    }

    #[test]
    fn a_reply_under_a_quote_is_read_with_the_number_the_quote_names() {
        let (quote, reply) = quote_and_reply(
            "> Nouvelle demande #92 : table ronde à Tours.\n> Merci\n\nje prends !",
        )
        .expect("a quote and a reply");
        assert_eq!(reply, "je prends !");
        assert_eq!(numbered_in(&quote).as_deref(), Some("demande 92"));
        assert_eq!(
            numbered_in("Le brouillon 19 « Les communes du Gers » attend").as_deref(),
            Some("brouillon 19")
        );
        assert_eq!(quote_and_reply("> only a quote"), None);
        assert_eq!(quote_and_reply("je prends la 12"), None);
    }

    #[test]
    fn what_a_writer_takes_back_goes() {
        let cases = [
            (
                "trouve un intervenant pour Grenoble, euh non, Échirolles, le 4 février",
                "trouve un intervenant pour Échirolles, le 4 février",
            ),
            (
                "un intervenant le 12 janvier, pardon le 13, à Dijon",
                "un intervenant le 13, à Dijon",
            ),
            (
                "cherche un intervenant pour un atelier, enfin non plutôt une table ronde, sur le cadastre",
                "cherche un intervenant pour une table ronde, sur le cadastre",
            ),
            (
                "Need a speaker in English, sorry, in German, for a talk",
                "Need a speaker in German, for a talk",
            ),
            (
                "trouve quelqu'un dans le 35, ah non c'est le 56, pour parler",
                "trouve quelqu'un dans le 56, pour parler",
            ),
            (
                "Cherche un intervenant en visio, non finalement en présentiel à Rouen",
                "Cherche un intervenant en présentiel à Rouen",
            ),
            (
                "On se retrouve à 14h, non pardon 14h30, salle Jaurès",
                "On se retrouve à 14h30, salle Jaurès",
            ),
            // No correction: left as typed.
            (
                "pardon, je cherche un intervenant à Lyon",
                "pardon, je cherche un intervenant à Lyon",
            ),
            ("à Lyon, plutôt en mars", "à Lyon, plutôt en mars"),
        ];
        for (typed, meant) in cases {
            assert_eq!(without_corrections(typed), meant, "{typed}");
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
