//! Against the real Postfix → Dovecot pair that scripts/mail-servers.sh starts on loopback:
//! the acknowledgement as it arrives in the requester's mailbox, IMAP IDLE intake, and a
//! connection killed mid-stream losing and doubling nothing.

mod common;

use passerelle::app;
use passerelle::config::Config;
use passerelle::connectors::smtp::SmtpOutbound;
use passerelle::engine::{Engine, MailHandled, OutboxWorker};
use std::sync::Arc;
use std::time::Duration;

use common::{IMAP_PORT, SMTP_PORT, eventually, mailbox, send};

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{nanos}-{}@test.example", std::process::id())
}

fn config(dir: &std::path::Path, bot: &str) -> Config {
    let mut config =
        common::config_with_store(&format!("sqlite://{}", dir.join("bot.db").display()));
    config.mail.address = bot.into();
    config.connectors.set("smtp", "enabled", true);
    config.connectors.set("smtp", "port", i64::from(SMTP_PORT));
    config.connectors.set("imap", "enabled", true);
    config.connectors.set("imap", "port", i64::from(IMAP_PORT));
    config.connectors.set("imap", "tls", false);
    config.connectors.set("imap", "username", bot);
    let password = dir.join("imap-password");
    std::fs::write(&password, "secret\n").unwrap();
    config
        .connectors
        .set("imap", "password_file", password.display().to_string());
    config
}

/// An engine of its own, watching (and sending as) `address`.
async fn bot(address: &str) -> (tempfile::TempDir, Config, Arc<Engine>) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), address);
    let engine = app::build_engine(&config).await.unwrap();
    (dir, config, engine)
}

fn request(from: &str, to: &str, message_id: &str, subject: &str) -> String {
    format!(
        "From: Bob Example <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Bonjour,\r\nNous cherchons un intervenant pour une table ronde sur les licences ouvertes\r\nle 12 mars 2027 à Lyon.\r\nMerci !\r\n"
    )
}

#[tokio::test]
async fn the_acknowledgement_arrives_with_every_header_and_its_echo_is_not_answered() {
    let (_dir, config, engine) = bot("bot@example.test").await;
    let request_id = unique("ack");
    let raw = request(
        "alice@example.test",
        "bot@example.test",
        &request_id,
        "Demande d'intervenant",
    );
    let MailHandled::Done {
        ticket: Some(number),
        outbox_ids,
        ..
    } = engine
        .handle_mail(raw.as_bytes(), chrono::Utc::now())
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(outbox_ids.len(), 1);
    let mut worker = OutboxWorker::new(
        engine.store().clone(),
        app::retry_policy(&config),
        engine.outbox_signal(),
    );
    worker.register(
        "smtp",
        Arc::new(
            SmtpOutbound::new(
                &config.connectors.section("smtp").unwrap(),
                &config.mail.address,
                &config.mail.name,
            )
            .unwrap(),
        ),
    );
    assert_eq!(
        worker.run_once(chrono::Utc::now()).await.unwrap().delivered,
        1
    );

    let (ack, _) = eventually("the acknowledgement in alice's mailbox", async || {
        mailbox("alice@example.test")
            .await
            .into_iter()
            .find(|m| String::from_utf8_lossy(m).contains(&request_id))
    })
    .await;
    let parsed = mail_parser::MessageParser::default().parse(&ack).unwrap();
    let ticket = engine.store().ticket(number).await.unwrap().unwrap();
    let header = |name: &str| parsed.header_raw(name).map(|v| v.trim().to_string());
    assert_eq!(
        parsed.subject(),
        Some(format!("Re: [ODF #{number}] Demande d'intervenant").as_str())
    );
    assert_eq!(parsed.in_reply_to().as_text(), Some(request_id.as_str()));
    assert!(header("References").unwrap().contains(&request_id));
    assert!(
        parsed.message_id().unwrap().starts_with("passerelle.")
            && parsed.message_id().unwrap().ends_with("@example.test")
    );
    assert_eq!(header("Auto-Submitted").as_deref(), Some("auto-replied"));
    assert_eq!(
        header("X-Passerelle-Loop").as_deref(),
        Some("bot@example.test")
    );
    assert_eq!(
        parsed.from().unwrap().first().unwrap().address(),
        Some("bot@example.test")
    );
    let body = parsed.body_text(0).unwrap();
    assert!(
        body.contains(&format!("[ODF-{number}-{}]", ticket.secret)),
        "{body}"
    );
    assert!(body.starts_with("Bonjour Bob Example,"), "{body}");

    // The acknowledgement coming back to the bot (a forward, a loop) is never answered.
    match engine.handle_mail(&ack, chrono::Utc::now()).await.unwrap() {
        MailHandled::Done {
            outbox_ids,
            may_answer,
            ..
        } => assert!(outbox_ids.is_empty() && !may_answer),
        MailHandled::Duplicate => panic!("the echo has its own Message-ID"),
    }
}

