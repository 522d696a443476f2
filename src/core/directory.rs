//! The member directory as the handlers see it: a snapshot built from the store's rows, with
//! indexes for speaker search (topic → consenting members) and per-member speaking history.

use super::geo::Geography;
use super::lang::Lang;
use super::topics::{TopicGroup, TopicIdx, Vocabulary};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// The vocabulary's id for the network's whole field ("open data" in general).
pub const GENERAL_FIELD: &str = "open-data";

/// How many open-data practice topics make a member a generalist of the field.
const GENERALIST_PRACTICES: usize = 3;

/// What a person may do with the bot. Ordered: each level includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Anyone,
    Member,
    CoreTeam,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Anyone => "anyone",
            Role::Member => "member",
            Role::CoreTeam => "core-team",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['_', ' '], "-")
            .as_str()
        {
            "anyone" => Ok(Role::Anyone),
            "member" | "membre" => Ok(Role::Member),
            "core-team" | "equipe" => Ok(Role::CoreTeam),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role '{other}' (anyone, member, core-team, admin)"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobRole {
    Elected,
    Staff,
}

impl JobRole {
    pub fn as_str(self) -> &'static str {
        match self {
            JobRole::Elected => "elected",
            JobRole::Staff => "staff",
        }
    }
}

impl FromStr for JobRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match super::text::normalize(s).as_str() {
            "elected" | "elu" | "elue" | "elected official" => Ok(JobRole::Elected),
            "staff" | "agent" | "agente" | "employee" | "salarie" | "salariee" => {
                Ok(JobRole::Staff)
            }
            other => Err(format!("unknown job role '{other}' (elected or staff)")),
        }
    }
}

/// An inclusive range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub department: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub organisation: Option<String>,
    pub job_role: JobRole,
    pub department: Option<String>,
    /// Topic ids from the vocabulary.
    pub topics: Vec<String>,
    /// ISO 639-1 codes, most fluent first.
    pub languages: Vec<String>,
    pub bio: String,
    pub matrix_id: Option<String>,
    pub speaker_consent: bool,
    pub access: Role,
    pub preferred_lang: Option<Lang>,
    pub unavailable: Vec<Period>,
}

impl Member {
    pub fn speaks(&self, language: &str) -> bool {
        self.languages
            .iter()
            .any(|l| l.eq_ignore_ascii_case(language))
    }

    pub fn unavailable_on(&self, day: NaiveDate) -> bool {
        self.unavailable.iter().any(|p| p.contains(day))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervention {
    pub member_id: i64,
    pub date: NaiveDate,
    pub topic: Option<String>,
    pub event: String,
}

/// When someone was last put forward by a search.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalCount {
    pub member_id: i64,
    pub last: NaiveDate,
    pub recent: u32,
}

/// Rows read from the store, from which a [`Directory`] is built.
#[derive(Debug, Clone, Default)]
pub struct DirectoryData {
    pub organisations: Vec<Organisation>,
    pub members: Vec<Member>,
    pub interventions: Vec<Intervention>,
    pub proposals: Vec<ProposalCount>,
}

/// A member's speaking record, as fairness sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub last_intervention: Option<(NaiveDate, String)>,
    /// Interventions in the year before the snapshot date.
    pub recent_interventions: u32,
    pub total_interventions: u32,
    pub last_proposed: Option<NaiveDate>,
    pub recent_proposals: u32,
}

/// Finds organisation names in free text (accent- and case-insensitive, on word boundaries),
/// with one pass over the text whatever the number of organisations.
#[derive(Debug)]
pub struct OrganisationFinder {
    automaton: aho_corasick::AhoCorasick,
    names: Vec<String>,
}

impl OrganisationFinder {
    pub fn new<'a>(names: impl Iterator<Item = &'a str>) -> Self {
        // Short names ("EPT", "CAF") would match ordinary words.
        let names: Vec<String> = names
            .filter(|n| super::text::normalize(n).len() >= 5)
            .map(str::to_string)
            .collect();
        let patterns: Vec<String> = names
            .iter()
            .map(|n| format!(" {} ", super::text::normalize(n)))
            .collect();
        let automaton = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(&patterns)
            .expect("organisation names form a valid automaton");
        OrganisationFinder { automaton, names }
    }

    /// The longest organisation name found in the text, as the directory writes it.
    pub fn longest_in(&self, text: &str) -> Option<String> {
        self.longest_in_normalized(&super::text::normalize(text))
    }

    /// [`OrganisationFinder::longest_in`] on text already passed through `normalize`.
    pub fn longest_in_normalized(&self, normalized: &str) -> Option<String> {
        let haystack = format!(" {normalized} ");
        self.automaton
            .find_iter(&haystack)
            .max_by_key(|m| m.len())
            .map(|m| self.names[m.pattern().as_usize()].clone())
    }
}

