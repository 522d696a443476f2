//! Bluesky rich text: the `app.bsky.richtext.facet` lexicon as Rust types.
//!
//! Lexicon (atproto `lexicons/app/bsky/richtext/facet.json`):
//! `main = { index: byteSlice, features: [mention | link | tag] }`,
//! `byteSlice = { byteStart, byteEnd }` (UTF-8 bytes, start inclusive, end exclusive),
//! `mention = { did }`, `link = { uri }`, `tag = { tag }` (tag without `#`, at most 64
//! graphemes and 640 bytes). Each feature carries its `$type`, e.g.
//! `"app.bsky.richtext.facet#link"`.
//!
//! A mention needs a DID, which only the network can give: the core returns
//! [`PendingMention`]s with the handle, and the connector resolves them
//! (`com.atproto.identity.resolveHandle`) before building the record.

use serde::{Deserialize, Serialize};

use super::entities::{self, Entity, ShortLink};

/// `app.bsky.richtext.facet#byteSlice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteSlice {
    #[serde(rename = "byteStart")]
    pub byte_start: usize,
    #[serde(rename = "byteEnd")]
    pub byte_end: usize,
}

/// One feature of a facet, tagged with its lexicon `$type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "$type")]
pub enum FacetFeature {
    #[serde(rename = "app.bsky.richtext.facet#mention")]
    Mention { did: String },
    #[serde(rename = "app.bsky.richtext.facet#link")]
    Link { uri: String },
    #[serde(rename = "app.bsky.richtext.facet#tag")]
    Tag { tag: String },
}

/// `app.bsky.richtext.facet` (main).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facet {
    pub index: ByteSlice,
    pub features: Vec<FacetFeature>,
}

/// A mention found in the text, waiting for its handle to be resolved to a DID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMention {
    pub index: ByteSlice,
    /// The handle without `@`, e.g. `opendata.bsky.social`.
    pub handle: String,
}

/// The link and tag facets of a post's text, and its mentions to resolve. `short` lists the
/// links shortened for display (in text order, possibly starting in an earlier post of the
/// thread): a link whose text is the next one's display text gets its full URI, and is taken
/// off the list.
pub fn detect_with(text: &str, short: &mut &[ShortLink]) -> (Vec<Facet>, Vec<PendingMention>) {
    let mut facets = Vec::new();
    let mut mentions = Vec::new();
    for span in entities::detect(text) {
        let index = ByteSlice {
            byte_start: span.range.start,
            byte_end: span.range.end,
        };
        match span.entity {
            Entity::Link { mut uri } => {
                if let Some((first, rest)) = short.split_first()
                    && first.display == text[span.range.clone()]
                {
                    uri = first.uri.clone();
                    *short = rest;
                }
                facets.push(Facet {
                    index,
                    features: vec![FacetFeature::Link { uri }],
                });
            }
            Entity::Tag { tag } => facets.push(Facet {
                index,
                features: vec![FacetFeature::Tag { tag }],
            }),
            Entity::Mention { handle } => mentions.push(PendingMention { index, handle }),
        }
    }
    (facets, mentions)
}

/// The facets of a text whose links are written in full.
pub fn detect(text: &str) -> (Vec<Facet>, Vec<PendingMention>) {
    detect_with(text, &mut &[][..])
}
