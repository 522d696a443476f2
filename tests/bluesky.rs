//! The Bluesky connector against a real PDS (`@atproto/pds` with an in-memory PLC) on loopback:
//! `scripts/bluesky-pds.sh start`, at `PASSERELLE_TEST_BLUESKY` (default http://127.0.0.1:2583).
//! Each test makes its own accounts (`t<nanos>.test`); the connector logs in with an app password
//! and is built from a `[connectors.bluesky]` section as the bot builds it. What it wrote is read
//! back with `com.atproto.repo.listRecords`.

use async_trait::async_trait;
use passerelle::config::Config;
use passerelle::connectors::{Connector, Setup, bluesky};
use passerelle::core::social::{
    self, Draft, Image, Network, Publication, PublishedPost, Receipt, SocialJob,
};
use passerelle::engine::{Delivered, DeliveryError, Progress};
use passerelle::store::OutboxMessage;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};

fn pds() -> String {
    std::env::var("PASSERELLE_TEST_BLUESKY").unwrap_or_else(|_| "http://127.0.0.1:2583".into())
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// The PDS answers, or the test fails saying how to start it.
async fn require_pds() {
    let health = http()
        .get(format!("{}/xrpc/_health", pds()))
        .send()
        .await
        .map(|r| r.status().is_success());
    assert!(
        matches!(health, Ok(true)),
        "no Bluesky PDS at {} ({health:?}): run scripts/bluesky-pds.sh start (scripts/test.sh does)",
        pds()
    );
}

/// A handle no earlier run used. The PDS takes at most 18 characters before `.test`: the
/// nanosecond clock modulo 36^8 (a 47-minute cycle) in base 36, then a counter that keeps this
/// run's tests apart, then a tag.
fn unique(tag: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let mut nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 36u128.pow(8);
    let mut clock = String::new();
    for _ in 0..8 {
        clock.insert(0, char::from_digit((nanos % 36) as u32, 36).unwrap());
        nanos /= 36;
    }
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("t{clock}{n}{tag}.test")
}

async fn xrpc_post(nsid: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = http().post(format!("{}/xrpc/{nsid}", pds())).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{nsid}: {status} {body}");
    body
}

struct Account {
    handle: String,
    did: String,
    app_password: String,
}

/// A new account and an app password for it.
async fn account(tag: &str) -> Account {
    let handle = unique(tag);
    let created = xrpc_post(
        "com.atproto.server.createAccount",
        None,
        json!({"handle": handle, "email": format!("{handle}@example.test"), "password": "main-password"}),
    )
    .await;
    let token = created["accessJwt"].as_str().unwrap();
    let app = xrpc_post(
        "com.atproto.server.createAppPassword",
        Some(token),
        json!({"name": "passerelle"}),
    )
    .await;
    Account {
        did: created["did"].as_str().unwrap().to_string(),
        app_password: app["password"].as_str().unwrap().to_string(),
        handle,
    }
}

/// The connector for `account`, built from its `bot.toml` section.
fn connector(account: &Account, dir: &Path, extra: &str) -> Arc<dyn Connector> {
    connector_at(&pds(), &account.handle, &account.app_password, dir, extra)
}

/// A connector built as the bot builds it, from a `[connectors.bluesky]` section whose app
/// password is in a file.
fn connector_at(
    service: &str,
    handle: &str,
    app_password: &str,
    dir: &Path,
    extra: &str,
) -> Arc<dyn Connector> {
    let password_file = dir.join("bluesky-app-password");
    std::fs::write(&password_file, format!("{app_password}\n")).unwrap();
    let section: toml::Table = toml::from_str(&format!(
        "service = \"{service}\"\nhandle = \"{handle}\"\napp_password_file = \"{}\"\nweb_url = \"https://bsky.example\"\ntimeout_secs = 10\n{extra}",
        password_file.display()
    ))
    .unwrap();
    let config = Config::parse("", &dir.join("bot.toml")).unwrap();
    (bluesky::REGISTRATION.build)(&Setup {
        name: "bluesky",
        section: &section,
        config: &config,
    })
    .unwrap()
}

/// An outbox row as the engine hands it over.
fn row(job: &SocialJob, progress: Option<String>) -> OutboxMessage {
    OutboxMessage {
        id: 1,
        idempotency_key: "social-1-bluesky".into(),
        connector: "bluesky".into(),
        target: String::new(),
        body: serde_json::to_string(job).unwrap(),
        attempts: if progress.is_some() { 2 } else { 1 },
        status: "sending".into(),
        last_error: None,
        created_at: chrono::Utc::now(),
        retry_until: None,
        ticket: None,
        thread_key: None,
        progress,
    }
}

fn publish(posts: Vec<social::Post>) -> SocialJob {
    SocialJob::Publish(Publication {
        draft: 7,
        network: Network::Bluesky,
        posts,
        language: Some("fr".into()),
    })
}

/// Where a simulated crash falls, for the first save that matches.
#[derive(Clone, Copy)]
enum Crash {
    Never,
    /// The process dies while saving: the row keeps the save before.
    Before(fn(&Value) -> bool),
    /// The process dies right after saving: the row keeps this one.
    After(fn(&Value) -> bool),
}

/// Keeps what the connector saves, as the outbox row does, and fails where `crash` says.
struct MemoryProgress {
    saved: Mutex<Option<String>>,
    saves: Mutex<usize>,
    crash: Crash,
}

impl Default for MemoryProgress {
    fn default() -> Self {
        MemoryProgress::crashing(Crash::Never)
    }
}

impl MemoryProgress {
    fn crashing(crash: Crash) -> Self {
        MemoryProgress {
            saved: Mutex::new(None),
            saves: Mutex::new(0),
            crash,
        }
    }

    fn saved(&self) -> Option<String> {
        self.saved.lock().unwrap().clone()
    }
}

#[async_trait]
impl Progress for MemoryProgress {
    async fn save(&self, progress: &str) -> Result<(), DeliveryError> {
        *self.saves.lock().unwrap() += 1;
        let value: Value = serde_json::from_str(progress).unwrap();
        let crash = DeliveryError::Transient("simulated crash".into());
        match self.crash {
            Crash::Before(when) if when(&value) => return Err(crash),
            Crash::After(when) if when(&value) => {
                *self.saved.lock().unwrap() = Some(progress.to_string());
                return Err(crash);
            }
            _ => {}
        }
        *self.saved.lock().unwrap() = Some(progress.to_string());
        Ok(())
    }
}

async fn deliver(
    connector: &Arc<dyn Connector>,
    job: &SocialJob,
    saved: Option<String>,
    progress: &MemoryProgress,
) -> Result<Delivered, DeliveryError> {
    connector
        .outbound()
        .expect("the Bluesky connector sends")
        .deliver(&row(job, saved), progress)
        .await
}

fn published(delivered: &Delivered) -> Vec<PublishedPost> {
    let receipt: Receipt = serde_json::from_str(delivered.receipt.as_deref().unwrap()).unwrap();
    match receipt {
        Receipt::Published {
            draft,
            network,
            posts,
        } => {
            assert_eq!((draft, network), (7, Network::Bluesky));
            posts
        }
        other => panic!("{other:?}"),
    }
}

/// The account's posts, oldest first: (uri, cid, record).
async fn posts_of(did: &str) -> Vec<(String, String, Value)> {
    let response: Value = http()
        .get(format!("{}/xrpc/com.atproto.repo.listRecords", pds()))
        .query(&[
            ("repo", did),
            ("collection", "app.bsky.feed.post"),
            ("limit", "100"),
            ("reverse", "true"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["records"]
        .as_array()
        .unwrap_or_else(|| panic!("listRecords: {response}"))
        .iter()
        .map(|r| {
            (
                r["uri"].as_str().unwrap().to_string(),
                r["cid"].as_str().unwrap().to_string(),
                r["value"].clone(),
            )
        })
        .collect()
}

/// The bytes `facet` covers in `text`, as the app would highlight them.
fn covered<'t>(text: &'t str, facet: &Value) -> &'t str {
    let start = facet["index"]["byteStart"].as_u64().unwrap() as usize;
    let end = facet["index"]["byteEnd"].as_u64().unwrap() as usize;
    let bytes = &text.as_bytes()[start..end];
    std::str::from_utf8(bytes).expect("facet on UTF-8 boundaries")
}

#[tokio::test]
async fn health_names_the_account_and_a_wrong_app_password_is_refused() {
    require_pds().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = account("h").await;
    let checks = connector(&alice, dir.path(), "").health().await;
    assert_eq!(checks.len(), 1);
    assert!(checks[0].ok, "{}", checks[0]);
    assert_eq!(
        checks[0].summary,
        format!("bluesky: {} ({}) on {}", alice.handle, alice.did, pds())
    );

    let wrong = Account {
        app_password: "aaaa-bbbb-cccc-dddd".into(),
        ..alice
    };
    let refused = connector(&wrong, dir.path(), "");
    let checks = refused.health().await;
    assert!(!checks[0].ok);
    assert!(
        checks[0]
            .summary
            .contains("Bluesky refused the handle or app password"),
        "{}",
        checks[0]
    );
    let failed = deliver(
        &refused,
        &publish(social::format("Bonjour", Network::Bluesky)),
        None,
        &MemoryProgress::default(),
    )
    .await;
    assert!(
        matches!(&failed, Err(DeliveryError::Permanent(words)) if words.contains("refused the handle or app password")),
        "{failed:?}"
    );
}

#[tokio::test]
async fn link_hashtag_and_mention_facets_sit_at_the_exact_bytes() {
    require_pds().await;
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (account("a").await, account("b").await);
    // No card: example.org is not reachable from the tests.
    let bluesky = connector(&alice, dir.path(), "link_cards = false");
    let text = format!(
        "Données ouvertes 🇫🇷 : le guide https://example.org/données #OpenData @{} — à lire !",
        bob.handle
    );
    let posts = social::format(&text, Network::Bluesky);
    assert_eq!(posts.len(), 1);
    let delivered = deliver(
        &bluesky,
        &publish(posts.clone()),
        None,
        &MemoryProgress::default(),
    )
    .await
    .unwrap();

    let stored = posts_of(&alice.did).await;
    assert_eq!(stored.len(), 1);
    let (uri, _, record) = &stored[0];
    let receipt = published(&delivered);
    let rkey = uri.rsplit('/').next().unwrap();
    assert_eq!(receipt.len(), 1);
    assert_eq!(receipt[0].id, *uri);
    assert_eq!(
        receipt[0].url,
        format!("https://bsky.example/profile/{}/post/{rkey}", alice.handle)
    );
    let posted = record["text"].as_str().unwrap();
    assert_eq!(posted, posts[0].text);
    assert_eq!(record["langs"], json!(["fr"]));
    assert!(record.get("reply").is_none() && record.get("embed").is_none());

    let facets = record["facets"].as_array().unwrap();
    let found: Vec<(&str, &Value)> = facets
        .iter()
        .map(|f| (covered(posted, f), &f["features"][0]))
        .collect();
    let mention = format!("@{}", bob.handle);
    assert_eq!(
        found,
        vec![
            // The link is shown shorter, as the Bluesky app shows it; the facet has it whole.
            (
                "example.org/données",
                &json!({"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/données"})
            ),
            (
                "#OpenData",
                &json!({"$type": "app.bsky.richtext.facet#tag", "tag": "OpenData"})
            ),
            (
                mention.as_str(),
                &json!({"$type": "app.bsky.richtext.facet#mention", "did": bob.did})
            ),
        ]
    );
}

#[tokio::test]
async fn a_thread_replies_to_its_root_and_to_the_post_before() {
    require_pds().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = account("t").await;
    let bluesky = connector(&alice, dir.path(), "");
    let sentence = "La métropole publie chaque semaine ses jeux de données ouverts, avec les horaires, les budgets et les équipements. ";
    let posts = social::format(&sentence.repeat(8), Network::Bluesky);
    assert!(posts.len() >= 3, "{} posts", posts.len());
    // Logged in first, so that the time below is the posts' alone.
    assert!(bluesky.health().await[0].ok);
    let started = std::time::Instant::now();
    let delivered = deliver(
        &bluesky,
        &publish(posts.clone()),
        None,
        &MemoryProgress::default(),
    )
    .await
    .unwrap();
    eprintln!(
        "{} posts in {:?}: {:?} a post (createRecord and two progress saves each)",
        posts.len(),
        started.elapsed(),
        started.elapsed() / posts.len() as u32
    );

    let stored = posts_of(&alice.did).await;
    assert_eq!(stored.len(), posts.len());
    let receipt = published(&delivered);
    let (root_uri, root_cid, root) = &stored[0];
    assert!(root.get("reply").is_none());
    for (i, (uri, _, record)) in stored.iter().enumerate() {
        assert_eq!(record["text"], posts[i].text.as_str());
        assert_eq!(receipt[i].index, i + 1);
        assert_eq!(receipt[i].id, *uri);
        if i > 0 {
            let (parent_uri, parent_cid, _) = &stored[i - 1];
            assert_eq!(
                record["reply"],
                json!({
                    "root": {"uri": root_uri, "cid": root_cid},
                    "parent": {"uri": parent_uri, "cid": parent_cid},
                }),
                "post {}",
                i + 1
            );
        }
    }
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[tokio::test]
async fn an_image_goes_with_its_alt_text_and_is_uploaded_once() {
    require_pds().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = account("i").await;
    let bluesky = connector(&alice, dir.path(), "");
    let image = dir.path().join("carte.png");
    std::fs::write(&image, PNG).unwrap();
    let draft = Draft {
        images: vec![Image {
            source: image.display().to_string(),
            alt: "Carte des bornes de recharge de la commune".into(),
        }],
        ..Draft::new("Nouvelle carte des bornes https://example.org/bornes")
    };
    let job = publish(social::format_draft(&draft, Network::Bluesky));

    // The process dies right after the upload was saved, before the post.
    let first = MemoryProgress::crashing(Crash::After(|p| {
        p["blobs"].as_array().is_some_and(|b| !b.is_empty())
            && p["posts"].as_array().is_some_and(Vec::is_empty)
    }));
    assert!(deliver(&bluesky, &job, None, &first).await.is_err());
    let uploaded: Value = serde_json::from_str(&first.saved().unwrap()).unwrap();
    assert!(posts_of(&alice.did).await.is_empty());

    // The retry posts with the blob saved (no second upload: one save for the post's key,
    // one for its acknowledgement).
    let retry = MemoryProgress::default();
    deliver(&bluesky, &job, first.saved(), &retry)
        .await
        .unwrap();
    assert_eq!(*retry.saves.lock().unwrap(), 2);
    let stored = posts_of(&alice.did).await;
    assert_eq!(stored.len(), 1);
    let embed = &stored[0].2["embed"];
    assert_eq!(embed["$type"], "app.bsky.embed.images");
    assert_eq!(
        embed["images"][0]["alt"],
        "Carte des bornes de recharge de la commune"
    );
    assert_eq!(embed["images"][0]["image"]["mimeType"], "image/png");
    assert_eq!(embed["images"][0]["image"], uploaded["blobs"][0]);
}

#[tokio::test]
async fn a_crash_between_send_and_acknowledgement_leaves_exactly_one_post() {
    require_pds().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = account("c").await;
    let bluesky = connector(&alice, dir.path(), "");
    let job = publish(social::format(
        "Conseil municipal jeudi à 18 h, ordre du jour en ligne.",
        Network::Bluesky,
    ));

    // The server took the post; the process died before recording that it did. The row still
    // holds what was saved before the call: the record key and the record.
    let crashed = MemoryProgress::crashing(Crash::Before(|p| p["posts"][0].get("done").is_some()));
    let outcome = deliver(&bluesky, &job, None, &crashed).await;
    assert!(
        matches!(outcome, Err(DeliveryError::Transient(_))),
        "{outcome:?}"
    );
    let before_call: Value = serde_json::from_str(&crashed.saved().unwrap()).unwrap();
    let rkey = before_call["posts"][0]["rkey"].as_str().unwrap();
    assert_eq!(
        before_call["posts"][0]["record"]["text"],
        "Conseil municipal jeudi à 18 h, ordre du jour en ligne."
    );
    let stored = posts_of(&alice.did).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].0.ends_with(&format!("/{rkey}")));

    let delivered = deliver(
        &bluesky,
        &job,
        Some(before_call.to_string()),
        &MemoryProgress::default(),
    )
    .await
    .unwrap();
    let stored = posts_of(&alice.did).await;
    assert_eq!(
        stored.len(),
        1,
        "the retry adopted the post, not wrote another"
    );
    assert_eq!(published(&delivered)[0].id, stored[0].0);
}

#[tokio::test]
async fn a_crash_before_the_send_creates_the_post_under_the_saved_key() {
    require_pds().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = account("k").await;
    let bluesky = connector(&alice, dir.path(), "");
    let job = publish(social::format(
        "Fermeture de la piscine ce week-end.",
        Network::Bluesky,
    ));

    let crashed = MemoryProgress::crashing(Crash::After(|p| p["posts"][0].get("rkey").is_some()));
    assert!(deliver(&bluesky, &job, None, &crashed).await.is_err());
    assert!(posts_of(&alice.did).await.is_empty());
    let saved: Value = serde_json::from_str(&crashed.saved().unwrap()).unwrap();
    let rkey = saved["posts"][0]["rkey"].as_str().unwrap();
    let created_at = saved["posts"][0]["record"]["createdAt"].as_str().unwrap();

    deliver(&bluesky, &job, crashed.saved(), &MemoryProgress::default())
        .await
        .unwrap();
    let stored = posts_of(&alice.did).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].0.ends_with(&format!("/{rkey}")));
    assert_eq!(stored[0].2["createdAt"], created_at);
}

