//! The HTTP client under the Bluesky agent: atrium's XRPC over the project's reqwest 0.13
//! (rustls), and the plain-words reading of what went wrong.
//!
//! atrium-xrpc-client would bring reqwest 0.12 with native-tls (OpenSSL); atrium's
//! [`HttpClient`] trait is one method, so this adapter keeps a single HTTP stack. It also keeps
//! what atrium drops: a 429's rate-limit headers, returned as a [`RateLimited`] error.

use crate::engine::DeliveryError;
use atrium_api::xrpc::http::{self, HeaderMap};
use atrium_api::xrpc::{Error as XrpcCallError, HttpClient, XrpcClient};
use std::error::Error as StdError;
use std::fmt::{Debug, Display};
use std::time::{Duration, SystemTime};

pub struct Xrpc {
    http: reqwest::Client,
    service: String,
}

impl Xrpc {
    pub fn new(service: &str, timeout: Duration) -> reqwest::Result<Xrpc> {
        Ok(Xrpc {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .user_agent(concat!("passerelle/", env!("CARGO_PKG_VERSION")))
                .build()?,
            service: service.trim_end_matches('/').to_string(),
        })
    }
}

/// A 429 from the server, with how long it asked us to wait (when it said).
#[derive(Debug)]
pub struct RateLimited {
    pub after: Option<Duration>,
}

impl Display for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.after {
            Some(after) => write!(f, "rate limited for {} s", after.as_secs()),
            None => write!(f, "rate limited"),
        }
    }
}

impl StdError for RateLimited {}

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

impl HttpClient for Xrpc {
    async fn send_http(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, BoxError> {
        let (parts, body) = request.into_parts();
        let response = self
            .http
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await?;
        if response.status() == http::StatusCode::TOO_MANY_REQUESTS {
            return Err(Box::new(RateLimited {
                after: retry_after(response.headers(), SystemTime::now()),
            }));
        }
        let mut builder = http::Response::builder().status(response.status());
        if let Some(headers) = builder.headers_mut() {
            *headers = response.headers().clone();
        }
        Ok(builder.body(response.bytes().await?.to_vec())?)
    }
}

impl XrpcClient for Xrpc {
    fn base_uri(&self) -> String {
        self.service.clone()
    }
}

/// How long a 429 asks to wait: Bluesky's `ratelimit-reset` (when the window resets, in epoch
/// seconds), else the standard `Retry-After` (seconds or an HTTP date). A time already past is
/// no wait at all.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let until = |epoch_secs: i64| {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch_secs.max(0) as u64);
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    if let Some(reset) = header("ratelimit-reset").and_then(|v| v.parse::<i64>().ok()) {
        return Some(until(reset));
    }
    let value = header("retry-after")?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    chrono::DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|date| until(date.timestamp()))
}

/// An error and its causes on one line (reqwest's own message leaves out why it failed).
pub fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut words = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !words.contains(&cause) {
            words = format!("{words}: {cause}");
        }
        source = source.and_then(StdError::source);
    }
    words
}

/// What the server said, as "Error: message".
pub fn server_words<E: Display>(error: &atrium_api::xrpc::error::XrpcError<E>) -> String {
    match &error.error {
        Some(kind) => kind.to_string(),
        None => format!("HTTP {}", error.status),
    }
}

