//! The social relay's review flow through the engine and the outbox: a news item proposed in
//! chat is previewed per network, decided by the core team, queued once per network, and the
//! networks' receipts come back to the draft. The networks here are stand-ins that answer like
//! a connector does (the real servers are exercised in tests/mastodon.rs, tests/bluesky.rs and
//! tests/x.rs); what is tested is the engine's side: permissions, states, keys, schedules and
//! reports.

mod common;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use passerelle::app;
use passerelle::core::news::DraftState;
use passerelle::core::social::{PublishedPost, Receipt, SocialJob};
use passerelle::engine::{
    Delivered, DeliveryError, Engine, Handled, Inbound, Outbound, OutboxWorker, Progress,
};
use passerelle::store::{InboundKey, OutboxMessage};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const ADMIN: &str = "dominique.lefevre@example.org";
const MEMBER: &str = "alex.martin@example.org";
const NETWORKS: [(&str, &str); 3] = [("masto", "mastodon"), ("bsky", "bluesky"), ("twitter", "x")];

fn now() -> DateTime<Utc> {
    "2026-11-26T10:00:00Z".parse().unwrap()
}

/// Answers social jobs the way a network connector does: a receipt with one id and URL per post.
#[derive(Default)]
struct Network {
    jobs: Mutex<Vec<SocialJob>>,
    refuse: AtomicBool,
    down: AtomicBool,
}

#[async_trait]
impl Outbound for Network {
    async fn deliver(
        &self,
        message: &OutboxMessage,
        _progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(DeliveryError::Transient("connection refused".into()));
        }
        if self.refuse.load(Ordering::SeqCst) {
            return Err(DeliveryError::Permanent(
                "the access token was refused".into(),
            ));
        }
        let job: SocialJob = serde_json::from_str(&message.body).unwrap();
        self.jobs.lock().unwrap().push(job.clone());
        let receipt = match job {
            SocialJob::Publish(publication) => Receipt::Published {
                draft: publication.draft,
                network: publication.network,
                posts: publication
                    .posts
                    .iter()
                    .map(|p| PublishedPost {
                        index: p.index,
                        id: format!("{}-{}", message.id, p.index),
                        url: format!(
                            "https://{}.example/{}/{}",
                            message.connector, message.id, p.index
                        ),
                    })
                    .collect(),
            },
            SocialJob::Delete { draft, .. } => Receipt::Deleted {
                draft,
                network: match message.connector.as_str() {
                    "masto" => passerelle::core::social::Network::Mastodon,
                    "bsky" => passerelle::core::social::Network::Bluesky,
                    _ => passerelle::core::social::Network::X,
                },
            },
        };
        Ok(Delivered {
            receipt: Some(receipt.to_json()),
        })
    }
}

/// Records the chat answers.
#[derive(Default)]
struct Room {
    said: Mutex<Vec<String>>,
}

#[async_trait]
impl Outbound for Room {
    async fn deliver(
        &self,
        message: &OutboxMessage,
        _progress: &dyn Progress,
    ) -> Result<Delivered, DeliveryError> {
        self.said.lock().unwrap().push(message.body.clone());
        Ok(Delivered::default())
    }
}

struct Bot {
    engine: Arc<Engine>,
    worker: OutboxWorker,
    room: Arc<Room>,
    networks: Vec<Arc<Network>>,
    counter: AtomicUsize,
    _dir: tempfile::TempDir,
}

impl Bot {
    async fn new() -> Bot {
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            common::config_with_store(&format!("sqlite://{}", dir.path().join("bot.db").display()));
        for (name, kind) in NETWORKS {
            let mut section = toml::Table::new();
            section.insert("type".into(), toml::Value::String(kind.into()));
            config.connectors.0.insert(name.into(), section);
            config.social.networks.push(name.into());
        }
        let engine = app::build_engine(&config).await.unwrap();
        let mut worker = OutboxWorker::new(
            engine.store().clone(),
            app::retry_policy(&config),
            engine.outbox_signal(),
        );
        worker.report_receipts(engine.clone());
        let room = Arc::new(Room::default());
        worker.register("room", room.clone());
        let mut networks = Vec::new();
        for (name, _) in NETWORKS {
            let network = Arc::new(Network::default());
            worker.register(name, network.clone());
            networks.push(network);
        }
        Bot {
            engine,
            worker,
            room,
            networks,
            counter: AtomicUsize::new(0),
            _dir: dir,
        }
    }

