//! The new text of a reply: quoted originals, client header blocks and signatures removed, so a
//! reply shows in chat as what the person actually wrote (above or below the quote).

use super::rules::{MailRules, fold};

/// Longest line, in bytes, that can introduce a quote or open a signature.
const MAX_MARKER_LINE: usize = 400;

/// The new text: without "> " lines and the line introducing them, and without everything from
/// an Outlook-style original, a forward marker or a signature on.
pub fn new_text(text: &str, rules: &MailRules) -> String {
    let lines: Vec<&str> = text.lines().collect();
    // Intros, markers and signatures are short lines: a long paragraph is never one, so it is
    // not folded (a stand-in that no rule matches takes its place).
    let folded: Vec<String> = lines
        .iter()
        .map(|l| {
            if l.len() > MAX_MARKER_LINE {
                "\u{1}".to_string()
            } else {
                fold(l.trim())
            }
        })
        .collect();
    let matches = |regexes: &[regex::Regex], line: &str| regexes.iter().any(|r| r.is_match(line));
    let mut kept = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = &folded[i];
        // Gmail wraps a long "Le … a écrit :" over two lines.
        let joined = folded.get(i + 1).map(|next| format!("{line} {next}"));
        if matches(&rules.quote_intros, line) {
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
            i += 2;
            continue;
        }
        let outlook_block = matches(&rules.header_block_first, line)
            && folded[i + 1..]
                .iter()
                .filter(|l| !l.is_empty())
                .take(3)
                .any(|l| matches(&rules.header_block_next, l));
        if outlook_block
            || matches(&rules.original_markers, line)
            || matches(&rules.signature_markers, line)
        {
            break;
        }
        if !lines[i].trim_start().starts_with('>') {
            kept.push(lines[i]);
        }
        i += 1;
    }
    kept.join("\n").trim().to_string()
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
}
