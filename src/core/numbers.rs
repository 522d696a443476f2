//! Numbers written in words, as dictation and formal writing give them ("le douze mars",
//! "la demande quarante-deux", "du quinze au dix-sept avril", "the twelfth of March"), turned
//! into digits so that dates and ticket numbers are read alike however they were typed.
//! French of France, Belgium and Switzerland (septante, huitante, nonante) and English.

use super::text::{Folded, ascii_fold, ascii_word_spans};
use aho_corasick::AhoCorasick;
use std::borrow::Cow;
use std::sync::LazyLock;

/// Cardinal words and their values. "quatre vingt(s)" is read as 80 before these apply.
const CARDINALS: &[(&str, u32)] = &[
    ("un", 1),
    ("deux", 2),
    ("trois", 3),
    ("quatre", 4),
    ("cinq", 5),
    ("six", 6),
    ("sept", 7),
    ("huit", 8),
    ("neuf", 9),
    ("dix", 10),
    ("onze", 11),
    ("douze", 12),
    ("treize", 13),
    ("quatorze", 14),
    ("quinze", 15),
    ("seize", 16),
    ("vingt", 20),
    ("trente", 30),
    ("quarante", 40),
    ("cinquante", 50),
    ("soixante", 60),
    ("septante", 70),
    ("huitante", 80),
    ("octante", 80),
    ("nonante", 90),
    ("cent", 100),
    ("cents", 100),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("sixty", 60),
    ("seventy", 70),
    ("eighty", 80),
    ("ninety", 90),
    ("hundred", 100),
];

/// Ordinals, which name days of a month ("le premier mars", "the twelfth of March"); beside
/// no month they stay words ("the third floor").
const ORDINALS: &[(&str, u32)] = &[
    ("premier", 1),
    ("first", 1),
    ("second", 2),
    ("third", 3),
    ("fourth", 4),
    ("fifth", 5),
    ("sixth", 6),
    ("seventh", 7),
    ("eighth", 8),
    ("ninth", 9),
    ("tenth", 10),
    ("eleventh", 11),
    ("twelfth", 12),
    ("thirteenth", 13),
    ("fourteenth", 14),
    ("fifteenth", 15),
    ("sixteenth", 16),
    ("seventeenth", 17),
    ("eighteenth", 18),
    ("nineteenth", 19),
    ("twentieth", 20),
    ("thirtieth", 30),
];

/// Every number word but "un" and "one" (alone, never converted), and dictation's question
/// mark, found case-insensitively: a line without any is left as it is at once.
static NUMBER_WORD: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let words = CARDINALS
        .iter()
        .chain(ORDINALS)
        .map(|(word, _)| *word)
        .filter(|word| !matches!(*word, "un" | "one"))
        .chain(["interrogation"]);
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(words)
        .expect("number words build")
});

/// Words after which a lone number names a ticket or a draft ("le ticket quinze").
const NUMBERED: &[&str] = &[
    "ticket",
    "demande",
    "dossier",
    "request",
    "brouillon",
    "draft",
    "actu",
    "news",
    "numero",
    "number",
    "no",
    "n",
    // "n°", folded
    "ndeg",
];

/// Articles before a lone number above one that name a ticket or a day ("je prends la
/// trente", "le quinze"); "the one" or "la une" are no numbers.
const ARTICLES: &[&str] = &["la", "le", "au"];

/// Words around a lone number that make it a day of a range ("du quinze au dix-sept avril").
const RANGE_BEFORE: &[&str] = &["du", "le", "from", "between", "entre"];
const RANGE_AFTER: &[&str] = &["au", "to", "and", "et"];

/// One word of the text: its byte range as typed and its folded form.
struct Word<'f> {
    start: usize,
    end: usize,
    folded: &'f str,
}

/// The words of `text`, folded once ("Échirolles" and "quatre-vingt" cut as they are read).
fn words(text: &Folded) -> Vec<Word<'_>> {
    ascii_word_spans(&text.text)
        .into_iter()
        .map(|(s, e)| {
            let (start, end) = text.original_range(s, e);
            Word {
                start,
                end,
                folded: &text.text[s..e],
            }
        })
        .collect()
}