    /// Sends a line as of `at`, delivers everything due, and returns what the room was told.
    async fn say_at(&self, sender: &str, text: &str, at: DateTime<Utc>) -> Vec<String> {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let inbound = Inbound {
            key: InboundKey::new("test", n.to_string()),
            connector: "room".into(),
            reply_to: passerelle::core::inbound::ReplyTo::Native("room".into()),
            sender: passerelle::core::address::Address::parse(sender).unwrap(),
            text: text.into(),
            lang: None,
            vouched_role: None,
            ticket: None,
        };
        let handled = self.engine.handle_at(&inbound, at).await.unwrap();
        assert!(
            matches!(handled, Handled::Done { .. }),
            "{text}: {handled:?}"
        );
        self.deliver(at).await
    }

    async fn say(&self, sender: &str, text: &str) -> Vec<String> {
        self.say_at(sender, text, now()).await
    }

    /// Delivers what is due at `at` (receipts add notices: delivered in the same pass or the
    /// next) and returns what the room was told.
    async fn deliver(&self, at: DateTime<Utc>) -> Vec<String> {
        // Rows a pass queues are stamped with its clock (`at` plus the time it took).
        for pass in 0..3 {
            self.worker
                .run_once(at + chrono::Duration::seconds(pass))
                .await
                .unwrap();
        }
        std::mem::take(&mut *self.room.said.lock().unwrap())
    }

    fn jobs(&self) -> Vec<Vec<SocialJob>> {
        self.networks
            .iter()
            .map(|n| n.jobs.lock().unwrap().clone())
            .collect()
    }

    async fn state(&self, id: i64) -> DraftState {
        self.engine.store().draft(id).await.unwrap().unwrap().state
    }
}

fn assert_contains(said: &[String], expected: &[&str]) {
    let all = said.join("\n---\n");
    for e in expected {
        assert!(all.contains(e), "expected {e:?} in:\n{all}");
    }
}

#[tokio::test]
async fn a_proposed_item_is_previewed_approved_published_once_per_network_and_reported() {
    let bot = Bot::new().await;
    let text = "Le guide des données ouvertes des collectivités est en ligne 🎉 https://example.org/guide-données #OpenData @odf.bsky.social";
    let said = bot.say(MEMBER, &format!("actu : {text}")).await;
    assert_eq!(said.len(), 1, "{said:?}");
    // The exact text per network, with what it uses of each limit and what each will link.
    assert_contains(
        &said,
        &[
            "Nouveau brouillon n° 1 (à valider)",
            "Mastodon :",
            "/500 caractères",
            "Bluesky :",
            "/300 graphèmes",
            "/3000 octets",
            "X :",
            "/280 caractères",
            "https://example.org/guide-données",
            "Hashtags : #OpenData",
            "Mentions : @odf.bsky.social",
            "publie 1",
        ],
    );
    assert!(
        bot.jobs().iter().all(Vec::is_empty),
        "nothing before approval"
    );

    // A member may propose, not publish.
    let said = bot.say(MEMBER, "publie 1").await;
    assert!(
        said[0].contains("équipe") || said[0].contains("core"),
        "{said:?}"
    );
    assert!(bot.jobs().iter().all(Vec::is_empty));

    let said = bot.say(ADMIN, "publie 1").await;
    assert_contains(&said, &["Brouillon n° 1 validé", "Mastodon, Bluesky, X"]);
    assert_contains(
        &said,
        &[
            "publié sur Mastodon",
            "https://masto.example/",
            "publié sur Bluesky",
            "https://bsky.example/",
            "publié sur X",
            "https://twitter.example/",
        ],
    );
    let jobs = bot.jobs();
    assert!(jobs.iter().all(|j| j.len() == 1), "{jobs:?}");
    match &jobs[0][0] {
        SocialJob::Publish(p) => assert_eq!(p.posts[0].text, text),
        other => panic!("{other:?}"),
    }
    assert_eq!(bot.state(1).await, DraftState::Published);
    let stored = bot.engine.store().draft(1).await.unwrap().unwrap();
    assert_eq!(stored.posts.len(), 3, "{:?}", stored.posts);

    // Approving again publishes nothing more: the draft is closed.
    let said = bot.say(ADMIN, "approve 1").await;
    assert_contains(&said, &["already published"]);
    assert!(bot.jobs().iter().all(|j| j.len() == 1));

    // Deleted everywhere on request; the receipts close it.
    let said = bot.say(ADMIN, "supprime le brouillon 1 partout").await;
    assert_contains(
        &said,
        &[
            "Suppression des publications du brouillon n° 1",
            "supprimées sur Mastodon",
            "supprimées sur X",
        ],
    );
    assert!(
        bot.jobs()
            .iter()
            .all(|j| matches!(j.last(), Some(SocialJob::Delete { .. })))
    );
    let stored = bot.engine.store().draft(1).await.unwrap().unwrap();
    assert_eq!((stored.state, stored.posts.len()), (DraftState::Deleted, 0));
}

