//! Resumable parser for client-to-server protocol ops.
//!
//! The reader owns the buffer; `Parser::next` looks at the unconsumed bytes
//! and yields one `Op` that borrows them, plus how many bytes it used. When
//! an op is cut off, the parser remembers how far it scanned (or how many
//! bytes the whole frame needs) so that more data costs no re-scan.

use memchr::memchr;

/// One client op, borrowing the read buffer.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op<'a> {
    /// `CONNECT` with its JSON options, unparsed.
    Connect(&'a [u8]),
    /// `PUB <subject> [reply] <size>` and its payload.
    Pub {
        /// The subject published to.
        subject: &'a [u8],
        /// The reply subject, if given.
        reply: Option<&'a [u8]>,
        /// The size token as sent: the reference echoes it verbatim.
        size: &'a [u8],
        /// The message body, without the trailing CRLF.
        payload: &'a [u8],
    },
    /// `HPUB <subject> [reply] <header size> <total size>`: a message with a
    /// header block.
    Hpub {
        /// The subject published to.
        subject: &'a [u8],
        /// The reply subject, if given.
        reply: Option<&'a [u8]>,
        /// Header block and payload together, as they are relayed.
        message: &'a [u8],
        /// Bytes of the header block at the start of `message`.
        header_len: usize,
        /// The size tokens as sent.
        header_size: &'a [u8],
        /// The total size token as sent (header block and payload).
        total_size: &'a [u8],
    },
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        /// The subject, wildcards allowed.
        subject: &'a [u8],
        /// The queue group, if given.
        queue: Option<&'a [u8]>,
        /// The client's id for the subscription.
        sid: &'a [u8],
    },
    /// `UNSUB <sid> [max]`.
    Unsub {
        /// The subscription's id.
        sid: &'a [u8],
        /// Unsubscribe after this many messages in all rather than now.
        max: Option<u64>,
    },
    /// `PING`: the server answers PONG.
    Ping,
    /// `PONG`: the answer to the server's PING.
    Pong,
    /// `+OK` from a client: ignored.
    Ok,
    /// `-ERR` from a client: the connection is closed.
    Err,
    /// `INFO` from a client: ignored.
    Info,
}

/// Why a buffer cannot be parsed. What the client is told, and whether the
/// connection closes, follows the reference server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// `-ERR 'Unknown Protocol Operation'`, then close.
    UnknownOp,
    /// `-ERR 'maximum control line exceeded'`, then close.
    ControlLineTooLong,
    /// `-ERR 'Maximum Payload Violation'`, then close.
    MaxPayload,
    /// Wrong argument count or a bad size: closed without an error.
    BadArgs,
    /// HPUB from a client that did not negotiate headers: closed without
    /// an error.
    HeadersNotSupported,
}

/// Limits the parser enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest control line (an op and its arguments, not the payload), in
    /// bytes.
    pub max_control_line: usize,
    /// Largest PUB or HPUB payload (headers included), in bytes.
    pub max_payload: usize,
}

/// Parser progress that survives between reads.
#[derive(Debug)]
pub struct Parser {
    limits: Limits,
    /// Bytes of the pending control line already searched for a newline.
    scanned: usize,
    /// Total bytes the pending PUB/HPUB frame needs, once its line is known.
    frame_len: usize,
    /// The client negotiated headers (CONNECT `headers: true`).
    headers: bool,
}

const MAX_ARGS: usize = 6;

impl Parser {
    /// A parser at the start of a stream, with headers off until CONNECT
    /// turns them on.
    pub fn new(limits: Limits) -> Self {
        Parser {
            limits,
            scanned: 0,
            frame_len: 0,
            headers: false,
        }
    }

    /// Whether HPUB is accepted: the client negotiated headers at CONNECT.
    pub fn set_headers(&mut self, headers: bool) {
        self.headers = headers;
    }

