//! The few X API v2 calls the connector makes, each signed with OAuth 1.0a (HMAC-SHA1, user
//! context), and X's answers turned into plain words.
//!
//! What is signed: the method, the URL without its query, the query parameters and the OAuth
//! parameters. A JSON or multipart body is not part of the signature base string (RFC 5849
//! §3.4.1.3.1 takes only form-urlencoded bodies), so every call here sends its parameters in the
//! query or in such a body, and `oauth1-request` is handed the query parameters only.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The four OAuth 1.0a strings of one app acting as one account.
#[derive(Clone)]
pub struct Keys {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub access_token: String,
    pub access_secret: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("consumer_key", &self.consumer_key)
            .finish_non_exhaustive()
    }
}

/// Why a call did not give what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No answer, or none that could be read: X may have acted on the request.
    NoAnswer(String),
    /// X answered with an error status.
    Status {
        status: u16,
        /// What X said (its `detail`, else `title`, else the `errors` messages).
        problem: String,
        /// How long X asked to wait (429 only).
        wait: Option<Duration>,
    },
}

impl CallError {
    /// Whether X may have carried the request out although it did not say so: no answer, or a
    /// server error (X has answered 503 for posts it had in fact created).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            CallError::NoAnswer(_) => true,
            CallError::Status { status, .. } => *status >= 500,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, CallError::Status { status: 404, .. })
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NoAnswer(why) => write!(f, "no answer from X: {why}"),
            CallError::Status {
                status, problem, ..
            } => write!(f, "X answered {status}: {problem}"),
        }
    }
}

/// X's own rate windows are 15 minutes: the wait when a 429 names no reset.
const DEFAULT_RATE_WAIT: Duration = Duration::from_secs(15 * 60);

/// How long a 429 asks to wait, from its headers at `now`. A 429 from a spent 24-hour posting
/// cap (`x-user-limit-24hour-*`, `x-app-limit-24hour-*`) carries the 15-minute window's reset
/// too, which would come far too early: the latest reset of a limit at 0 remaining wins, then
/// `x-rate-limit-reset`, then `Retry-After` (seconds or an HTTP date). At least one second.
pub fn rate_limit_wait(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let epoch = |name: &str| text(name).and_then(|v| v.parse::<i64>().ok());
    let until = |reset: i64| {
        let seconds = (reset - now.timestamp()).max(1);
        Duration::from_secs(seconds as u64)
    };
    let spent_caps = ["x-user-limit-24hour", "x-app-limit-24hour", "x-rate-limit"]
        .iter()
        .filter(|prefix| epoch(&format!("{prefix}-remaining")) == Some(0))
        .filter_map(|prefix| epoch(&format!("{prefix}-reset")))
        .max();
    if let Some(reset) = spent_caps.or_else(|| epoch("x-rate-limit-reset")) {
        return Some(until(reset));
    }
    let retry_after = text("retry-after")?;
    if let Ok(seconds) = retry_after.parse::<u64>() {
        return Some(Duration::from_secs(seconds.max(1)));
    }
    DateTime::parse_from_rfc2822(retry_after)
        .ok()
        .map(|at| until(at.timestamp()))
}

