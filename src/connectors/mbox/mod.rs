//! Backfill from an mbox archive: every message goes through the same mail pipeline as live
//! intake, without writing to anyone (the archive's requesters were answered long ago).

use crate::engine::{Engine, EngineError, MailHandled, MailOptions};
use crate::mail::Class;
use crate::store::InboundKey;
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackfillReport {
    pub messages: usize,
    pub duplicates: usize,
    /// Messages per class.
    pub classes: BTreeMap<String, usize>,
    /// Tickets opened or updated.
    pub tickets: usize,
}

/// Reads `path` message by message; `progress` gets the number of bytes read so far.
pub async fn backfill(
    engine: &Engine,
    path: &Path,
    mut progress: impl FnMut(u64),
) -> Result<BackfillReport, BackfillError> {
    let file = std::fs::File::open(path)?;
    let mut report = BackfillReport::default();
    let mut bytes = 0u64;
    let source = format!("mbox:{}", path.display());
    let options = MailOptions {
        send_replies: false,
        ..Default::default()
    };
    for (n, message) in
        mail_parser::mailbox::mbox::MessageIterator::new(BufReader::new(file)).enumerate()
    {
        let message = message?;
        let raw = message.contents();
        bytes += raw.len() as u64;
        let fallback = InboundKey {
            source: source.clone(),
            external_id: n.to_string(),
        };
        report.messages += 1;
        match engine
            .handle_mail_with(fallback, raw, chrono::Utc::now(), options.clone())
            .await?
        {
            MailHandled::Done { class, ticket, .. } => {
                *report
                    .classes
                    .entry(class_name(class).to_string())
                    .or_default() += 1;
                report.tickets += usize::from(ticket.is_some());
            }
            MailHandled::Duplicate => report.duplicates += 1,
        }
        progress(bytes);
    }
    Ok(report)
}

fn class_name(class: Class) -> &'static str {
    match class {
        Class::Request => "request",
        Class::TicketReply => "ticket-reply",
        Class::ListDiscussion => "list-discussion",
        Class::News => "news",
        Class::AutoReply => "auto-reply",
        Class::Bounce => "bounce",
        Class::Other => "other",
    }
}
