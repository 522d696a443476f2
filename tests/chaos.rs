//! Chaos: the real binary reads ~1,600 mails from a Maildir (requests, member commands by
//! mail, copies of the same mail, mail without Message-ID) and sends its answers through the
//! real Postfix (scripts/mail-servers.sh), while it is killed with SIGKILL at 20+ seeded random
//! moments — on SQLite and on PostgreSQL. Afterwards every item was handled once: one ticket
//! per request, one outbox row per answer, all sent, and every sent message reached the
//! record mailbox exactly once (read over IMAP from Dovecot), so nothing was lost or doubled
//! at the transport edge either.

mod common;

use passerelle::store::Store;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REQUESTS: usize = 1200;
const COMMANDS: usize = 300;
const COPIES: usize = 80;
const WITHOUT_ID: usize = 40;
const KILLS: usize = 22;

/// xorshift64*: the kill schedule is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

/// A config for the binary: Maildir intake, commands by mail proven by our MTA's
/// Authentication-Results.
fn write_config(dir: &Path, store_url: &str, run: &str) -> PathBuf {
    let extra = format!(
        "[mail.authentication]\nmethod = \"authentication-results\"\nauthserv_id = \"mx.chaos.example\"\n\n[connectors.maildir]\nenabled = true\npath = \"{}\"\nscan_interval_ms = 100\n",
        dir.join("inbox").display()
    );
    common::binary_config(
        dir,
        "bot",
        store_url,
        &format!("bot-{run}@example.test"),
        &extra,
    )
}

struct Items {
    /// Message-IDs of the requests (each must open exactly one ticket).
    requests: Vec<String>,
    files: usize,
}