/// The IMAP watcher running in the background, as `passerelle run` starts it.
struct Watcher {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    fn start(engine: &Arc<Engine>, config: &Config) -> Watcher {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let imap = config.connectors.section("imap").unwrap();
        let engine = engine.clone();
        let task = tokio::spawn(async move {
            passerelle::connectors::imap::run(engine, "imap", imap, stopped).await
        });
        Watcher { stop, task }
    }

    /// Asks for shutdown and waits for the watcher to log out.
    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the watcher stops on shutdown")
            .unwrap();
    }
}

/// The IMAP connector's saved (UIDVALIDITY, UID) of INBOX.
async fn checkpoint(engine: &Engine) -> (i64, i64) {
    let value = engine
        .connector_state("imap", "INBOX")
        .await
        .unwrap()
        .expect("a checkpoint");
    let (validity, uid) = value.split_once(':').expect("UIDVALIDITY:UID");
    (validity.parse().unwrap(), uid.parse().unwrap())
}

async fn ticket_for(engine: &Engine, message_id: &str) -> Option<i64> {
    engine
        .store()
        .ticket_for_messages(&[message_id.to_string()])
        .await
        .unwrap()
}

#[tokio::test]
async fn idle_intake_survives_a_killed_connection_without_loss_or_doubles() {
    let (_dir, config, engine) = bot("intake@example.test").await;
    let watcher = Watcher::start(&engine, &config);

    // Pushed through IDLE: no polling loop, so the ticket appears as soon as Dovecot notifies.
    let first = unique("idle-1");
    send(
        "bob@example.test",
        "intake@example.test",
        &request(
            "bob@example.test",
            "intake@example.test",
            &first,
            "Intervention 1",
        ),
    )
    .await;
    let (_, latency) = eventually("the first ticket", async || {
        ticket_for(&engine, &first).await
    })
    .await;
    eprintln!("SMTP accept to ticket stored: {} ms", latency.as_millis());

    // Kill the IMAP connection, and send while the watcher is away.
    let dovecot = common::root().join(".run/mail/dovecot.conf");
    let kicked = std::process::Command::new("doveadm")
        .arg("-c")
        .arg(&dovecot)
        .args(["kick", "intake@example.test"])
        .output()
        .unwrap();
    assert!(
        kicked.status.success(),
        "{}",
        String::from_utf8_lossy(&kicked.stderr)
    );
    let later: Vec<String> = (2..=4).map(|n| unique(&format!("idle-{n}"))).collect();
    for (n, id) in later.iter().enumerate() {
        send(
            "bob@example.test",
            "intake@example.test",
            &request(
                "bob@example.test",
                "intake@example.test",
                id,
                &format!("Intervention {}", n + 2),
            ),
        )
        .await;
    }
    let mut tickets = vec![ticket_for(&engine, &first).await.unwrap()];
    for id in &later {
        let (number, _) = eventually("a ticket sent while disconnected", async || {
            ticket_for(&engine, id).await
        })
        .await;
        tickets.push(number);
    }
    tickets.sort();
    tickets.dedup();
    assert_eq!(tickets.len(), 4, "one ticket per message");
    let (validity, last_uid) = checkpoint(&engine).await;
    assert!(validity > 0 && last_uid >= 4, "{validity} {last_uid}");
    // The next ticket number proves no message made a second ticket.
    assert_eq!(
        engine.store().allocate_ticket_number().await.unwrap(),
        *tickets.last().unwrap() + 1
    );

    watcher.stop().await;
}

