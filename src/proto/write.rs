//! Frames the server sends, appended to an outbound buffer.

use bytes::{BufMut, BytesMut};

/// The server's PING, sent to check a client is alive.
pub const PING: &[u8] = b"PING\r\n";
/// The answer to a client's PING.
pub const PONG: &[u8] = b"PONG\r\n";
/// The acknowledgement a verbose client gets for each op.
pub const OK: &[u8] = b"+OK\r\n";

/// `-ERR '<text>'` as the reference words it.
pub fn append_err(buf: &mut BytesMut, text: &str) {
    buf.put_slice(b"-ERR '");
    buf.put_slice(text.as_bytes());
    buf.put_slice(b"'\r\n");
}

/// `INFO <json> ` with the reference's space before the CRLF.
pub fn append_info(buf: &mut BytesMut, json: &[u8]) {
    buf.put_slice(b"INFO ");
    buf.put_slice(json);
    buf.put_slice(b" \r\n");
}

/// A decimal number rendered once per publish and reused for every receiver.
#[derive(Clone, Copy)]
pub struct Decimal {
    digits: [u8; 20],
    start: u8,
}

impl Decimal {
    /// `n` in decimal ASCII, without leading zeros.
    pub fn new(mut n: usize) -> Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Decimal {
            digits,
            start: i as u8,
        }
    }

    /// The digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[usize::from(self.start)..]
    }
}

/// Rendered size tokens for a message the server itself composes.
pub struct Sizes {
    header: Option<Decimal>,
    total: Decimal,
}

impl Sizes {
    /// The size tokens of a message with a header block of `header_len`
    /// bytes (none for MSG) and `total_len` bytes in all.
    pub fn of(header_len: Option<usize>, total_len: usize) -> Self {
        Sizes {
            header: header_len.map(Decimal::new),
            total: Decimal::new(total_len),
        }
    }
}

/// What one delivered message looks like on the wire. The size tokens are
/// kept as bytes: a client's are echoed verbatim (as the reference does), so
/// every receiver only copies.
pub struct Frame<'a> {
    /// The subject the message was published on.
    pub subject: &'a [u8],
    /// The reply subject, if any.
    pub reply: Option<&'a [u8]>,
    /// Header block length, when the message carries headers (HMSG).
    pub header_len: Option<usize>,
    header_digits: Option<&'a [u8]>,
    total_digits: &'a [u8],
    /// Headers and payload together.
    pub message: &'a [u8],
}

impl<'a> Frame<'a> {
    /// A frame whose size tokens come from the publisher's control line.
    pub fn from_client(
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        header: Option<(usize, &'a [u8])>,
        total_digits: &'a [u8],
        message: &'a [u8],
    ) -> Self {
        Frame {
            subject,
            reply,
            header_len: header.map(|(n, _)| n),
            header_digits: header.map(|(_, d)| d),
            total_digits,
            message,
        }
    }

    /// A frame the server composes, with sizes rendered into `sizes`.
    pub fn new(
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        header_len: Option<usize>,
        message: &'a [u8],
        sizes: &'a Sizes,
    ) -> Self {
        Frame {
            subject,
            reply,
            header_len,
            header_digits: sizes.header.as_ref().map(Decimal::as_bytes),
            total_digits: sizes.total.as_bytes(),
            message,
        }
    }

    /// The same message under another subject (a subject mapping).
    pub fn with_subject<'b>(&self, subject: &'b [u8]) -> Frame<'b>
    where
        'a: 'b,
    {
        Frame {
            subject,
            reply: self.reply,
            header_len: self.header_len,
            header_digits: self.header_digits,
            total_digits: self.total_digits,
            message: self.message,
        }
    }

    /// Bytes this frame takes for a given sid.
    pub fn wire_len(&self, sid: &[u8]) -> usize {
        // "H" and a space for HMSG's extra token.
        let hdr = self.header_digits.map_or(0, |h| h.len() + 2);
        let reply = self.reply.map_or(0, |r| r.len() + 1);
        4 + self.subject.len()
            + 1
            + sid.len()
            + reply
            + 1
            + hdr
            + self.total_digits.len()
            + 2
            + self.message.len()
            + 2
    }

    /// Appends as a plain MSG with the header block dropped, for a client
    /// that did not negotiate headers.
    pub fn append_without_headers(&self, buf: &mut BytesMut, sid: &[u8]) {
        let (_, payload) = self.headers_and_payload();
        let sizes = Sizes::of(None, payload.len());
        Frame::new(self.subject, self.reply, None, payload, &sizes).append(buf, sid);
    }

    /// The header block and the payload, split.
    pub fn headers_and_payload(&self) -> (Option<&'a [u8]>, &'a [u8]) {
        match self.header_len {
            Some(h) => (Some(&self.message[..h]), &self.message[h..]),
            None => (None, self.message),
        }
    }

    /// Appends `MSG`/`HMSG <subject> <sid> [reply] [<hdr>] <total>\r\n<msg>\r\n`.
    pub fn append(&self, buf: &mut BytesMut, sid: &[u8]) {
        buf.reserve(self.wire_len(sid));
        buf.put_slice(if self.header_digits.is_some() {
            b"HMSG "
        } else {
            b"MSG "
        });
        buf.put_slice(self.subject);
        buf.put_u8(b' ');
        buf.put_slice(sid);
        buf.put_u8(b' ');
        if let Some(reply) = self.reply {
            buf.put_slice(reply);
            buf.put_u8(b' ');
        }
        if let Some(h) = self.header_digits {
            buf.put_slice(h);
            buf.put_u8(b' ');
        }
        buf.put_slice(self.total_digits);
        buf.put_slice(b"\r\n");
        buf.put_slice(self.message);
        buf.put_slice(b"\r\n");
    }
}

