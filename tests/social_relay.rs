//! The social relay end to end against the real servers: a news item typed in chat is
//! previewed, approved by the core team, published once on mastodon-mock, the Bluesky PDS and
//! the X fixture by the connectors the bot builds from `bot.toml`, and the posts' URLs come back
//! to the room. Then the worst case for exactly-once: every delivered row is put back as if the
//! bot had crashed after the networks answered and before it recorded it, and a new bot on the
//! same store delivers them again — each network still holds exactly one post.
//!
//! Servers: `scripts/mastodon-mock.sh`, `scripts/bluesky-pds.sh`, `scripts/x-fixture.sh`
//! (`scripts/test.sh` starts them), at `PASSERELLE_TEST_MASTODON`, `PASSERELLE_TEST_BLUESKY` and
//! `PASSERELLE_TEST_X`.

mod common;

use async_trait::async_trait;
use passerelle::app;
use passerelle::config::Config;
use passerelle::core::news::DraftState;
use passerelle::engine::{
    Delivered, DeliveryError, Engine, Handled, Inbound, Outbound, OutboxWorker, Progress,
};
use passerelle::store::{InboundKey, OutboxMessage};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};

const ADMIN: &str = "dominique.lefevre@example.org";
const MEMBER: &str = "alex.martin@example.org";

fn server(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.into())
}

fn mastodon() -> String {
    server("PASSERELLE_TEST_MASTODON", "http://127.0.0.1:3000")
}

fn pds() -> String {
    server("PASSERELLE_TEST_BLUESKY", "http://127.0.0.1:2583")
}

fn x() -> String {
    server("PASSERELLE_TEST_X", "http://127.0.0.1:3100")
}

async fn get(url: &str) -> Value {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e} (scripts/test.sh starts the test servers)"));
    assert!(response.status().is_success(), "{url}: {response:?}");
    response.json().await.unwrap()
}

