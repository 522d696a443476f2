//! The new text of a reply: quoted originals, client header blocks and signatures removed, so a
//! reply shows in chat as what the person actually wrote (above or below the quote).

use super::rules::{MailRules, fold};

/// Longest line, in bytes, that can introduce a quote or open a signature.
const MAX_MARKER_LINE: usize = 400;

/// A text cut into what its writer wrote now and the signature under it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    /// Without "> " lines and the line introducing them, and without everything from an
    /// Outlook-style original, a forward marker or a signature on: what chat shows.
    pub new_text: String,
    /// The lines after the closing formula or signature marker, up to any quoted original:
    /// who wrote and for which body. Without a marker, a short last paragraph of short lines
    /// ("Camille Roux\nRennes Métropole") stands for it, and stays in the new text too.
    pub signature: String,
}

/// Longest line of a signature block without marker, in characters.
const SIGNATURE_LINE: usize = 80;

/// The new text (see [`Split::new_text`]).
pub fn new_text(text: &str, rules: &MailRules) -> String {
    split(text, rules).new_text
}

/// A text's lines, and each folded as the rules are written: read once for quotes, signature
/// and forwards.
pub struct Lines<'a> {
    pub raw: Vec<&'a str>,
    /// Trimmed and folded; a long line (a paragraph, never a marker) is a stand-in that no rule
    /// matches.
    pub folded: Vec<String>,
}

pub fn lines(text: &str) -> Lines<'_> {
    let raw: Vec<&str> = text.lines().collect();
    let folded = raw
        .iter()
        .map(|l| {
            if l.len() > MAX_MARKER_LINE {
                "\u{1}".to_string()
            } else {
                fold(l.trim())
            }
        })
        .collect();
    Lines { raw, folded }
}

pub fn split(text: &str, rules: &MailRules) -> Split {
    split_lines(&lines(text), rules)
}

pub fn split_lines(text: &Lines<'_>, rules: &MailRules) -> Split {
    let (lines, folded) = (&text.raw, &text.folded);
    let matches = |set: &regex::RegexSet, line: &str| set.is_match(line);
    let mut kept = Vec::new();
    let mut signature: Option<Vec<&str>> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = &folded[i];
        // Gmail wraps a long "Le … a écrit :" over two lines.
        let joined = folded.get(i + 1).map(|next| format!("{line} {next}"));
        let quoted = lines[i].trim_start().starts_with('>');
        if matches(&rules.quote_intros, line) {
            if signature.is_some() {
                break;
            }
            i += 1;
            continue;
        }
        let next_is_intro = folded
            .get(i + 1)
            .is_some_and(|next| matches(&rules.quote_intros, next));
        if !line.is_empty()
            && !next_is_intro
            && joined
                .as_deref()
                .is_some_and(|j| matches(&rules.quote_intros, j))
        {
            if signature.is_some() {
                break;
            }
            i += 2;
            continue;
        }
        if is_original_at(folded, i, rules) {
            break;
        }
        match &mut signature {
            // Quoted text under a signature is an original the client put there.
            Some(_) if quoted => break,
            Some(sig) => sig.push(lines[i]),
            None if matches(&rules.signature_markers, line) => signature = Some(Vec::new()),
            None if !quoted => kept.push(lines[i]),
            None => {}
        }
        i += 1;
    }
    // A marker with nothing under it ("Sent from my iPhone" after "Mark\nLyon Civic Tech
    // Meetup") closes the mail: the signature is above it.
    let signature = match signature.filter(|sig| sig.iter().any(|l| !l.trim().is_empty())) {
        Some(sig) => sig.join("\n").trim().to_string(),
        None => {
            // The last paragraph, when it looks like a name-and-body block.
            while kept.last().is_some_and(|l| l.trim().is_empty()) {
                kept.pop();
            }
            let ends_sentence = |l: &&str| l.trim_end().ends_with(['.', '?', '!', ':']);
            let paragraph = kept
                .iter()
                .rposition(|l| l.trim().is_empty())
                .map_or(0, |blank| blank + 1);
            // Else the lines after the paragraph's last sentence: mail written as HTML often
            // has no blank line before the signature ("Merci !<br>Bastien Lacoste<br>…").
            let after_sentence = kept[paragraph..]
                .iter()
                .rposition(ends_sentence)
                .map(|at| paragraph + at + 1);
            let block = |from: usize| {
                let last = &kept[from..];
                (from > 0
                    && (1..=5).contains(&last.len())
                    && last
                        .iter()
                        .all(|l| l.trim().chars().count() <= SIGNATURE_LINE)
                    && !last.iter().any(ends_sentence))
                .then(|| last.join("\n").trim().to_string())
            };
            block(paragraph)
                .or_else(|| after_sentence.and_then(block))
                .unwrap_or_default()
        }
    };
    Split {
        new_text: kept.join("\n").trim().to_string(),
        signature,
    }
}

