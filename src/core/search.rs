//! Speaker search: rank consenting members for a query by topic, place, language, availability
//! and fairness, and say why each one was ranked.

use super::directory::Directory;
use super::geo::{Geography, Place, distance_km};
use super::topics::{TopicIdx, Vocabulary};
use chrono::NaiveDate;

#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerQuery {
    pub topics: Vec<TopicIdx>,
    pub place: Option<Place>,
    /// ISO 639-1 code the speaker must speak.
    pub language: Option<String>,
    /// The day of the event: people unavailable that day are left out.
    pub date: Option<NaiveDate>,
}

/// Why a place counted.
#[derive(Debug, Clone, PartialEq)]
pub enum Nearness {
    SameDepartment,
    SameRegion,
    /// Kilometres between prefectures.
    Distance(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Index into [`Directory::members`].
    pub member: usize,
    pub score: f64,
    pub matched_topics: Vec<TopicIdx>,
    pub nearness: Option<Nearness>,
    /// Never spoke and never proposed: given a chance.
    pub newcomer: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchOutcome {
    pub ranked: Vec<Ranked>,
    /// Every consenting member matching a topic, before filters.
    pub matching: usize,
    pub unavailable: usize,
    pub wrong_language: usize,
    /// When nothing matched: nearby topics that do have speakers.
    pub suggestions: Vec<TopicIdx>,
}

/// Weights of the score. Topic dominates; place next; fairness moves people within a tier.
#[derive(Debug, Clone)]
pub struct Weights {
    pub topic: f64,
    pub same_department: f64,
    pub same_region: f64,
    /// Bonus for distance, shrinking linearly to zero at `far_km`.
    pub near: f64,
    pub far_km: f64,
    /// Penalty for a recent talk, halving every `recency_half_life_days`.
    pub recent_talk: f64,
    pub recency_half_life_days: f64,
    /// Penalty per talk in the last year, capped at ten talks.
    pub per_recent_talk: f64,
    /// Penalty per recent proposal, capped at five.
    pub per_recent_proposal: f64,
    pub newcomer: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            topic: 3.0,
            same_department: 1.5,
            same_region: 1.2,
            near: 0.9,
            far_km: 900.0,
            recent_talk: 0.5,
            recency_half_life_days: 60.0,
            per_recent_talk: 0.04,
            per_recent_proposal: 0.03,
            newcomer: 0.25,
        }
    }
}

pub fn search(
    directory: &Directory,
    vocabulary: &Vocabulary,
    geography: &Geography,
    query: &SpeakerQuery,
    weights: &Weights,
    limit: usize,
) -> SearchOutcome {
    let mut outcome = SearchOutcome::default();
    // A search naming no topic ("qqn pour un jury à Rennes") weighs every speaker by the rest.
    let mut candidates: Vec<u32> = if query.topics.is_empty() {
        directory.speakers().to_vec()
    } else {
        query
            .topics
            .iter()
            .flat_map(|&t| directory.speakers_for(t))
            .copied()
            .collect()
    };
    candidates.sort_unstable();
    candidates.dedup();
    outcome.matching = candidates.len();

    let query_department = query.place.and_then(|p| geography.department_of(p));
    let query_region = query.place.map(|p| geography.region_of(p));
    let query_point = query.place.and_then(|p| geography.point(p));
    let today = directory.built_on;
    // Score every candidate without allocating; only the kept few get their reasons built.
    let mut scored: Vec<(f64, u32, Option<Nearness>, bool)> = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let i = candidate as usize;
        let member = &directory.members[i];
        if let Some(language) = &query.language
            && !member.speaks(language)
        {
            outcome.wrong_language += 1;
            continue;
        }
        if let Some(day) = query.date
            && member.unavailable_on(day)
        {
            outcome.unavailable += 1;
            continue;
        }
        let topics = &directory.topic_indexes[i];
        let matched = query.topics.iter().filter(|t| topics.contains(t)).count();
        let mut score = if query.topics.is_empty() {
            0.0
        } else {
            weights.topic * matched as f64 / query.topics.len() as f64
        };

        let nearness = match (query.place, directory.departments[i]) {
            (Some(_), Some(department)) => {
                let region = geography.department(department).region;
                if query_department == Some(department) {
                    score += weights.same_department;
                    Some(Nearness::SameDepartment)
                } else if query_region == Some(region) {
                    score += weights.same_region;
                    Some(Nearness::SameRegion)
                } else if let Some(point) = query_point {
                    let d = geography.department(department);
                    let km = distance_km(point, (d.lat, d.lon));
                    score += weights.near * (1.0 - km / weights.far_km).max(0.0);
                    Some(Nearness::Distance(km.round() as u32))
                } else {
                    None
                }
            }
            _ => None,
        };

        let history = &directory.histories[i];
        if let Some((last, _)) = &history.last_intervention {
            let days = (today - *last).num_days().max(0) as f64;
            score -= weights.recent_talk * (0.5f64).powf(days / weights.recency_half_life_days);
        }
        score -= weights.per_recent_talk * f64::from(history.recent_interventions.min(10));
        score -= weights.per_recent_proposal * f64::from(history.recent_proposals.min(5));
        let newcomer = history.total_interventions == 0 && history.last_proposed.is_none();
        if newcomer {
            score += weights.newcomer;
        }
        scored.push((score, candidate, nearness, newcomer));
    }

    // Highest score first; among equals, whoever was proposed least, then the older record.
    let order = |a: &(f64, u32, Option<Nearness>, bool), b: &(f64, u32, Option<Nearness>, bool)| {
        let (ha, hb) = (
            &directory.histories[a.1 as usize],
            &directory.histories[b.1 as usize],
        );
        b.0.total_cmp(&a.0)
            .then_with(|| ha.recent_proposals.cmp(&hb.recent_proposals))
            .then_with(|| {
                directory.members[a.1 as usize]
                    .id
                    .cmp(&directory.members[b.1 as usize].id)
            })
    };
    if limit > 0 && scored.len() > limit {
        scored.select_nth_unstable_by(limit - 1, order);
    }
    scored.truncate(limit);
    scored.sort_by(order);
    outcome.ranked = scored
        .into_iter()
        .map(|(score, candidate, nearness, newcomer)| {
            let topics = &directory.topic_indexes[candidate as usize];
            let matched_topics = query
                .topics
                .iter()
                .copied()
                .filter(|t| topics.contains(t))
                .collect();
            Ranked {
                member: candidate as usize,
                score,
                matched_topics,
                nearness,
                newcomer,
            }
        })
        .collect();

    if outcome.ranked.is_empty() {
        outcome.suggestions = nearby_topics(directory, vocabulary, &query.topics);
    }
    outcome
}

