//! Loop protection and classification of incoming mail.

use super::message::MailMessage;
use super::rules::{CueKind, MailRules, fold};
use serde::Serialize;

/// What the deployment tells the classifier.
#[derive(Debug, Clone)]
pub struct MailContext {
    /// The subject tag prefix of tickets: "ODF" makes tags like "[ODF #12]".
    pub ticket_prefix: String,
    /// The List-Id of the watched mailing list: its mail is discussion, not robot mail.
    pub watched_list: Option<String>,
    /// The value the bot writes in its own loop header.
    pub loop_value: String,
}

/// Why a message must never be answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum MachineReason {
    OwnLoop,
    AutoSubmitted(String),
    Precedence(String),
    AutoResponseSuppress(String),
    AutoReplyHeader,
    NullReturnPath,
    RobotSender(String),
    DeliveryReport,
    FeedbackReport,
    MailingList(String),
}

/// Every rule that forbids answering, checked in order; the first that applies is returned.
pub fn machine_reason(
    mail: &MailMessage,
    rules: &MailRules,
    ctx: &MailContext,
) -> Option<MachineReason> {
    let robot = &mail.robot;
    if robot
        .loops
        .iter()
        .any(|v| v.trim().eq_ignore_ascii_case(&ctx.loop_value))
    {
        return Some(MachineReason::OwnLoop);
    }
    if let Some(value) = &robot.auto_submitted
        && !value.trim().to_ascii_lowercase().starts_with("no")
    {
        return Some(MachineReason::AutoSubmitted(value.clone()));
    }
    let watched = is_watched_list(mail, ctx);
    if let Some(value) = &robot.precedence
        && match value.trim().to_ascii_lowercase().as_str() {
            "bulk" | "junk" | "auto_reply" => true,
            // The watched list marks its own mail `Precedence: list`.
            "list" => !watched,
            _ => false,
        }
    {
        return Some(MachineReason::Precedence(value.clone()));
    }
    if let Some(value) = &robot.auto_response_suppress {
        return Some(MachineReason::AutoResponseSuppress(value.clone()));
    }
    if robot.x_autoreply {
        return Some(MachineReason::AutoReplyHeader);
    }
    if robot.delivery_report {
        return Some(MachineReason::DeliveryReport);
    }
    if robot.feedback_report {
        return Some(MachineReason::FeedbackReport);
    }
    if robot.null_return_path {
        return Some(MachineReason::NullReturnPath);
    }
    // A website's contact form sends from "noreply@" with the person in Reply-To and their
    // address as one of its fields ("Courriel : …"): it is that person's mail. A service's
    // notice on someone's behalf ("X has accepted your invitation") lists no such field.
    let person_replies = mail.reply_to.as_ref().is_some_and(|r| {
        !rules.is_robot_address(&r.address) && form_field_holds(&mail.text, &r.address)
    });
    if let Some(from) = &mail.from
        && rules.is_robot_address(&from.address)
        && !person_replies
    {
        return Some(MachineReason::RobotSender(from.address.clone()));
    }
    if let Some(list) = &robot.list_id
        && !watched
    {
        return Some(MachineReason::MailingList(list.clone()));
    }
    if robot.list_headers && robot.list_id.is_none() {
        return Some(MachineReason::MailingList("List-* headers".into()));
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    Request,
    TicketReply,
    ListDiscussion,
    News,
    AutoReply,
    Bounce,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub class: Class,
    /// Why, in a few words, for logs and golden files.
    pub reason: String,
    /// Set when the message must never be answered.
    pub machine: Option<MachineReason>,
    /// The ticket number found in the subject tag.
    pub ticket: Option<i64>,
}

/// The ticket number of a subject tag such as "[ODF #12]" (prefix compared without case).
pub fn ticket_tag(subject: &str, prefix: &str) -> Option<i64> {
    let lower = subject.to_lowercase();
    let needle = format!("[{} #", prefix.to_lowercase());
    let start = lower.find(&needle)? + needle.len();
    let digits: String = lower[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if lower[start + digits.len()..].starts_with(']') {
        digits.parse().ok()
    } else {
        None
    }
}

/// The last marker (see `Ticket::marker`) found in a text (quoted originals keep it even when clients drop headers).
pub fn find_marker(text: &str, prefix: &str) -> Option<(i64, String)> {
    let needle = format!("[{prefix}-");
    // The last marker wins: a forwarded thread may quote several.
    text.rmatch_indices('[').find_map(|(at, _)| {
        let rest = text.get(at..)?;
        let head = rest.get(..needle.len())?;
        if !head.eq_ignore_ascii_case(&needle) {
            return None;
        }
        let rest = &rest[needle.len()..];
        let end = rest.find(']')?;
        let (number, secret) = rest[..end].split_once('-')?;
        let valid = !secret.is_empty()
            && secret.len() <= 32
            && secret.chars().all(|c| c.is_ascii_alphanumeric());
        valid
            .then(|| {
                number
                    .parse()
                    .ok()
                    .map(|n| (n, secret.to_ascii_lowercase()))
            })
            .flatten()
    })
}

/// The subject without "Re:", "Fwd:", "TR :" and similar prefixes.
pub fn bare_subject(subject: &str) -> &str {
    let mut rest = subject.trim();
    loop {
        let lower = rest.to_lowercase();
        let Some(prefix) = [
            "re:", "re :", "fwd:", "fw:", "tr:", "tr :", "fwd :", "aw:", "wg:", "réf:", "ref:",
        ]
        .iter()
        .find(|p| lower.starts_with(*p)) else {
            return rest;
        };
        rest = rest[prefix.len()..].trim_start();
    }
}

/// A reply to another mail: a "Re:" subject on a mail that answers one.
pub fn is_reply(mail: &MailMessage) -> bool {
    let subject = fold(mail.subject.trim());
    ["re:", "re :", "aw:", "sv:", "ref:", "ref :"]
        .iter()
        .any(|p| subject.starts_with(p))
        && !(mail.in_reply_to.is_empty() && mail.references.is_empty())
}

/// Characters of a robot's text read for a delivery failure.
const BOUNCE_WINDOW: usize = 2000;

/// The failed recipients a bounce without report names in its text ("RCPT TO: a@b"), with
/// the first SMTP reply line as diagnostic ("550 - Requested action not taken: no such user").
/// The first SMTP reply a plain-text bounce quotes ("550 5.1.1 <a@b>: User unknown").
pub fn smtp_reply_in_text(text: &str) -> Option<String> {
    static REPLY: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(?m)^\s*([45]\d\d\b.*)$").unwrap());
    let head: String = text.chars().take(BOUNCE_WINDOW).collect();
    REPLY.captures(&head).map(|c| c[1].trim().to_string())
}

pub fn recipients_in_text(text: &str) -> Vec<super::message::FailedRecipient> {
    static RCPT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?im)^\s*(?:rcpt to|original-recipient|final-recipient|recipient)\s*:\s*(?:rfc822\s*;\s*)?<?([^\s<>@]+@[^\s<>]+?)>?\s*$").unwrap()
    });
    let head: String = text.chars().take(BOUNCE_WINDOW).collect();
    let diagnostic = smtp_reply_in_text(&head);
    // The qmail and Postfix style: "<address>:" alone on its line, above the SMTP reply.
    static ANGLED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?m)^\s*<([^\s<>@]+@[^\s<>]+)>:\s*$").unwrap()
    });
    let mut out: Vec<super::message::FailedRecipient> = Vec::new();
    for found in RCPT.captures_iter(&head).chain(ANGLED.captures_iter(&head)) {
        let address = found[1].to_lowercase();
        if !out.iter().any(|r| r.address == address) {
            out.push(super::message::FailedRecipient {
                address,
                status: None,
                action: Some("failed".into()),
                diagnostic: diagnostic.clone(),
            });
        }
    }
    out
}

