//! X (Twitter): publishes a draft's thread with X API v2 (`POST /2/tweets`, each post answering
//! the one before), its images with alt text on the first post, and deletes published posts.
//! Every call is signed with OAuth 1.0a user context (see [`api`]).
//!
//! X takes no idempotency key, so a post call whose answer never came may or may not have made
//! a post. Before each call the delivery records the attempt (which post, its text, when) in the
//! outbox row's progress; the next attempt that finds it looks for that text on the account's
//! timeline since then, adopts the post it finds, and posts again only if there is none.

pub mod api;

use super::{Connector, Registration, Setup, check_as};
use crate::core::inbound::OutboxMessage;
use crate::core::social::{Network, Post, PublishedPost, Receipt, SocialJob};
use crate::doctor::Check;
use crate::engine::{Delivered, DeliveryError, Outbound, Progress};
use api::{Account, Api, CallError, Keys, Tweet};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const REGISTRATION: Registration = Registration {
    kind: "x",
    enabled_by_default: false,
    check: check_as::<XConfig>,
    build,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct XConfig {
    pub api_url: String,
    /// The one-request media upload endpoint.
    pub upload_url: String,
    pub consumer_key_file: Option<PathBuf>,
    pub consumer_key_env: String,
    pub consumer_secret_file: Option<PathBuf>,
    pub consumer_secret_env: String,
    pub access_token_file: Option<PathBuf>,
    pub access_token_env: String,
    pub access_secret_file: Option<PathBuf>,
    pub access_secret_env: String,
    pub timeout_secs: u64,
}

impl Default for XConfig {
    fn default() -> Self {
        XConfig {
            api_url: "https://api.x.com".into(),
            upload_url: "https://api.x.com/2/media/upload".into(),
            consumer_key_file: None,
            consumer_key_env: "PASSERELLE_X_CONSUMER_KEY".into(),
            consumer_secret_file: None,
            consumer_secret_env: "PASSERELLE_X_CONSUMER_SECRET".into(),
            access_token_file: None,
            access_token_env: "PASSERELLE_X_ACCESS_TOKEN".into(),
            access_secret_file: None,
            access_secret_env: "PASSERELLE_X_ACCESS_SECRET".into(),
            timeout_secs: 30,
        }
    }
}

impl XConfig {
    /// The four keys, each from its file (relative to `bot.toml` through `resolve`) or else
    /// its environment variable.
    pub fn keys(&self, resolve: impl Fn(&std::path::Path) -> PathBuf) -> anyhow::Result<Keys> {
        let read = |file: &Option<PathBuf>, env: &str, what: &str| {
            let file = file.as_deref().map(&resolve);
            super::secret(file.as_deref(), env).map_err(|e| anyhow::anyhow!("x {what}: {e}"))
        };
        Ok(Keys {
            consumer_key: read(
                &self.consumer_key_file,
                &self.consumer_key_env,
                "consumer key",
            )?,
            consumer_secret: read(
                &self.consumer_secret_file,
                &self.consumer_secret_env,
                "consumer secret",
            )?,
            access_token: read(
                &self.access_token_file,
                &self.access_token_env,
                "access token",
            )?,
            access_secret: read(
                &self.access_secret_file,
                &self.access_secret_env,
                "access token secret",
            )?,
        })
    }
}

fn build(setup: &Setup<'_>) -> anyhow::Result<Arc<dyn Connector>> {
    let config: XConfig = setup.parse().map_err(anyhow::Error::msg)?;
    let keys = config.keys(|p| setup.config.resolve(p))?;
    Ok(Arc::new(XConnector {
        name: setup.name.to_string(),
        outbound: Arc::new(XOutbound::new(&config, keys).map_err(anyhow::Error::msg)?),
    }))
}

/// Publishes to one X account; receives nothing.
pub struct XConnector {
    name: String,
    outbound: Arc<XOutbound>,
}

#[async_trait]
impl Connector for XConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn outbound(&self) -> Option<Arc<dyn Outbound>> {
        Some(self.outbound.clone())
    }

    async fn health(&self) -> Vec<Check> {
        vec![self.outbound.health(&self.name).await]
    }
}

