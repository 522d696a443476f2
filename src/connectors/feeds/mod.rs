//! Watched feeds (RSS 0.9–2.0, Atom, JSON Feed): each new entry becomes a news draft for the
//! core team to curate. Polled politely: each feed at most once per interval (a minute at
//! least), with conditional GETs (ETag, Last-Modified), and a feed answering 429 or 503 is left
//! alone for as long as its Retry-After asks. Each feed's state (validators, the entries it
//! listed, when it was read and how that went) is kept in the connector state under its URL, so
//! a restart neither asks too early nor proposes an entry again; the engine deduplicates each
//! entry by its key besides. One feed failing never holds up the others.

mod entry;

use super::{Connector, InboundMode, Registration, Setup};
use crate::doctor::Check;
use crate::engine::{Engine, EngineError, Handled, NewsProposal};
use crate::store::InboundKey;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{
    ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER,
};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub const REGISTRATION: Registration = Registration {
    kind: "feeds",
    enabled_by_default: false,
    check,
    build,
};

/// The shortest interval between two requests to one feed.
pub const MIN_INTERVAL_SECS: u64 = 60;
/// The longest: a feed read less than weekly is hardly watched.
pub const MAX_INTERVAL_SECS: u64 = 7 * 24 * 3600;
/// A body larger than this is not a feed worth reading (and must not fill the memory).
const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// The longest Retry-After honoured: a server asking for more is read again the next day.
const MAX_RETRY_AFTER_SECS: i64 = 24 * 3600;
/// What doctor waits for each feed at most: it reads every feed and must stay quick.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// How many feeds are read at the same time.
const PARALLEL_FEEDS: usize = 8;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedsConfig {
    /// Seconds between two reads of a feed ([`MIN_INTERVAL_SECS`] to [`MAX_INTERVAL_SECS`]).
    pub interval_secs: u64,
    /// Seconds to wait for a feed's answer, body included.
    pub timeout_secs: u64,
    pub user_agent: String,
    pub feed: Vec<FeedConfig>,
}

impl Default for FeedsConfig {
    fn default() -> Self {
        FeedsConfig {
            interval_secs: 900,
            timeout_secs: 30,
            user_agent: concat!(
                "Passerelle/",
                env!("CARGO_PKG_VERSION"),
                " (feed reader of a social relay)"
            )
            .into(),
            feed: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    pub url: String,
    /// Shown as the draft's author; the feed's own title, else its URL, when unset.
    pub name: Option<String>,
    /// Drafts from it are approved at once; by default each waits for the team.
    #[serde(default)]
    pub trusted: bool,
    /// This feed's own interval, instead of the section's.
    pub interval_secs: Option<u64>,
    /// The most drafts one read makes: the newest new entries; the others are passed over.
    #[serde(default = "default_max_items")]
    pub max_items_per_poll: usize,
}

fn default_max_items() -> usize {
    5
}

impl FeedsConfig {
    /// What the types cannot say: polite intervals, web addresses, each feed once.
    pub fn validate(&self) -> Result<(), String> {
        let intervals = MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS;
        if !intervals.contains(&self.interval_secs) {
            return Err(format!(
                "interval_secs must be between {MIN_INTERVAL_SECS} (feeds are read politely) and {MAX_INTERVAL_SECS}"
            ));
        }
        if self.timeout_secs == 0 {
            return Err("timeout_secs must be at least 1".into());
        }
        let mut urls = HashSet::new();
        for feed in &self.feed {
            let url = reqwest::Url::parse(&feed.url)
                .map_err(|e| format!("feed url '{}': {e}", feed.url))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!("feed url '{}': not an http(s) address", feed.url));
            }
            if !urls.insert(&feed.url) {
                return Err(format!("feed url '{}' is listed twice", feed.url));
            }
            if feed.interval_secs.is_some_and(|s| !intervals.contains(&s)) {
                return Err(format!(
                    "feed '{}': interval_secs must be between {MIN_INTERVAL_SECS} and {MAX_INTERVAL_SECS}",
                    feed.url
                ));
            }
            if feed.max_items_per_poll == 0 {
                return Err(format!(
                    "feed '{}': max_items_per_poll must be at least 1",
                    feed.url
                ));
            }
        }
        Ok(())
    }
}

fn check(section: &toml::Table) -> Result<(), String> {
    super::parse_section::<FeedsConfig>(section)?.validate()
}