/// Characters of the body read for the request score.
const SCORE_WINDOW: usize = 3000;

/// What a mail is scored on as a request: a subject counted double (empty for a reply, which
/// answers someone else's subject) and the text its writer wrote (of a forward, the original).
#[derive(Debug, Clone, Copy)]
pub struct RequestText<'a> {
    pub subject: &'a str,
    pub body: &'a str,
}

/// How strongly a text asks for a speaker: each cue of `[request]` with its weight, once per
/// text; a keyword counts in the subject twice, an ask only in the text, a phrase against
/// once wherever it is.
pub fn request_score(text: RequestText<'_>, rules: &MailRules) -> i32 {
    // Each cue counts once per text, wherever and however often it appears.
    let found = |text: &str| {
        let mut seen = vec![false; rules.request_cues.len()];
        for m in rules.request_finder.find_overlapping_iter(text) {
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            if !before.is_some_and(char::is_alphanumeric)
                && !after.is_some_and(char::is_alphanumeric)
            {
                seen[m.pattern().as_usize()] = true;
            }
        }
        seen
    };
    let subject = found(&fold(text.subject));
    // A request asks in its first paragraphs; the rest of a long mail adds cost, not evidence.
    let head = &text.body[..crate::core::text::char_end(text.body, SCORE_WINDOW)];
    let body = found(&fold(head));
    rules
        .request_cues
        .iter()
        .zip(subject.iter().zip(&body))
        .map(|(cue, (&s, &b))| match cue.kind {
            CueKind::Keyword => cue.weight * (2 * i32::from(s) + i32::from(b)),
            CueKind::Ask => cue.weight * i32::from(b),
            CueKind::Against => cue.weight * i32::from(s || b),
        })
        .sum()
}