pub struct XOutbound {
    api: Api,
    /// The account, asked once: its username makes the posts' URLs, its id finds its timeline.
    account: tokio::sync::OnceCell<Account>,
}

/// How far a publication got, saved on the outbox row as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct XProgress {
    /// The posts that are up, in thread order.
    #[serde(default)]
    posts: Vec<PublishedPost>,
    /// A post call sent whose answer has not been recorded: if the next attempt finds it here,
    /// its outcome is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attempt: Option<Attempt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Attempt {
    index: usize,
    started: DateTime<Utc>,
    text: String,
}

/// How far before an attempt's own clock the timeline is searched: room for the difference
/// between this machine's clock and X's.
const CLOCK_MARGIN: Duration = Duration::from_secs(120);

impl XOutbound {
    pub fn new(config: &XConfig, keys: Keys) -> Result<XOutbound, String> {
        Ok(XOutbound {
            api: Api::new(
                &config.api_url,
                &config.upload_url,
                keys,
                Duration::from_secs(config.timeout_secs.max(1)),
            )?,
            account: tokio::sync::OnceCell::new(),
        })
    }

    async fn account(&self) -> Result<&Account, DeliveryError> {
        self.account
            .get_or_try_init(|| self.api.me())
            .await
            .map_err(|e| delivery_error(&e))
    }

    /// What `passerelle doctor` says: the account the keys act for, or why not.
    pub async fn health(&self, name: &str) -> Check {
        match self.api.me().await {
            Ok(account) => Check::ok(format!("{name}: @{}", account.username)),
            Err(e) => {
                let why = match delivery_error(&e) {
                    DeliveryError::Permanent(why) | DeliveryError::Transient(why) => why,
                    DeliveryError::RetryAfter { reason, .. } => reason,
                };
                Check::fail(format!("{name}: {why}"))
            }
        }
    }

    async fn publish(
        &self,
        publication: &crate::core::social::Publication,
        saved: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        if publication.network != Network::X {
            return Err(DeliveryError::Permanent(format!(
                "a {} publication cannot go to X",
                publication.network.name()
            )));
        }
        let mut state: XProgress = match saved {
            None | Some("") => XProgress::default(),
            // Starting afresh could post the thread twice.
            Some(text) => serde_json::from_str(text).map_err(|e| {
                DeliveryError::Permanent(format!("unreadable delivery progress ({e}): {text}"))
            })?,
        };
        let account = self.account().await?;
        for post in &publication.posts {
            if state.posts.iter().any(|done| done.index == post.index) {
                continue;
            }
            let reply_to = state.posts.last().map(|p| p.id.clone());
            let unknown = state.attempt.take().filter(|a| a.index == post.index);
            let found = match &unknown {
                Some(attempt) => {
                    self.find_posted(
                        account,
                        attempt,
                        reply_to.as_deref(),
                        !post.images.is_empty(),
                    )
                    .await?
                }
                None => None,
            };
            let id = match found {
                Some(id) => {
                    tracing::info!(index = post.index, id = %id, "X post whose answer was lost is up: adopted, not posted again");
                    id
                }
                None => {
                    self.post(
                        post,
                        reply_to.as_deref(),
                        unknown.as_ref(),
                        &mut state,
                        progress,
                    )
                    .await?
                }
            };
            state.attempt = None;
            state.posts.push(PublishedPost {
                index: post.index,
                url: format!("https://x.com/{}/status/{id}", account.username),
                id,
            });
            save(progress, &state).await?;
        }
        Ok(Delivered {
            receipt: Some(
                Receipt::Published {
                    draft: publication.draft,
                    network: Network::X,
                    posts: state.posts,
                }
                .to_json(),
            ),
        })
    }

