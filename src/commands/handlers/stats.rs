//! `stats`: figures of the directory and of the team's work on tickets, for the core team.

use super::{Handler, HandlerError};
use crate::core::actions::Action;
use crate::core::directory::Role;
use crate::core::tickets::TicketState;
use crate::core::topics::TopicIdx;
use serde_json::json;
use std::collections::HashMap;

/// The ticket statistics cover the last 90 days: a quarter of the network's work.
pub const STATS_WINDOW_DAYS: i64 = 90;

pub(super) fn stats(h: &Handler<'_>) -> Result<Vec<Action>, HandlerError> {
    let directory = h.ctx.directory;
    let vocabulary = h.ctx.vocabulary;
    let uncovered: Vec<String> = (0..vocabulary.len() as TopicIdx)
        .filter(|&t| directory.speaker_count(t) == 0)
        .map(|t| h.label(t))
        .collect();
    let tickets = h.ctx.tickets;
    let open = &tickets.open;
    let count = |state: TicketState| open.iter().filter(|t| t.state == state).count();
    // Load per core-team member, the busiest first; those with nothing open count too.
    let mut load: HashMap<i64, usize> = HashMap::new();
    for ticket in open {
        if let Some(id) = ticket.assignee {
            *load.entry(id).or_default() += 1;
        }
    }
    let mut per_member: Vec<(usize, &str)> = directory
        .members
        .iter()
        .filter(|m| m.access >= Role::CoreTeam || load.contains_key(&m.id))
        .map(|m| (load.get(&m.id).copied().unwrap_or(0), m.name.as_str()))
        .collect();
    per_member.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let mut waits: Vec<i64> = tickets
        .timings
        .iter()
        .filter_map(|t| t.accepted_at.map(|at| (at - t.created_at).num_minutes()))
        .collect();
    waits.sort_unstable();
    let median_hours = median(&waits).map(|m| format!("{:.1}", m / 60.0));
    Ok(vec![h.say(
        "stats/show",
        json!({
            "members": directory.len(),
            "speakers": directory.members.iter().filter(|m| m.speaker_consent).count(),
            "organisations": directory.organisation_count(),
            "topics": vocabulary.len(),
            "uncovered": uncovered,
            "talks": directory.histories.iter().map(|h| h.total_interventions).sum::<u32>(),
            "open": open.len(),
            "new": count(TicketState::New),
            "assigned": count(TicketState::Assigned),
            "accepted": count(TicketState::Accepted),
            "waiting": count(TicketState::WaitingForRequester),
            "unassigned": open.iter().filter(|t| t.assignee.is_none()).count(),
            "window_days": STATS_WINDOW_DAYS,
            "received": tickets.timings.len(),
            "accepted_count": waits.len(),
            "median_accept_hours": median_hours,
            "load": per_member.iter().map(|(n, name)| json!({ "name": name, "open": n })).collect::<Vec<_>>(),
        }),
    )?])
}

/// The median of sorted values, as a float (the mean of the middle two for an even count).
fn median(sorted: &[i64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2] as f64),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_even_and_empty_lists() {
        let cases: [(&[i64], Option<f64>); 4] = [
            (&[], None),
            (&[7], Some(7.0)),
            (&[1, 3, 10], Some(3.0)),
            (&[1, 3, 10, 20], Some(6.5)),
        ];
        for (values, expected) in cases {
            assert_eq!(median(values), expected, "{values:?}");
        }
    }
}
