//! Validating member files (CSV or TOML) before anything is written: every bad row is reported
//! with its line and reason, and the store is only touched once the whole file is checked.

pub mod flows;

use crate::core::dates;
use crate::core::directory::{Directory, Intervention, JobRole, Member, Period, Role};
use crate::core::geo::Geography;
use crate::core::lang::Lang;
use crate::core::topics::Vocabulary;
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};

/// A CSV reader that ignores a UTF-8 byte-order mark and accepts rows of any length (rows are
/// checked against the header one by one, so the error names the line).
fn csv_reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    csv::ReaderBuilder::new().flexible(true).from_reader(bytes)
}

/// A CSV record, or `None` once the reason it cannot be read is noted with its line.
fn readable<R>(record: Result<R, csv::Error>, errors: &mut Vec<RowError>) -> Option<R> {
    match record {
        Ok(record) => Some(record),
        Err(e) => {
            errors.push(RowError {
                line: line_of(e.position()),
                reason: format!("unreadable row: {e}"),
            });
            None
        }
    }
}

fn line_of(position: Option<&csv::Position>) -> usize {
    position.map(|p| p.line() as usize).unwrap_or(0)
}

/// Columns of a members CSV; `email` and `name` are required.
pub const MEMBER_COLUMNS: &[&str] = &[
    "email",
    "name",
    "organisation",
    "job_role",
    "department",
    "topics",
    "languages",
    "bio",
    "matrix_id",
    "speaker_consent",
    "access",
    "unavailable",
    "preferred_language",
];
const REQUIRED_COLUMNS: &[&str] = &["email", "name"];

#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// Line in the file (CSV), or position of the entry (TOML).
    pub line: usize,
    pub reason: String,
}

#[derive(Debug)]
pub struct Checked<T> {
    pub valid: Vec<T>,
    pub errors: Vec<RowError>,
    /// Problems with the file as a whole (columns, syntax): nothing can be imported.
    pub fatal: Vec<String>,
}

impl<T> Default for Checked<T> {
    fn default() -> Self {
        Checked {
            valid: Vec::new(),
            errors: Vec::new(),
            fatal: Vec::new(),
        }
    }
}

/// What validation checks rows against.
pub struct ImportContext<'a> {
    pub vocabulary: &'a Vocabulary,
    pub geography: &'a Geography,
    pub organisations: &'a HashSet<String>,
    /// The directory as it is, to catch a Matrix id already used by someone else.
    pub directory: &'a Directory,
}

/// One member as written in a file, before validation; every field is text.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMember {
    email: String,
    name: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    job_role: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    topics: StringOrList,
    #[serde(default)]
    languages: StringOrList,
    #[serde(default)]
    bio: String,
    #[serde(default)]
    matrix_id: String,
    #[serde(default)]
    speaker_consent: String,
    #[serde(default)]
    access: String,
    #[serde(default)]
    unavailable: StringOrList,
    #[serde(default)]
    preferred_language: String,
}

/// TOML files may write lists as arrays; CSV cells use `;`.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum StringOrList {
    #[default]
    Empty,
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    fn items(&self) -> Vec<String> {
        match self {
            StringOrList::Empty => Vec::new(),
            StringOrList::One(s) => s
                .split([';', ','])
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
            StringOrList::Many(v) => v
                .iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        }
    }
}

