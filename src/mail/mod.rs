//! Understanding incoming mail, without I/O: parsing, loop protection, classification, reply
//! and signature stripping, and the fields of an intervention request.

pub mod auth;
pub mod classify;
pub mod decide;
pub mod extract;
pub mod forward;
pub mod message;
pub mod quotes;
pub mod rules;

pub use classify::{Class, Classification, MachineReason, MailContext, classify, machine_reason};
pub use message::{MailError, MailMessage, parse};
pub use rules::MailRules;

use crate::core::lang::Lang;
use chrono::NaiveDate;
use serde::Serialize;

/// Everything the pipeline learns from one raw message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Understanding {
    #[serde(flatten)]
    pub classification: Classification,
    pub message_id: Option<String>,
    pub from: Option<message::Mailbox>,
    pub subject: String,
    /// In-Reply-To then References, without repeats: what threading looks up.
    pub thread_ids: Vec<String>,
    /// The ticket number and secret of a body marker the bot wrote in an earlier mail.
    pub marker: Option<(i64, String)>,
    /// What the person wrote, without quotes and signature: what chat shows.
    pub new_text: String,
    pub attachments: Vec<message::Attachment>,
    pub failed_recipients: Vec<message::FailedRecipient>,
    pub request: Option<extract::RequestFields>,
    /// The message this mail forwards, when it forwards one: a request's fields are read from
    /// it and its sender may become the requester (see `decide`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarded: Option<forward::Forwarded>,
    /// In a delivery report: Message-IDs of the returned message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub original_ids: Vec<String>,
    /// `Authentication-Results` header values, topmost first.
    #[serde(skip)]
    pub auth_results: Vec<String>,
    /// Identifies a message without Message-ID across intake paths: a hash of its sender,
    /// recipients, date, subject and text (of its bytes when it cannot be parsed), so the same
    /// mail read by two intake nodes is one item.
    #[serde(skip)]
    pub content_key: String,
    /// Why the message could not be parsed at all (it is then `Other` and never answered).
    #[serde(skip)]
    pub parse_error: Option<String>,
    /// A post of the watched mailing list (`[mail] watched_list`).
    #[serde(skip)]
    pub list_post: bool,
    /// When it was written (its Date header), if readable.
    #[serde(skip)]
    pub date: Option<chrono::DateTime<chrono::Utc>>,
    /// The Message-ID of the first mail of its email thread (the first of References, else
    /// In-Reply-To); none for the first mail itself.
    #[serde(skip)]
    pub thread_root: Option<String>,
}

impl Understanding {
    /// An automatic answer to this message, threaded on it (In-Reply-To, References).
    pub fn answer(
        &self,
        to: &str,
        subject: String,
        body: String,
        ticket: Option<i64>,
    ) -> crate::core::actions::OutgoingMail {
        crate::core::actions::OutgoingMail {
            to: to.to_string(),
            subject,
            body,
            in_reply_to: self.message_id.clone(),
            references: self
                .thread_ids
                .iter()
                .cloned()
                .chain(self.message_id.clone())
                .collect(),
            ticket,
            auto_submitted: "auto-replied".into(),
        }
    }

    /// Whether anything may ever be sent back to the sender.
    pub fn may_answer(&self) -> bool {
        self.classification.machine.is_none()
            && !matches!(self.classification.class, Class::AutoReply | Class::Bounce)
            && self.from.is_some()
    }
}

