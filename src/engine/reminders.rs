//! Reminders and escalations for tickets waiting on the team, sent by mail through the outbox.
//! Each (ticket, cycle, level) is an inbound key of its own, so a reminder goes out once even
//! if the check runs twice or the process restarts in the middle.

use super::{Engine, EngineError};
use crate::core::actions::{Action, Change, OutgoingMail, Prompt};
use crate::core::directory::Role;
use crate::core::reminders::{Level, due};
use crate::store::{Committed, InboundKey};
use chrono::{DateTime, Utc};
use serde_json::json;

impl Engine {
    /// Queues the reminders due now; returns how many mails were queued.
    pub async fn send_reminders(&self, now: DateTime<Utc>) -> Result<usize, EngineError> {
        let calendar = &self.settings.calendar;
        if !calendar.is_open(now) {
            return Ok(0);
        }
        let directory = self.directory(self.today(now)).await?;
        let k = &self.knowledge;
        let prefix = &self.settings.mail.context.ticket_prefix;
        let mut queued = 0;
        for ticket in self.store.tickets_awaiting_team().await? {
            let events = self.store.ticket_events(ticket.number).await?;
            let Some(due) = due(&ticket, &events, now, calendar, &self.settings.reminders) else {
                continue;
            };
            let key = InboundKey {
                source: "reminder".into(),
                external_id: due.key.clone(),
            };
            if self.store.is_seen(&key).await? {
                continue;
            }
            let recipients: Vec<_> = match due.level {
                Level::Remind => match ticket.assignee.and_then(|id| directory.index_of(id)) {
                    Some(i) => vec![&directory.members[i]],
                    None => directory
                        .members
                        .iter()
                        .filter(|m| m.access >= Role::CoreTeam)
                        .collect(),
                },
                Level::Escalate if !self.settings.escalate_to.is_empty() => self
                    .settings
                    .escalate_to
                    .iter()
                    .filter_map(|a| directory.by_email(a))
                    .collect(),
                Level::Escalate => directory
                    .members
                    .iter()
                    .filter(|m| m.access == Role::Admin)
                    .collect(),
            };
            let assignee = ticket
                .assignee
                .and_then(|id| directory.index_of(id))
                .map(|i| directory.members[i].name.clone());
            let hours = due.waited.num_minutes() as f64 / 60.0;
            let mut actions = vec![Action::Change(Change::TicketEvent {
                ticket: ticket.number,
                actor: "passerelle".into(),
                kind: due.level.as_str().into(),
                detail: format!(
                    "{:.1} business hours; to {}",
                    hours,
                    recipients
                        .iter()
                        .map(|m| m.email.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })];
            // The ticket's thread, where the team works, hears it too.
            actions.push(Action::TeamNotice {
                ticket: ticket.number,
                body: Prompt {
                    lang: self.settings.default_lang,
                    key: "team/reminder".into(),
                    vars: json!({
                        "number": ticket.number,
                        "hours": format!("{hours:.0}"),
                        "escalation": due.level == Level::Escalate,
                        "assignee": assignee,
                    }),
                },
            });
            for member in &recipients {
                let lang = member.preferred_lang.unwrap_or(self.settings.default_lang);
                let vars = json!({
                    "name": member.name,
                    "number": ticket.number,
                    "subject": ticket.subject,
                    "requester": ticket.requester_email,
                    "hours": format!("{hours:.0}"),
                    "escalation": due.level == Level::Escalate,
                    "assignee": assignee,
                    "state": ticket.state.as_str(),
                });
                let subject = k.prompts.render(lang, "mail/reminder_subject", &vars)?;
                let body = k.prompts.render(lang, "mail/reminder", &vars)?;
                actions.push(Action::SendMail(OutgoingMail {
                    to: member.email.clone(),
                    subject: format!("[{prefix} #{}] {subject}", ticket.number),
                    body,
                    in_reply_to: None,
                    references: Vec::new(),
                    ticket: Some(ticket.number),
                    auto_submitted: "auto-generated".into(),
                }));
            }
            if let (Committed::Applied { outbox_ids }, _) =
                self.apply(&key, None, actions, now, None).await?
            {
                tracing::info!(
                    ticket = ticket.number,
                    level = due.level.as_str(),
                    mails = outbox_ids.len(),
                    "ticket reminder queued"
                );
                queued += outbox_ids.len();
            }
        }
        Ok(queued)
    }

    /// Checks for due reminders every `interval` until `shutdown` turns true.
    pub async fn run_reminders(
        &self,
        interval: std::time::Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if let Err(error) = self.send_reminders(Utc::now()).await {
                tracing::error!(%error, "reminder check failed; will retry");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}
