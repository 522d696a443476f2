//! A forwarded message inside a mail: a member passes on a request they received
//! ("---------- Message transféré ----------", Outlook's "De : … Envoyé : … Objet : …"). The
//! original's sender, subject and text are what a ticket needs; the display of an ordinary
//! reply still cuts everything from such a block on (see `quotes`).

use super::message::Mailbox;
use super::quotes::{Lines, is_original_at};
use super::rules::{MailRules, fold};
use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forwarded {
    /// Who wrote the original.
    pub from: Mailbox,
    pub subject: Option<String>,
    /// The original comes from a robot address (no-reply, mailer-daemon…): never answered.
    pub robot: bool,
    /// What the forwarder wrote above it.
    pub note: String,
    /// The original's text, from its first line to the end (its own quotes and signature in).
    #[serde(skip)]
    pub text: String,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+").expect("valid email regex")
});

/// Header lines of the forwarded block read at most: From, Date, To, Cc, Subject and a few
/// wrapped recipient lines.
const MAX_HEADER_LINES: usize = 12;

/// The forwarded original of a mail, when it has one whose sender can be read. Without a
/// forward marker, an Outlook original counts only under a forward's subject ("TR :", "Fwd:"):
/// otherwise it is the quoted mail of a reply.
pub fn find(text: &Lines<'_>, subject: &str, rules: &MailRules) -> Option<Forwarded> {
    let (lines, folded) = (&text.raw, &text.folded);
    let is_forward_subject = {
        let subject = fold(subject.trim());
        rules.forward_subjects.is_match(&subject)
    };
    let matches = |set: &regex::RegexSet, line: &str| set.is_match(line);
    let start = (0..lines.len()).find(|&i| {
        !lines[i].trim_start().starts_with('>')
            && (matches(&rules.forward_markers, &folded[i])
                || is_forward_subject && is_original_at(folded, i, rules))
    })?;
    // The header block: after a marker line, or from the Outlook block's first line.
    let mut i = if matches(&rules.forward_markers, &folded[start])
        || matches(&rules.original_markers, &folded[start])
    {
        start + 1
    } else {
        start
    };
    while i < lines.len() && header_fold(lines[i]).is_empty() {
        i += 1;
    }
    let [from_re, subject_re, other_re] = &rules.forward_headers;
    let (mut from, mut original_subject) = (None, None);
    let mut read = 0;
    while i < lines.len() && read < MAX_HEADER_LINES {
        // Some clients quote the forwarded headers too ("> From: …").
        let line = header_fold(lines[i]);
        if line.is_empty() {
            break;
        }
        let value = || header_value(lines[i]);
        if from.is_none() && from_re.is_match(&line) {
            from = mailbox(&value());
        } else if original_subject.is_none() && subject_re.is_match(&line) {
            original_subject = Some(value()).filter(|s| !s.is_empty());
        } else if !other_re.is_match(&line) && read == 0 {
            // Not a header block after all.
            return None;
        }
        read += 1;
        i += 1;
    }
    let from = from?;
    let body: Vec<&str> = lines[i..].to_vec();
    // Some clients quote the forwarded text: one level of "> " goes.
    let quoted = body.iter().filter(|l| !l.trim().is_empty()).count();
    let all_quoted = quoted > 0
        && body
            .iter()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('>'));
    let text = if all_quoted {
        body.iter()
            .map(|l| {
                let l = l.trim_start();
                l.strip_prefix("> ")
                    .or_else(|| l.strip_prefix('>'))
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        body.join("\n")
    };
    let forwarded = Forwarded {
        robot: rules.is_robot_address(&from.address),
        from,
        subject: original_subject,
        note: super::quotes::new_text(&lines[..start].join("\n"), rules),
        text: text.trim().to_string(),
    };
    // A forward of a forward ("Fwd: TR: Table ronde…"): the innermost original is what asks,
    // and the member's note above all is still the note.
    let forwarded_again = (forwarded.subject.as_deref())
        .is_some_and(|s| rules.forward_subjects.is_match(&fold(s.trim())));
    if forwarded_again {
        let subject = forwarded.subject.clone().unwrap_or_default();
        if let Some(inner) = find(&super::quotes::lines(&forwarded.text), &subject, rules) {
            return Some(Forwarded {
                note: forwarded.note,
                ..inner
            });
        }
    }
    Some(forwarded)
}

/// A header line folded as the rules are written, without a quote mark in front.
fn header_fold(line: &str) -> String {
    let line = line.trim_start();
    let line = line.strip_prefix('>').map_or(line, str::trim_start);
    if line.len() > 400 {
        "\u{1}".to_string()
    } else {
        fold(line.trim())
    }
}

/// What follows the header's name: "De : Camille <c@x>" gives "Camille <c@x>".
fn header_value(line: &str) -> String {
    let line = line.trim_start().trim_start_matches('>').trim_start();
    line.split_once(':')
        .map(|(_, v)| v.trim().trim_start_matches('*').trim().to_string())
        .unwrap_or_default()
}

/// "Camille Roux <c@x>", "Camille Roux [mailto:c@x]", "\"Roux, Camille\" <c@x>" or "c@x".
fn mailbox(value: &str) -> Option<Mailbox> {
    let found = EMAIL.find(value)?;
    let name = value[..found.start()]
        .trim_end_matches(['<', '[', '(', ' '])
        .trim_end_matches("mailto:")
        .trim_end_matches(['<', '[', '(', ' '])
        .trim()
        .trim_matches(['"', '\'', '*'])
        .trim();
    Some(Mailbox {
        name: (!name.is_empty() && !name.contains('@')).then(|| name.to_string()),
        address: found.as_str().to_lowercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::rules::tests::rules;

    #[test]
    fn unwraps_the_forwards_of_common_clients() {
        let rules = rules();
        // (address, name, subject, text) of the original.
        type Original<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a str);
        let cases: [(&str, &str, Option<Original>); 8] = [
            (
                "Fwd: Demande",
                "Pour toi ?\n\n---------- Forwarded message ---------\nFrom: Hélène Vasseur <Helene@Assoc.example>\nDate: Tue, 24 Nov 2026 at 09:12\nSubject: Demande d'intervenant\nTo: <camille@example.org>\n\n\nBonjour,\nNous cherchons un intervenant.",
                Some((
                    "helene@assoc.example",
                    Some("Hélène Vasseur"),
                    Some("Demande d'intervenant"),
                    "Bonjour,\nNous cherchons un intervenant.",
                )),
            ),
            (
                "TR: Demande",
                "-------- Message transféré --------\nSujet : Table ronde\nDate : Tue, 24 Nov 2026\nDe : Tom <tom@city.example>\nPour : camille@example.org\n\nHello",
                Some((
                    "tom@city.example",
                    Some("Tom"),
                    Some("Table ronde"),
                    "Hello",
                )),
            ),
            (
                "TR : Intervention",
                "Je te transfère.\n\nDe : Roux, Camille [mailto:c.roux@ville.example]\nEnvoyé : mardi 24 novembre 2026 09:12\nÀ : Alex\nObjet : Intervention\n\nBonjour",
                Some((
                    "c.roux@ville.example",
                    Some("Roux, Camille"),
                    Some("Intervention"),
                    "Bonjour",
                )),
            ),
            (
                "Fwd: x",
                "Begin forwarded message:\n\n> From: a@b.example\n> Subject: x\n>\n> Hi there",
                Some(("a@b.example", None, Some("x"), "Hi there")),
            ),
            // A forward of a forward: the innermost original asks.
            (
                "Fwd: TR: Table ronde",
                "Pour le réseau ?\n\n---------- Forwarded message ---------\nFrom: Secrétariat <sec@ville.example>\nSubject: TR: Table ronde\n\nCela me semble pour vous.\n\n-----Message d'origine-----\nDe : Lise <lise@bib.example>\nEnvoyé : lundi\nObjet : Table ronde\n\nNous cherchons une personne.",
                Some((
                    "lise@bib.example",
                    Some("Lise"),
                    Some("Table ronde"),
                    "Nous cherchons une personne.",
                )),
            ),
            // A reply quoting an Outlook original is no forward.
            (
                "RE: Intervention",
                "Oui.\n\nDe : Camille <c@ville.example>\nEnvoyé : mardi\nObjet : Intervention\n\nBonjour",
                None,
            ),
            // A marker without a readable sender.
            (
                "Fwd: x",
                "---------- Forwarded message ---------\nFrom: Camille\n\nHi",
                None,
            ),
            ("Bonjour", "Nous cherchons un intervenant.", None),
        ];
        for (subject, text, expected) in cases {
            let found = find(&crate::mail::quotes::lines(text), subject, &rules);
            let got = found.as_ref().map(|f| {
                (
                    f.from.address.as_str(),
                    f.from.name.as_deref(),
                    f.subject.as_deref(),
                    f.text.as_str(),
                )
            });
            assert_eq!(got, expected, "{text}");
        }
        let note_of = |(subject, text, _): &(&str, &str, _)| {
            find(&crate::mail::quotes::lines(text), subject, &rules)
                .unwrap()
                .note
        };
        assert_eq!(note_of(&cases[0]), "Pour toi ?");
        // The member's note, above both forwards, is the note.
        assert_eq!(note_of(&cases[4]), "Pour le réseau ?");
    }
}
