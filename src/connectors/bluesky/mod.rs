//! Bluesky publishing (bsky-sdk's agent over atrium's XRPC): threads of posts with their
//! facets, images and link card, and their deletion. Outbound only.
//!
//! Exactly once: each post's record key (a TID) and the very record to write are saved in the
//! row's progress before `com.atproto.repo.createRecord` is called with that key. A retry that
//! finds a key without its outcome first asks `com.atproto.repo.getRecord`: the record is there
//! (the call went through before a crash) and is adopted, or it is not and is created under the
//! same key. Either way a post is never written twice; uploaded images are saved the same way.
//! The agent logs in with an app password and refreshes its session itself on `ExpiredToken`.

mod card;
mod xrpc;

use super::{Connector, Registration, Setup, check_as};
use crate::core::inbound::OutboxMessage;
use crate::core::social::{Network, Post, PublishedPost, Receipt, SocialJob};
use crate::doctor::Check;
use crate::engine::{Delivered, DeliveryError, Outbound, Progress};
use async_trait::async_trait;
use atrium_api::types::string::{AtIdentifier, Did, Handle, Nsid, RecordKey, Tid};
use atrium_api::types::{LimitedU32, Unknown};
use atrium_api::xrpc::Error as XrpcCallError;
use bsky_sdk::BskyAgent;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OnceCell};
use xrpc::{Xrpc, delivery_error};

pub const REGISTRATION: Registration = Registration {
    kind: "bluesky",
    enabled_by_default: false,
    check: check_as::<BlueskyConfig>,
    build,
};

const POST: &str = "app.bsky.feed.post";
/// `app.bsky.embed.images` takes at most four.
const MAX_IMAGES: usize = 4;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueskyConfig {
    /// The account's PDS (or its entryway, https://bsky.social).
    #[serde(default = "default_service")]
    pub service: String,
    /// The account's handle (or its DID), as it logs in.
    pub handle: String,
    /// A file holding the app password; else `app_password_env` names the variable.
    pub app_password_file: Option<PathBuf>,
    #[serde(default = "default_password_env")]
    pub app_password_env: String,
    /// Where people read posts: the receipts' URLs are `{web_url}/profile/{handle}/post/{rkey}`.
    #[serde(default = "default_web_url")]
    pub web_url: String,
    /// How long one call to the server may take.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Whether a first post with a link and no image gets the link's card.
    #[serde(default = "default_link_cards")]
    pub link_cards: bool,
}

fn default_service() -> String {
    "https://bsky.social".into()
}

fn default_password_env() -> String {
    "PASSERELLE_BLUESKY_APP_PASSWORD".into()
}

fn default_web_url() -> String {
    "https://bsky.app".into()
}

fn default_timeout() -> u64 {
    30
}

fn default_link_cards() -> bool {
    true
}

fn build(setup: &Setup<'_>) -> anyhow::Result<Arc<dyn Connector>> {
    let mut config: BlueskyConfig = setup.parse().map_err(anyhow::Error::msg)?;
    config.app_password_file = config
        .app_password_file
        .take()
        .map(|p| setup.config.resolve(&p));
    let password = super::secret(
        config.app_password_file.as_deref(),
        &config.app_password_env,
    )?;
    Ok(Arc::new(Bluesky {
        name: setup.name.to_string(),
        outbound: Arc::new(BlueskyOutbound::new(&config, password)?),
    }))
}

/// Publishes to one Bluesky account; receives nothing.
pub struct Bluesky {
    name: String,
    outbound: Arc<BlueskyOutbound>,
}

#[async_trait]
impl Connector for Bluesky {
    fn name(&self) -> &str {
        &self.name
    }

    fn outbound(&self) -> Option<Arc<dyn Outbound>> {
        Some(self.outbound.clone())
    }

    async fn health(&self) -> Vec<Check> {
        vec![match self.outbound.check_session().await {
            Ok(session) => Check::ok(format!(
                "{}: {} ({}) on {}",
                self.name,
                session.handle,
                session.did.as_str(),
                self.outbound.service
            )),
            Err(e) => Check::fail(format!("{}: {}", self.name, reason(&e))),
        }]
    }
}

/// The words of a delivery error, without its kind.
fn reason(error: &DeliveryError) -> String {
    match error {
        DeliveryError::Transient(words) | DeliveryError::Permanent(words) => words.clone(),
        DeliveryError::RetryAfter { after, reason } => {
            format!("{reason} (retry in {} s)", after.as_secs())
        }
    }
}