fn build(setup: &Setup<'_>) -> anyhow::Result<Arc<dyn Connector>> {
    let config: FeedsConfig = setup.parse().map_err(anyhow::Error::msg)?;
    let mut feeds = Feeds::new(setup.name, config)?;
    feeds.store_url = Some(setup.config.store_url());
    Ok(Arc::new(feeds))
}

/// The parser: missing entry ids stay empty, so that [`entry::id`] chooses the fallback;
/// relative links are resolved against the feed's address.
fn parser(url: &str) -> feed_rs::parser::Parser {
    feed_rs::parser::Builder::new()
        .base_uri(Some(url))
        .id_generator(|_, _, _| String::new())
        .build()
}

/// What is kept of a feed between reads, as JSON in the connector state under its URL.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct FeedState {
    etag: Option<String>,
    last_modified: Option<String>,
    /// The ids the feed listed at its last successful read; None until it was first read.
    known: Option<Vec<String>>,
    last_attempt: Option<DateTime<Utc>>,
    last_success: Option<DateTime<Utc>>,
    last_error: Option<String>,
    /// Not asked again before this (the server's Retry-After).
    retry_until: Option<DateTime<Utc>>,
}

impl FeedState {
    /// When the feed may be read again, as of `now`. A clock set back holds a feed up for no
    /// longer than its interval, or the longest Retry-After.
    fn due_at(&self, interval: chrono::Duration, now: DateTime<Utc>) -> DateTime<Utc> {
        let after_interval = self.last_attempt.map(|at| at.min(now) + interval);
        let retry = self
            .retry_until
            .map(|at| at.min(now + chrono::Duration::seconds(MAX_RETRY_AFTER_SECS)));
        after_interval
            .max(retry)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// How reading one feed went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedOutcome {
    /// Not asked: its interval (or its Retry-After) has not run out.
    NotDue,
    /// 304: nothing new.
    NotModified,
    /// Read: `proposed` new drafts; `passed_over` new entries beyond the feed's
    /// `max_items_per_poll`, or all of them on the first read.
    Read { proposed: usize, passed_over: usize },
    /// It could not be read or parsed: tried again at the next interval.
    Failed(String),
}

/// One [`Feeds::poll_due`]: each feed's outcome, in the configured order, and when the next
/// feed is due.
#[derive(Debug, Clone)]
pub struct PollReport {
    pub outcomes: Vec<(String, FeedOutcome)>,
    pub next_due: Option<DateTime<Utc>>,
}

/// A feed's answer to a GET.
enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// Why a GET gave no feed.
struct FetchError {
    message: String,
    /// The server's Retry-After on a 429 or 503.
    retry_until: Option<DateTime<Utc>>,
}

/// The watched feeds of one `[connectors.NAME]` section.
pub struct Feeds {
    name: String,
    config: FeedsConfig,
    client: reqwest::Client,
    /// Where doctor finds how each feed's last read went (the connector state).
    store_url: Option<String>,
}

impl Feeds {
    pub fn new(name: &str, config: FeedsConfig) -> anyhow::Result<Feeds> {
        config.validate().map_err(anyhow::Error::msg)?;
        let client = reqwest::Client::builder()
            .user_agent(&config.user_agent)
            .timeout(Duration::from_secs(config.timeout_secs))
            .build()?;
        Ok(Feeds {
            name: name.to_string(),
            config,
            client,
            store_url: None,
        })
    }

    fn interval(&self, feed: &FeedConfig) -> chrono::Duration {
        let secs = feed.interval_secs.unwrap_or(self.config.interval_secs);
        // Checked at most a week: it fits.
        chrono::Duration::seconds(secs as i64)
    }

    /// Reads every feed that is due at `now`, several at a time, and proposes their new
    /// entries. A feed that fails is recorded and logged with its URL; only the store failing
    /// is an error.
    pub async fn poll_due(
        &self,
        engine: &Engine,
        now: DateTime<Utc>,
    ) -> Result<PollReport, EngineError> {
        // The futures are made first: a stream mapping borrowed feeds is not Send.
        let polls: Vec<_> = self
            .config
            .feed
            .iter()
            .map(|feed| self.poll_feed(engine, feed, now))
            .collect();
        let results: Vec<_> = futures::stream::iter(polls)
            .buffered(PARALLEL_FEEDS)
            .collect()
            .await;
        let mut report = PollReport {
            outcomes: Vec::new(),
            next_due: None,
        };
        for (feed, result) in self.config.feed.iter().zip(results) {
            let (outcome, due) = result?;
            report.next_due = Some(report.next_due.map_or(due, |next| next.min(due)));
            report.outcomes.push((feed.url.clone(), outcome));
        }
        Ok(report)
    }

