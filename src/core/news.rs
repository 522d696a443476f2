//! News drafts: what the team relays to the social networks, from proposal to published posts.
//! A draft is proposed (a chat line "actu : …", a list mail tagged [NEWS], a watched feed),
//! previewed per network, then approved, scheduled, edited or rejected by the core team; only
//! an approved draft reaches the outbox, one row per network. No I/O here.

use super::lang::Lang;
use super::social::entities::Entity;
use super::social::{self, Draft, Image, Network, Publication, PublishedPost, SocialJob};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DraftState {
    /// Waiting for the team's decision.
    Pending,
    /// Approved for a later time: its outbox rows wait until then.
    Scheduled,
    /// Approved: its outbox rows are being delivered.
    Publishing,
    /// Up on every network it was sent to.
    Published,
    Rejected,
    /// Its posts were deleted everywhere.
    Deleted,
}

impl DraftState {
    pub const ALL: [DraftState; 6] = [
        DraftState::Pending,
        DraftState::Scheduled,
        DraftState::Publishing,
        DraftState::Published,
        DraftState::Rejected,
        DraftState::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DraftState::Pending => "pending",
            DraftState::Scheduled => "scheduled",
            DraftState::Publishing => "publishing",
            DraftState::Published => "published",
            DraftState::Rejected => "rejected",
            DraftState::Deleted => "deleted",
        }
    }

    pub fn parse(text: &str) -> Option<DraftState> {
        DraftState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the text may still change and a decision is still to come (a scheduled draft
    /// can be edited, rescheduled or rejected until its time).
    pub fn open(self) -> bool {
        matches!(self, DraftState::Pending | DraftState::Scheduled)
    }
}

/// A post of a draft that is up on one network (a connector of `[social] networks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftPost {
    pub connector: String,
    pub post: PublishedPost,
}

/// A draft as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewsDraft {
    pub id: i64,
    pub state: DraftState,
    /// Where it came from: "chat", "mail" or "feed".
    pub source: String,
    /// Who proposed it (an address, a list sender, a feed's URL).
    pub author: String,
    pub text: String,
    pub content_warning: Option<String>,
    pub images: Vec<Image>,
    pub lang: Lang,
    /// Each edit or new schedule makes a new revision: its outbox rows get new keys.
    pub revision: i64,
    pub publish_at: Option<DateTime<Utc>>,
    /// The last decision: who, and when.
    pub decided_by: Option<String>,
    /// The connectors it was sent to when approved.
    pub networks: Vec<String>,
    /// Where it was proposed: a connector and a place in its terms (set by the engine).
    pub origin: Option<(String, String)>,
    pub created_at: DateTime<Utc>,
    /// What is up, per connector, in thread order.
    pub posts: Vec<DraftPost>,
}

impl NewsDraft {
    pub fn new(
        id: i64,
        source: &str,
        author: &str,
        text: &str,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> NewsDraft {
        NewsDraft {
            id,
            state: DraftState::Pending,
            source: source.to_string(),
            author: author.to_string(),
            text: text.trim().to_string(),
            content_warning: None,
            images: Vec::new(),
            lang,
            revision: 1,
            publish_at: None,
            decided_by: None,
            networks: Vec::new(),
            origin: None,
            created_at: now,
            posts: Vec::new(),
        }
    }

    pub fn formatting(&self) -> Draft {
        Draft {
            text: self.text.clone(),
            images: self.images.clone(),
            content_warning: self.content_warning.clone(),
            visibility: Default::default(),
        }
    }

    /// The outbox key of this revision's row for `connector`: approving twice, or a crash
    /// after approving, can never queue a second row.
    pub fn publication_key(&self, connector: &str) -> String {
        format!("news:{}:r{}:{connector}", self.id, self.revision)
    }

    /// The prefix every publication row of this draft shares (to cancel a scheduled one).
    pub fn key_prefix(id: i64) -> String {
        format!("news:{id}:")
    }

    /// The conversation its previews and reports share (one thread in a Matrix room).
    pub fn thread_key(id: i64) -> String {
        format!("news:{id}")
    }

    /// The connectors without posts yet, among those it was sent to.
    pub fn missing_networks(&self) -> Vec<&str> {
        self.networks
            .iter()
            .filter(|n| !self.posts.iter().any(|p| &p.connector == *n))
            .map(String::as_str)
            .collect()
    }
}

/// A network the relay publishes to: a connector name and the network it speaks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub connector: String,
    pub network: Network,
    /// Mastodon's visibility of the posts (`[social] mastodon_visibility`); ignored elsewhere.
    pub visibility: social::Visibility,
}

