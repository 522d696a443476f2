//! One email as the rest of Passerelle sees it: the headers that matter for threading and loop
//! protection, the text (HTML turned to text), attachments as metadata, and delivery reports.

use mail_parser::{HeaderValue, MessageParser, MimeHeaders, PartType};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attachment {
    pub name: Option<String>,
    pub content_type: String,
    pub size: usize,
}

/// One failed recipient of an RFC 3464 delivery report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedRecipient {
    pub address: String,
    /// Status code such as "5.1.1" (hard) or "4.2.2" (soft).
    pub status: Option<String>,
    pub action: Option<String>,
    pub diagnostic: Option<String>,
}

impl FailedRecipient {
    /// The enhanced status code (RFC 3463) of this failure: the Status field, else the first
    /// code in the diagnostic.
    pub fn code(&self) -> Option<String> {
        self.status
            .clone()
            .filter(|s| STATUS_CODE.is_match(s))
            .or_else(|| {
                self.diagnostic
                    .as_deref()
                    .and_then(|d| STATUS_CODE.find(d))
                    .map(|m| m.as_str().to_string())
            })
    }

    /// The address itself is dead: a permanent failure of the mailbox or its domain (5.1.x),
    /// or a disabled mailbox (5.2.1). Policy refusals (5.7.x: our server is blocked, the mail
    /// looked like spam), full mailboxes, network or protocol trouble say nothing about the
    /// address and must not mute it. Without any status code, only a plain "user unknown"
    /// style diagnostic counts.
    pub fn is_dead_address(&self) -> bool {
        match self.code() {
            Some(code) => code.starts_with("5.1.") || code == "5.2.1",
            None => self.diagnostic.as_deref().is_some_and(|d| {
                let d = d.to_ascii_lowercase();
                DEAD_ADDRESS_WORDS.iter().any(|w| d.contains(w))
            }),
        }
    }
}

/// An enhanced status code such as 5.1.1 or 4.2.2.
static STATUS_CODE: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"\b[245]\.\d{1,3}\.\d{1,3}\b").unwrap());

/// Diagnostics that name a dead address when a report has no status code.
const DEAD_ADDRESS_WORDS: &[&str] = &[
    "user unknown",
    "unknown user",
    "no such user",
    "no such mailbox",
    "does not exist",
    "address rejected",
    "utilisateur inconnu",
    "adresse inconnue",
    "n'existe pas",
];

/// A Message-ID header line anywhere in a message, nested parts included.
static MESSAGE_ID_LINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?im)^[ \t>]*message-id:[ \t]*<([^<>\s]+)>").unwrap()
});

/// Headers that tell a machine-made message from a person's.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RobotHeaders {
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub auto_response_suppress: Option<String>,
    pub list_id: Option<String>,
    /// Any List-* header (List-Unsubscribe, List-Post…).
    pub list_headers: bool,
    /// The Return-Path was empty (`<>`), as in bounces.
    pub null_return_path: bool,
    pub x_autoreply: bool,
    /// Values of loop headers (X-Loop, X-Passerelle-Loop …) as written.
    pub loops: Vec<String>,
    /// Content-Type multipart/report with report-type delivery-status, or a delivery-status part.
    pub delivery_report: bool,
    /// A feedback (abuse) report, RFC 5965.
    pub feedback_report: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MailMessage {
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Option<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    /// RFC 3339, when the Date header is readable.
    pub date: Option<String>,
    /// The whole text body (HTML converted to text when there is no text part).
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub robot: RobotHeaders,
    pub failed_recipients: Vec<FailedRecipient>,
    /// In a delivery report: the Message-IDs of the returned message (from its attached or
    /// quoted headers), to prove the report answers mail the bot sent.
    pub original_ids: Vec<String>,
    /// `Authentication-Results` header values, topmost first.
    pub auth_results: Vec<String>,
    /// A message attached whole (`message/rfc822`), as a forward "as attachment" carries the
    /// request it passes on.
    #[serde(skip)]
    pub attached: Option<AttachedMessage>,
}

