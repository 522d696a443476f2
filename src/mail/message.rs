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
    /// A permanent failure: status 5.x.x, or action "failed" without a status.
    pub fn is_hard(&self) -> bool {
        match &self.status {
            Some(status) => status.starts_with('5'),
            None => self
                .action
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case("failed")),
        }
    }
}

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
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MailError {
    #[error("empty or unreadable message")]
    Unreadable,
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
    let message = MessageParser::default()
        .parse(raw)
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
    for (name, value) in message.headers_raw() {
        let name = name.to_ascii_lowercase();
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
    let text = (0..message.text_body_count().max(1))
        .filter_map(|i| message.body_text(i))
        .map(|t| t.replace("\r\n", "\n").replace('\r', "\n"))
        .collect::<Vec<_>>()
        .join("\n");
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(failed.is_hard());
        assert_eq!(failed.diagnostic.as_deref(), Some("550 5.1.1 user unknown"));
    }

    #[test]
    fn an_empty_message_is_unreadable() {
        assert_eq!(parse(b""), Err(MailError::Unreadable));
    }
}
