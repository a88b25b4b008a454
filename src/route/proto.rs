//! The route protocol one server speaks to another: control lines and
//! messages parsed out of a read buffer without copying.

use memchr::memchr;

/// Queue groups one routed message may name, at most (more are dropped).
pub const MAX_QUEUES: usize = 16;

/// A control line longer than this is garbage (the reference's limit).
const MAX_CONTROL_LINE: usize = 4096;

/// One message as a route carries it.
pub struct RoutedMsg<'a> {
    pub account: &'a [u8],
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// The queue groups this server was picked for.
    pub queues: [&'a [u8]; MAX_QUEUES],
    pub num_queues: usize,
    /// Header block length (HMSG).
    pub header_len: Option<usize>,
    /// Headers and payload.
    pub message: &'a [u8],
}

impl RoutedMsg<'_> {
    /// The queue groups named.
    pub fn queues(&self) -> &[&[u8]] {
        &self.queues[..self.num_queues]
    }
}

/// One op from a route. Lives on the reader's stack for one op, so the
/// message variant's inline queue list costs no allocation.
#[allow(clippy::large_enum_variant)]
pub enum RouteOp<'a> {
    Info(&'a [u8]),
    Connect(&'a [u8]),
    Ping,
    Pong,
    Ok,
    Err(&'a [u8]),
    /// `RS+`/`LS+`: interest in `subject` (with queue and weight).
    Sub {
        account: &'a [u8],
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        /// Queue members on the sending server (1 without a queue).
        weight: u32,
    },
    /// `RS-`/`LS-`: interest gone.
    Unsub {
        account: &'a [u8],
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
    },
    Msg(RoutedMsg<'a>),
}

/// What the parser found.
#[allow(clippy::large_enum_variant)]
pub enum Parsed<'a> {
    /// An op, and the bytes it took.
    Op(RouteOp<'a>, usize),
    /// Not all of it has arrived.
    More,
}

/// A route sent something that is not the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| *b == b' ' || *b == b'\t')
        .filter(|t| !t.is_empty())
}

fn number(t: &[u8]) -> Option<usize> {
    std::str::from_utf8(t).ok()?.parse().ok()
}

/// Parses the op at the start of `buf`, from a route.
pub fn parse<'a>(buf: &'a [u8]) -> Result<Parsed<'a>, ProtocolError> {
    parse_from(buf, true, true)
}

/// Parses the op at the start of `buf`, from a route pinned to one
/// account: the ops name none; `account` is left empty.
pub fn parse_pinned<'a>(buf: &'a [u8]) -> Result<Parsed<'a>, ProtocolError> {
    parse_from(buf, false, true)
}

/// Parses the op at the start of `buf`, from a leaf node connection: no
/// account in interest or messages (each side binds one); `account` is
/// left empty.
pub fn parse_leaf<'a>(buf: &'a [u8]) -> Result<Parsed<'a>, ProtocolError> {
    parse_from(buf, false, false)
}

