//! Maildir intake: each file in `new/` goes through the engine, then moves to `cur/`. A crash
//! between the two leaves the file in `new/`; the next scan hands it over again and the engine
//! recognises its Message-ID, so nothing is lost or doubled.

use crate::engine::{Engine, EngineError, MailHandled};
use crate::store::InboundKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Creates `new/`, `cur/` and `tmp/` when missing.
pub fn prepare(root: &Path) -> Result<(), MaildirError> {
    for sub in ["new", "cur", "tmp"] {
        let path = root.join(sub);
        std::fs::create_dir_all(&path).map_err(|source| MaildirError::Io { path, source })?;
    }
    Ok(())
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanReport {
    pub handled: usize,
    pub duplicates: usize,
}

/// Hands every message waiting in `new/` to the engine, oldest name first, and files it in
/// `cur/` once handled. Stops at the first engine error (the store may be down): the rest
/// waits for the next scan.
pub async fn scan_once(engine: &Engine, root: &Path) -> Result<ScanReport, MaildirError> {
    let new = root.join("new");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&new)
        .map_err(|source| MaildirError::Io {
            path: new.clone(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    let mut report = ScanReport::default();
    for path in names {
        let raw = std::fs::read(&path).map_err(|source| MaildirError::Io {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let fallback = InboundKey {
            source: "maildir".into(),
            external_id: name.clone(),
        };
        match engine
            .handle_mail(fallback, &raw, chrono::Utc::now())
            .await?
        {
            MailHandled::Done { .. } => report.handled += 1,
            MailHandled::Duplicate => report.duplicates += 1,
        }
        // ":2,S": read, in Maildir's info syntax.
        let target = root.join("cur").join(format!("{name}:2,S"));
        std::fs::rename(&path, &target).map_err(|source| MaildirError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(report)
}

/// Scans every `interval` until `shutdown` turns true; errors are logged and retried.
pub async fn run(
    engine: Arc<Engine>,
    root: PathBuf,
    interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match scan_once(&engine, &root).await {
            Ok(report) if report.handled + report.duplicates > 0 => {
                tracing::info!(maildir = %root.display(), handled = report.handled, duplicates = report.duplicates, "maildir scanned");
            }
            Ok(_) => {}
            Err(error) => {
                tracing::error!(maildir = %root.display(), %error, "maildir scan failed; will retry")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