/// Whether line `i` starts an original: a forward or "original message" marker, or an Outlook
/// header block ("De : … / Envoyé : …").
pub(crate) fn is_original_at(folded: &[String], i: usize, rules: &MailRules) -> bool {
    let matches = |set: &regex::RegexSet, line: &str| set.is_match(line);
    let line = &folded[i];
    matches(&rules.original_markers, line)
        || matches(&rules.header_block_first, line)
            && folded[i + 1..]
                .iter()
                .filter(|l| !l.is_empty())
                .take(3)
                .any(|l| matches(&rules.header_block_next, l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::rules::tests::rules;

    #[test]
    fn strips_the_formats_of_common_clients() {
        let cases = [
            (
                "Merci, c'est noté.\n\nLe jeu. 12 mars 2027 à 10:00, Camille Roux <camille@example.org> a écrit :\n> Bonjour",
                "Merci, c'est noté.",
            ),
            (
                "D'accord pour le 12.\n\nLe 26/11/2026 à 09:12, Alex\nMartin a écrit :\n> question",
                "D'accord pour le 12.",
            ),
            (
                "Sounds good.\n\nOn Thu, Mar 12, 2027 at 10:00 AM Camille <c@example.org> wrote:\n> Hi",
                "Sounds good.",
            ),
            (
                "Oui.\n\n-----Message d'origine-----\nDe : Camille\nEnvoyé : jeudi\nObjet : test",
                "Oui.",
            ),
            (
                "Yes.\n\n________________________________\nFrom: Camille Roux\nSent: Thursday\nTo: bot\nSubject: x",
                "Yes.",
            ),
            (
                "Bien reçu.\n\nDe : Camille Roux <c@example.org>\nEnvoyé : jeudi 12 mars 2027 10:00\nÀ : bot\nObjet : RE: test",
                "Bien reçu.",
            ),
            (
                "Je viendrai.\n-- \nCamille Roux\nRennes Métropole",
                "Je viendrai.",
            ),
            ("Top.\n\nEnvoyé de mon iPhone", "Top."),
            (
                "> quoted first\nMy answer below the quote.",
                "My answer below the quote.",
            ),
            (
                "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi\nHello",
                "Hello",
            ),
            (
                "Le rapport est prêt.\nLe 3 mars 2027, Bob a écrit :\n> Où en est-on ?",
                "Le rapport est prêt.",
            ),
            ("De rien, à bientôt.", "De rien, à bientôt."),
            (
                "Nous viendrons.\n\nBien cordialement,\nLe service communication",
                "Nous viendrons.",
            ),
            ("See you there.\nBest regards,\nTom", "See you there."),
        ];
        let rules = rules();
        for (text, expected) in cases {
            assert_eq!(new_text(text, &rules), expected, "{text}");
        }
    }

    #[test]
    fn keeps_the_signature_apart_for_extraction() {
        let rules = rules();
        let cases = [
            (
                "Nous viendrons.\n\nBien cordialement,\nCamille Roux\nRennes Métropole\n\nLe 3 mars, Bob a écrit :\n> Venez-vous ?",
                "Nous viendrons.",
                "Camille Roux\nRennes Métropole",
            ),
            (
                "Nous viendrons à deux.\n\nCamille Roux\nVille de Saint-Malo",
                "Nous viendrons à deux.\n\nCamille Roux\nVille de Saint-Malo",
                "Camille Roux\nVille de Saint-Malo",
            ),
            ("Une seule ligne.", "Une seule ligne.", ""),
            // A closing formula opens the signature.
            (
                "Nous viendrons.\n\nMerci de votre aide !\nCamille Roux",
                "Nous viendrons.",
                "Camille Roux",
            ),
            (
                "Can you join?\nWith kind regards\nKatrin Vogel\nKommunale Datenallianz e.V.",
                "Can you join?",
                "Katrin Vogel\nKommunale Datenallianz e.V.",
            ),
            (
                "Pouvez-vous venir ?\nMerci par avance pour votre aide,\nSophie Delannoy\nUniversité de Lille",
                "Pouvez-vous venir ?",
                "Sophie Delannoy\nUniversité de Lille",
            ),
            // The formula may close a longer line.
            (
                "Pouvez-vous venir ?\nDans l'attente de votre réponse, je vous prie d'agréer, Madame, Monsieur, mes salutations.\nB. Cazalès\nCESER Occitanie",
                "Pouvez-vous venir ?",
                "B. Cazalès\nCESER Occitanie",
            ),
            (
                "Pouvez-vous venir ?\n\nNous organisons une journée à Lyon.",
                "Pouvez-vous venir ?\n\nNous organisons une journée à Lyon.",
                "",
            ),
            // From HTML: no blank line before the signature, under the last sentence.
            (
                "Bonjour,\nPouvez-vous venir ? Hébergement sur place.\nBastien Lacoste\nChambre d'agriculture du Gers",
                "Bonjour,\nPouvez-vous venir ? Hébergement sur place.\nBastien Lacoste\nChambre d'agriculture du Gers",
                "Bastien Lacoste\nChambre d'agriculture du Gers",
            ),
            // A device line with nothing under it: the signature is above it.
            (
                "Hi, can you help?\nMark\nLyon Civic Tech Meetup\nSent from my iPhone",
                "Hi, can you help?\nMark\nLyon Civic Tech Meetup",
                "Mark\nLyon Civic Tech Meetup",
            ),
        ];
        for (text, new, signature) in cases {
            let found = split(text, &rules);
            assert_eq!(
                (found.new_text.as_str(), found.signature.as_str()),
                (new, signature),
                "{text}"
            );
        }
    }
}
