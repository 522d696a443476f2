//! The pure core of the social relay: a news draft formatted exactly as Mastodon, Bluesky and X
//! will count and show it. No I/O: the connectors publish what [`format`] returns.
//!
//! - [`length`]: each network's counting rule, exact (sources cited there).
//! - [`entities`]: links, mentions and hashtags as Bluesky detects them (byte offsets).
//! - [`facets`]: the `app.bsky.richtext.facet` structures, serialisable to the lexicon's JSON.
//! - [`split`]: a text too long for a network becomes a numbered thread, cut at sentence
//!   boundaries, never inside a link, a mention, a hashtag or a word.
//!
//! The text is put in Unicode NFC first, so what is measured is what is posted (X counts the NFC
//! form anyway; Bluesky's byte limit and facet offsets are then those of the posted bytes).

pub mod entities;
pub mod facets;
pub mod length;
pub mod publish;
pub mod split;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

pub use facets::{ByteSlice, Facet, FacetFeature, PendingMention};
pub use length::Measure;
pub use publish::{Publication, PublishedPost, Receipt, SocialJob};

/// A social network the relay publishes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Mastodon,
    Bluesky,
    X,
}

impl Network {
    pub const ALL: [Network; 3] = [Network::Mastodon, Network::Bluesky, Network::X];

    pub fn name(self) -> &'static str {
        match self {
            Network::Mastodon => "Mastodon",
            Network::Bluesky => "Bluesky",
            Network::X => "X",
        }
    }
}

/// Mastodon's visibility of a status (`visibility` of `POST /api/v1/statuses`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Public,
    Unlisted,
    Private,
    Direct,
}

/// An image attached to a draft: it goes with the first post of a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Where the connector finds the bytes (a path or a stored media id); opaque here.
    pub source: String,
    /// Alternative text, posted as Mastodon's `description`, Bluesky's `alt` and X's alt text.
    pub alt: String,
}

/// What the team approved, reduced to what formatting needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Draft {
    pub text: String,
    pub images: Vec<Image>,
    /// Mastodon's content warning (`spoiler_text`); it counts in Mastodon's 500 characters and is
    /// repeated on every post of a thread.
    pub content_warning: Option<String>,
    pub visibility: Visibility,
}

impl Draft {
    pub fn new(text: impl Into<String>) -> Draft {
        Draft {
            text: text.into(),
            ..Draft::default()
        }
    }
}

/// One post as it will be published, with what it uses of the network's limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub network: Network,
    /// 1-based position in the thread.
    pub index: usize,
    /// Number of posts in the thread (1 when the text fits).
    pub total: usize,
    /// The exact text to post, numbering suffix included.
    pub text: String,
    pub measure: Measure,
    /// Bluesky: link and hashtag facets at UTF-8 byte offsets of `text`. Empty elsewhere.
    pub facets: Vec<Facet>,
    /// Bluesky: `@handle` mentions, whose DID the connector resolves (see
    /// [`Post::bluesky_facets`]). Empty elsewhere.
    pub mentions: Vec<PendingMention>,
    /// Images with their alt text: on the first post only.
    pub images: Vec<Image>,
    /// Mastodon: the content warning, on every post of the thread.
    pub spoiler_text: Option<String>,
    /// Mastodon: the visibility, on every post of the thread.
    pub visibility: Option<Visibility>,
}

impl Post {
    /// All facets of a Bluesky post in text order, mentions included once their handle is
    /// resolved to a DID by `resolve`; a handle that does not resolve stays plain text, as the
    /// Bluesky app does.
    pub fn bluesky_facets(&self, mut resolve: impl FnMut(&str) -> Option<String>) -> Vec<Facet> {
        let mut all = self.facets.clone();
        for mention in &self.mentions {
            if let Some(did) = resolve(&mention.handle) {
                all.push(Facet {
                    index: mention.index,
                    features: vec![FacetFeature::Mention { did }],
                });
            }
        }
        all.sort_by_key(|f| (f.index.byte_start, f.index.byte_end));
        all
    }
}

/// Formats a plain text for one network: see [`format_draft`].
pub fn format(draft_text: &str, network: Network) -> Vec<Post> {
    format_draft(&Draft::new(draft_text), network)
}

/// Formats a draft for one network: one post if it fits, else a numbered thread ("1/3" at the
/// end of each post, counted in its length). Images go with the first post.
pub fn format_draft(draft: &Draft, network: Network) -> Vec<Post> {
    let text: String = draft.text.nfc().collect();
    let spoiler: Option<String> = draft
        .content_warning
        .as_deref()
        .map(|cw| cw.trim().nfc().collect::<String>())
        .filter(|cw| !cw.is_empty());
    let (text, short_links) = match network {
        Network::Bluesky => entities::shorten_links_for_display(&text),
        _ => (text, Vec::new()),
    };
    let protected = entities::protected_spans(&text);
    let cw = spoiler.as_deref().unwrap_or("");
    let measure = |candidate: &str| match network {
        Network::Mastodon => length::mastodon(candidate, cw),
        Network::Bluesky => length::bluesky(candidate),
        Network::X => length::x(candidate),
    };
    let texts = split::split_thread(&text, &protected, |candidate| measure(candidate).fits());
    let total = texts.len();
    let mastodon = network == Network::Mastodon;
    let mut short_links: &[entities::ShortLink] = &short_links;
    let mut posts = Vec::with_capacity(total);
    for (i, text) in texts.into_iter().enumerate() {
        let (facets, mentions) = if network == Network::Bluesky {
            facets::detect_with(&text, &mut short_links)
        } else {
            (Vec::new(), Vec::new())
        };
        posts.push(Post {
            network,
            index: i + 1,
            total,
            measure: measure(&text),
            facets,
            mentions,
            images: if i == 0 {
                draft.images.clone()
            } else {
                Vec::new()
            },
            spoiler_text: if mastodon { spoiler.clone() } else { None },
            visibility: mastodon.then_some(draft.visibility),
            text,
        });
    }
    posts
}

#[cfg(test)]
mod tests;