fn cardinal(word: &str) -> Option<u32> {
    CARDINALS.iter().find(|(w, _)| *w == word).map(|&(_, v)| v)
}

fn ordinal(word: &str) -> Option<u32> {
    ORDINALS.iter().find(|(w, _)| *w == word).map(|&(_, v)| v)
}

/// The number a run of words starting at `at` spells, with the index after its last word:
/// parts in falling order ("quatre-vingt-dix-sept" is 80, 10, 7), joined by spaces, hyphens
/// or "et" ("vingt et un"), "cent"/"hundred" multiplying what precedes. An ordinal may end the
/// run ("twenty-first"). `None` when the words are no number, or no well-formed one ("deux
/// trois trucs").
fn spelled_at(text: &str, words: &[Word], at: usize) -> Option<(u32, usize, bool)> {
    let mut total = 0;
    let mut last_part = u32::MAX;
    let mut i = at;
    let mut parts = 0;
    let mut ordinal_end = false;
    while i < words.len() {
        if i > at {
            let between = &text[words[i - 1].end..words[i].start];
            if !between.chars().all(|c| c == ' ' || c == '-') || between.is_empty() {
                break;
            }
        }
        let word = words[i].folded;
        // "vingt et un", "soixante et onze": "et" joins a unit to a ten.
        if word == "et" && parts > 0 && last_part >= 20 {
            if let Some(next) = words.get(i + 1)
                && matches!(next.folded, "un" | "une" | "onze" | "unieme")
            {
                i += 1;
                continue;
            }
            break;
        }
        let quatre_vingt = word == "quatre"
            && words
                .get(i + 1)
                .is_some_and(|n| matches!(n.folded, "vingt" | "vingts"))
            && text[words[i].end..words[i + 1].start]
                .chars()
                .all(|c| c == ' ' || c == '-');
        let (value, used) = if quatre_vingt {
            (80, 2)
        } else if let Some(v) = cardinal(word) {
            (v, 1)
        } else if let Some(v) = ordinal(word) {
            ordinal_end = true;
            (v, 1)
        } else {
            break;
        };
        if value == 100 {
            total = total.max(1) * 100;
            last_part = 100;
        } else {
            // Parts fall: a ten then a unit, "dix" after "soixante" or "quatre-vingt" (70, 90),
            // a teen after a ten ("soixante-douze").
            if value >= last_part {
                break;
            }
            total += value;
            last_part = value;
        }
        parts += 1;
        i += used;
        if ordinal_end {
            break;
        }
    }
    (parts > 0).then_some((total, i, ordinal_end))
}