#[tokio::test]
async fn a_scheduled_item_waits_for_its_time_and_a_rejection_cancels_it() {
    let bot = Bot::new().await;
    bot.say(
        MEMBER,
        "news: Our annual report is out https://example.org/report",
    )
    .await;
    let said = bot.say(ADMIN, "schedule draft 1 tomorrow at 9am").await;
    // 9:00 in Paris is 8:00 UTC in November.
    assert_contains(&said, &["Draft #1 scheduled", "27 November 2026 at 09:00"]);
    assert_eq!(bot.state(1).await, DraftState::Scheduled);
    assert!(bot.jobs().iter().all(Vec::is_empty), "not before its time");
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    assert!(bot.deliver(at("2026-11-27T07:59:00Z")).await.is_empty());
    assert!(bot.jobs().iter().all(Vec::is_empty));

    // Rescheduled: the old rows are dropped, new ones wait for the new time.
    bot.say(ADMIN, "schedule draft 1 on 28/11 at 18:30").await;
    bot.deliver(at("2026-11-27T09:00:00Z")).await;
    assert!(
        bot.jobs().iter().all(Vec::is_empty),
        "the first schedule was cancelled"
    );

    let said = bot.say(ADMIN, "reject 1").await;
    assert_contains(&said, &["Draft #1 rejected"]);
    bot.deliver(at("2026-11-29T00:00:00Z")).await;
    assert!(
        bot.jobs().iter().all(Vec::is_empty),
        "a rejected draft is never published"
    );
    assert_eq!(bot.state(1).await, DraftState::Rejected);

    // A time already past is refused; an unknown draft named.
    bot.say(MEMBER, "news: Second item").await;
    let said = bot.say(ADMIN, "schedule draft 2 today at 8am").await;
    assert_contains(&said, &["already past"]);
    let said = bot.say(ADMIN, "draft 99").await;
    assert_contains(&said, &["no draft #99"]);
}

