//! From approval to readable: a core-team member approves a draft in chat, and the bot's own
//! outbox worker (running as in `passerelle run`, woken by the commit) publishes it through the
//! Mastodon and Bluesky connectors; the clock stops when the post can be read back from the
//! server. Next to it, in the same run, the raw API call a bare script would make (post, then
//! read back) on the same servers. Reported: median and p95 over N posts of each, and the
//! difference (the aim: the bot adds at most 50 ms to the raw call).
//!
//! Needs mastodon-mock and the Bluesky PDS (`scripts/mastodon-mock.sh start`,
//! `scripts/bluesky-pds.sh start`). `cargo bench --bench social_publish [-- N]` (default 50).

use passerelle::app;
use passerelle::engine::{Handled, Inbound, InboundKey, OutboxWorker};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn server(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.into())
}

struct Servers {
    mastodon: String,
    pds: String,
    http: reqwest::Client,
}

impl Servers {
    async fn post(&self, url: &str, token: Option<&str>, body: Value) -> Value {
        let mut request = self.http.post(url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("server answers");
        assert!(response.status().is_success(), "{url}: {response:?}");
        response.json().await.expect("json")
    }

    async fn get(&self, url: &str, token: Option<&str>) -> Option<Value> {
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// Whether a status holding `mark` can be read on mastodon-mock.
    async fn on_mastodon(&self, account: &str, mark: &str) -> bool {
        let Some(statuses) = self
            .get(
                &format!(
                    "{}/api/v1/accounts/{account}/statuses?limit=5",
                    self.mastodon
                ),
                Some("mock_token"),
            )
            .await
        else {
            return false;
        };
        statuses.as_array().is_some_and(|all| {
            all.iter()
                .any(|s| s["content"].as_str().unwrap_or("").contains(mark))
        })
    }

    /// Whether a post holding `mark` can be read on the PDS.
    async fn on_bluesky(&self, did: &str, mark: &str) -> bool {
        let Some(listed) = self
            .get(
                &format!(
                    "{}/xrpc/com.atproto.repo.listRecords?repo={did}&collection=app.bsky.feed.post&limit=5",
                    self.pds
                ),
                None,
            )
            .await
        else {
            return false;
        };
        listed["records"].as_array().is_some_and(|all| {
            all.iter()
                .any(|r| r["value"]["text"].as_str().unwrap_or("").contains(mark))
        })
    }
}

/// Polls until `readable` holds, every millisecond; the time since `from`.
async fn until<F: AsyncFn() -> bool>(from: Instant, readable: F) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !readable().await {
        assert!(Instant::now() < deadline, "not readable after 20 s");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    from.elapsed()
}

fn summary(label: &str, samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(samples[samples.len() / 2]);
    let p95 = ms(samples[(samples.len() * 95 / 100).min(samples.len() - 1)]);
    println!(
        "{label:<44} median {median:7.1} ms   p95 {p95:7.1} ms   ({} posts)",
        samples.len()
    );
    (median, p95)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    let servers = Servers {
        mastodon: server("PASSERELLE_TEST_MASTODON", "http://127.0.0.1:3000"),
        pds: server("PASSERELLE_TEST_BLUESKY", "http://127.0.0.1:2583"),
        http: reqwest::Client::new(),
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let handle = format!("b{:x}.test", nanos % 36u128.pow(8));
    let created = servers
        .post(
            &format!("{}/xrpc/com.atproto.server.createAccount", servers.pds),
            None,
            json!({"handle": handle, "email": format!("{handle}@example.test"), "password": "main-password"}),
        )
        .await;
    let did = created["did"].as_str().unwrap().to_string();
    let session_token = created["accessJwt"].as_str().unwrap().to_string();
    let app_password = servers
        .post(
            &format!("{}/xrpc/com.atproto.server.createAppPassword", servers.pds),
            Some(&session_token),
            json!({"name": "bench"}),
        )
        .await["password"]
        .as_str()
        .unwrap()
        .to_string();
    let account = servers
        .get(
            &format!("{}/api/v1/accounts/verify_credentials", servers.mastodon),
            Some("mock_token"),
        )
        .await
        .expect("mastodon-mock is running (scripts/mastodon-mock.sh start)")["id"]
        .as_str()
        .unwrap()
        .to_string();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "mock_token").unwrap();
    std::fs::write(dir.path().join("app-password"), &app_password).unwrap();
    let source = std::fs::read_to_string("bot.toml").unwrap();
    let mut config = passerelle::config::Config::parse(&source, std::path::Path::new("bot.toml"))
        .expect("bot.toml");
    config.store.url = format!("sqlite://{}", dir.path().join("bot.db").display());
    config.bot.log_file = None;
    let sections: toml::Table = toml::from_str(&format!(
        "[masto]\ntype = \"mastodon\"\nbase_url = \"{}\"\naccess_token_file = \"{}\"\n[bsky]\ntype = \"bluesky\"\nservice = \"{}\"\nhandle = \"{handle}\"\napp_password_file = \"{}\"\nlink_cards = false\n",
        servers.mastodon,
        dir.path().join("token").display(),
        servers.pds,
        dir.path().join("app-password").display()
    ))
    .unwrap();
    for (name, section) in sections {
        let toml::Value::Table(section) = section else {
            unreachable!()
        };
        config.connectors.0.insert(name.clone(), section);
        config.social.networks.push(name);
    }
    let engine = app::build_engine(&config).await.unwrap();
    let mut worker = OutboxWorker::new(
        engine.store().clone(),
        app::retry_policy(&config),
        engine.outbox_signal(),
    );
    worker.report_receipts(engine.clone());
    for name in ["masto", "bsky"] {
        let mut section = config.connectors.0[name].clone();
        let kind = section.remove("type").unwrap();
        let registration = passerelle::connectors::REGISTRY
            .iter()
            .find(|r| r.kind == kind.as_str().unwrap())
            .unwrap();
        let connector = (registration.build)(&passerelle::connectors::Setup {
            name,
            section: &section,
            config: &config,
        })
        .unwrap();
        worker.register(name, connector.outbound().unwrap());
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(async move { worker.run(stopped).await });
    // The bot's answers go to a connector nobody delivers for: they are not what is measured.
    let line = std::sync::atomic::AtomicUsize::new(0);
    let say = async |text: String| {
        let n = line.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let inbound = Inbound {
            key: InboundKey::new("bench", n.to_string()),
            connector: "none".into(),
            reply_to: passerelle::core::inbound::ReplyTo::Native("bench".into()),
            sender: passerelle::core::address::Address::parse("dominique.lefevre@example.org")
                .unwrap(),
            text,
            lang: None,
            vouched_role: None,
            ticket: None,
        };
        let handled = engine.handle(&inbound).await.unwrap();
        assert!(matches!(handled, Handled::Done { .. }), "{handled:?}");
    };

    // The bot: approval to readable on each server, then the raw calls, alternating so both
    // see the same server state and machine load.
    let (mut bot_mastodon, mut bot_bluesky) = (Vec::new(), Vec::new());
    let (mut raw_mastodon, mut raw_bluesky) = (Vec::new(), Vec::new());
    // The raw script logs in once, as the connector does.
    let bluesky_session = session_token;
    for i in 0..n {
        let mark = format!("bench{nanos:x}n{i}");
        say(format!("actu : Mesure {mark} https://example.org/{i}")).await;
        let draft = engine
            .store()
            .recent_drafts(1)
            .await
            .unwrap()
            .first()
            .map(|d| d.id)
            .unwrap();
        let approved = Instant::now();
        say(format!("publie {draft}")).await;
        bot_mastodon.push(
            until(approved, async || {
                servers.on_mastodon(&account, &mark).await
            })
            .await,
        );
        bot_bluesky.push(until(approved, async || servers.on_bluesky(&did, &mark).await).await);

        let raw = format!("raw{mark}");
        let started = Instant::now();
        servers
            .post(
                &format!("{}/api/v1/statuses", servers.mastodon),
                Some("mock_token"),
                json!({ "status": format!("Mesure {raw} https://example.org/{i}") }),
            )
            .await;
        raw_mastodon.push(until(started, async || servers.on_mastodon(&account, &raw).await).await);
        let started = Instant::now();
        servers
            .post(
                &format!("{}/xrpc/com.atproto.repo.createRecord", servers.pds),
                Some(&bluesky_session),
                json!({"repo": did, "collection": "app.bsky.feed.post", "record": {
                    "$type": "app.bsky.feed.post",
                    "text": format!("Mesure {raw} https://example.org/{i}"),
                    "createdAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                }}),
            )
            .await;
        raw_bluesky.push(until(started, async || servers.on_bluesky(&did, &raw).await).await);
    }
    let _ = stop.send(true);
    let _ = worker.await;

    println!("approval → readable, {n} posts per line:");
    let (bm, bp) = summary("bot, mastodon-mock", &mut bot_mastodon);
    let (rm, rp) = summary("raw POST /api/v1/statuses + read", &mut raw_mastodon);
    let (bbm, bbp) = summary("bot, Bluesky PDS", &mut bot_bluesky);
    let (rbm, rbp) = summary("raw createRecord + read", &mut raw_bluesky);
    println!(
        "bot minus raw: mastodon-mock median {:+.1} ms, p95 {:+.1} ms; PDS median {:+.1} ms, p95 {:+.1} ms (aim ≤ +50 ms)",
        bm - rm,
        bp - rp,
        bbm - rbm,
        bbp - rbp
    );
}
