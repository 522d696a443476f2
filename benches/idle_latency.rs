//! Latency from SMTP accept to ticket stored, with IMAP IDLE, on the real Postfix → Dovecot
//! pair (start it first: `scripts/mail-servers.sh start`). The floor is Dovecot's own notify
//! delay, measured in the same run: SMTP accept → `* EXISTS` on a bare IDLE connection.
//!
//! `cargo bench --bench idle_latency` (optionally `-- 30` for the number of messages).

use passerelle::app;
use passerelle::config::Config;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

async fn send(to: &str, message_id: &str, subject: &str) {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", 2525))
        .await
        .expect("Postfix on 127.0.0.1:2525 (scripts/mail-servers.sh start)");
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let raw = format!(
        "From: Bench <bench@example.test>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNous cherchons un intervenant pour une table ronde sur les licences ouvertes le 12 mars 2027 a Lyon.\r\n.\r\n"
    );
    let commands = [
        "EHLO bench.example".to_string(),
        "MAIL FROM:<bench@example.test>".into(),
        format!("RCPT TO:<{to}>"),
        "DATA".into(),
        raw,
        "QUIT".into(),
    ];
    lines.next_line().await.unwrap();
    for command in commands {
        write.write_all(command.as_bytes()).await.unwrap();
        if !command.ends_with(".\r\n") {
            write.write_all(b"\r\n").await.unwrap();
        }
        // Read until the last line of the reply ("250 …", not "250-…").
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let median = percentile(&samples, 0.5);
    println!(
        "{name}: median {median:.0} ms, p95 {:.0} ms, max {:.0} ms over {}",
        percentile(&samples, 0.95),
        samples.last().unwrap(),
        samples.len()
    );
    median
}

/// Dovecot's notify delay alone: a bare IDLE connection, time to `* n EXISTS`.
async fn floor(count: usize) -> Vec<f64> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", 1143))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    let mut session = client
        .login("bob@example.test", "secret")
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    let mut samples = Vec::new();
    for n in 0..count {
        session.select("INBOX").await.unwrap();
        let mut idle = session.idle();
        idle.init().await.unwrap();
        let started = Instant::now();
        send(
            "bob@example.test",
            &format!("floor-{n}-{}@bench.example", std::process::id()),
            "floor",
        )
        .await;
        let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(10));
        wait.await.unwrap();
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        session = idle.done().await.unwrap();
    }
    let _ = session.logout().await;
    samples
}

fn main() {
    let count = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(20);
    let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::parse(
        &std::fs::read_to_string(root.join("bot.toml")).unwrap(),
        &root.join("bot.toml"),
    )
    .unwrap();
    config.store.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    config.bot.log_file = None;
    config.connectors.set("imap", "enabled", true);
    config.connectors.set("imap", "port", 1143);
    config.connectors.set("imap", "tls", false);
    config
        .connectors
        .set("imap", "username", "intake@example.test");
    std::fs::write(dir.path().join("password"), "secret").unwrap();
    let password = dir.path().join("password").display().to_string();
    config.connectors.set("imap", "password_file", password);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let engine = app::build_engine(&config).await.unwrap();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let imap = config.connectors.section("imap").unwrap();
        let watcher = tokio::spawn({
            let engine = engine.clone();
            async move { passerelle::connectors::imap::run(engine, "imap", imap, stopped).await }
        });
        // Let the watcher catch up on older mail and enter IDLE.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut samples = Vec::new();
        for n in 0..count {
            let id = format!("lat-{n}-{}-{}@bench.example", std::process::id(), n);
            let started = Instant::now();
            send("intake@example.test", &id, "Demande d'intervenant").await;
            loop {
                if engine
                    .store()
                    .ticket_for_messages(std::slice::from_ref(&id))
                    .await
                    .unwrap()
                    .is_some()
                {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(15),
                    "no ticket for {id}"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let floor_median = report(
            "floor: SMTP accept → IMAP EXISTS (Dovecot notify delay)",
            floor(count).await,
        );
        let median = report("SMTP accept → ticket stored (IDLE intake)", samples);
        println!("above the floor: median +{:.0} ms", median - floor_median);
        stop.send(true).unwrap();
        let _ = futures::future::select(
            Box::pin(watcher),
            Box::pin(tokio::time::sleep(Duration::from_secs(5))),
        )
        .await;
    });
}
