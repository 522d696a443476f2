//! Delivers the social relay's rows to Mastodon: a thread, post after post, each answering the
//! one before, or the deletion of a published thread.
//!
//! A delivery can stop anywhere (a crash, a lost claim, a server down) and be tried again. What
//! is up is saved on the row after every call (see [`Resume`]), so the next attempt resumes at
//! the first post not yet up, with the images already uploaded. Between a call and its save,
//! the status's `Idempotency-Key` (see [`idempotency_key`]) makes Mastodon give back the status
//! it already made instead of a second one; Mastodon keeps those keys for an hour, the saved
//! progress for good.

use super::api::{Api, NewStatus, Upload};
use crate::core::inbound::OutboxMessage;
use crate::core::social::{Network, Post, Publication, PublishedPost, Receipt, SocialJob};
use crate::engine::{Delivered, DeliveryError, Outbound, Progress};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The status's `Idempotency-Key`: the row's key, when the row was made, and the post's place
/// in the thread. Row keys are unique in one store only ("news:1:r1:…" again in a new store, or
/// in a second bot posting to the same account); with the row's creation time, a key Mastodon
/// still remembers can never hand back another bot's or another draft's status.
pub fn idempotency_key(message: &OutboxMessage, index: usize) -> String {
    format!(
        "{}:{}:{index}",
        message.idempotency_key,
        message.created_at.timestamp_micros()
    )
}

/// How long an image may stay "processing" on the server before the attempt gives up (the
/// next one polls the same upload again).
const MEDIA_READY_WITHIN: Duration = Duration::from_secs(60);
const MEDIA_POLL_EVERY: Duration = Duration::from_millis(500);

pub struct MastodonOutbound {
    api: Api,
}

/// How far a publication got, saved on the outbox row as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Resume {
    /// The first post's images uploaded so far, in the post's order.
    #[serde(default)]
    media: Vec<UploadedMedia>,
    /// The posts up, in thread order.
    #[serde(default)]
    posts: Vec<PublishedPost>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UploadedMedia {
    id: String,
    /// Processed by the server: it can be attached (an unprocessed one gets a 422).
    ready: bool,
}