    /// Reads one feed if it is due; returns how it went and when it is due next.
    async fn poll_feed(
        &self,
        engine: &Engine,
        feed: &FeedConfig,
        now: DateTime<Utc>,
    ) -> Result<(FeedOutcome, DateTime<Utc>), EngineError> {
        let mut state = match engine.connector_state(&self.name, &feed.url).await? {
            None => FeedState::default(),
            Some(json) => serde_json::from_str(&json).unwrap_or_else(|error| {
                tracing::warn!(feed = %feed.url, %error, "unreadable feed state: starting afresh");
                FeedState::default()
            }),
        };
        let interval = self.interval(feed);
        let due = state.due_at(interval, now);
        if due > now {
            return Ok((FeedOutcome::NotDue, due));
        }
        state.last_attempt = Some(now);
        state.retry_until = None;
        let outcome = match self.fetch(&feed.url, Some(&state), None, now).await {
            Ok(Fetched::NotModified) => FeedOutcome::NotModified,
            Ok(Fetched::Body {
                bytes,
                etag,
                last_modified,
            }) => match parser(&feed.url).parse(bytes.as_slice()) {
                Ok(parsed) => {
                    let outcome = self.propose(engine, feed, &parsed, &mut state, now).await?;
                    state.etag = etag;
                    state.last_modified = last_modified;
                    outcome
                }
                // The validators are not kept: once the feed is mended it is read in full.
                Err(error) => FeedOutcome::Failed(format!("not a feed: {error}")),
            },
            Err(error) => {
                state.retry_until = error.retry_until;
                FeedOutcome::Failed(error.message)
            }
        };
        if let FeedOutcome::Failed(error) = &outcome {
            tracing::warn!(connector = %self.name, feed = %feed.url, %error, retry_after = ?state.retry_until, "feed not read; trying again at its next interval");
            state.last_error = Some(error.clone());
        } else {
            if let FeedOutcome::Read {
                proposed,
                passed_over,
            } = outcome
            {
                tracing::info!(connector = %self.name, feed = %feed.url, proposed, passed_over, "feed read");
            }
            state.last_error = None;
            state.last_success = Some(now);
        }
        let json = serde_json::to_string(&state).expect("a feed state serialises");
        engine
            .save_connector_state(&self.name, &feed.url, &json)
            .await?;
        Ok((outcome, state.due_at(interval, now)))
    }

