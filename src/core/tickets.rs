//! Tickets for intervention requests: their lifecycle and who they are routed to.

use super::directory::{Directory, Role};
use super::geo::Geography;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TicketState {
    New,
    Assigned,
    Accepted,
    WaitingForRequester,
    Done,
    Declined,
    Cancelled,
}

impl TicketState {
    pub const ALL: [TicketState; 7] = [
        TicketState::New,
        TicketState::Assigned,
        TicketState::Accepted,
        TicketState::WaitingForRequester,
        TicketState::Done,
        TicketState::Declined,
        TicketState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::New => "new",
            TicketState::Assigned => "assigned",
            TicketState::Accepted => "accepted",
            TicketState::WaitingForRequester => "waiting-for-requester",
            TicketState::Done => "done",
            TicketState::Declined => "declined",
            TicketState::Cancelled => "cancelled",
        }
    }

    /// Closed tickets take no more work; a reply on one reopens it or opens a linked one.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            TicketState::Done | TicketState::Declined | TicketState::Cancelled
        )
    }

    /// Whether the lifecycle allows going from `self` to `to`.
    pub fn can_become(self, to: TicketState) -> bool {
        use TicketState::*;
        match (self, to) {
            (a, b) if a == b => false,
            (New, Assigned) | (Assigned, Assigned) => true,
            (Assigned, Accepted) | (Assigned, New) => true,
            (Accepted | Assigned, WaitingForRequester) => true,
            (WaitingForRequester, Accepted | Assigned) => true,
            // The talk is arranged, whether or not anyone said "accept" first.
            (Assigned | Accepted | WaitingForRequester, Done) => true,
            (New | Assigned | Accepted | WaitingForRequester, Declined | Cancelled) => true,
            // Reopening: a requester writes again on a closed ticket, or the team reopens it
            // (with its assignee, when it had one).
            (Done | Declined | Cancelled, New | Assigned) => true,
            _ => false,
        }
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TicketState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TicketState::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown ticket state '{s}'"))
    }
}

/// A routing rule from `bot.toml`: requests on these topics or in these regions go to these owners.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    #[serde(default)]
    pub topics: Vec<String>,
    /// Region names or INSEE codes.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Emails of core-team members.
    pub owners: Vec<String>,
}

/// What routing needs to know about a request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingInput {
    pub topics: Vec<String>,
    /// Region indexes in the geography.
    pub regions: Vec<usize>,
    /// Members who must not get it: those who declined it already.
    pub excluded: Vec<i64>,
}

/// The core team's current work, as the store counts it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Workload {
    pub open_tickets: HashMap<i64, u32>,
    pub last_assigned: HashMap<i64, NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingDecision {
    pub member_id: i64,
    /// How the choice was made, recorded in the ticket's history.
    pub reason: String,
}

