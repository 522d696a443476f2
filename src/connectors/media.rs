//! The bytes of a news draft's image, for every social connector alike: a file on this machine
//! or an `http(s)://` address (what a member pastes in chat), read when the post goes out.

use crate::engine::DeliveryError;
use std::time::Duration;

/// Largest image read: above every network's own limit (Mastodon's 16 MB default included).
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// An image ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub bytes: Vec<u8>,
    pub file_name: String,
    /// JPEG, PNG, GIF or WebP: what all three networks take.
    pub mime: &'static str,
}

/// The image at `source`. A file that is missing or of another kind, an address that answers
/// 4xx or something else than an image: permanent (say which). An address that does not answer
/// or answers 5xx: temporary.
pub async fn load(source: &str) -> Result<Media, DeliveryError> {
    let url = source
        .strip_prefix("http://")
        .or_else(|| source.strip_prefix("https://"))
        .map(|_| source);
    let (bytes, declared) = match url {
        Some(url) => fetch(url).await?,
        None => (
            tokio::fs::read(source).await.map_err(|e| {
                DeliveryError::Permanent(format!("cannot read the image {source}: {e}"))
            })?,
            None,
        ),
    };
    let file_name = source
        .rsplit('/')
        .next()
        .and_then(|name| name.split(['?', '#']).next())
        .filter(|name| !name.is_empty())
        .unwrap_or("image")
        .to_string();
    let mime = sniff(&bytes).or(declared).ok_or_else(|| {
        DeliveryError::Permanent(format!(
            "{source} is not a JPEG, PNG, GIF or WebP image (the networks take no other)"
        ))
    })?;
    Ok(Media {
        bytes,
        file_name,
        mime,
    })
}

async fn fetch(url: &str) -> Result<(Vec<u8>, Option<&'static str>), DeliveryError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| DeliveryError::Transient(e.to_string()))?;
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| DeliveryError::Transient(format!("cannot fetch the image {url}: {e}")))?;
    let status = response.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(DeliveryError::Transient(format!(
            "the image {url} answered {status}"
        )));
    }
    if !status.is_success() {
        return Err(DeliveryError::Permanent(format!(
            "the image {url} answered {status}"
        )));
    }
    let declared = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| mime_of(v.split(';').next().unwrap_or("").trim()));
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| DeliveryError::Transient(format!("reading the image {url}: {e}")))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_BYTES {
            return Err(DeliveryError::Permanent(format!(
                "the image {url} is over {} MB",
                MAX_BYTES / 1024 / 1024
            )));
        }
    }
    Ok((bytes, declared))
}

fn mime_of(declared: &str) -> Option<&'static str> {
    match declared {
        "image/jpeg" | "image/jpg" => Some("image/jpeg"),
        "image/png" => Some("image/png"),
        "image/gif" => Some("image/gif"),
        "image/webp" => Some("image/webp"),
        _ => None,
    }
}

/// The type the bytes themselves say (a file's name or a server's header can lie).
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [b'G', b'I', b'F', b'8', ..] => Some("image/gif"),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Some("image/webp"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_say_what_an_image_is() {
        let cases: [(&[u8], Option<&str>); 6] = [
            (&[0xFF, 0xD8, 0xFF, 0xE0], Some("image/jpeg")),
            (b"\x89PNG\r\n\x1a\n", Some("image/png")),
            (b"GIF89a", Some("image/gif")),
            (b"RIFF\0\0\0\0WEBPVP8 ", Some("image/webp")),
            (b"<html>", None),
            (b"", None),
        ];
        for (bytes, expected) in cases {
            assert_eq!(sniff(bytes), expected, "{bytes:?}");
        }
    }

    #[tokio::test]
    async fn a_file_is_read_and_a_missing_or_foreign_one_is_refused_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("atelier.png");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\nrest").unwrap();
        let media = load(png.to_str().unwrap()).await.unwrap();
        assert_eq!(
            (media.mime, media.file_name.as_str()),
            ("image/png", "atelier.png")
        );
        let text = dir.path().join("notes.png");
        std::fs::write(&text, b"not an image").unwrap();
        for source in [text.to_str().unwrap(), "/nowhere/at/all.jpg"] {
            assert!(
                matches!(load(source).await, Err(DeliveryError::Permanent(_))),
                "{source}"
            );
        }
    }
}
