//! The Mastodon connector against a real Mastodon API server: mastodon-mock (PyPI, third
//! party), started by `scripts/mastodon-mock.sh start` on `PASSERELLE_TEST_MASTODON`
//! (default http://127.0.0.1:3000). Without it these tests fail; they never skip.
//!
//! The mock's fault rules apply to every request on the server, so the tests here run one at a
//! time, each starting with no rule. Every row key and text is unique to the run: the mock keeps
//! statuses and idempotency keys for as long as it runs.

use async_trait::async_trait;
use chrono::Utc;
use passerelle::connectors::mastodon::{MastodonOutbound, REGISTRATION};
use passerelle::connectors::{Connector, Setup};
use passerelle::core::social::{
    Draft, Image, Network, Publication, PublishedPost, Receipt, SocialJob, Visibility, format_draft,
};
use passerelle::engine::{Delivered, DeliveryError, Outbound, Progress};
use passerelle::store::OutboxMessage;
use serde_json::{Value, json};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "mock_token";
const STATUSES: &str = "/api/v1/statuses";
const MEDIA: &str = "/api/v2/media";

static ONE_AT_A_TIME: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(Default::default);

fn server() -> String {
    std::env::var("PASSERELLE_TEST_MASTODON").unwrap_or_else(|_| "http://127.0.0.1:3000".into())
}

/// A tag no earlier run used.
fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}{nanos:x}")
}