#[tokio::test]
async fn deleting_removes_the_posts_and_posts_already_gone_are_fine() {
    require_pds().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = account("d").await;
    let bluesky = connector(&alice, dir.path(), "");
    let posts = social::format(
        &"Les comptes rendus des commissions sont désormais publiés en données ouvertes. "
            .repeat(5),
        Network::Bluesky,
    );
    let delivered = deliver(&bluesky, &publish(posts), None, &MemoryProgress::default())
        .await
        .unwrap();
    assert!(posts_of(&alice.did).await.len() >= 2);

    let delete = SocialJob::Delete {
        draft: 7,
        posts: published(&delivered),
    };
    for _ in 0..2 {
        let done = deliver(&bluesky, &delete, None, &MemoryProgress::default())
            .await
            .unwrap();
        assert_eq!(
            done.receipt.as_deref(),
            Some(
                Receipt::Deleted {
                    draft: 7,
                    network: Network::Bluesky
                }
                .to_json()
                .as_str()
            )
        );
        assert!(posts_of(&alice.did).await.is_empty());
    }
}

/// Answers every request on 127.0.0.1 with the same HTTP response (head lines, then body).
async fn fixed_server(head: &'static str, body: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let response = format!(
                    "{head}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}")
}

async fn page_server(html: &'static str) -> String {
    fixed_server(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8",
        html,
    )
    .await
}

