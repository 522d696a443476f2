//! The import commands from start to end: build the engine, check the file, write it.
//! They report through a callback while they run and return a report; printing is the caller's.

use super::RowError;
use crate::app;
use crate::config::Config;
use crate::connectors::mbox::BackfillReport;
use crate::store::ImportCounts;
use anyhow::Context as _;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// What is wrong with a file, found before anything is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Problems {
    /// With the file as a whole (columns, syntax): nothing can be imported.
    pub fatal: Vec<String>,
    pub errors: Vec<RowError>,
}

impl Problems {
    /// Whether nothing may be written: the file is unusable, or some rows are bad and skipping
    /// them was not asked for (an import is all or nothing by default).
    pub fn stop_import(&self, skip_invalid: bool) -> bool {
        !self.fatal.is_empty() || (!self.errors.is_empty() && !skip_invalid)
    }
}

/// What an import tells its caller while it runs.
#[derive(Debug)]
pub enum Progress<'a> {
    /// The whole file is checked; nothing is written yet.
    Checked(&'a Problems),
    /// `done` of the `total` valid rows are written.
    Written { done: usize, total: usize },
}

#[derive(Debug)]
pub struct ImportReport<Counts> {
    pub problems: Problems,
    /// What was written; `None` when the problems stopped the import.
    pub written: Option<Counts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TalkCounts {
    pub added: usize,
    /// Talks the store had already: the file may be imported again.
    pub already_known: usize,
}

/// `passerelle import members`: creates or updates members by email.
pub async fn import_members(
    config: &Config,
    file: &Path,
    skip_invalid: bool,
    mut on_progress: impl FnMut(Progress<'_>),
) -> anyhow::Result<ImportReport<ImportCounts>> {
    let engine = app::build_engine(config).await?;
    let checked =
        app::check_members_file(engine.store().as_ref(), engine.knowledge(), file).await?;
    let problems = Problems {
        fatal: checked.fatal,
        errors: checked.errors,
    };
    on_progress(Progress::Checked(&problems));
    if problems.stop_import(skip_invalid) {
        return Ok(ImportReport {
            problems,
            written: None,
        });
    }
    // Written in chunks so progress shows; each chunk is one transaction of creates/updates by
    // email, so a re-run after an interruption finishes the job without duplicates.
    let total = checked.valid.len();
    on_progress(Progress::Written { done: 0, total });
    let mut counts = ImportCounts::default();
    let mut done = 0;
    for chunk in checked.valid.chunks(100) {
        let chunk_counts = engine
            .store()
            .import_members(chunk, chrono::Utc::now())
            .await?;
        counts.created += chunk_counts.created;
        counts.updated += chunk_counts.updated;
        done += chunk.len();
        on_progress(Progress::Written { done, total });
    }
    Ok(ImportReport {
        problems,
        written: Some(counts),
    })
}

/// `passerelle import interventions`: past talks of known members, written in one transaction
/// once the file is checked (so `on_progress` only hears [`Progress::Checked`]).
pub async fn import_interventions(
    config: &Config,
    file: &Path,
    skip_invalid: bool,
    mut on_progress: impl FnMut(Progress<'_>),
) -> anyhow::Result<ImportReport<TalkCounts>> {
    let engine = app::build_engine(config).await?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let today = engine.today(chrono::Utc::now());
    let directory = engine.directory(today).await?;
    let emails: HashSet<String> = directory.members.iter().map(|m| m.email.clone()).collect();
    let checked =
        super::check_interventions_csv(&bytes, &emails, &engine.knowledge().vocabulary, today);
    let problems = Problems {
        fatal: checked.fatal,
        errors: checked.errors,
    };
    on_progress(Progress::Checked(&problems));
    if problems.stop_import(skip_invalid) {
        return Ok(ImportReport {
            problems,
            written: None,
        });
    }
    let added = engine.store().import_interventions(&checked.valid).await?;
    Ok(ImportReport {
        problems,
        written: Some(TalkCounts {
            added,
            already_known: checked.valid.len() - added,
        }),
    })
}

#[derive(Debug)]
pub struct BackfillSummary {
    pub report: BackfillReport,
    /// Time spent reading the archive, without building the engine.
    pub elapsed: Duration,
}

impl BackfillSummary {
    /// Messages per second.
    pub fn rate(&self) -> f64 {
        // A tiny archive can take no measurable time.
        self.report.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `passerelle backfill`: the archive through the mail pipeline, writing to nobody;
/// `on_progress` gets the bytes read so far and the size of the file.
pub async fn backfill(
    config: &Config,
    mbox: &Path,
    mut on_progress: impl FnMut(u64, u64),
) -> anyhow::Result<BackfillSummary> {
    let engine = app::build_engine(config).await?;
    let size = std::fs::metadata(mbox)
        .with_context(|| format!("cannot read {}", mbox.display()))?
        .len();
    let started = Instant::now();
    let report =
        crate::connectors::mbox::backfill(&engine, mbox, |bytes| on_progress(bytes, size)).await?;
    Ok(BackfillSummary {
        report,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(fatal: usize, errors: usize) -> Problems {
        Problems {
            fatal: vec!["line 1: missing required column 'email'".into(); fatal],
            errors: vec![
                RowError {
                    line: 2,
                    reason: "name is empty".into(),
                };
                errors
            ],
        }
    }

    #[test]
    fn a_file_problem_stops_the_import_even_when_skipping_bad_rows() {
        assert!(problems(1, 0).stop_import(true));
        assert!(problems(1, 2).stop_import(true));
    }

    #[test]
    fn bad_rows_stop_the_import_unless_skipping_them_was_asked() {
        assert!(problems(0, 1).stop_import(false));
        assert!(!problems(0, 1).stop_import(true));
        assert!(!problems(0, 0).stop_import(false));
    }

    #[test]
    fn the_rate_survives_an_instant_backfill() {
        let summary = |messages, elapsed| BackfillSummary {
            report: BackfillReport {
                messages,
                ..BackfillReport::default()
            },
            elapsed,
        };
        assert_eq!(summary(30, Duration::from_secs(2)).rate(), 15.0);
        assert!(summary(3, Duration::ZERO).rate().is_finite());
        assert_eq!(summary(0, Duration::ZERO).rate(), 0.0);
    }
}
