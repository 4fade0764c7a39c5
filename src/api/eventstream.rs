//! The AWS event-stream framing (`application/vnd.amazon.eventstream`) that
//! `InvokeWithResponseStream` answers in, and a response body fed through a channel.
//!
//! A message is `total length: u32 | headers length: u32 | crc32 of those 8 bytes | headers |
//! payload | crc32 of everything before it`, big-endian; each header is `name length: u8 |
//! name | type: u8 (7 = string) | value length: u16 | value`.

use bytes::{BufMut, Bytes, BytesMut};
use hyper::body::Frame;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Header value type 7: a UTF-8 string.
const STRING: u8 = 7;

/// One `:message-type: event` message of `event_type` carrying `payload`.
pub fn event(event_type: &str, content_type: &str, payload: &[u8]) -> Bytes {
    let headers: [(&str, &str); 3] = [
        (":event-type", event_type),
        (":content-type", content_type),
        (":message-type", "event"),
    ];
    let headers_len: usize = headers
        .iter()
        .map(|(name, value)| 1 + name.len() + 1 + 2 + value.len())
        .sum();
    let total = 12 + headers_len + payload.len() + 4;
    let mut out = BytesMut::with_capacity(total);
    out.put_u32(total as u32);
    out.put_u32(headers_len as u32);
    let prelude_crc = crc32fast::hash(&out[..8]);
    out.put_u32(prelude_crc);
    for (name, value) in headers {
        out.put_u8(name.len() as u8);
        out.put_slice(name.as_bytes());
        out.put_u8(STRING);
        out.put_u16(value.len() as u16);
        out.put_slice(value.as_bytes());
    }
    out.put_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.put_u32(message_crc);
    out.freeze()
}

/// A `PayloadChunk` event: bytes the function streamed.
pub fn payload_chunk(bytes: &[u8]) -> Bytes {
    event("PayloadChunk", "application/octet-stream", bytes)
}

/// The `InvokeComplete` event that ends every stream: `{}` when the function succeeded,
/// otherwise its `ErrorCode` and `ErrorDetails`; `LogResult` when a tail was asked for.
pub fn invoke_complete(error: Option<(&str, &str)>, log_result: Option<&str>) -> Bytes {
    let mut body = serde_json::Map::new();
    if let Some((code, details)) = error {
        body.insert("ErrorCode".into(), code.into());
        body.insert("ErrorDetails".into(), details.into());
    }
    if let Some(log) = log_result {
        body.insert("LogResult".into(), log.into());
    }
    let json = serde_json::to_vec(&body).unwrap_or_default();
    event("InvokeComplete", "application/json", &json)
}

/// A response body whose frames arrive through a channel; it ends when the sender is gone.
#[derive(Debug)]
pub struct ChannelBody(pub mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes one message back into its headers and payload, checking both checksums.
    fn decode(message: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
        let total = u32::from_be_bytes(message[0..4].try_into().unwrap()) as usize;
        let headers_len = u32::from_be_bytes(message[4..8].try_into().unwrap()) as usize;
        assert_eq!(total, message.len());
        assert_eq!(
            u32::from_be_bytes(message[8..12].try_into().unwrap()),
            crc32fast::hash(&message[..8])
        );
        assert_eq!(
            u32::from_be_bytes(message[total - 4..].try_into().unwrap()),
            crc32fast::hash(&message[..total - 4])
        );
        let mut headers = Vec::new();
        let mut at = 12;
        while at < 12 + headers_len {
            let n = message[at] as usize;
            let name = String::from_utf8(message[at + 1..at + 1 + n].to_vec()).unwrap();
            at += 1 + n;
            assert_eq!(message[at], STRING);
            let len = u16::from_be_bytes([message[at + 1], message[at + 2]]) as usize;
            let value = String::from_utf8(message[at + 3..at + 3 + len].to_vec()).unwrap();
            at += 3 + len;
            headers.push((name, value));
        }
        (headers, message[12 + headers_len..total - 4].to_vec())
    }

    #[test]
    fn chunk_round_trips() {
        let (headers, payload) = decode(&payload_chunk(b"hello"));
        assert_eq!(payload, b"hello");
        assert!(headers.contains(&(":event-type".into(), "PayloadChunk".into())));
        assert!(headers.contains(&(":message-type".into(), "event".into())));
    }

    #[test]
    fn complete_carries_the_error() {
        let (headers, payload) = decode(&invoke_complete(Some(("Boom", "it broke")), None));
        assert!(headers.contains(&(":event-type".into(), "InvokeComplete".into())));
        let body: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"ErrorCode": "Boom", "ErrorDetails": "it broke"})
        );
        let (_, payload) = decode(&invoke_complete(None, None));
        assert_eq!(payload, b"{}");
    }
}
