//! The `leafnodes { }` block, as nats-server reads it: a port other
//! servers connect to as our leaf nodes (we are their hub), and remotes
//! we connect to as a leaf node.

use super::cluster::RouteUrl;
use super::conf::{Spanned, Value};

/// What a leaf node must send to connect, and the account it lands in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafAuth {
    /// `user`.
    pub user: String,
    /// `password`.
    pub password: String,
    /// The account the leaf node is bound to (`$G` when none).
    pub account: Option<String>,
    /// `users [ { user, password, account } ]`: each leaf signs in as
    /// one and is bound to its account.
    pub users: Vec<LeafUser>,
}

/// One of the `leafnodes { authorization { users } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafUser {
    /// `user`.
    pub user: String,
    /// `password`.
    pub password: String,
    /// The account it is bound to (`$G` when none).
    pub account: Option<String>,
}

/// One `remotes` entry: a hub to connect to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafRemote {
    /// `url`/`urls`: tried in turn.
    pub urls: Vec<RouteUrl>,
    /// `account`: the local account bound to the connection (`$G`).
    pub account: Option<String>,
    /// `deny_imports`: subjects not taken from the hub.
    pub deny_imports: Vec<String>,
    /// `deny_exports`: subjects not sent to the hub.
    pub deny_exports: Vec<String>,
    /// `credentials`: a `.creds` file (user JWT and seed) to sign in with.
    pub credentials: Option<std::path::PathBuf>,
    /// `tls { ca_file, cert_file, key_file }`: TLS to the hub.
    pub tls: Option<crate::tls::TlsConfig>,
}

/// The `leafnodes` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeafOptions {
    /// Interface to bind; the server's when empty.
    pub host: String,
    /// Port leaf nodes connect to; none: no listener (remotes only).
    pub port: Option<u16>,
    /// `authorization { user, password, account }`.
    pub auth: Option<LeafAuth>,
    /// `remotes`: hubs this server connects to.
    pub remotes: Vec<LeafRemote>,
    /// `tls { }`: leaf nodes must connect with TLS.
    pub tls: Option<crate::tls::TlsConfig>,
    /// `reconnect`/`reconnect_interval`: the wait before a remote is
    /// dialled again (the reference's default: 1 s).
    pub reconnect: Option<std::time::Duration>,
}

fn strings(v: &Spanned, what: &str) -> Result<Vec<String>, String> {
    match &v.value {
        Value::Str(s) => Ok(vec![s.clone()]),
        Value::Array(a) => Ok(a
            .iter()
            .filter_map(|v| v.value.as_str().map(str::to_string))
            .collect()),
        _ => Err(format!("{what} must be a string or a list")),
    }
}

fn port_of(v: &Spanned) -> Result<u16, String> {
    let p = v
        .value
        .as_int()
        .ok_or_else(|| "port must be an integer".to_string())?;
    Ok(if p < 0 {
        0
    } else {
        u16::try_from(p).map_err(|_| format!("invalid port {p}"))?
    })
}

fn remote(v: &Spanned) -> Result<LeafRemote, String> {
    let Value::Map(fields) = &v.value else {
        return Err("error parsing leafnode remote, expected a map".into());
    };
    let mut r = LeafRemote::default();
    for (key, value) in fields.iter() {
        let at = |m: String| format!("{}: {m}", key.pos);
        match key.name.to_ascii_lowercase().as_str() {
            "url" | "urls" => {
                for u in strings(value, "urls").map_err(at)? {
                    r.urls.push(RouteUrl::parse(&u).map_err(at)?);
                }
            }
            "account" | "local" => {
                r.account = Some(value.value.as_str().unwrap_or("").to_string());
            }
            "deny_imports" | "deny_import" => {
                r.deny_imports = strings(value, "deny_imports").map_err(at)?
            }
            "deny_exports" | "deny_export" => {
                r.deny_exports = strings(value, "deny_exports").map_err(at)?
            }
            "tls" => {
                let tls = super::tls::parse_tls_fields(value).map_err(at)?;
                tls.load_client().map_err(|e| at(e.to_string()))?;
                r.tls = Some(tls);
            }
            "credentials" | "creds" => {
                let path = value.value.as_str().unwrap_or("").to_string();
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| at(format!("error reading credentials {path:?}: {e}")))?;
                crate::jwt::read_creds(&text)
                    .map_err(|e| at(format!("error parsing credentials {path:?}: {e}")))?;
                r.credentials = Some(path.into());
            }
            other => {
                return Err(at(format!(
                    "\"leafnodes.remotes.{other}\" is not supported by tern yet"
                )))
            }
        }
    }
    if r.urls.is_empty() {
        return Err("leafnode remote requires a url".into());
    }
    Ok(r)
}

