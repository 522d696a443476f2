//! Command round trip through a real Synapse (start it first: `scripts/synapse.sh start`): the
//! time from a member's client sending `!p aide` to the bot's answer reaching that client by
//! long-poll sync, next to the raw floor measured in the same run, interleaved (client A sends,
//! client B sees it by long-poll sync). The bot runs as its own process (`passerelle run`,
//! the release binary), so its CPU time and RSS are its own: CPU time per command from the
//! process CPU clock (and /proc/PID/stat ticks as a cross-check), RSS from /proc/PID/status at
//! idle and after the run. Also the bot's own processing time, from the command event's server
//! timestamp to the answer's, minus one raw trip; and a short encrypted-room run.
//!
//! Pacing matters. `Client::sync` in matrix-sdk 0.18 sleeps a whole second before its next
//! request when the previous answer came less than a second earlier (`delay_sync`). The members
//! here and the bot therefore run their own loops of `sync_once` (a long poll always waiting,
//! as Element does). The main series leaves a quiet second after each answer; a back-to-back
//! series sends each command as soon as the previous answer arrived.
//!
//! `cargo bench --bench matrix_roundtrip` (optionally `-- 200` for the number of runs). Linux
//! only (/proc). Fresh accounts on every run; the bot's files live in a temporary folder.

// matrix-sdk's sync future is deep: proving it Send for tokio::spawn needs a higher limit.
#![recursion_limit = "256"]

use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::room::create_room::v3::{
    Request as CreateRoomRequest, RoomPreset,
};
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, Relation, RoomMessageEventContent,
};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use matrix_sdk::{Client, Room};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const HOMESERVER: &str = "http://127.0.0.1:8008";
const PASSWORD: &str = "bench-passphrase";
/// The cheapest realistic command: what a newcomer types first, open to anyone, answered
/// from the registry and one template (no ticket, no search).
const COMMAND: &str = "!p aide";
const ANSWER_STARTS: &str = "Voici ce que je sais faire";
const TIMEOUT: Duration = Duration::from_secs(20);
/// Pause before each trip, so the members' sync loops are back in their long poll.
const SETTLE: Duration = Duration::from_millis(60);
/// After an answer, the bot still handles its own echo and saves its sync position.
const AFTERMATH: Duration = Duration::from_millis(120);
/// In the main series, the rest after each answer: the bot's sync loop sleeps 1 s after two
/// sync answers less than 1 s apart (its answer's echo is the second).
const QUIET: Duration = Duration::from_millis(1100);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A user name no earlier run used.
fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("bench{tag}{nanos:x}")
}

