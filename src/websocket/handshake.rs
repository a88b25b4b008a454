//! The HTTP upgrade of a WebSocket client, checked as the reference
//! checks it: `GET` (else 405), `Host`, `Upgrade: websocket`,
//! `Connection: Upgrade`, a 16-byte base64 `Sec-WebSocket-Key`, version
//! 13 (else 400), and the origin when `same_origin` or `allowed_origins`
//! ask for it (else 403). Refusals are Go's `http.Error` replies.

use base64::Engine as _;
use sha1::Digest as _;

use super::OriginRules;

/// The GUID RFC 6455 appends to the key.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// A request longer than this is refused.
pub(super) const MAX_REQUEST: usize = 8 * 1024;

/// An accepted upgrade.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Upgrade {
    /// The `101` response to send.
    pub response: Vec<u8>,
    /// The client asked not to mask its frames (`Nats-No-Masking`).
    pub no_masking: bool,
    /// permessage-deflate was agreed (configured, and offered).
    pub deflate: bool,
    /// `X-Forwarded-For`, when it is an IP address.
    pub forwarded_for: Option<String>,
    /// The request's cookies, name and value.
    pub cookies: Vec<(String, String)>,
}

/// A refused upgrade: the HTTP reply and why (for the log).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    pub response: Vec<u8>,
    pub reason: String,
}

fn refuse(status: u16, reason: impl Into<String>) -> Refusal {
    let text = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    };
    let body = format!("{text}\n");
    let response = format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    Refusal {
        response,
        reason: reason.into(),
    }
}

/// Whether `name` has the token `value` in any of its comma lists.
fn has_token(headers: &[(String, String)], name: &str, value: &str) -> bool {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(value))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `scheme://host:port` with the default port filled in.
fn normalize_origin(origin: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let host_port = rest.split('/').next()?;
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, p.parse().ok()?),
        _ => (host_port, if scheme == "https" { 443 } else { 80 }),
    };
    Some((scheme, host.to_ascii_lowercase(), port))
}