/// A mail attached whole to another: who wrote it, its subject and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachedMessage {
    pub from: Mailbox,
    pub subject: Option<String>,
    pub text: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MailError {
    #[error("empty or unreadable message")]
    Unreadable,
    #[error("the MIME parser failed on this message: {0}")]
    ParserPanicked(String),
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn mailboxes(address: Option<&mail_parser::Address<'_>>) -> Vec<Mailbox> {
    address
        .map(|a| {
            a.iter()
                .filter_map(|addr| {
                    addr.address().map(|email| Mailbox {
                        name: addr
                            .name()
                            .map(|n| n.trim().to_string())
                            .filter(|n| !n.is_empty()),
                        address: email.trim().to_lowercase(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A message's whole text body, HTML turned to text when there is no text part, with Unix line
/// ends.
fn text_of(message: &mail_parser::Message<'_>) -> String {
    (0..message.text_body_count().max(1))
        .filter_map(|i| message.body_text(i))
        .map(|t| t.replace("\r\n", "\n").replace('\r', "\n"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Field values of a `message/delivery-status` body, per recipient block.
fn delivery_status(body: &str) -> Vec<FailedRecipient> {
    let mut out = Vec::new();
    // The first block describes the reporting MTA; the others, one recipient each.
    for block in body.replace("\r\n", "\n").split("\n\n") {
        let mut recipient = FailedRecipient {
            address: String::new(),
            status: None,
            action: None,
            diagnostic: None,
        };
        let mut original = None;
        for line in block.lines() {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let address = || {
                value
                    .rsplit(';')
                    .next()
                    .unwrap_or(value)
                    .trim()
                    .trim_matches(['<', '>'])
                    .to_lowercase()
            };
            match name.trim().to_ascii_lowercase().as_str() {
                "final-recipient" => recipient.address = address(),
                "original-recipient" => original = Some(address()),
                "status" => recipient.status = value.split_whitespace().next().map(str::to_string),
                "action" => recipient.action = Some(value.to_ascii_lowercase()),
                "diagnostic-code" => {
                    recipient.diagnostic =
                        Some(value.rsplit(';').next().unwrap_or(value).trim().to_string())
                }
                _ => {}
            }
        }
        if recipient.address.is_empty()
            && let Some(original) = original
        {
            recipient.address = original;
        }
        if !recipient.address.is_empty() {
            out.push(recipient);
        }
    }
    out
}

/// Loop headers: the generic X-Loop and ours.
pub const LOOP_HEADERS: &[&str] = &["x-loop", "x-passerelle-loop"];

pub fn parse(raw: &[u8]) -> Result<MailMessage, MailError> {
    // mail-parser 0.11 panics on some broken multipart structures ("Invalid part ID, could
    // not find multipart", found by fuzzing): such a message is unreadable, not fatal.
    let message = std::panic::catch_unwind(|| MessageParser::default().parse(raw))
        .map_err(|panic| MailError::ParserPanicked(crate::panic_message(panic.as_ref())))?
        .ok_or(MailError::Unreadable)?;
    let header_text = |name: &str| -> Option<String> {
        message
            .header_raw(name)
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|v| !v.is_empty())
    };
    let mut robot = RobotHeaders {
        auto_submitted: header_text("Auto-Submitted"),
        precedence: header_text("Precedence"),
        auto_response_suppress: header_text("X-Auto-Response-Suppress"),
        list_id: header_text("List-Id"),
        null_return_path: message
            .header_raw("Return-Path")
            .is_some_and(|v| v.trim() == "<>" || v.trim().is_empty()),
        x_autoreply: message.header_raw("X-Autoreply").is_some()
            || message.header_raw("X-Autorespond").is_some(),
        ..Default::default()
    };
    let mut auth_results = Vec::new();
    for (name, value) in message.headers_raw() {
        let name = name.to_ascii_lowercase();
        if name == "authentication-results" {
            auth_results.push(value.trim().to_string());
        }
        if name.starts_with("list-") {
            robot.list_headers = true;
        }
        if LOOP_HEADERS.contains(&name.as_str()) {
            robot.loops.push(value.trim().to_string());
        }
    }
    // Exim and others name the failed addresses in a header, with or without a report.
    let mut failed_recipients: Vec<FailedRecipient> = message
        .header_raw("X-Failed-Recipients")
        .map(|v| {
            v.split(',')
                .map(|a| a.trim().trim_matches(['<', '>']).to_lowercase())
                .filter(|a| a.contains('@'))
                .map(|address| FailedRecipient {
                    address,
                    status: None,
                    action: Some("failed".into()),
                    diagnostic: None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut attachments = Vec::new();
    for part in &message.parts {
        let ctype = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase());
        match ctype.as_deref() {
            Some("multipart/report") => {
                let kind = part
                    .content_type()
                    .and_then(|c| c.attribute("report-type"))
                    .unwrap_or("")
                    .to_ascii_lowercase();
                robot.delivery_report |= kind == "delivery-status";
                robot.feedback_report |= kind == "feedback-report";
            }
            Some("message/delivery-status") | Some("message/global-delivery-status") => {
                robot.delivery_report = true;
                let body = match &part.body {
                    PartType::Text(t) => t.to_string(),
                    PartType::Binary(b) | PartType::InlineBinary(b) => {
                        String::from_utf8_lossy(b).into_owned()
                    }
                    // Some parsers read the block as headers of a nested message.
                    PartType::Message(m) => String::from_utf8_lossy(m.raw_message()).into_owned(),
                    _ => String::new(),
                };
                for recipient in delivery_status(&body) {
                    // The report is more precise than the header: it replaces its entry.
                    failed_recipients.retain(|r| r.address != recipient.address);
                    failed_recipients.push(recipient);
                }
            }
            Some("message/feedback-report") => robot.feedback_report = true,
            _ => {}
        }
    }
    for part in message.attachments() {
        let content_type = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase())
            .unwrap_or_else(|| "application/octet-stream".into());
        attachments.push(Attachment {
            name: part.attachment_name().map(str::to_string),
            content_type,
            size: part.len(),
        });
    }
    // Not in a delivery or an abuse report, whose attached message is the one returned.
    let attached = (!robot.delivery_report && !robot.feedback_report)
        .then(|| {
            message.parts.iter().find_map(|part| match &part.body {
                PartType::Message(inner) => Some(AttachedMessage {
                    from: mailboxes(inner.from()).into_iter().next()?,
                    subject: inner.subject().map(|s| s.trim().to_string()),
                    text: text_of(inner),
                }),
                _ => None,
            })
        })
        .flatten();
    let own_id = message.message_id();
    let original_ids: Vec<String> = if robot.delivery_report || !failed_recipients.is_empty() {
        let whole = String::from_utf8_lossy(raw);
        let mut ids: Vec<String> = Vec::new();
        for found in MESSAGE_ID_LINE.captures_iter(&whole) {
            let id = found[1].to_string();
            if Some(id.as_str()) != own_id && !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    } else {
        Vec::new()
    };
    let text = text_of(&message);
    Ok(MailMessage {
        message_id: message.message_id().map(str::to_string),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        from: mailboxes(message.from()).into_iter().next(),
        reply_to: mailboxes(message.reply_to()).into_iter().next(),
        to: mailboxes(message.to()),
        cc: mailboxes(message.cc()),
        subject: message.subject().unwrap_or("").trim().to_string(),
        date: message.date().map(|d| d.to_rfc3339()),
        text,
        attachments,
        robot,
        failed_recipients,
        original_ids,
        auth_results,
        attached,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_dead_mailbox_or_domain_is_a_dead_address() {
        let failure = |status: Option<&str>, diagnostic: Option<&str>| FailedRecipient {
            address: "a@example.org".into(),
            status: status.map(str::to_string),
            action: Some("failed".into()),
            diagnostic: diagnostic.map(str::to_string),
        };
        let cases = [
            (Some("5.1.1"), None, true),
            (Some("5.1.10"), None, true),
            (Some("5.2.1"), None, true),
            (
                None,
                Some("smtp; 550 5.1.1 <a@example.org>: Recipient address rejected"),
                true,
            ),
            (
                None,
                Some("550 Requested action not taken: user unknown"),
                true,
            ),
            // Blocks on our side, spam verdicts and full mailboxes keep the address.
            (
                Some("5.7.606"),
                Some("550 5.7.606 Access denied, banned sending IP"),
                false,
            ),
            (Some("5.7.1"), None, false),
            (
                None,
                Some("smtp; 554 5.7.1 Service unavailable; client host blocked"),
                false,
            ),
            (Some("5.2.2"), None, false),
            (Some("4.2.2"), None, false),
            (Some("5.4.4"), None, false),
            (None, None, false),
        ];
        for (status, diagnostic, dead) in cases {
            assert_eq!(
                failure(status, diagnostic).is_dead_address(),
                dead,
                "{status:?} {diagnostic:?}"
            );
        }
    }

    #[test]
    fn a_report_names_the_message_it_returns() {
        let raw = b"From: MAILER-DAEMON@mx.example.org\r\nTo: bot@example.test\r\nSubject: Undelivered\r\nMessage-ID: <dsn2@mx.example.org>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Passerelle <bot@example.test>\r\nMessage-ID: <passerelle.mail=3Ax=40y=3A0@example.test>\r\nSubject: Re: hello\r\n--b--\r\n";
        let mail = parse(raw).unwrap();
        assert_eq!(
            mail.original_ids,
            vec!["passerelle.mail=3Ax=40y=3A0@example.test"]
        );
        // An ordinary message carries none.
        let plain = parse(
            b"From: a@example.org\r\nMessage-ID: <m@example.org>\r\n\r\nMessage-ID: <x@y>\r\n",
        )
        .unwrap();
        assert!(plain.original_ids.is_empty());
    }

    #[test]
    fn reads_a_delivery_report() {
        let raw = b"From: MAILER-DAEMON@example.org\r\nTo: bot@example.test\r\nSubject: Undelivered Mail\r\nReturn-Path: <>\r\nMessage-ID: <dsn1@example.org>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; Gone@Example.com\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n--b--\r\n";
        let mail = parse(raw).unwrap();
        assert!(mail.robot.delivery_report && mail.robot.null_return_path);
        assert_eq!(mail.failed_recipients.len(), 1);
        let failed = &mail.failed_recipients[0];
        assert_eq!(
            (failed.address.as_str(), failed.status.as_deref()),
            ("gone@example.com", Some("5.1.1"))
        );
        assert!(failed.is_dead_address());
        assert_eq!(failed.diagnostic.as_deref(), Some("550 5.1.1 user unknown"));
    }

    #[test]
    fn an_empty_message_is_unreadable() {
        assert_eq!(parse(b""), Err(MailError::Unreadable));
    }
}
