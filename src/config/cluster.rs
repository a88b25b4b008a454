//! The `cluster { }` block and the `--cluster`/`--routes` flags, as
//! nats-server reads them.

use super::conf::{Spanned, Value};

/// A route to dial: where, and the credentials its URL carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteUrl {
    /// `host:port`.
    pub addr: String,
    /// The user and password of `nats://user:pass@host:port`.
    pub user: Option<(String, String)>,
}

impl RouteUrl {
    /// Reads `nats-route://[user:pass@]host:port` (any scheme).
    pub fn parse(url: &str) -> Result<RouteUrl, String> {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let rest = rest.trim_end_matches('/');
        let (user, addr) = match rest.rsplit_once('@') {
            Some((cred, addr)) => {
                let (u, p) = cred.split_once(':').unwrap_or((cred, ""));
                (Some((u.to_string(), p.to_string())), addr)
            }
            None => (None, rest),
        };
        let Some((host, port)) = addr.rsplit_once(':') else {
            return Err(format!("error parsing route url [{url:?}]: missing port"));
        };
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(format!("error parsing route url [{url:?}]"));
        }
        Ok(RouteUrl {
            addr: addr.to_string(),
            user,
        })
    }
}

/// The `cluster` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterOptions {
    /// `name`; none: a random one, which yields to a named peer's.
    pub name: Option<String>,
    /// Interface to bind for routes; the server's when empty.
    pub host: String,
    /// Route port; 0 picks a free one (`-1` in the config).
    pub port: u16,
    /// `routes`: the servers to dial (redialled forever).
    pub routes: Vec<RouteUrl>,
    /// `authorization { user, password }`: what dialling servers must send.
    pub user: Option<(String, String)>,
    /// `no_advertise`: keep route-learned client URLs out of client INFO.
    pub no_advertise: bool,
    /// `advertise`: the route address told to other servers.
    pub advertise: Option<String>,
    /// `connect_retries`: dials of a gossiped route before giving up.
    pub connect_retries: u32,
    /// `pool_size`: route connections per server, accounts spread over
    /// them; 0 is the reference's default (3), negative turns pooling off
    /// (one connection for everything, as servers before 2.10 do).
    pub pool_size: i64,
    /// `accounts`: accounts given a connection of their own to each server
    /// (pinned).
    pub accounts: Vec<String>,
    /// `tls { cert_file, key_file, ca_file }`: routes run TLS from the
    /// first byte, each side verifying the other's certificate against
    /// `ca_file` (the reference forces verification on routes).
    pub tls: Option<crate::tls::TlsConfig>,
}

/// The reference's default `pool_size`.
pub const DEFAULT_POOL_SIZE: usize = 3;

impl ClusterOptions {
    /// Connections per server in the pool; `None` with pooling off.
    pub fn pool_size(&self) -> Option<usize> {
        match self.pool_size {
            0 => Some(DEFAULT_POOL_SIZE),
            n if n < 0 => None,
            n => Some(usize::try_from(n).unwrap_or(DEFAULT_POOL_SIZE)),
        }
    }
}

/// Reads `host:port` or `nats://host:port` (`--cluster`, `listen`).
pub fn listen_url(url: &str) -> Result<(String, u16), String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, a)| a);
    let (host, port) = rest.rsplit_once(':').unwrap_or(("", rest));
    let port: i64 = port
        .trim_end_matches('/')
        .parse()
        .map_err(|_| format!("invalid cluster listen {url:?}"))?;
    let port = if port < 0 {
        0
    } else {
        u16::try_from(port).map_err(|_| format!("invalid cluster port {port}"))?
    };
    Ok((host.to_string(), port))
}