/// Reads the request (all of it is in `request`) and decides.
pub(super) fn upgrade(
    request: &[u8],
    tls: bool,
    origins: &OriginRules,
    compression: bool,
    extra_headers: &[(String, String)],
) -> Result<Upgrade, Refusal> {
    let text = String::from_utf8_lossy(request);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let method = first.split(' ').next().unwrap_or_default();
    let headers: Vec<(String, String)> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    if method != "GET" {
        return Err(refuse(405, "request method must be GET"));
    }
    let Some(host) = header(&headers, "Host").filter(|h| !h.is_empty()) else {
        // Go's HTTP server refuses it before the upgrade code sees it.
        let body = "400 Bad Request: missing required Host header";
        return Err(Refusal {
            response: format!(
                "HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{body}"
            )
            .into_bytes(),
            reason: "'Host' missing in request".into(),
        });
    };
    if !has_token(&headers, "Upgrade", "websocket") {
        return Err(refuse(400, "invalid value for header 'Upgrade'"));
    }
    if !has_token(&headers, "Connection", "Upgrade") {
        return Err(refuse(400, "invalid value for header 'Connection'"));
    }
    let Some(key) = header(&headers, "Sec-WebSocket-Key").filter(|k| !k.is_empty()) else {
        return Err(refuse(400, "key missing"));
    };
    let decoded = base64::engine::general_purpose::STANDARD.decode(key);
    if decoded.map_or(true, |k| k.len() != 16) {
        return Err(refuse(400, "invalid websocket key"));
    }
    if header(&headers, "Sec-WebSocket-Version") != Some("13") {
        return Err(refuse(400, "invalid version"));
    }
    if origins.same_origin || !origins.allowed.is_empty() {
        let origin =
            header(&headers, "Origin").or_else(|| header(&headers, "Sec-WebSocket-Origin"));
        if let Some(origin) = origin.filter(|o| !o.is_empty()) {
            let Some(o) = normalize_origin(origin) else {
                return Err(refuse(403, format!("origin not allowed: {origin}")));
            };
            let scheme = if tls { "https" } else { "http" };
            let same = normalize_origin(&format!("{scheme}://{host}")).is_some_and(|h| h == o);
            let listed = origins
                .allowed
                .iter()
                .filter_map(|a| normalize_origin(a))
                .any(|a| a == o);
            let ok = (origins.same_origin && same) || listed;
            if !ok {
                let why = if origins.same_origin && origins.allowed.is_empty() {
                    "not same origin"
                } else {
                    "not in the allowed list"
                };
                return Err(refuse(403, format!("origin not allowed: {why}")));
            }
        }
    }
    let no_masking =
        header(&headers, "Nats-No-Masking").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let accept = {
        let mut h = sha1::Sha1::new();
        h.update(key.as_bytes());
        h.update(ACCEPT_GUID.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    };
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
    );
    let deflate = compression
        && headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
            .flat_map(|(_, v)| v.split(','))
            .any(|ext| {
                ext.split(';')
                    .next()
                    .is_some_and(|name| name.trim().eq_ignore_ascii_case("permessage-deflate"))
            });
    if deflate {
        response.push_str("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n");
    }
    if no_masking {
        response.push_str("Nats-No-Masking: true\r\n");
    }
    for (name, value) in extra_headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    let forwarded_for = header(&headers, "X-Forwarded-For")
        .map(|v| v.split(',').next().unwrap_or_default().trim().to_string())
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
    let cookies = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .map(|(n, v)| (n.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect();
    Ok(Upgrade {
        response: response.into_bytes(),
        no_masking,
        deflate,
        forwarded_for,
        cookies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: &str) -> String {
        format!("GET / HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n")
    }

    #[test]
    fn the_rfc_example_is_accepted_and_bad_ones_refused() {
        let extra = [("X-Frame-Options".to_string(), "DENY".to_string())];
        let up = upgrade(
            request("").as_bytes(),
            false,
            &OriginRules::default(),
            false,
            &extra,
        )
        .expect("ok");
        let text = String::from_utf8(up.response).expect("utf8");
        assert!(text.contains("X-Frame-Options: DENY\r\n"), "{text}");
        assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        let refused = |r: &str| {
            upgrade(r.as_bytes(), false, &OriginRules::default(), false, &[]).expect_err("refused")
        };
        assert!(refused("POST / HTTP/1.1\r\n\r\n")
            .response
            .starts_with(b"HTTP/1.1 405"));
        let no_version = request("").replace("Sec-WebSocket-Version: 13\r\n", "");
        let r = refused(&no_version);
        assert!(r.response.starts_with(b"HTTP/1.1 400 Bad Request"));
        assert_eq!(r.reason, "invalid version");
        let bad_key = request("").replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=");
        assert_eq!(refused(&bad_key).reason, "invalid websocket key");
        let rules = OriginRules {
            same_origin: true,
            allowed: vec![],
        };
        let other = request("Origin: http://evil.example\r\n");
        let r = upgrade(other.as_bytes(), false, &rules, false, &[]).expect_err("403");
        assert!(r.response.starts_with(b"HTTP/1.1 403 Forbidden"));
        let same = request("Origin: http://localhost:8080\r\n");
        assert!(upgrade(same.as_bytes(), false, &rules, false, &[]).is_ok());
        let listed = OriginRules {
            same_origin: false,
            allowed: vec!["https://app.example".into()],
        };
        let ok = request("Origin: https://app.example:443\r\n");
        assert!(upgrade(ok.as_bytes(), false, &listed, false, &[]).is_ok());
        let offer =
            request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
        let up = upgrade(offer.as_bytes(), false, &OriginRules::default(), true, &[]).expect("ok");
        assert!(up.deflate);
        assert!(String::from_utf8_lossy(&up.response)
            .contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"));
        let up = upgrade(offer.as_bytes(), false, &OriginRules::default(), false, &[]).expect("ok");
        assert!(!up.deflate, "not configured");
    }
}