/// Reads a `leafnodes` block.
pub(super) fn leafnodes(v: &Spanned) -> Result<LeafOptions, String> {
    let Value::Map(fields) = &v.value else {
        return Err("error parsing leafnodes config, expected a map".into());
    };
    let mut l = LeafOptions::default();
    for (key, value) in fields.iter() {
        if key.used_as_variable {
            continue;
        }
        let at = |m: String| format!("{}: {m}", key.pos);
        match key.name.to_ascii_lowercase().as_str() {
            "listen" => {
                let s = value
                    .value
                    .as_str()
                    .ok_or_else(|| at("listen must be a string".into()))?;
                let (host, port) = super::cluster::listen_url(s).map_err(at)?;
                l.host = host;
                l.port = Some(port);
            }
            "host" | "net" => l.host = value.value.as_str().unwrap_or("").to_string(),
            "port" => l.port = Some(port_of(value).map_err(at)?),
            "authorization" => {
                let Value::Map(auth) = &value.value else {
                    return Err(at("authorization must be a map".into()));
                };
                let mut a = LeafAuth::default();
                for (k, v) in auth.iter() {
                    let text = || v.value.as_str().unwrap_or("").to_string();
                    match k.name.to_ascii_lowercase().as_str() {
                        "user" | "username" => a.user = text(),
                        "password" | "pass" => a.password = text(),
                        "account" => a.account = Some(text()),
                        "users" => {
                            let Value::Array(list) = &v.value else {
                                return Err(at("authorization users must be a list".into()));
                            };
                            for item in list {
                                let Value::Map(fields) = &item.value else {
                                    return Err(at("a leafnode user must be a map".into()));
                                };
                                let mut u = LeafUser::default();
                                for (k, v) in fields.iter() {
                                    let text = v.value.as_str().unwrap_or("").to_string();
                                    match k.name.to_ascii_lowercase().as_str() {
                                        "user" | "username" => u.user = text,
                                        "password" | "pass" => u.password = text,
                                        "account" => u.account = Some(text),
                                        other => {
                                            return Err(at(format!(
                                                "\"leafnodes.authorization.users.{other}\" is not supported by tern yet"
                                            )))
                                        }
                                    }
                                }
                                a.users.push(u);
                            }
                        }
                        "timeout" => {}
                        other => {
                            return Err(at(format!(
                                "\"leafnodes.authorization.{other}\" is not supported by tern yet"
                            )))
                        }
                    }
                }
                l.auth = Some(a);
            }
            "remotes" => {
                let Value::Array(items) = &value.value else {
                    return Err(at("remotes must be a list".into()));
                };
                for item in items {
                    l.remotes.push(remote(item).map_err(at)?);
                }
            }
            "tls" => {
                l.tls = Some(super::tls::parse_tls(value).map_err(at)?);
            }
            "reconnect" | "reconnect_interval" => {
                l.reconnect = Some(match &value.value {
                    Value::Int(n) if *n > 0 => std::time::Duration::from_secs(*n as u64),
                    Value::Str(_) => super::duration(value)
                        .map_err(|_| at("invalid reconnect interval".into()))?,
                    _ => return Err(at("invalid reconnect interval".into())),
                });
            }
            // The hub's leafnode URLs go to no one (tern leafs do not
            // gossip them), and compression stays off.
            "no_advertise" | "advertise" | "compression" => {}
            other => {
                return Err(at(format!(
                    "\"leafnodes.{other}\" is not supported by tern yet"
                )))
            }
        }
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;

    #[test]
    fn the_block_as_the_reference_reads_it() {
        let o = load(
            "leafnodes {\n  listen: \"127.0.0.1:7422\"\n  authorization { user: leaf, password: pw, account: A }\n  remotes [ { url: \"nats-leaf://u:p@127.0.0.1:7423\", account: B, deny_imports: [\"x.>\"] } ]\n}\naccounts { A {}, B {} }\n",
        )
        .expect("config");
        let l = o.leafnodes.expect("leafnodes");
        assert_eq!((l.host.as_str(), l.port), ("127.0.0.1", Some(7422)));
        let auth = l.auth.expect("auth");
        assert_eq!(
            (auth.user.as_str(), auth.account.as_deref()),
            ("leaf", Some("A"))
        );
        assert_eq!(l.remotes[0].urls[0].addr, "127.0.0.1:7423");
        assert_eq!(l.remotes[0].account.as_deref(), Some("B"));
        assert_eq!(l.remotes[0].deny_imports, vec!["x.>".to_string()]);
        assert!(load(
            "leafnodes { remotes [ { url: \"nats://h:1\", credentials: /no/such.creds } ] }\n"
        )
        .expect_err("missing file")
        .to_string()
        .contains("error reading credentials"));
        assert!(
            load("leafnodes { remotes [ { url: \"nats://h:1\", hub: true } ] }\n")
                .expect_err("later")
                .to_string()
                .contains("not supported by tern yet")
        );
        let o = load(
            "leafnodes {\n  port: 7422\n  reconnect: \"250ms\"\n  authorization { users [ { user: e1, password: p, account: A }, { user: e2, password: q } ] }\n}\naccounts { A {} }\n",
        )
        .expect("config");
        let l = o.leafnodes.expect("leafnodes");
        assert_eq!(l.reconnect, Some(std::time::Duration::from_millis(250)));
        let users = l.auth.expect("auth").users;
        assert_eq!(users.len(), 2);
        assert_eq!(
            (users[0].user.as_str(), users[0].account.as_deref()),
            ("e1", Some("A"))
        );
    }
}
