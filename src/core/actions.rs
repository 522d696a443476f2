//! What handlers return: messages to send and changes to make, applied by the engine in one
//! transaction.

use super::directory::Period;
use super::lang::Lang;
use super::tickets::{Ticket, TicketState};
use chrono::NaiveDate;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Answer the inbound item where it came from.
    Reply(String),
    /// Send an email (through the outbox and the connector `[mail] connector` names).
    SendMail(OutgoingMail),
    /// Send an email whose body is a prompt the engine renders (`mail.body` is ignored).
    SendPromptedMail {
        mail: OutgoingMail,
        body: Prompt,
    },
    /// Tell the core team about a ticket where `[tickets] team_connector`/`team_target` say (a
    /// Matrix room keeps one thread per ticket); nothing when no team channel is configured.
    TeamNotice {
        ticket: i64,
        body: Prompt,
    },
    /// Tell one core-team member about a ticket in a direct chat on the team's channel (the
    /// assignee of a new or handed-over ticket); nothing when the team channel cannot reach
    /// them (no team channel, or not a Matrix one, or no Matrix id in the directory).
    DirectNotice {
        to: crate::core::address::Address,
        ticket: i64,
        body: Prompt,
    },
    /// Relay a post of the mailing list where `[mail] list_relay_*` say, one thread per email
    /// thread (`thread` names it: the Message-ID of its first mail); nothing when no relay is
    /// configured.
    Relay {
        thread: String,
        body: Prompt,
    },
    /// Queue a social job (publish a draft's thread, delete its posts) on a network's
    /// connector, under `key`, not before `not_before` (a scheduled draft).
    Publish {
        connector: String,
        key: String,
        job: crate::core::social::SocialJob,
        not_before: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Tell the team about a news draft where `[social] review_*` say, in the draft's own
    /// thread; answered where the line came from when no review place is configured.
    NewsNotice {
        draft: i64,
        body: Prompt,
    },
    Change(Change),
}

/// A sentence of the bot, not yet rendered: `prompts/<lang>/<key>` with these variables. Pure
/// code returns it; the engine renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub lang: Lang,
    pub key: String,
    pub vars: serde_json::Value,
}

/// An email to send. Its Message-ID is fixed by the engine from the outbox idempotency key.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub body: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// The ticket it belongs to: its Message-ID is threaded onto it.
    pub ticket: Option<i64>,
    /// RFC 3834 value: "auto-replied" for acknowledgements, "auto-generated" for notices.
    pub auto_submitted: String,
}

/// The body of an outbox row of the connector that sends mail: the mail and the Message-ID
/// fixed for it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MailEnvelope {
    /// Without angle brackets.
    pub message_id: String,
    #[serde(flatten)]
    pub mail: OutgoingMail,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    AddTopics {
        member_id: i64,
        topics: Vec<String>,
    },
    RemoveTopics {
        member_id: i64,
        topics: Vec<String>,
    },
    AddUnavailability {
        member_id: i64,
        period: Period,
    },
    /// Drops every unavailability period that has not ended yet.
    ClearUnavailability {
        member_id: i64,
        from: NaiveDate,
    },
    SetConsent {
        member_id: i64,
        consent: bool,
    },
    SetLanguage {
        member_id: i64,
        lang: Lang,
    },
    /// Remembers who a search put forward, for fairness.
    RecordProposals {
        member_ids: Vec<i64>,
        on: NaiveDate,
    },
    /// A talk given (a ticket closed as done): fairness ranks by real work.
    RecordIntervention {
        member_id: i64,
        day: NaiveDate,
        topic: Option<String>,
        event: String,
    },
    CreateTicket(Ticket),
    SetTicketState {
        ticket: i64,
        state: TicketState,
    },
    AssignTicket {
        ticket: i64,
        member_id: i64,
    },
    /// Nobody handles the ticket any more (everyone declined it): it is up for grabs.
    UnassignTicket {
        ticket: i64,
    },
    /// A line of history: who did what, and why.
    TicketEvent {
        ticket: i64,
        actor: String,
        kind: String,
        detail: String,
    },
    /// Threads a message onto a ticket ("in" from outside, "out" sent by the bot).
    LinkMessage {
        ticket: i64,
        message_id: String,
        direction: &'static str,
    },
    /// No mail goes to this address until then (after a hard bounce).
    MuteAddress {
        address: String,
        until: chrono::DateTime<chrono::Utc>,
        reason: String,
    },
    /// A connector's own progress (how far a mailbox was read, a sync token), saved with the
    /// item that got it there. The value's format is the connector's business.
    ConnectorState {
        connector: String,
        key: String,
        value: String,
    },
    /// Creates or rewrites a news draft (everything but its posts).
    SaveDraft(crate::core::news::NewsDraft),
    /// Posts of a draft now up on a connector's network. The draft becomes published once
    /// `networks` connectors have posts (checked in the same transaction, the draft's row
    /// locked first: receipts of several networks arrive at once).
    RecordPosts {
        draft: i64,
        connector: String,
        posts: Vec<crate::core::social::PublishedPost>,
        networks: usize,
    },
    /// The draft's posts on a connector's network are gone.
    ForgetPosts {
        draft: i64,
        connector: String,
    },
    /// Drops the draft's publication rows no worker holds yet (a scheduled draft edited,
    /// rescheduled or rejected before its time).
    CancelPublication {
        draft: i64,
    },
    /// Speakers suggested for the ticket, best first.
    SuggestSpeakers {
        ticket: i64,
        member_ids: Vec<i64>,
    },
}

impl Change {
    /// Whether cached directory snapshots must be rebuilt after this change.
    pub fn touches_directory(&self) -> bool {
        !matches!(
            self,
            Change::CreateTicket(_)
                | Change::MuteAddress { .. }
                | Change::AssignTicket { .. }
                | Change::UnassignTicket { .. }
                | Change::ConnectorState { .. }
                | Change::SetTicketState { .. }
                | Change::TicketEvent { .. }
                | Change::LinkMessage { .. }
                | Change::SuggestSpeakers { .. }
                | Change::SaveDraft(_)
                | Change::RecordPosts { .. }
                | Change::ForgetPosts { .. }
                | Change::CancelPublication { .. }
        )
    }
}
