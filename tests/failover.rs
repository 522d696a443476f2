//! Failover: three instances of the real binary on one PostgreSQL, the leader watching a
//! mailbox of the real Dovecot with IMAP IDLE. The leader is killed with SIGKILL while mail
//! keeps coming; another instance takes the lease over in under 10 seconds and every mail is
//! handled and answered once.

mod common;

use passerelle::store::Store;
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::{Duration, Instant};

/// A config for the binary: IMAP IDLE intake on carol@example.test.
fn write_config(dir: &Path, name: &str, store_url: &str) -> PathBuf {
    let extra = format!(
        "[connectors.maildir]\nenabled = false\n\n[connectors.imap]\nenabled = true\nhost = \"127.0.0.1\"\nport = {}\ntls = false\nusername = \"carol@example.test\"\npassword_file = \"{}\"\n",
        common::IMAP_PORT,
        dir.join("imap-password").display()
    );
    common::binary_config(dir, name, store_url, "carol@example.test", &extra)
}

async fn send_request(id: &str) {
    use lettre::AsyncTransport;
    let raw = format!(
        "From: Alice <alice@example.test>\r\nTo: carol@example.test\r\nSubject: Demande d'intervenant\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nBonjour,\r\nNous cherchons un intervenant sur les licences ouvertes pour une table ronde le 12 mars 2027 à Lyon.\r\n"
    );
    let envelope = lettre::address::Envelope::new(
        Some("alice@example.test".parse().unwrap()),
        vec!["carol@example.test".parse().unwrap()],
    )
    .unwrap();
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(common::SMTP_PORT)
        .build()
        .send_raw(&envelope, raw.as_bytes())
        .await
        .expect("Postfix on 2525 (scripts/mail-servers.sh)");
}

async fn holder(store: &Arc<dyn Store>) -> Option<String> {
    store
        .lease_holder(passerelle::leadership::LEASE)
        .await
        .unwrap()
        .filter(|(_, until)| *until > chrono::Utc::now())
        .map(|(holder, _)| holder)
}

fn pid_of(holder: &str) -> u32 {
    holder.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_hands_the_mailbox_over_in_under_ten_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = common::new_url(common::Backend::Postgres).await;
    let configs: Vec<PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|n| write_config(dir.path(), n, &url))
        .collect();
    let mut children = common::Processes::default();
    children.add(common::start_binary(&configs[0]));
    // The first one up loads the store and becomes the leader.
    let store: Arc<dyn Store> = {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(store) = passerelle::store::open(&url, 2).await
                && store.migrate().await.is_ok()
                && holder(&store).await.is_some()
            {
                break store;
            }
            assert!(Instant::now() < deadline, "no leader elected");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    for config in &configs[1..] {
        children.add(common::start_binary(config));
    }
    let leader = holder(&store).await.unwrap();
    assert!(children.0.contains_key(&pid_of(&leader)), "{leader}");
    let run = std::process::id();
    let ids: Vec<String> = (0..16)
        .map(|i| format!("failover-{run}-{i}@assoc.example"))
        .collect();
    for id in &ids[..8] {
        send_request(id).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The leader dies with mail still coming.
    children.kill(pid_of(&leader));
    let killed = Instant::now();
    for id in &ids[8..] {
        send_request(id).await;
    }
    let (successor, takeover) = loop {
        if let Some(h) = holder(&store).await
            && h != leader
        {
            break (h, killed.elapsed());
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "nobody took the lease over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(children.0.contains_key(&pid_of(&successor)), "{successor}");
    // Every request gets its ticket and its acknowledgement, once.
    let deadline = Instant::now() + Duration::from_secs(60);
    let acks = loop {
        let mut tickets = Vec::new();
        for id in &ids {
            if let Some(n) = store
                .ticket_for_messages(std::slice::from_ref(id))
                .await
                .unwrap()
            {
                tickets.push(n);
            }
        }
        let mut acks = Vec::new();
        for id in &ids {
            if let Some(row) = store.outbox_by_key(&format!("mail:{id}:0")).await.unwrap()
                && row.status == "done"
            {
                acks.push(row);
            }
        }
        if tickets.len() == ids.len() && acks.len() == ids.len() {
            let mut unique = tickets.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), ids.len(), "one ticket per request");
            break acks;
        }
        assert!(
            Instant::now() < deadline,
            "{} tickets and {} acknowledgements of {}",
            tickets.len(),
            acks.len(),
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let expected: Vec<String> = acks
        .iter()
        .map(|r| passerelle::engine::mail_message_id(&r.idempotency_key, "example.test"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let copies = loop {
        let copies = common::recorded_copies().await;
        if expected.iter().all(|id| copies.contains_key(id)) || Instant::now() > deadline {
            break copies;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let sent: Vec<usize> = expected
        .iter()
        .map(|id| copies.get(id).copied().unwrap_or(0))
        .collect();
    eprintln!(
        "failover: leader {leader} killed, {successor} took over after {:.1} s; {} requests, acknowledgements sent {:?}",
        takeover.as_secs_f64(),
        ids.len(),
        sent
    );
    assert!(sent.iter().all(|n| *n == 1), "each sent once: {sent:?}");
    assert!(
        takeover < Duration::from_secs(10),
        "took {:.1} s",
        takeover.as_secs_f64()
    );
}
