//! The bytes of one message in the redb `messages` table (format 1).
//!
//! ```text
//! u8      flags: bit 0 = has headers; other bits must be 0
//! i64 LE  time_ns
//! u32 LE  subject length S, then S bytes of UTF-8 subject
//! u32 LE  header length H, then H bytes      (only when bit 0 is set)
//! ...     payload: the rest of the record
//! ```
//!
//! The sequence is the table key, not part of the record. Every length is
//! checked on decode: a bad record is `StoreError::Corrupt`, never a panic.

use bytes::Bytes;

use super::{StoreError, StoredMsg};

const HAS_HEADERS: u8 = 1;
const LEN_BYTES: usize = 4;
/// flags + time_ns + subject length.
const FIXED_BYTES: usize = 1 + 8 + LEN_BYTES;

/// Appends the record of a message to `out`.
pub(super) fn encode_into(
    out: &mut Vec<u8>,
    subject: &str,
    headers: Option<&[u8]>,
    payload: &[u8],
    time_ns: i64,
) -> Result<(), StoreError> {
    let len = |part: &[u8], what: &'static str| {
        u32::try_from(part.len())
            .map(u32::to_le_bytes)
            .map_err(|_| StoreError::TooLarge {
                what,
                bytes: part.len(),
            })
    };
    let subject_len = len(subject.as_bytes(), "subject")?;
    out.reserve(
        FIXED_BYTES + LEN_BYTES + subject.len() + headers.map_or(0, <[u8]>::len) + payload.len(),
    );
    out.push(if headers.is_some() { HAS_HEADERS } else { 0 });
    out.extend_from_slice(&time_ns.to_le_bytes());
    out.extend_from_slice(&subject_len);
    out.extend_from_slice(subject.as_bytes());
    if let Some(headers) = headers {
        out.extend_from_slice(&len(headers, "header block")?);
        out.extend_from_slice(headers);
    }
    out.extend_from_slice(payload);
    Ok(())
}

/// Where the parts of a record lie, after checking every length.
struct Layout<'a> {
    time_ns: i64,
    subject: &'a str,
    /// Byte range of the header block, if any.
    headers: Option<(usize, usize)>,
    /// Where the payload starts.
    payload: usize,
}

fn corrupt(seq: u64, why: &str) -> StoreError {
    StoreError::corrupt(format!("message {seq}: {why}"))
}

fn read_len(record: &[u8], at: usize, seq: u64) -> Result<usize, StoreError> {
    let bytes: [u8; LEN_BYTES] = record
        .get(at..at + LEN_BYTES)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt(seq, "record cut short"))?;
    usize::try_from(u32::from_le_bytes(bytes)).map_err(|_| corrupt(seq, "length too large"))
}

fn layout(record: &[u8], seq: u64) -> Result<Layout<'_>, StoreError> {
    let (&flags, rest) = record
        .split_first()
        .ok_or_else(|| corrupt(seq, "empty record"))?;
    if flags & !HAS_HEADERS != 0 {
        return Err(corrupt(seq, &format!("unknown flags {flags:#04x}")));
    }
    let time: [u8; 8] = rest
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt(seq, "record cut short"))?;
    let subject_len = read_len(record, 9, seq)?;
    let subject_end = FIXED_BYTES
        .checked_add(subject_len)
        .filter(|&end| end <= record.len())
        .ok_or_else(|| corrupt(seq, "subject runs past the record"))?;
    let subject = std::str::from_utf8(&record[FIXED_BYTES..subject_end])
        .map_err(|_| corrupt(seq, "subject is not UTF-8"))?;
    let (headers, payload) = if flags & HAS_HEADERS == 0 {
        (None, subject_end)
    } else {
        let header_len = read_len(record, subject_end, seq)?;
        let start = subject_end + LEN_BYTES;
        let end = start
            .checked_add(header_len)
            .filter(|&end| end <= record.len())
            .ok_or_else(|| corrupt(seq, "headers run past the record"))?;
        (Some((start, end)), end)
    };
    Ok(Layout {
        time_ns: i64::from_le_bytes(time),
        subject,
        headers,
        payload,
    })
}