/// SHA-256 of the parts, each length-prefixed so that no two lists of parts collide.
fn hex_sha256(parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    // Written into one string: a String per byte cost more than the hash of a short mail.
    let mut hex = String::with_capacity(64);
    for b in hasher.finalize() {
        use std::fmt::Write;
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Parses, classifies, strips and extracts. An unreadable message is `Other` and never answered.
pub fn understand(
    raw: &[u8],
    rules: &MailRules,
    ctx: &MailContext,
    knowledge: &extract::Knowledge<'_>,
    today: NaiveDate,
    default_lang: Lang,
) -> Understanding {
    let mut mail = match parse(raw) {
        Ok(mail) => mail,
        Err(error) => {
            return Understanding {
                classification: Classification {
                    class: Class::Other,
                    reason: error.to_string(),
                    machine: None,
                    ticket: None,
                },
                message_id: None,
                from: None,
                subject: String::new(),
                thread_ids: Vec::new(),
                marker: None,
                new_text: String::new(),
                attachments: Vec::new(),
                failed_recipients: Vec::new(),
                request: None,
                forwarded: None,
                original_ids: Vec::new(),
                auth_results: Vec::new(),
                content_key: hex_sha256(&[raw]),
                parse_error: Some(error.to_string()),
                list_post: false,
                date: None,
                thread_root: None,
            };
        }
    };
    let lines = quotes::lines(&mail.text);
    let split = quotes::split_lines(&lines, rules);
    // A forward "as attachment" carries the original whole, below the forwarder's note.
    let forwarded = forward::find(&lines, &mail.subject, rules).or_else(|| {
        mail.attached.as_ref().map(|original| forward::Forwarded {
            robot: rules.is_robot_address(&original.from.address),
            from: original.from.clone(),
            subject: original.subject.clone(),
            note: split.new_text.clone(),
            text: original.text.clone(),
        })
    });
    // Of a forward, the original is what asks; of a reply, only what its writer added.
    let original = forwarded.as_ref().map(|f| quotes::split(&f.text, rules));
    let scored_body = match (&forwarded, &original) {
        (Some(f), Some(o)) => format!("{}\n{}", f.note, o.new_text),
        _ => split.new_text.clone(),
    };
    let request_text = classify::RequestText {
        subject: if classify::is_reply(&mail) {
            ""
        } else {
            &mail.subject
        },
        body: &scored_body,
    };
    let mut classification = classify(&mail, rules, ctx, request_text);
    let list_post = classify::is_watched_list(&mail, ctx);
    // On the watched list, members ask each other for experience, volunteers and advice: a
    // request there comes from outside the network, or is one a member forwards.
    if list_post
        && classification.class == Class::Request
        && forwarded.is_none()
        && let (Some(directory), Some(from)) = (knowledge.directory, &mail.from)
        && directory.by_email(&from.address).is_some()
    {
        classification.class = Class::ListDiscussion;
        classification.reason = format!("a member's post, {}", classification.reason);
    }
    // A bounce without report (a carrier's plain-text notice) names its recipient in the text
    // and answers our mail by In-Reply-To.
    // Exim names the failed addresses in a header and quotes the server's reply only in the
    // text: the reply says whether the address is dead.
    if classification.class == Class::Bounce
        && mail
            .failed_recipients
            .iter()
            .any(|r| r.status.is_none() && r.diagnostic.is_none())
        && let Some(reply) = classify::smtp_reply_in_text(&mail.text)
    {
        for recipient in &mut mail.failed_recipients {
            if recipient.status.is_none() && recipient.diagnostic.is_none() {
                recipient.diagnostic = Some(reply.clone());
            }
        }
    }
    if classification.class == Class::Bounce && mail.failed_recipients.is_empty() {
        mail.failed_recipients = classify::recipients_in_text(&mail.text);
        for id in mail.in_reply_to.iter().rev() {
            if !mail.original_ids.contains(id) {
                mail.original_ids.insert(0, id.clone());
            }
        }
    }
    let addresses = |list: &[message::Mailbox]| {
        list.iter()
            .map(|m| m.address.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let content_key = hex_sha256(&[
        mail.from
            .as_ref()
            .map(|f| f.address.as_bytes())
            .unwrap_or_default(),
        addresses(&mail.to).as_bytes(),
        addresses(&mail.cc).as_bytes(),
        mail.date.as_deref().unwrap_or_default().as_bytes(),
        mail.subject.as_bytes(),
        mail.text.as_bytes(),
    ]);
    let mut thread_ids = mail.in_reply_to.clone();
    // A report threads onto the ticket of the mail it returns.
    for id in mail.references.iter().chain(&mail.original_ids) {
        if !thread_ids.contains(id) {
            thread_ids.push(id.clone());
        }
    }
    let marker = classify::find_marker(&mail.text, &ctx.ticket_prefix);
    let new_text = match (&forwarded, &original) {
        (Some(f), Some(o)) => format!("{}\n\n{}", f.note, o.new_text).trim().to_string(),
        _ => split.new_text.clone(),
    };
    let thread_root = mail
        .references
        .first()
        .or(mail.in_reply_to.first())
        .cloned();
    let request = (classification.class == Class::Request).then(|| {
        let source = match (&forwarded, &original) {
            (Some(f), Some(o)) => extract::Source {
                subject: f.subject.as_deref().unwrap_or(&mail.subject),
                text: &o.new_text,
                signature: &o.signature,
                contact: Some(&f.from),
            },
            // A reply's subject answers another mail ("Re: Merci pour la table ronde de
            // juin"): the new request is what its writer added.
            _ => extract::Source {
                subject: if classify::is_reply(&mail) {
                    ""
                } else {
                    &mail.subject
                },
                text: &split.new_text,
                signature: &split.signature,
                contact: mail.reply_to.as_ref().or(mail.from.as_ref()),
            },
        };
        extract::extract(&source, rules, knowledge, today, default_lang)
    });
    Understanding {
        classification,
        message_id: mail.message_id,
        from: mail.from,
        subject: mail.subject,
        thread_ids,
        marker,
        new_text,
        attachments: mail.attachments,
        failed_recipients: mail.failed_recipients,
        request,
        forwarded,
        original_ids: mail.original_ids,
        auth_results: mail.auth_results,
        content_key,
        parse_error: None,
        list_post,
        date: mail
            .date
            .as_deref()
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.with_timezone(&chrono::Utc)),
        thread_root,
    }
}
