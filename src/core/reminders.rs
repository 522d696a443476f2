//! When an unattended ticket deserves a reminder, then an escalation: delays count in business
//! hours, the clock pauses while the team waits for the requester, and each cycle (from the
//! ticket's creation, reopening or last assignment) reminds once per level.

use super::business_hours::BusinessCalendar;
use super::tickets::{Ticket, TicketEvent, TicketState};
use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct ReminderPolicy {
    /// Business time after which the assignee (or the team) is reminded.
    pub remind_after: Duration,
    /// Business time after which the escalation list is told.
    pub escalate_after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Remind,
    Escalate,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Remind => "reminder",
            Level::Escalate => "escalation",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub level: Level,
    /// Business time the ticket has waited in this cycle.
    pub waited: Duration,
    /// Identifies the cycle and level: the same key is never reminded twice.
    pub key: String,
}

/// Event kinds that start a new cycle of reminders.
const CYCLE_STARTS: &[&str] = &["created", "assigned", "reopened"];

/// The reminder due now for a ticket, if any. Only tickets waiting for the team (new or
/// assigned, not accepted) are reminded; nothing is due outside business hours.
pub fn due(
    ticket: &Ticket,
    events: &[TicketEvent],
    now: DateTime<Utc>,
    calendar: &BusinessCalendar,
    policy: &ReminderPolicy,
) -> Option<Due> {
    if !matches!(ticket.state, TicketState::New | TicketState::Assigned) || !calendar.is_open(now) {
        return None;
    }
    let start = events
        .iter()
        .rev()
        .find(|e| CYCLE_STARTS.contains(&e.kind.as_str()))?
        .at;
    // Periods spent waiting for the requester since the cycle started do not count.
    let mut paused = Vec::new();
    let mut waiting_since = None;
    for event in events.iter().filter(|e| e.at >= start) {
        match event.kind.as_str() {
            "waiting" => waiting_since = Some(event.at),
            "requester-answered" => {
                if let Some(since) = waiting_since.take() {
                    paused.push((since, Some(event.at)));
                }
            }
            _ => {}
        }
    }
    if let Some(since) = waiting_since {
        paused.push((since, None));
    }
    let waited = calendar.business_time_excluding(start, now, &paused);
    let level = if waited >= policy.escalate_after {
        Level::Escalate
    } else if waited >= policy.remind_after {
        Level::Remind
    } else {
        return None;
    };
    Some(Due {
        level,
        waited,
        key: format!("{}:{}:{}", ticket.number, start.timestamp(), level.as_str()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::lang::Lang;
    use chrono::TimeZone;

    /// Paris local time, November 2026 (UTC+1).
    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        chrono_tz::Europe::Paris
            .with_ymd_and_hms(2026, 11, day, hour, minute, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn event(kind: &str, when: DateTime<Utc>) -> TicketEvent {
        TicketEvent {
            at: when,
            actor: "x".into(),
            kind: kind.into(),
            detail: String::new(),
        }
    }

    fn ticket(state: TicketState) -> Ticket {
        Ticket {
            number: 7,
            state,
            subject: "s".into(),
            requester_email: "r@example.org".into(),
            requester_name: None,
            lang: Lang::Fr,
            organisation: None,
            event: None,
            dates: vec![],
            places: vec![],
            topics: vec![],
            format: None,
            assignee: Some(1),
            secret: "abc".into(),
        }
    }

    #[test]
    fn reminders_count_business_hours_only_and_pause_while_waiting() {
        let policy = ReminderPolicy {
            remind_after: Duration::hours(4),
            escalate_after: Duration::hours(16),
        };
        let calendar = BusinessCalendar::paris();
        // Created Friday 20 November 2026 at 16:00.
        let created = vec![
            event("created", at(20, 16, 0)),
            event("assigned", at(20, 16, 0)),
        ];
        let with_wait = {
            let mut e = created.clone();
            e.push(event("waiting", at(23, 9, 0)));
            e.push(event("requester-answered", at(24, 9, 0)));
            e
        };
        type Case<'a> = (
            &'a str,
            TicketState,
            &'a [TicketEvent],
            DateTime<Utc>,
            Option<Level>,
        );
        let cases: Vec<Case> = vec![
            (
                "2 h on Friday",
                TicketState::Assigned,
                &created,
                at(20, 18, 0),
                None,
            ),
            (
                "the weekend does not count",
                TicketState::Assigned,
                &created,
                at(23, 9, 30),
                None,
            ),
            (
                "4 h reached Monday 11:00",
                TicketState::Assigned,
                &created,
                at(23, 11, 0),
                Some(Level::Remind),
            ),
            (
                "never at night",
                TicketState::Assigned,
                &created,
                at(23, 22, 0),
                None,
            ),
            (
                "16 h reached Tuesday 14:00",
                TicketState::Assigned,
                &created,
                at(24, 14, 0),
                Some(Level::Escalate),
            ),
            (
                "accepted tickets are left alone",
                TicketState::Accepted,
                &created,
                at(24, 14, 0),
                None,
            ),
            (
                "a day of waiting pauses the clock",
                TicketState::Assigned,
                &with_wait,
                at(24, 14, 0),
                Some(Level::Remind),
            ),
        ];
        for (what, state, events, now, expected) in cases {
            assert_eq!(
                due(&ticket(state), events, now, &calendar, &policy).map(|d| d.level),
                expected,
                "{what}"
            );
        }
    }

    #[test]
    fn a_new_assignment_starts_a_new_cycle() {
        let policy = ReminderPolicy {
            remind_after: Duration::hours(4),
            escalate_after: Duration::hours(16),
        };
        let calendar = BusinessCalendar::paris();
        let first = vec![event("created", at(23, 9, 0))];
        let reassigned = vec![
            event("created", at(23, 9, 0)),
            event("assigned", at(24, 9, 0)),
        ];
        let a = due(
            &ticket(TicketState::Assigned),
            &first,
            at(24, 17, 0),
            &calendar,
            &policy,
        )
        .unwrap();
        let b = due(
            &ticket(TicketState::Assigned),
            &reassigned,
            at(24, 17, 0),
            &calendar,
            &policy,
        )
        .unwrap();
        assert_eq!((a.level, b.level), (Level::Escalate, Level::Remind));
        assert_ne!(a.key, b.key);
    }
}