async fn post(url: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = reqwest::Client::new().post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

/// A Bluesky account of this run, with an app password for the bot.
async fn bluesky_account() -> (String, String, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 36u128.pow(8);
    let handle = format!("r{nanos:x}.test")
        .chars()
        .take(24)
        .collect::<String>();
    let created = post(
        &format!("{}/xrpc/com.atproto.server.createAccount", pds()),
        None,
        json!({"handle": handle, "email": format!("{handle}@example.test"), "password": "main-password"}),
    )
    .await;
    let app = post(
        &format!("{}/xrpc/com.atproto.server.createAppPassword", pds()),
        created["accessJwt"].as_str(),
        json!({"name": "passerelle"}),
    )
    .await;
    (
        handle,
        created["did"].as_str().unwrap().to_string(),
        app["password"].as_str().unwrap().to_string(),
    )
}

/// The posts of `did` on the PDS, oldest first.
async fn bluesky_posts(did: &str) -> Vec<Value> {
    let listed = get(&format!(
        "{}/xrpc/com.atproto.repo.listRecords?repo={did}&collection=app.bsky.feed.post&limit=100&reverse=true",
        pds()
    ))
    .await;
    listed["records"].as_array().unwrap().clone()
}

/// mastodon-mock's statuses of the seeded account whose text holds `mark`.
async fn mastodon_posts(mark: &str) -> Vec<Value> {
    let client = reqwest::Client::new();
    let me: Value = client
        .get(format!("{}/api/v1/accounts/verify_credentials", mastodon()))
        .bearer_auth("mock_token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Value = client
        .get(format!(
            "{}/api/v1/accounts/{}/statuses?limit=40",
            mastodon(),
            me["id"].as_str().unwrap()
        ))
        .bearer_auth("mock_token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    statuses
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["content"].as_str().unwrap().contains(mark))
        .cloned()
        .collect()
}

/// The X fixture's posts whose text holds `mark`, deleted ones left out.
async fn x_posts(mark: &str) -> Vec<Value> {
    let all = get(&format!("{}/_fixture/tweets", x())).await;
    all["tweets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["text"].as_str().unwrap().contains(mark) && t["deleted"] != true)
        .cloned()
        .collect()
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

/// The bot's `bot.toml` with the three networks, their secrets in files of `dir`.
fn config(dir: &Path, handle: &str, app_password: &str) -> Config {
    let write = |name: &str, value: &str| {
        let path = dir.join(name);
        std::fs::write(&path, value).unwrap();
        path.display().to_string()
    };
    let mut config =
        common::config_with_store(&format!("sqlite://{}", dir.join("bot.db").display()));
    let sections = format!(
        r#"
[masto]
type = "mastodon"
base_url = "{mastodon}"
access_token_file = "{token}"
[bsky]
type = "bluesky"
service = "{pds}"
handle = "{handle}"
app_password_file = "{app}"
web_url = "https://bsky.example"
link_cards = false
[twitter]
type = "x"
api_url = "{x}"
upload_url = "{x}/2/media/upload"
consumer_key_file = "{ck}"
consumer_secret_file = "{cs}"
access_token_file = "{at}"
access_secret_file = "{as_}"
"#,
        mastodon = mastodon(),
        token = write("mastodon.token", "mock_token"),
        pds = pds(),
        app = write("bluesky.password", app_password),
        x = x(),
        ck = write("x.ck", "passerelle-test-consumer"),
        cs = write("x.cs", "consumer+secret/with=odd&chars"),
        at = write("x.at", "1700000000000000001-passerelleTestToken"),
        as_ = write("x.as", "access secret~with spaces"),
    );
    let sections: toml::Table = toml::from_str(&sections).unwrap();
    for (name, section) in sections {
        let toml::Value::Table(section) = section else {
            unreachable!()
        };
        config.connectors.0.insert(name.clone(), section);
        config.social.networks.push(name);
    }
    config
}

/// One running bot: the engine, and an outbox worker with the real network connectors.
struct Bot {
    engine: Arc<Engine>,
    worker: OutboxWorker,
    room: Arc<Room>,
}

impl Bot {
    async fn start(config: &Config) -> Bot {
        let engine = app::build_engine(config).await.unwrap();
        let mut worker = OutboxWorker::new(
            engine.store().clone(),
            app::retry_policy(config),
            engine.outbox_signal(),
        );
        worker.report_receipts(engine.clone());
        let room = Arc::new(Room::default());
        worker.register("room", room.clone());
        for name in &config.social.networks {
            let section = config.connectors.0[name].clone();
            let kind = section["type"].as_str().unwrap().to_string();
            let mut section = section;
            section.remove("type");
            let registration = passerelle::connectors::REGISTRY
                .iter()
                .find(|r| r.kind == kind)
                .unwrap();
            let connector = (registration.build)(&passerelle::connectors::Setup {
                name,
                section: &section,
                config,
            })
            .unwrap();
            worker.register(name, connector.outbound().unwrap());
        }
        Bot {
            engine,
            worker,
            room,
        }
    }

    async fn say(&self, n: usize, sender: &str, text: &str) -> Vec<String> {
        let inbound = Inbound {
            key: InboundKey::new("room", n.to_string()),
            connector: "room".into(),
            reply_to: passerelle::core::inbound::ReplyTo::Native("room".into()),
            sender: passerelle::core::address::Address::parse(sender).unwrap(),
            text: text.into(),
            lang: None,
            vouched_role: None,
            ticket: None,
        };
        let handled = self.engine.handle(&inbound).await.unwrap();
        assert!(matches!(handled, Handled::Done { .. }), "{handled:?}");
        self.deliver().await
    }

    async fn deliver(&self) -> Vec<String> {
        for _ in 0..3 {
            let report = self.worker.run_once(chrono::Utc::now()).await.unwrap();
            if report.dead + report.retried > 0 {
                let rows = self.engine.store().outbox_list(None, 50).await.unwrap();
                let failed: Vec<_> = rows
                    .iter()
                    .filter_map(|r| r.last_error.as_ref().map(|e| (&r.idempotency_key, e)))
                    .collect();
                panic!("{report:?}: {failed:?}");
            }
        }
        std::mem::take(&mut *self.room.said.lock().unwrap())
    }
}

#[tokio::test]
async fn a_news_item_is_approved_published_once_on_each_network_and_its_links_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, did, app_password) = bluesky_account().await;
    let config = config(dir.path(), &handle, &app_password);
    let mark = format!(
        "m{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let text = format!(
        "Données ouvertes 🇫🇷 : le guide des collectivités est en ligne https://example.org/guide-données #OpenData {mark}"
    );
    let bot = Bot::start(&config).await;
    let said = bot.say(1, MEMBER, &format!("actu : {text}")).await;
    let preview = said.join("\n");
    assert!(
        preview.contains("Nouveau brouillon n° 1")
            && preview.contains("Mastodon :")
            && preview.contains("Bluesky :")
            && preview.contains("X :")
            && preview.contains("example.org/guide-données"),
        "{preview}"
    );
    assert!(
        mastodon_posts(&mark).await.is_empty(),
        "nothing before approval"
    );

    let said = bot.say(2, ADMIN, "publie 1").await.join("\n");
    for network in ["Mastodon", "Bluesky", "X"] {
        assert!(said.contains(&format!("publié sur {network}")), "{said}");
    }
    let draft = bot.engine.store().draft(1).await.unwrap().unwrap();
    assert_eq!(draft.state, DraftState::Published, "{draft:?}");
    let urls: Vec<&str> = draft.posts.iter().map(|p| p.post.url.as_str()).collect();
    for url in &urls {
        assert!(said.contains(url), "{url} not reported in:\n{said}");
    }

    // What each network holds: one post, the text as formatted, links and tags as rich text.
    let on_mastodon = mastodon_posts(&mark).await;
    assert_eq!(on_mastodon.len(), 1, "{on_mastodon:?}");
    let on_bluesky: Vec<Value> = bluesky_posts(&did)
        .await
        .into_iter()
        .filter(|r| r["value"]["text"].as_str().unwrap().contains(&mark))
        .collect();
    assert_eq!(on_bluesky.len(), 1, "{on_bluesky:?}");
    let record = &on_bluesky[0]["value"];
    let features: Vec<&str> = record["facets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["features"][0]["$type"].as_str().unwrap())
        .collect();
    assert_eq!(
        features,
        vec![
            "app.bsky.richtext.facet#link",
            "app.bsky.richtext.facet#tag"
        ]
    );
    assert_eq!(
        record["facets"][0]["features"][0]["uri"],
        "https://example.org/guide-données"
    );
    assert_eq!(x_posts(&mark).await.len(), 1);

    // A crash after the networks answered and before the rows were recorded as done: the rows
    // are pending again, and a new bot on the same store delivers them again.
    drop(bot);
    let db =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("bot.db").display()))
            .await
            .unwrap();
    let replayed = sqlx::query("UPDATE outbox SET status = 'pending', claimed_until = NULL, claimed_by = NULL WHERE target LIKE 'social:%'")
        .execute(&db)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(replayed, 3);
    db.close().await;
    let bot = Bot::start(&config).await;
    let said = bot.deliver().await;
    assert!(
        said.is_empty(),
        "the receipts were already reported: {said:?}"
    );
    assert_eq!(
        mastodon_posts(&mark).await.len(),
        1,
        "Mastodon: no second post"
    );
    let on_bluesky = bluesky_posts(&did)
        .await
        .into_iter()
        .filter(|r| r["value"]["text"].as_str().unwrap().contains(&mark))
        .count();
    assert_eq!(on_bluesky, 1, "Bluesky: no second post");
    assert_eq!(x_posts(&mark).await.len(), 1, "X: no second post");

    // Approving again publishes nothing more.
    let said = bot.say(3, ADMIN, "valide le brouillon 1").await.join("\n");
    assert!(said.contains("déjà publié"), "{said}");
    assert_eq!(mastodon_posts(&mark).await.len(), 1);

    // Deleted everywhere on request.
    let said = bot
        .say(4, ADMIN, "supprime le brouillon 1 partout")
        .await
        .join("\n");
    for network in ["Mastodon", "Bluesky", "X"] {
        assert!(
            said.contains(&format!("supprimées sur {network}")),
            "{said}"
        );
    }
    assert!(mastodon_posts(&mark).await.is_empty());
    assert!(x_posts(&mark).await.is_empty());
    assert!(
        !bluesky_posts(&did)
            .await
            .iter()
            .any(|r| r["value"]["text"].as_str().unwrap().contains(&mark))
    );
}