/// The server, reached directly to read back what the connector did and to inject faults.
struct Mock {
    url: String,
    http: reqwest::Client,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Mock {
    /// Waits for this test's turn, checks the server is up and clears its fault rules.
    async fn take() -> Mock {
        let turn = ONE_AT_A_TIME.lock().await;
        let mock = Mock {
            url: server(),
            http: reqwest::Client::new(),
            _turn: turn,
        };
        let health = mock.http.get(format!("{}/health", mock.url)).send().await;
        assert!(
            matches!(&health, Ok(r) if r.status().is_success()),
            "mastodon-mock is not running at {} ({health:?}): start it with scripts/mastodon-mock.sh start",
            mock.url
        );
        mock.clear_faults().await;
        mock
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn status(&self, id: &str) -> Value {
        let (code, status) = self.get(&format!("/api/v1/statuses/{id}")).await;
        assert_eq!(code, 200, "{status}");
        status
    }

    /// Adds a rule to the mock's fault injection (its `/api/v1/_mock/faults`).
    async fn fault(&self, rule: Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/_mock/faults", self.url))
            .json(&rule)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{rule}");
    }

    async fn faults(&self) -> Vec<Value> {
        let (_, rules) = self.get("/api/v1/_mock/faults").await;
        rules.as_array().unwrap().clone()
    }

    async fn clear_faults(&self) {
        self.http
            .delete(format!("{}/api/v1/_mock/faults", self.url))
            .send()
            .await
            .unwrap();
    }

    /// Counts the next `POST` requests to `path`: a latency rule of no delay with a budget,
    /// whose remaining budget tells how many came. It must be the first rule for the path.
    async fn count_posts_to(&self, path: &str) {
        self.fault(json!({"match": {"methods": ["POST"], "path": path},
                          "effect": {"type": "latency", "delay_ms": 0}, "count": 1000}))
            .await;
    }

    async fn posts_counted(&self, path: &str) -> i64 {
        let rules = self.faults().await;
        let counter = rules
            .iter()
            .find(|r| r["effect"]["type"] == "latency" && r["match"]["path"] == path)
            .expect("the counting rule");
        1000 - counter["remaining"].as_i64().unwrap()
    }

    /// Statuses of the test account whose text holds `marker`, among its latest 40.
    async fn statuses_with(&self, marker: &str) -> Vec<String> {
        let (_, me) = self.get("/api/v1/accounts/verify_credentials").await;
        let (_, statuses) = self
            .get(&format!(
                "/api/v1/accounts/{}/statuses?limit=40",
                me["id"].as_str().unwrap()
            ))
            .await;
        statuses
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["content"].as_str().unwrap().contains(marker))
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    }
}

fn outbound() -> MastodonOutbound {
    outbound_with(&server(), TOKEN, Duration::from_secs(10))
}

fn outbound_with(url: &str, token: &str, timeout: Duration) -> MastodonOutbound {
    MastodonOutbound::new(url, token.into(), timeout).unwrap()
}

/// A draft formatted for Mastodon as the relay does it, as a publication.
fn publish(draft: &Draft) -> SocialJob {
    SocialJob::Publish(Publication {
        draft: 7,
        network: Network::Mastodon,
        posts: format_draft(draft, Network::Mastodon),
        language: Some("fr".into()),
    })
}

/// A text that makes a thread of `posts` posts, each sentence holding `marker`.
fn thread_text(marker: &str, posts: usize) -> String {
    (0..posts * 4)
        .map(|i| format!("Phrase {i} du fil {marker}, assez longue pour remplir un quart de message Mastodon sans peine."))
        .collect::<Vec<_>>()
        .join(" ")
}

fn row(key: &str, job: &SocialJob, progress: Option<String>) -> OutboxMessage {
    OutboxMessage {
        id: 1,
        idempotency_key: key.into(),
        connector: "mastodon".into(),
        target: "mastodon".into(),
        body: serde_json::to_string(job).unwrap(),
        attempts: 1,
        status: "pending".into(),
        last_error: None,
        created_at: Utc::now(),
        retry_until: None,
        ticket: None,
        thread_key: None,
        progress,
    }
}

/// Progress kept in memory: every save, in order.
#[derive(Default)]
struct Saved(Mutex<Vec<String>>);

impl Saved {
    fn last(&self) -> Option<String> {
        self.0.lock().unwrap().last().cloned()
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[async_trait]
impl Progress for Saved {
    async fn save(&self, progress: &str) -> Result<(), DeliveryError> {
        self.0.lock().unwrap().push(progress.to_string());
        Ok(())
    }
}

/// Progress whose saves fail from the `fail_from`-th on (1-based), as when the process dies
/// or loses its claim: the attempts it was asked to save are kept, the row never sees them.
struct Crashing {
    fail_from: usize,
    asked: Saved,
}

#[async_trait]
impl Progress for Crashing {
    async fn save(&self, progress: &str) -> Result<(), DeliveryError> {
        self.asked.save(progress).await?;
        if self.asked.count() >= self.fail_from {
            return Err(DeliveryError::Transient("crashed before saving".into()));
        }
        Ok(())
    }
}

fn published(delivered: Delivered) -> Vec<PublishedPost> {
    let receipt: Receipt = serde_json::from_str(&delivered.receipt.expect("a receipt")).unwrap();
    match receipt {
        Receipt::Published {
            draft: 7,
            network: Network::Mastodon,
            posts,
        } => posts,
        other => panic!("{other:?}"),
    }
}

fn ids(posts: &[PublishedPost]) -> Vec<String> {
    posts.iter().map(|p| p.id.clone()).collect()
}

/// The posts saved in a progress string (the connector's own JSON).
fn posts_in(progress: &str) -> Vec<String> {
    let saved: Value = serde_json::from_str(progress).unwrap();
    saved["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_post_goes_up_with_its_language_visibility_and_content_warning() {
    let mock = Mock::take().await;
    let marker = unique("post");
    let job = publish(&Draft {
        content_warning: Some("Politique".into()),
        visibility: Visibility::Unlisted,
        ..Draft::new(format!("Bonjour {marker}, voici la lettre de novembre."))
    });
    let progress = Saved::default();
    let posts = published(
        outbound()
            .deliver(&row(&unique("k"), &job, None), &progress)
            .await
            .unwrap(),
    );
    assert_eq!(posts.len(), 1);
    let status = mock.status(&posts[0].id).await;
    assert!(
        status["content"].as_str().unwrap().contains(&marker),
        "{status}"
    );
    assert_eq!(status["spoiler_text"], "Politique");
    assert_eq!(status["visibility"], "unlisted");
    assert_eq!(status["language"], "fr");
    assert_eq!(status["url"], posts[0].url.as_str());
    assert_eq!(status["in_reply_to_id"], Value::Null);
    assert_eq!(posts_in(&progress.last().unwrap()), ids(&posts));
}

#[tokio::test]
async fn a_thread_goes_up_in_order_each_post_answering_the_one_before() {
    let mock = Mock::take().await;
    let marker = unique("thread");
    let job = publish(&Draft::new(thread_text(&marker, 3)));
    let SocialJob::Publish(publication) = &job else {
        unreachable!()
    };
    let total = publication.posts.len();
    assert!(total >= 3, "{total} posts");
    let started = Instant::now();
    let posts = published(
        outbound()
            .deliver(&row(&unique("k"), &job, None), &Saved::default())
            .await
            .unwrap(),
    );
    let elapsed = started.elapsed();
    eprintln!(
        "{total} posts in {elapsed:?}: {:?} a post",
        elapsed / total as u32
    );
    assert_eq!(
        posts.iter().map(|p| p.index).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    for pair in posts.windows(2) {
        let reply = mock.status(&pair[1].id).await;
        assert_eq!(reply["in_reply_to_id"], pair[0].id.as_str(), "{reply}");
    }
    for (post, formatted) in posts.iter().zip(&publication.posts) {
        let status = mock.status(&post.id).await;
        assert!(
            status["content"]
                .as_str()
                .unwrap()
                .contains(&format!("{}/{total}", formatted.index)),
            "{status}"
        );
    }
    let (_, context) = mock
        .get(&format!("/api/v1/statuses/{}/context", posts[0].id))
        .await;
    let descendants: Vec<&str> = context["descendants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(descendants, ids(&posts[1..]));
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00,
    0x00, 0x05, 0x00, 0x01, 0xe9, 0xfa, 0xdc, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

fn image_draft(dir: &tempfile::TempDir, text: String) -> Draft {
    let path = dir.path().join("affiche.png");
    std::fs::write(&path, PNG).unwrap();
    Draft {
        images: vec![Image {
            source: path.display().to_string(),
            alt: "Affiche du forum : une passerelle sur la Loire au couchant".into(),
        }],
        ..Draft::new(text)
    }
}

fn attachment(status: &Value) -> &Value {
    let media = status["media_attachments"].as_array().unwrap();
    assert_eq!(media.len(), 1, "{status}");
    &media[0]
}

#[tokio::test]
async fn an_image_goes_up_with_its_alt_text_on_the_first_post_only() {
    let mock = Mock::take().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = unique("image");
    let job = publish(&image_draft(&dir, thread_text(&marker, 2)));
    let progress = Saved::default();
    let posts = published(
        outbound()
            .deliver(&row(&unique("k"), &job, None), &progress)
            .await
            .unwrap(),
    );
    assert!(posts.len() >= 2);
    let first = mock.status(&posts[0].id).await;
    let media = attachment(&first);
    assert_eq!(
        media["description"],
        "Affiche du forum : une passerelle sur la Loire au couchant"
    );
    assert_eq!(media["type"], "image");
    let served = reqwest::get(media["url"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&served[..], PNG);
    let second = mock.status(&posts[1].id).await;
    assert_eq!(second["media_attachments"], json!([]));
    // The upload was saved before the status that uses it.
    let saves = progress.0.lock().unwrap().clone();
    let first_save: Value = serde_json::from_str(&saves[0]).unwrap();
    assert_eq!(first_save["media"][0]["id"], media["id"]);
    assert_eq!(first_save["posts"], json!([]));
}

#[tokio::test]
async fn an_image_still_processing_is_waited_for() {
    let mock = Mock::take().await;
    // The mock processes at once; the 202 and 206 of a real instance's processing are
    // injected, about an upload made beforehand.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(PNG)
                .file_name("big.png")
                .mime_str("image/png")
                .unwrap(),
        )
        .text("description", "Traitée lentement");
    let uploaded: Value = mock
        .http
        .post(format!("{}/api/v2/media", mock.url))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let media_id = uploaded["id"].as_str().unwrap();
    let processing = json!({"id": media_id, "type": "image", "url": null, "preview_url": null,
                            "description": "Traitée lentement"});
    mock.fault(json!({"match": {"methods": ["POST"], "path": MEDIA},
                      "effect": {"type": "status", "status": 202, "body": processing}, "count": 1}))
        .await;
    mock.fault(
        json!({"match": {"methods": ["GET"], "path": format!("/api/v1/media/{media_id}")},
                      "effect": {"type": "status", "status": 206, "body": processing}, "count": 2}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let job = publish(&image_draft(
        &dir,
        format!("Image lente {}", unique("slow")),
    ));
    let progress = Saved::default();
    let posts = published(
        outbound()
            .deliver(&row(&unique("k"), &job, None), &progress)
            .await
            .unwrap(),
    );
    assert_eq!(mock.faults().await, Vec::<Value>::new(), "every fault met");
    let status = mock.status(&posts[0].id).await;
    assert_eq!(attachment(&status)["id"], media_id);
    let saves = progress.0.lock().unwrap().clone();
    let media: Vec<Value> = saves
        .iter()
        .map(|s| serde_json::from_str::<Value>(s).unwrap()["media"].clone())
        .collect();
    assert_eq!(
        &media[..2],
        &[
            json!([{"id": media_id, "ready": false}]),
            json!([{"id": media_id, "ready": true}])
        ]
    );
}

#[tokio::test]
async fn a_retry_after_an_upload_uses_it_instead_of_uploading_again() {
    let mock = Mock::take().await;
    let dir = tempfile::tempdir().unwrap();
    let job = publish(&image_draft(&dir, format!("Une fois {}", unique("once"))));
    let key = unique("k");
    // The upload is saved, then the process dies before the status's save.
    let crashing = Crashing {
        fail_from: 2,
        asked: Saved::default(),
    };
    outbound()
        .deliver(&row(&key, &job, None), &crashing)
        .await
        .unwrap_err();
    let saves = crashing.asked.0.lock().unwrap().clone();
    let uploaded: Value = serde_json::from_str(&saves[0]).unwrap();
    mock.count_posts_to(MEDIA).await;
    let posts = published(
        outbound()
            .deliver(&row(&key, &job, Some(saves[0].clone())), &Saved::default())
            .await
            .unwrap(),
    );
    assert_eq!(mock.posts_counted(MEDIA).await, 0, "no second upload");
    let status = mock.status(&posts[0].id).await;
    assert_eq!(attachment(&status)["id"], uploaded["media"][0]["id"]);
}

#[tokio::test]
async fn a_row_delivered_again_after_a_crash_gives_the_same_statuses() {
    let mock = Mock::take().await;
    let marker = unique("crash");
    let job = publish(&Draft::new(thread_text(&marker, 2)));
    let key = unique("k");
    // The same outbox row both times (its key and creation time make the Idempotency-Key).
    let the_row = row(&key, &job, None);
    // The first post goes up, then the process dies before its progress is saved.
    let crashing = Crashing {
        fail_from: 1,
        asked: Saved::default(),
    };
    let error = outbound().deliver(&the_row, &crashing).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Transient(_)), "{error}");
    let first_attempt = posts_in(&crashing.asked.last().unwrap());
    assert_eq!(first_attempt.len(), 1);
    // The row comes back with no progress: everything is sent again, under the same keys.
    mock.count_posts_to(STATUSES).await;
    let posts = published(
        outbound()
            .deliver(&the_row, &Saved::default())
            .await
            .unwrap(),
    );
    assert_eq!(mock.posts_counted(STATUSES).await, posts.len() as i64);
    assert_eq!(posts[0].id, first_attempt[0], "the same first status");
    let mut on_server = mock.statuses_with(&marker).await;
    on_server.sort();
    let mut delivered = ids(&posts);
    delivered.sort();
    assert_eq!(on_server, delivered, "one status per post on the server");
}

#[tokio::test]
async fn a_server_error_is_temporary_and_the_retry_resumes_at_the_post_not_yet_up() {
    let mock = Mock::take().await;
    let marker = unique("resume");
    let job = publish(&Draft::new(thread_text(&marker, 3)));
    let key = unique("k");
    // The first post passes, the second meets a 503.
    mock.fault(json!({"match": {"methods": ["POST"], "path": STATUSES},
                      "effect": {"type": "latency", "delay_ms": 0}, "count": 1}))
        .await;
    mock.fault(json!({"match": {"methods": ["POST"], "path": STATUSES},
                      "effect": {"type": "status", "status": 503}, "count": 1}))
        .await;
    let progress = Saved::default();
    let error = outbound()
        .deliver(&row(&key, &job, None), &progress)
        .await
        .unwrap_err();
    match &error {
        DeliveryError::Transient(reason) => assert!(
            reason.contains("503") && reason.contains("publishing post 2/"),
            "{reason}"
        ),
        other => panic!("{other}"),
    }
    let saved = progress.last().unwrap();
    let first = posts_in(&saved);
    assert_eq!(first.len(), 1);
    mock.count_posts_to(STATUSES).await;
    let posts = published(
        outbound()
            .deliver(&row(&key, &job, Some(saved)), &Saved::default())
            .await
            .unwrap(),
    );
    assert_eq!(
        mock.posts_counted(STATUSES).await,
        posts.len() as i64 - 1,
        "the first post is not sent again"
    );
    assert_eq!(posts[0].id, first[0]);
    let second = mock.status(&posts[1].id).await;
    assert_eq!(second["in_reply_to_id"], first[0].as_str());
    assert_eq!(mock.statuses_with(&marker).await.len(), posts.len());
}

#[tokio::test]
async fn a_garbled_answer_is_temporary() {
    let mock = Mock::take().await;
    let marker = unique("garbled");
    let job = publish(&Draft::new(format!("Brouillé {marker}")));
    let key = unique("k");
    mock.fault(json!({"match": {"methods": ["POST"], "path": STATUSES},
                      "effect": {"type": "malformed"}, "count": 1}))
        .await;
    let error = outbound()
        .deliver(&row(&key, &job, None), &Saved::default())
        .await
        .unwrap_err();
    match error {
        DeliveryError::Transient(reason) => {
            assert!(
                reason.contains("unreadable answer from Mastodon"),
                "{reason}"
            )
        }
        other => panic!("{other}"),
    }
    let posts = published(
        outbound()
            .deliver(&row(&key, &job, None), &Saved::default())
            .await
            .unwrap(),
    );
    assert_eq!(mock.statuses_with(&marker).await, ids(&posts));
}

#[tokio::test]
async fn a_rate_limit_asks_for_a_retry_when_the_window_resets() {
    let mock = Mock::take().await;
    let job = publish(&Draft::new(format!("Limité {}", unique("rate"))));
    let reset_in = |seconds: i64| Utc::now() + chrono::Duration::seconds(seconds);
    // (the injected 429's headers, the wait expected within two seconds: the wait is measured
    // from the answer's Date, which has whole seconds, and rounded up)
    let cases = [
        // The mock's own fault: Retry-After 300 and an epoch reset.
        (json!({"type": "ratelimit"}), 300),
        // The mock's rate limiter: an epoch reset, no Retry-After.
        (
            json!({"type": "status", "status": 429,
                   "headers": {"X-RateLimit-Reset": reset_in(120).timestamp().to_string()}}),
            120,
        ),
        // Real Mastodon (Rack::Attack): an ISO 8601 reset with microseconds, no Retry-After.
        (
            json!({"type": "status", "status": 429, "body": {"error": "Too many requests"},
                   "headers": {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                               "X-RateLimit-Reset": reset_in(90).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()}}),
            90,
        ),
    ];
    for (effect, expected) in cases {
        mock.fault(json!({"match": {"methods": ["POST"], "path": STATUSES},
                          "effect": effect, "count": 1}))
            .await;
        let error = outbound()
            .deliver(&row(&unique("k"), &job, None), &Saved::default())
            .await
            .unwrap_err();
        match error {
            DeliveryError::RetryAfter { after, reason } => {
                assert!(
                    (expected - 2..=expected + 2).contains(&(after.as_secs() as i64)),
                    "{effect}: {after:?}"
                );
                assert!(reason.contains("Too many requests"), "{reason}");
            }
            other => panic!("{effect}: {other}"),
        }
    }
}

#[tokio::test]
async fn a_refused_token_is_permanent() {
    let _mock = Mock::take().await;
    let job = publish(&Draft::new(format!("Refusé {}", unique("token"))));
    let error = outbound_with(&server(), "not-a-token", Duration::from_secs(10))
        .deliver(&row(&unique("k"), &job, None), &Saved::default())
        .await
        .unwrap_err();
    match error {
        DeliveryError::Permanent(reason) => assert!(
            reason.starts_with("Mastodon refused the access token: "),
            "{reason}"
        ),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_post_over_the_limit_is_rejected_for_good_in_the_servers_words() {
    let _mock = Mock::take().await;
    let mut posts = format_draft(&Draft::new("court"), Network::Mastodon);
    // Past the formatter, as from a server with a lower limit than the one measured.
    posts[0].text = "x".repeat(600);
    let job = SocialJob::Publish(Publication {
        draft: 7,
        network: Network::Mastodon,
        posts,
        language: None,
    });
    let error = outbound()
        .deliver(&row(&unique("k"), &job, None), &Saved::default())
        .await
        .unwrap_err();
    match error {
        DeliveryError::Permanent(reason) => assert!(
            reason.contains("Mastodon rejected the content while publishing post 1/1")
                && reason.contains("Text is too long"),
            "{reason}"
        ),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_temporary() {
    let mock = Mock::take().await;
    let job = publish(&Draft::new(format!("Silence {}", unique("timeout"))));
    // The mock holds the request 30 s; the connector gives up after its timeout.
    mock.fault(json!({"match": {"methods": ["POST"], "path": STATUSES},
                      "effect": {"type": "timeout"}, "count": 1}))
        .await;
    let started = Instant::now();
    let error = outbound_with(&server(), TOKEN, Duration::from_secs(1))
        .deliver(&row(&unique("k"), &job, None), &Saved::default())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    match error {
        DeliveryError::Transient(reason) => {
            assert!(reason.contains("no answer from Mastodon"), "{reason}")
        }
        other => panic!("{other}"),
    }
    // Nothing listens on port 9 (discard) here: the connection is refused.
    let error = outbound_with("http://127.0.0.1:9", TOKEN, Duration::from_secs(5))
        .deliver(&row(&unique("k"), &job, None), &Saved::default())
        .await
        .unwrap_err();
    match error {
        DeliveryError::Transient(reason) => {
            assert!(
                reason.contains("cannot reach Mastodon at http://127.0.0.1:9"),
                "{reason}"
            )
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_thread_is_deleted_and_a_post_already_gone_counts_as_deleted() {
    let mock = Mock::take().await;
    let marker = unique("delete");
    let posts = published(
        outbound()
            .deliver(
                &row(
                    &unique("k"),
                    &publish(&Draft::new(thread_text(&marker, 2))),
                    None,
                ),
                &Saved::default(),
            )
            .await
            .unwrap(),
    );
    // Someone deleted the last post by hand already.
    let last = posts.last().unwrap();
    let response = mock
        .http
        .delete(format!("{}/api/v1/statuses/{}", mock.url, last.id))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let job = SocialJob::Delete {
        draft: 7,
        posts: posts.clone(),
    };
    for _ in 0..2 {
        // Twice: a retry of a deletion that went through is done at once.
        let delivered = outbound()
            .deliver(&row(&unique("k"), &job, None), &Saved::default())
            .await
            .unwrap();
        let receipt: Receipt = serde_json::from_str(&delivered.receipt.unwrap()).unwrap();
        assert_eq!(
            receipt,
            Receipt::Deleted {
                draft: 7,
                network: Network::Mastodon
            }
        );
    }
    for post in &posts {
        let (code, _) = mock.get(&format!("/api/v1/statuses/{}", post.id)).await;
        assert_eq!(code, 404, "{} still there", post.id);
    }
    assert_eq!(mock.statuses_with(&marker).await, Vec::<String>::new());
}

/// The connector as `bot.toml` makes it, its token in a file beside the config.
fn configured(
    dir: &tempfile::TempDir,
    base_url: &str,
    token: &str,
) -> std::sync::Arc<dyn Connector> {
    std::fs::write(dir.path().join("mastodon.token"), format!("{token}\n")).unwrap();
    let source = format!(
        "[connectors.social]\ntype = \"mastodon\"\nenabled = true\nbase_url = \"{base_url}\"\naccess_token_file = \"mastodon.token\"\n"
    );
    let config = passerelle::config::Config::parse(&source, &dir.path().join("bot.toml")).unwrap();
    let mut section = config.connectors.0["social"].clone();
    section.remove("type");
    section.remove("enabled");
    (REGISTRATION.build)(&Setup {
        name: "social",
        section: &section,
        config: &config,
    })
    .unwrap()
}

#[tokio::test]
async fn doctor_names_the_account_or_says_what_is_wrong() {
    let _mock = Mock::take().await;
    let dir = tempfile::tempdir().unwrap();
    let checks = configured(&dir, &server(), TOKEN).health().await;
    assert_eq!(checks.len(), 1);
    assert!(checks[0].ok, "{checks:?}");
    assert_eq!(
        checks[0].summary,
        format!("social: @testuser on {}", server().trim_end_matches('/'))
    );
    let checks = configured(&dir, &server(), "not-a-token").health().await;
    assert!(!checks[0].ok);
    assert!(
        checks[0]
            .summary
            .starts_with("social: Mastodon refused the access token: "),
        "{checks:?}"
    );
    let checks = configured(&dir, "http://127.0.0.1:9", TOKEN).health().await;
    assert!(!checks[0].ok);
    assert!(
        checks[0]
            .summary
            .starts_with("social: cannot reach Mastodon at http://127.0.0.1:9: "),
        "{checks:?}"
    );
}