    /// Proposes the feed's new entries: those it did not list at its last read, newest first,
    /// at most `max_items_per_poll`. On the very first read nothing is proposed: what a feed
    /// already lists was published before it was watched, and a newly added feed must not fill
    /// the review room with its archive (feed readers that relay to social networks do the
    /// same); the team can still propose an old entry by hand. Every entry listed becomes
    /// known, so entries passed over are never proposed later.
    async fn propose(
        &self,
        engine: &Engine,
        feed: &FeedConfig,
        parsed: &feed_rs::model::Feed,
        state: &mut FeedState,
        now: DateTime<Utc>,
    ) -> Result<FeedOutcome, EngineError> {
        let mut listed = Vec::new();
        let mut seen = HashSet::new();
        for item in &parsed.entries {
            match entry::id(item) {
                Some(id) if seen.insert(id.clone()) => listed.push((id, item)),
                Some(_) => {}
                None => {
                    tracing::debug!(feed = %feed.url, "an entry with no id, link, title or date is skipped")
                }
            }
        }
        let Some(known) = state
            .known
            .replace(listed.iter().map(|(id, _)| id.clone()).collect())
        else {
            return Ok(FeedOutcome::Read {
                proposed: 0,
                passed_over: listed.len(),
            });
        };
        let known: HashSet<String> = known.into_iter().collect();
        let mut new: Vec<_> = listed
            .into_iter()
            .filter(|(id, _)| !known.contains(id))
            .collect();
        // Newest first (undated entries after, in the feed's order, which is usually newest
        // first too); the kept ones are proposed oldest first so draft numbers follow the feed.
        new.sort_by_key(|(_, item)| std::cmp::Reverse(item.published.or(item.updated)));
        let passed_over = new.len().saturating_sub(feed.max_items_per_poll);
        new.truncate(feed.max_items_per_poll);
        let author = feed
            .name
            .clone()
            .or_else(|| parsed.title.as_ref().map(|t| t.content.trim().to_string()))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| feed.url.clone());
        let mut proposed = 0;
        for (id, item) in new.into_iter().rev() {
            let Some(text) = entry::text(item) else {
                continue;
            };
            let proposal = NewsProposal {
                key: InboundKey::new("feed", format!("{}#{id}", feed.url)),
                source: "feed",
                author: author.clone(),
                text,
                trusted: feed.trusted,
            };
            let outcome = AssertUnwindSafe(engine.propose_news(&proposal, now))
                .catch_unwind()
                .await;
            // An entry that cannot become a draft is set aside (doctor lists it) rather than
            // failing the feed at every read; only the store failing waits for the next read.
            let problem = match outcome {
                Ok(Ok(Handled::Done { .. })) => {
                    proposed += 1;
                    continue;
                }
                Ok(Ok(_)) => continue,
                Ok(Err(error)) if error.is_transient() => return Err(error),
                Ok(Err(error)) => error.to_string(),
                Err(panic) => format!(
                    "proposing panicked: {}",
                    crate::panic_message(panic.as_ref())
                ),
            };
            tracing::warn!(connector = %self.name, feed = %feed.url, entry = %id, error = %problem, "feed entry quarantined");
            engine
                .quarantine(
                    &self.name,
                    &proposal.key.external_id,
                    &problem,
                    Some(&feed.url),
                )
                .await?;
        }
        Ok(FeedOutcome::Read {
            proposed,
            passed_over,
        })
    }

    /// GETs a feed, conditionally when `state` holds validators; `timeout` overrides the
    /// section's.
    async fn fetch(
        &self,
        url: &str,
        state: Option<&FeedState>,
        timeout: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<Fetched, FetchError> {
        let failed = |message: String| FetchError {
            message,
            retry_until: None,
        };
        let mut request = self.client.get(url);
        if let Some(state) = state {
            if let Some(etag) = &state.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(date) = &state.last_modified {
                request = request.header(IF_MODIFIED_SINCE, date);
            }
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| failed(super::mastodon::api::causes(&e)))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            let retry_until = matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            )
            .then(|| retry_after(response.headers(), now))
            .flatten();
            return Err(FetchError {
                message: format!("the server answered {status}"),
                retry_until,
            });
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(super::mastodon::api::causes(&e)))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_BODY_BYTES {
                return Err(failed(format!(
                    "more than {} MiB: not read",
                    MAX_BODY_BYTES >> 20
                )));
            }
        }
        Ok(Fetched::Body {
            bytes,
            etag,
            last_modified,
        })
    }

    /// The saved state of each feed, for doctor: empty when the store cannot be read (doctor
    /// reports the store itself).
    async fn saved_states(&self) -> HashMap<String, FeedState> {
        let mut states = HashMap::new();
        let Some(url) = &self.store_url else {
            return states;
        };
        let Ok(store) = crate::store::open(url, 1).await else {
            return states;
        };
        for feed in &self.config.feed {
            if let Ok(Some(json)) = store.connector_state(&self.name, &feed.url).await
                && let Ok(state) = serde_json::from_str(&json)
            {
                states.insert(feed.url.clone(), state);
            }
        }
        states
    }

    /// Doctor's look at one feed: how its last read went, and whether it answers and parses
    /// now (one plain GET with a short timeout, unless the server asked us to wait).
    async fn check_feed(&self, feed: &FeedConfig, saved: Option<&FeedState>) -> Check {
        let label = format!("{} feed {}", self.name, feed.url);
        let now = Utc::now();
        let mut check = match saved.and_then(|s| s.retry_until).filter(|&t| t > now) {
            Some(until) => Check::fail(format!(
                "{label}: the server asked not to be read before {} (Retry-After)",
                until.format("%Y-%m-%d %H:%M:%S UTC")
            )),
            None => match self.fetch(&feed.url, None, Some(HEALTH_TIMEOUT), now).await {
                Ok(Fetched::Body { bytes, .. }) => {
                    match parser(&feed.url).parse(bytes.as_slice()) {
                        Ok(parsed) => {
                            Check::ok(format!("{label}: {} entries", parsed.entries.len()))
                        }
                        Err(error) => Check::fail(format!("{label}: not a feed: {error}")),
                    }
                }
                // Not asked conditionally, so a 304 is the server's oddity, not a failure.
                Ok(Fetched::NotModified) => Check::ok(format!("{label}: answers (304)")),
                Err(error) => Check::fail(format!("{label}: {}", error.message)),
            },
        };
        let format = |at: DateTime<Utc>| at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        check.details.push(match saved {
            None => "not read by the bot yet".into(),
            Some(state) => match (&state.last_error, state.last_attempt) {
                (Some(error), Some(at)) => format!("last read {} failed: {error}", format(at)),
                _ => format!(
                    "last read {} worked",
                    state.last_success.map(format).unwrap_or_default()
                ),
            },
        });
        check
    }
}

