//! The X connector against the X API fixture (scripts/x-fixture.sh, which scripts/test.sh
//! starts): every call's OAuth 1.0a signature is verified there by oauthlib, the v2 bodies are
//! checked, and faults are injected (a 429, a 503, a post made whose answer is lost).
//! PASSERELLE_TEST_X names the fixture; these tests fail when it is not set or not running.
//!
//! Tests run in parallel against one fixture: each one's texts carry a mark of its own, and
//! faults are aimed at a body containing that mark.

use async_trait::async_trait;
use passerelle::connectors::x::api::Keys;
use passerelle::connectors::x::{XConfig, XOutbound};
use passerelle::core::social::{
    self, Draft, Image, Network, Post, Publication, PublishedPost, Receipt, SocialJob,
};
use passerelle::engine::{Delivered, DeliveryError, Outbound, Progress};
use passerelle::store::OutboxMessage;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The keys the fixture knows (its defaults).
fn keys() -> Keys {
    Keys {
        consumer_key: "passerelle-test-consumer".into(),
        consumer_secret: "consumer+secret/with=odd&chars".into(),
        access_token: "1700000000000000001-passerelleTestToken".into(),
        access_secret: "access secret~with spaces".into(),
    }
}

/// The fixture's URL; panics when it is not set or nothing listens there.
fn fixture() -> String {
    let url = std::env::var("PASSERELLE_TEST_X").expect(
        "PASSERELLE_TEST_X is not set: run scripts/x-fixture.sh start and export PASSERELLE_TEST_X=http://127.0.0.1:3100 (scripts/test.sh does both)",
    );
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    if let Err(e) = std::net::TcpStream::connect(address) {
        panic!("the X fixture is not running at {url} ({e}): scripts/x-fixture.sh start");
    }
    url
}

fn outbound(keys: Keys) -> XOutbound {
    let url = fixture();
    let config = XConfig {
        api_url: url.clone(),
        upload_url: format!("{url}/2/media/upload"),
        timeout_secs: 10,
        ..XConfig::default()
    };
    XOutbound::new(&config, keys).expect("the connector builds")
}

/// A mark no other test, nor an earlier run against the same fixture, has in its texts.
fn mark(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{test}{nanos:x}")
}

