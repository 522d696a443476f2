//! Shared set-up for the integration tests: stores on both backends and the real data files.
#![allow(dead_code)]

#[allow(dead_code)] // Only the evaluation runners read it.
pub mod score;

use passerelle::app;
use passerelle::config::Config;
use passerelle::engine::Knowledge;
use passerelle::store::{self, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped config, with the store replaced.
pub fn config_with_store(url: &str) -> Config {
    let source = std::fs::read_to_string(root().join("bot.toml")).unwrap();
    let mut config = Config::parse(&source, &root().join("bot.toml")).unwrap();
    config.store.url = url.to_string();
    config.bot.log_file = None;
    config
}

/// Copies a folder tree, for tests that break a copy of the shipped files.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn knowledge() -> Knowledge {
    app::load_knowledge(&config_with_store("sqlite::memory:"))
        .unwrap_or_else(|problems| panic!("{problems:?}"))
}

/// The shipped sample directory (invented members, real organisations), as on 2026-11-26.
#[allow(dead_code)] // Not every test binary reads it.
pub fn sample_directory(knowledge: &Knowledge) -> passerelle::core::directory::Directory {
    passerelle::import::directory_from_files(
        &std::fs::read(root().join("data/sample/members.csv")).unwrap(),
        &std::fs::read(root().join("data/odf/organisations.csv")).unwrap(),
        &knowledge.vocabulary,
        &knowledge.geography,
        "2026-11-26".parse().unwrap(),
    )
    .unwrap_or_else(|e| panic!("the sample directory: {e}"))
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A store on a backend, in a place of its own; the guard removes it.
pub struct TestStore {
    pub url: String,
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// The PostgreSQL server the test command starts. The suite must run there too, so a missing
/// server is a failure, not a skip.
pub fn postgres_admin_url() -> String {
    std::env::var("PASSERELLE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub async fn new_url(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (
                format!("sqlite://{}", dir.path().join("test.db").display()),
                Some(dir),
            )
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let admin = postgres_admin_url();
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| {
                    panic!("PostgreSQL at {admin} is required (scripts/test.sh starts it): {e}")
                });
            drop_old_test_databases(&mut conn).await;
            let name = unique("passerelle_test");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
            (format!("{base}/{name}"), None)
        }
    }
}

static CLEANED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Drops the databases earlier test processes created, once per process, so runs do not pile up.
/// Test binaries run one after another, so a database without this process's id is finished.
async fn drop_old_test_databases(conn: &mut sqlx::PgConnection) {
    use sqlx::Row;
    if CLEANED.swap(true, Ordering::SeqCst) {
        return;
    }
    let mine = format!("passerelle_test_{}_%", std::process::id());
    let old = sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'passerelle\\_test\\_%' AND datname NOT LIKE $1")
        .bind(mine)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    for row in old {
        let name: String = row.get("datname");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut *conn)
        .await
        .unwrap();
    }
}

pub async fn test_store(backend: Backend) -> TestStore {
    let (url, dir) = new_url(backend).await;
    let store = store::open(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    TestStore {
        url,
        store,
        _dir: dir,
    }
}

pub fn scratch_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(unique(name))
}

/// A DKIM key made for one test: signs mail as `domain` with selector `s1`, and the record
/// DNS would publish for it (pinned in the config, since tests have no DNS).
pub struct DkimKey {
    pkcs8: Vec<u8>,
    pub domain: String,
    pub record_name: String,
    pub record: String,
}

impl DkimKey {
    pub fn generate(domain: &str) -> DkimKey {
        use base64::Engine as _;
        use mail_auth::common::crypto::Ed25519Key;
        let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
        let public = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap().public_key();
        DkimKey {
            pkcs8,
            domain: domain.to_string(),
            record_name: format!("s1._domainkey.{domain}"),
            record: format!(
                "v=DKIM1; k=ed25519; p={}",
                base64::engine::general_purpose::STANDARD.encode(public)
            ),
        }
    }

    /// `raw` with a DKIM-Signature header on top.
    pub fn sign(&self, raw: &str) -> String {
        use mail_auth::common::crypto::Ed25519Key;
        use mail_auth::common::headers::HeaderWriter;
        let signature =
            mail_auth::dkim::DkimSigner::from_key(Ed25519Key::from_pkcs8_der(&self.pkcs8).unwrap())
                .domain(self.domain.clone())
                .selector("s1")
                .headers(["From", "To", "Subject", "Message-ID"])
                .sign(raw.as_bytes())
                .unwrap();
        format!("{}{raw}", signature.to_header())
    }
}

/// Child processes killed when the test ends, even when it fails.
#[derive(Default)]
pub struct Processes(pub std::collections::HashMap<u32, std::process::Child>);