/// The logged-in account.
#[derive(Debug, Clone)]
struct Session {
    did: Did,
    handle: String,
}

pub struct BlueskyOutbound {
    service: String,
    handle: String,
    password: String,
    web_url: String,
    timeout: Duration,
    /// Built on first use (bsky-sdk builds its agent asynchronously).
    agent: OnceCell<BskyAgent<Xrpc>>,
    /// One login at a time.
    login: Mutex<()>,
    /// For link cards; `None` when they are off.
    pages: Option<reqwest::Client>,
    /// This process's TID clock id, so two instances writing at the same microsecond differ.
    clock_id: LimitedU32<1023>,
    /// The time of the last TID made, in microseconds: each new one is later.
    last_tid: std::sync::Mutex<i64>,
}

/// How far a publication got, saved on the outbox row.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PublishProgress {
    /// The uploaded images' blob refs, in the first post's image order.
    #[serde(default)]
    blobs: Vec<Value>,
    /// One entry per post started, in thread order.
    #[serde(default)]
    posts: Vec<PostProgress>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PostProgress {
    rkey: String,
    /// The record exactly as written (its createdAt included), so a retry writes the same.
    record: Value,
    /// Known once the server acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    done: Option<StrongRef>,
}

/// `com.atproto.repo.strongRef`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StrongRef {
    uri: String,
    cid: String,
}

impl BlueskyOutbound {
    pub fn new(config: &BlueskyConfig, password: String) -> anyhow::Result<Self> {
        let timeout = Duration::from_secs(config.timeout_secs.max(1));
        let pages = if config.link_cards {
            Some(
                reqwest::Client::builder()
                    .timeout(card::TIMEOUT)
                    .user_agent(concat!("passerelle/", env!("CARGO_PKG_VERSION")))
                    .build()?,
            )
        } else {
            None
        };
        let clock_id = {
            use std::hash::{BuildHasher, RandomState};
            (RandomState::new().hash_one(std::process::id()) % 1024) as u32
        };
        Ok(BlueskyOutbound {
            service: config.service.trim_end_matches('/').to_string(),
            handle: config.handle.trim_start_matches('@').to_string(),
            password,
            web_url: config.web_url.trim_end_matches('/').to_string(),
            timeout,
            agent: OnceCell::new(),
            login: Mutex::new(()),
            pages,
            clock_id: LimitedU32::try_from(clock_id).expect("below 1024"),
            last_tid: std::sync::Mutex::new(0),
        })
    }

    async fn agent(&self) -> Result<&BskyAgent<Xrpc>, DeliveryError> {
        self.agent
            .get_or_try_init(|| async {
                let client = Xrpc::new(&self.service, self.timeout).map_err(|e| {
                    DeliveryError::Permanent(format!("cannot set up HTTP: {}", xrpc::chain(&e)))
                })?;
                let config = bsky_sdk::agent::config::Config {
                    endpoint: self.service.clone(),
                    ..Default::default()
                };
                bsky_sdk::agent::BskyAtpAgentBuilder::new(client)
                    .config(config)
                    .build()
                    .await
                    .map_err(|e| DeliveryError::Permanent(format!("cannot set up Bluesky: {e}")))
            })
            .await
    }

    /// The agent with a session: the one it has (refreshed by the agent when it expires), or a
    /// new one from the app password.
    async fn session(&self) -> Result<(&BskyAgent<Xrpc>, Session), DeliveryError> {
        let agent = self.agent().await?;
        let _one_login = self.login.lock().await;
        if let Some(session) = agent.get_session().await {
            return Ok((
                agent,
                Session {
                    did: session.data.did,
                    handle: session.data.handle.to_string(),
                },
            ));
        }
        match agent.login(&self.handle, &self.password).await {
            Ok(session) => Ok((
                agent,
                Session {
                    did: session.data.did.clone(),
                    handle: session.data.handle.to_string(),
                },
            )),
            Err(XrpcCallError::XrpcResponse(response))
                if matches!(response.status.as_u16(), 400 | 401) =>
            {
                Err(DeliveryError::Permanent(format!(
                    "Bluesky refused the handle or app password ({} on {}): {}",
                    self.handle,
                    self.service,
                    xrpc::server_words(&response)
                )))
            }
            Err(XrpcCallError::Authentication(_)) => Err(DeliveryError::Permanent(format!(
                "Bluesky refused the handle or app password ({} on {})",
                self.handle, self.service
            ))),
            Err(e) => Err(delivery_error("logging in", e)),
        }
    }