/// The time a 429 or 503 asks the client to wait until: seconds or an HTTP date, capped.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let until = match value.parse::<i64>() {
        Ok(secs) => now + chrono::Duration::seconds(secs.max(0)),
        Err(_) => DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc),
    };
    Some(until.min(now + chrono::Duration::seconds(MAX_RETRY_AFTER_SECS)))
}

#[async_trait]
impl Connector for Feeds {
    fn name(&self) -> &str {
        &self.name
    }

    /// One reader for the whole deployment: several would each ask every feed.
    fn inbound_mode(&self) -> InboundMode {
        InboundMode::Leader
    }

    async fn receive(
        &self,
        engine: Arc<Engine>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        tracing::info!(connector = %self.name, feeds = self.config.feed.len(), "watching feeds");
        loop {
            let report = self.poll_due(&engine, Utc::now()).await?;
            let wait = report
                .next_due
                .and_then(|due| (due - Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_secs(self.config.interval_secs))
                .max(Duration::from_secs(1));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return Ok(());
            }
        }
    }

    async fn health(&self) -> Vec<Check> {
        let saved = self.saved_states().await;
        let checks: Vec<_> = self
            .config
            .feed
            .iter()
            .map(|feed| self.check_feed(feed, saved.get(&feed.url)))
            .collect();
        futures::stream::iter(checks)
            .buffered(PARALLEL_FEEDS)
            .collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(source: &str) -> Result<(), String> {
        check(&toml::from_str(source).unwrap())
    }

    #[test]
    fn the_section_is_checked_for_polite_intervals_addresses_and_limits() {
        assert_eq!(config(""), Ok(()));
        let one = "[[feed]]\nurl = \"https://example.org/feed.xml\"\n";
        assert_eq!(config(one), Ok(()));
        let cases = [
            ("interval_secs = 30\n", "between 60"),
            ("interval_secs = 999999999\n", "between 60"),
            ("colour = 1\n", "unknown field `colour`"),
            (
                "[[feed]]\nurl = \"ftp://example.org/f\"\n",
                "not an http(s)",
            ),
            (
                "[[feed]]\nurl = \"example.org/f\"\n",
                "feed url 'example.org/f'",
            ),
            (
                "[[feed]]\nurl = \"https://example.org/f\"\ninterval_secs = 5\n",
                "between 60",
            ),
            (
                "[[feed]]\nurl = \"https://example.org/f\"\nmax_items_per_poll = 0\n",
                "at least 1",
            ),
            (
                "[[feed]]\nurl = \"https://example.org/f\"\n[[feed]]\nurl = \"https://example.org/f\"\n",
                "listed twice",
            ),
        ];
        for (source, problem) in cases {
            let found = config(source).unwrap_err();
            assert!(found.contains(problem), "{source}: {found}");
        }
    }

    #[test]
    fn retry_after_is_read_in_seconds_or_as_a_date_and_capped() {
        let now: DateTime<Utc> = "2026-11-26T10:00:00Z".parse().unwrap();
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, value.parse().unwrap());
            retry_after(&headers, now)
        };
        assert_eq!(with("120"), Some(now + chrono::Duration::seconds(120)));
        assert_eq!(
            with("Thu, 26 Nov 2026 11:00:00 GMT"),
            Some("2026-11-26T11:00:00Z".parse().unwrap())
        );
        assert_eq!(with("999999999"), Some(now + chrono::Duration::days(1)));
        assert_eq!(with("soon"), None);
    }
}