    /// New limits, as a client's sign-in settles its payload limit.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// How many bytes the frame being parsed needs in total (0 if unknown),
    /// so the reader can reserve room for a large payload at once.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Parses the next op at the start of `buf`. `Ok(None)` means more bytes
    /// are needed; nothing was consumed.
    pub fn next<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(Op<'a>, usize)>, ParseError> {
        if self.frame_len > buf.len() {
            // The byte after the payload must be CR; the reference fails
            // the frame as soon as it sees anything else.
            let cr_at = self.frame_len - 2;
            if buf.len() > cr_at && buf[cr_at] != b'\r' {
                self.frame_len = 0;
                return Err(ParseError::UnknownOp);
            }
            return Ok(None);
        }
        let nl = match memchr(b'\n', &buf[self.scanned.min(buf.len())..]) {
            Some(i) => self.scanned + i,
            None => {
                self.scanned = buf.len();
                if !could_be_op(buf) {
                    return Err(ParseError::UnknownOp);
                }
                if arg_len(buf) > self.limits.max_control_line {
                    return Err(ParseError::ControlLineTooLong);
                }
                return Ok(None);
            }
        };
        let line = strip_cr(&buf[..nl]);
        // The op is judged before the line's length, as when the line is
        // still arriving (the reference reads byte by byte): the same
        // bytes get the same error however they are cut.
        if !could_be_op(line) {
            self.scanned = 0;
            return Err(ParseError::UnknownOp);
        }
        if arg_len(line) > self.limits.max_control_line {
            return Err(ParseError::ControlLineTooLong);
        }
        let after_line = nl + 1;
        let res = self.parse_line(line, buf, after_line);
        match res {
            Ok(Some(_)) | Err(_) => {
                self.scanned = 0;
                self.frame_len = 0;
            }
            Ok(None) => {}
        }
        res
    }

    fn parse_line<'a>(
        &mut self,
        line: &'a [u8],
        buf: &'a [u8],
        after_line: usize,
    ) -> Result<Option<(Op<'a>, usize)>, ParseError> {
        let word_end = line
            .iter()
            .position(|&b| b == b' ' || b == b'\t')
            .unwrap_or(line.len());
        let word = &line[..word_end];
        let rest = &line[word_end..];
        let done = |op| Ok(Some((op, after_line)));
        if starts_with_ci(line, b"CONNECT") {
            return done(Op::Connect(trim(&line[7..])));
        }
        if starts_with_ci(line, b"PING") {
            return done(Op::Ping);
        }
        if starts_with_ci(line, b"PONG") {
            return done(Op::Pong);
        }
        if starts_with_ci(line, b"+OK") {
            return done(Op::Ok);
        }
        if starts_with_ci(line, b"-ERR") {
            return done(Op::Err);
        }
        if word.eq_ignore_ascii_case(b"INFO") {
            return done(Op::Info);
        }
        let has_args = !rest.is_empty();
        if !has_args && is_arg_op(word) {
            return Err(ParseError::UnknownOp);
        }
        if word.eq_ignore_ascii_case(b"PUB") {
            return self.parse_pub(rest, buf, after_line);
        }
        if word.eq_ignore_ascii_case(b"HPUB") {
            if !self.headers {
                return Err(ParseError::HeadersNotSupported);
            }
            return self.parse_hpub(rest, buf, after_line);
        }
        if word.eq_ignore_ascii_case(b"SUB") {
            return parse_sub(rest).map(|op| Some((op, after_line)));
        }
        if word.eq_ignore_ascii_case(b"UNSUB") {
            return parse_unsub(rest).map(|op| Some((op, after_line)));
        }
        Err(ParseError::UnknownOp)
    }

    fn parse_pub<'a>(
        &mut self,
        rest: &'a [u8],
        buf: &'a [u8],
        start: usize,
    ) -> Result<Option<(Op<'a>, usize)>, ParseError> {
        let mut args = [&[][..]; MAX_ARGS];
        let (subject, reply, size_token) = match split_args(rest, &mut args)? {
            2 => (args[0], None, args[1]),
            3 => (args[0], Some(args[1]), args[2]),
            _ => return Err(ParseError::BadArgs),
        };
        let size = parse_size(size_token)?;
        if size > self.limits.max_payload {
            return Err(ParseError::MaxPayload);
        }
        let Some(payload) = self.payload(buf, start, size)? else {
            return Ok(None);
        };
        let op = Op::Pub {
            subject,
            reply,
            size: size_token,
            payload,
        };
        Ok(Some((op, start + size + 2)))
    }

    fn parse_hpub<'a>(
        &mut self,
        rest: &'a [u8],
        buf: &'a [u8],
        start: usize,
    ) -> Result<Option<(Op<'a>, usize)>, ParseError> {
        let mut args = [&[][..]; MAX_ARGS];
        let (subject, reply, header_size, total_size) = match split_args(rest, &mut args)? {
            3 => (args[0], None, args[1], args[2]),
            4 => (args[0], Some(args[1]), args[2], args[3]),
            _ => return Err(ParseError::BadArgs),
        };
        let header_len = parse_size(header_size)?;
        let total = parse_size(total_size)?;
        if header_len > total {
            return Err(ParseError::BadArgs);
        }
        if total > self.limits.max_payload {
            return Err(ParseError::MaxPayload);
        }
        let Some(message) = self.payload(buf, start, total)? else {
            return Ok(None);
        };
        let op = Op::Hpub {
            subject,
            reply,
            message,
            header_len,
            header_size,
            total_size,
        };
        Ok(Some((op, start + total + 2)))
    }

    /// The payload of `size` bytes at `start`, checked for its CRLF trailer.
    fn payload<'a>(
        &mut self,
        buf: &'a [u8],
        start: usize,
        size: usize,
    ) -> Result<Option<&'a [u8]>, ParseError> {
        let end = start + size;
        if buf.len() < end + 2 {
            if buf.len() > end && buf[end] != b'\r' {
                return Err(ParseError::UnknownOp);
            }
            self.frame_len = end + 2;
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ParseError::UnknownOp);
        }
        Ok(Some(&buf[start..end]))
    }
}