fn register(name: &str) -> OwnedUserId {
    let status = std::process::Command::new(root().join("scripts/synapse.sh"))
        .args(["register", name, PASSWORD])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("scripts/synapse.sh runs");
    assert!(
        status.success(),
        "cannot register {name}: is Synapse up (scripts/synapse.sh start)?"
    );
    UserId::parse(format!("@{name}:localhost")).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The bot, as its own process.

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

unsafe extern "C" {
    fn clock_getcpuclockid(pid: i32, clock_id: *mut i32) -> i32;
    fn clock_gettime(clock_id: i32, tp: *mut Timespec) -> i32;
    fn sysconf(name: i32) -> i64;
}

const SC_CLK_TCK: i32 = 2;

struct Bot {
    child: std::process::Child,
    clock: i32,
    log: PathBuf,
}

impl Bot {
    fn start(dir: &Path, user: &str) -> Bot {
        std::fs::write(dir.join("password"), PASSWORD).unwrap();
        std::fs::write(dir.join("store-passphrase"), "bench store secret").unwrap();
        let q = |p: PathBuf| format!("\"{}\"", p.display());
        let data = root().join("data");
        let log = dir.join("bot.log");
        let text = format!(
            r#"[bot]
commands_dir = {commands}
prompts_dir = {prompts}
log_level = "warn"
log_file = {log}

[store]
url = "sqlite://{db}"

[directory]
topics = {topics}
geography_dir = {geo}
organisations = {orgs}
seed_members = {members}
seed_interventions = {talks}

[mail]
rules = {rules}

[connectors.console]
enabled = false

[connectors.maildir]
enabled = false

[connectors.matrix]
enabled = true
homeserver = "{HOMESERVER}"
user = "{user}"
password_file = {password}
store_dir = {store}
store_passphrase_file = {passphrase}
invite_from = [":localhost"]
"#,
            commands = q(root().join("commands")),
            prompts = q(root().join("prompts")),
            log = q(log.clone()),
            db = dir.join("bot.db").display(),
            topics = q(data.join("topics.toml")),
            geo = q(data.join("geo")),
            orgs = q(data.join("odf/organisations.csv")),
            members = q(data.join("sample/members.csv")),
            talks = q(data.join("sample/interventions.csv")),
            rules = q(data.join("mail/rules.toml")),
            password = q(dir.join("password")),
            store = q(dir.join("matrix")),
            passphrase = q(dir.join("store-passphrase")),
        );
        let config = dir.join("bot.toml");
        std::fs::write(&config, text).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut clock = 0;
        // SAFETY: a valid pointer to a local; the call only writes a clock id there.
        let status = unsafe { clock_getcpuclockid(child.id() as i32, &mut clock) };
        assert_eq!(status, 0, "no CPU clock for the bot process");
        Bot { child, clock, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time of the whole process (every thread, ended ones too), in nanoseconds.
    fn cpu_ns(&self) -> u64 {
        let mut ts = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid pointer to a local Timespec (x86_64/aarch64 Linux layout).
        let status = unsafe { clock_gettime(self.clock, &mut ts) };
        assert_eq!(status, 0, "cannot read the bot's CPU clock (did it exit?)");
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// (utime, stime) from /proc/PID/stat, in clock ticks.
    fn stat_ticks(&self) -> (u64, u64) {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        // Fields 14 and 15 of proc(5); the rest after ")" starts at field 3.
        (fields[11].parse().unwrap(), fields[12].parse().unwrap())
    }

    /// A line of /proc/PID/status, in its unit (kB for memory).
    fn status(&self, key: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    fn memory(&self) -> Memory {
        Memory {
            rss: self.status("VmRSS"),
            anon: self.status("RssAnon"),
            file: self.status("RssFile"),
            peak: self.status("VmHWM"),
            threads: self.status("Threads"),
        }
    }

    fn alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!("the bot exited ({status}); its log:\n{log}");
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Memory {
    rss: u64,
    anon: u64,
    file: u64,
    peak: u64,
    threads: u64,
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |kb: u64| kb as f64 / 1024.0;
        write!(
            f,
            "RSS {:.1} MiB (anon {:.1}, file {:.1}), peak {:.1} MiB, {} threads",
            mib(self.rss),
            mib(self.anon),
            mib(self.file),
            mib(self.peak),
            self.threads
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The members: matrix-sdk clients with in-memory stores, each in a continuous long-poll sync
// whose message handler forwards what arrives, stamped on arrival.

struct Seen {
    at: Instant,
    room: OwnedRoomId,
    event_id: OwnedEventId,
    sender: OwnedUserId,
    body: String,
    server_ts: u64,
    thread: Option<OwnedEventId>,
}

struct Person {
    client: Client,
    seen: mpsc::UnboundedReceiver<Seen>,
    sync: tokio::task::JoinHandle<()>,
}

impl Person {
    async fn log_in(name: &str) -> Person {
        let client = Client::builder()
            .homeserver_url(HOMESERVER)
            .respect_login_well_known(false)
            .build()
            .await
            .unwrap();
        client
            .matrix_auth()
            .login_username(name, PASSWORD)
            .initial_device_display_name("bench person")
            .await
            .unwrap();
        client
            .sync_once(SyncSettings::default().timeout(Duration::ZERO))
            .await
            .unwrap();
        let (tx, seen) = mpsc::unbounded_channel();
        client.add_event_handler(move |event: OriginalSyncRoomMessageEvent, room: Room| {
            let at = Instant::now();
            let tx = tx.clone();
            async move {
                let body = match &event.content.msgtype {
                    MessageType::Text(t) => t.body.clone(),
                    MessageType::Notice(n) => n.body.clone(),
                    _ => event.content.body().to_string(),
                };
                let thread = match &event.content.relates_to {
                    Some(Relation::Thread(t)) => Some(t.event_id.clone()),
                    _ => None,
                };
                let _ = tx.send(Seen {
                    at,
                    room: room.room_id().to_owned(),
                    event_id: event.event_id.clone(),
                    sender: event.sender.clone(),
                    body,
                    server_ts: u64::from(event.origin_server_ts.get()),
                    thread,
                });
            }
        });
        let sync = tokio::spawn({
            let client = client.clone();
            async move {
                // Not `Client::sync`: see the top of this file. `sync_once` resumes from the
                // stored position, runs the handlers and sends the E2EE requests.
                let settings = SyncSettings::default().timeout(Duration::from_secs(30));
                loop {
                    if let Err(error) = client.sync_once(settings.clone()).await {
                        eprintln!("a member's sync failed: {error}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Person { client, seen, sync }
    }

    fn id(&self) -> OwnedUserId {
        self.client.user_id().unwrap().to_owned()
    }

    fn drain(&mut self) {
        while self.seen.try_recv().is_ok() {}
    }

    async fn next(&mut self, what: &str) -> Seen {
        match tokio::time::timeout(TIMEOUT, self.seen.recv()).await {
            Ok(Some(seen)) => seen,
            _ => panic!("{what}: nothing within {TIMEOUT:?}"),
        }
    }

    async fn create_room(&self, invite: &[&UserId], encrypted: bool) -> Room {
        let mut request = CreateRoomRequest::new();
        request.invite = invite.iter().map(|u| (*u).to_owned()).collect();
        request.preset = Some(RoomPreset::PrivateChat);
        if encrypted {
            request.initial_state = vec![
                InitialStateEvent::with_empty_state_key(
                    RoomEncryptionEventContent::with_recommended_defaults(),
                )
                .to_raw_any(),
            ];
        }
        self.client.create_room(request).await.unwrap()
    }

    /// Waits until this member's own sync shows `who` joined `room`.
    async fn wait_joined(&self, room: &RoomId, who: &UserId, bot: &mut Bot) {
        let started = Instant::now();
        loop {
            if let Some(room) = self.client.get_room(room)
                && let Ok(Some(member)) = room.get_member_no_sync(who).await
                && *member.membership() == MembershipState::Join
            {
                return;
            }
            bot.alive();
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{who} never joined {room}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn send(room: &Room, body: &str) -> OwnedEventId {
    room.send(RoomMessageEventContent::text_plain(body))
        .await
        .unwrap()
        .response
        .event_id
}

/// Raw floor: A sends into a room B is in; the time until B's sync shows it, in ms.
async fn raw_trip(a_room: &Room, b: &mut Person, n: usize) -> f64 {
    tokio::time::sleep(SETTLE).await;
    b.drain();
    let body = format!("floor {n} {}", std::process::id());
    let started = Instant::now();
    send(a_room, &body).await;
    loop {
        let seen = b.next("raw floor").await;
        if seen.room == a_room.room_id() && seen.body == body {
            return (seen.at - started).as_secs_f64() * 1000.0;
        }
    }
}

struct BotTrip {
    /// Command sent → answer seen by A's sync, ms.
    round_trip: f64,
    /// Answer's server timestamp − command's, ms.
    server_gap: f64,
    /// The bot's CPU time from the send until the answer's aftermath settled, ms.
    cpu: f64,
}

/// A sends the command in a room with the bot; the time until A's own sync shows the answer
/// (a notice from the bot in the command's thread).
async fn bot_trip(a: &mut Person, room: &Room, bot: &Bot, bot_id: &UserId) -> BotTrip {
    tokio::time::sleep(SETTLE).await;
    a.drain();
    let cpu_before = bot.cpu_ns();
    let started = Instant::now();
    let command = send(room, COMMAND).await;
    let (mut echo, mut answer) = (None, None);
    while echo.is_none() || answer.is_none() {
        let seen = a.next("the bot's answer").await;
        if seen.event_id == command {
            echo = Some(seen);
        } else if seen.sender == bot_id && seen.thread.as_ref() == Some(&command) {
            assert!(
                seen.body.starts_with(ANSWER_STARTS),
                "unexpected answer: {}",
                seen.body
            );
            answer = Some(seen);
        }
    }
    let (echo, answer) = (echo.unwrap(), answer.unwrap());
    let round_trip = (answer.at - started).as_secs_f64() * 1000.0;
    tokio::time::sleep(AFTERMATH).await;
    let cpu = (bot.cpu_ns() - cpu_before) as f64 / 1e6;
    BotTrip {
        round_trip,
        server_gap: answer.server_ts as f64 - echo.server_ts as f64,
        cpu,
    }
}

// ---------------------------------------------------------------------------------------------
// Figures.

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Summary {
    median: f64,
    p95: f64,
    p99: f64,
    max: f64,
}

fn summary(samples: &[f64]) -> Summary {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    Summary {
        median: percentile(&sorted, 0.5),
        p95: percentile(&sorted, 0.95),
        p99: percentile(&sorted, 0.99),
        max: *sorted.last().unwrap(),
    }
}

fn row(name: &str, samples: &[f64], floor: f64) -> Summary {
    let s = summary(samples);
    println!(
        "  {name:<44} {:>8.2} {:>8.2} {:>8.2} {:>8.2}   {:>5.2}× {:>5.2}× {:>5.2}×",
        s.median,
        s.p95,
        s.p99,
        s.max,
        s.median / floor,
        s.p95 / floor,
        s.p99 / floor,
    );
    s
}

fn header(title: &str) {
    println!("{title}");
    println!(
        "  {:<44} {:>8} {:>8} {:>8} {:>8}   {:>6} {:>6} {:>6}",
        "ms", "median", "p95", "p99", "max", "med/fl", "p95/fl", "p99/fl"
    );
}

fn main() {
    let runs = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(200);
    let encrypted_runs = (runs / 10).max(5);
    let back_to_back_runs = (runs / 5).max(10);
    let warmup = 10;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        let (bot_name, a_name, b_name, c_name) =
            (unique("bot"), unique("a"), unique("b"), unique("c"));
        let bot_id = register(&bot_name);
        for name in [&a_name, &b_name, &c_name] {
            register(name);
        }
        let mut bot = Bot::start(dir.path(), &bot_name);
        let mut a = Person::log_in(&a_name).await;
        let mut b = Person::log_in(&b_name).await;
        let c = Person::log_in(&c_name).await;
        let (b_id, c_id) = (b.id(), c.id());

        // The floor rooms: A and B, plain and encrypted.
        let floor_room = a.create_room(&[&b_id], false).await;
        let floor_e2ee = a.create_room(&[&b_id], true).await;
        for room in [&floor_room, &floor_e2ee] {
            b.client.join_room_by_id(room.room_id()).await.unwrap();
            a.wait_joined(room.room_id(), &b_id, &mut bot).await;
        }
        // The bot's rooms: a plain room with a third member (C, who never syncs), so the bot
        // reads it as a room, not a direct chat; and an encrypted one.
        let bot_room = a.create_room(&[&bot_id, &c_id], false).await;
        c.client.join_room_by_id(bot_room.room_id()).await.unwrap();
        c.sync.abort();
        let bot_e2ee = a.create_room(&[&bot_id], true).await;
        for room in [&bot_room, &bot_e2ee] {
            a.wait_joined(room.room_id(), &bot_id, &mut bot).await;
        }
        a.wait_joined(bot_room.room_id(), &c_id, &mut bot).await;

        // Idle: logged in, both rooms joined, nothing asked yet.
        tokio::time::sleep(Duration::from_secs(3)).await;
        bot.alive();
        let idle_memory = bot.memory();
        let (idle_cpu0, idle_started) = (bot.cpu_ns(), Instant::now());
        tokio::time::sleep(Duration::from_secs(5)).await;
        let idle_rate =
            (bot.cpu_ns() - idle_cpu0) as f64 / 1e6 / idle_started.elapsed().as_secs_f64();

        for n in 0..warmup {
            raw_trip(&floor_room, &mut b, n).await;
            bot_trip(&mut a, &bot_room, &bot, &bot_id).await;
            tokio::time::sleep(QUIET).await;
        }

        // Main series: a raw trip, then a command, then a quiet second.
        let (mut floor, mut trips) = (Vec::new(), Vec::new());
        let (cpu0, ticks0, window) = (bot.cpu_ns(), bot.stat_ticks(), Instant::now());
        for n in 0..runs {
            floor.push(raw_trip(&floor_room, &mut b, warmup + n).await);
            trips.push(bot_trip(&mut a, &bot_room, &bot, &bot_id).await);
            tokio::time::sleep(QUIET).await;
        }
        let window = window.elapsed().as_secs_f64();
        let ticks1 = bot.stat_ticks();
        let cpu_total = (bot.cpu_ns() - cpu0) as f64 / 1e6;
        let (user_ticks, sys_ticks) = (ticks1.0 - ticks0.0, ticks1.1 - ticks0.1);
        bot.alive();
        let after_memory = bot.memory();

        // Back to back: each command as soon as the previous answer arrived (and settled).
        let mut back_to_back = Vec::new();
        for _ in 0..back_to_back_runs {
            back_to_back.push(bot_trip(&mut a, &bot_room, &bot, &bot_id).await);
        }
        tokio::time::sleep(QUIET).await;

        let (mut floor_e, mut trips_e) = (Vec::new(), Vec::new());
        for n in 0..encrypted_runs + 3 {
            let raw = raw_trip(&floor_e2ee, &mut b, 10_000 + n).await;
            let trip = bot_trip(&mut a, &bot_e2ee, &bot, &bot_id).await;
            tokio::time::sleep(QUIET).await;
            if n >= 3 {
                floor_e.push(raw);
                trips_e.push(trip);
            }
        }
        bot.alive();
        let e2ee_memory = bot.memory();

        // -------------------------------------------------------------------------------------
        // SAFETY: sysconf takes and returns plain integers.
        let tick_hz = unsafe { sysconf(SC_CLK_TCK) }.max(1) as f64;
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let round: Vec<f64> = trips.iter().map(|t| t.round_trip).collect();
        let gaps: Vec<f64> = trips.iter().map(|t| t.server_gap).collect();
        let cpu: Vec<f64> = trips.iter().map(|t| t.cpu).collect();
        println!();
        println!(
            "Matrix command round trip through Synapse ({HOMESERVER}), command \"{COMMAND}\", \
             {runs} runs one at a time after {warmup} warm-up, raw floor interleaved, \
             {} ms quiet after each answer",
            QUIET.as_millis()
        );
        println!();
        let raw_floor = summary(&floor).median;
        header("Unencrypted rooms");
        row("raw floor: A sends → B's long-poll sync", &floor, raw_floor);
        let main = row("round trip: A sends → bot's answer at A", &round, raw_floor);
        let back: Vec<f64> = back_to_back.iter().map(|t| t.round_trip).collect();
        let back_s = row(
            &format!("back to back ({back_to_back_runs} runs, no quiet second)"),
            &back,
            raw_floor,
        );
        let target = 2.0 * raw_floor + 1.0;
        println!(
            "  target: median ≤ 2 × floor + 1 ms = {target:.2} ms → {:.2} ms: {}; \
             back to back {:.2} ms: {}",
            main.median,
            verdict(main.median <= target),
            back_s.median,
            verdict(back_s.median <= target),
        );
        println!();
        let gap = summary(&gaps);
        let back_gap = summary(
            &back_to_back
                .iter()
                .map(|t| t.server_gap)
                .collect::<Vec<_>>(),
        )
        .median;
        println!(
            "Bot processing (answer's server ts − command's, ms resolution): median {:.0} ms, \
             p95 {:.0} ms, p99 {:.0} ms; minus one raw trip ({raw_floor:.2} ms): median {:.2} ms \
             (back to back: {back_gap:.0} ms − raw trip = {:.2} ms)",
            gap.median,
            gap.p95,
            gap.p99,
            gap.median - raw_floor,
            back_gap - raw_floor,
        );
        let per_command = summary(&cpu);
        let mean_cpu = cpu.iter().sum::<f64>() / cpu.len() as f64;
        // Seconds the CPU clock was read over per command: the trip and its aftermath.
        let bracket =
            round.iter().sum::<f64>() / round.len() as f64 / 1000.0 + AFTERMATH.as_secs_f64();
        println!(
            "Bot CPU per command (process CPU clock, send → answer + {} ms): mean {:.3} ms, \
             median {:.3} ms, p95 {:.3} ms; idle background in that time ≈ {:.3} ms \
             (idle rate {:.3} ms/s); target ≤ 0.3 ms: {}",
            AFTERMATH.as_millis(),
            mean_cpu,
            per_command.median,
            per_command.p95,
            idle_rate * bracket,
            idle_rate,
            verdict(mean_cpu - idle_rate * bracket <= 0.3),
        );
        println!(
            "  whole series ({window:.1} s, floor trips and quiet seconds included): {:.3} ms \
             per command by the CPU clock; /proc stat: {:.3} ms user + {:.3} ms system \
             ({} ticks at {tick_hz} Hz); idle background over the series ≈ {:.3} ms per command",
            cpu_total / runs as f64,
            user_ticks as f64 * 1000.0 / tick_hz / runs as f64,
            sys_ticks as f64 * 1000.0 / tick_hz / runs as f64,
            user_ticks + sys_ticks,
            idle_rate * window / runs as f64,
        );
        println!(
            "Bot memory at idle (joined, nothing asked): {idle_memory}; target < 40 MiB: {}",
            verdict(idle_memory.rss < 40 * 1024)
        );
        println!(
            "Bot memory after the {runs} runs: {after_memory}; target < 40 MiB: {}",
            verdict(after_memory.rss < 40 * 1024)
        );
        println!();
        let round_e: Vec<f64> = trips_e.iter().map(|t| t.round_trip).collect();
        let cpu_e: Vec<f64> = trips_e.iter().map(|t| t.cpu).collect();
        let floor_e_median = summary(&floor_e).median;
        header(&format!(
            "Encrypted rooms (megolm), {encrypted_runs} runs after 3 warm-up"
        ));
        row("raw floor: A sends → B decrypts", &floor_e, floor_e_median);
        row(
            "round trip: A → bot decrypts, answers → A",
            &round_e,
            floor_e_median,
        );
        println!(
            "  bot CPU per encrypted command: mean {:.3} ms; memory after: {e2ee_memory}",
            cpu_e.iter().sum::<f64>() / cpu_e.len() as f64
        );

        // What the bot logged (warn and above), by message.
        let log = std::fs::read_to_string(&bot.log).unwrap_or_default();
        let mut messages: Vec<(String, usize)> = Vec::new();
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            // "<timestamp>  LEVEL target: message": the timestamp dropped.
            let message = line
                .split_once(' ')
                .map_or(line, |(_, m)| m)
                .trim()
                .to_string();
            match messages.iter_mut().find(|(m, _)| *m == message) {
                Some((_, count)) => *count += 1,
                None => messages.push((message, 1)),
            }
        }
        if !messages.is_empty() {
            println!();
            println!("The bot's log (warn and above), by message:");
            for (message, count) in messages.iter().take(10) {
                println!("  {count:>5} × {message}");
            }
        }
        a.sync.abort();
        b.sync.abort();
        drop(bot);
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
}
