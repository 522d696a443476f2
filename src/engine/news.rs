//! What comes back from the social networks: receipts of published or deleted posts, and
//! failures, recorded on the draft and told in its review thread.

use super::{Engine, EngineError};
use crate::core::actions::{Action, Change, Prompt};
use crate::core::inbound::{InboundKey, OutboxMessage};
use crate::core::social::{Receipt, SocialJob};
use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;

/// A news item that did not come from a chat command: a list mail tagged [NEWS], a watched
/// feed's new entry.
#[derive(Debug, Clone)]
pub struct NewsProposal {
    /// Deduplicates the item: the same key twice makes one draft.
    pub key: InboundKey,
    /// "mail" or "feed".
    pub source: &'static str,
    /// Who sent it, or the feed's address.
    pub author: String,
    pub text: String,
    /// Published without waiting for the team (a feed configured as trusted).
    pub trusted: bool,
}

impl Engine {
    /// Makes a draft of `proposal` and shows its preview in the review place; a trusted one is
    /// approved at once (the team still sees the preview and the links).
    pub async fn propose_news(
        &self,
        proposal: &NewsProposal,
        now: DateTime<Utc>,
    ) -> Result<super::Handled, EngineError> {
        if self.store.is_seen(&proposal.key).await? {
            return Ok(super::Handled::Duplicate);
        }
        let id = self.store.allocate_draft_id().await?;
        let lang = crate::core::lang::detect(&proposal.text).unwrap_or(self.settings.default_lang);
        let mut draft = crate::core::news::NewsDraft::new(
            id,
            proposal.source,
            &proposal.author,
            &proposal.text,
            lang,
            now,
        );
        let channels = &self.settings.social.channels;
        let team_lang = self.settings.default_lang;
        let preview = |draft: &crate::core::news::NewsDraft| Action::NewsNotice {
            draft: id,
            body: Prompt {
                lang: team_lang,
                key: "news/preview".into(),
                vars: crate::commands::handlers::preview_view(draft, channels, "arrived", None),
            },
        };
        let mut actions = vec![preview(&draft)];
        if proposal.trusted && !channels.is_empty() {
            let (decided, jobs) =
                crate::core::news::approve(&draft, channels, &proposal.author, None);
            for (key, connector, job) in jobs {
                actions.push(Action::Publish {
                    key,
                    connector,
                    job,
                    not_before: None,
                });
            }
            actions.push(Action::NewsNotice {
                draft: id,
                body: Prompt {
                    lang: team_lang,
                    key: "news/approved".into(),
                    vars: json!({
                        "id": id,
                        "by": proposal.author,
                        "networks": channels.iter().map(|c| c.network.name()).collect::<Vec<_>>(),
                        "at": null,
                    }),
                },
            });
            draft = decided;
        }
        actions.push(Action::Change(Change::SaveDraft(draft)));
        let (committed, _) = self.apply(&proposal.key, None, actions, now, None).await?;
        Ok(match committed {
            crate::store::Committed::Duplicate => super::Handled::Duplicate,
            crate::store::Committed::Applied { outbox_ids } => super::Handled::Done {
                outbox_ids,
                command: Some("news-propose".into()),
                lang,
            },
        })
    }