#[tokio::test]
async fn a_first_post_with_a_link_and_no_image_gets_the_page_card() {
    require_pds().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = account("l").await;
    let bluesky = connector(&alice, dir.path(), "");
    let site = page_server(
        r#"<html><head><title>Autre titre</title>
        <meta property="og:title" content="Budget participatif 2027">
        <meta property="og:description" content="Votez pour les projets de votre quartier &amp; suivez-les."></head></html>"#,
    )
    .await;
    let text = format!("Le budget participatif est ouvert : {site}/budget #Participation");
    deliver(
        &bluesky,
        &publish(social::format(&text, Network::Bluesky)),
        None,
        &MemoryProgress::default(),
    )
    .await
    .unwrap();
    let stored = posts_of(&alice.did).await;
    assert_eq!(
        stored[0].2["embed"],
        json!({
            "$type": "app.bsky.embed.external",
            "external": {
                "uri": format!("{site}/budget"),
                "title": "Budget participatif 2027",
                "description": "Votez pour les projets de votre quartier & suivez-les.",
            }
        })
    );

    // A page that cannot be had: the post goes without a card.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    deliver(
        &bluesky,
        &publish(social::format(
            &format!("Ancienne adresse : http://{closed}/vieux"),
            Network::Bluesky,
        )),
        None,
        &MemoryProgress::default(),
    )
    .await
    .unwrap();
    let stored = posts_of(&alice.did).await;
    assert_eq!(stored.len(), 2);
    assert!(stored[1].2.get("embed").is_none(), "{}", stored[1].2);
}