    /// For `doctor`: a session that the server takes now.
    async fn check_session(&self) -> Result<Session, DeliveryError> {
        let (agent, session) = self.session().await?;
        agent
            .api
            .com
            .atproto
            .server
            .get_session()
            .await
            .map_err(|e| delivery_error("checking the session", e))?;
        Ok(session)
    }

    async fn publish(
        &self,
        publication: &crate::core::social::Publication,
        saved: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        let mut state: PublishProgress = match saved {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                DeliveryError::Permanent(format!("unreadable Bluesky progress on the row: {e}"))
            })?,
            None => PublishProgress::default(),
        };
        let (agent, session) = self.session().await?;
        let repo = AtIdentifier::Did(session.did.clone());
        let mut published = Vec::with_capacity(publication.posts.len());
        for (i, post) in publication.posts.iter().enumerate() {
            let done = match state.posts.get(i) {
                Some(PostProgress {
                    done: Some(done), ..
                }) => done.clone(),
                Some(started) => {
                    // Sent before, outcome unknown: adopt the record if it is there.
                    let record = started.record.clone();
                    match self.find(agent, &repo, &started.rkey).await? {
                        Some((found, value)) if same_post(&value, &record) => {
                            self.settle(&mut state, i, found, progress).await?
                        }
                        found => {
                            // Another post holds the key (ours then never went through): a
                            // new key, saved before the call like the first.
                            if found.is_some() {
                                state.posts[i].rkey = self.tid();
                                save(progress, &state).await?;
                            }
                            let rkey = state.posts[i].rkey.clone();
                            let made = self.create(agent, &repo, &rkey, &record).await?;
                            self.settle(&mut state, i, made, progress).await?
                        }
                    }
                }
                None => {
                    if i == 0 {
                        self.upload_images(agent, post, &mut state, progress)
                            .await?;
                    }
                    let record = self.record(agent, publication, post, &state, i).await?;
                    let rkey = self.tid();
                    state.posts.push(PostProgress {
                        rkey: rkey.clone(),
                        record: record.clone(),
                        done: None,
                    });
                    save(progress, &state).await?;
                    let made = self.create(agent, &repo, &rkey, &record).await?;
                    self.settle(&mut state, i, made, progress).await?
                }
            };
            let rkey = done.uri.rsplit('/').next().unwrap_or_default();
            published.push(PublishedPost {
                index: post.index,
                url: format!("{}/profile/{}/post/{rkey}", self.web_url, session.handle),
                id: done.uri,
            });
        }
        Ok(Delivered {
            receipt: Some(
                Receipt::Published {
                    draft: publication.draft,
                    network: Network::Bluesky,
                    posts: published,
                }
                .to_json(),
            ),
        })
    }

    /// A record key for a new post: a TID of now, later than any this process made before.
    fn tid(&self) -> String {
        let mut last = self.last_tid.lock().expect("not poisoned");
        let micros = chrono::Utc::now().timestamp_micros().max(*last + 1);
        *last = micros;
        let at = chrono::DateTime::from_timestamp_micros(micros).expect("a time of now");
        Tid::from_datetime(self.clock_id, at).as_str().to_string()
    }

    /// Records post `i` as acknowledged; its record is not needed any more (a smaller row).
    async fn settle(
        &self,
        state: &mut PublishProgress,
        i: usize,
        done: StrongRef,
        progress: &dyn Progress,
    ) -> Result<StrongRef, DeliveryError> {
        state.posts[i].done = Some(done.clone());
        state.posts[i].record = Value::Null;
        save(progress, state).await?;
        Ok(done)
    }

    /// The record of post `i`: its text, facets (mentions resolved now), language, reply refs to
    /// the thread's first and previous posts, and the first post's images (uploaded before) or
    /// link card.
    async fn record(
        &self,
        agent: &BskyAgent<Xrpc>,
        publication: &crate::core::social::Publication,
        post: &Post,
        state: &PublishProgress,
        i: usize,
    ) -> Result<Value, DeliveryError> {
        let mut dids = HashMap::new();
        for mention in &post.mentions {
            if !dids.contains_key(&mention.handle) {
                let did = self.resolve(agent, &mention.handle).await?;
                dids.insert(mention.handle.clone(), did);
            }
        }
        let facets = post.bluesky_facets(|handle| dids.get(handle).cloned().flatten());
        let acknowledged = |j: usize| state.posts.get(j).and_then(|p| p.done.clone());
        let reply = match (i, acknowledged(0), i.checked_sub(1).and_then(acknowledged)) {
            (0, _, _) => None,
            (_, Some(root), Some(parent)) => Some((root, parent)),
            _ => {
                return Err(DeliveryError::Permanent(
                    "a reply was to be written before the post it answers".into(),
                ));
            }
        };
        let embed = if i > 0 {
            None
        } else if !post.images.is_empty() {
            let images: Vec<Value> = post
                .images
                .iter()
                .zip(&state.blobs)
                .map(|(image, blob)| json!({"alt": image.alt, "image": blob}))
                .collect();
            Some(json!({"$type": "app.bsky.embed.images", "images": images}))
        } else {
            self.card(&facets).await
        };
        Ok(post_record(
            post,
            &facets,
            publication.language.as_deref(),
            &chrono::Utc::now(),
            reply,
            embed,
        ))
    }

    /// Uploads the first post's images not uploaded yet, saving each blob ref as it comes so
    /// that a retry does not upload it again.
    async fn upload_images(
        &self,
        agent: &BskyAgent<Xrpc>,
        post: &Post,
        state: &mut PublishProgress,
        progress: &dyn Progress,
    ) -> Result<(), DeliveryError> {
        if post.images.len() > MAX_IMAGES {
            return Err(DeliveryError::Permanent(format!(
                "Bluesky takes at most {MAX_IMAGES} images per post, this one has {}",
                post.images.len()
            )));
        }
        for image in post.images.iter().skip(state.blobs.len()) {
            let bytes = crate::connectors::media::load(&image.source).await?.bytes;
            let blob = agent
                .api
                .com
                .atproto
                .repo
                .upload_blob(bytes)
                .await
                .map_err(|e| delivery_error("uploading an image", e))?;
            let blob = serde_json::to_value(&blob.data.blob)
                .map_err(|e| DeliveryError::Transient(format!("unexpected blob ref: {e}")))?;
            state.blobs.push(blob);
            save(progress, state).await?;
        }
        Ok(())
    }

    /// The card of the post's first link, if link cards are on and the page answers in time.
    async fn card(&self, facets: &[crate::core::social::Facet]) -> Option<Value> {
        let pages = self.pages.as_ref()?;
        let uri = facets
            .iter()
            .flat_map(|f| &f.features)
            .find_map(|f| match f {
                crate::core::social::FacetFeature::Link { uri } => Some(uri),
                _ => None,
            })?;
        card::fetch(pages, uri).await.map(|card| card.embed(uri))
    }

    /// The DID of `handle`, or `None` when it resolves to none (the mention stays plain text).
    async fn resolve(
        &self,
        agent: &BskyAgent<Xrpc>,
        handle: &str,
    ) -> Result<Option<String>, DeliveryError> {
        let Ok(parsed) = Handle::new(handle.to_string()) else {
            return Ok(None);
        };
        let result = agent
            .api
            .com
            .atproto
            .identity
            .resolve_handle(
                atrium_api::com::atproto::identity::resolve_handle::ParametersData {
                    handle: parsed,
                }
                .into(),
            )
            .await;
        match result {
            Ok(output) => Ok(Some(output.data.did.as_str().to_string())),
            Err(XrpcCallError::XrpcResponse(response)) if response.status.as_u16() == 400 => {
                Ok(None)
            }
            Err(e) => Err(delivery_error(&format!("resolving @{handle}"), e)),
        }
    }

    /// The post under `rkey` in `repo` and its record, if it is there.
    async fn find(
        &self,
        agent: &BskyAgent<Xrpc>,
        repo: &AtIdentifier,
        rkey: &str,
    ) -> Result<Option<(StrongRef, Value)>, DeliveryError> {
        let result = agent
            .api
            .com
            .atproto
            .repo
            .get_record(
                atrium_api::com::atproto::repo::get_record::ParametersData {
                    cid: None,
                    collection: collection(),
                    repo: repo.clone(),
                    rkey: record_key(rkey)?,
                }
                .into(),
            )
            .await;
        match result {
            Ok(output) => match &output.data.cid {
                Some(cid) => Ok(Some((
                    StrongRef {
                        uri: output.data.uri.clone(),
                        cid: cid.as_ref().to_string(),
                    },
                    serde_json::to_value(&output.data.value).unwrap_or_default(),
                ))),
                None => Err(DeliveryError::Transient(
                    "Bluesky gave no CID for an existing post".into(),
                )),
            },
            Err(XrpcCallError::XrpcResponse(response)) if response.status.as_u16() == 400 => {
                Ok(None)
            }
            Err(e) => Err(delivery_error("looking for a post sent before", e)),
        }
    }

    async fn create(
        &self,
        agent: &BskyAgent<Xrpc>,
        repo: &AtIdentifier,
        rkey: &str,
        record: &Value,
    ) -> Result<StrongRef, DeliveryError> {
        let record: Unknown = serde_json::from_value(record.clone())
            .map_err(|e| DeliveryError::Permanent(format!("unusable post record: {e}")))?;
        let output = agent
            .api
            .com
            .atproto
            .repo
            .create_record(
                atrium_api::com::atproto::repo::create_record::InputData {
                    collection: collection(),
                    record,
                    repo: repo.clone(),
                    rkey: Some(record_key(rkey)?),
                    swap_commit: None,
                    validate: None,
                }
                .into(),
            )
            .await
            .map_err(|e| delivery_error("the post", e))?;
        Ok(StrongRef {
            uri: output.data.uri.clone(),
            cid: output.data.cid.as_ref().to_string(),
        })
    }

    async fn delete(
        &self,
        draft: i64,
        posts: &[PublishedPost],
    ) -> Result<Delivered, DeliveryError> {
        let (agent, _) = self.session().await?;
        for post in posts {
            let (repo, collection, rkey) = parse_at_uri(&post.id).ok_or_else(|| {
                DeliveryError::Permanent(format!("not a Bluesky post URI: {}", post.id))
            })?;
            let repo = repo.parse::<AtIdentifier>().map_err(|e| {
                DeliveryError::Permanent(format!("not a Bluesky post URI: {}: {e}", post.id))
            })?;
            let collection = collection.parse::<Nsid>().map_err(|e| {
                DeliveryError::Permanent(format!("not a Bluesky post URI: {}: {e}", post.id))
            })?;
            // Deleting a record that is not there succeeds: a post already gone is fine.
            agent
                .api
                .com
                .atproto
                .repo
                .delete_record(
                    atrium_api::com::atproto::repo::delete_record::InputData {
                        collection,
                        repo,
                        rkey: record_key(rkey)?,
                        swap_commit: None,
                        swap_record: None,
                    }
                    .into(),
                )
                .await
                .map_err(|e| delivery_error("deleting a post", e))?;
        }
        Ok(Delivered {
            receipt: Some(
                Receipt::Deleted {
                    draft,
                    network: Network::Bluesky,
                }
                .to_json(),
            ),
        })
    }
}

