//! A small HTTP/1.1 server for the monitoring port: GET requests, one
//! response each, keep-alive as Go's server does. Requests are bounded in
//! size and time so a hostile client costs little.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// How long a connection may take to send a request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed request: its path (percent-decoded) and query pairs.
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The client asked to close after this response.
    pub close: bool,
}

impl Request {
    /// The value of query parameter `name`, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A response: status, content type, extra headers, body.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    /// Sent with JSON answers, as the reference does.
    pub cors: bool,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type: "application/json",
            cors: true,
            body,
        }
    }

    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            cors: false,
            body: body.into(),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Serves one connection: requests in turn until it closes, errs, idles
/// past the timeout or asks to close.
pub async fn serve<S, F>(mut stream: S, mut handle: F)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    F: AsyncFnMut(&Request) -> Response,
{
    let mut buf = Vec::with_capacity(1024);
    loop {
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() >= MAX_HEAD {
                let bad = Response::text(400, "400 Bad Request");
                let _ = write(&mut stream, &bad, true, bad.body.len()).await;
                return;
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end);
        let Some(req) = parse(&head) else {
            let bad = Response::text(400, "400 Bad Request");
            let _ = write(&mut stream, &bad, true, bad.body.len()).await;
            return;
        };
        // Anything but GET or HEAD may carry a body this server does not
        // read: answer and close rather than misread it as a request.
        let (mut resp, close) = match req.method.as_str() {
            "GET" | "HEAD" => (handle(&req).await, req.close),
            _ => (Response::text(405, "Method Not Allowed"), true),
        };
        let head_only = req.method == "HEAD";
        let len = resp.body.len();
        if head_only {
            resp.body.clear();
        }
        if write(&mut stream, &resp, close, len).await.is_err() || close {
            return;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target, version) = (first.next()?, first.next()?, first.next()?);
    let mut close = version == "HTTP/1.0";
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("connection") {
                close = v.trim().eq_ignore_ascii_case("close");
            }
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    Some(Request {
        method: method.to_string(),
        path: decode(path),
        query,
        close,
    })
}

/// Percent-decoding (and `+` as a space in queries, as Go reads them); a
/// `%` not followed by two hex digits stays as it is.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes `resp`; `len` is the Content-Length (the body's, also for a
/// HEAD answer that carries none).
async fn write<S: tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    resp: &Response,
    close: bool,
    len: usize,
) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    if resp.cors {
        out.push_str("Access-Control-Allow-Origin: *\r\n");
    }
    out.push_str(&format!(
        "Content-Type: {}\r\nDate: {}\r\nContent-Length: {}\r\n",
        resp.content_type,
        http_date(SystemTime::now()),
        len
    ));
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&resp.body);
    stream.write_all(&bytes).await
}

/// `Sat, 05 Dec 2026 06:45:12 GMT`.
pub fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_http_writes_them() {
        let t = UNIX_EPOCH + Duration::from_secs(1_796_453_112);
        assert_eq!(http_date(t), "Sat, 05 Dec 2026 06:45:12 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn requests_parse() {
        let r = parse("GET /healthz?account=%24G&js-enabled-only=true HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert_eq!(r.path, "/healthz");
        assert_eq!(r.param("account"), Some("$G"));
        assert_eq!(r.param("js-enabled-only"), Some("true"));
        assert!(!r.close);
        let r = parse("GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(r.close);
        assert!(parse("garbage").is_none());
        assert_eq!(decode("%zz%4"), "%zz%4");
    }
}