#[derive(Debug)]
pub struct Directory {
    pub members: Vec<Member>,
    pub histories: Vec<History>,
    /// The department index of each member, in the geography.
    pub departments: Vec<Option<usize>>,
    /// Each member's topics as vocabulary indexes (ranking compares these, not strings).
    pub topic_indexes: Vec<Vec<TopicIdx>>,
    organisations: HashMap<String, Organisation>,
    by_email: HashMap<String, usize>,
    by_matrix: HashMap<String, usize>,
    by_id: HashMap<i64, usize>,
    /// Members' names folded as [`super::text::normalize`] does, for lookups by name.
    normalized_names: Vec<String>,
    /// The members whose folded name has a word, in order, for lookups by name: weighing a
    /// chat line looks up every run of words in it.
    by_name_word: HashMap<String, Vec<usize>>,
    pub organisation_finder: OrganisationFinder,
    /// Consenting members per topic: the candidate lists of speaker search.
    speakers_by_topic: Vec<Vec<u32>>,
    /// Every consenting member: the candidates of a search that names no topic.
    speakers: Vec<u32>,
    pub built_on: NaiveDate,
}

impl Directory {
    pub fn build(
        data: DirectoryData,
        vocabulary: &Vocabulary,
        geography: &Geography,
        today: NaiveDate,
    ) -> Self {
        let DirectoryData {
            organisations,
            members,
            interventions,
            proposals,
        } = data;
        let normalized_names: Vec<String> = members
            .iter()
            .map(|m| super::text::normalize(&m.name))
            .collect();
        let mut by_name_word: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, name) in normalized_names.iter().enumerate() {
            for word in name.split(' ') {
                let list = by_name_word.entry(word.to_string()).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        let by_id: HashMap<i64, usize> =
            members.iter().enumerate().map(|(i, m)| (m.id, i)).collect();
        let mut histories = vec![History::default(); members.len()];
        let year_ago = today - chrono::Days::new(365);
        for intervention in interventions {
            let Some(&i) = by_id.get(&intervention.member_id) else {
                continue;
            };
            let history = &mut histories[i];
            history.total_interventions += 1;
            if intervention.date > year_ago && intervention.date <= today {
                history.recent_interventions += 1;
            }
            if intervention.date <= today
                && history
                    .last_intervention
                    .as_ref()
                    .is_none_or(|(d, _)| intervention.date > *d)
            {
                history.last_intervention = Some((intervention.date, intervention.event));
            }
        }
        for proposal in proposals {
            if let Some(&i) = by_id.get(&proposal.member_id) {
                histories[i].last_proposed = Some(proposal.last);
                histories[i].recent_proposals = proposal.recent;
            }
        }
        let field = vocabulary.by_id(GENERAL_FIELD);
        let topic_indexes: Vec<Vec<TopicIdx>> = members
            .iter()
            .map(|m| {
                let mut topics: Vec<TopicIdx> = m
                    .topics
                    .iter()
                    .filter_map(|t| vocabulary.by_id(t))
                    .collect();
                // Someone versed in several open-data practices can speak about the field as a
                // whole: "quelqu'un pour parler d'open data" finds the generalists.
                let practices = topics
                    .iter()
                    .filter(|&&t| vocabulary.get(t).group == TopicGroup::OpenData)
                    .count();
                if let Some(field) = field
                    && practices >= GENERALIST_PRACTICES
                    && !topics.contains(&field)
                {
                    topics.push(field);
                }
                topics
            })
            .collect();
        let mut speakers_by_topic = vec![Vec::new(); vocabulary.len()];
        for (i, member) in members.iter().enumerate() {
            if member.speaker_consent {
                for &t in &topic_indexes[i] {
                    speakers_by_topic[t as usize].push(i as u32);
                }
            }
        }
        let departments = members
            .iter()
            .map(|m| {
                m.department
                    .as_deref()
                    .and_then(|d| geography.department_by_code(d))
            })
            .collect();
        let speakers = (0..members.len() as u32)
            .filter(|&i| members[i as usize].speaker_consent)
            .collect();
        Directory {
            speakers,
            organisation_finder: OrganisationFinder::new(
                organisations.iter().map(|o| o.name.as_str()),
            ),
            by_email: members
                .iter()
                .enumerate()
                .map(|(i, m)| (m.email.to_lowercase(), i))
                .collect(),
            by_matrix: members
                .iter()
                .enumerate()
                .filter_map(|(i, m)| m.matrix_id.as_ref().map(|x| (x.clone(), i)))
                .collect(),
            by_id,
            normalized_names,
            by_name_word,
            organisations: organisations
                .into_iter()
                .map(|o| (o.id.clone(), o))
                .collect(),
            members,
            histories,
            departments,
            topic_indexes,
            speakers_by_topic,
            built_on: today,
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn organisation(&self, id: &str) -> Option<&Organisation> {
        self.organisations.get(id)
    }

    pub fn organisations(&self) -> impl Iterator<Item = &Organisation> {
        self.organisations.values()
    }

    pub fn organisation_count(&self) -> usize {
        self.organisations.len()
    }

    pub fn by_email(&self, email: &str) -> Option<&Member> {
        self.by_email
            .get(&email.trim().to_lowercase())
            .map(|&i| &self.members[i])
    }

    pub fn by_matrix_id(&self, id: &str) -> Option<&Member> {
        self.by_matrix.get(id).map(|&i| &self.members[i])
    }

    /// The member an address belongs to. The directory knows members by email and Matrix id;
    /// fediverse and Bluesky accounts are nobody's yet.
    pub fn by_address(&self, address: &super::address::Address) -> Option<&Member> {
        use super::address::Address;
        match address {
            Address::Email(email) => self.by_email(email),
            Address::Matrix(id) => self.by_matrix_id(id),
            Address::Fediverse { .. } | Address::Bluesky(_) => None,
        }
    }

    pub fn index_of(&self, member_id: i64) -> Option<usize> {
        self.by_id.get(&member_id).copied()
    }

    pub fn speakers_for(&self, topic: TopicIdx) -> &[u32] {
        self.speakers_by_topic
            .get(topic as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Members whose name matches what was typed: exact (accent-insensitive) first, else the
    /// names containing every typed word, else close spellings.
    pub fn find_by_name(&self, typed: &str) -> Vec<&Member> {
        self.find_by_name_with(typed, true)
    }

    /// [`Directory::find_by_name`] without close spellings: what weighing a chat line can
    /// afford for every run of words in it.
    pub fn find_by_name_exactly(&self, typed: &str) -> Vec<&Member> {
        self.find_by_name_with(typed, false)
    }

    /// Whether [`Directory::find_by_name_exactly`] may find anyone for `typed`: an address, or a
    /// text whose first word is a word of some member's name. Weighing a chat line tries every
    /// run of capitalised words as a name; this rules out most of them without a lookup.
    pub fn may_name_exactly(&self, typed: &str) -> bool {
        if typed.contains('@') {
            return true;
        }
        let first = typed
            .split(|c: char| !c.is_alphanumeric())
            .find(|w| !w.is_empty())
            .map(super::text::normalize);
        first.is_some_and(|word| {
            let word = word.split(' ').next().unwrap_or_default();
            self.by_name_word.contains_key(word)
        })
    }

    fn find_by_name_with(&self, typed: &str, close_spellings: bool) -> Vec<&Member> {
        let wanted = super::text::normalize(typed);
        if wanted.is_empty() {
            return Vec::new();
        }
        if let Some(member) = self.by_email(typed) {
            return vec![member];
        }
        let names = &self.normalized_names;
        let words: Vec<&str> = wanted.split(' ').collect();
        // A name equal to the text or holding all its words holds its first word.
        let candidates = self
            .by_name_word
            .get(words[0])
            .map_or(&[][..], Vec::as_slice);
        let exact: Vec<&Member> = candidates
            .iter()
            .filter(|&&i| names[i] == wanted)
            .map(|&i| &self.members[i])
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        let containing: Vec<&Member> = candidates
            .iter()
            .filter(|&&i| {
                words
                    .iter()
                    .all(|w| names[i].split(' ').any(|part| part == *w))
            })
            .map(|&i| &self.members[i])
            .collect();
        if !containing.is_empty() || !close_spellings {
            return containing;
        }
        self.members
            .iter()
            .zip(names)
            .filter(|(_, n)| super::text::jaro_winkler(n, &wanted) > 0.92)
            .map(|(m, _)| m)
            .collect()
    }

    /// How many consenting members cover each topic.
    /// Every member who consented to be proposed as a speaker.
    pub fn speakers(&self) -> &[u32] {
        &self.speakers
    }

    pub fn speaker_count(&self, topic: TopicIdx) -> usize {
        self.speakers_for(topic).len()
    }
}
