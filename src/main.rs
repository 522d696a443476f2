//! The `passerelle` command line.

use anyhow::{Context as _, anyhow};
use clap::{Parser, Subcommand};
use passerelle::app;
use passerelle::config::Config;
use passerelle::connectors::console::ConsoleConfig;
use passerelle::core::address::Address;
use passerelle::core::inbound::{Inbound, InboundKey, ReplyTo};
use passerelle::core::lang::Lang;
use passerelle::engine::Handled;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "passerelle",
    version,
    about = "Chat-ops bot for networks of local authorities that open their data together"
)]
struct Cli {
    /// The configuration file; relative paths inside it start from its directory.
    #[arg(
        long,
        short,
        global = true,
        env = "PASSERELLE_CONFIG",
        default_value = "bot.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot with every connector enabled in the config (the console reads stdin).
    Run,
    /// Send one line through the engine as a member, print the answer and exit.
    Ask {
        /// The line, as it would be typed in chat: "trouve un intervenant sur les licences".
        text: String,
        /// Answer in this language whatever the profile or the text says.
        #[arg(long, value_parser = parse_lang)]
        lang: Option<Lang>,
        /// Who is asking (email or Matrix id); defaults to the console user of the config.
        #[arg(long = "as", value_name = "MEMBER")]
        as_member: Option<String>,
    },
    /// Import data files into the store.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Load an mbox archive through the mail pipeline (tickets, threads), writing to nobody.
    Backfill {
        /// The mbox file.
        mbox: PathBuf,
    },
    /// Check the config, command files, prompts, data files and the store; report every problem,
    /// the health of each running task, the outbox and the quarantined items.
    Doctor,
    /// Look at and repair the outbox: messages waiting, sent, or dead after failing.
    Outbox {
        #[command(subcommand)]
        what: OutboxCommand,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Messages, newest first (all statuses unless one is given).
    List {
        /// Only dead messages (gave up after retrying, or refused for good).
        #[arg(long, conflicts_with = "status")]
        dead: bool,
        /// Only this status: pending, done, dead or dropped.
        #[arg(long, value_parser = ["pending", "done", "dead", "dropped"])]
        status: Option<String>,
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Send a dead message (or a waiting one) again now, with a fresh retry period.
    Retry {
        /// The message id (from `outbox list`).
        #[arg(required_unless_present = "all_dead")]
        id: Option<i64>,
        /// Every dead message.
        #[arg(long, conflicts_with = "id")]
        all_dead: bool,
    },
    /// Never send a dead or waiting message; it stays in the table, marked dropped.
    Drop {
        /// The message id (from `outbox list`).
        id: i64,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Members from a CSV or TOML file: created or updated by email, all or nothing.
    Members {
        /// The members file: CSV with a header line, or TOML with [[member]] tables.
        file: PathBuf,
        /// Import the valid rows even when some rows are invalid.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Past talks (email,date,topic,event) used for fairness in speaker search.
    Interventions {
        /// The CSV file of past talks.
        file: PathBuf,
        /// Import the valid rows even when some rows are invalid.
        #[arg(long)]
        skip_invalid: bool,
    },
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    s.parse()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Both aws-lc-rs and ring are in the graph: name the TLS provider before anything uses it.
    let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(config: Option<&Config>, default_level: &str) {
    let level = config
        .map(|c| c.bot.log_level.as_str())
        .unwrap_or(default_level);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.and_then(|c| c.bot.log_file.as_ref().map(|f| c.resolve(f))) {
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(file) => builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init(),
            Err(e) => {
                builder.init();
                tracing::warn!(file = %path.display(), error = %e, "cannot open the log file, logging to stderr");
            }
        },
        None => builder.init(),
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Doctor = cli.command {
        init_logs(None, "warn");
        return doctor(&cli.config).await;
    }
    let config = Config::load(&cli.config)?;
    match cli.command {
        Command::Run => {
            init_logs(Some(&config), "info");
            app::run(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ask {
            text,
            lang,
            as_member,
        } => {
            init_logs(None, "warn");
            ask(config, text, lang, as_member).await
        }
        Command::Import { what } => {
            init_logs(None, "warn");
            match what {
                ImportCommand::Members { file, skip_invalid } => {
                    import_members(config, &file, skip_invalid).await
                }
                ImportCommand::Interventions { file, skip_invalid } => {
                    import_interventions(config, &file, skip_invalid).await
                }
            }
        }
        Command::Backfill { mbox } => {
            init_logs(None, "warn");
            backfill(config, &mbox).await
        }
        Command::Outbox { what } => {
            init_logs(None, "warn");
            outbox(config, what).await
        }
        Command::Doctor => unreachable!("handled above"),
    }
}

async fn ask(
    config: Config,
    text: String,
    lang: Option<Lang>,
    as_member: Option<String>,
) -> anyhow::Result<ExitCode> {
    let sender = match as_member {
        Some(member) => Address::parse(&member)?,
        None => config
            .connectors
            .section::<ConsoleConfig>("console")
            .and_then(|console| console.user())
            .map_err(|e| anyhow!(e))?,
    };
    let engine = app::build_engine(&config).await?;
    let inbound = Inbound {
        key: InboundKey::new("cli", passerelle::connectors::console::session_id()),
        connector: "cli".into(),
        reply_to: ReplyTo::Console,
        sender,
        text,
        lang,
    };
    let outbox_ids = match engine.handle(&inbound).await? {
        Handled::Done { outbox_ids, .. } => outbox_ids,
        Handled::Duplicate | Handled::Ignored => return Ok(ExitCode::SUCCESS),
    };
    let worker = app::console_worker(&config, &engine, "cli");
    // The answer goes through the outbox like any other; wait until it is delivered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        worker.run_once(chrono::Utc::now()).await?;
        let mut pending = false;
        for id in &outbox_ids {
            let message = engine
                .store()
                .outbox_get(*id)
                .await?
                .ok_or_else(|| anyhow!("outbox row {id} vanished"))?;
            match message.status.as_str() {
                "done" => {}
                "dead" => {
                    return Err(anyhow!(
                        "could not print the answer: {}",
                        message.last_error.unwrap_or_default()
                    ));
                }
                _ => pending = true,
            }
        }
        if !pending {
            return Ok(ExitCode::SUCCESS);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(anyhow!("the answer is still queued after 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn print_problems(checked_fatal: &[String], errors: &[passerelle::import::RowError], file: &Path) {
    for problem in checked_fatal {
        eprintln!("{}: {problem}", file.display());
    }
    for error in errors {
        eprintln!("{}: line {}: {}", file.display(), error.line, error.reason);
    }
}

fn progress(len: usize, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

async fn import_members(
    config: Config,
    file: &Path,
    skip_invalid: bool,
) -> anyhow::Result<ExitCode> {
    let engine = app::build_engine(&config).await?;
    let checked =
        app::check_members_file(engine.store().as_ref(), engine.knowledge(), file).await?;
    print_problems(&checked.fatal, &checked.errors, file);
    if !checked.fatal.is_empty() || (!checked.errors.is_empty() && !skip_invalid) {
        eprintln!(
            "nothing imported: {} invalid row(s){}",
            checked.errors.len(),
            if checked.fatal.is_empty() {
                "; fix them or use --skip-invalid"
            } else {
                ""
            }
        );
        return Ok(ExitCode::FAILURE);
    }
    let bar = progress(checked.valid.len(), "importing members");
    // Written in chunks so the bar moves; each chunk is one transaction of creates/updates by
    // email, so a re-run after an interruption finishes the job without duplicates.
    let mut created = 0;
    let mut updated = 0;
    for chunk in checked.valid.chunks(100) {
        let counts = engine
            .store()
            .import_members(chunk, chrono::Utc::now())
            .await?;
        created += counts.created;
        updated += counts.updated;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    println!(
        "{}: {created} created, {updated} updated, {} skipped",
        file.display(),
        checked.errors.len()
    );
    Ok(ExitCode::SUCCESS)
}

async fn import_interventions(
    config: Config,
    file: &Path,
    skip_invalid: bool,
) -> anyhow::Result<ExitCode> {
    let engine = app::build_engine(&config).await?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let today = engine.today(chrono::Utc::now());
    let directory = engine.directory(today).await?;
    let emails = directory.members.iter().map(|m| m.email.clone()).collect();
    let checked = passerelle::import::check_interventions_csv(
        &bytes,
        &emails,
        &engine.knowledge().vocabulary,
        today,
    );
    print_problems(&checked.fatal, &checked.errors, file);
    if !checked.fatal.is_empty() || (!checked.errors.is_empty() && !skip_invalid) {
        eprintln!("nothing imported: {} invalid row(s)", checked.errors.len());
        return Ok(ExitCode::FAILURE);
    }
    let added = engine.store().import_interventions(&checked.valid).await?;
    println!(
        "{}: {added} talks added, {} already known, {} skipped",
        file.display(),
        checked.valid.len() - added,
        checked.errors.len()
    );
    Ok(ExitCode::SUCCESS)
}

async fn backfill(config: Config, mbox: &Path) -> anyhow::Result<ExitCode> {
    let engine = app::build_engine(&config).await?;
    let size = std::fs::metadata(mbox)
        .with_context(|| format!("cannot read {}", mbox.display()))?
        .len();
    let bar = indicatif::ProgressBar::new(size);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("backfill [{bar:40}] {bytes}/{total_bytes} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let started = std::time::Instant::now();
    let report =
        passerelle::connectors::mbox::backfill(&engine, mbox, |bytes| bar.set_position(bytes))
            .await?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}: {} messages in {seconds:.1} s ({:.0}/s), {} already known, {} with a ticket",
        mbox.display(),
        report.messages,
        report.messages as f64 / seconds.max(1e-9),
        report.duplicates,
        report.tickets
    );
    for (class, count) in &report.classes {
        println!("  {class}: {count}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn outbox(config: Config, what: OutboxCommand) -> anyhow::Result<ExitCode> {
    let store = passerelle::store::open(&config.store_url(), 1)
        .await
        .with_context(|| format!("cannot open the store {}", config.store_url()))?;
    store.migrate().await?;
    let now = chrono::Utc::now();
    match what {
        OutboxCommand::List {
            dead,
            status,
            limit,
        } => {
            let status = if dead {
                Some("dead".to_string())
            } else {
                status
            };
            let rows = store.outbox_list(status.as_deref(), limit).await?;
            if rows.is_empty() {
                println!("no messages");
            }
            for row in rows {
                let summary: String = row.body.chars().take(60).collect();
                println!(
                    "{:>6}  {:<7}  {:<8}  {:>2} tries  {}  {} → {}",
                    row.id,
                    row.status,
                    row.connector,
                    row.attempts,
                    row.created_at.format("%Y-%m-%d %H:%M"),
                    row.idempotency_key,
                    row.target
                );
                if let Some(error) = &row.last_error {
                    println!("        last error: {error}");
                }
                if row.connector != "smtp" {
                    println!("        {}", summary.replace('\n', " "));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Retry { id, all_dead } => {
            let n = store.outbox_requeue(id.filter(|_| !all_dead), now).await?;
            match (id, n) {
                (Some(id), 0) => {
                    eprintln!(
                        "message {id} is not dead or waiting (or a worker is sending it now)"
                    );
                    Ok(ExitCode::FAILURE)
                }
                _ => {
                    println!("{n} message(s) will be sent again by the running bot");
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        OutboxCommand::Drop { id } => {
            if store.outbox_drop(id).await? {
                println!("message {id} dropped: it will not be sent");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("message {id} is not dead or waiting");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

async fn doctor(path: &Path) -> anyhow::Result<ExitCode> {
    let mut problems = 0;
    let config = match Config::load(path) {
        Ok(config) => {
            println!("ok   config {}", path.display());
            config
        }
        Err(e) => {
            println!("FAIL {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match app::load_knowledge(&config) {
        Ok(knowledge) => {
            println!(
                "ok   {} commands, {} prompts per language, {} topics, {} departments",
                knowledge.registry.commands().len(),
                knowledge.prompts.keys().count(),
                knowledge.vocabulary.len(),
                knowledge.geography.departments().len()
            );
            let samples = config.resolve(&config.bot.prompts_dir).join("samples.toml");
            match passerelle::prompts::render_samples(&knowledge.prompts, &samples) {
                Ok(n) => println!("ok   {n} prompt renderings from {}", samples.display()),
                Err(errors) => {
                    for e in errors {
                        problems += 1;
                        println!("FAIL {e}");
                    }
                }
            }
        }
        Err(errors) => {
            for e in errors {
                problems += 1;
                println!("FAIL {e}");
            }
        }
    }
    match passerelle::store::open(&config.store_url(), 1).await {
        Ok(store) => match store.migrate().await {
            Ok(()) => {
                println!(
                    "ok   store {} migrated: {} members, {} organisations",
                    store.backend(),
                    store.member_count().await.unwrap_or(-1),
                    store.organisation_count().await.unwrap_or(-1)
                );
                problems += doctor_runtime(store.as_ref()).await?;
            }
            Err(e) => {
                problems += 1;
                println!("FAIL store: {e}");
            }
        },
        Err(e) => {
            problems += 1;
            println!("FAIL store {}: {e}", config.store_url());
        }
    }
    if problems > 0 {
        println!("{problems} problem(s)");
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// What the running instances recorded: task health, the outbox, quarantined items.
async fn doctor_runtime(store: &dyn passerelle::store::Store) -> anyhow::Result<usize> {
    let mut problems = 0;
    if let Some((holder, until)) = store.lease_holder(passerelle::leadership::LEASE).await? {
        let live = until > chrono::Utc::now();
        println!(
            "ok   leader for the singleton jobs: {holder}, lease {} {}",
            if live { "until" } else { "ran out at" },
            until.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    for task in store.task_health().await? {
        let failing = task.state == "restarting";
        if failing {
            problems += 1;
        }
        println!(
            "{} task {} on {}: {} since {}, {} restart(s){}",
            if failing { "FAIL" } else { "ok  " },
            task.name,
            task.instance,
            task.state,
            task.updated_at.format("%Y-%m-%d %H:%M:%S UTC"),
            task.restarts,
            task.last_error
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        );
    }
    let counts = store.outbox_counts().await?;
    let count = |status: &str| {
        counts
            .iter()
            .find(|(s, _)| s == status)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let dead = count("dead");
    if dead > 0 {
        problems += 1;
    }
    println!(
        "{} outbox: {} waiting, {} sent, {dead} dead, {} dropped{}",
        if dead > 0 { "FAIL" } else { "ok  " },
        count("pending"),
        count("done"),
        count("dropped"),
        if dead > 0 {
            " (passerelle outbox list --dead; passerelle outbox retry --all-dead)"
        } else {
            ""
        }
    );
    let quarantined = store.quarantine_count().await?;
    if quarantined > 0 {
        problems += 1;
        println!("FAIL {quarantined} inbound item(s) quarantined after failing:");
        for item in store.quarantined(10).await? {
            println!(
                "       {} {} at {}: {}{}",
                item.source,
                item.external_id,
                item.at.format("%Y-%m-%d %H:%M"),
                item.error,
                item.location
                    .map(|l| format!(" (moved to {l})"))
                    .unwrap_or_default()
            );
        }
    } else {
        println!("ok   no inbound item quarantined");
    }
    Ok(problems)
}
