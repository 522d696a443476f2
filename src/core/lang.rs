//! The two languages the bot speaks, and a guess at which one a message is written in.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fr" | "fra" | "fre" | "french" | "francais" | "français" => Ok(Lang::Fr),
            "en" | "eng" | "english" | "anglais" => Ok(Lang::En),
            other => Err(format!("unknown language '{other}' (expected fr or en)")),
        }
    }
}

const FRENCH_MARKERS: &[&str] = &[
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "du",
    "de",
    "sur",
    "pour",
    "qui",
    "quoi",
    "est",
    "et",
    "je",
    "mes",
    "mon",
    "ma",
    "trouve",
    "cherche",
    "intervenant",
    "intervenante",
    "aide",
    "peut",
    "parler",
    "themes",
    "theme",
    "absent",
    "jusqu",
    "au",
    "avec",
    "bonjour",
    "merci",
    "demande",
    "demandes",
    "profil",
    "fiche",
    "salle",
    "reste",
    "refusee",
    "annulee",
    "terminee",
    "dans",
    "nous",
    "vous",
    "svp",
    "stp",
];
const ENGLISH_MARKERS: &[&str] = &[
    // Not "a": French has it ("il a") and folds "à" into it.
    "the", "an", "of", "it", "on", "for", "who", "what", "is", "and", "i", "my", "me", "find",
    "search", "speaker", "speakers", "help", "can", "talk", "topics", "topic", "away", "until",
    "with", "hello", "thanks", "please", "pls", "plz", "thx",
];

/// Each marker word and whether it is French, English (some are both).
static MARKERS: std::sync::LazyLock<std::collections::HashMap<&'static str, (bool, bool)>> =
    std::sync::LazyLock::new(|| {
        let mut markers = std::collections::HashMap::new();
        for word in FRENCH_MARKERS {
            markers.entry(*word).or_insert((false, false)).0 = true;
        }
        for word in ENGLISH_MARKERS {
            markers.entry(*word).or_insert((false, false)).1 = true;
        }
        markers
    });

/// Guess the language of free text from function words; None when there is no evidence or a tie.
pub fn detect(text: &str) -> Option<Lang> {
    detect_normalized(&super::text::normalize(text))
}

/// [`detect`] on text already passed through [`super::text::normalize`].
pub fn detect_normalized(normalized: &str) -> Option<Lang> {
    let (mut fr, mut en) = (0, 0);
    for word in normalized.split(' ') {
        // One hash lookup per word rather than a comparison with every marker: a mail has
        // hundreds of words.
        if let Some(&(is_fr, is_en)) = MARKERS.get(word) {
            fr += usize::from(is_fr);
            en += usize::from(is_en);
        }
    }
    match fr.cmp(&en) {
        std::cmp::Ordering::Greater => Some(Lang::Fr),
        std::cmp::Ordering::Less => Some(Lang::En),
        std::cmp::Ordering::Equal => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_language_of_typical_messages() {
        let cases = [
            ("trouve un intervenant sur les licences", Some(Lang::Fr)),
            ("qui peut parler de normalisation ?", Some(Lang::Fr)),
            ("find a speaker on licensing", Some(Lang::En)),
            ("who can talk about the PSI directive", Some(Lang::En)),
            ("xyzzy", None),
        ];
        for (text, expected) in cases {
            assert_eq!(detect(text), expected, "{text}");
        }
    }

    #[test]
    fn parses_language_names() {
        assert_eq!("FR".parse::<Lang>(), Ok(Lang::Fr));
        assert_eq!("english".parse::<Lang>(), Ok(Lang::En));
        assert!("de".parse::<Lang>().is_err());
    }
}