/// The outcome of a failed call, in plain words: `doing` says what the call was for.
pub fn delivery_error<E: Debug + Display>(doing: &str, error: XrpcCallError<E>) -> DeliveryError {
    match error {
        XrpcCallError::HttpClient(error) => match error.downcast_ref::<RateLimited>() {
            Some(RateLimited { after: Some(after) }) => DeliveryError::RetryAfter {
                after: *after,
                reason: format!("Bluesky rate limit while {doing}"),
            },
            Some(RateLimited { after: None }) => DeliveryError::Transient(format!(
                "Bluesky rate limit while {doing} (no reset time given)"
            )),
            None => DeliveryError::Transient(format!(
                "cannot reach Bluesky while {doing}: {}",
                chain(error.as_ref())
            )),
        },
        XrpcCallError::XrpcResponse(response) => {
            let words = server_words(&response);
            match response.status.as_u16() {
                // The session was refused and the agent could not refresh it: the next
                // attempt logs in again.
                401 => DeliveryError::Transient(format!(
                    "Bluesky refused the session while {doing}: {words}"
                )),
                408 | 500..=599 => {
                    DeliveryError::Transient(format!("Bluesky failed while {doing}: {words}"))
                }
                _ => DeliveryError::Permanent(format!("Bluesky refused {doing}: {words}")),
            }
        }
        XrpcCallError::Authentication(_) => {
            DeliveryError::Transient(format!("Bluesky refused the session while {doing}"))
        }
        XrpcCallError::SerdeJson(e) => {
            DeliveryError::Transient(format!("unreadable answer from Bluesky while {doing}: {e}"))
        }
        XrpcCallError::UnexpectedResponseType => {
            DeliveryError::Transient(format!("unexpected answer from Bluesky while {doing}"))
        }
        XrpcCallError::HttpRequest(e) => {
            DeliveryError::Permanent(format!("cannot build the request for {doing}: {e}"))
        }
        XrpcCallError::SerdeHtmlForm(e) => {
            DeliveryError::Permanent(format!("cannot build the request for {doing}: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn waits_for_the_rate_limit_reset_or_retry_after() {
        // Fri, 15 Jan 2027 08:00:00 GMT.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // (the headers of a 429, the wait read from them in seconds)
        type Case<'a> = (&'a [(&'static str, &'a str)], Option<u64>);
        let cases: &[Case] = &[
            // Bluesky's headers on a 429 (epoch seconds), as bsky.social sends them.
            (
                &[
                    ("ratelimit-limit", "3000"),
                    ("ratelimit-remaining", "0"),
                    ("ratelimit-reset", "1800000042"),
                    ("ratelimit-policy", "3000;w=300"),
                ],
                Some(42),
            ),
            // The reset wins over Retry-After when both are there.
            (
                &[("ratelimit-reset", "1800000010"), ("retry-after", "99")],
                Some(10),
            ),
            // A reset already past: retry now.
            (&[("ratelimit-reset", "1799999990")], Some(0)),
            (&[("retry-after", "120")], Some(120)),
            (&[("Retry-After", " 7 ")], Some(7)),
            // An HTTP date (IMF-fixdate), 90 s after `now`.
            (
                &[("retry-after", "Fri, 15 Jan 2027 08:01:30 GMT")],
                Some(90),
            ),
            (&[("retry-after", "soon")], None),
            (&[("ratelimit-reset", "later")], None),
            (&[], None),
        ];
        for (pairs, expected) in cases {
            assert_eq!(
                retry_after(&headers(pairs), now).map(|d| d.as_secs()),
                *expected,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn failures_read_as_plain_words_and_the_right_retry() {
        use atrium_api::xrpc::error::{ErrorResponseBody, XrpcError, XrpcErrorKind};
        let response = |status: u16, error: &str, message: &str| {
            XrpcCallError::<atrium_api::com::atproto::repo::create_record::Error>::XrpcResponse(
                XrpcError {
                    status: http::StatusCode::from_u16(status).unwrap(),
                    error: Some(XrpcErrorKind::Undefined(ErrorResponseBody {
                        error: Some(error.into()),
                        message: Some(message.into()),
                    })),
                },
            )
        };
        let invalid = delivery_error(
            "the post",
            response(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
            ),
        );
        assert!(
            matches!(&invalid, DeliveryError::Permanent(words) if words == "Bluesky refused the post: InvalidRequest: Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"),
            "{invalid:?}"
        );
        assert!(matches!(
            delivery_error("the post", response(502, "UpstreamFailure", "down")),
            DeliveryError::Transient(_)
        ));
        assert!(matches!(
            delivery_error("the post", response(401, "AuthMissing", "no token")),
            DeliveryError::Transient(_)
        ));
        let limited = delivery_error::<atrium_api::com::atproto::repo::create_record::Error>(
            "the post",
            XrpcCallError::HttpClient(Box::new(RateLimited {
                after: Some(Duration::from_secs(30)),
            })),
        );
        assert!(
            matches!(limited, DeliveryError::RetryAfter { after, .. } if after == Duration::from_secs(30))
        );
    }
}
