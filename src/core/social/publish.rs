//! What travels between the engine and the social connectors: the body of an outbox row (a
//! thread to publish, or posts to delete) and the receipt a connector gives back (each post's
//! id and public URL), reported in the draft's room thread.

use super::{Network, Post};
use serde::{Deserialize, Serialize};

/// The body of a social connector's outbox row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum SocialJob {
    /// Publish a draft's thread on the row's network, in order, each post answering the one
    /// before it.
    Publish(Publication),
    /// Delete the posts of an earlier publication.
    Delete {
        draft: i64,
        posts: Vec<PublishedPost>,
    },
}

impl SocialJob {
    pub fn draft(&self) -> i64 {
        match self {
            SocialJob::Publish(publication) => publication.draft,
            SocialJob::Delete { draft, .. } => *draft,
        }
    }
}

/// One draft formatted for one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    pub draft: i64,
    pub network: Network,
    /// The thread, first post first (one post when the text fits).
    pub posts: Vec<Post>,
    /// The text's language as a BCP 47 tag ("fr", "en"): Mastodon's `language`, Bluesky's
    /// `langs`.
    pub language: Option<String>,
}

/// A post that is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPost {
    /// 1-based position in the thread.
    pub index: usize,
    /// The network's id: a Mastodon status id, a Bluesky `at://` URI, an X post id.
    pub id: String,
    /// Where people read it.
    pub url: String,
}

/// What a social connector reports once a row is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Receipt {
    /// Every post of the thread is up, in thread order.
    Published {
        draft: i64,
        network: Network,
        posts: Vec<PublishedPost>,
    },
    /// The posts are gone (or were already).
    Deleted { draft: i64, network: Network },
}

impl Receipt {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a receipt always serialises")
    }
}