/// What X says in an error body: `detail`, else `title`, else the `errors` messages, else the
/// body itself (cut short).
pub fn problem(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Problem {
        title: Option<String>,
        detail: Option<String>,
        #[serde(default)]
        errors: Vec<ErrorItem>,
    }
    #[derive(Deserialize)]
    struct ErrorItem {
        message: Option<String>,
        detail: Option<String>,
    }
    if let Ok(p) = serde_json::from_slice::<Problem>(body) {
        let messages: Vec<String> = p
            .errors
            .into_iter()
            .filter_map(|e| e.message.or(e.detail))
            .collect();
        // "Invalid Request" alone says nothing: the messages say which parameter.
        let mut said: Vec<String> = p.detail.or(p.title).into_iter().collect();
        said.extend(messages);
        if !said.is_empty() {
            return said.join("; ");
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "no explanation given".into()
    } else {
        text.chars().take(300).collect()
    }
}

/// A signed HTTP client for one account.
pub struct Api {
    http: reqwest::Client,
    api_url: String,
    upload_url: String,
    token: oauth1_request::Token<String, String>,
}

/// What a call sends besides its query.
pub enum Body {
    Empty,
    Json(serde_json::Value),
    Multipart(reqwest::multipart::Form),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    pub id: String,
    pub username: String,
}

/// A post as X lists it on a timeline.
#[derive(Debug, Clone, Deserialize)]
pub struct Tweet {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub referenced_tweets: Vec<Reference>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Reference {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

impl Tweet {
    /// The post this one answers, if any.
    pub fn replied_to(&self) -> Option<&str> {
        self.referenced_tweets
            .iter()
            .find(|r| r.kind == "replied_to")
            .map(|r| r.id.as_str())
    }
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Tweet>,
    #[serde(default)]
    meta: Meta,
}

#[derive(Deserialize, Default)]
struct Meta {
    next_token: Option<String>,
}

impl Api {
    pub fn new(
        api_url: &str,
        upload_url: &str,
        keys: Keys,
        timeout: Duration,
    ) -> Result<Api, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("passerelle/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        for url in [api_url, upload_url] {
            reqwest::Url::parse(url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
        }
        Ok(Api {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            upload_url: upload_url.to_string(),
            token: oauth1_request::Token::from_parts(
                keys.consumer_key,
                keys.consumer_secret,
                keys.access_token,
                keys.access_secret,
            ),
        })
    }

    /// Sends one signed request and reads its JSON answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Body,
    ) -> Result<T, CallError> {
        let parameters = oauth1_request::ParameterList::new(query.to_vec());
        let authorization = oauth1_request::authorize(
            method.as_str(),
            url,
            &parameters,
            &self.token,
            oauth1_request::HMAC_SHA1,
        );
        // The same serialiser makes the query that was signed, so both encode alike.
        let full_url = if query.is_empty() {
            url.to_string()
        } else {
            oauth1_request::to_query(url.to_string(), &parameters)
        };
        let mut request = self
            .http
            .request(method, full_url)
            .header(reqwest::header::AUTHORIZATION, authorization);
        request = match body {
            Body::Empty => request,
            Body::Json(json) => request.json(&json),
            Body::Multipart(form) => request.multipart(form),
        };
        let response = request
            .send()
            .await
            .map_err(|e| CallError::NoAnswer(describe(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CallError::NoAnswer(describe(&e)))?;
        if !status.is_success() {
            return Err(CallError::Status {
                status: status.as_u16(),
                problem: problem(&bytes),
                wait: (status == StatusCode::TOO_MANY_REQUESTS)
                    .then(|| rate_limit_wait(&headers, Utc::now()).unwrap_or(DEFAULT_RATE_WAIT)),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            CallError::NoAnswer(format!(
                "unreadable answer ({e}): {}",
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ))
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api_url)
    }

    /// `GET /2/users/me`: the account the access token acts for.
    pub async fn me(&self) -> Result<Account, CallError> {
        let me: Data<Account> = self
            .call(Method::GET, &self.url("/2/users/me"), &[], Body::Empty)
            .await?;
        Ok(me.data)
    }

    /// `POST /2/tweets`: the new post's id.
    pub async fn create_tweet(
        &self,
        text: &str,
        reply_to: Option<&str>,
        media_ids: &[String],
    ) -> Result<String, CallError> {
        let mut body = serde_json::json!({ "text": text });
        if let Some(id) = reply_to {
            body["reply"] = serde_json::json!({ "in_reply_to_tweet_id": id });
        }
        if !media_ids.is_empty() {
            body["media"] = serde_json::json!({ "media_ids": media_ids });
        }
        let created: Data<Id> = self
            .call(Method::POST, &self.url("/2/tweets"), &[], Body::Json(body))
            .await?;
        Ok(created.data.id)
    }

    /// `DELETE /2/tweets/:id`.
    pub async fn delete_tweet(&self, id: &str) -> Result<(), CallError> {
        let _: serde_json::Value = self
            .call(
                Method::DELETE,
                &self.url(&format!("/2/tweets/{id}")),
                &[],
                Body::Empty,
            )
            .await?;
        Ok(())
    }

    /// `GET /2/users/:id/tweets` from `since` on, newest first, every page.
    pub async fn timeline_since(
        &self,
        user: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<Tweet>, CallError> {
        let url = self.url(&format!("/2/users/{user}/tweets"));
        let start_time = since.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut tweets = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut query = vec![
                ("max_results", "100"),
                ("start_time", start_time.as_str()),
                ("tweet.fields", "created_at,referenced_tweets"),
            ];
            if let Some(token) = &next {
                query.push(("pagination_token", token.as_str()));
            }
            let page: Page = self.call(Method::GET, &url, &query, Body::Empty).await?;
            tweets.extend(page.data);
            match page.meta.next_token {
                Some(token) => next = Some(token),
                None => return Ok(tweets),
            }
        }
    }

    /// `POST /2/media/upload` (one request, multipart: the raw bytes), then the alt text
    /// (`POST /2/media/metadata`); the media id.
    pub async fn upload_image(
        &self,
        bytes: Vec<u8>,
        file_name: &str,
        media_type: &str,
        alt: &str,
    ) -> Result<String, CallError> {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_string())
            .mime_str(media_type)
            .map_err(|e| CallError::NoAnswer(format!("bad media type {media_type}: {e}")))?;
        let form = reqwest::multipart::Form::new()
            .text("media_category", "tweet_image")
            .text("media_type", media_type.to_string())
            .part("media", part);
        let uploaded: Data<Id> = self
            .call(Method::POST, &self.upload_url, &[], Body::Multipart(form))
            .await?;
        let id = uploaded.data.id;
        if !alt.trim().is_empty() {
            let body = serde_json::json!({
                "id": id,
                "metadata": { "alt_text": { "text": alt } },
            });
            let _: serde_json::Value = self
                .call(
                    Method::POST,
                    &self.url("/2/media/metadata"),
                    &[],
                    Body::Json(body),
                )
                .await?;
        }
        Ok(id)
    }
}

/// A transport error in a few words (reqwest's own message names the URL only).
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error;
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "cannot connect".to_string()
    } else {
        "connection failed".to_string()
    };
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_429_waits_for_the_right_reset() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = now.timestamp();
        // (the 429's headers, the wait in seconds).
        type Case = (Vec<(&'static str, String)>, Option<u64>);
        let cases: Vec<Case> = vec![
            // The 15-minute window, spent.
            (
                vec![
                    ("x-rate-limit-limit", "100".into()),
                    ("x-rate-limit-remaining", "0".into()),
                    ("x-rate-limit-reset", (at + 420).to_string()),
                ],
                Some(420),
            ),
            // The user's 24-hour posting cap spent while the window is not: its reset wins.
            (
                vec![
                    ("x-rate-limit-remaining", "99".into()),
                    ("x-rate-limit-reset", (at + 300).to_string()),
                    ("x-user-limit-24hour-limit", "17".into()),
                    ("x-user-limit-24hour-remaining", "0".into()),
                    ("x-user-limit-24hour-reset", (at + 36_000).to_string()),
                ],
                Some(36_000),
            ),
            // A reset already past still waits a second, not zero.
            (vec![("x-rate-limit-reset", (at - 5).to_string())], Some(1)),
            (vec![("retry-after", "120".into())], Some(120)),
            (
                vec![("retry-after", "Sun, 29 Nov 2026 12:01:30 GMT".into())],
                Some(90),
            ),
            (vec![("retry-after", "soon".into())], None),
            (vec![], None),
        ];
        for (pairs, expected) in cases {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(
                rate_limit_wait(&headers(&pairs), now).map(|d| d.as_secs()),
                expected,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn problems_are_read_from_x_error_bodies() {
        let cases = [
            (
                r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
                "Unauthorized",
            ),
            (
                r#"{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}"#,
                "You are not allowed to create a Tweet with duplicate content.",
            ),
            (
                r#"{"errors":[{"parameters":{"text":[""]},"message":"$.text: must not be empty"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}"#,
                "One or more parameters to your request was invalid.; $.text: must not be empty",
            ),
            ("upstream connect error", "upstream connect error"),
            ("", "no explanation given"),
        ];
        for (body, expected) in cases {
            assert_eq!(problem(body.as_bytes()), expected);
        }
    }
}