/// The outbox jobs publishing `draft` on each channel.
pub fn publications(draft: &NewsDraft, channels: &[Channel]) -> Vec<(String, SocialJob)> {
    channels
        .iter()
        .map(|channel| {
            let formatting = Draft {
                visibility: channel.visibility,
                ..draft.formatting()
            };
            (
                channel.connector.clone(),
                SocialJob::Publish(Publication {
                    draft: draft.id,
                    network: channel.network,
                    posts: social::format_draft(&formatting, channel.network),
                    language: Some(draft.lang.code().to_string()),
                }),
            )
        })
        .collect()
}

/// An approval: the draft as decided (publishing now, or scheduled for `at`) and the outbox
/// jobs it queues, each with its key. Approving a scheduled draft again makes a new revision,
/// so its new rows never collide with the old ones (which the caller cancels).
pub fn approve(
    draft: &NewsDraft,
    channels: &[Channel],
    by: &str,
    at: Option<DateTime<Utc>>,
) -> (NewsDraft, Vec<(String, String, SocialJob)>) {
    let mut decided = draft.clone();
    if draft.state == DraftState::Scheduled {
        decided.revision += 1;
    }
    decided.state = if at.is_some() {
        DraftState::Scheduled
    } else {
        DraftState::Publishing
    };
    decided.publish_at = at;
    decided.decided_by = Some(by.to_string());
    decided.networks = channels.iter().map(|c| c.connector.clone()).collect();
    let jobs = publications(&decided, channels)
        .into_iter()
        .map(|(connector, job)| (decided.publication_key(&connector), connector, job))
        .collect();
    (decided, jobs)
}

/// The outbox jobs deleting what is up of `draft`, per connector.
pub fn deletions(draft: &NewsDraft) -> Vec<(String, SocialJob)> {
    let mut connectors: Vec<&str> = draft.posts.iter().map(|p| p.connector.as_str()).collect();
    connectors.dedup();
    connectors
        .into_iter()
        .map(|connector| {
            let posts = draft
                .posts
                .iter()
                .filter(|p| p.connector == connector)
                .map(|p| p.post.clone())
                .collect();
            (
                connector.to_string(),
                SocialJob::Delete {
                    draft: draft.id,
                    posts,
                },
            )
        })
        .collect()
}