impl MastodonOutbound {
    pub fn new(base_url: &str, token: String, timeout: Duration) -> Result<Self, String> {
        Ok(MastodonOutbound {
            api: Api::new(base_url, token, timeout)?,
        })
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    async fn publish(
        &self,
        message: &OutboxMessage,
        publication: &Publication,
        progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        if publication.network != Network::Mastodon {
            return Err(DeliveryError::Permanent(format!(
                "a {} publication reached the Mastodon connector",
                publication.network.name()
            )));
        }
        let mut resume: Resume = match &message.progress {
            None => Resume::default(),
            // Starting over could post twice once the idempotency keys have expired.
            Some(saved) => serde_json::from_str(saved).map_err(|e| {
                DeliveryError::Permanent(format!("unreadable progress on the outbox row: {e}"))
            })?,
        };
        for post in &publication.posts {
            if resume.posts.iter().any(|up| up.index == post.index) {
                continue;
            }
            let media_ids = self.upload_images(post, &mut resume, progress).await?;
            let what = format!("publishing post {}/{}", post.index, post.total);
            let status = self
                .api
                .post_status(
                    &what,
                    &idempotency_key(message, post.index),
                    &NewStatus {
                        status: &post.text,
                        in_reply_to_id: resume.posts.last().map(|up| up.id.as_str()),
                        spoiler_text: post.spoiler_text.as_deref(),
                        visibility: post.visibility,
                        language: publication.language.as_deref(),
                        media_ids,
                    },
                )
                .await?;
            resume.posts.push(PublishedPost {
                index: post.index,
                url: status.url.unwrap_or(status.uri),
                id: status.id,
            });
            save(progress, &resume).await?;
        }
        Ok(Delivered {
            receipt: Some(
                Receipt::Published {
                    draft: publication.draft,
                    network: Network::Mastodon,
                    posts: resume.posts,
                }
                .to_json(),
            ),
        })
    }

    /// The media ids for a post's images, each uploaded once across attempts and processed.
    async fn upload_images(
        &self,
        post: &Post,
        resume: &mut Resume,
        progress: &dyn Progress,
    ) -> Result<Vec<String>, DeliveryError> {
        for (i, image) in post.images.iter().enumerate() {
            let what = format!("uploading image {} ({})", i + 1, image.source);
            if resume.media.len() <= i {
                // A crash before this save uploads the image again on the retry (media uploads
                // take no Idempotency-Key); Mastodon removes the unattached copy after a day.
                let media = crate::connectors::media::load(&image.source).await?;
                let upload = Upload {
                    bytes: media.bytes,
                    file_name: &media.file_name,
                    mime: media.mime,
                    description: &image.alt,
                };
                let (attachment, processing) = self.api.upload_media(&what, upload).await?;
                resume.media.push(UploadedMedia {
                    id: attachment.id,
                    ready: !processing && attachment.url.is_some(),
                });
                save(progress, resume).await?;
            }
            if !resume.media[i].ready {
                self.wait_processed(&what, &resume.media[i].id).await?;
                resume.media[i].ready = true;
                save(progress, resume).await?;
            }
        }
        // Only the first post has images: the later ones attach nothing.
        Ok(resume
            .media
            .iter()
            .take(post.images.len())
            .map(|m| m.id.clone())
            .collect())
    }

    /// Polls an upload the server answered 202 for until it has its URL.
    async fn wait_processed(&self, what: &str, id: &str) -> Result<(), DeliveryError> {
        let started = tokio::time::Instant::now();
        loop {
            if self.api.media(what, id).await?.url.is_some() {
                return Ok(());
            }
            if started.elapsed() >= MEDIA_READY_WITHIN {
                return Err(DeliveryError::Transient(format!(
                    "{what}: Mastodon is still processing it after {} s",
                    MEDIA_READY_WITHIN.as_secs()
                )));
            }
            tokio::time::sleep(MEDIA_POLL_EVERY).await;
        }
    }

    /// Deletes the posts, last first, so no reply is left without the post it answers;
    /// a post already gone counts as deleted, so a retry simply goes through them again.
    async fn delete(
        &self,
        draft: i64,
        posts: &[PublishedPost],
    ) -> Result<Delivered, DeliveryError> {
        for post in posts.iter().rev() {
            let what = format!("deleting post {} ({})", post.index, post.url);
            self.api.delete_status(&what, &post.id).await?;
        }
        Ok(Delivered {
            receipt: Some(
                Receipt::Deleted {
                    draft,
                    network: Network::Mastodon,
                }
                .to_json(),
            ),
        })
    }
}

async fn save(progress: &dyn Progress, resume: &Resume) -> Result<(), DeliveryError> {
    progress
        .save(&serde_json::to_string(resume).expect("progress always serialises"))
        .await
}

/// A failure's own words, without the retry class (for `doctor`).
pub fn reason(error: &DeliveryError) -> &str {
    match error {
        DeliveryError::Transient(reason)
        | DeliveryError::Permanent(reason)
        | DeliveryError::RetryAfter { reason, .. } => reason,
    }
}

#[async_trait]
impl Outbound for MastodonOutbound {
    async fn deliver(
        &self,
        message: &OutboxMessage,
        progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        let job: SocialJob = serde_json::from_str(&message.body)
            .map_err(|e| DeliveryError::Permanent(format!("unreadable outbox row: {e}")))?;
        match &job {
            SocialJob::Publish(publication) => self.publish(message, publication, progress).await,
            SocialJob::Delete { draft, posts } => self.delete(*draft, posts).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, created_at: &str) -> OutboxMessage {
        OutboxMessage {
            id: 1,
            idempotency_key: key.into(),
            connector: "mastodon".into(),
            target: "social:mastodon".into(),
            body: String::new(),
            attempts: 1,
            status: "pending".into(),
            last_error: None,
            created_at: created_at.parse().unwrap(),
            retry_until: None,
            ticket: None,
            thread_key: None,
            progress: None,
        }
    }

    #[test]
    fn idempotency_keys_are_the_rows_own_even_when_another_store_reuses_its_key() {
        let a = row("news:1:r1:mastodon", "2026-11-29T10:00:00.000001Z");
        // The same row read again after a crash: the same key.
        assert_eq!(idempotency_key(&a, 1), idempotency_key(&a.clone(), 1));
        // Another post of its thread, and draft 1 of a new store or a second bot: other keys.
        let b = row("news:1:r1:mastodon", "2026-11-29T10:20:00Z");
        assert_ne!(idempotency_key(&a, 1), idempotency_key(&a, 2));
        assert_ne!(idempotency_key(&a, 1), idempotency_key(&b, 1));
    }
}