/// `accounts`: the ops name their account; `route`: a route's dialect
/// (leaf-origin ops name their origin first, LMSG carries a header
/// length).
fn parse_from<'a>(buf: &'a [u8], accounts: bool, route: bool) -> Result<Parsed<'a>, ProtocolError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > MAX_CONTROL_LINE {
            return Err(ProtocolError("Maximum Control Line Exceeded".into()));
        }
        return Ok(Parsed::More);
    };
    let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
    let used = nl + 1;
    let (op, rest) = match memchr::memchr2(b' ', b'\t', line) {
        Some(at) => (&line[..at], &line[at + 1..]),
        None => (line, &b""[..]),
    };
    let bad = || ProtocolError("Unknown Protocol Operation".to_string());
    let simple = |o: RouteOp<'a>| -> Result<Parsed<'a>, ProtocolError> { Ok(Parsed::Op(o, used)) };
    // Upper-cased on the stack: no allocation per op.
    let mut upper = [0u8; 8];
    let n = op.len().min(upper.len());
    upper[..n].copy_from_slice(&op[..n]);
    upper[..n].make_ascii_uppercase();
    let name = if op.len() > upper.len() {
        &b"?"[..]
    } else {
        &upper[..n]
    };
    match name {
        b"PING" => simple(RouteOp::Ping),
        b"PONG" => simple(RouteOp::Pong),
        b"+OK" => simple(RouteOp::Ok),
        b"-ERR" => simple(RouteOp::Err(rest)),
        b"INFO" => simple(RouteOp::Info(rest)),
        b"CONNECT" => simple(RouteOp::Connect(rest)),
        b"RS+" | b"RS-" | b"LS+" | b"LS-" => {
            let mut t: Vec<&[u8]> = tokens(rest).collect();
            // Leaf-origin interest on a route names its origin cluster first.
            if route && op[0].eq_ignore_ascii_case(&b'L') && t.len() >= 2 + usize::from(accounts) {
                t.remove(0);
            }
            if !accounts {
                t.insert(0, b"");
            }
            let (account, subject, queue, weight) = match t.as_slice() {
                [a, s] => (*a, *s, None, 1),
                [a, s, q] => (*a, *s, Some(*q), 1),
                [a, s, q, w, ..] => (*a, *s, Some(*q), number(w).unwrap_or(1).max(1)),
                _ => return Err(bad()),
            };
            let weight = u32::try_from(weight).unwrap_or(u32::MAX);
            let o = if op[2] == b'+' {
                RouteOp::Sub {
                    account,
                    subject,
                    queue,
                    weight,
                }
            } else {
                RouteOp::Unsub {
                    account,
                    subject,
                    queue,
                }
            };
            simple(o)
        }
        b"RMSG" | b"HMSG" | b"LMSG" => {
            let lmsg = op[0].eq_ignore_ascii_case(&b'L');
            let headers = op[0].eq_ignore_ascii_case(&b'H') || (lmsg && route);
            let mut t: [&[u8]; MAX_QUEUES + 8] = [&[]; MAX_QUEUES + 8];
            // A leaf's messages name no account: an empty one stands in.
            let mut n = usize::from(!accounts);
            // A route's LMSG names its origin first: skipped.
            let mut skip_origin = lmsg && route;
            for tok in tokens(rest) {
                if std::mem::take(&mut skip_origin) {
                    continue;
                }
                if n == t.len() {
                    break;
                }
                t[n] = tok;
                n += 1;
            }
            let t = &t[..n];
            // Sizes at the end: total, and the header length before it.
            let sizes = if headers { 2 } else { 1 };
            if t.len() < 2 + sizes {
                return Err(bad());
            }
            let total = number(t[t.len() - 1]).ok_or_else(bad)?;
            let header_len = if headers {
                let h = number(t[t.len() - 2]).ok_or_else(bad)?;
                // A route's LMSG says 0 for a message without headers.
                (h > 0 || !lmsg).then_some(h)
            } else {
                None
            };
            if header_len.is_some_and(|h| h > total) {
                return Err(bad());
            }
            let (account, subject) = (t[0], t[1]);
            let middle = &t[2..t.len() - sizes];
            let mut msg = RoutedMsg {
                account,
                subject,
                reply: None,
                queues: [&[]; MAX_QUEUES],
                num_queues: 0,
                header_len,
                message: &[],
            };
            let queue_names = match middle {
                [] => &[][..],
                [reply] => {
                    msg.reply = Some(*reply);
                    &[][..]
                }
                [marker, reply, qs @ ..] if *marker == b"+" => {
                    msg.reply = Some(*reply);
                    qs
                }
                [marker, qs @ ..] if *marker == b"|" => qs,
                _ => return Err(bad()),
            };
            for q in queue_names.iter().take(MAX_QUEUES) {
                msg.queues[msg.num_queues] = q;
                msg.num_queues += 1;
            }
            let end = used + total;
            if buf.len() < end + 2 {
                return Ok(Parsed::More);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ProtocolError("Maximum Payload Violation".into()));
            }
            msg.message = &buf[used..end];
            Ok(Parsed::Op(RouteOp::Msg(msg), end + 2))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(buf: &[u8]) -> (RouteOp<'_>, usize) {
        match parse(buf).expect("parses") {
            Parsed::Op(o, n) => (o, n),
            Parsed::More => panic!("wants more"),
        }
    }

    #[test]
    fn messages_with_queues_and_headers() {
        let (o, n) = op(b"RMSG $G foo + r q1 q2 2\r\nhi\r\nPING\r\n");
        let RouteOp::Msg(m) = o else { panic!() };
        assert_eq!(n, 29);
        assert_eq!(
            (m.account, m.subject, m.reply),
            (&b"$G"[..], &b"foo"[..], Some(&b"r"[..]))
        );
        assert_eq!(m.queues(), &[&b"q1"[..], &b"q2"[..]]);
        assert_eq!(m.message, b"hi");
        let (o, _) = op(b"HMSG $G foo | q 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        let RouteOp::Msg(m) = o else { panic!() };
        assert_eq!(
            (m.reply, m.header_len, m.queues().len()),
            (None, Some(12), 1)
        );
        let (o, _) = op(b"RMSG $G foo r 0\r\n\r\n");
        let RouteOp::Msg(m) = o else { panic!() };
        assert_eq!((m.reply, m.message), (Some(&b"r"[..]), &b""[..]));
        assert!(matches!(parse(b"RMSG $G foo 5\r\nhi"), Ok(Parsed::More)));
        assert!(parse(b"RMSG $G foo 2\r\nhiXX").is_err());
        assert!(parse(b"BOGUS\r\n").is_err());
    }

    #[test]
    fn leaf_ops_name_no_account() {
        let RouteOp::Msg(m) = leaf(b"LMSG foo r 2\r\nhi\r\n").0 else {
            panic!()
        };
        assert_eq!(
            (m.account, m.subject, m.reply, m.header_len),
            (&b""[..], &b"foo"[..], Some(&b"r"[..]), None)
        );
        let RouteOp::Msg(m) = leaf(b"HMSG foo | q 12 14\r\nNATS/1.0\r\n\r\nhi\r\n").0 else {
            panic!()
        };
        assert_eq!((m.header_len, m.queues().len()), (Some(12), 1));
        assert!(matches!(
            leaf(b"LS+ foo.* q 1\r\n").0,
            RouteOp::Sub {
                account: b"",
                subject: b"foo.*",
                queue: Some(b"q"),
                weight: 1
            }
        ));
        assert!(matches!(
            leaf(b"LS- foo\r\n").0,
            RouteOp::Unsub {
                subject: b"foo",
                queue: None,
                ..
            }
        ));
    }

    #[test]
    fn pinned_route_ops_name_no_account() {
        let pinned = |buf: &'static [u8]| match parse_pinned(buf).expect("parses") {
            Parsed::Op(o, _) => o,
            Parsed::More => panic!("wants more"),
        };
        let RouteOp::Msg(m) = pinned(b"RMSG foo + r q 2\r\nhi\r\n") else {
            panic!()
        };
        assert_eq!(
            (m.account, m.subject, m.reply, m.queues().len()),
            (&b""[..], &b"foo"[..], Some(&b"r"[..]), 1)
        );
        // A route's LMSG: origin first, header length always.
        let RouteOp::Msg(m) = pinned(b"LMSG origin foo 0 2\r\nhi\r\n") else {
            panic!()
        };
        assert_eq!(
            (m.subject, m.header_len, m.message),
            (&b"foo"[..], None, &b"hi"[..])
        );
        assert!(matches!(
            pinned(b"RS+ foo q 2\r\n"),
            RouteOp::Sub {
                account: b"",
                subject: b"foo",
                queue: Some(b"q"),
                weight: 2
            }
        ));
        assert!(matches!(
            pinned(b"LS+ origin bar\r\n"),
            RouteOp::Sub {
                subject: b"bar",
                queue: None,
                ..
            }
        ));
    }

    fn leaf(buf: &[u8]) -> (RouteOp<'_>, usize) {
        match parse_leaf(buf).expect("parses") {
            Parsed::Op(o, n) => (o, n),
            Parsed::More => panic!("wants more"),
        }
    }

    #[test]
    fn interest() {
        let (o, _) = op(b"RS+ $G foo.* q 3\r\n");
        assert!(matches!(
            o,
            RouteOp::Sub {
                account: b"$G",
                subject: b"foo.*",
                queue: Some(b"q"),
                weight: 3
            }
        ));
        let (o, _) = op(b"RS- $G foo\r\n");
        assert!(matches!(o, RouteOp::Unsub { queue: None, .. }));
        let (o, _) = op(b"LS+ origin $G bar\r\n");
        assert!(matches!(
            o,
            RouteOp::Sub {
                subject: b"bar",
                ..
            }
        ));
    }
}