    /// Records a social connector's receipt on its draft and reports it in the draft's thread.
    /// Keyed by the outbox row: reported once however often the row is redelivered.
    pub async fn news_receipt(
        &self,
        message: &OutboxMessage,
        receipt: &str,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let receipt: Receipt = match serde_json::from_str(receipt) {
            Ok(receipt) => receipt,
            Err(error) => {
                tracing::error!(%error, connector = %message.connector, "unreadable receipt ignored");
                return Ok(());
            }
        };
        let key = InboundKey::new("receipt", &message.idempotency_key);
        let lang = self.settings.default_lang;
        let id = match &receipt {
            Receipt::Published { draft, .. } | Receipt::Deleted { draft, .. } => *draft,
        };
        // Read once: its networks decide when it is published, its origin where reports go.
        let stored = self.store.draft(id).await?;
        let mut actions = match receipt {
            Receipt::Published {
                draft,
                network,
                posts,
            } => {
                let networks = stored.as_ref().map_or(1, |d| d.networks.len().max(1));
                vec![
                    Action::Change(Change::RecordPosts {
                        draft,
                        connector: message.connector.clone(),
                        posts: posts.clone(),
                        networks,
                    }),
                    Action::NewsNotice {
                        draft,
                        body: Prompt {
                            lang,
                            key: "news/published".into(),
                            vars: json!({
                                "id": draft,
                                "network": network.name(),
                                "urls": posts.iter().map(|p| &p.url).collect::<Vec<_>>(),
                            }),
                        },
                    },
                ]
            }
            Receipt::Deleted { draft, network } => vec![
                Action::Change(Change::ForgetPosts {
                    draft,
                    connector: message.connector.clone(),
                }),
                Action::NewsNotice {
                    draft,
                    body: Prompt {
                        lang,
                        key: "news/deleted".into(),
                        vars: json!({ "id": draft, "network": network.name() }),
                    },
                },
            ],
        };
        if stored.is_none() {
            tracing::warn!(draft = id, "receipt for a draft the store does not hold");
            actions.retain(|a| matches!(a, Action::NewsNotice { .. }));
        }
        self.report(&key, stored.and_then(|d| d.origin), actions, now)
            .await
    }

    /// Applies a report's actions: its notices go to the review place, or where the draft was
    /// proposed when there is none.
    async fn report(
        &self,
        key: &InboundKey,
        origin: Option<(String, String)>,
        actions: Vec<Action>,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let reply_to = origin
            .as_ref()
            .map(|(_, target)| crate::core::inbound::ReplyTo::from_target(target));
        let origin = origin
            .as_ref()
            .zip(reply_to.as_ref())
            .map(|((connector, _), reply_to)| super::Origin {
                connector,
                reply_to,
            });
        self.apply(key, origin, actions, now, None).await?;
        Ok(())
    }

    /// Tells the review thread that a draft's row was given up on, with the network's words.
    pub async fn news_failure(
        &self,
        message: &OutboxMessage,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let Ok(job) = serde_json::from_str::<SocialJob>(&message.body) else {
            return Ok(());
        };
        let network = match &job {
            SocialJob::Publish(publication) => publication.network.name().to_string(),
            SocialJob::Delete { .. } => message.connector.clone(),
        };
        // Each time a row dies (it may be retried and die again) is worth telling.
        let key = InboundKey::new(
            "failure",
            format!("{}:{}", message.idempotency_key, message.attempts),
        );
        let draft = job.draft();
        let notice = Action::NewsNotice {
            draft,
            body: Prompt {
                lang: self.settings.default_lang,
                key: "news/failed".into(),
                vars: json!({
                    "id": draft,
                    "network": network,
                    "deleting": matches!(job, SocialJob::Delete { .. }),
                    "error": error,
                    "row": message.id,
                }),
            },
        };
        let origin = self.store.draft(draft).await?.and_then(|d| d.origin);
        self.report(&key, origin, vec![notice], now).await
    }
}

/// The outbox worker reports social receipts and failures through the engine.
#[async_trait]
impl super::ReceiptSink for Engine {
    async fn delivered(
        &self,
        message: &OutboxMessage,
        receipt: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match self.news_receipt(message, receipt, now).await {
            Err(EngineError::Store(error)) => Err(error),
            Err(error) => {
                tracing::error!(%error, "a receipt could not be reported");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    async fn failed(
        &self,
        message: &OutboxMessage,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if !message.target.starts_with("social:") {
            return Ok(());
        }
        match self.news_failure(message, error, now).await {
            Err(EngineError::Store(error)) => Err(error),
            Err(error) => {
                tracing::error!(%error, "a failed delivery could not be reported");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }
}