/// What a preview shows per network: each post's exact text, the length used against each
/// limit, and what the network will make of links, hashtags, mentions and images.
pub fn preview(draft: &NewsDraft, channels: &[Channel]) -> Vec<Value> {
    let formatting = draft.formatting();
    channels
        .iter()
        .map(|channel| {
            let posts = social::format_draft(&formatting, channel.network);
            let (mut links, mut hashtags, mut mentions) = (Vec::new(), Vec::new(), Vec::new());
            for span in social::entities::detect(&formatting.text) {
                match span.entity {
                    Entity::Link { uri } => links.push(uri),
                    Entity::Tag { tag } => hashtags.push(tag),
                    Entity::Mention { handle } => mentions.push(handle),
                }
            }
            json!({
                "connector": channel.connector,
                "network": channel.network.name(),
                "thread": posts.len() > 1,
                "fits": posts.iter().all(|p| p.measure.fits()),
                "posts": posts.iter().map(|p| json!({
                    "index": p.index,
                    "total": p.total,
                    "text": p.text,
                    "used": p.measure.used,
                    "limit": p.measure.limit,
                    "bytes": p.measure.bytes,
                    "byte_limit": p.measure.byte_limit,
                    "images": p.images.iter().map(|i| json!({"alt": i.alt})).collect::<Vec<_>>(),
                    "content_warning": p.spoiler_text,
                })).collect::<Vec<_>>(),
                "links": links,
                "hashtags": hashtags,
                "mentions": mentions,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(text: &str) -> NewsDraft {
        NewsDraft::new(
            7,
            "chat",
            "@camille:example.org",
            text,
            Lang::Fr,
            DateTime::UNIX_EPOCH,
        )
    }

    fn channels() -> Vec<Channel> {
        vec![
            Channel {
                connector: "masto".into(),
                network: Network::Mastodon,
                visibility: Default::default(),
            },
            Channel {
                connector: "bsky".into(),
                network: Network::Bluesky,
                visibility: Default::default(),
            },
            Channel {
                connector: "x".into(),
                network: Network::X,
                visibility: Default::default(),
            },
        ]
    }

    #[test]
    fn one_publication_per_channel_with_its_network_formatting() {
        let d =
            draft("Le guide des données ouvertes est en ligne https://example.org/guide #OpenData");
        let jobs = publications(&d, &channels());
        let found: Vec<(&str, Network, usize)> = jobs
            .iter()
            .map(|(connector, job)| match job {
                SocialJob::Publish(p) => (connector.as_str(), p.network, p.posts.len()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            found,
            vec![
                ("masto", Network::Mastodon, 1),
                ("bsky", Network::Bluesky, 1),
                ("x", Network::X, 1)
            ]
        );
        assert_eq!(d.publication_key("x"), "news:7:r1:x");
        // Mastodon's posts carry the channel's visibility.
        let unlisted = Channel {
            visibility: social::Visibility::Unlisted,
            ..channels()[0].clone()
        };
        match &publications(&d, &[unlisted])[0].1 {
            SocialJob::Publish(p) => {
                assert_eq!(p.posts[0].visibility, Some(social::Visibility::Unlisted))
            }
            other => panic!("{other:?}"),
        }
        assert!(
            d.publication_key("x")
                .starts_with(&NewsDraft::key_prefix(7))
        );
    }

    #[test]
    fn the_preview_shows_each_networks_count_and_the_thread() {
        let long = "Une phrase assez longue sur les données ouvertes des collectivités. ".repeat(6);
        let d = draft(&long);
        let view = preview(&d, &channels());
        // 400-odd characters: one Mastodon post, a thread on Bluesky (300) and X (280).
        let threads: Vec<bool> = view
            .iter()
            .map(|v| v["thread"].as_bool().unwrap())
            .collect();
        assert_eq!(threads, vec![false, true, true]);
        assert_eq!(view[0]["posts"][0]["limit"], 500);
        assert_eq!(view[1]["posts"][0]["limit"], 300);
        assert_eq!(view[2]["posts"][0]["limit"], 280);
        assert!(view.iter().all(|v| v["fits"] == true));
    }

    #[test]
    fn deletions_group_posts_by_connector_and_missing_networks_are_those_without_posts() {
        let mut d = draft("x");
        d.networks = vec!["masto".into(), "bsky".into()];
        let post = |connector: &str, index: usize| DraftPost {
            connector: connector.into(),
            post: PublishedPost {
                index,
                id: format!("{connector}-{index}"),
                url: format!("https://{connector}/{index}"),
            },
        };
        d.posts = vec![post("masto", 1), post("masto", 2)];
        assert_eq!(d.missing_networks(), vec!["bsky"]);
        let jobs = deletions(&d);
        assert_eq!(jobs.len(), 1);
        match &jobs[0].1 {
            SocialJob::Delete { draft, posts } => {
                assert_eq!((*draft, posts.len()), (7, 2));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn states_read_back_and_only_pending_or_scheduled_drafts_are_open() {
        for state in DraftState::ALL {
            assert_eq!(DraftState::parse(state.as_str()), Some(state));
        }
        let open: Vec<DraftState> = DraftState::ALL.into_iter().filter(|s| s.open()).collect();
        assert_eq!(open, vec![DraftState::Pending, DraftState::Scheduled]);
    }
}