#[tokio::test]
async fn a_saved_key_that_another_post_holds_is_not_adopted() {
    require_pds().await;
    let dir = tempfile::tempdir().unwrap();
    let alice = account("s").await;
    let bluesky = connector(&alice, dir.path(), "");
    let first = deliver(
        &bluesky,
        &publish(social::format(
            "Marché de Noël place de la mairie.",
            Network::Bluesky,
        )),
        None,
        &MemoryProgress::default(),
    )
    .await
    .unwrap();
    let taken = published(&first)[0]
        .id
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();

    // Another row saved the same key (two processes, one microsecond) and crashed before its
    // call: its post is not the one under that key.
    let text = "Collecte des sapins du 2 au 15 janvier.";
    let saved = json!({
        "blobs": [],
        "posts": [{
            "rkey": taken,
            "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-12-26T09:00:00.000Z"},
        }],
    });
    let second = deliver(
        &bluesky,
        &publish(social::format(text, Network::Bluesky)),
        Some(saved.to_string()),
        &MemoryProgress::default(),
    )
    .await
    .unwrap();
    let stored = posts_of(&alice.did).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].2["text"], "Marché de Noël place de la mairie.");
    let id = &published(&second)[0].id;
    assert!(!id.ends_with(&taken), "{id}");
    assert!(
        stored
            .iter()
            .any(|(uri, _, record)| uri == id && record["text"] == text)
    );
}