/// Writes every item into the Maildir's `new/` at once, as a delivery agent would.
fn write_maildir(dir: &Path, run: &str) -> Items {
    let new = dir.join("inbox/new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::create_dir_all(dir.join("inbox/cur")).unwrap();
    std::fs::create_dir_all(dir.join("inbox/tmp")).unwrap();
    let topics = [
        "licences ouvertes",
        "qualité des données",
        "RGPD",
        "open data et budget",
    ];
    let cities = ["Lyon", "Rennes", "Toulouse", "Lille", "Nantes"];
    let mut requests = Vec::new();
    let mut files = 0;
    let mut write = |name: String, raw: &str| {
        std::fs::write(new.join(name), raw).unwrap();
        files += 1;
    };
    for i in 0..REQUESTS {
        let id = format!("chaos-{run}-req-{i}@assoc.example");
        let raw = format!(
            "From: Requester {i} <alice@example.test>\r\nTo: bot-{run}@example.test\r\nSubject: Demande d'intervenant {i}\r\nMessage-ID: <{id}>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nBonjour,\r\nNous cherchons un intervenant sur les {} pour une table ronde le 12 mars 2027 à {}.\r\nMerci, réf. {i}\r\n",
            topics[i % topics.len()],
            cities[i % cities.len()]
        );
        write(format!("1700000000.{i:05}.req"), &raw);
        if i < COPIES {
            // The same mail delivered a second time under another name.
            write(format!("1700000001.{i:05}.copy"), &raw);
        }
        requests.push(id);
    }
    for i in 0..WITHOUT_ID {
        // No Message-ID: keyed by content. Two copies each, with different trace headers.
        let body = format!(
            "From: alice@example.test\r\nTo: bot-{run}@example.test\r\nSubject: Recherche d'un intervenant sans identifiant {i}\r\nDate: Thu, 26 Nov 2026 11:00:00 +0100\r\n\r\nBonjour, nous cherchons un intervenant sur les licences ouvertes pour une conférence à Lyon le 3 mars 2027. Réf. {i}\r\n"
        );
        write(
            format!("1700000002.{i:05}.noid"),
            &format!("Received: by node-a\r\n{body}"),
        );
        write(
            format!("1700000003.{i:05}.noid"),
            &format!("Received: by node-b\r\n{body}"),
        );
    }
    for i in 0..COMMANDS {
        let raw = format!(
            "Authentication-Results: mx.chaos.example; dkim=pass header.d=example.org; dmarc=pass header.from=example.org\r\nFrom: alex.martin@example.org\r\nTo: bot-{run}@example.test\r\nSubject: question {i}\r\nMessage-ID: <chaos-{run}-cmd-{i}@example.org>\r\n\r\ntrouve un intervenant sur les licences en Bretagne\r\n"
        );
        write(format!("1700000004.{i:05}.cmd"), &raw);
    }
    Items { requests, files }
}

async fn chaos(backend: common::Backend, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let (url, _keep) = common::new_url(backend).await;
    let run = format!("{}{}", std::process::id(), seed);
    let config = write_config(dir.path(), &url, &run);
    let items = write_maildir(dir.path(), &run);
    let mut rng = Rng(seed);
    let started = Instant::now();
    // Kill it at random moments while it works.
    let mut children = common::Processes::default();
    for _ in 0..KILLS {
        let child = children.add(common::start_binary(&config));
        std::thread::sleep(rng.millis(300, 1800));
        children.kill(child);
    }
    let killed_after = started.elapsed();
    let left_when_killed = std::fs::read_dir(dir.path().join("inbox/new"))
        .unwrap()
        .count();
    // Then let it finish.
    let last = children.add(common::start_binary(&config));
    let store: Arc<dyn Store> = passerelle::store::open(&url, 2).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let waiting = std::fs::read_dir(dir.path().join("inbox/new"))
            .unwrap()
            .count();
        let counts = store.outbox_counts().await.unwrap();
        let pending = counts
            .iter()
            .find(|(s, _)| s == "pending")
            .map(|(_, n)| *n)
            .unwrap_or(0);
        if waiting == 0 && pending == 0 && !counts.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{backend:?}: not done: {waiting} files, {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    children.kill(last);

    // Every request opened exactly one ticket.
    let mut tickets = HashMap::new();
    for id in &items.requests {
        let ticket = store
            .ticket_for_messages(std::slice::from_ref(id))
            .await
            .unwrap();
        let ticket = ticket.unwrap_or_else(|| panic!("{backend:?}: {id} opened no ticket"));
        *tickets.entry(ticket).or_insert(0) += 1;
    }
    assert!(
        tickets.values().all(|n| *n == 1),
        "{backend:?}: two requests on one ticket"
    );
    // Nobody works the tickets here: every ticket ever opened is still waiting for the team.
    let all_tickets = store.tickets_awaiting_team().await.unwrap().len();
    assert_eq!(
        all_tickets,
        REQUESTS + WITHOUT_ID,
        "{backend:?}: one ticket per request, copies and content-keyed mail included"
    );
    // One answer per request and per command, every one sent.
    let rows = store.outbox_list(None, 100_000).await.unwrap();
    assert_eq!(rows.len(), REQUESTS + WITHOUT_ID + COMMANDS, "{backend:?}");
    assert!(
        rows.iter().all(|r| r.status == "done"),
        "{backend:?}: {:?}",
        rows.iter()
            .filter(|r| r.status != "done")
            .take(3)
            .collect::<Vec<_>>()
    );
    assert_eq!(store.quarantine_count().await.unwrap(), 0, "{backend:?}");
    // And at the transport edge: each sent message reached the record mailbox once.
    let expected: Vec<String> = rows
        .iter()
        .map(|r| passerelle::engine::mail_message_id(&r.idempotency_key, "example.test"))
        .collect();
    let missing_from = |copies: &HashMap<String, usize>| {
        expected
            .iter()
            .filter(|id| !copies.contains_key(*id))
            .count()
    };
    // Postfix hands the copies to Dovecot within moments.
    let mut copies = common::recorded_copies().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while missing_from(&copies) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        copies = common::recorded_copies().await;
    }
    let missing = missing_from(&copies);
    let doubled = expected
        .iter()
        .filter(|id| copies.get(*id).is_some_and(|n| *n > 1))
        .count();
    eprintln!(
        "chaos {backend:?}: {} files, {KILLS} kills in {:.1} s ({left_when_killed} files still waiting after them), {} tickets, {} answers sent, {missing} missing, {doubled} sent twice, total {:.1} s",
        items.files,
        killed_after.as_secs_f64(),
        all_tickets,
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        (missing, doubled),
        (0, 0),
        "{backend:?}: lost or doubled at the transport edge"
    );
    assert!(
        left_when_killed > 0,
        "{backend:?}: the kills must land while work remains"
    );
}

/// One after the other: each run needs the machine's two cores to itself for its timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_twenty_times_nothing_is_lost_or_doubled_on_sqlite_and_postgres() {
    chaos(common::Backend::Sqlite, 0x5eed_0001).await;
    chaos(common::Backend::Postgres, 0x5eed_0002).await;
}
