//! Records on disk: `len: u32 LE | crc32(body): u32 LE | body`, body = `kind | id | payload`.

/// Header bytes before a record's body.
pub const HEADER: usize = 8;
/// Body bytes before the payload.
const BODY_HEAD: usize = 9;
/// The largest body accepted when reading: anything longer is a torn or corrupt length.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

const PUT: u8 = 1;
const REMOVE: u8 = 2;

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<'a> {
    Put { id: u64, payload: &'a [u8] },
    Remove { id: u64 },
}

/// Bytes a put of a `payload_len`-byte payload takes on disk.
pub fn encoded_len(payload_len: usize) -> u64 {
    (HEADER + BODY_HEAD + payload_len) as u64
}

/// Appends the encoding of a put to `out`.
pub fn put(out: &mut Vec<u8>, id: u64, payload: &[u8]) {
    encode(out, PUT, id, payload);
}

/// Appends the encoding of a remove to `out`.
pub fn remove(out: &mut Vec<u8>, id: u64) {
    encode(out, REMOVE, id, &[]);
}

fn encode(out: &mut Vec<u8>, kind: u8, id: u64, payload: &[u8]) {
    let body_len = BODY_HEAD + payload.len();
    let start = out.len();
    // Lengths beyond u32 never reach here: payloads are bounded far below 4 GiB by their
    // callers (the async payload limit), and MAX_BODY refuses them when read back.
    out.extend_from_slice(&u32::try_from(body_len).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(kind);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[start + HEADER..]);
    out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
}

/// Why decoding stopped before the end of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bad {
    pub offset: u64,
    pub why: &'static str,
}

/// Decodes every record of a segment in order; stops at the first bad one.
pub fn decode(bytes: &[u8]) -> (Vec<Entry<'_>>, Result<(), Bad>) {
    let mut entries = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        match decode_one(&bytes[at..]) {
            Ok((entry, used)) => {
                entries.push(entry);
                at += used;
            }
            Err(why) => {
                let offset = at as u64;
                return (entries, Err(Bad { offset, why }));
            }
        }
    }
    (entries, Ok(()))
}

fn decode_one(bytes: &[u8]) -> Result<(Entry<'_>, usize), &'static str> {
    let header = bytes.get(..HEADER).ok_or("truncated record header")?;
    let mut len = [0u8; 4];
    len.copy_from_slice(&header[..4]);
    let len = u32::from_le_bytes(len) as usize;
    if !(BODY_HEAD..=MAX_BODY).contains(&len) {
        return Err("impossible record length");
    }
    let body = bytes
        .get(HEADER..HEADER + len)
        .ok_or("record runs past the end of the segment")?;
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&header[4..]);
    if crc32fast::hash(body) != u32::from_le_bytes(crc) {
        return Err("checksum mismatch");
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&body[1..BODY_HEAD]);
    let id = u64::from_le_bytes(id);
    let entry = match body[0] {
        PUT => Entry::Put {
            id,
            payload: &body[BODY_HEAD..],
        },
        REMOVE if len == BODY_HEAD => Entry::Remove { id },
        _ => return Err("unknown record kind"),
    };
    Ok((entry, HEADER + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn_tails() {
        let mut buf = Vec::new();
        put(&mut buf, 1, b"hello");
        remove(&mut buf, 1);
        put(&mut buf, 2, b"");
        let (entries, end) = decode(&buf);
        assert_eq!(end, Ok(()));
        assert_eq!(
            entries,
            [
                Entry::Put {
                    id: 1,
                    payload: b"hello"
                },
                Entry::Remove { id: 1 },
                Entry::Put {
                    id: 2,
                    payload: b""
                }
            ]
        );
        for cut in 0..buf.len() {
            let (entries, end) = decode(&buf[..cut]);
            assert!(entries.len() < 3);
            if end.is_ok() {
                assert!(
                    cut == 0 || cut == 22 || cut == 39,
                    "cut {cut} ends on a boundary"
                );
            }
        }
        let mut flipped = buf.clone();
        flipped[10] ^= 1;
        assert_eq!(
            decode(&flipped).1.map_err(|b| b.why),
            Err("checksum mismatch")
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(0u8..=255, 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