    /// Uploads the post's images, records the attempt, makes the post: its id. `earlier` is
    /// an attempt at the same post whose answer was lost and that was not found on the
    /// timeline.
    async fn post(
        &self,
        post: &Post,
        reply_to: Option<&str>,
        earlier: Option<&Attempt>,
        state: &mut XProgress,
        progress: &dyn Progress,
    ) -> Result<String, DeliveryError> {
        let mut media_ids = Vec::with_capacity(post.images.len());
        for image in &post.images {
            media_ids.push(self.upload(image).await?);
        }
        state.attempt = Some(Attempt {
            index: post.index,
            // The search window must still cover the earlier attempt.
            started: earlier.map_or_else(Utc::now, |a| a.started),
            text: post.text.clone(),
        });
        save(progress, state).await?;
        match self
            .api
            .create_tweet(&post.text, reply_to, &media_ids)
            .await
        {
            Ok(id) => Ok(id),
            // The timeline had not shown the earlier post yet (X's reads lag its writes), and
            // X now refuses its twin: the attempt stays recorded and the next try finds it.
            Err(e) if earlier.is_some() && is_duplicate(&e) => Err(DeliveryError::Transient(
                format!("X says this post is already up ({e}); it is looked up again next time"),
            )),
            Err(e) => {
                // X said no to this call: nothing to look for next time, unless an earlier
                // call's post may still show up on the timeline.
                if !e.outcome_unknown() && earlier.is_none() {
                    state.attempt = None;
                    if let Err(not_saved) = save(progress, state).await {
                        tracing::warn!(error = %not_saved, "the refused attempt stays recorded: the next try looks it up first");
                    }
                }
                Err(delivery_error(&e))
            }
        }
    }

    async fn upload(&self, image: &crate::core::social::Image) -> Result<String, DeliveryError> {
        let media = crate::connectors::media::load(&image.source).await?;
        let (bytes, file_name, media_type) = (media.bytes, media.file_name, media.mime);
        self.api
            .upload_image(bytes, &file_name, media_type, &image.alt)
            .await
            .map_err(|e| delivery_error(&e))
    }

    /// The post an attempt whose answer was lost made, if it is on the account's timeline.
    async fn find_posted(
        &self,
        account: &Account,
        attempt: &Attempt,
        reply_to: Option<&str>,
        with_media: bool,
    ) -> Result<Option<String>, DeliveryError> {
        let since = attempt.started - CLOCK_MARGIN;
        let tweets = self
            .api
            .timeline_since(&account.id, since)
            .await
            .map_err(|e| {
                DeliveryError::Transient(format!(
                    "cannot check whether the post whose answer was lost is up, so it is not posted again yet: {e}"
                ))
            })?;
        Ok(tweets
            .iter()
            .find(|t| is_same_post(t, &attempt.text, reply_to, with_media))
            .map(|t| t.id.clone()))
    }

    async fn delete(&self, posts: &[PublishedPost]) -> Result<(), DeliveryError> {
        // Replies first: a thread never shows an answer to a post already gone.
        for post in posts.iter().rev() {
            match self.api.delete_tweet(&post.id).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(delivery_error(&e)),
            }
        }
        Ok(())
    }
}

async fn save(progress: &dyn Progress, state: &XProgress) -> Result<(), DeliveryError> {
    progress
        .save(&serde_json::to_string(state).expect("progress always serialises"))
        .await
}

#[async_trait]
impl Outbound for XOutbound {
    async fn deliver(
        &self,
        message: &OutboxMessage,
        progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        let job: SocialJob = serde_json::from_str(&message.body)
            .map_err(|e| DeliveryError::Permanent(format!("unreadable outbox row: {e}")))?;
        match job {
            SocialJob::Publish(publication) => {
                self.publish(&publication, message.progress.as_deref(), progress)
                    .await
            }
            SocialJob::Delete { draft, posts } => {
                self.delete(&posts).await?;
                Ok(Delivered {
                    receipt: Some(
                        Receipt::Deleted {
                            draft,
                            network: Network::X,
                        }
                        .to_json(),
                    ),
                })
            }
        }
    }
}