pub fn check_members_csv(bytes: &[u8], ctx: &ImportContext<'_>) -> Checked<Member> {
    let mut checked = Checked::default();
    let mut reader = csv_reader(bytes);
    let headers: Vec<String> = match reader.byte_headers() {
        Ok(h) if h.iter().any(|f| std::str::from_utf8(f).is_err()) => {
            checked
                .fatal
                .push("line 1: the header is not valid UTF-8 (save the file as UTF-8)".into());
            return checked;
        }
        Ok(h) => h
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_lowercase())
            .collect(),
        Err(e) => {
            checked
                .fatal
                .push(format!("cannot read the header line: {e}"));
            return checked;
        }
    };
    let unknown: Vec<&String> = headers
        .iter()
        .filter(|h| !MEMBER_COLUMNS.contains(&h.as_str()))
        .collect();
    if !unknown.is_empty() {
        checked.fatal.push(format!(
            "line 1: unknown column(s) {}; expected some of: {}",
            unknown
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", "),
            MEMBER_COLUMNS.join(", ")
        ));
    }
    for required in REQUIRED_COLUMNS {
        if !headers.iter().any(|h| h == required) {
            checked
                .fatal
                .push(format!("line 1: missing required column '{required}'"));
        }
    }
    if !checked.fatal.is_empty() {
        return checked;
    }
    let mut raws = Vec::new();
    for record in reader.byte_records() {
        let Some(record) = readable(record, &mut checked.errors) else {
            continue;
        };
        let line = line_of(record.position());
        if record.len() != headers.len() {
            checked.errors.push(RowError {
                line,
                reason: format!(
                    "{} fields where the header has {}",
                    record.len(),
                    headers.len()
                ),
            });
            continue;
        }
        let mut raw = RawMember::default();
        let mut bad_encoding = None;
        for (header, field) in headers.iter().zip(record.iter()) {
            let text = match std::str::from_utf8(field) {
                Ok(t) => t.trim().to_string(),
                Err(_) => {
                    bad_encoding = Some(header.clone());
                    break;
                }
            };
            match header.as_str() {
                "email" => raw.email = text,
                "name" => raw.name = text,
                "organisation" => raw.organisation = text,
                "job_role" => raw.job_role = text,
                "department" => raw.department = text,
                "topics" => raw.topics = StringOrList::One(text),
                "languages" => raw.languages = StringOrList::One(text),
                "bio" => raw.bio = text,
                "matrix_id" => raw.matrix_id = text,
                "speaker_consent" => raw.speaker_consent = text,
                "access" => raw.access = text,
                "unavailable" => raw.unavailable = StringOrList::One(text),
                _ => raw.preferred_language = text,
            }
        }
        if let Some(column) = bad_encoding {
            checked.errors.push(RowError {
                line,
                reason: format!("column '{column}' is not valid UTF-8 (save the file as UTF-8)"),
            });
            continue;
        }
        raws.push((line, raw));
    }
    validate(raws, ctx, &mut checked);
    checked
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MembersToml {
    member: Vec<RawMember>,
}

pub fn check_members_toml(source: &[u8], ctx: &ImportContext<'_>) -> Checked<Member> {
    let mut checked = Checked::default();
    let Ok(text) = std::str::from_utf8(source) else {
        checked
            .fatal
            .push("the file is not valid UTF-8 (save it as UTF-8)".into());
        return checked;
    };
    match toml::from_str::<MembersToml>(text) {
        Ok(file) => {
            // Report each entry at the line where its [[member]] table starts.
            let starts: Vec<usize> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.trim_start().starts_with("[[member]]"))
                .map(|(n, _)| n + 1)
                .collect();
            let raws = file
                .member
                .into_iter()
                .enumerate()
                .map(|(i, raw)| (starts.get(i).copied().unwrap_or(i + 1), raw))
                .collect();
            validate(raws, ctx, &mut checked);
        }
        Err(e) => checked.fatal.push(e.to_string()),
    }
    checked
}

