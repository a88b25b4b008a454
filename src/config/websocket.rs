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
    /// `advertise`: the `host:port` told to clients (`ws_connect_urls`).
    pub advertise: Option<String>,
    /// `authorization { user, password, token }` and `no_auth_user`: what
    /// WebSocket clients sign in with instead of the server's own
    /// authorization (the reference's override).
    pub auth: WebsocketAuth,
    /// `jwt_cookie`, `username_cookie`, `password_cookie`,
    /// `token_cookie`: cookies of the upgrade request that stand in for
    /// credentials a CONNECT leaves out.
    pub cookies: CookieNames,
    /// `headers { name: value }`: added to every upgrade response.
    pub headers: Vec<(String, String)>,
}

/// The `websocket` block's own authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebsocketAuth {
    /// `user` and `password`.
    pub user: Option<(String, String)>,
    /// `token`.
    pub token: Option<String>,
    /// `no_auth_user`: a configured user clients without credentials
    /// sign in as.
    pub no_auth_user: Option<String>,
    /// `authorization { timeout }`: seconds to sign in.
    pub timeout: Option<Duration>,
}

impl WebsocketAuth {
    /// Any of user, token or no-auth user overrides the server's
    /// authorization for WebSocket clients, as in the reference.
    pub fn overrides(&self) -> bool {
        self.user.is_some() || self.token.is_some() || self.no_auth_user.is_some()
    }
}

/// Names of the cookies that carry credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CookieNames {
    /// `jwt_cookie`.
    pub jwt: Option<String>,
    /// `username_cookie`.
    pub username: Option<String>,
    /// `password_cookie`.
    pub password: Option<String>,
    /// `token_cookie`.
    pub token: Option<String>,
}

impl CookieNames {
    /// Whether any cookie is named.
    pub fn any(&self) -> bool {
        self.jwt.is_some()
            || self.username.is_some()
            || self.password.is_some()
            || self.token.is_some()
    }
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
            advertise: None,
            auth: WebsocketAuth::default(),
            cookies: CookieNames::default(),
            headers: Vec::new(),
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
            "advertise" => ws.advertise = value.value.as_str().map(str::to_string),
            "no_auth_user" => ws.auth.no_auth_user = value.value.as_str().map(str::to_string),
            "jwt_cookie" => ws.cookies.jwt = value.value.as_str().map(str::to_string),
            "username_cookie" => ws.cookies.username = value.value.as_str().map(str::to_string),
            "password_cookie" => ws.cookies.password = value.value.as_str().map(str::to_string),
            "token_cookie" => ws.cookies.token = value.value.as_str().map(str::to_string),
            "authorization" | "authentication" => {
                let Value::Map(auth) = &value.value else {
                    return Err(at("websocket authorization must be a map".into()));
                };
                let (mut user, mut pass) = (None, String::new());
                for (k, v) in auth.iter() {
                    let text = || v.value.as_str().unwrap_or_default().to_string();
                    match k.name.to_ascii_lowercase().as_str() {
                        "user" | "username" => user = Some(text()),
                        "pass" | "password" => pass = text(),
                        "token" => ws.auth.token = Some(text()),
                        "timeout" => {
                            ws.auth.timeout = match &v.value {
                                Value::Int(n) if *n >= 0 => Some(Duration::from_secs(*n as u64)),
                                Value::Float(f) if *f >= 0.0 && f.is_finite() => {
                                    Some(Duration::from_secs_f64(*f))
                                }
                                _ => return Err(at("invalid authorization timeout".into())),
                            };
                        }
                        other => {
                            return Err(at(format!(
                                "\"websocket.authorization.{other}\" is not supported by tern yet"
                            )))
                        }
                    }
                }
                ws.auth.user = user.map(|u| (u, pass));
            }
            "headers" => {
                let Value::Map(map) = &value.value else {
                    return Err(at("error parsing headers: unsupported type".into()));
                };
                for (k, v) in map.iter() {
                    let Some(text) = v.value.as_str() else {
                        return Err(at(format!(
                            "error parsing header key {}: unsupported type",
                            k.name
                        )));
                    };
                    let lower = k.name.to_ascii_lowercase();
                    if matches!(
                        lower.as_str(),
                        "host" | "content-length" | "connection" | "upgrade" | "nats-no-masking"
                    ) {
                        return Err(at(format!(
                            "websocket: invalid header {:?} not allowed",
                            k.name
                        )));
                    }
                    if lower.starts_with("sec-websocket-") {
                        return Err(at(format!(
                            "websocket: invalid header {:?}, \"Sec-WebSocket-\" prefix not allowed",
                            k.name
                        )));
                    }
                    ws.headers.push((k.name.clone(), text.to_string()));
                }
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
        let o =
            load("websocket { port: 8080, no_tls: true, headers: { X-Frame-Options: DENY } }\n")
                .expect("headers");
        assert_eq!(
            o.websocket.expect("ws").headers,
            vec![("X-Frame-Options".to_string(), "DENY".to_string())]
        );
        let err =
            load("websocket { port: 8080, no_tls: true, headers: { Sec-WebSocket-Key: x } }\n")
                .expect_err("reserved");
        assert!(err.to_string().contains("prefix not allowed"), "{err}");
        let err = load("websocket { port: 8080, no_tls: true, headers: { upgrade: x } }\n")
            .expect_err("reserved");
        assert!(err.to_string().contains("not allowed"), "{err}");
        // Its own authorization, cookies and advertise, with the
        // reference's start-up checks.
        let o = load(
            "websocket { port: 8080, no_tls: true, advertise: \"ws.example.com:443\", authorization { user: u, password: p, timeout: 3 }, token_cookie: t }\n",
        )
        .expect("config");
        let ws = o.websocket.expect("websocket");
        assert_eq!(ws.auth.user, Some(("u".into(), "p".into())));
        assert_eq!(ws.auth.timeout, Some(std::time::Duration::from_secs(3)));
        assert_eq!(ws.cookies.token.as_deref(), Some("t"));
        assert_eq!(ws.advertise.as_deref(), Some("ws.example.com:443"));
        for (conf, want) in [
            (
                "websocket { port: 8080, no_tls: true, jwt_cookie: x }\n",
                "trusted operators or trusted keys configuration is required",
            ),
            (
                "websocket { port: 8080, no_tls: true, no_auth_user: nobody }\n",
                "no_auth_user: \"nobody\" not present",
            ),
            (
                "authorization { users [ { user: a, password: b } ] }\nwebsocket { port: 8080, no_tls: true, authorization { user: u, password: p } }\n",
                "username not compatible with presence of users/nkeys",
            ),
        ] {
            let err = load(conf).expect_err(want).to_string();
            assert!(err.contains(want), "{err}");
        }
    }
}