/// Ops that may be followed directly by anything up to the line end.
const OPEN_ENDED_OPS: [&[u8]; 5] = [b"CONNECT", b"PING", b"PONG", b"+OK", b"-ERR"];
/// Ops that are a word of their own.
const WORD_OPS: [&[u8]; 5] = [b"PUB", b"HPUB", b"SUB", b"UNSUB", b"INFO"];

/// Whether an unfinished line can still become a known op: the reference
/// rejects an unknown op at its first wrong byte, not at the line end.
fn could_be_op(partial: &[u8]) -> bool {
    let word_end = partial
        .iter()
        .position(|&b| b == b' ' || b == b'\t' || b == b'\r')
        .unwrap_or(partial.len());
    let word = &partial[..word_end];
    let complete = word_end < partial.len();
    OPEN_ENDED_OPS
        .iter()
        .any(|op| starts_with_ci(word, op) || (!complete && starts_with_ci(op, word)))
        || WORD_OPS
            .iter()
            .any(|op| word.eq_ignore_ascii_case(op) || (!complete && starts_with_ci(op, word)))
}

/// Ops that take arguments: without any they are unknown to the reference.
fn is_arg_op(word: &[u8]) -> bool {
    [&b"PUB"[..], b"HPUB", b"SUB", b"UNSUB"]
        .iter()
        .any(|op| word.eq_ignore_ascii_case(op))
}

/// Bytes of a control line's arguments: what follows the op name and the
/// blanks after it. The reference limits this, not the whole line.
fn arg_len(line: &[u8]) -> usize {
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let op_end = line.iter().position(is_blank).unwrap_or(line.len());
    let args_start = line[op_end..]
        .iter()
        .position(|b| !is_blank(b))
        .map_or(line.len(), |i| op_end + i);
    line.len() - args_start
}

