//! The kind of contribution a request asks for (a talk, a round table, a workshop…) and
//! whether it happens online, read from chat lines. Found words are also what the topic
//! matcher must not read: "une formation sur le RGPD" is about data protection, not training.

use super::text::Folded;
use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

/// Format names and the words that say them (folded to ASCII), most specific first.
const FORMATS: &[(&str, &[&str])] = &[
    (
        "round-table",
        &[
            "table ronde",
            "table-ronde",
            "tables rondes",
            "round table",
            "roundtable",
            "panel",
            "panels",
            "panelist",
            "panelists",
            "panel discussion",
            "debat",
            "debate",
        ],
    ),
    (
        "keynote",
        &[
            "keynote",
            "conference inaugurale",
            "conference d ouverture",
            "grand temoin",
            "discours d ouverture",
            "opening talk",
            "opening keynote",
        ],
    ),
    (
        "webinar",
        &["webinaire", "webinaires", "webinar", "webinars"],
    ),
    (
        "workshop",
        &["atelier", "ateliers", "workshop", "workshops"],
    ),
    (
        "interview",
        &[
            "podcast",
            "interview",
            "interviews",
            "entretien",
            "emission de radio",
            "radio",
            "journaliste",
            "journalist",
            "presse",
            "press",
        ],
    ),
    (
        "course",
        &[
            "cours",
            "course",
            "a class",
            "give a class",
            "classes",
            "lecture",
            "enseignement",
            "teach",
            "module de cours",
            "master class",
            "masterclass",
        ],
    ),
    (
        "hackathon",
        &[
            "datathon",
            "hackathon",
            "hackathons",
            "datathons",
            "game jam",
        ],
    ),
    (
        "working-group",
        &[
            "groupe de travail",
            "working group",
            "comite technique",
            "groupe projet",
        ],
    ),
    (
        "training",
        &[
            "formation",
            "formations",
            "training",
            "training session",
            "former",
            "sensibilisation",
            "session de formation",
        ],
    ),
    ("hearing", &["audition", "hearing", "auditionner"]),
    ("jury", &["jury", "jure", "membre de jury", "jury member"]),
    (
        "talk",
        &[
            "conference",
            "conf",
            // "talk" alone is mostly the verb ("someone to talk about"): only as a noun.
            "a talk",
            "give a talk",
            "talks",
            "presentation",
            "intervention",
            "expose",
            "pleniere",
            "speech",
        ],
    ),
];

/// Words that make an event online: a format of its own, never a place.
const ONLINE: &[&str] = &[
    "en ligne",
    "online",
    "visio",
    "en visio",
    "visioconference",
    "en visioconference",
    "a distance",
    "remote",
    "remotely",
    "distanciel",
    "en distanciel",
    "zoom",
    "sur zoom",
    "on zoom",
    "teams",
    "sur teams",
    "on teams",
    "virtual",
    "virtuel",
    "virtuelle",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Format(&'static str),
    Online,
}

/// A format or online word found in a text, with its byte range there.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundFormat {
    pub kind: Found,
    pub start: usize,
    pub end: usize,
}

/// One alternation of every phrase, longest first, on folded text with word boundaries, and
/// each phrase's kind by its words. No capture groups: a hundred of them would force the slow
/// regex engine on every chat line.
static FINDER: LazyLock<(Regex, HashMap<String, Found>)> = LazyLock::new(|| {
    let mut phrases: Vec<(&str, Found)> = ONLINE.iter().map(|p| (*p, Found::Online)).collect();
    for (name, words) in FORMATS {
        phrases.extend(words.iter().map(|w| (*w, Found::Format(name))));
    }
    phrases.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    let pattern = phrases
        .iter()
        .map(|(p, _)| regex::escape(p).replace(' ', r"[\s'-]+"))
        .collect::<Vec<_>>()
        .join("|");
    let regex = Regex::new(&format!(r"(?-u:\b)(?:{pattern})(?-u:\b)")).expect("valid formats");
    let kinds = phrases
        .into_iter()
        .map(|(p, kind)| (key(p), kind))
        .collect();
    (regex, kinds)
});

/// A phrase's words joined by single spaces, as the table is keyed.
fn key(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '\'' || c == '-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every format and online word in the text, in order.
pub fn find(text: &str) -> Vec<FoundFormat> {
    let folded = Folded::new(text);
    let (regex, kinds) = &*FINDER;
    regex
        .find_iter(&folded.text)
        .filter_map(|m| {
            let kind = *kinds.get(&key(m.as_str()))?;
            let (start, end) = folded.original_range(m.start(), m.end());
            Some(FoundFormat { kind, start, end })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_online_are_found_where_people_write_them() {
        let cases: &[(&str, &[Found])] = &[
            (
                "une table ronde sur le RGPD",
                &[Found::Format("round-table")],
            ),
            (
                "webinaire en ligne le 4",
                &[Found::Format("webinar"), Found::Online],
            ),
            (
                "un atelier en visio",
                &[Found::Format("workshop"), Found::Online],
            ),
            (
                "a podcast interview",
                &[Found::Format("interview"), Found::Format("interview")],
            ),
            ("on organise un datathon", &[Found::Format("hackathon")]),
            ("la conférence de Lyon", &[Found::Format("talk")]),
            ("les données de transport", &[]),
            ("environ 300 agents", &[]),
        ];
        for (text, expected) in cases {
            let kinds: Vec<Found> = find(text).into_iter().map(|f| f.kind).collect();
            assert_eq!(kinds, *expected, "{text}");
        }
    }
}