#[tokio::test]
async fn an_edit_makes_a_new_revision_previewed_again_and_published_under_its_own_key() {
    let bot = Bot::new().await;
    bot.say(MEMBER, "actu : premier jet").await;
    let said = bot
        .say(
            ADMIN,
            "modifie le brouillon 1 : Le texte final, avec un lien https://example.org",
        )
        .await;
    assert_contains(
        &said,
        &[
            "Brouillon modifié n° 1",
            "Le texte final, avec un lien https://example.org",
        ],
    );
    let draft = bot.engine.store().draft(1).await.unwrap().unwrap();
    assert_eq!((draft.revision, draft.state), (2, DraftState::Pending));
    let said = bot.say(ADMIN, "brouillons").await;
    assert_contains(&said, &["n° 1 — à valider — Le texte final"]);
    bot.say(ADMIN, "publie 1").await;
    let keys: Vec<String> = bot
        .engine
        .store()
        .outbox_list(None, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.target.starts_with("social:"))
        .map(|r| r.idempotency_key)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec!["news:1:r2:bsky", "news:1:r2:masto", "news:1:r2:twitter"],
        "one row per network, keyed by the revision"
    );
    match &bot.jobs()[0][0] {
        SocialJob::Publish(p) => assert_eq!(
            p.posts[0].text,
            "Le texte final, avec un lien https://example.org"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_network_that_refuses_is_reported_in_plain_words_and_the_others_still_publish() {
    let bot = Bot::new().await;
    bot.networks[2].refuse.store(true, Ordering::SeqCst);
    bot.say(MEMBER, "actu : Rencontres nationales de l'open data à Lyon")
        .await;
    let said = bot.say(ADMIN, "valide le brouillon 1").await;
    assert_contains(
        &said,
        &[
            "publié sur Mastodon",
            "publié sur Bluesky",
            "n'a pas pu être publié sur X : permanent: the access token was refused",
            "passerelle outbox retry",
        ],
    );
    // Not every network has it: still publishing, not published.
    assert_eq!(bot.state(1).await, DraftState::Publishing);
}

#[tokio::test]
async fn strangers_cannot_propose_and_bad_numbers_get_clear_answers() {
    let bot = Bot::new().await;
    let said = bot.say("stranger@example.com", "actu : spam spam").await;
    assert!(
        said[0].contains("membre") || said[0].contains("member"),
        "{said:?}"
    );
    assert!(
        bot.engine
            .store()
            .recent_drafts(10)
            .await
            .unwrap()
            .is_empty()
    );
    let said = bot.say(ADMIN, "valide le brouillon 7").await;
    assert_contains(&said, &["Je ne trouve pas de brouillon n° 7"]);
}

#[tokio::test]
async fn an_image_needs_its_alt_text_and_goes_with_the_first_post() {
    let bot = Bot::new().await;
    bot.say(MEMBER, "actu : L'atelier SCDL de Nantes en images")
        .await;
    let said = bot
        .say(ADMIN, "image 1 : https://example.org/atelier.jpg")
        .await;
    assert_contains(
        &said,
        &[
            "Il manque le texte alternatif",
            "image 1 : https://example.org/atelier.jpg | ",
        ],
    );
    let said = bot
        .say(
            ADMIN,
            "image 1 : https://example.org/atelier.jpg | Une vingtaine d'agents autour d'une table",
        )
        .await;
    assert_contains(
        &said,
        &[
            "Brouillon modifié n° 1",
            "texte alternatif : « Une vingtaine d'agents autour d'une table »",
        ],
    );
    bot.say(ADMIN, "publie 1").await;
    for jobs in bot.jobs() {
        match &jobs[0] {
            SocialJob::Publish(p) => {
                assert_eq!(p.posts[0].images.len(), 1);
                assert_eq!(
                    p.posts[0].images[0].source,
                    "https://example.org/atelier.jpg"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_content_warning_folds_the_mastodon_post_only() {
    let bot = Bot::new().await;
    bot.say(MEMBER, "actu : Résultats du scrutin publiés en open data")
        .await;
    let said = bot.say(ADMIN, "avertissement 1 : élections").await;
    assert_contains(
        &said,
        &["Brouillon modifié n° 1", "avertissement « élections »"],
    );
    bot.say(ADMIN, "publie 1").await;
    let warnings: Vec<Option<String>> = bot
        .jobs()
        .iter()
        .map(|jobs| match &jobs[0] {
            SocialJob::Publish(p) => p.posts[0].spoiler_text.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(warnings, vec![Some("élections".to_string()), None, None]);
}

#[tokio::test]
async fn deleting_a_draft_also_stops_a_network_still_retrying() {
    let bot = Bot::new().await;
    bot.networks[1].down.store(true, Ordering::SeqCst);
    bot.say(MEMBER, "actu : Un article publié par erreur").await;
    bot.say(ADMIN, "publie 1").await;
    assert_eq!(bot.state(1).await, DraftState::Publishing);
    let said = bot.say(ADMIN, "supprime le brouillon 1 partout").await;
    assert_contains(&said, &["supprimées sur Mastodon", "supprimées sur X"]);
    // Bluesky comes back: its publication row was dropped, nothing goes up there.
    bot.networks[1].down.store(false, Ordering::SeqCst);
    bot.deliver(now() + chrono::Duration::hours(1)).await;
    assert!(bot.jobs()[1].is_empty(), "{:?}", bot.jobs()[1]);
    assert_eq!(bot.state(1).await, DraftState::Deleted);
}
