//! The `passerelle` command line.

use anyhow::{Context as _, anyhow};
use clap::{Parser, Subcommand};
use passerelle::app;
use passerelle::config::Config;
use passerelle::core::lang::Lang;
use passerelle::engine::{Handled, Inbound};
use passerelle::store::InboundKey;
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
    /// Check the config, command files, prompts, data files and the store; report every problem.
    Doctor,
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
            run(config).await
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
        Command::Doctor => unreachable!("handled above"),
    }
}

async fn run(config: Config) -> anyhow::Result<ExitCode> {
    let engine = app::build_engine(&config).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = app::run_worker(&config, &engine)?;
    let maildir = if config.connectors.maildir.enabled {
        let root = config.resolve(&config.connectors.maildir.path);
        passerelle::connectors::maildir::prepare(&root)?;
        let interval = Duration::from_millis(config.connectors.maildir.scan_interval_ms);
        tracing::info!(maildir = %root.display(), "reading mail dropped in the maildir");
        Some(tokio::spawn(passerelle::connectors::maildir::run(
            engine.clone(),
            root,
            interval,
            stopped.clone(),
        )))
    } else {
        None
    };
    let imap = config.connectors.imap.enabled.then(|| {
        tracing::info!(host = %config.connectors.imap.host, mailbox = %config.connectors.imap.mailbox, "watching the mailbox with IMAP IDLE");
        tokio::spawn(passerelle::connectors::imap::run(engine.clone(), config.connectors.imap.clone(), stopped.clone()))
    });
    let reminders = {
        let engine = engine.clone();
        let interval = Duration::from_secs(config.tickets.check_interval_secs.max(1));
        let stopped = stopped.clone();
        tokio::spawn(async move { engine.run_reminders(interval, stopped).await })
    };
    let worker = tokio::spawn(async move { worker.run(stopped).await });
    tracing::info!(store = engine.store().backend(), "passerelle running");
    if config.connectors.console.enabled {
        let today = engine.today(chrono::Utc::now());
        let directory = engine.directory(today).await?;
        let user = &config.connectors.console.user;
        let member = directory.by_address(user);
        let lang = member
            .and_then(|m| m.preferred_lang)
            .unwrap_or(config.bot.default_language);
        let name = member
            .map(|m| m.name.clone())
            .unwrap_or_else(|| user.clone());
        println!(
            "{}\n",
            engine.knowledge().prompts.render(
                lang,
                "console/welcome",
                serde_json::json!({ "name": name })
            )?
        );
        tokio::select! {
            result = passerelle::connectors::console::run(engine.clone(), user.clone()) => result?,
            _ = tokio::signal::ctrl_c() => {}
        }
    } else {
        tokio::signal::ctrl_c().await?;
    }
    let _ = stop.send(true);
    worker.await?;
    for task in [maildir, imap, Some(reminders)].into_iter().flatten() {
        task.await?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn ask(
    config: Config,
    text: String,
    lang: Option<Lang>,
    as_member: Option<String>,
) -> anyhow::Result<ExitCode> {
    let engine = app::build_engine(&config).await?;
    let inbound = Inbound {
        key: InboundKey {
            source: "cli".into(),
            external_id: passerelle::connectors::console::session_id(),
        },
        connector: "cli".into(),
        reply_to: "stdout".into(),
        sender: as_member.unwrap_or_else(|| config.connectors.console.user.clone()),
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
            Ok(()) => println!(
                "ok   store {} migrated: {} members, {} organisations",
                store.backend(),
                store.member_count().await.unwrap_or(-1),
                store.organisation_count().await.unwrap_or(-1)
            ),
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
