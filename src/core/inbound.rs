//! What connectors hand to the engine and what the engine hands back: an inbound item with its
//! key and sender, where its answer goes, and the outbox rows that carry answers out. Typed here,
//! in the core, so a channel never has to pass meaning through a bare string.

use super::address::Address;
use super::directory::Role;
use super::lang::Lang;
use chrono::{DateTime, Utc};
use std::fmt;

/// Identifies an inbound item across deliveries: a second item with the same key is a no-op.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InboundKey {
    pub source: String,
    pub external_id: String,
}

impl InboundKey {
    pub fn new(source: impl Into<String>, external_id: impl Into<String>) -> Self {
        InboundKey {
            source: source.into(),
            external_id: external_id.into(),
        }
    }

    /// `source:id`, the reference given to people and written in the logs.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.source, self.external_id)
    }
}

/// Where an answer goes, in the terms of the connector that delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyTo {
    /// The console's standard output.
    Console,
    /// A mail to this address.
    Mail { address: String },
    /// A Matrix room, inside the thread rooted at `thread` when there is one. `room` may be a
    /// user id (`@camille:example.org`): the direct chat with that user.
    Matrix {
        room: String,
        thread: Option<String>,
    },
    /// Under a post of a social network (`mastodon` status id, Bluesky `at://` URI, X post id).
    Social { network: String, post: String },
    /// Anything else, in the connector's own words: a new channel needs no change here.
    Native(String),
}

impl ReplyTo {
    /// The outbox row's `target` column.
    pub fn target(&self) -> String {
        self.to_string()
    }

    /// Reads a `target` back; text in no known form is [`ReplyTo::Native`].
    pub fn from_target(target: &str) -> ReplyTo {
        if target == "stdout" {
            return ReplyTo::Console;
        }
        if let Some(address) = target.strip_prefix("mailto:") {
            return ReplyTo::Mail {
                address: address.to_string(),
            };
        }
        if let Some(rest) = target.strip_prefix("matrix:") {
            // Room ids hold no '/', event ids start with '$'.
            return match rest.split_once('/') {
                Some((room, thread)) => ReplyTo::Matrix {
                    room: room.to_string(),
                    thread: Some(thread.to_string()),
                },
                None => ReplyTo::Matrix {
                    room: rest.to_string(),
                    thread: None,
                },
            };
        }
        if let Some((network, post)) = target
            .strip_prefix("social:")
            .and_then(|rest| rest.split_once('/'))
        {
            return ReplyTo::Social {
                network: network.to_string(),
                post: post.to_string(),
            };
        }
        ReplyTo::Native(target.to_string())
    }
}

impl fmt::Display for ReplyTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyTo::Console => f.write_str("stdout"),
            ReplyTo::Mail { address } => write!(f, "mailto:{address}"),
            ReplyTo::Matrix { room, thread: None } => write!(f, "matrix:{room}"),
            ReplyTo::Matrix {
                room,
                thread: Some(thread),
            } => write!(f, "matrix:{room}/{thread}"),
            ReplyTo::Social { network, post } => write!(f, "social:{network}/{post}"),
            ReplyTo::Native(target) => f.write_str(target),
        }
    }
}

/// Something a connector received: a chat line, a command, a message in a room.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub key: InboundKey,
    /// The connector (its name in `bot.toml`) that delivers the answer.
    pub connector: String,
    pub reply_to: ReplyTo,
    pub sender: Address,
    pub text: String,
    /// A language the sender explicitly asked for.
    pub lang: Option<Lang>,
    /// A role the channel itself vouches for (a member's power level in one of the network's
    /// own rooms); the engine takes the highest of it, the directory's and the config lists'.
    pub vouched_role: Option<Role>,
    /// The ticket whose thread it was written in (a Matrix room keeps one per ticket): there a
    /// plain message is a note on the ticket and "réponse : …" writes to its requester.
    pub ticket: Option<i64>,
}

/// A message to send, written to the outbox with the changes that caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub idempotency_key: String,
    pub connector: String,
    pub target: String,
    pub body: String,
    /// The ticket it is about, if any (a channel may keep one thread per ticket).
    pub ticket: Option<i64>,
    /// The conversation it belongs to otherwise (an email thread of the mailing list): a
    /// channel may keep one thread per conversation.
    pub thread_key: Option<String>,
    /// Not delivered before then (a scheduled post); at once when none.
    pub not_before: Option<DateTime<Utc>>,
}

/// An outbox row, as a connector's outbound side receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub id: i64,
    pub idempotency_key: String,
    pub connector: String,
    pub target: String,
    pub body: String,
    /// Attempts so far, including the one this claim is for.
    pub attempts: i32,
    pub status: String,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Temporary failures are retried until then; set at the first failure.
    pub retry_until: Option<DateTime<Utc>>,
    /// The ticket it is about, if any.
    pub ticket: Option<i64>,
    /// The conversation it belongs to, if any (see [`NewMessage::thread_key`]).
    pub thread_key: Option<String>,
    /// How far earlier attempts got, as their connector recorded it (see
    /// `engine::outbox::Progress`).
    pub progress: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_targets_read_back_as_written() {
        let cases = [
            (ReplyTo::Console, "stdout"),
            (
                ReplyTo::Mail {
                    address: "camille@example.org".into(),
                },
                "mailto:camille@example.org",
            ),
            (
                ReplyTo::Matrix {
                    room: "!abc:example.org".into(),
                    thread: None,
                },
                "matrix:!abc:example.org",
            ),
            (
                ReplyTo::Matrix {
                    room: "!abc:example.org:8448".into(),
                    thread: Some("$root-Event_1".into()),
                },
                "matrix:!abc:example.org:8448/$root-Event_1",
            ),
            (
                ReplyTo::Social {
                    network: "bluesky".into(),
                    post: "at://did:plc:x/app.bsky.feed.post/3k".into(),
                },
                "social:bluesky/at://did:plc:x/app.bsky.feed.post/3k",
            ),
            (ReplyTo::Native("room-7".into()), "room-7"),
        ];
        for (reply, target) in cases {
            assert_eq!(reply.target(), target);
            assert_eq!(ReplyTo::from_target(target), reply, "{target}");
        }
    }

    #[test]
    fn references_join_source_and_id() {
        assert_eq!(
            InboundKey::new("mail", "a@b").reference(),
            "mail:a@b".to_string()
        );
    }
}
