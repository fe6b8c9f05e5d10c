//! A deployment pulling its trust list from a hub (`fangyi trust pull`, and `fangyi serve
//! --trust-hub` every `--pull-every`): GET the signed list over plain HTTP/1.1 with
//! `?since=<the version accepted>` (a 304 when nothing changed), then the engine accepts it
//! only if the anchor signed it and its version is newer (`issuer_api::accept_hub_list`),
//! replacing the trust list atomically; the verifier picks it up within two seconds. A hub
//! that is down, slow, or serving a list that is refused changes nothing: the deployment keeps
//! its last list and tries again at the next interval. After each pull the accepted list's age
//! is checked (`deploy::list_age`): older than the maximum age, or past its expiry, is warned of
//! in the log and on stderr — when it starts, and again once a day while it lasts — since a hub
//! (or a man in the middle) can freeze a deployment on an old, validly signed list.

use std::path::{Path, PathBuf};
use std::time::Duration;

use engine::issuer_api::hub::deploy::{self, ListAge};
use engine::issuer_api::{self, hub::AnchorPublic, hub::PullOutcome};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;

use crate::hub::{LIST_PATH, SUBMISSIONS_PATH};

/// How long one pull may take, connecting included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

/// The most a list may be (the trust list bound).
const MAX_LIST_BYTES: usize = 16 << 20;

/// A hub's list URL: `http://HOST[:PORT]` (the list at its usual path) or the list's full URL.
#[derive(Debug, Clone)]
pub struct HubUrl {
    url: String,
    authority: String,
    path: String,
}

impl HubUrl {
    pub fn parse(url: &str) -> Result<HubUrl, String> {
        let url = url.trim();
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(format!(
                "{url}: a hub is an http:// URL (the list is signed, so it needs no TLS for integrity; put a TLS relay in front for privacy)"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty()
            || authority.contains('@')
            || authority.contains(char::is_whitespace)
            || path.contains(char::is_whitespace)
            || path.contains('?')
        {
            return Err(format!("{url}: not http://HOST[:PORT][/PATH]"));
        }
        let path = if path.is_empty() || path == "/" {
            LIST_PATH.to_string()
        } else {
            path.to_string()
        };
        Ok(HubUrl {
            url: format!("http://{authority}{path}"),
            authority: authority.to_string(),
            path,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }
}

/// What a hub answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    NotModified,
    List(Vec<u8>),
}

/// Sends one request and reads at most `MAX_LIST_BYTES` of the answer.
async fn exchange(
    url: &HubUrl,
    request: hyper::Request<Full<Bytes>>,
) -> Result<(hyper::StatusCode, Bytes), String> {
    let addr = if url.authority.contains(':') {
        url.authority.clone()
    } else {
        format!("{}:80", url.authority)
    };
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("{}: connecting: {e}", url.url))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("{}: {e}", url.url))?;
    tokio::spawn(conn);
    let resp = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{}: {e}", url.url))?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_LIST_BYTES)
        .collect()
        .await
        .map_err(|e| format!("{}: reading the answer: {e}", url.url))?
        .to_bytes();
    Ok((status, body))
}

async fn get(url: &HubUrl, since: Option<u64>) -> Result<Fetched, String> {
    let path = match since {
        Some(v) => format!("{}?since={v}", url.path),
        None => url.path.clone(),
    };
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, &url.authority)
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("{}: {e}", url.url))?;
    let (status, body) = exchange(url, req).await?;
    if status == hyper::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).to_string();
        return Err(format!("{} answered {status}: {}", url.url, text.trim()));
    }
    Ok(Fetched::List(body.to_vec()))
}

/// Fetches the list, or 304 when the hub's version is not above `since`.
pub async fn fetch(url: &HubUrl, since: Option<u64>) -> Result<Fetched, String> {
    match tokio::time::timeout(FETCH_TIMEOUT, get(url, since)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{}: no answer within {} s",
            url.url,
            FETCH_TIMEOUT.as_secs()
        )),
    }
}

/// Sends a province's signed key submission (`issuer_api::hub_submission`) to the hub at
/// `url` (`http://HOST[:PORT]`); returns the hub's answer. A refusal is an error with the hub's
/// reason.
pub async fn submit(url: &str, body: Vec<u8>) -> Result<serde_json::Value, String> {
    let base = HubUrl::parse(url)?;
    let url = HubUrl {
        url: format!("http://{}{SUBMISSIONS_PATH}", base.authority),
        authority: base.authority,
        path: SUBMISSIONS_PATH.to_string(),
    };
    let req = hyper::Request::post(&url.path)
        .header(hyper::header::HOST, &url.authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("{}: {e}", url.url))?;
    let (status, body) = match tokio::time::timeout(FETCH_TIMEOUT, exchange(&url, req)).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(format!(
                "{}: no answer within {} s",
                url.url,
                FETCH_TIMEOUT.as_secs()
            ));
        }
    };
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if !status.is_success() {
        let why = answer["error"].as_str().unwrap_or("no reason given");
        return Err(format!(
            "{} refused the submission ({status}): {why}",
            url.url
        ));
    }
    Ok(answer)
}