/// Picks the core-team member for a request: owners of the best-matching rules, then people
/// available today, then the lightest load, then whoever was assigned longest ago.
pub fn route(
    input: &RoutingInput,
    rules: &[RoutingRule],
    directory: &Directory,
    geography: &Geography,
    work: &Workload,
    today: NaiveDate,
) -> Option<RoutingDecision> {
    let team: Vec<usize> = (0..directory.len())
        .filter(|&i| {
            let member = &directory.members[i];
            member.access >= Role::CoreTeam && !input.excluded.contains(&member.id)
        })
        .collect();
    if team.is_empty() {
        return None;
    }
    let region_matches = |rule: &RoutingRule| {
        rule.regions.iter().any(|r| {
            let wanted = geography.lookup(r).map(|p| geography.region_of(p));
            let by_code = geography.regions().iter().position(|g| g.code == *r);
            input
                .regions
                .iter()
                .any(|&have| wanted == Some(have) || by_code == Some(have))
        })
    };
    let mut best = 0;
    let mut owners: Vec<usize> = Vec::new();
    let mut matched_rules = Vec::new();
    for (n, rule) in rules.iter().enumerate() {
        let score = 2 * usize::from(rule.topics.iter().any(|t| input.topics.contains(t)))
            + usize::from(region_matches(rule));
        if score == 0 || score < best {
            continue;
        }
        if score > best {
            best = score;
            owners.clear();
            matched_rules.clear();
        }
        matched_rules.push(n + 1);
        for owner in &rule.owners {
            if let Some(i) = team
                .iter()
                .copied()
                .find(|&i| directory.members[i].email.eq_ignore_ascii_case(owner))
                && !owners.contains(&i)
            {
                owners.push(i);
            }
        }
    }
    let (pool, mut reason) = if owners.is_empty() {
        (
            team.clone(),
            "no routing rule matched: whole core team".to_string(),
        )
    } else {
        (
            owners,
            format!(
                "routing rule(s) {}",
                matched_rules
                    .iter()
                    .map(|n| format!("#{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    };
    let available: Vec<usize> = pool
        .iter()
        .copied()
        .filter(|&i| !directory.members[i].unavailable_on(today))
        .collect();
    let pool = if available.is_empty() {
        reason.push_str("; nobody available today, so among the unavailable");
        pool
    } else {
        if available.len() < pool.len() {
            reason.push_str(&format!("; {} away today", pool.len() - available.len()));
        }
        available
    };
    let load = |i: usize| {
        work.open_tickets
            .get(&directory.members[i].id)
            .copied()
            .unwrap_or(0)
    };
    let last = |i: usize| work.last_assigned.get(&directory.members[i].id).copied();
    let chosen = pool.into_iter().min_by(|&a, &b| {
        load(a)
            .cmp(&load(b))
            .then_with(|| last(a).cmp(&last(b)))
            .then_with(|| directory.members[a].id.cmp(&directory.members[b].id))
    })?;
    let member = &directory.members[chosen];
    reason.push_str(&format!(
        "; {} open ticket(s); last assigned {}",
        load(chosen),
        last(chosen)
            .map(|d| d.to_string())
            .unwrap_or_else(|| "never".into())
    ));
    Some(RoutingDecision {
        member_id: member.id,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::directory::{DirectoryData, JobRole, Member, Period};
    use crate::core::geo::tests::geography;
    use crate::core::topics::Vocabulary;

    fn member(id: i64, email: &str, access: Role) -> Member {
        Member {
            id,
            email: email.into(),
            name: email.into(),
            organisation: None,
            job_role: JobRole::Staff,
            department: Some("35".into()),
            topics: vec![],
            languages: vec!["fr".into()],
            bio: String::new(),
            matrix_id: None,
            speaker_consent: true,
            access,
            preferred_lang: None,
            unavailable: vec![],
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn setup(members: Vec<Member>) -> (Directory, Geography) {
        let geo = geography();
        let vocabulary = Vocabulary::from_toml(
            "[[topic]]\nid='licensing'\ngroup='open-data'\nfr='Licences'\nen='Licensing'\n",
        )
        .unwrap();
        let directory = Directory::build(
            DirectoryData {
                members,
                ..Default::default()
            },
            &vocabulary,
            &geo,
            day("2026-11-26"),
        );
        (directory, geo)
    }

    #[test]
    fn the_lifecycle_allows_only_sensible_moves() {
        use TicketState::*;
        let allowed = [
            (New, Assigned),
            (Assigned, Accepted),
            (Accepted, Done),
            (Assigned, WaitingForRequester),
            (WaitingForRequester, Accepted),
            (New, Cancelled),
            (Done, New),
            (Declined, Assigned),
        ];
        for (from, to) in allowed {
            assert!(from.can_become(to), "{from} -> {to}");
        }
        let refused = [
            (New, Done),
            (Done, Accepted),
            (Cancelled, Accepted),
            (New, New),
            (New, Accepted),
        ];
        for (from, to) in refused {
            assert!(!from.can_become(to), "{from} -> {to}");
        }
        for state in TicketState::ALL {
            assert_eq!(state.as_str().parse::<TicketState>(), Ok(state));
        }
    }

    #[test]
    fn routing_follows_rules_then_availability_then_load_then_rotation() {
        let mut away = member(3, "c@example.org", Role::CoreTeam);
        away.unavailable.push(Period {
            start: day("2026-11-20"),
            end: day("2026-11-30"),
        });
        let members = vec![
            member(1, "a@example.org", Role::CoreTeam),
            member(2, "b@example.org", Role::CoreTeam),
            away,
            member(4, "plain@example.org", Role::Member),
        ];
        let (directory, geo) = setup(members);
        let bretagne = geo.region_of(geo.lookup("Bretagne").unwrap());
        let rules = vec![
            RoutingRule {
                topics: vec!["licensing".into()],
                regions: vec![],
                owners: vec!["b@example.org".into(), "c@example.org".into()],
            },
            RoutingRule {
                topics: vec![],
                regions: vec!["Bretagne".into()],
                owners: vec!["a@example.org".into()],
            },
        ];
        let today = day("2026-11-26");
        let work = Workload::default();
        let licensing = RoutingInput {
            topics: vec!["licensing".into()],
            regions: vec![],
            ..Default::default()
        };
        let chosen = route(&licensing, &rules, &directory, &geo, &work, today).unwrap();
        assert_eq!(chosen.member_id, 2, "{}", chosen.reason);
        assert!(
            chosen.reason.contains("#1") && chosen.reason.contains("1 away today"),
            "{}",
            chosen.reason
        );

        let in_brittany = RoutingInput {
            topics: vec![],
            regions: vec![bretagne],
            ..Default::default()
        };
        assert_eq!(
            route(&in_brittany, &rules, &directory, &geo, &work, today)
                .unwrap()
                .member_id,
            1
        );

        // No rule: the lightest load among the available core team, then the longest wait.
        let nothing = RoutingInput::default();
        let mut work = Workload::default();
        work.open_tickets.insert(1, 3);
        assert_eq!(
            route(&nothing, &rules, &directory, &geo, &work, today)
                .unwrap()
                .member_id,
            2
        );
        work.open_tickets.insert(2, 3);
        work.last_assigned.insert(1, day("2026-11-01"));
        work.last_assigned.insert(2, day("2026-11-25"));
        let decision = route(&nothing, &rules, &directory, &geo, &work, today).unwrap();
        assert_eq!(decision.member_id, 1, "{}", decision.reason);
        assert!(decision.reason.contains("whole core team"));

        // Whoever declined it is passed over, even as the rule's owner.
        let declined_by_owner = RoutingInput {
            excluded: vec![2],
            ..licensing.clone()
        };
        let decision = route(&declined_by_owner, &rules, &directory, &geo, &work, today).unwrap();
        assert_eq!(decision.member_id, 3, "{}", decision.reason);
        let everyone_declined = RoutingInput {
            excluded: vec![1, 2, 3],
            ..RoutingInput::default()
        };
        assert_eq!(
            route(&everyone_declined, &rules, &directory, &geo, &work, today),
            None
        );
    }

    #[test]
    fn nobody_to_route_to_without_a_core_team() {
        let (directory, geo) = setup(vec![member(1, "plain@example.org", Role::Member)]);
        assert_eq!(
            route(
                &RoutingInput::default(),
                &[],
                &directory,
                &geo,
                &Workload::default(),
                day("2026-11-26")
            ),
            None
        );
    }
}

/// A ticket as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ticket {
    pub number: i64,
    pub state: TicketState,
    pub subject: String,
    pub requester_email: String,
    pub requester_name: Option<String>,
    pub lang: super::lang::Lang,
    pub organisation: Option<String>,
    pub event: Option<String>,
    pub dates: Vec<NaiveDate>,
    pub places: Vec<String>,
    pub topics: Vec<String>,
    pub format: Option<String>,
    pub assignee: Option<i64>,
    /// Random text in the body marker, so a marker cannot be guessed from the number alone.
    pub secret: String,
}

impl Ticket {
    /// The marker the bot writes at the foot of its mail, "[ODF-12-k3f9a0c1]": clients that drop
    /// References keep it in the quoted text, and the secret makes it unguessable.
    pub fn marker(&self, prefix: &str) -> String {
        format!("[{prefix}-{}-{}]", self.number, self.secret)
    }

    /// The subject of mail about this ticket, with its tag: "Re: [ODF #12] Rencontres …".
    pub fn mail_subject(&self, prefix: &str) -> String {
        format!("Re: [{prefix} #{}] {}", self.number, self.subject)
    }
}

/// When a ticket came in and when the team first accepted it, for the statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketTiming {
    pub number: i64,
    pub state: TicketState,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub accepted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One line of a ticket's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketEvent {
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub kind: String,
    pub detail: String,
}
