//! The SMS gateway notifier: each one-time code POSTed as JSON (`{"to", "code", "text"}`) to a
//! webhook URL, over plain HTTP/1.1 (a gateway on the deployment's own network, or a TLS relay
//! in front of one outside it). A send that takes longer than [`SEND_TIMEOUT`] or is answered
//! with anything but 2xx fails, and the failure is in the sign-in's audit entry.

use std::time::Duration;

use engine::resident::{Notifier, OtpMessage, Sending};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

/// How long one send may take, connecting included.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// POSTs each message to one `http://host[:port]/path` URL.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: String,
    authority: String,
    path: String,
}

impl Webhook {
    /// Checks the URL: `http://`, a host, an optional port and path.
    pub fn new(url: &str) -> Result<Webhook, String> {
        let url = url.trim();
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(format!(
                "{url}: the webhook must be an http:// URL (put a TLS relay in front of an https gateway)"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty()
            || authority.contains('@')
            || authority.contains(char::is_whitespace)
        {
            return Err(format!("{url}: no host (http://HOST[:PORT]/PATH)"));
        }
        Ok(Webhook {
            url: url.to_string(),
            authority: authority.to_string(),
            path: path.to_string(),
        })
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), String> {
        let addr = if self.authority.contains(':') {
            self.authority.clone()
        } else {
            format!("{}:80", self.authority)
        };
        let stream = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("{}: {e}", self.url))?;
        tokio::spawn(conn);
        let req = hyper::Request::post(&self.path)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("{}: {e}", self.url))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("{}: {e}", self.url))?;
        let status = resp.status();
        // Read (a bounded part of) the answer so the gateway sees the exchange finished.
        let _ = tokio::time::timeout(Duration::from_secs(1), resp.into_body().collect()).await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{} answered {status}", self.url))
        }
    }
}

impl Notifier for Webhook {
    fn send<'a>(&'a self, message: &'a OtpMessage) -> Sending<'a> {
        Box::pin(async move {
            let body = serde_json::to_vec(message).map_err(|e| e.to_string())?;
            match tokio::time::timeout(SEND_TIMEOUT, self.post(body)).await {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "{} did not answer within {} s",
                    self.url,
                    SEND_TIMEOUT.as_secs()
                )),
            }
        })
    }

    fn describe(&self) -> String {
        format!("webhook {}", self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host() {
        let w = Webhook::new("http://sms.internal:8080/send").unwrap();
        assert_eq!(
            (w.authority.as_str(), w.path.as_str()),
            ("sms.internal:8080", "/send")
        );
        assert_eq!(Webhook::new("http://gw").unwrap().path, "/");
        for bad in [
            "https://gw/x",
            "ftp://gw",
            "http:///x",
            "http://u:p@gw/x",
            "gw/x",
        ] {
            assert!(Webhook::new(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_message_reaches_a_real_receiver_and_a_refusal_is_an_error() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A real HTTP receiver on loopback: reads one request, answers, hands the body back.
        async fn receiver(status: &'static str) -> (String, tokio::task::JoinHandle<String>) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/sms", listener.local_addr().unwrap());
            let task = tokio::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = s.read(&mut buf).await.unwrap();
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_string();
                    if let Some(i) = text.find("\r\n\r\n") {
                        let len: usize = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if got.len() >= i + 4 + len {
                            break;
                        }
                    }
                    if n == 0 {
                        break;
                    }
                }
                let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                s.write_all(reply.as_bytes()).await.unwrap();
                String::from_utf8_lossy(&got).to_string()
            });
            (url, task)
        }
        let message = OtpMessage {
            to: "13800138000".into(),
            code: "123456".into(),
            text: "code 123456".into(),
        };
        let (url, task) = receiver("200 OK").await;
        Webhook::new(&url).unwrap().send(&message).await.unwrap();
        let request = task.await.unwrap();
        assert!(request.starts_with("POST /sms HTTP/1.1"), "{request}");
        let body = request.split("\r\n\r\n").nth(1).unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["to"], "13800138000");
        assert_eq!(json["code"], "123456");

        let (url, task) = receiver("503 Service Unavailable").await;
        let e = Webhook::new(&url)
            .unwrap()
            .send(&message)
            .await
            .unwrap_err();
        assert!(e.contains("503"), "{e}");
        task.await.unwrap();
        // Nobody listening: a clear error, not a hang.
        let e = Webhook::new("http://127.0.0.1:9/x")
            .unwrap()
            .send(&message)
            .await
            .unwrap_err();
        assert!(e.contains("127.0.0.1:9"), "{e}");
    }
}
