//! The compression around a backup archive. nats-server writes S2
//! (Snappy's framing with its own magic, chunks up to 4 MiB and a
//! repeat-offset copy); it reads Snappy streams too. So archives are read
//! in both forms and written as Snappy framing with stored chunks, which
//! any S2 or Snappy reader takes.

const S2_MAGIC: &[u8] = b"S2sTwO";
const SNAPPY_MAGIC: &[u8] = b"sNaPpY";
/// Snappy's chunk limit (nats-server enforces it for Snappy streams).
const SNAPPY_CHUNK: usize = 65_536;
/// S2's chunk limit.
const S2_MAX_CHUNK: usize = 4 << 20;

/// Why an archive's compression cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadStream(pub(crate) &'static str);

impl std::fmt::Display for BadStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad compressed stream: {}", self.0)
    }
}

fn masked_crc(data: &[u8]) -> u32 {
    let c = crate::store::crc32c(data);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// `data` as a Snappy-framed stream of stored chunks.
pub(crate) fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / SNAPPY_CHUNK * 8 + 16);
    out.extend_from_slice(&[0xff, 6, 0, 0]);
    out.extend_from_slice(SNAPPY_MAGIC);
    for chunk in data.chunks(SNAPPY_CHUNK) {
        let len = chunk.len() + 4;
        out.push(0x01);
        out.extend_from_slice(&(len as u32).to_le_bytes()[..3]);
        out.extend_from_slice(&masked_crc(chunk).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// The data of an S2- or Snappy-framed stream, every chunk's CRC checked.
pub(crate) fn decode(src: &[u8]) -> Result<Vec<u8>, BadStream> {
    let mut out = Vec::with_capacity(src.len() * 2);
    let mut at = 0;
    let mut seen_magic = false;
    let mut limit = S2_MAX_CHUNK;
    while at < src.len() {
        let head = src.get(at..at + 4).ok_or(BadStream("cut short"))?;
        let kind = head[0];
        let len = usize::from(head[1]) | usize::from(head[2]) << 8 | usize::from(head[3]) << 16;
        let body = src
            .get(at + 4..at + 4 + len)
            .ok_or(BadStream("cut short"))?;
        at += 4 + len;
        if kind == 0xff {
            if body == S2_MAGIC {
                limit = S2_MAX_CHUNK;
            } else if body == SNAPPY_MAGIC {
                limit = SNAPPY_CHUNK;
            } else {
                return Err(BadStream("unknown stream identifier"));
            }
            seen_magic = true;
            continue;
        }
        if !seen_magic {
            return Err(BadStream("no stream identifier"));
        }
        match kind {
            0x00 | 0x01 => {
                let (crc, data) = body.split_at_checked(4).ok_or(BadStream("short chunk"))?;
                let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
                let start = out.len();
                if kind == 0x00 {
                    decode_block(data, &mut out, limit)?;
                } else {
                    if data.len() > limit {
                        return Err(BadStream("chunk too large"));
                    }
                    out.extend_from_slice(data);
                }
                if masked_crc(&out[start..]) != want {
                    return Err(BadStream("checksum mismatch"));
                }
            }
            0x02..=0x7f => return Err(BadStream("unknown chunk type")),
            // Padding and skippable chunks.
            _ => {}
        }
    }
    Ok(out)
}

fn uvarint(src: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &b) in src.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

/// One S2 (or Snappy) block appended to `out`.
fn decode_block(src: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), BadStream> {
    let bad = BadStream("corrupt block");
    let (dlen, mut i) = uvarint(src).ok_or(bad.clone())?;
    let dlen = usize::try_from(dlen).map_err(|_| bad.clone())?;
    if dlen > limit {
        return Err(BadStream("chunk too large"));
    }
    let base = out.len();
    out.reserve(dlen);
    let mut last_offset = 0usize;
    let byte = |at: usize| src.get(at).copied().map(usize::from).ok_or(bad.clone());
    while i < src.len() {
        let tag = usize::from(src[i]);
        let (length, offset) = match tag & 3 {
            0 => {
                let mut n = tag >> 2;
                i += 1;
                if n >= 60 {
                    let extra = n - 59;
                    let mut v = 0usize;
                    for k in 0..extra {
                        v |= byte(i + k)? << (8 * k);
                    }
                    i += extra;
                    n = v;
                }
                let n = n + 1;
                let lit = src.get(i..i + n).ok_or(bad.clone())?;
                out.extend_from_slice(lit);
                i += n;
                continue;
            }
            1 => {
                let code = (tag >> 2) & 7;
                let offset = ((tag & 0xe0) << 3) | byte(i + 1)?;
                i += 2;
                if offset == 0 {
                    // S2: the last offset again.
                    let length = match code {
                        5 => {
                            let v = byte(i)?;
                            i += 1;
                            v + 8
                        }
                        6 => {
                            let v = byte(i)? | byte(i + 1)? << 8;
                            i += 2;
                            v + 260
                        }
                        7 => {
                            let v = byte(i)? | byte(i + 1)? << 8 | byte(i + 2)? << 16;
                            i += 3;
                            v + 65_540
                        }
                        c => c + 4,
                    };
                    (length, last_offset)
                } else {
                    (code + 4, offset)
                }
            }
            2 => {
                let offset = byte(i + 1)? | byte(i + 2)? << 8;
                i += 3;
                ((tag >> 2) + 1, offset)
            }
            _ => {
                let offset =
                    byte(i + 1)? | byte(i + 2)? << 8 | byte(i + 3)? << 16 | byte(i + 4)? << 24;
                i += 5;
                ((tag >> 2) + 1, offset)
            }
        };
        let written = out.len() - base;
        if offset == 0 || offset > written || written + length > dlen {
            return Err(bad);
        }
        last_offset = offset;
        let from = out.len() - offset;
        for k in 0..length {
            let b = out[from + k];
            out.push(b);
        }
    }
    if out.len() - base != dlen {
        return Err(bad);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_chunks_round_trip_and_damage_is_caught() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let enc = encode(&data);
        assert_eq!(&enc[..10], b"\xff\x06\x00\x00sNaPpY");
        assert_eq!(decode(&enc).expect("decode"), data);
        let mut bad = enc.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(decode(&bad), Err(BadStream("checksum mismatch")));
        assert!(decode(&enc[..enc.len() - 3]).is_err());
        assert!(decode(b"\x01\x05\x00\x00abcde").is_err());
    }

    #[test]
    fn compressed_blocks_with_s2_repeats_decode() {
        // "abcd" then copy1 (offset 4, length 8) then an S2 repeat of
        // offset 4 with length code 5 (8 + 2 = 10): 4 + 8 + 10 = 22 bytes.
        let mut block = vec![22u8];
        block.extend_from_slice(&[3 << 2, b'a', b'b', b'c', b'd']);
        block.extend_from_slice(&[0x01 | (4 << 2), 4]);
        block.extend_from_slice(&[0x01 | (5 << 2), 0, 2]);
        let mut out = Vec::new();
        decode_block(&block, &mut out, S2_MAX_CHUNK).expect("block");
        assert_eq!(out, b"abcdabcdabcdabcdabcdab");
        // Framed as S2.
        let mut stream = vec![0xff, 6, 0, 0];
        stream.extend_from_slice(S2_MAGIC);
        let len = block.len() + 4;
        stream.extend_from_slice(&[0x00, len as u8, 0, 0]);
        stream.extend_from_slice(&masked_crc(&out).to_le_bytes());
        stream.extend_from_slice(&block);
        assert_eq!(decode(&stream).expect("s2"), out);
    }
}