#[tokio::test]
async fn a_changed_uidvalidity_resynchronises_without_doubles() {
    let (_dir, config, engine) = bot("carol@example.test").await;
    let id = unique("resync");
    send(
        "bob@example.test",
        "carol@example.test",
        &request(
            "bob@example.test",
            "carol@example.test",
            &id,
            "Intervention resync",
        ),
    )
    .await;
    // A checkpoint from another UIDVALIDITY, far beyond the mailbox's UIDs: trusting it would
    // skip every message.
    engine
        .save_connector_state("imap", "INBOX", "1:999999")
        .await
        .unwrap();
    for _ in 0..2 {
        let watcher = Watcher::start(&engine, &config);
        eventually("the message found again after the resync", async || {
            ticket_for(&engine, &id).await
        })
        .await;
        watcher.stop().await;
    }
    let (validity, last_uid) = checkpoint(&engine).await;
    assert!(validity != 1 && last_uid < 999_999, "{validity} {last_uid}");
    // Two runs over the same mailbox: each message made one ticket.
    let tickets = engine.store().allocate_ticket_number().await.unwrap() - 1;
    assert_eq!(
        tickets as u32, last_uid as u32,
        "one ticket per message in carol's mailbox"
    );
}

/// Logs in to dana's mailbox (the quarantine test's own), as the MTA's user would.
async fn dana_session() -> async_imap::Session<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", IMAP_PORT))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    client
        .login("dana@example.test", "secret")
        .await
        .map_err(|(e, _)| e)
        .unwrap()
}

#[tokio::test]
async fn an_imap_message_that_cannot_be_handled_is_flagged_aside_and_the_next_one_is_handled() {
    let (_dir, config, engine) = bot("dana@example.test").await;
    let mut session = dana_session().await;
    // Found by fuzzing: mail-parser 0.11 cannot read it ("Invalid part ID").
    let poison =
        std::fs::read(common::root().join("tests/fixtures/poison/mail-parser-invalid-part-id.eml"))
            .unwrap();
    let id = unique("after-poison");
    session.select("INBOX").await.unwrap();
    let before: Vec<_> = session
        .uid_search("ALL")
        .await
        .unwrap()
        .into_iter()
        .collect();
    session.append("INBOX", None, None, &poison).await.unwrap();
    session
        .append(
            "INBOX",
            None,
            None,
            request(
                "bob@example.test",
                "dana@example.test",
                &id,
                "Intervention après un message illisible",
            )
            .replace("\r\n", "\n")
            .replace('\n', "\r\n"),
        )
        .await
        .unwrap();
    let watcher = Watcher::start(&engine, &config);
    eventually("the message after the unreadable one", async || {
        ticket_for(&engine, &id).await
    })
    .await;
    watcher.stop().await;

    let quarantined = engine.store().quarantined(10).await.unwrap();
    let poisoned: Vec<_> = quarantined
        .iter()
        .filter(|q| q.source == "imap" && q.error.contains("Invalid part ID"))
        .collect();
    assert_eq!(poisoned.len(), 1, "{quarantined:?}");
    let location = poisoned[0].location.clone().unwrap_or_default();
    assert!(
        location.contains("flagged $PasserelleQuarantine"),
        "{location}"
    );
    // On the server: the unreadable message, and only it, carries the keyword.
    session.select("INBOX").await.unwrap();
    let flagged: Vec<u32> = session
        .uid_search("KEYWORD $PasserelleQuarantine")
        .await
        .unwrap()
        .into_iter()
        .filter(|uid| !before.contains(uid))
        .collect();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    let (_, last_uid) = checkpoint(&engine).await;
    assert!(
        last_uid > i64::from(flagged[0]),
        "the checkpoint moved past it"
    );
    session.logout().await.unwrap();
}