fn parse_sub(rest: &[u8]) -> Result<Op<'_>, ParseError> {
    let mut args = [&[][..]; MAX_ARGS];
    match split_args(rest, &mut args)? {
        2 => Ok(Op::Sub {
            subject: args[0],
            queue: None,
            sid: args[1],
        }),
        3 => Ok(Op::Sub {
            subject: args[0],
            queue: Some(args[1]),
            sid: args[2],
        }),
        _ => Err(ParseError::BadArgs),
    }
}

fn parse_unsub(rest: &[u8]) -> Result<Op<'_>, ParseError> {
    let mut args = [&[][..]; MAX_ARGS];
    match split_args(rest, &mut args)? {
        1 => Ok(Op::Unsub {
            sid: args[0],
            max: None,
        }),
        // A max that is not a number unsubscribes at once, as in the reference.
        2 => Ok(Op::Unsub {
            sid: args[0],
            max: Some(parse_size(args[1]).map_or(0, |n| n as u64)),
        }),
        _ => Err(ParseError::BadArgs),
    }
}

/// Splits on runs of spaces and tabs into `out`; more than `out` holds is
/// an argument-count error.
fn split_args<'a>(line: &'a [u8], out: &mut [&'a [u8]; MAX_ARGS]) -> Result<usize, ParseError> {
    let mut n = 0;
    for arg in line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|a| !a.is_empty())
    {
        if n == MAX_ARGS {
            return Err(ParseError::BadArgs);
        }
        out[n] = arg;
        n += 1;
    }
    Ok(n)
}

/// A decimal size as the reference accepts it: digits only, at most 9.
fn parse_size(digits: &[u8]) -> Result<usize, ParseError> {
    if digits.is_empty() || digits.len() > 9 {
        return Err(ParseError::BadArgs);
    }
    let mut n = 0usize;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(ParseError::BadArgs);
        }
        n = n * 10 + usize::from(d - b'0');
    }
    Ok(n)
}