impl Processes {
    pub fn add(&mut self, child: std::process::Child) -> u32 {
        let id = child.id();
        self.0.insert(id, child);
        id
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(&mut self, id: u32) {
        if let Some(mut child) = self.0.remove(&id) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for id in self.0.keys().copied().collect::<Vec<_>>() {
            self.kill(id);
        }
    }
}

/// The real Postfix (SMTP) and Dovecot (IMAP) that scripts/mail-servers.sh starts.
pub const SMTP_PORT: u16 = 2525;
pub const IMAP_PORT: u16 = 1143;

fn quoted(path: &Path) -> String {
    format!("\"{}\"", path.display())
}

/// A config file for the real binary, `dir/name.toml`: the shipped data, the sample
/// directory, fast retries, no caps on outgoing mail, SMTP through the real Postfix with a
/// record copy to bob@example.test (read back with [`recorded_copies`]), no console.
/// `mail_address` is the bot's address; `extra` adds sections (intake, authentication).
pub fn binary_config(
    dir: &Path,
    name: &str,
    store_url: &str,
    mail_address: &str,
    extra: &str,
) -> PathBuf {
    let root = root();
    let data = root.join("data");
    let password = dir.join("imap-password");
    std::fs::write(&password, "secret\n").unwrap();
    let text = format!(
        r#"[bot]
commands_dir = {commands}
prompts_dir = {prompts}
log_level = "info"
log_file = {log}

[store]
url = "{store_url}"
max_connections = 3
leader_lease_secs = 6

[directory]
topics = {topics}
geography_dir = {geo}
organisations = {orgs}
seed_members = {members}
seed_interventions = {talks}

[outbox]
initial_backoff_ms = 200
max_backoff_secs = 2
lease_secs = 3

[mail]
address = "{mail_address}"
rules = {rules}
max_per_recipient_hour = 100000
max_per_recipient_day = 100000
max_per_ticket_hour = 100000

[connectors.smtp]
enabled = true
host = "127.0.0.1"
port = {SMTP_PORT}
tls = "none"
record_copy_to = "bob@example.test"

[connectors.smtp.record_mailbox]
host = "127.0.0.1"
port = {IMAP_PORT}
tls = false
username = "bob@example.test"
password_file = {password}

[connectors.console]
enabled = false

{extra}
"#,
        commands = quoted(&root.join("commands")),
        prompts = quoted(&root.join("prompts")),
        log = quoted(&dir.join(format!("{name}.log"))),
        topics = quoted(&data.join("topics.toml")),
        geo = quoted(&data.join("geo")),
        orgs = quoted(&data.join("odf/organisations.csv")),
        members = quoted(&data.join("sample/members.csv")),
        talks = quoted(&data.join("sample/interventions.csv")),
        rules = quoted(&data.join("mail/rules.toml")),
        password = quoted(&password),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// `passerelle run` with this config, its output discarded (it logs to its file).
pub fn start_binary(config: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Message-IDs in the record mailbox (bob@example.test), with how many times each arrived.
pub async fn recorded_copies() -> std::collections::HashMap<String, usize> {
    use futures::TryStreamExt;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", IMAP_PORT))
        .await
        .expect("Dovecot on 1143 (scripts/mail-servers.sh)");
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    let mut session = client
        .login("bob@example.test", "secret")
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    session.examine("INBOX").await.unwrap();
    let fetched: Vec<_> = session
        .fetch("1:*", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap_or_default();
    let mut counts = std::collections::HashMap::new();
    for fetch in fetched {
        let header = String::from_utf8_lossy(fetch.header().unwrap_or_default()).to_string();
        if let Some((_, rest)) = header.split_once('<')
            && let Some((id, _)) = rest.split_once('>')
        {
            *counts.entry(id.to_string()).or_default() += 1;
        }
    }
    session.logout().await.unwrap();
    counts
}

/// Sends raw mail to Postfix with plain SMTP, as any outside sender would.
pub async fn send(from: &str, to: &str, raw: &str) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", SMTP_PORT))
        .await
        .expect("Postfix on 2525 (scripts/mail-servers.sh)");
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut expect = async |code: &str| {
        loop {
            let line = lines.next_line().await.unwrap().unwrap();
            assert!(line.starts_with(code), "expected {code}, got {line}");
            if line.as_bytes().get(3) == Some(&b' ') {
                break;
            }
        }
    };
    expect("220").await;
    for (command, code) in [
        ("EHLO test.example".to_string(), "250"),
        (format!("MAIL FROM:<{from}>"), "250"),
        (format!("RCPT TO:<{to}>"), "250"),
        ("DATA".into(), "354"),
    ] {
        write
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        expect(code).await;
    }
    write
        .write_all(raw.replace("\r\n.", "\r\n..").as_bytes())
        .await
        .unwrap();
    write.write_all(b"\r\n.\r\n").await.unwrap();
    expect("250").await;
    write.write_all(b"QUIT\r\n").await.unwrap();
}

/// Every message in a mailbox of the test domain (password "secret"), raw.
pub async fn mailbox(user: &str) -> Vec<Vec<u8>> {
    use futures::TryStreamExt;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", IMAP_PORT))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    let mut session = client
        .login(user, "secret")
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    session.select("INBOX").await.unwrap();
    let fetched: Vec<_> = session
        .uid_fetch("1:*", "BODY.PEEK[]")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let bodies = fetched
        .iter()
        .filter_map(|f| f.body().map(<[u8]>::to_vec))
        .collect();
    session.logout().await.unwrap();
    bodies
}

/// Asks `probe` every 20 ms until it finds something (returned with the time it took); fails
/// after 15 s, naming `what`.
pub async fn eventually<T, F: AsyncFnMut() -> Option<T>>(
    what: &str,
    mut probe: F,
) -> (T, std::time::Duration) {
    use std::time::{Duration, Instant};
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return (value, start.elapsed());
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