/// Whether a line of `text` is a form's field holding `address` ("Courriel : a@b.example",
/// "Email: <a@b.example>").
fn form_field_holds(text: &str, address: &str) -> bool {
    address.contains('@')
        && text.lines().any(|line| {
            line.split_once(':').is_some_and(|(label, value)| {
                let label = label.trim();
                !label.is_empty()
                    && label.chars().count() <= 30
                    && !label.contains('@')
                    && value
                        .trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .eq_ignore_ascii_case(address)
            })
        })
}

/// `needle` in `haystack` on word boundaries.
pub fn contains_word(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

pub fn classify(
    mail: &MailMessage,
    rules: &MailRules,
    ctx: &MailContext,
    request_text: RequestText<'_>,
) -> Classification {
    let machine = machine_reason(mail, rules, ctx);
    let subject = fold(&mail.subject);
    let from_robot = matches!(
        machine,
        Some(MachineReason::RobotSender(_)) | Some(MachineReason::NullReturnPath)
    );
    let verdict = |class: Class, reason: String| Classification {
        class,
        reason,
        machine: machine.clone(),
        ticket: ticket_tag(&mail.subject, &ctx.ticket_prefix),
    };

    if mail.robot.delivery_report || !mail.failed_recipients.is_empty() {
        return verdict(Class::Bounce, "delivery report".into());
    }
    if let Some(marker) = rules
        .bounce_subjects
        .iter()
        .find(|m| subject.contains(m.as_str()))
        && (from_robot || mail.robot.auto_submitted.is_some())
    {
        return verdict(Class::Bounce, format!("robot sender, subject '{marker}'"));
    }
    if from_robot {
        let head: String = mail.text.chars().take(BOUNCE_WINDOW).collect();
        let head = fold(&head);
        if let Some(marker) = rules.bounce_texts.iter().find(|m| contains_word(&head, m)) {
            return verdict(Class::Bounce, format!("robot sender, text '{marker}'"));
        }
    }
    // RFC 3834: "auto-generated" is a robot's own mail (a confirmation, a notification), not
    // an answer to ours; it stays a machine's mail that is never answered.
    let auto_header = matches!(
        &machine,
        Some(MachineReason::AutoSubmitted(value))
            if !value.trim().eq_ignore_ascii_case("auto-generated")
    ) || matches!(
        machine,
        Some(MachineReason::AutoReplyHeader) | Some(MachineReason::AutoResponseSuppress(_))
    ) || mail
        .robot
        .precedence
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("auto_reply"));
    let bare = fold(bare_subject(&mail.subject));
    if let Some(prefix) = rules
        .auto_reply_prefixes
        .iter()
        .find(|p| bare.starts_with(p.as_str()))
    {
        return verdict(Class::AutoReply, format!("subject starts with '{prefix}'"));
    }
    if auto_header {
        return verdict(Class::AutoReply, "automatic-reply headers".into());
    }
    if mail.robot.feedback_report {
        return verdict(Class::Other, "feedback report".into());
    }
    if ticket_tag(&mail.subject, &ctx.ticket_prefix).is_some() {
        return verdict(
            Class::TicketReply,
            format!("subject tag [{} #…]", ctx.ticket_prefix),
        );
    }
    if let Some(tag) = rules
        .news_tags
        .iter()
        .find(|t| bare.starts_with(t.as_str()))
    {
        return verdict(Class::News, format!("subject tag {tag}"));
    }
    let score = request_score(request_text, rules);
    if score >= rules.request_minimum && machine.is_none() {
        return verdict(Class::Request, format!("request words score {score}"));
    }
    if mail.robot.list_id.is_some() {
        return verdict(Class::ListDiscussion, "mailing list".into());
    }
    verdict(Class::Other, format!("request words score {score}"))
}