/// Related topics that someone can actually speak on, nearest first.
pub fn nearby_topics(
    directory: &Directory,
    vocabulary: &Vocabulary,
    topics: &[TopicIdx],
) -> Vec<TopicIdx> {
    let mut out = Vec::new();
    for &topic in topics {
        for &related in vocabulary.related(topic) {
            if !topics.contains(&related)
                && !out.contains(&related)
                && directory.speaker_count(related) > 0
            {
                out.push(related);
            }
        }
    }
    out.truncate(4);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::directory::{DirectoryData, Intervention, JobRole, Member, Period, Role};
    use crate::core::geo::tests::geography;

    fn vocabulary() -> Vocabulary {
        Vocabulary::from_toml(
            r#"
[[topic]]
id = "licensing"
group = "open-data"
fr = "Licences"
en = "Licensing"
related = ["legal"]
[[topic]]
id = "legal"
group = "open-data"
fr = "Juridique"
en = "Legal"
related = ["licensing"]
[[topic]]
id = "childhood"
group = "sector"
fr = "Enfance"
en = "Childhood"
related = ["legal"]
"#,
        )
        .unwrap()
    }

    fn member(
        id: i64,
        department: &str,
        topics: &[&str],
        languages: &[&str],
        consent: bool,
    ) -> Member {
        Member {
            id,
            email: format!("m{id}@example.org"),
            name: format!("Member {id}"),
            organisation: None,
            job_role: JobRole::Staff,
            department: Some(department.to_string()),
            topics: topics.iter().map(|s| s.to_string()).collect(),
            languages: languages.iter().map(|s| s.to_string()).collect(),
            bio: String::new(),
            matrix_id: None,
            speaker_consent: consent,
            access: Role::Member,
            preferred_lang: None,
            unavailable: Vec::new(),
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn run(
        members: Vec<Member>,
        interventions: Vec<Intervention>,
        query: SpeakerQuery,
    ) -> (Vec<i64>, SearchOutcome) {
        let geo = geography();
        let vocabulary = vocabulary();
        let data = DirectoryData {
            members,
            interventions,
            ..Default::default()
        };
        let directory = Directory::build(data, &vocabulary, &geo, day("2026-11-26"));
        let outcome = search(
            &directory,
            &vocabulary,
            &geo,
            &query,
            &Weights::default(),
            10,
        );
        let ids = outcome
            .ranked
            .iter()
            .map(|r| directory.members[r.member].id)
            .collect();
        (ids, outcome)
    }

    fn query(topics: &[TopicIdx]) -> SpeakerQuery {
        SpeakerQuery {
            topics: topics.to_vec(),
            place: None,
            language: None,
            date: None,
        }
    }

    #[test]
    fn members_without_consent_are_never_proposed() {
        let (ids, outcome) = run(
            vec![
                member(1, "35", &["licensing"], &["fr"], false),
                member(2, "35", &["licensing"], &["fr"], true),
            ],
            vec![],
            query(&[0]),
        );
        assert_eq!(ids, vec![2]);
        assert_eq!(outcome.matching, 1);
    }

    #[test]
    fn place_ranks_department_then_region_then_distance() {
        let geo = geography();
        // A department, a commune in it: the same ranking.
        for name in ["Ille-et-Vilaine", "Saint-Malo"] {
            let place = geo.lookup(name);
            let members = vec![
                member(1, "13", &["licensing"], &["fr"], true), // Marseille: far
                member(2, "29", &["licensing"], &["fr"], true), // Finistère: same region
                member(3, "35", &["licensing"], &["fr"], true), // same department
                member(4, "44", &["licensing"], &["fr"], true), // Nantes: near, other region
            ];
            let (ids, outcome) = run(
                members,
                vec![],
                SpeakerQuery {
                    place,
                    ..query(&[0])
                },
            );
            assert_eq!(ids, vec![3, 2, 4, 1], "{name}");
            assert_eq!(outcome.ranked[0].nearness, Some(Nearness::SameDepartment));
            assert_eq!(outcome.ranked[1].nearness, Some(Nearness::SameRegion));
            assert!(matches!(outcome.ranked[2].nearness, Some(Nearness::Distance(km)) if km < 150));
        }
    }

    #[test]
    fn language_and_availability_filter_and_are_counted() {
        let mut away = member(3, "35", &["licensing"], &["fr", "en"], true);
        away.unavailable.push(Period {
            start: day("2027-03-10"),
            end: day("2027-03-14"),
        });
        let members = vec![
            member(1, "35", &["licensing"], &["fr"], true),
            member(2, "35", &["licensing"], &["fr", "en"], true),
            away,
        ];
        let q = SpeakerQuery {
            language: Some("en".into()),
            date: Some(day("2027-03-12")),
            ..query(&[0])
        };
        let (ids, outcome) = run(members, vec![], q);
        assert_eq!(ids, vec![2]);
        assert_eq!((outcome.wrong_language, outcome.unavailable), (1, 1));
    }

    #[test]
    fn fairness_puts_recent_speakers_behind_and_newcomers_ahead() {
        let talk = |member_id, date: &str| Intervention {
            member_id,
            date: day(date),
            topic: None,
            event: "Forum".into(),
        };
        let members = vec![
            member(1, "35", &["licensing"], &["fr"], true),
            member(2, "35", &["licensing"], &["fr"], true),
            member(3, "35", &["licensing"], &["fr"], true),
        ];
        let interventions = vec![
            talk(1, "2026-11-20"),
            talk(1, "2026-10-01"),
            talk(2, "2025-01-10"),
        ];
        let (ids, outcome) = run(members, interventions, query(&[0]));
        assert_eq!(ids, vec![3, 2, 1]);
        assert!(outcome.ranked[0].newcomer);
    }

    #[test]
    fn more_matched_topics_rank_first() {
        let members = vec![
            member(1, "35", &["licensing"], &["fr"], true),
            member(2, "35", &["licensing", "legal"], &["fr"], true),
        ];
        let (ids, outcome) = run(members, vec![], query(&[0, 1]));
        assert_eq!(ids, vec![2, 1]);
        assert_eq!(outcome.ranked[0].matched_topics, vec![0, 1]);
    }

    #[test]
    fn a_search_without_topic_ranks_every_consenting_speaker_by_place_and_day() {
        let geo = geography();
        let mut away = member(4, "35", &["legal"], &["fr"], true);
        away.unavailable.push(Period {
            start: day("2026-12-06"),
            end: day("2026-12-06"),
        });
        let members = vec![
            member(1, "13", &["licensing"], &["fr"], true),
            member(2, "35", &["legal"], &["fr"], true),
            member(3, "35", &["licensing"], &["fr"], false),
            away,
        ];
        let q = SpeakerQuery {
            place: geo.lookup("Rennes"),
            date: Some(day("2026-12-06")),
            ..query(&[])
        };
        let (ids, outcome) = run(members, vec![], q);
        assert_eq!(ids, vec![2, 1]);
        assert_eq!((outcome.matching, outcome.unavailable), (3, 1));
        assert!(outcome.ranked.iter().all(|r| r.matched_topics.is_empty()));
        assert!(outcome.ranked.iter().all(|r| r.score.is_finite()));
    }

    #[test]
    fn no_match_suggests_related_topics_that_have_speakers() {
        let (ids, outcome) = run(
            vec![member(1, "35", &["legal"], &["fr"], true)],
            vec![],
            query(&[2]),
        );
        assert!(ids.is_empty());
        assert_eq!(outcome.suggestions, vec![1]);
    }
}