/// An X error in plain words, as a delivery outcome.
fn delivery_error(error: &CallError) -> DeliveryError {
    match error {
        CallError::NoAnswer(_) => DeliveryError::Transient(error.to_string()),
        CallError::Status {
            status: 429,
            problem,
            wait,
        } => DeliveryError::RetryAfter {
            after: wait.unwrap_or(Duration::from_secs(60)),
            reason: format!("X's rate limit: {problem}"),
        },
        CallError::Status {
            status: 401,
            problem,
            ..
        } => DeliveryError::Permanent(format!(
            "X refused the keys: {problem} (check the consumer key and secret and the access token and secret)"
        )),
        CallError::Status {
            status: 403,
            problem,
            ..
        } if is_duplicate(error) => DeliveryError::Permanent(format!(
            "X refuses to post a text identical to one already on the account: {problem}"
        )),
        CallError::Status {
            status: 403,
            problem,
            ..
        } if mentions_permission(problem) => DeliveryError::Permanent(format!(
            "X refused the keys for this: {problem} (the app needs Read and Write permission, and an access token made after it was given)"
        )),
        CallError::Status {
            status: 403,
            problem,
            ..
        } => DeliveryError::Permanent(format!("X refused the post: {problem}")),
        CallError::Status { status, .. } if *status >= 500 => {
            DeliveryError::Transient(error.to_string())
        }
        CallError::Status { .. } => DeliveryError::Permanent(error.to_string()),
    }
}

/// Whether a 403 is about what the keys may do (X: "Your client app is not configured with the
/// appropriate oauth1 app permissions for this endpoint.") rather than about the post.
fn mentions_permission(problem: &str) -> bool {
    let problem = problem.to_lowercase();
    problem.contains("permission") || problem.contains("oauth")
}

/// Whether X refused a post as a copy of one already on the account.
fn is_duplicate(error: &CallError) -> bool {
    matches!(error, CallError::Status { status: 403, problem, .. } if problem.to_lowercase().contains("duplicate content"))
}

/// Whether `tweet` is the post of `text` answering `reply_to`. X gives a post's text back
/// changed: every link as a t.co link, `&`, `<` and `>` as HTML entities, and a t.co link to its
/// media appended; both texts are reduced to what survives that.
fn is_same_post(tweet: &Tweet, text: &str, reply_to: Option<&str>, with_media: bool) -> bool {
    if tweet.replied_to() != reply_to {
        return false;
    }
    let ours = comparable(text);
    let theirs = comparable(&tweet.text);
    theirs == ours
        || (with_media
            && theirs
                .strip_suffix(LINK)
                .is_some_and(|rest| rest.trim_end() == ours))
}

/// What stands for a link in a [`comparable`] text.
const LINK: char = '\u{FFFC}';