/// `text` with the numbers written in words that name a day or a ticket in digits: a number of
/// several words ("quarante-deux", "vingt et un"); one word before a month ("le douze mars"),
/// after a ticket's or draft's noun ("ticket quinze") or opening a range ("du quinze au…").
/// Lone words elsewhere stay words: "un", "neuf", "sept" or "one" are seldom numbers. Text
/// after a colon (a reply, a note, a news text) is left as typed. "point d'interrogation" at
/// the end, as dictation writes it, becomes "?".
pub fn in_digits(text: &str) -> Cow<'_, str> {
    // Most lines hold no number in words: they are told apart by one pass over their bytes.
    if !NUMBER_WORD.find_overlapping_iter(text).any(|m| {
        let bytes = text.as_bytes();
        let before = m.start().checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(m.end()).copied();
        let letter = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b >= 0x80);
        !letter(before) && !letter(after)
    }) {
        return Cow::Borrowed(text);
    }
    let head_end = text.find(':').unwrap_or(text.len());
    let head = &text[..head_end];
    let folded_head = Folded::new(head);
    let all = words(&folded_head);
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < all.len() {
        let Some((value, next, ordinal)) = spelled_at(head, &all, i) else {
            i += 1;
            continue;
        };
        let before = i.checked_sub(1).map(|b| all[b].folded);
        let after = all.get(next).map(|w| w.folded);
        let month_after = after.is_some_and(super::dates::names_a_month)
            || (after == Some("of")
                && all
                    .get(next + 1)
                    .is_some_and(|w| super::dates::names_a_month(w.folded)));
        let month_before = before.is_some_and(super::dates::names_a_month);
        let several = next - i >= 2;
        let convert = if ordinal {
            month_after || month_before
        } else {
            (several && value > 1)
                || month_after
                || before.is_some_and(|b| NUMBERED.contains(&b))
                || (before.is_some_and(|b| ARTICLES.contains(&b)) && value > 1)
                || (before.is_some_and(|b| RANGE_BEFORE.contains(&b))
                    && after.is_some_and(|a| RANGE_AFTER.contains(&a)))
        };
        if convert {
            out.push_str(&text[copied..all[i].start]);
            out.push_str(&value.to_string());
            copied = all[next - 1].end;
        }
        i = next;
    }
    // "… une actualité point d'interrogation": dictation's question mark.
    let trimmed = head.trim_end();
    let dictated_question = trimmed
        .char_indices()
        .filter(|&(_, c)| c == 'p' || c == 'P')
        .map(|(at, _)| at)
        .rfind(|&at| ascii_fold(&trimmed[at..]).replace('’', "'") == "point d'interrogation")
        .filter(|&at| at >= copied);
    match dictated_question {
        None if copied == 0 => Cow::Borrowed(text),
        None => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
        Some(at) => {
            out.push_str(text[copied..at].trim_end());
            out.push_str(" ?");
            out.push_str(&text[trimmed.len()..]);
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_words_become_digits_where_they_name_a_day_or_a_ticket() {
        let cases = [
            (
                "une conférence à Lille le douze mars",
                "une conférence à Lille le 12 mars",
            ),
            (
                "le vingt et un janvier à Mulhouse",
                "le 21 janvier à Mulhouse",
            ),
            ("pour le vingt-six janvier", "pour le 26 janvier"),
            ("du quinze au dix-sept avril", "du 15 au 17 avril"),
            ("le sept janvier en anglais", "le 7 janvier en anglais"),
            ("jusqu'au quatre janvier", "jusqu'au 4 janvier"),
            (
                "montre moi le ticket quarante-deux",
                "montre moi le ticket 42",
            ),
            ("la demande nonante-trois ?", "la demande 93 ?"),
            (
                "Je prends le ticket septante-quatre, ça joue.",
                "Je prends le ticket 74, ça joue.",
            ),
            ("annule la demande huitante-deux", "annule la demande 82"),
            (
                "je prends la demande trente et un",
                "je prends la demande 31",
            ),
            ("ticket quinze terminé", "ticket 15 terminé"),
            ("le brouillon soixante-dix", "le brouillon 70"),
            ("la demande quatre-vingt-dix-sept", "la demande 97"),
            ("la demande quatre-vingts", "la demande 80"),
            ("on the twelfth of March", "on the 12 of March"),
            ("March twenty-first", "March 21"),
            ("ticket forty-two please", "ticket 42 please"),
            // Words that are seldom numbers stay words.
            ("un intervenant neuf", "un intervenant neuf"),
            ("le 3 sept", "le 3 sept"),
            ("deux trois trucs à voir", "deux trois trucs à voir"),
            ("one of your members", "one of your members"),
            (
                "the printer on the third floor",
                "the printer on the third floor",
            ),
            ("les six communes", "les six communes"),
            // A short number word inside a longer one hides nothing.
            (
                "Ok pour publier le brouillon septante",
                "Ok pour publier le brouillon 70",
            ),
            ("la demande QUATORZE", "la demande 14"),
            // A reply's text is left as typed.
            (
                "réponds à la trente : rendez-vous le douze mars",
                "réponds à la 30 : rendez-vous le douze mars",
            ),
            (
                "comment on fait pour proposer une actualité point d'interrogation",
                "comment on fait pour proposer une actualité ?",
            ),
        ];
        for (typed, expected) in cases {
            assert_eq!(in_digits(typed), expected, "{typed}");
        }
    }
}
