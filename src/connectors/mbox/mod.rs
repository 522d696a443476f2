//! Backfill from an mbox archive: every message goes through the same mail pipeline as live
//! intake, without writing to anyone (the archive's requesters were answered long ago).

use crate::engine::{Engine, EngineError, MailHandled, MailItem};
use crate::mail::Class;
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

/// Messages per transaction.
const BATCH: usize = 256;

/// Reads `path` message by message; `progress` gets the number of bytes read so far.
pub async fn backfill(
    engine: &Engine,
    path: &Path,
    mut progress: impl FnMut(u64),
) -> Result<BackfillReport, BackfillError> {
    let file = std::fs::File::open(path)?;
    let mut report = BackfillReport::default();
    let mut bytes = 0u64;
    let mut messages =
        mail_parser::mailbox::mbox::MessageIterator::new(BufReader::new(file)).peekable();
    while messages.peek().is_some() {
        // Messages go through in batches, each committed in one transaction.
        let mut raws = Vec::with_capacity(BATCH);
        for message in messages.by_ref().take(BATCH) {
            raws.push(message?.unwrap_contents());
        }
        let items: Vec<MailItem<'_>> = raws
            .iter()
            .map(|raw| MailItem {
                raw,
                extra: Vec::new(),
            })
            .collect();
        for handled in engine
            .handle_mails(&items, chrono::Utc::now(), false)
            .await?
        {
            report.messages += 1;
            match handled {
                MailHandled::Done { class, ticket, .. } => {
                    *report
                        .classes
                        .entry(class_name(class).to_string())
                        .or_default() += 1;
                    report.tickets += usize::from(ticket.is_some());
                }
                MailHandled::Duplicate => report.duplicates += 1,
            }
        }
        bytes += raws.iter().map(|raw| raw.len() as u64).sum::<u64>();
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