/// `text` with X's three HTML entities undone, its links (as X finds them, bare domains
/// included) replaced by [`LINK`], and its ends trimmed.
fn comparable(text: &str) -> String {
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for range in crate::core::social::length::twitter_urls(&text, true) {
        out.push_str(&text[last..range.start]);
        out.push(LINK);
        last = range.end;
    }
    out.push_str(&text[last..]);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tweet(text: &str, reply_to: Option<&str>) -> Tweet {
        serde_json::from_value(serde_json::json!({
            "id": "1",
            "text": text,
            "referenced_tweets": reply_to
                .map(|id| vec![serde_json::json!({"type": "replied_to", "id": id})])
                .unwrap_or_default(),
        }))
        .unwrap()
    }

    #[test]
    fn a_post_is_recognised_in_the_text_x_gives_back() {
        let ours = "Open data day in Lyon & Villeurbanne: https://example.org/agenda?id=4 see data.gouv.fr 1/2";
        let cases = [
            // Links become t.co links, `&` an entity.
            (
                "Open data day in Lyon &amp; Villeurbanne: https://t.co/Ab12Cd34Ef see https://t.co/Zz99Yy88Xx 1/2",
                None,
                false,
                true,
            ),
            // The media link X appends, only when the post has media.
            (
                "Open data day in Lyon &amp; Villeurbanne: https://t.co/Ab12Cd34Ef see https://t.co/Zz99Yy88Xx 1/2 https://t.co/MediaLink1",
                None,
                true,
                true,
            ),
            (
                "Open data day in Lyon &amp; Villeurbanne: https://t.co/Ab12Cd34Ef see https://t.co/Zz99Yy88Xx 1/2 https://t.co/MediaLink1",
                None,
                false,
                false,
            ),
            // Another text, or the same text answering another post, is another post.
            (
                "Open data day in Lyon: https://t.co/Ab12Cd34Ef see https://t.co/Zz99Yy88Xx 1/2",
                None,
                false,
                false,
            ),
            (
                "Open data day in Lyon &amp; Villeurbanne: https://t.co/Ab12Cd34Ef see https://t.co/Zz99Yy88Xx 1/2",
                Some("77"),
                false,
                false,
            ),
        ];
        for (theirs, replied_to, with_media, same) in cases {
            assert_eq!(
                is_same_post(&tweet(theirs, replied_to), ours, None, with_media),
                same,
                "{theirs}"
            );
        }
        assert!(is_same_post(
            &tweet("Merci &lt;3 https://t.co/x 2/2", Some("77")),
            "Merci <3 https://example.org 2/2",
            Some("77"),
            false
        ));
    }

    #[test]
    fn errors_are_said_in_plain_words() {
        let status = |status: u16, problem: &str| CallError::Status {
            status,
            problem: problem.into(),
            wait: (status == 429).then(|| Duration::from_secs(42)),
        };
        let permanent = |e: DeliveryError| match e {
            DeliveryError::Permanent(text) => text,
            other => panic!("{other:?}"),
        };
        assert!(
            permanent(delivery_error(&status(401, "Unauthorized")))
                .starts_with("X refused the keys: Unauthorized")
        );
        assert!(
            permanent(delivery_error(&status(
                403,
                "You are not allowed to create a Tweet with duplicate content."
            )))
            .contains("identical to one already on the account")
        );
        assert!(
            permanent(delivery_error(&status(
                403,
                "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint."
            )))
            .starts_with("X refused the keys for this")
        );
        assert!(
            permanent(delivery_error(&status(
                403,
                "You attempted to reply to a Tweet that is deleted or not visible to you."
            )))
            .starts_with("X refused the post: You attempted to reply")
        );
        assert!(matches!(
            delivery_error(&status(429, "Too Many Requests")),
            DeliveryError::RetryAfter { after, .. } if after == Duration::from_secs(42)
        ));
        assert!(matches!(
            delivery_error(&status(503, "Service Unavailable")),
            DeliveryError::Transient(_)
        ));
        assert!(matches!(
            delivery_error(&CallError::NoAnswer("timed out".into())),
            DeliveryError::Transient(_)
        ));
        assert!(matches!(
            delivery_error(&status(400, "Invalid Request")),
            DeliveryError::Permanent(_)
        ));
    }

    #[test]
    fn the_section_denies_unknown_keys_and_has_defaults() {
        let section: toml::Table = toml::from_str("timeout_secs = 5\n").unwrap();
        let config: XConfig = super::super::parse_section(&section).unwrap();
        assert_eq!(config.api_url, "https://api.x.com");
        assert_eq!(config.upload_url, "https://api.x.com/2/media/upload");
        assert_eq!(config.access_secret_env, "PASSERELLE_X_ACCESS_SECRET");
        assert_eq!(config.timeout_secs, 5);
        let section: toml::Table = toml::from_str("consumer_key = \"abc\"\n").unwrap();
        assert!(
            super::super::parse_section::<XConfig>(&section)
                .unwrap_err()
                .contains("unknown field `consumer_key`")
        );
    }
}
