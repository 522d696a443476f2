//! The `passerelle` command line.

use clap::{Parser, Subcommand};
use passerelle::config::Config;
use passerelle::core::lang::Lang;
use passerelle::import::flows::{self, Progress};
use passerelle::{admin, app, doctor};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
        let report = doctor::doctor(&cli.config, |check| println!("{check}")).await?;
        if let Some(conclusion) = report.conclusion() {
            println!("{conclusion}");
        }
        return Ok(exit_code(report.problems() == 0));
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
            passerelle::ask::ask(&config, text, lang, as_member).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { what } => {
            init_logs(None, "warn");
            match what {
                ImportCommand::Members { file, skip_invalid } => {
                    import_members(&config, &file, skip_invalid).await
                }
                ImportCommand::Interventions { file, skip_invalid } => {
                    import_interventions(&config, &file, skip_invalid).await
                }
            }
        }
        Command::Backfill { mbox } => {
            init_logs(None, "warn");
            backfill(&config, &mbox).await
        }
        Command::Outbox { what } => {
            init_logs(None, "warn");
            outbox(&config, what).await
        }
        Command::Doctor => unreachable!("handled above"),
    }
}

fn exit_code(success: bool) -> ExitCode {
    if success {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_problems(problems: &flows::Problems, file: &Path) {
    for problem in &problems.fatal {
        eprintln!("{}: {problem}", file.display());
    }
    for error in &problems.errors {
        eprintln!("{}: line {}: {}", file.display(), error.line, error.reason);
    }
}

fn progress_bar(len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

async fn import_members(
    config: &Config,
    file: &Path,
    skip_invalid: bool,
) -> anyhow::Result<ExitCode> {
    let mut bar = None;
    let report = flows::import_members(config, file, skip_invalid, |progress| match progress {
        Progress::Checked(problems) => print_problems(problems, file),
        Progress::Written { done, total } => bar
            .get_or_insert_with(|| {
                progress_bar(total as u64, "{msg} [{bar:40}] {pos}/{len}")
                    .with_message("importing members")
            })
            .set_position(done as u64),
    })
    .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let problems = &report.problems;
    match report.written {
        None => {
            eprintln!(
                "nothing imported: {} invalid row(s){}",
                problems.errors.len(),
                if problems.fatal.is_empty() {
                    "; fix them or use --skip-invalid"
                } else {
                    ""
                }
            );
            Ok(ExitCode::FAILURE)
        }
        Some(counts) => {
            println!(
                "{}: {} created, {} updated, {} skipped",
                file.display(),
                counts.created,
                counts.updated,
                problems.errors.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn import_interventions(
    config: &Config,
    file: &Path,
    skip_invalid: bool,
) -> anyhow::Result<ExitCode> {
    let report = flows::import_interventions(config, file, skip_invalid, |progress| {
        if let Progress::Checked(problems) = progress {
            print_problems(problems, file);
        }
    })
    .await?;
    let skipped = report.problems.errors.len();
    match report.written {
        None => {
            eprintln!("nothing imported: {skipped} invalid row(s)");
            Ok(ExitCode::FAILURE)
        }
        Some(counts) => {
            println!(
                "{}: {} talks added, {} already known, {skipped} skipped",
                file.display(),
                counts.added,
                counts.already_known
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn backfill(config: &Config, mbox: &Path) -> anyhow::Result<ExitCode> {
    let mut bar = None;
    let summary = flows::backfill(config, mbox, |bytes, size| {
        bar.get_or_insert_with(|| {
            progress_bar(size, "backfill [{bar:40}] {bytes}/{total_bytes} {msg}")
        })
        .set_position(bytes)
    })
    .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = &summary.report;
    println!(
        "{}: {} messages in {:.1} s ({:.0}/s), {} already known, {} with a ticket",
        mbox.display(),
        report.messages,
        summary.elapsed.as_secs_f64(),
        summary.rate(),
        report.duplicates,
        report.tickets
    );
    for (class, count) in &report.classes {
        println!("  {class}: {count}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn outbox(config: &Config, what: OutboxCommand) -> anyhow::Result<ExitCode> {
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
            let rows = admin::outbox_list(config, status.as_deref(), limit).await?;
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
            let n = admin::outbox_retry(config, id.filter(|_| !all_dead)).await?;
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
            if admin::outbox_drop(config, id).await? {
                println!("message {id} dropped: it will not be sent");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("message {id} is not dead or waiting");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