impl Frame<'_> {
    /// Appends the message as a route carries it:
    /// `RMSG|HMSG <account> <subject> [reply] [<hdr>] <total>`, with the
    /// queue groups it is for (`+ <reply> <q..>` or `| <q..>`) when any.
    /// An empty account: a route pinned to one, where it is left out.
    pub fn append_routed(&self, buf: &mut BytesMut, account: &[u8], queues: &[&[u8]]) {
        self.append_remote(buf, Some(account), queues);
    }

    /// Appends the message as a leaf node connection carries it:
    /// `LMSG|HMSG <subject> [reply] [<hdr>] <total>` (no account: each
    /// side binds one), with the queue groups it is for.
    pub fn append_leaf(&self, buf: &mut BytesMut, queues: &[&[u8]]) {
        self.append_remote(buf, None, queues);
    }

    fn append_remote(&self, buf: &mut BytesMut, account: Option<&[u8]>, queues: &[&[u8]]) {
        let queue_len: usize = queues.iter().map(|q| q.len() + 1).sum::<usize>() + 2;
        let account_len = account.map_or(0, <[u8]>::len);
        buf.reserve(self.wire_len(b"") + 2 * account_len + queue_len + 2);
        buf.put_slice(match (self.header_digits.is_some(), account.is_some()) {
            (true, _) => b"HMSG ",
            (false, true) => b"RMSG ",
            (false, false) => b"LMSG ",
        });
        // A route pinned to one account names none.
        if let Some(account) = account.filter(|a| !a.is_empty()) {
            buf.put_slice(account);
            buf.put_u8(b' ');
        }
        buf.put_slice(self.subject);
        buf.put_u8(b' ');
        if queues.is_empty() {
            if let Some(reply) = self.reply {
                buf.put_slice(reply);
                buf.put_u8(b' ');
            }
        } else {
            match self.reply {
                Some(reply) => {
                    buf.put_slice(b"+ ");
                    buf.put_slice(reply);
                    buf.put_u8(b' ');
                }
                None => buf.put_slice(b"| "),
            }
            for q in queues {
                buf.put_slice(q);
                buf.put_u8(b' ');
            }
        }
        if let Some(h) = self.header_digits {
            buf.put_slice(h);
            buf.put_u8(b' ');
        }
        buf.put_slice(self.total_digits);
        buf.put_slice(b"\r\n");
        buf.put_slice(self.message);
        buf.put_slice(b"\r\n");
    }
}

/// The header block of the no-responders status message.
pub fn no_responders_headers(subject: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(32 + subject.len());
    h.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
    h.extend_from_slice(subject);
    h.extend_from_slice(b"\r\n\r\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_renders() {
        for n in [0usize, 7, 10, 99, 1048576, usize::MAX] {
            assert_eq!(Decimal::new(n).as_bytes(), n.to_string().as_bytes());
        }
    }

    #[test]
    fn frames_and_lengths() {
        let (s2, s0) = (Sizes::of(None, 2), Sizes::of(None, 0));
        let s12 = Sizes::of(Some(12), 14);
        let cases: &[(Frame, &[u8])] = &[
            (
                Frame::new(b"foo", None, None, b"hi", &s2),
                b"MSG foo 9 2\r\nhi\r\n",
            ),
            (
                Frame::new(b"foo", Some(b"r.1"), None, b"", &s0),
                b"MSG foo 9 r.1 0\r\n\r\n",
            ),
            (
                Frame::new(b"foo", None, Some(12), b"NATS/1.0\r\n\r\nhi", &s12),
                b"HMSG foo 9 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            ),
            (
                Frame::from_client(b"foo", None, None, b"007", b"abcdefg"),
                b"MSG foo 9 007\r\nabcdefg\r\n",
            ),
        ];
        for (frame, want) in cases {
            let mut buf = BytesMut::new();
            frame.append(&mut buf, b"9");
            assert_eq!(&buf[..], *want);
            assert_eq!(frame.wire_len(b"9"), want.len());
        }
    }

    #[test]
    fn routed_frames() {
        let s2 = Sizes::of(None, 2);
        let s12 = Sizes::of(Some(12), 14);
        // A frame, the queue groups it is for, and its bytes on a route.
        type Case<'a> = (Frame<'a>, &'a [&'a [u8]], &'a [u8]);
        let cases: &[Case] = &[
            (
                Frame::new(b"foo", None, None, b"hi", &s2),
                &[],
                b"RMSG $G foo 2\r\nhi\r\n",
            ),
            (
                Frame::new(b"foo", Some(b"r"), None, b"hi", &s2),
                &[b"q1", b"q2"],
                b"RMSG $G foo + r q1 q2 2\r\nhi\r\n",
            ),
            (
                Frame::new(b"foo", None, Some(12), b"NATS/1.0\r\n\r\nhi", &s12),
                &[b"q"],
                b"HMSG $G foo | q 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            ),
        ];
        for (frame, queues, want) in cases {
            let mut buf = BytesMut::new();
            frame.append_routed(&mut buf, b"$G", queues);
            assert_eq!(&buf[..], *want);
        }
    }

    #[test]
    fn no_responders_length_matches_reference() {
        // The reference sends `HMSG _INBOX.a 7 38 38` for subject `nobody`.
        assert_eq!(no_responders_headers(b"nobody").len(), 38);
    }
}
