//! The `websocket { }` block, as nats-server reads it.

use std::time::Duration;

use super::conf::{Spanned, Value};

/// The origin rules of the `websocket` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginRules {
    /// `same_origin`: the origin must be the `Host` asked for.
    pub same_origin: bool,
    /// `allowed_origins`: the origins accepted (scheme, host and port).
    pub allowed: Vec<String>,
}

/// The `websocket` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsocketOptions {
    /// Interface to bind (`host`); the server's when empty.
    pub host: String,
    /// Port (`port`); 0 picks a free one.
    pub port: u16,
    /// `no_tls`: plain `ws://` (the reference requires TLS otherwise).
    pub no_tls: bool,
    /// `tls { }`: `wss://`.
    pub tls: Option<crate::tls::TlsConfig>,
    /// `compression`: permessage-deflate with a client that offers it
    /// (no context takeover either way).
    pub compression: bool,
    /// `same_origin` and `allowed_origins`.
    pub origins: OriginRules,
    /// `handshake_timeout`: how long the upgrade may take.
    pub handshake_timeout: Duration,
}

impl Default for WebsocketOptions {
    fn default() -> Self {
        WebsocketOptions {
            host: String::new(),
            port: 0,
            no_tls: false,
            tls: None,
            compression: false,
            origins: OriginRules::default(),
            handshake_timeout: Duration::from_secs(2),
        }
    }
}

/// Reads a `websocket` block. TLS is required unless `no_tls` says
/// otherwise, as in the reference.
pub(super) fn websocket(v: &Spanned) -> Result<WebsocketOptions, String> {
    let Value::Map(fields) = &v.value else {
        return Err("error parsing websocket config, expected a map".into());
    };
    let mut ws = WebsocketOptions::default();
    for (key, value) in fields.iter() {
        if key.used_as_variable {
            continue;
        }
        let at = |m: String| format!("{}: {m}", key.pos);
        let name = key.name.to_ascii_lowercase();
        match name.as_str() {
            "listen" => {
                let s = value
                    .value
                    .as_str()
                    .ok_or_else(|| at("listen must be a string".into()))?;
                let (host, port) = s.rsplit_once(':').unwrap_or(("", s));
                ws.host = host.to_string();
                ws.port = port
                    .parse()
                    .map_err(|_| at(format!("invalid listen {s:?}")))?;
            }
            "host" | "net" => {
                ws.host = value
                    .value
                    .as_str()
                    .ok_or_else(|| at(format!("{name} must be a string")))?
                    .to_string();
            }
            "port" => {
                let p = value
                    .value
                    .as_int()
                    .ok_or_else(|| at("port must be an integer".into()))?;
                // -1 asks for a free port, as for the client port.
                ws.port = if p < 0 {
                    0
                } else {
                    u16::try_from(p).map_err(|_| at(format!("invalid port {p}")))?
                };
            }
            "no_tls" => ws.no_tls = value.value.as_bool().unwrap_or(false),
            "compression" => ws.compression = value.value.as_bool().unwrap_or(false),
            "same_origin" => ws.origins.same_origin = value.value.as_bool().unwrap_or(false),
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => {
                ws.origins.allowed = match &value.value {
                    Value::Str(s) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(|v| v.value.as_str().map(str::to_string))
                        .collect(),
                    _ => return Err(at("allowed_origins must be a string or a list".into())),
                };
            }
            "handshake_timeout" => {
                ws.handshake_timeout = match &value.value {
                    Value::Int(n) if *n >= 0 => Duration::from_secs(*n as u64),
                    Value::Str(_) => super::duration(value)
                        .map_err(|_| at("invalid handshake_timeout".into()))?,
                    _ => return Err(at("invalid handshake_timeout".into())),
                };
            }
            "tls" => ws.tls = Some(super::tls::parse_tls(value).map_err(at)?),
            "advertise" | "authorization" | "jwt_cookie" | "username_cookie"
            | "password_cookie" | "token_cookie" | "no_auth_user" | "headers" => {
                return Err(at(format!(
                    "\"websocket.{}\" is not supported by tern yet",
                    key.name
                )));
            }
            _ => {
                return Err(at(format!(
                    "error parsing websocket config, unknown field \"{}\"",
                    key.name
                )))
            }
        }
    }
    if ws.tls.is_none() && !ws.no_tls {
        return Err("websocket requires TLS configuration".into());
    }
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;

    #[test]
    fn the_block_as_the_reference_reads_it() {
        let o = load(
            "websocket {\n  listen: \"127.0.0.1:8080\"\n  no_tls: true\n  same_origin: true\n  allowed_origins: [\"https://a.example\"]\n  handshake_timeout: \"3s\"\n  compression: true\n}\n",
        )
        .expect("config");
        let ws = o.websocket.expect("websocket");
        assert_eq!(
            (ws.host.as_str(), ws.port, ws.no_tls),
            ("127.0.0.1", 8080, true)
        );
        assert!(ws.origins.same_origin && ws.compression);
        assert_eq!(ws.origins.allowed, vec!["https://a.example".to_string()]);
        assert_eq!(ws.handshake_timeout, std::time::Duration::from_secs(3));
        let err = load("websocket { port: 8080 }\n").expect_err("TLS needed");
        assert!(
            err.to_string()
                .contains("websocket requires TLS configuration"),
            "{err}"
        );
        let err =
            load("websocket { port: 8080, no_tls: true, jwt_cookie: x }\n").expect_err("later");
        assert!(
            err.to_string().contains("not supported by tern yet"),
            "{err}"
        );
    }
}