fn validate(raws: Vec<(usize, RawMember)>, ctx: &ImportContext<'_>, checked: &mut Checked<Member>) {
    let mut emails: HashMap<String, usize> = HashMap::new();
    let mut matrix_ids: HashMap<String, usize> = HashMap::new();
    for (line, raw) in raws {
        let mut reasons = Vec::new();
        let email = raw.email.trim().to_lowercase();
        if !looks_like_email(&email) {
            reasons.push(format!("'{}' is not an email address", raw.email));
        } else if let Some(first) = emails.insert(email.clone(), line) {
            reasons.push(format!("email {email} already used on line {first}"));
        }
        if raw.name.trim().is_empty() {
            reasons.push("name is empty".into());
        }
        let organisation = match raw.organisation.trim() {
            "" => None,
            org if ctx.organisations.contains(org) => Some(org.to_string()),
            org => {
                reasons.push(format!(
                    "unknown organisation '{org}' (give the SIREN of a known organisation)"
                ));
                None
            }
        };
        let job_role = if raw.job_role.trim().is_empty() {
            Ok(JobRole::Staff)
        } else {
            raw.job_role.parse()
        };
        let job_role = job_role.unwrap_or_else(|e| {
            reasons.push(e);
            JobRole::Staff
        });
        let department = match raw.department.trim() {
            "" => None,
            code => match ctx.geography.department_by_code(code) {
                Some(i) => Some(ctx.geography.department(i).code.clone()),
                None => {
                    reasons.push(format!("unknown department '{code}'"));
                    None
                }
            },
        };
        let mut topics = Vec::new();
        for typed in raw.topics.items() {
            match ctx.vocabulary.resolve(&typed) {
                Some(t) => {
                    let id = ctx.vocabulary.get(t).id.clone();
                    if !topics.contains(&id) {
                        topics.push(id);
                    }
                }
                None => reasons.push(format!("unknown topic '{typed}'")),
            }
        }
        let mut languages = raw
            .languages
            .items()
            .into_iter()
            .map(|l| l.to_lowercase())
            .collect::<Vec<_>>();
        if languages.is_empty() {
            languages.push("fr".into());
        }
        for language in &languages {
            if language.len() != 2 || !language.chars().all(|c| c.is_ascii_lowercase()) {
                reasons.push(format!(
                    "language '{language}' is not a two-letter ISO 639-1 code"
                ));
            }
        }
        let matrix_id = match raw.matrix_id.trim() {
            "" => None,
            id if is_matrix_id(id) => {
                if let Some(first) = matrix_ids.insert(id.to_string(), line) {
                    reasons.push(format!("Matrix id {id} already used on line {first}"));
                } else if let Some(owner) =
                    ctx.directory.by_matrix_id(id).filter(|m| m.email != email)
                {
                    reasons.push(format!("Matrix id {id} already belongs to {}", owner.email));
                }
                Some(id.to_string())
            }
            id => {
                reasons.push(format!("'{id}' is not a Matrix id (@name:server)"));
                None
            }
        };
        let speaker_consent = match crate::core::text::normalize(&raw.speaker_consent).as_str() {
            "yes" | "oui" | "true" | "1" | "y" | "o" => true,
            // Consent is never assumed.
            "" | "no" | "non" | "false" | "0" | "n" => false,
            _ => {
                reasons.push(format!(
                    "speaker_consent '{}' should be yes or no",
                    raw.speaker_consent.trim()
                ));
                false
            }
        };
        let access = if raw.access.trim().is_empty() {
            Ok(Role::Member)
        } else {
            raw.access.parse::<Role>()
        };
        let access = match access {
            Ok(Role::Anyone) => {
                reasons.push(
                    "access 'anyone' is not a member level (member, core-team, admin)".into(),
                );
                Role::Member
            }
            Ok(role) => role,
            Err(e) => {
                reasons.push(e);
                Role::Member
            }
        };
        let mut unavailable = Vec::new();
        for period in raw.unavailable.items() {
            match parse_iso_period(&period) {
                Some(p) => unavailable.push(p),
                None => reasons.push(format!("unavailable period '{period}' should be YYYY-MM-DD..YYYY-MM-DD with start before end")),
            }
        }
        let preferred_lang = match raw.preferred_language.trim() {
            "" => None,
            code => match code.parse::<Lang>() {
                Ok(lang) => Some(lang),
                Err(e) => {
                    reasons.push(e);
                    None
                }
            },
        };
        if reasons.is_empty() {
            checked.valid.push(Member {
                id: 0,
                email,
                name: raw.name.trim().to_string(),
                organisation,
                job_role,
                department,
                topics,
                languages,
                bio: raw.bio.trim().to_string(),
                matrix_id,
                speaker_consent,
                access,
                preferred_lang,
                unavailable,
            });
        } else {
            checked.errors.push(RowError {
                line,
                reason: reasons.join("; "),
            });
        }
    }
}

fn looks_like_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c == ',' || c == ';'))
}

fn is_matrix_id(id: &str) -> bool {
    id.starts_with('@')
        && id[1..]
            .split_once(':')
            .is_some_and(|(local, server)| !local.is_empty() && !server.is_empty())
}

fn parse_iso_period(text: &str) -> Option<Period> {
    let (start, end) = text.split_once("..")?;
    let start: NaiveDate = start.trim().parse().ok()?;
    let end: NaiveDate = end.trim().parse().ok()?;
    (start <= end).then_some(Period { start, end })
}

