//! JSON answers written as they are sent: an object whose last field is a long list (a trace's
//! contacts) goes out a few items at a time, each piece serialized into a small buffer as the
//! connection takes it, instead of the whole document built in memory first. The bytes are
//! exactly `serde_json::to_vec` of the whole.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// About this many bytes per piece of the body.
const PIECE: usize = 32 * 1024;

/// The JSON object that [`ListHead`] begins (its fields before the list), then `items` as the
/// list's array, then the closing brace.
pub fn json_with_list<T>(head: ListHead, items: Vec<T>) -> Response
where
    T: Serialize + Send + 'static,
{
    let mut buf = head.0;
    buf.push(b'[');
    let mut items = items.into_iter().enumerate();
    let mut done = false;
    let pieces = futures_util::stream::poll_fn(move |_| {
        if done {
            return std::task::Poll::Ready(None);
        }
        while buf.len() < PIECE {
            match items.next() {
                Some((i, item)) => {
                    if i > 0 {
                        buf.push(b',');
                    }
                    if let Err(e) = serde_json::to_writer(&mut buf, &item) {
                        done = true;
                        return std::task::Poll::Ready(Some(Err(e)));
                    }
                }
                None => {
                    buf.extend_from_slice(b"]}");
                    done = true;
                    break;
                }
            }
        }
        let piece = std::mem::replace(&mut buf, Vec::with_capacity(PIECE + PIECE / 4));
        std::task::Poll::Ready(Some(Ok::<_, serde_json::Error>(Bytes::from(piece))))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(pieces),
    )
        .into_response()
}

/// The start of a JSON object up to (not including) its last field's list value.
pub struct ListHead(Vec<u8>);

impl ListHead {
    /// `{"name":value,…,"list":` from the fields before the list, in order.
    pub fn new(fields: &[(&str, &dyn erased::Field)], list: &str) -> Result<ListHead, String> {
        let mut out = vec![b'{'];
        for (name, value) in fields {
            serde_json::to_writer(&mut out, name).map_err(|e| e.to_string())?;
            out.push(b':');
            value.write(&mut out)?;
            out.push(b',');
        }
        serde_json::to_writer(&mut out, list).map_err(|e| e.to_string())?;
        out.push(b':');
        Ok(ListHead(out))
    }
}

/// A field value of any serializable type, behind one trait object.
pub mod erased {
    use serde::Serialize;

    pub trait Field {
        fn write(&self, out: &mut Vec<u8>) -> Result<(), String>;
    }

    impl<T: Serialize> Field for T {
        fn write(&self, out: &mut Vec<u8>) -> Result<(), String> {
            serde_json::to_writer(out, self).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Item {
        id: String,
        n: u32,
    }

    #[derive(Serialize)]
    struct Whole {
        case: Item,
        as_of: String,
        contacts: Vec<Item>,
    }

    async fn body_of(r: Response) -> Vec<u8> {
        axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn the_pieces_make_the_whole_document() {
        for n in [0usize, 1, 2, 5000] {
            let item = |i: usize| Item {
                id: format!("p\"{i}\u{1F600}"),
                n: i as u32,
            };
            let whole = Whole {
                case: item(99),
                as_of: "2020-02-03T23:59:59.999+08:00".into(),
                contacts: (0..n).map(item).collect(),
            };
            let expected = serde_json::to_vec(&whole).unwrap();
            let head = ListHead::new(
                &[("case", &whole.case), ("as_of", &whole.as_of)],
                "contacts",
            )
            .unwrap();
            let got = body_of(json_with_list(head, whole.contacts)).await;
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }
}