/// A service that answers every call with `head`: the connector's reading of it.
async fn outcome_from(head: &'static str, body: &'static str) -> DeliveryError {
    let dir = tempfile::tempdir().unwrap();
    let service = fixed_server(head, body).await;
    let bluesky = connector_at(
        &service,
        "mairie.test",
        "aaaa-bbbb-cccc-dddd",
        dir.path(),
        "",
    );
    deliver(
        &bluesky,
        &publish(social::format("Bonjour", Network::Bluesky)),
        None,
        &MemoryProgress::default(),
    )
    .await
    .unwrap_err()
}

#[tokio::test]
async fn rate_limits_wait_for_the_reset_and_server_failures_are_retried() {
    // Bluesky's 429 headers; the reset (epoch seconds) is 2100-01-01.
    let limited = outcome_from(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nratelimit-limit: 30\r\nratelimit-remaining: 0\r\nratelimit-reset: 4102444800\r\nratelimit-policy: 30;w=300",
        r#"{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}"#,
    )
    .await;
    assert!(
        matches!(&limited, DeliveryError::RetryAfter { after, reason }
            if after.as_secs() > 3600 && reason.contains("rate limit")),
        "{limited:?}"
    );
    let limited = outcome_from("HTTP/1.1 429 Too Many Requests\r\nretry-after: 120", "").await;
    assert!(
        matches!(&limited, DeliveryError::RetryAfter { after, .. } if after.as_secs() == 120),
        "{limited:?}"
    );
    let down = outcome_from(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json",
        r#"{"error":"InternalServerError","message":"Internal Server Error"}"#,
    )
    .await;
    assert!(
        matches!(&down, DeliveryError::Transient(words) if words.contains("Internal Server Error")),
        "{down:?}"
    );
}