/// Reads a `cluster` block.
pub(super) fn cluster(v: &Spanned) -> Result<ClusterOptions, String> {
    let Value::Map(fields) = &v.value else {
        return Err("error parsing cluster config, expected a map".into());
    };
    let mut c = ClusterOptions::default();
    for (key, value) in fields.iter() {
        if key.used_as_variable {
            continue;
        }
        let at = |m: String| format!("{}: {m}", key.pos);
        let text = |what: &str| {
            value
                .value
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| at(format!("{what} must be a string")))
        };
        let name = key.name.to_ascii_lowercase();
        match name.as_str() {
            "name" => {
                let n = text("name")?;
                if n.contains(' ') {
                    return Err(at("cluster name cannot contain spaces or new lines".into()));
                }
                c.name = Some(n);
            }
            "listen" => {
                let (host, port) = listen_url(&text("listen")?).map_err(at)?;
                c.host = host;
                c.port = port;
            }
            "host" | "net" => c.host = text(&name)?,
            "port" => {
                let p = value
                    .value
                    .as_int()
                    .ok_or_else(|| at("port must be an integer".into()))?;
                c.port = if p < 0 {
                    0
                } else {
                    u16::try_from(p).map_err(|_| at(format!("invalid port {p}")))?
                };
            }
            "routes" => {
                let urls: Vec<String> = match &value.value {
                    Value::Str(s) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(|v| v.value.as_str().map(str::to_string))
                        .collect(),
                    _ => return Err(at("routes must be a list of URLs".into())),
                };
                c.routes = urls
                    .iter()
                    .map(|u| RouteUrl::parse(u))
                    .collect::<Result<_, _>>()
                    .map_err(at)?;
            }
            "authorization" => {
                let Value::Map(auth) = &value.value else {
                    return Err(at("authorization must be a map".into()));
                };
                let mut user = String::new();
                let mut pass = String::new();
                for (k, v) in auth.iter() {
                    match k.name.to_ascii_lowercase().as_str() {
                        "user" | "username" => user = v.value.as_str().unwrap_or("").into(),
                        "password" | "pass" => pass = v.value.as_str().unwrap_or("").into(),
                        "timeout" => {}
                        other => {
                            return Err(at(format!(
                                "\"cluster.authorization.{other}\" is not supported by tern yet"
                            )))
                        }
                    }
                }
                c.user = Some((user, pass));
            }
            "no_advertise" => c.no_advertise = value.value.as_bool().unwrap_or(false),
            "advertise" | "cluster_advertise" => c.advertise = Some(text(&name)?),
            "connect_retries" => {
                c.connect_retries = value
                    .value
                    .as_int()
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0);
            }
            "pool_size" => {
                c.pool_size = value
                    .value
                    .as_int()
                    .ok_or_else(|| at("pool_size must be a number".into()))?;
            }
            "accounts" => {
                let Value::Array(list) = &value.value else {
                    return Err(at("accounts must be a list of account names".into()));
                };
                for item in list {
                    let name = item.value.as_str().unwrap_or_default().to_string();
                    if c.accounts.contains(&name) {
                        return Err(at(format!(
                            "found duplicate account name {name:?} in pinned accounts list"
                        )));
                    }
                    c.accounts.push(name);
                }
            }
            // Compression is left off, which the reference accepts from
            // any peer.
            "compression" => {}
            "tls" => {
                let mut tls = super::tls::parse_tls_fields(value).map_err(at)?;
                tls.verify = true;
                if tls.ca_file.is_none() {
                    return Err(at(
                        "cluster tls needs 'ca_file': tern verifies route peers against it".into(),
                    ));
                }
                tls.load().map_err(|e| at(e.0))?;
                tls.load_client().map_err(|e| at(e.0))?;
                c.tls = Some(tls);
            }
            "permissions" => {
                return Err(at(format!(
                    "\"cluster.{}\" is not supported by tern yet",
                    key.name
                )))
            }
            _ => {
                return Err(at(format!(
                    "error parsing cluster config, unknown field \"{}\"",
                    key.name
                )))
            }
        }
    }
    if !c.accounts.is_empty() && c.pool_size < 0 {
        return Err("pool_size cannot be negative if pinned accounts are specified".into());
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    #[test]
    fn the_block_as_the_reference_reads_it() {
        let o = load(
            "cluster {\n  name: east\n  listen: \"127.0.0.1:6222\"\n  routes: [\"nats-route://a:b@127.0.0.1:6223\", \"nats://127.0.0.1:6224\"]\n  pool_size: 3\n  compression: accept\n}\n",
        )
        .expect("config");
        let c = o.cluster.expect("cluster");
        assert_eq!(c.name.as_deref(), Some("east"));
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 6222));
        assert_eq!(c.routes.len(), 2);
        assert_eq!(c.routes[0].addr, "127.0.0.1:6223");
        assert_eq!(c.routes[0].user, Some(("a".into(), "b".into())));
        assert_eq!(c.pool_size(), Some(3));
        let pinned = load("cluster { port: 1, pool_size: 5, accounts: [A, B] }\n")
            .expect("config")
            .cluster
            .expect("cluster");
        assert_eq!((pinned.pool_size(), pinned.accounts.len()), (Some(5), 2));
        assert!(load("cluster { port: 1, pool_size: -1, accounts: [A] }\n")
            .expect_err("pinned without a pool")
            .to_string()
            .contains("pool_size cannot be negative"));
        assert!(load("cluster { port: 1, accounts: [A, A] }\n")
            .expect_err("duplicate")
            .to_string()
            .contains("duplicate account name"));
        assert!(load("cluster { port: 1, permissions: {} }\n")
            .expect_err("later")
            .to_string()
            .contains("not supported by tern yet"));
        assert!(load("cluster { port: 1, tls: {} }\n")
            .expect_err("no ca")
            .to_string()
            .contains("needs 'ca_file'"));
        assert!(RouteUrl::parse("nats://host").is_err());
        assert_eq!(listen_url("nats://0.0.0.0:-1"), Ok(("0.0.0.0".into(), 0)));
    }
}