/// One pull into the data dir `data`: fetch since the version accepted (from this anchor),
/// then accept. Errors are plain sentences; on any, the trust list is as it was.
pub async fn pull(data: &Path, url: &HubUrl, anchor: &AnchorPublic) -> Result<PullOutcome, String> {
    let accepted = {
        let data = data.to_path_buf();
        tokio::task::spawn_blocking(move || issuer_api::hub_accepted(&data))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
    };
    let since = accepted
        .filter(|a| a.anchor == anchor.kid_b64())
        .map(|a| a.version);
    match fetch(url, since).await? {
        Fetched::NotModified => Ok(PullOutcome::Unchanged {
            version: since.unwrap_or(0),
        }),
        Fetched::List(bytes) => {
            let (data, anchor, source) = (data.to_path_buf(), *anchor, url.url.clone());
            tokio::task::spawn_blocking(move || {
                issuer_api::accept_hub_list(&data, &bytes, &anchor, &source)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{}: {e}", url.url))
        }
    }
}

/// The warning to give about the list `data` accepted, at `now` with `max_age` seconds; `None`
/// when it is fresh or nothing was accepted yet.
pub fn age_warning(data: &Path, now: i64, max_age: i64) -> Option<(ListAge, String)> {
    let a = issuer_api::hub_accepted(data).ok()??;
    let age = deploy::list_age(&a, now, max_age);
    age.warning(&a).map(|w| (age, w))
}

/// Warns (log and stderr) of a stale or expired list when the state changes and once a day
/// while it lasts; returns the state and when it last warned.
async fn warn_if_old(
    data: &Path,
    max_age: i64,
    last: Option<(ListAge, i64)>,
) -> Option<(ListAge, i64)> {
    let now = engine::Timestamp::now().secs();
    let data = data.to_path_buf();
    let found = tokio::task::spawn_blocking(move || age_warning(&data, now, max_age))
        .await
        .ok()
        .flatten();
    let (age, warning) = found?;
    let same_kind =
        |a: &ListAge, b: &ListAge| std::mem::discriminant(a) == std::mem::discriminant(b);
    match last {
        Some((prev, at)) if same_kind(&prev, &age) && now - at < 86_400 => Some((age, at)),
        _ => {
            tracing::warn!("trust hub: {warning}");
            eprintln!("trust hub: warning: {warning}");
            Some((age, now))
        }
    }
}

/// Pulls every `every` for as long as the task lives, logging what changed and what failed,
/// and warning when the accepted list is older than `max_age` seconds or has expired.
pub async fn pull_every(
    data: PathBuf,
    url: HubUrl,
    anchor: AnchorPublic,
    every: Duration,
    max_age: i64,
) {
    let mut failing = false;
    let mut warned: Option<(ListAge, i64)> = None;
    loop {
        match pull(&data, &url, &anchor).await {
            Ok(PullOutcome::Updated {
                version,
                keys,
                revoked,
                dropped,
            }) => {
                failing = false;
                tracing::info!(
                    "trust hub: version {version} accepted ({keys} keys, {revoked} revoked{})",
                    if dropped > 0 {
                        format!(", {dropped} dropped here")
                    } else {
                        String::new()
                    }
                );
                eprintln!("trust hub: version {version} accepted ({keys} keys, {revoked} revoked)");
            }
            Ok(PullOutcome::Unchanged { .. }) => failing = false,
            Err(e) => {
                // Said once per outage, not at every retry.
                if !failing {
                    tracing::warn!("trust hub: {e}; keeping the last list, retrying");
                    eprintln!(
                        "trust hub: {e}; keeping the last list, retrying every {} s",
                        every.as_secs()
                    );
                }
                failing = true;
            }
        }
        warned = warn_if_old(&data, max_age, warned).await;
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_urls() {
        let u = HubUrl::parse("http://hub.internal:9000").unwrap();
        assert_eq!(u.as_str(), "http://hub.internal:9000/hub/v1/trust-list");
        let u = HubUrl::parse("http://hub/lists/cn.cose").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.path.as_str()),
            ("hub", "/lists/cn.cose")
        );
        for bad in [
            "https://hub",
            "hub:9000",
            "http://",
            "http://u@hub",
            "http://hub/x?y=1",
        ] {
            assert!(HubUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_old_or_expired_accepted_list_is_warned_of() {
        use engine::issuer_api::hub::{AnchorKey, SignedList};
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let t0 = 1_580_515_200;
        let day = 86_400;
        assert!(
            age_warning(data, t0, 7 * day).is_none(),
            "nothing accepted yet"
        );
        let anchor = AnchorKey::from_seed(&[9; 32]);
        let list = SignedList::new(1, t0, vec![], vec![])
            .expiring_at(t0 + 30 * day)
            .sign(&anchor);
        deploy::accept(data, &list, &anchor.public(), "test", t0 + 1).unwrap();
        assert!(age_warning(data, t0 + day, 7 * day).is_none());
        let (age, w) = age_warning(data, t0 + 8 * day, 7 * day).unwrap();
        assert!(matches!(age, ListAge::Stale { .. }), "{age:?}");
        assert!(w.contains("freeze"), "{w}");
        let (age, w) = age_warning(data, t0 + 30 * day, 7 * day).unwrap();
        assert!(matches!(age, ListAge::Expired { .. }), "{age:?}");
        assert!(w.contains("expired"), "{w}");
    }
}
