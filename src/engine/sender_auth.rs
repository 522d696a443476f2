//! DKIM verification of a mail's author domain (mail-auth, with DNS through hickory). A mail
//! is proven when one of its DKIM signatures verifies and its signing domain is aligned with
//! the `From:` domain (DMARC's relaxed alignment). SPF is not checked here: Maildir and IMAP
//! intake have no SMTP envelope; deployments that want SPF use the `authentication-results`
//! method with their MTA's verdict.

use crate::mail::auth::{SenderAuth, aligned, domain_of};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, ResolverCache, Txt};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// A TXT answer and when it expires (`None`: pinned, never).
type Entry = (Txt, Option<Instant>);

/// TXT answers kept until their TTL ends; pinned records never expire and win over DNS.
#[derive(Default)]
struct TxtCache {
    entries: Mutex<HashMap<Box<str>, Entry>>,
}

impl ResolverCache<Box<str>, Txt> for TxtCache {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.entries.lock().ok()?;
        match entries.get(name) {
            Some((_, Some(until))) if *until <= Instant::now() => {
                entries.remove(name);
                None
            }
            Some((txt, _)) => Some(txt.clone()),
            None => None,
        }
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.lock().ok()?.remove(name).map(|(txt, _)| txt)
    }

    fn insert(&self, key: Box<str>, value: Txt, valid_until: Instant) {
        if let Ok(mut entries) = self.entries.lock() {
            // A pinned record is never replaced by what DNS says.
            if !matches!(entries.get(&key), Some((_, None))) {
                entries.insert(key, (value, Some(valid_until)));
            }
        }
    }
}

pub struct DkimChecker {
    authenticator: Option<MessageAuthenticator>,
    /// Why there is no resolver, when there is none.
    setup_error: Option<String>,
    cache: TxtCache,
}

#[derive(Debug, thiserror::Error)]
#[error("pinned DKIM record {name}: {reason}")]
pub struct PinnedRecordError {
    pub name: String,
    pub reason: String,
}

impl DkimChecker {
    /// Asks the system's DNS resolvers (`/etc/resolv.conf`); `pinned` DKIM key records
    /// (`selector._domainkey.domain` → `v=DKIM1; k=…; p=…`) are used instead of DNS for their
    /// names.
    pub fn new(pinned: &[(String, String)]) -> Result<Self, PinnedRecordError> {
        let (authenticator, setup_error) = match MessageAuthenticator::new_system_conf() {
            Ok(a) => (Some(a), None),
            Err(e) => (None, Some(format!("no DNS resolver: {e}"))),
        };
        let cache = TxtCache::default();
        for (name, record) in pinned {
            let key = DomainKey::parse(record.as_bytes()).map_err(|e| PinnedRecordError {
                name: name.clone(),
                reason: e.to_string(),
            })?;
            let fqdn = format!("{}.", name.trim_end_matches('.').to_ascii_lowercase());
            if let Ok(mut entries) = cache.entries.lock() {
                entries.insert(fqdn.into_boxed_str(), (Txt::from(key), None));
            }
        }
        Ok(DkimChecker {
            authenticator,
            setup_error,
            cache,
        })
    }

    /// Whether `raw` carries a valid DKIM signature aligned with `author`'s domain.
    pub async fn check(&self, raw: &[u8], author: &str) -> SenderAuth {
        let Some(domain) = domain_of(author) else {
            return SenderAuth::Fail("no author domain".into());
        };
        let Some(authenticator) = &self.authenticator else {
            return SenderAuth::Fail(self.setup_error.clone().unwrap_or_default());
        };
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return SenderAuth::Fail("unreadable message".into());
        };
        if message.dkim_headers.is_empty() {
            return SenderAuth::Fail("no DKIM signature".into());
        }
        let params = mail_auth::Parameters::new(&message).with_txt_cache(&self.cache);
        let outputs = authenticator.verify_dkim(params).await;
        let mut seen = Vec::new();
        for output in &outputs {
            let signer = output.signature().map(|s| s.d.to_ascii_lowercase());
            match (output.result(), &signer) {
                (DkimResult::Pass, Some(signer)) if aligned(signer, &domain) => {
                    return SenderAuth::Pass(format!("dkim=pass d={signer}"));
                }
                (DkimResult::Pass, Some(signer)) => {
                    seen.push(format!("dkim=pass d={signer} (not aligned with {domain})"))
                }
                (result, signer) => seen.push(format!(
                    "dkim={} d={}",
                    result_name(result),
                    signer.as_deref().unwrap_or("?")
                )),
            }
        }
        SenderAuth::Fail(seen.join(", "))
    }
}

fn result_name(result: &DkimResult) -> String {
    match result {
        DkimResult::Pass => "pass".into(),
        DkimResult::Neutral(e) => format!("neutral ({e})"),
        DkimResult::Fail(e) => format!("fail ({e})"),
        DkimResult::PermError(e) => format!("permerror ({e})"),
        DkimResult::TempError(e) => format!("temperror ({e})"),
        DkimResult::None => "none".into(),
    }
}
