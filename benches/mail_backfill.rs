//! mbox backfill throughput: parse + classify + thread + store on SQLite, next to the raw
//! mail-parser parse rate of the same archive measured in the same run.
//!
//! `cargo bench --bench mail_backfill` (optionally `-- 5000` for the number of messages).

use passerelle::app;
use passerelle::config::Config;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// A tiny deterministic generator, so every run reads the same archive.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const TOPICS: &[&str] = &[
    "les licences ouvertes",
    "le RGPD",
    "la normalisation SCDL",
    "la qualité des données",
    "les API",
    "la réutilisation",
    "open data licensing",
    "GDPR",
    "data quality",
];
const CITIES: &[&str] = &[
    "Lyon",
    "Rennes",
    "Bordeaux",
    "Toulouse",
    "Lille",
    "Nantes",
    "Marseille",
    "Strasbourg",
];
const FILLER: &str = "Nous travaillons depuis plusieurs années sur l'ouverture des données publiques de notre territoire et souhaitons partager nos retours d'expérience avec les autres collectivités du réseau. ";

/// One message of the archive, in mbox form ("From " line first).
fn message(n: usize, rng: &mut Rng, sent: &mut Vec<String>) -> String {
    let id = format!("msg{n}@bench.example");
    let filler = FILLER.repeat(2 + rng.below(30));
    let (headers, body) = match rng.below(10) {
        0..=2 => {
            let topic = TOPICS[rng.below(TOPICS.len())];
            let city = CITIES[rng.below(CITIES.len())];
            (
                format!(
                    "From: Orga {n} <orga{n}@asso{}.example>\nSubject: Demande d'intervenant sur {topic}",
                    rng.below(200)
                ),
                format!(
                    "Bonjour,\n\nNous organisons une table ronde le {} mars 2027 à {city} et cherchons un intervenant sur {topic}.\n\n{filler}\n\nCordialement,\nOrga {n}\n",
                    1 + rng.below(28)
                ),
            )
        }
        3..=4 if !sent.is_empty() => {
            let parent = sent[rng.below(sent.len())].clone();
            (
                format!(
                    "From: Orga {n} <orga{n}@asso.example>\nSubject: Re: Demande d'intervenant\nIn-Reply-To: <{parent}>\nReferences: <{parent}>"
                ),
                format!(
                    "Merci pour votre retour, c'est parfait.\n\nLe lun. 2 mars 2026 à 10:00, Orga a écrit :\n> {}\n",
                    filler.replace('\n', "\n> ")
                ),
            )
        }
        5..=6 => (
            format!(
                "From: Membre {n} <membre{n}@ville.example>\nSubject: Retour d'expérience n°{n}\nList-Id: Membres <membres.opendatafrance.example>\nPrecedence: list"
            ),
            format!("Bonjour à tous,\n\n{filler}\n"),
        ),
        7 => (
            format!(
                "From: MAILER-DAEMON@mx{n}.example\nSubject: Undelivered Mail Returned to Sender\nAuto-Submitted: auto-replied\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b{n}\""
            ),
            format!(
                "--b{n}\nContent-Type: text/plain\n\nDelivery failed.\n--b{n}\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx{n}.example\n\nFinal-Recipient: rfc822; gone{n}@example.org\nAction: failed\nStatus: 5.1.1\n--b{n}--\n"
            ),
        ),
        8 => (
            format!(
                "From: Absent {n} <absent{n}@ville.example>\nSubject: Réponse automatique : absence\nAuto-Submitted: auto-replied"
            ),
            "Je suis absent jusqu'au 4 janvier.\n".to_string(),
        ),
        _ => {
            let attachment = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n".repeat(100 + rng.below(900));
            (
                format!(
                    "From: Agent {n} <agent{n}@ville.example>\nSubject: Compte rendu de réunion {n}\nContent-Type: multipart/mixed; boundary=\"m{n}\""
                ),
                format!(
                    "--m{n}\nContent-Type: text/plain; charset=utf-8\n\n{filler}\n--m{n}\nContent-Type: application/pdf; name=\"cr-{n}.pdf\"\nContent-Disposition: attachment; filename=\"cr-{n}.pdf\"\nContent-Transfer-Encoding: base64\n\n{attachment}--m{n}--\n"
                ),
            )
        }
    };
    sent.push(id.clone());
    let date = "Mon, 02 Mar 2026 10:00:00 +0100";
    // mbox escaping: body lines starting with "From " get a ">".
    let body = body
        .lines()
        .map(|l| {
            if l.starts_with("From ") {
                format!(">{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "From bench@example Mon Mar  2 10:00:00 2026\n{headers}\nTo: contact@odf.example\nDate: {date}\nMessage-ID: <{id}>\nMIME-Version: 1.0\n\n{body}\n\n"
    )
}

fn write_archive(path: &Path, count: usize) -> u64 {
    let mut rng = Rng(0x5eed_2026_1126);
    let mut sent = Vec::new();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for n in 0..count {
        file.write_all(message(n, &mut rng, &mut sent).as_bytes())
            .unwrap();
    }
    file.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn raw_parse_rate(path: &Path) -> (usize, f64) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let messages: Vec<Vec<u8>> = mail_parser::mailbox::mbox::MessageIterator::new(file)
        .map(|m| m.unwrap().unwrap_contents())
        .collect();
    let parser = mail_parser::MessageParser::default();
    let started = Instant::now();
    let mut parts = 0;
    for raw in &messages {
        parts += parser.parse(raw).map(|m| m.parts.len()).unwrap_or(0);
    }
    let seconds = started.elapsed().as_secs_f64();
    assert!(parts > 0);
    (messages.len(), messages.len() as f64 / seconds)
}

fn main() {
    // `cargo bench` passes "--bench"; a number sets the archive size.
    let count = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(3000);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive.mbox");
    let bytes = write_archive(&archive, count);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = Config::parse(
        &std::fs::read_to_string(root.join("bot.toml")).unwrap(),
        &root.join("bot.toml"),
    )
    .unwrap();
    config.store.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    config.bot.log_file = None;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let engine = app::build_engine(&config).await.unwrap();
        let (parsed, raw_rate) = raw_parse_rate(&archive);
        let started = Instant::now();
        let report = passerelle::connectors::mbox::backfill(&engine, &archive, |_| {}).await.unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let rate = report.messages as f64 / seconds;
        println!("archive: {} messages, {:.1} MB", parsed, bytes as f64 / 1e6);
        println!("raw mail-parser parse, one thread: {raw_rate:.0} messages/s (baseline)");
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        println!("pipeline on SQLite (parse + classify + thread + store, understanding on {cores} cores): {rate:.0} messages/s = {:.1} % of raw parse", 100.0 * rate / raw_rate);
        println!("classes: {:?}; tickets touched: {}; duplicates: {}", report.classes, report.tickets, report.duplicates);
    });
}