async fn save(progress: &dyn Progress, state: &PublishProgress) -> Result<(), DeliveryError> {
    progress
        .save(&serde_json::to_string(state).expect("progress serialises"))
        .await
}

/// Whether a record found under a saved key is the one that was sent (TIDs of two processes
/// can meet; the text and the time of writing cannot).
fn same_post(found: &Value, sent: &Value) -> bool {
    found["text"] == sent["text"] && found["createdAt"] == sent["createdAt"]
}

fn collection() -> Nsid {
    POST.parse().expect("a valid NSID")
}

fn record_key(rkey: &str) -> Result<RecordKey, DeliveryError> {
    RecordKey::new(rkey.to_string())
        .map_err(|e| DeliveryError::Permanent(format!("bad record key {rkey}: {e}")))
}

/// `at://REPO/COLLECTION/RKEY` into its parts.
fn parse_at_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let mut parts = uri.strip_prefix("at://")?.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(repo), Some(collection), Some(rkey), None)
            if !repo.is_empty() && !collection.is_empty() && !rkey.is_empty() =>
        {
            Some((repo, collection, rkey))
        }
        _ => None,
    }
}

/// An `app.bsky.feed.post` record.
fn post_record(
    post: &Post,
    facets: &[crate::core::social::Facet],
    language: Option<&str>,
    created_at: &chrono::DateTime<chrono::Utc>,
    reply: Option<(StrongRef, StrongRef)>,
    embed: Option<Value>,
) -> Value {
    let mut record = json!({
        "$type": POST,
        "text": post.text,
        "createdAt": created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    if !facets.is_empty() {
        record["facets"] = serde_json::to_value(facets).expect("facets serialise");
    }
    if let Some(language) = language {
        record["langs"] = json!([language]);
    }
    if let Some((root, parent)) = reply {
        record["reply"] = json!({"root": root, "parent": parent});
    }
    if let Some(embed) = embed {
        record["embed"] = embed;
    }
    record
}

#[async_trait]
impl Outbound for BlueskyOutbound {
    async fn deliver(
        &self,
        message: &OutboxMessage,
        progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        let job: SocialJob = serde_json::from_str(&message.body)
            .map_err(|e| DeliveryError::Permanent(format!("unreadable outbox row: {e}")))?;
        match job {
            SocialJob::Publish(publication) => {
                if publication.network != Network::Bluesky {
                    return Err(DeliveryError::Permanent(format!(
                        "a {} publication sent to the Bluesky connector",
                        publication.network.name()
                    )));
                }
                self.publish(&publication, message.progress.as_deref(), progress)
                    .await
            }
            SocialJob::Delete { draft, posts } => self.delete(draft, &posts).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::social::format;

    #[test]
    fn records_carry_text_facets_language_reply_and_embed() {
        let post = &format(
            "Le guide https://example.org/données #OpenData",
            Network::Bluesky,
        )[0];
        let root = StrongRef {
            uri: "at://did:plc:abc/app.bsky.feed.post/3k2a".into(),
            cid: "bafyroot".into(),
        };
        let parent = StrongRef {
            uri: "at://did:plc:abc/app.bsky.feed.post/3k2b".into(),
            cid: "bafyparent".into(),
        };
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-29T15:45:03.5Z")
            .unwrap()
            .to_utc();
        let record = post_record(
            post,
            &post.facets,
            Some("fr"),
            &at,
            Some((root, parent)),
            None,
        );
        assert_eq!(record["$type"], "app.bsky.feed.post");
        assert_eq!(record["text"], post.text);
        assert_eq!(record["createdAt"], "2026-11-29T15:45:03.500Z");
        assert_eq!(record["langs"], json!(["fr"]));
        assert_eq!(record["reply"]["root"]["cid"], "bafyroot");
        assert_eq!(
            record["reply"]["parent"]["uri"],
            "at://did:plc:abc/app.bsky.feed.post/3k2b"
        );
        assert_eq!(
            record["facets"][0]["features"][0]["$type"],
            "app.bsky.richtext.facet#link"
        );
        assert_eq!(record["facets"][1]["features"][0]["tag"], "OpenData");
        assert!(record.get("embed").is_none());
        let bare = post_record(post, &[], None, &at, None, None);
        assert!(bare.get("facets").is_none() && bare.get("langs").is_none());
    }

    #[test]
    fn post_uris_split_into_repo_collection_and_key() {
        assert_eq!(
            parse_at_uri("at://did:plc:abc/app.bsky.feed.post/3kxyz"),
            Some(("did:plc:abc", "app.bsky.feed.post", "3kxyz"))
        );
        assert_eq!(parse_at_uri("at://did:plc:abc/app.bsky.feed.post"), None);
        assert_eq!(parse_at_uri("https://bsky.app/profile/a/post/b"), None);
    }

    #[test]
    fn the_section_is_checked_and_defaults_filled() {
        let table: toml::Table = toml::from_str("handle = \"mairie.bsky.social\"").unwrap();
        let config: BlueskyConfig = super::super::parse_section(&table).unwrap();
        assert_eq!(config.service, "https://bsky.social");
        assert_eq!(config.app_password_env, "PASSERELLE_BLUESKY_APP_PASSWORD");
        assert_eq!(config.web_url, "https://bsky.app");
        assert!(config.link_cards);
        let wrong: toml::Table =
            toml::from_str("handle = \"a.bsky.social\"\npassword = \"x\"").unwrap();
        assert!(
            check_as::<BlueskyConfig>(&wrong)
                .unwrap_err()
                .contains("unknown field `password`")
        );
    }
}