/// One request as the scripted server below reads it.
struct Request {
    path: String,
    authorization: String,
    body: Value,
}

/// Reads one HTTP/1.1 request (head, then a body of `content-length` bytes).
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Request> {
    use tokio::io::AsyncReadExt;
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    while data.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
    }
    let path = head.split_whitespace().nth(1)?.to_string();
    Some(Request {
        path,
        authorization: header("authorization"),
        body: serde_json::from_slice(&data[head_end..head_end + length]).unwrap_or(Value::Null),
    })
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_by_the_agent() {
    use tokio::io::AsyncWriteExt;
    // A server whose first access token has expired by the time the post is sent; it keeps the
    // calls it got. The PDS's tokens last hours, so the expiry is scripted here.
    let calls: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service = format!("http://{}", listener.local_addr().unwrap());
    let seen = calls.clone();
    tokio::spawn(async move {
        let session = |n: u32| {
            json!({"accessJwt": format!("access-{n}"), "refreshJwt": format!("refresh-{n}"),
                   "handle": "mairie.test", "did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz"})
        };
        while let Ok((mut socket, _)) = listener.accept().await {
            while let Some(request) = read_request(&mut socket).await {
                let nsid = request.path.trim_start_matches("/xrpc/").to_string();
                seen.lock()
                    .unwrap()
                    .push(format!("{nsid} {}", request.authorization));
                let (status, body) = match (nsid.as_str(), request.authorization.as_str()) {
                    ("com.atproto.server.createSession", _) => ("200 OK", session(1)),
                    ("com.atproto.server.refreshSession", "Bearer refresh-1") => {
                        ("200 OK", session(2))
                    }
                    ("com.atproto.repo.createRecord", "Bearer access-1") => (
                        "400 Bad Request",
                        json!({"error": "ExpiredToken", "message": "Token has expired"}),
                    ),
                    ("com.atproto.repo.createRecord", "Bearer access-2") => (
                        "200 OK",
                        json!({
                            "uri": format!("at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/{}", request.body["rkey"].as_str().unwrap()),
                            "cid": "bafyreibvjmijyfbumgoqymafa5stst3riki2eajwsxsxujlgw4nbxvuobq",
                        }),
                    ),
                    _ => (
                        "401 Unauthorized",
                        json!({"error": "AuthenticationRequired", "message": "unexpected call"}),
                    ),
                };
                let body = body.to_string();
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                if socket.write_all(response.as_bytes()).await.is_err() {
                    break;
                }
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let bluesky = connector_at(
        &service,
        "mairie.test",
        "aaaa-bbbb-cccc-dddd",
        dir.path(),
        "",
    );
    let delivered = deliver(
        &bluesky,
        &publish(social::format("Bonjour", Network::Bluesky)),
        None,
        &MemoryProgress::default(),
    )
    .await
    .unwrap();
    assert_eq!(published(&delivered).len(), 1);
    assert_eq!(
        *calls.lock().unwrap(),
        vec![
            "com.atproto.server.createSession ",
            "com.atproto.repo.createRecord Bearer access-1",
            "com.atproto.server.refreshSession Bearer refresh-1",
            "com.atproto.repo.createRecord Bearer access-2",
        ]
    );
}
