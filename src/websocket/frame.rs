//! WebSocket framing (RFC 6455) for NATS clients, as the reference
//! speaks it: the client's frames (binary or text, masked unless the
//! client asked for `Nats-No-Masking`, possibly fragmented) carry the
//! NATS protocol as a byte stream; the server's go out as unmasked binary
//! frames. Pings are answered, a close is echoed; a frame that breaks the
//! rules ends the connection with close code 1002.

/// Close codes the reference uses.
pub(super) const CLOSE_NORMAL: u16 = 1000;
pub(super) const CLOSE_PROTOCOL: u16 = 1002;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// A frame header: `binary` frames for data, or a control frame.
pub(super) fn header(opcode: u8, len: usize, out: &mut Vec<u8>) {
    out.push(0x80 | opcode);
    if len < 126 {
        out.push(len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// A whole binary frame of `data`.
pub(super) fn binary(data: &[u8], out: &mut Vec<u8>) {
    header(OP_BINARY, data.len(), out);
    out.extend_from_slice(data);
}

/// A close frame with `code` (and no reason).
pub(super) fn close(code: u16) -> Vec<u8> {
    close_because(code, "")
}

/// A close frame with `code` and the reason's text, as the reference
/// sends one for a frame breaking the rules.
pub(super) fn close_because(code: u16, reason: &str) -> Vec<u8> {
    let reason = &reason.as_bytes()[..reason.len().min(123)];
    let mut out = Vec::with_capacity(4 + reason.len());
    header(OP_CLOSE, 2 + reason.len(), &mut out);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason);
    out
}

fn protocol_error(reason: &str) -> Event {
    Event::Close(close_because(CLOSE_PROTOCOL, reason))
}

/// A message compressed without context takeover: inflated with the
/// tail the sender stripped put back.
fn inflate(data: &[u8]) -> Option<Vec<u8>> {
    let mut input = data.to_vec();
    input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    let mut d = flate2::Decompress::new(false);
    let mut out = Vec::with_capacity(data.len() * 4 + 64);
    loop {
        let before_in = d.total_in();
        out.reserve(64 * 1024);
        let status = d
            .decompress_vec(
                &input[before_in as usize..],
                &mut out,
                flate2::FlushDecompress::Sync,
            )
            .ok()?;
        if d.total_in() as usize >= input.len() || status == flate2::Status::StreamEnd {
            return Some(out);
        }
        if d.total_in() == before_in && out.len() < out.capacity() {
            return None;
        }
    }
}

/// A binary frame of `data` compressed (RSV1 set), as the reference
/// sends one when permessage-deflate was agreed.
pub(super) fn binary_deflated(data: &[u8], out: &mut Vec<u8>) {
    let mut c = flate2::Compress::new(flate2::Compression::fast(), false);
    let mut body = Vec::with_capacity(data.len() / 2 + 64);
    loop {
        body.reserve(data.len() / 2 + 64);
        let consumed = c.total_in() as usize;
        if c.compress_vec(&data[consumed..], &mut body, flate2::FlushCompress::Sync)
            .is_err()
        {
            return binary(data, out);
        }
        if c.total_in() as usize >= data.len() && body.len() < body.capacity() {
            break;
        }
    }
    if body.ends_with(&[0x00, 0x00, 0xff, 0xff]) {
        body.truncate(body.len() - 4);
    }
    let start = out.len();
    header(OP_BINARY, body.len(), out);
    out[start] |= 0x40;
    out.extend_from_slice(&body);
}

/// What the decoder found in the client's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// Protocol bytes (a data frame's payload, or part of it).
    Data(Vec<u8>),
    /// Answer with this frame (a pong).
    Reply(Vec<u8>),
    /// The client closed (echo this close), or broke the framing (send
    /// this close): the connection ends.
    Close(Vec<u8>),
}

/// Decodes the client's frames from a byte stream, a piece at a time.
pub(super) struct Decoder {
    masked: bool,
    /// permessage-deflate was agreed: a message's first frame may say
    /// (RSV1) that the message is compressed.
    deflate: bool,
    /// The payload of a compressed message so far.
    compressed: Option<Vec<u8>>,
    /// A data frame's payload still to come, and its mask and position.
    remaining: u64,
    mask: [u8; 4],
    mask_at: usize,
    /// Inside a fragmented message (a continuation is expected).
    fragmented: bool,
}

impl Decoder {
    pub(super) fn new(masked: bool, deflate: bool) -> Decoder {
        Decoder {
            masked,
            deflate,
            compressed: None,
            remaining: 0,
            mask: [0; 4],
            mask_at: 0,
            fragmented: false,
        }
    }

    fn unmask(&mut self, data: &mut [u8]) {
        if !self.masked {
            return;
        }
        for b in data.iter_mut() {
            *b ^= self.mask[self.mask_at & 3];
            self.mask_at += 1;
        }
    }

    /// Takes what it can from `buf` (consumed bytes are drained), and
    /// reports what it found; stops at a close.
    pub(super) fn feed(&mut self, buf: &mut Vec<u8>, events: &mut Vec<Event>) {
        let mut at = 0;
        loop {
            if self.remaining > 0 {
                let n = (buf.len() - at).min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                if n == 0 {
                    break;
                }
                let mut data = buf[at..at + n].to_vec();
                self.unmask(&mut data);
                at += n;
                self.remaining -= n as u64;
                match &mut self.compressed {
                    Some(msg) => {
                        msg.extend_from_slice(&data);
                        if self.remaining == 0 && !self.fragmented {
                            match inflate(msg) {
                                Some(plain) => events.push(Event::Data(plain)),
                                None => {
                                    events.push(protocol_error("invalid compressed data"));
                                    buf.clear();
                                    return;
                                }
                            }
                            self.compressed = None;
                        }
                    }
                    None => events.push(Event::Data(data)),
                }
                continue;
            }
            let Some((head_len, fin, opcode, len, mask)) =
                parse_head(&buf[at..], self.masked, self.deflate)
            else {
                break;
            };
            let rsv1 = buf[at] & 0x40 != 0;
            let head = match head_len {
                Ok(head) => head,
                Err(reason) => {
                    events.push(protocol_error(reason));
                    buf.clear();
                    return;
                }
            };
            let control = opcode & 0x8 != 0;
            if control {
                let broken = if !fin {
                    Some("control frame does not have final bit set")
                } else if len > 125 {
                    Some("control frame length bigger than maximum allowed of 125 bytes")
                } else {
                    None
                };
                let broken = broken.or(rsv1.then_some("control frame must not be compressed"));
                if let Some(reason) = broken {
                    events.push(protocol_error(reason));
                    buf.clear();
                    return;
                }
                let total = head + len as usize;
                if buf.len() - at < total {
                    break;
                }
                let mut payload = buf[at + head..at + total].to_vec();
                if let Some(m) = mask {
                    for (i, b) in payload.iter_mut().enumerate() {
                        *b ^= m[i & 3];
                    }
                }
                at += total;
                match opcode {
                    OP_PING => {
                        let mut pong = Vec::with_capacity(payload.len() + 2);
                        header(OP_PONG, payload.len(), &mut pong);
                        pong.extend_from_slice(&payload);
                        events.push(Event::Reply(pong));
                    }
                    OP_PONG => {}
                    OP_CLOSE => {
                        let code = if payload.len() >= 2 {
                            u16::from_be_bytes([payload[0], payload[1]])
                        } else {
                            CLOSE_NORMAL
                        };
                        events.push(Event::Close(close(code)));
                        buf.clear();
                        return;
                    }
                    other => {
                        events.push(protocol_error(&format!("unknown opcode {other}")));
                        buf.clear();
                        return;
                    }
                }
                continue;
            }
            let broken = match opcode {
                OP_TEXT | OP_BINARY if self.fragmented => Some(
                    "new message started before final frame for previous message was received"
                        .to_string(),
                ),
                OP_TEXT | OP_BINARY => None,
                OP_CONTINUATION if !self.fragmented => Some("invalid continuation frame".into()),
                OP_CONTINUATION => None,
                other => Some(format!("unknown opcode {other}")),
            };
            let broken = broken.or((rsv1 && opcode == OP_CONTINUATION)
                .then(|| "continuation frame must not have the compressed bit set".to_string()));
            if let Some(reason) = broken {
                events.push(protocol_error(&reason));
                buf.clear();
                return;
            }
            if rsv1 {
                self.compressed = Some(Vec::new());
            }
            self.fragmented = !fin;
            if len == 0 && fin {
                // An empty final frame ends a compressed message too.
                if let Some(msg) = self.compressed.take() {
                    match inflate(&msg) {
                        Some(plain) if !plain.is_empty() => events.push(Event::Data(plain)),
                        Some(_) => {}
                        None => {
                            events.push(protocol_error("invalid compressed data"));
                            buf.clear();
                            return;
                        }
                    }
                }
            }
            at += head;
            self.remaining = len;
            self.mask = mask.unwrap_or([0; 4]);
            self.mask_at = 0;
        }
        buf.drain(..at);
    }
}

/// A frame head: (its length, or an error for a frame breaking the
/// rules), FIN, opcode, payload length, mask; `None` until it is whole.
#[allow(clippy::type_complexity)]
fn parse_head(
    b: &[u8],
    masked: bool,
    deflate: bool,
) -> Option<(Result<usize, &'static str>, bool, u8, u64, Option<[u8; 4]>)> {
    let b0 = *b.first()?;
    let b1 = *b.get(1)?;
    let fin = b0 & 0x80 != 0;
    let rsv = b0 & 0x70;
    let opcode = b0 & 0x0f;
    let has_mask = b1 & 0x80 != 0;
    let (len, mut at) = match b1 & 0x7f {
        126 => (u64::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?])), 4),
        127 => {
            let bytes: [u8; 8] = b.get(2..10)?.try_into().ok()?;
            (u64::from_be_bytes(bytes), 10)
        }
        n => (u64::from(n), 2),
    };
    let mut mask = None;
    if has_mask {
        let m: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        mask = Some(m);
        at += 4;
    }
    // No extension was agreed: reserved bits set, or a frame not masked
    // as agreed, break the framing.
    let head = if rsv & 0x30 != 0 {
        Err("RSV2 and RSV3 must be clear")
    } else if rsv != 0 && !deflate {
        Err("compressed frame received without negotiated permessage-deflate")
    } else if masked && !has_mask {
        Err("mask bit missing")
    } else {
        Ok(at)
    };
    Some((head, fin, opcode, len, mask))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked_frame(first: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![first];
        if payload.len() < 126 {
            out.push(0x80 | payload.len() as u8);
        } else {
            out.push(0x80 | 126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        out
    }

    #[test]
    fn masked_fragmented_frames_in_pieces_give_the_bytes() {
        let mut d = Decoder::new(true, false);
        let mut wire = masked_frame(0x82, b"PUB a 1\r\n", [1, 2, 3, 4]);
        wire.extend(masked_frame(0x01, b"x\r", [9, 8, 7, 6]));
        wire.extend(masked_frame(0x80, b"\n", [5, 5, 5, 5]));
        wire.extend(masked_frame(0x89, b"hi", [1, 1, 1, 1]));
        let mut got = Vec::new();
        let mut events = Vec::new();
        let mut buf = Vec::new();
        for chunk in wire.chunks(3) {
            buf.extend_from_slice(chunk);
            d.feed(&mut buf, &mut events);
        }
        let mut pongs = 0;
        for e in events {
            match e {
                Event::Data(b) => got.extend(b),
                Event::Reply(p) => {
                    assert_eq!(p, [0x8A, 2, b'h', b'i']);
                    pongs += 1;
                }
                Event::Close(_) => panic!("no close"),
            }
        }
        assert_eq!(got, b"PUB a 1\r\nx\r\n");
        assert_eq!(pongs, 1);
    }

    #[test]
    fn broken_frames_close_with_1002_and_a_close_is_echoed() {
        for wire in [
            vec![0x82, 0x01, b'x'],                 // not masked
            masked_frame(0xC2, b"x", [1, 2, 3, 4]), // RSV1
            masked_frame(0x83, b"x", [1, 2, 3, 4]), // unknown opcode
            masked_frame(0x80, b"x", [1, 2, 3, 4]), // stray continuation
            masked_frame(0x09, b"x", [1, 2, 3, 4]), // fragmented ping
        ] {
            let mut d = Decoder::new(true, false);
            let mut buf = wire;
            let mut events = Vec::new();
            d.feed(&mut buf, &mut events);
            let Some(Event::Close(c)) = events.last() else {
                panic!("a close");
            };
            assert_eq!(&c[2..4], &1002u16.to_be_bytes());
        }
        let mut d = Decoder::new(true, false);
        let mut buf = masked_frame(0x88, &1000u16.to_be_bytes(), [3, 3, 3, 3]);
        let mut events = Vec::new();
        d.feed(&mut buf, &mut events);
        assert_eq!(events, vec![Event::Close(close(1000))]);
    }

    #[test]
    fn server_frames_have_the_right_lengths() {
        let mut out = Vec::new();
        binary(&[7u8; 200], &mut out);
        assert_eq!(&out[..4], &[0x82, 126, 0, 200]);
        let mut out = Vec::new();
        binary(&[0u8; 70_000], &mut out);
        assert_eq!(out[1], 127);
        assert_eq!(close(1002), vec![0x88, 2, 0x03, 0xEA]);
        let c = close_because(1002, "mask bit missing");
        assert_eq!(&c[..4], &[0x88, 18, 0x03, 0xEA]);
        assert_eq!(&c[4..], b"mask bit missing");
    }
}

#[cfg(test)]
mod deflate_tests {
    use super::*;

    #[test]
    fn compressed_frames_round_trip_and_are_refused_unless_agreed() {
        let text = b"PUB a 11\r\nhello world\r\n".repeat(50);
        let mut frame = Vec::new();
        binary_deflated(&text, &mut frame);
        assert_eq!(frame[0], 0xC2, "FIN, RSV1, binary");
        assert!(frame.len() < text.len());
        // As a client would send it: masked.
        let (head, body) = if frame[1] == 126 {
            (4, &frame[4..])
        } else {
            (2, &frame[2..])
        };
        let mut masked = frame[..head].to_vec();
        masked[1] |= 0x80;
        masked.extend_from_slice(&[0, 0, 0, 0]);
        masked.extend_from_slice(body);
        let mut d = Decoder::new(true, true);
        let mut buf = masked.clone();
        let mut events = Vec::new();
        d.feed(&mut buf, &mut events);
        assert_eq!(events, vec![Event::Data(text.clone())]);
        let mut d = Decoder::new(true, false);
        let mut buf = masked;
        let mut events = Vec::new();
        d.feed(&mut buf, &mut events);
        assert!(matches!(events.last(), Some(Event::Close(_))));
    }
}