pub(crate) fn is_watched_list(mail: &MailMessage, ctx: &MailContext) -> bool {
    matches!((&mail.robot.list_id, &ctx.watched_list), (Some(id), Some(w)) if id.contains(w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_field_names_the_person_a_service_notice_does_not() {
        let form =
            "Nom : Gaëlle Marchand\nCourriel : g.marchand@ville.example\n\nMessage :\nBonjour";
        assert!(form_field_holds(form, "g.marchand@ville.example"));
        assert!(form_field_holds(
            "Email: <G.Marchand@ville.example>",
            "g.marchand@ville.example"
        ));
        let notice = "Nicolas has accepted your invitation and chosen the brand new address \
                      x.y@gmail.com. x.y@gmail.com has also been added to your contacts.";
        assert!(!form_field_holds(notice, "x.y@gmail.com"));
        assert!(!form_field_holds("Courriel :", ""));
    }

    #[test]
    fn ticket_tags_and_prefixes() {
        let cases = [
            ("Re: [ODF #12] Conférence à Lyon", Some(12)),
            ("TR : RE: [odf #7] suite", Some(7)),
            ("[ODF #] nothing", None),
            ("[ODF #12 missing bracket", None),
            ("[XYZ #3] other prefix", None),
        ];
        for (subject, expected) in cases {
            assert_eq!(ticket_tag(subject, "ODF"), expected, "{subject}");
        }
        assert_eq!(bare_subject("RE: Fwd: TR : Invitation"), "Invitation");
        let text = format!(
            "Merci.\n> Réf. : {}\n> [ODF-x-y] [ODF-3-]",
            "[ODF-12-k3f9a0c1]"
        );
        assert_eq!(
            find_marker(&text, "ODF"),
            Some((12, "k3f9a0c1".to_string()))
        );
        assert_eq!(
            find_marker("[odf-7-ab12]", "ODF"),
            Some((7, "ab12".to_string()))
        );
        assert_eq!(find_marker("nothing here", "ODF"), None);
    }

    #[test]
    fn requests_are_told_from_mail_about_events() {
        let rules = crate::mail::rules::tests::rules();
        let cases: [(&str, &str, bool); 18] = [
            (
                "Datathon mobilité",
                "Pourriez-vous nous aider à co-animer notre datathon ?",
                true,
            ),
            (
                "Podcast",
                "Seriez-vous d'accord pour une interview dans notre podcast ?",
                true,
            ),
            (
                "Cours de master",
                "Nous aimerions proposer un cours à nos étudiants.",
                true,
            ),
            (
                "Groupe de travail SCDL",
                "Nous souhaiterions que quelqu'un vienne animer la première séance.",
                true,
            ),
            (
                "Jury",
                "Accepteriez-vous de faire partie du jury de notre hackathon ?",
                true,
            ),
            (
                "Open data week",
                "Would you be available to speak at our workshop in May?",
                true,
            ),
            (
                "Demande d'intervenant",
                "Nous cherchons un intervenant pour une table ronde.",
                true,
            ),
            (
                "Témoignage",
                "Nous souhaiterions recueillir votre témoignage lors de notre forum.",
                true,
            ),
            // Invitations to attend, newsletters, job offers, press releases, calls for papers.
            (
                "Invitation : colloque Territoires et données",
                "Nous avons le plaisir de vous inviter à notre colloque : conférences et tables rondes. Inscription obligatoire.",
                false,
            ),
            (
                "Save the date : forum open data",
                "Rejoignez-nous pour une journée de conférences et d'ateliers.",
                false,
            ),
            (
                "Newsletter de novembre",
                "Au sommaire : retour sur notre webinaire, le prochain atelier. Se désabonner.",
                false,
            ),
            (
                "Offre d'emploi : chargé de mission open data",
                "La métropole recrute un chargé de mission (formation, animation du réseau).",
                false,
            ),
            (
                "Communiqué de presse",
                "La région présente sa stratégie data lors d'une conférence.",
                false,
            ),
            (
                "Call for papers: Open Data Conference 2027",
                "We invite you to submit a proposal for a talk or a workshop.",
                false,
            ),
            (
                "Compte rendu",
                "Merci à tous pour la réunion d'hier.",
                false,
            ),
            (
                "Merci pour l'intervention de Camille à Vannes",
                "Je tenais à vous remercier pour l'intervention lors de notre table ronde.",
                false,
            ),
            (
                "Présenter notre solution lors d'une de vos réunions ?",
                "Nous serions ravis de venir présenter notre solution lors d'un webinaire. Seriez-vous disponible ?",
                false,
            ),
            (
                "",
                "Merci pour votre intervention d'hier, c'était très clair.",
                false,
            ),
        ];
        for (subject, body, request) in cases {
            let score = request_score(RequestText { subject, body }, &rules);
            assert_eq!(
                score >= rules.request_minimum,
                request,
                "{subject} / {body}: {score}"
            );
        }
    }

    #[test]
    fn a_plain_text_bounce_names_its_recipient() {
        let text = "Error: Invalid user address\n\nError message below:\n550 - Requested action not taken: no such user here\n\nMessage details:\n  RCPT TO: Gone@carrier.example\n";
        let found = recipients_in_text(text);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].address, "gone@carrier.example");
        assert!(found[0].is_dead_address(), "{:?}", found[0]);
        assert!(recipients_in_text("Nothing to see.").is_empty());
        let qmail = "I was unable to deliver your message to the following addresses:\n\n<l.petit@carrier.example>:\n    550 5.1.1 <l.petit@carrier.example>... User unknown\n";
        let found = recipients_in_text(qmail);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].address, "l.petit@carrier.example");
        assert!(found[0].is_dead_address(), "{:?}", found[0]);
    }

    #[test]
    fn words_match_on_boundaries() {
        assert!(contains_word("une table ronde a lyon", "table ronde"));
        assert!(!contains_word("talking points", "talk"));
        assert!(contains_word("a talk.", "talk"));
    }
}
