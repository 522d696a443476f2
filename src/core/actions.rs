//! What handlers return: messages to send and changes to make, applied by the engine in one
//! transaction.

use super::directory::Period;
use super::lang::Lang;
use chrono::NaiveDate;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Answer the inbound item where it came from.
    Reply(String),
    Change(Change),
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
}