/// Past talks from a CSV (`email,date,topic,event,place`), checked against the members known.
pub fn check_interventions_csv(
    bytes: &[u8],
    known_emails: &HashSet<String>,
    vocabulary: &Vocabulary,
    today: NaiveDate,
) -> Checked<(String, Intervention)> {
    let mut checked = Checked::default();
    let mut reader = csv_reader(bytes);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_lowercase()).collect(),
        Err(e) => {
            checked
                .fatal
                .push(format!("cannot read the header line: {e}"));
            return checked;
        }
    };
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(email_at), Some(date_at), Some(event_at)) =
        (column("email"), column("date"), column("event"))
    else {
        checked
            .fatal
            .push("line 1: the columns email, date and event are required".into());
        return checked;
    };
    let topic_at = column("topic");
    for record in reader.records() {
        let Some(record) = readable(record, &mut checked.errors) else {
            continue;
        };
        let line = line_of(record.position());
        let field = |i: usize| record.get(i).unwrap_or("").trim().to_string();
        let mut reasons = Vec::new();
        let email = field(email_at).to_lowercase();
        if !known_emails.contains(&email) {
            reasons.push(format!("no member with email '{email}'"));
        }
        let date = match dates::parse_date(&field(date_at), NaiveDate::MIN) {
            Ok(d) if d <= today => Some(d),
            Ok(d) => {
                reasons.push(format!("{d} is in the future"));
                None
            }
            Err(_) => {
                reasons.push(format!("unreadable date '{}'", field(date_at)));
                None
            }
        };
        let topic = topic_at.map(field).filter(|t| !t.is_empty());
        let topic = match topic {
            Some(t) => match vocabulary.resolve(&t) {
                Some(idx) => Some(vocabulary.get(idx).id.clone()),
                None => {
                    reasons.push(format!("unknown topic '{t}'"));
                    None
                }
            },
            None => None,
        };
        match (reasons.is_empty(), date) {
            (true, Some(date)) => checked.valid.push((
                email,
                Intervention {
                    member_id: 0,
                    date,
                    topic,
                    event: field(event_at),
                },
            )),
            _ => checked.errors.push(RowError {
                line,
                reason: reasons.join("; "),
            }),
        }
    }
    checked
}

/// The observatory's organisations file (`siren,nom,type,regcode,…,Département,…`).
pub fn parse_organisations_csv(
    bytes: &[u8],
) -> Result<Vec<crate::core::directory::Organisation>, String> {
    let mut reader = csv_reader(bytes);
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| format!("missing column '{name}'"))
    };
    let (siren, name, kind, department) = (
        column("siren")?,
        column("nom")?,
        column("type")?,
        column("Département")?,
    );
    let mut organisations = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        // Some SIRENs carry invisible marks (U+200E) or spaces: keep the digits.
        let id: String = record
            .get(siren)
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if id.is_empty() {
            continue;
        }
        let dep = record.get(department).unwrap_or("").trim();
        organisations.push(crate::core::directory::Organisation {
            id,
            name: record.get(name).unwrap_or("").trim().to_string(),
            kind: record.get(kind).unwrap_or("").trim().to_string(),
            department: (!dep.is_empty() && !dep.contains(',')).then(|| dep.to_string()),
        });
    }
    Ok(organisations)
}

/// A directory built in memory from a members CSV and the observatory's organisations CSV,
/// without a store: what the evaluation and the understanding benchmark read the sample
/// directory with. Members are numbered from 1 in file order; a row that does not check is an
/// error naming every problem.
pub fn directory_from_files(
    members_csv: &[u8],
    organisations_csv: &[u8],
    vocabulary: &Vocabulary,
    geography: &Geography,
    today: NaiveDate,
) -> Result<Directory, String> {
    use crate::core::directory::DirectoryData;
    let organisations = parse_organisations_csv(organisations_csv)?;
    let ids = organisations.iter().map(|o| o.id.clone()).collect();
    let empty = Directory::build(DirectoryData::default(), vocabulary, geography, today);
    let ctx = ImportContext {
        vocabulary,
        geography,
        organisations: &ids,
        directory: &empty,
    };
    let members = check_members_csv(members_csv, &ctx);
    if !members.errors.is_empty() || !members.fatal.is_empty() {
        return Err(format!("{:?} {:?}", members.fatal, members.errors));
    }
    let data = DirectoryData {
        members: members
            .valid
            .into_iter()
            .enumerate()
            .map(|(i, mut m)| {
                m.id = i as i64 + 1;
                m
            })
            .collect(),
        organisations,
        ..Default::default()
    };
    Ok(Directory::build(data, vocabulary, geography, today))
}