/// The subject and time of a record, without copying it.
pub(super) struct Summary<'a> {
    pub subject: &'a str,
    pub time_ns: i64,
}

pub(super) fn summary(record: &[u8], seq: u64) -> Result<Summary<'_>, StoreError> {
    let l = layout(record, seq)?;
    Ok(Summary {
        subject: l.subject,
        time_ns: l.time_ns,
    })
}

/// The whole message; headers and payload share one copy of the record.
#[cfg(test)]
pub(super) fn decode(record: &[u8], seq: u64) -> Result<StoredMsg, StoreError> {
    let l = layout(record, seq)?;
    let subject = l.subject.to_owned();
    let (time_ns, headers, payload) = (l.time_ns, l.headers, l.payload);
    let buf = Bytes::copy_from_slice(record);
    Ok(StoredMsg {
        seq,
        subject,
        headers: headers.map(|(start, end)| buf.slice(start..end)),
        payload: buf.slice(payload..),
        time_ns,
    })
}

/// The whole message from a record read into its own buffer: headers and
/// payload are slices of it, nothing is copied.
pub(super) fn decode_shared(record: Bytes, seq: u64) -> Result<StoredMsg, StoreError> {
    let l = layout(&record, seq)?;
    let subject = l.subject.to_owned();
    let (time_ns, headers, payload) = (l.time_ns, l.headers, l.payload);
    Ok(StoredMsg {
        seq,
        subject,
        headers: headers.map(|(start, end)| record.slice(start..end)),
        payload: record.slice(payload..),
        time_ns,
    })
}

/// What a record counts for in `bytes` (`stored_size`), from its length:
/// the record carries 17 bytes fewer than the reference's count.
pub(super) fn stored_size_of_record(len: u32) -> u64 {
    u64::from(len) + 17
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(headers: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(&mut out, "orders.eu.1", headers, b"payload bytes", -42).expect("encode");
        out
    }

    #[test]
    fn round_trip() {
        for headers in [None, Some(&b"NATS/1.0\r\nA: b\r\n\r\n"[..]), Some(&b""[..])] {
            let bytes = record(headers);
            let msg = decode(&bytes, 7).expect("decode");
            assert_eq!(msg.seq, 7);
            assert_eq!(msg.subject, "orders.eu.1");
            assert_eq!(msg.headers.as_deref(), headers);
            assert_eq!(&msg.payload[..], b"payload bytes");
            assert_eq!(msg.time_ns, -42);
            let s = summary(&bytes, 7).expect("summary");
            assert_eq!((s.subject, s.time_ns), ("orders.eu.1", -42));
            assert_eq!(
                stored_size_of_record(bytes.len() as u32),
                crate::store::stored_size(&msg.subject, msg.headers.as_deref(), &msg.payload)
            );
        }
    }

    #[test]
    fn every_truncation_is_corrupt_or_a_shorter_payload() {
        for headers in [None, Some(&b"NATS/1.0\r\n\r\n"[..])] {
            let bytes = record(headers);
            let payload_start = bytes.len() - b"payload bytes".len();
            for cut in 0..bytes.len() {
                match decode(&bytes[..cut], 1) {
                    Err(StoreError::Corrupt { .. }) => assert!(cut < payload_start, "cut at {cut}"),
                    Ok(msg) => assert_eq!(msg.payload.len(), cut - payload_start),
                    Err(e) => panic!("unexpected error {e}"),
                }
            }
        }
    }

    #[test]
    fn bad_flags_lengths_and_utf8_are_corrupt() {
        let mut bytes = record(None);
        bytes[0] = 0x80;
        assert!(matches!(decode(&bytes, 1), Err(StoreError::Corrupt { .. })));
        let mut bytes = record(None);
        bytes[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            summary(&bytes, 1),
            Err(StoreError::Corrupt { .. })
        ));
        let mut bytes = record(Some(b"h"));
        let at = FIXED_BYTES + "orders.eu.1".len();
        bytes[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(decode(&bytes, 1), Err(StoreError::Corrupt { .. })));
        let mut bytes = record(None);
        bytes[FIXED_BYTES] = 0xff;
        assert!(matches!(decode(&bytes, 1), Err(StoreError::Corrupt { .. })));
    }
}