fn strip_cr(line: &[u8]) -> &[u8] {
    match line.last() {
        Some(b'\r') => &line[..line.len() - 1],
        _ => line,
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_control_line: 4096,
        max_payload: 1024,
    };

    /// Parses every op in `input`, returning them rendered for comparison.
    fn parse_all(input: &[u8]) -> Result<Vec<String>, ParseError> {
        let mut p = Parser::new(LIMITS);
        p.set_headers(!input.starts_with(b"HPUB foo 12 12\n"));
        let mut pos = 0;
        let mut out = Vec::new();
        while let Some((op, used)) = p.next(&input[pos..])? {
            out.push(format!("{op:?}"));
            pos += used;
        }
        Ok(out)
    }

    /// Feeds `input` cut in two at `cut`, as two reads into one buffer.
    fn parse_split(input: &[u8], cut: usize) -> Result<Vec<String>, ParseError> {
        let mut p = Parser::new(LIMITS);
        p.set_headers(true);
        let mut buf = input[..cut].to_vec();
        let mut out = Vec::new();
        for round in 0..2 {
            let mut pos = 0;
            while let Some((op, used)) = p.next(&buf[pos..])? {
                out.push(format!("{op:?}"));
                pos += used;
            }
            buf.drain(..pos);
            if round == 0 {
                buf.extend_from_slice(&input[cut..]);
            }
        }
        Ok(out)
    }

    const FIXTURE: &[u8] = b"CONNECT {\"verbose\":false}\r\nPING\r\npong\r\nSUB foo 1\r\nsub foo q 2\r\nPUB foo 5\r\nhello\r\nPUB foo bar 0\r\n\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHPUB foo r 12 12\r\nNATS/1.0\r\n\r\n\r\nUNSUB 1\r\nUNSUB 2 10\r\n+OK\r\nPUB\tfoo\t\t2\nhi\r\n";

    #[test]
    fn whole_fixture() {
        let ops = parse_all(FIXTURE).unwrap();
        assert_eq!(ops.len(), 13, "{ops:#?}");
        assert!(ops[5].contains("payload: [104, 101, 108, 108, 111]"));
        assert!(ops[12].contains("Pub"));
    }

    #[test]
    fn split_at_every_offset_matches_whole() {
        let whole = parse_all(FIXTURE).unwrap();
        for cut in 0..=FIXTURE.len() {
            assert_eq!(parse_split(FIXTURE, cut).unwrap(), whole, "cut at {cut}");
        }
    }

    #[test]
    fn errors_table() {
        let cases: &[(&[u8], ParseError)] = &[
            (b"FOO\r\n", ParseError::UnknownOp),
            (b"\r\n", ParseError::UnknownOp),
            (b"MSG foo 1 2\r\n", ParseError::UnknownOp),
            (b"PUB foo 2\r\nabc\r\n", ParseError::UnknownOp),
            (b"PUB foo\r\n", ParseError::BadArgs),
            (b"PUB foo bar\r\n", ParseError::BadArgs),
            (b"PUB foo 2000\r\n", ParseError::MaxPayload),
            (b"HPUB foo 10 5\r\n", ParseError::BadArgs),
            (b"HPUB foo 10 2000\r\n", ParseError::MaxPayload),
            (b"SUB foo\r\n", ParseError::BadArgs),
            (b"SUB a b c d\r\n", ParseError::BadArgs),
            (b"UNSUB 1 2 3\r\n", ParseError::BadArgs),
            (b"PUB\r\n", ParseError::UnknownOp),
            (b"SUB\r\n", ParseError::UnknownOp),
            (b"UNSUB\r\n", ParseError::UnknownOp),
            (b"PI\r\n", ParseError::UnknownOp),
            (b"FOOaaaa", ParseError::UnknownOp),
            (b"MSG", ParseError::UnknownOp),
            (b"PUB foo 1\nx\n", ParseError::UnknownOp),
            (b"HPUB foo 12 12\n", ParseError::HeadersNotSupported),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_all(input),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn control_line_limit_counts_argument_bytes() {
        let mut p = Parser::new(LIMITS);
        let mut line = b"PUB  ".to_vec();
        line.extend(std::iter::repeat_n(b'x', 4096));
        assert_eq!(p.next(&line), Ok(None));
        line.push(b'x');
        assert_eq!(p.next(&line), Err(ParseError::ControlLineTooLong));
        // An unknown op is that first, however long its line.
        let mut p = Parser::new(Limits {
            max_control_line: 8,
            max_payload: 64,
        });
        let junk = b"P\0\tPPPPPPPPPPPPPPPPPPPPP\r\n";
        assert_eq!(p.next(junk), Err(ParseError::UnknownOp));
        let mut p = Parser::new(LIMITS);
        let mut sub = b"SUB ".to_vec();
        sub.extend(std::iter::repeat_n(b'y', 4097));
        sub.extend_from_slice(b"\r\n");
        assert_eq!(p.next(&sub), Err(ParseError::ControlLineTooLong));
    }

    #[test]
    fn partial_known_ops_wait() {
        for partial in [
            &b"P"[..],
            b"pu",
            b"PUB foo",
            b"CONNECT {",
            b"PINGX",
            b"-E",
            b"UNSUB 1",
            b"in",
        ] {
            let mut p = Parser::new(LIMITS);
            assert_eq!(
                p.next(partial),
                Ok(None),
                "{:?}",
                String::from_utf8_lossy(partial)
            );
        }
    }

    #[test]
    fn bad_unsub_max_means_now() {
        let ops = parse_all(b"UNSUB 1 x\r\nUNSUB 1 -5\r\n").unwrap();
        assert_eq!(ops, vec!["Unsub { sid: [49], max: Some(0) }"; 2]);
    }

    #[test]
    fn connect_without_space_and_info_ignored() {
        let ops = parse_all(b"CONNECT{}\r\nINFO {}\r\n").unwrap();
        assert_eq!(ops, vec!["Connect([123, 125])", "Info"]);
    }

    #[test]
    fn frame_len_reported_for_partial_payload() {
        let mut p = Parser::new(LIMITS);
        assert_eq!(p.next(b"PUB foo 100\r\nab"), Ok(None));
        assert_eq!(p.frame_len(), 13 + 100 + 2);
    }
}