async fn fixture_call(method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let client = reqwest::Client::new();
    let mut request = client.request(method, format!("{}{path}", fixture()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap_or_else(|e| {
        panic!("the X fixture does not answer at {}: {e}", fixture());
    });
    assert!(response.status().is_success(), "{path}: {response:?}");
    response.json().await.unwrap()
}

/// The fixture's posts whose text contains `mark`, oldest first.
async fn posts_with(mark: &str) -> Vec<Value> {
    let all = fixture_call(reqwest::Method::GET, "/_fixture/tweets", None).await;
    let mut found: Vec<Value> = all["tweets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["text"].as_str().unwrap().contains(mark))
        .cloned()
        .collect();
    found.sort_by_key(|t| t["id"].as_str().unwrap().parse::<u64>().unwrap());
    found
}

async fn fault(kind: &str, body_contains: &str, extra: Value) {
    let mut fault = json!({
        "kind": kind, "count": 1, "method": "POST", "path": "/2/tweets",
        "body_contains": body_contains,
    });
    fault
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    fixture_call(reqwest::Method::POST, "/_fixture/faults", Some(fault)).await;
}

/// The outbox row's progress column.
#[derive(Default)]
struct Saved(Mutex<Vec<String>>);

#[async_trait]
impl Progress for Saved {
    async fn save(&self, progress: &str) -> Result<(), DeliveryError> {
        self.0.lock().unwrap().push(progress.to_string());
        Ok(())
    }
}

impl Saved {
    fn last(&self) -> Option<String> {
        self.0.lock().unwrap().last().cloned()
    }
}

fn row(job: &SocialJob, attempts: i32, progress: Option<String>) -> OutboxMessage {
    OutboxMessage {
        id: 1,
        idempotency_key: "social:x:1".into(),
        connector: "x".into(),
        target: "x".into(),
        body: serde_json::to_string(job).unwrap(),
        attempts,
        status: "sending".into(),
        last_error: None,
        created_at: chrono::Utc::now(),
        retry_until: None,
        ticket: None,
        thread_key: None,
        progress,
    }
}

fn publish(posts: Vec<Post>) -> SocialJob {
    SocialJob::Publish(Publication {
        draft: 7,
        network: Network::X,
        posts,
        language: Some("fr".into()),
    })
}

fn published(delivered: Delivered) -> Vec<PublishedPost> {
    let receipt: Receipt = serde_json::from_str(&delivered.receipt.expect("a receipt")).unwrap();
    match receipt {
        Receipt::Published {
            draft,
            network,
            posts,
        } => {
            assert_eq!((draft, network), (7, Network::X));
            posts
        }
        other => panic!("{other:?}"),
    }
}

/// A text X must cut into a thread of three or more posts; `mark` in every sentence (X
/// refuses a post identical to one already up), `{mark}z` in the last one only.
fn long_text(mark: &str) -> String {
    format!(
        "Journée données ouvertes {mark}a à Lyon, le 12 décembre: ateliers sur les budgets, les marchés publics et les subventions des communes de la métropole. \
         Les agents {mark}b de vingt collectivités présentent leurs jeux de données & leurs outils, avec une séance <questions> ouverte au public. \
         Le programme {mark}c complet est en ligne sur https://example.org/agenda/donnees-ouvertes?edition=2026 et les inscriptions restent ouvertes jusqu'au 5 décembre. \
         Venez nombreux, et faites passer le mot autour de vous {mark}z https://example.org/inscription."
    )
}

#[tokio::test]
async fn a_signed_post_is_accepted() {
    let mark = mark("single");
    let x = outbound(keys());
    let posts = social::format(&format!("Bonjour {mark} from the relay"), Network::X);
    let saved = Saved::default();
    let started = Instant::now();
    let delivered = x
        .deliver(&row(&publish(posts), 1, None), &saved)
        .await
        .expect("delivered");
    println!("one post: {:?}", started.elapsed());
    let up = published(delivered);
    let on_x = posts_with(&mark).await;
    assert_eq!(on_x.len(), 1);
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].id, on_x[0]["id"].as_str().unwrap());
    assert_eq!(
        up[0].url,
        format!("https://x.com/passerelle_test/status/{}", up[0].id)
    );
    assert_eq!(on_x[0]["reply_to"], Value::Null);
    let last: Value = serde_json::from_str(&saved.last().unwrap()).unwrap();
    assert_eq!(last["posts"][0]["id"], up[0].id.as_str());
    assert!(last.get("attempt").is_none(), "{last}");
}

#[tokio::test]
async fn a_wrong_secret_is_refused_for_good() {
    let mark = mark("wrongkey");
    let x = outbound(Keys {
        consumer_secret: "not the secret".into(),
        ..keys()
    });
    let posts = social::format(&format!("Never up {mark}"), Network::X);
    match x
        .deliver(&row(&publish(posts), 1, None), &Saved::default())
        .await
    {
        Err(DeliveryError::Permanent(why)) => {
            assert!(why.starts_with("X refused the keys: Unauthorized"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    assert!(posts_with(&mark).await.is_empty());
    let check = x.health("x").await;
    assert!(
        !check.ok
            && check
                .summary
                .starts_with("x: X refused the keys: Unauthorized"),
        "{check:?}"
    );
    let check = outbound(keys()).health("x").await;
    assert!(check.ok, "{check:?}");
    assert_eq!(check.summary, "x: @passerelle_test");
}

#[tokio::test]
async fn a_thread_answers_post_by_post() {
    let mark = mark("thread");
    let posts = social::format(&long_text(&mark), Network::X);
    assert!(posts.len() >= 3, "{posts:#?}");
    let x = outbound(keys());
    let started = Instant::now();
    let up = published(
        x.deliver(&row(&publish(posts.clone()), 1, None), &Saved::default())
            .await
            .expect("delivered"),
    );
    println!("a thread of {}: {:?}", posts.len(), started.elapsed());
    assert_eq!(up.len(), posts.len());
    let all = fixture_call(reqwest::Method::GET, "/_fixture/tweets", None).await;
    for (i, post) in up.iter().enumerate() {
        assert_eq!(post.index, i + 1);
        let on_x = all["tweets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == post.id.as_str())
            .expect("the post is on X");
        assert_eq!(on_x["text"], posts[i].text.as_str());
        let reply_to = i.checked_sub(1).map(|before| up[before].id.as_str());
        assert_eq!(on_x["reply_to"].as_str(), reply_to, "post {}", i + 1);
    }
}

#[tokio::test]
async fn an_image_goes_up_with_its_alt_text() {
    let mark = mark("image");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("affiche.png");
    // A 1×1 PNG.
    let png: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
        0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60,
        0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0xe9, 0xfa, 0xdc, 0xd8, 0x00, 0x00, 0x00, 0x00,
        0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    std::fs::write(&path, png).unwrap();
    let draft = Draft {
        images: vec![Image {
            source: path.display().to_string(),
            alt: "Affiche de la journée: un hibou sur une pile de tableurs".into(),
        }],
        ..Draft::new(long_text(&mark))
    };
    let posts = social::format_draft(&draft, Network::X);
    let x = outbound(keys());
    let up = published(
        x.deliver(&row(&publish(posts), 1, None), &Saved::default())
            .await
            .expect("delivered"),
    );
    let on_x = posts_with(&mark).await;
    assert_eq!(on_x[0]["id"], up[0].id.as_str());
    let media = on_x[0]["media"].as_array().unwrap();
    assert_eq!(media.len(), 1);
    assert_eq!(
        media[0]["alt_text"],
        "Affiche de la journée: un hibou sur une pile de tableurs"
    );
    assert_eq!(media[0]["size"], png.len());
    // The image goes with the first post only.
    let last = on_x.last().unwrap();
    assert!(last["media"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_post_whose_answer_was_lost_is_found_not_posted_again() {
    let mark = mark("lost");
    let posts = social::format(&long_text(&mark), Network::X);
    let last_index = posts.len();
    // The last post, with a link X rewrites and `&`-free text, is made and its answer lost.
    fault("drop_after_create", &format!("{mark}z"), json!({})).await;
    let x = outbound(keys());
    let job = publish(posts.clone());
    let saved = Saved::default();
    match x.deliver(&row(&job, 1, None), &saved).await {
        Err(DeliveryError::Transient(why)) => assert!(why.contains("no answer"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(posts_with(&mark).await.len(), last_index);
    let progress: Value = serde_json::from_str(&saved.last().unwrap()).unwrap();
    assert_eq!(progress["attempt"]["index"], last_index);
    assert_eq!(
        progress["posts"].as_array().unwrap().len(),
        last_index - 1,
        "{progress}"
    );

    // The retry, by another connector as after a restart: it finds the post and adopts it.
    let again = Saved::default();
    let started = Instant::now();
    let up = published(
        outbound(keys())
            .deliver(&row(&job, 2, saved.last()), &again)
            .await
            .expect("delivered on retry"),
    );
    println!("retry with a timeline lookup: {:?}", started.elapsed());
    let on_x = posts_with(&mark).await;
    assert_eq!(on_x.len(), last_index, "exactly one post each: {on_x:#?}");
    let ids: Vec<&str> = on_x.iter().map(|t| t["id"].as_str().unwrap()).collect();
    let receipt: Vec<&str> = up.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(receipt, ids);
}

#[tokio::test]
async fn a_lost_post_the_timeline_does_not_show_yet_is_not_posted_twice() {
    let mark = mark("lagging");
    let posts = social::format(&format!("Une fois {mark} https://example.org"), Network::X);
    fault("drop_after_create", &mark, json!({})).await;
    let x = outbound(keys());
    let job = publish(posts);
    let lost = Saved::default();
    assert!(matches!(
        x.deliver(&row(&job, 1, None), &lost).await,
        Err(DeliveryError::Transient(_))
    ));
    // X's timeline does not show the post yet: the retry posts again, and X refuses the twin.
    let lag = |hidden: bool| json!({"text_contains": mark, "hidden": hidden});
    fixture_call(reqwest::Method::POST, "/_fixture/lag", Some(lag(true))).await;
    let twin = Saved::default();
    match x.deliver(&row(&job, 2, lost.last()), &twin).await {
        Err(DeliveryError::Transient(why)) => assert!(why.contains("already up"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Not a failure for good: the attempt stays recorded, with the first call's time.
    let first: Value = serde_json::from_str(&lost.last().unwrap()).unwrap();
    let kept: Value = serde_json::from_str(&twin.last().unwrap()).unwrap();
    assert_eq!(kept["attempt"], first["attempt"]);
    fixture_call(reqwest::Method::POST, "/_fixture/lag", Some(lag(false))).await;
    let up = published(
        x.deliver(&row(&job, 3, twin.last()), &Saved::default())
            .await
            .expect("found once the timeline shows it"),
    );
    let on_x = posts_with(&mark).await;
    assert_eq!(on_x.len(), 1);
    assert_eq!(up[0].id, on_x[0]["id"].as_str().unwrap());
}

#[tokio::test]
async fn a_post_refused_with_503_is_looked_up_and_posted_once() {
    let mark = mark("unavailable");
    let posts = social::format(
        &format!("Un seul post {mark} https://example.org"),
        Network::X,
    );
    fault("unavailable", &mark, json!({})).await;
    let x = outbound(keys());
    let job = publish(posts);
    let saved = Saved::default();
    match x.deliver(&row(&job, 1, None), &saved).await {
        Err(DeliveryError::Transient(why)) => assert!(why.contains("503"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(posts_with(&mark).await.is_empty());
    // A 503 may hide a post made: the attempt stays recorded, the retry looks first.
    let progress: Value = serde_json::from_str(&saved.last().unwrap()).unwrap();
    assert_eq!(progress["attempt"]["index"], 1);
    // The retry finds nothing and posts again, refused with 429: the first attempt's post
    // could still show up later, so its record stays, with its own time.
    fault("rate_limit", &mark, json!({})).await;
    let limited = Saved::default();
    match x.deliver(&row(&job, 2, saved.last()), &limited).await {
        Err(DeliveryError::RetryAfter { .. }) => {}
        other => panic!("{other:?}"),
    }
    let kept: Value = serde_json::from_str(&limited.last().unwrap()).unwrap();
    assert_eq!(kept["attempt"], progress["attempt"]);
    let up = published(
        x.deliver(&row(&job, 3, limited.last()), &Saved::default())
            .await
            .expect("delivered on retry"),
    );
    let on_x = posts_with(&mark).await;
    assert_eq!(on_x.len(), 1);
    assert_eq!(up[0].id, on_x[0]["id"].as_str().unwrap());
}

#[tokio::test]
async fn a_rate_limit_asks_to_come_back_at_the_reset() {
    let mark = mark("ratelimit");
    let posts = social::format(&format!("Plus tard {mark}"), Network::X);
    fault("rate_limit", &mark, json!({"reset_in": 90})).await;
    let x = outbound(keys());
    let job = publish(posts);
    let saved = Saved::default();
    match x.deliver(&row(&job, 1, None), &saved).await {
        Err(DeliveryError::RetryAfter { after, reason }) => {
            assert!((88..=90).contains(&after.as_secs()), "{after:?}");
            assert!(reason.contains("rate limit"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // X said no: nothing to look up on the retry.
    let progress: Value = serde_json::from_str(&saved.last().unwrap()).unwrap();
    assert!(progress.get("attempt").is_none(), "{progress}");
    published(
        x.deliver(&row(&job, 2, saved.last()), &Saved::default())
            .await
            .expect("delivered on retry"),
    );
    assert_eq!(posts_with(&mark).await.len(), 1);
}

#[tokio::test]
async fn delete_removes_a_thread_and_takes_gone_posts_as_gone() {
    let mark = mark("delete");
    let posts = social::format(&long_text(&mark), Network::X);
    let x = outbound(keys());
    let mut up = published(
        x.deliver(&row(&publish(posts), 1, None), &Saved::default())
            .await
            .expect("delivered"),
    );
    up.push(PublishedPost {
        index: up.len() + 1,
        id: "1".into(),
        url: "https://x.com/passerelle_test/status/1".into(),
    });
    let job = SocialJob::Delete {
        draft: 7,
        posts: up,
    };
    let delivered = x
        .deliver(&row(&job, 1, None), &Saved::default())
        .await
        .expect("deleted");
    let receipt: Receipt = serde_json::from_str(&delivered.receipt.unwrap()).unwrap();
    assert_eq!(
        receipt,
        Receipt::Deleted {
            draft: 7,
            network: Network::X
        }
    );
    let on_x = posts_with(&mark).await;
    assert!(!on_x.is_empty());
    assert!(on_x.iter().all(|t| t["deleted"] == true), "{on_x:#?}");
    // Deleting again: every post is already gone.
    x.deliver(&row(&job, 2, None), &Saved::default())
        .await
        .expect("deleting again is done at once");
}

#[tokio::test]
async fn a_timeout_is_temporary() {
    // A server that accepts and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = XConfig {
        api_url: url.clone(),
        upload_url: format!("{url}/2/media/upload"),
        timeout_secs: 1,
        ..XConfig::default()
    };
    let x = XOutbound::new(&config, keys()).unwrap();
    let posts = social::format("Jamais", Network::X);
    let started = Instant::now();
    match x
        .deliver(&row(&publish(posts), 1, None), &Saved::default())
        .await
    {
        Err(DeliveryError::Transient(why)) => assert!(why.contains("timed out"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(listener);
}
