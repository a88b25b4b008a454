//! Configuration reload (SIGHUP, `--signal reload`, and the system
//! account's `$SYS.REQ.SERVER.<id>.RELOAD`): the configuration is read
//! again and compared with the running one. A key that cannot change at
//! run time refuses the whole reload, in the reference's words, and the
//! running configuration stays. Otherwise the new one is put in force:
//! users, permissions, accounts and limits apply to every connection
//! (each reader checks its client again; one no longer authorized is
//! closed), logging and TLS certificates change in place.

use std::sync::Arc;

use tracing::{error, info};

use crate::config::options::Options;
use crate::server::Server;

/// Reads the configuration again (the command line and the config file,
/// as at start-up).
pub type Loader = Box<dyn Fn() -> Result<Options, String> + Send + Sync>;

/// Why a reload did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReloadError {
    /// The server was not started from a configuration it can read again.
    NoLoader,
    /// The configuration could not be read (syntax, values): its error.
    Config(String),
    /// A key changed that only a restart can change.
    NotSupported(String),
    /// The new TLS certificate or key could not be loaded.
    Tls(String),
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::NoLoader => {
                f.write_str("config reload not supported: no configuration to read")
            }
            ReloadError::Config(e) | ReloadError::NotSupported(e) | ReloadError::Tls(e) => {
                f.write_str(e)
            }
        }
    }
}

impl std::error::Error for ReloadError {}

/// One option compared across a reload: the reference's name for it
/// (its Go field, as its errors name it; its config key, as its
/// "Reloaded:" lines do), how to read it, and whether it may change.
struct Field {
    go_name: &'static str,
    key: &'static str,
    read: fn(&Options) -> String,
    reloadable: bool,
}

macro_rules! field {
    ($go:literal, $key:literal, $f:ident, $ok:expr) => {
        Field {
            go_name: $go,
            key: $key,
            read: |o: &Options| format!("{:?}", o.$f),
            reloadable: $ok,
        }
    };
}

/// Every option, in the order the reference reports them.
const FIELDS: &[Field] = &[
    field!("Host", "host", host, false),
    field!("Port", "port", port, false),
    field!("ServerName", "server_name", server_name, false),
    field!("MaxPayload", "max_payload", max_payload, true),
    field!("MaxControlLine", "max_control_line", max_control_line, true),
    field!("MaxPending", "max_pending", max_pending, false),
    field!("MaxConn", "max_connections", max_connections, true),
    field!("MaxSubs", "max_subscriptions", max_subscriptions, true),
    field!(
        "MaxClosedClients",
        "max_closed_clients",
        max_closed_clients,
        false
    ),
    field!("PingInterval", "ping_interval", ping_interval, true),
    field!("MaxPingsOut", "ping_max", ping_max, true),
    field!("WriteDeadline", "write_deadline", write_deadline, true),
    field!("AuthTimeout", "auth_timeout", auth_timeout, true),
    field!("Authorization", "authorization", auth, true),
    field!("Accounts", "accounts", accounts, true),
    field!("SystemAccount", "system_account", system_account, false),
    field!("TrustedOperators", "operator", operator, false),
    field!("HTTPPort", "http_port", http_port, false),
    field!("HTTPHost", "http_host", http_host, false),
    field!("HTTPBasePath", "http_base_path", http_base_path, false),
    field!("TLSConfig", "tls", tls, true),
    field!("AllowNonTLS", "allow_non_tls", allow_non_tls, false),
    field!(
        "LameDuckDuration",
        "lame_duck_duration",
        lame_duck_duration,
        true
    ),
    field!(
        "LameDuckGracePeriod",
        "lame_duck_grace_period",
        lame_duck_grace_period,
        true
    ),
    field!(
        "NoHeaderSupport",
        "no_header_support",
        no_header_support,
        false
    ),
    field!("LogFile", "log_file", log_file, true),
    field!("Logtime", "logtime", logtime, true),
    field!("Debug", "debug", debug, true),
    field!("Trace", "trace", trace, true),
    field!("PidFile", "pid_file", pid_file, true),
    field!("PortsFileDir", "ports_file_dir", ports_file_dir, true),
    field!("JetStream", "jetstream", jetstream, false),
    field!("StoreDir", "store_dir", store_dir, false),
    field!(
        "JetStreamMaxMemory",
        "max_memory_store",
        max_memory_store,
        false
    ),
    field!("JetStreamMaxStore", "max_file_store", max_file_store, false),
    field!("SyncInterval", "sync_interval", sync_interval, false),
];

/// What changed between two configurations: the reloadable keys, or the
/// first key that cannot change.
fn diff(old: &Options, new: &Options) -> Result<Vec<&'static Field>, ReloadError> {
    let mut changed = Vec::new();
    for f in FIELDS {
        let (was, is) = ((f.read)(old), (f.read)(new));
        if was == is {
            continue;
        }
        if !f.reloadable {
            return Err(ReloadError::NotSupported(format!(
                "config reload not supported for {}: old={}, new={}",
                f.go_name,
                go_value(&was),
                go_value(&is)
            )));
        }
        changed.push(f);
    }
    Ok(changed)
}

/// A Debug rendering shown as Go prints a value: strings unquoted,
/// `Some(x)` as `x`, `None` as empty.
fn go_value(debug: &str) -> String {
    let inner = debug
        .strip_prefix("Some(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(debug);
    let inner = if inner == "None" { "" } else { inner };
    inner.trim_matches('"').to_string()
}

/// Reads the configuration again and puts it in force, or says why not
/// (and keeps the running one). Logs as the reference does.
pub fn reload(server: &Arc<Server>) -> Result<(), ReloadError> {
    let result = reload_quietly(server);
    match &result {
        Ok(()) => info!("Reloaded server configuration"),
        Err(e) => error!("Failed to reload server configuration: {e}"),
    }
    result
}

fn reload_quietly(server: &Arc<Server>) -> Result<(), ReloadError> {
    let new = server.load_config().ok_or(ReloadError::NoLoader)?;
    let new = new.map_err(ReloadError::Config)?;
    apply(server, new)
}

/// Puts `new` in force if only reloadable keys differ from the running
/// configuration (embedders call this with options they built).
pub fn apply(server: &Arc<Server>, new: Options) -> Result<(), ReloadError> {
    let old = server.opts();
    let changed = diff(&old, &new)?;
    let tls_changed = changed.iter().any(|f| f.key == "tls");
    let tls = if tls_changed {
        match &new.tls {
            Some(t) => Some(tokio_rustls::TlsAcceptor::from(
                t.load().map_err(|e| ReloadError::Tls(e.0))?,
            )),
            None => None,
        }
    } else {
        None
    };
    for a in &new.accounts {
        server.account_or_create(&a.name);
    }
    crate::log::set_levels(new.debug, new.trace);
    if changed
        .iter()
        .any(|f| f.key == "log_file" || f.key == "logtime")
    {
        if let Err(e) = crate::log::reconfigure(new.log_file.as_deref(), new.logtime) {
            return Err(ReloadError::Config(format!("could not open log file: {e}")));
        }
    }
    let reauthorize = changed.iter().any(|f| {
        matches!(
            f.key,
            "authorization" | "accounts" | "max_payload" | "max_control_line" | "max_subscriptions"
        )
    });
    server.set_opts(new);
    if tls_changed {
        server.set_tls(tls);
    }
    for f in &changed {
        info!("Reloaded: {}", reloaded_text(f, &server.opts()));
    }
    if reauthorize {
        for handle in server.connections() {
            handle.request_reauthorize();
        }
    }
    Ok(())
}

/// The reference's "Reloaded: ..." wording for an option.
fn reloaded_text(f: &Field, now: &Options) -> String {
    match f.key {
        "authorization" => "authorization users".into(),
        "accounts" => "accounts".into(),
        "tls" => "tls = enabled".into(),
        key => format!("{key} = {}", go_value(&(f.read)(now))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_change_is_refused_in_the_reference_words() {
        let old = Options::default();
        let new = Options {
            port: crate::config::options::Port::Fixed(4333),
            ..Options::default()
        };
        let Err(e) = diff(&old, &new) else {
            panic!("a port change was accepted");
        };
        assert!(
            e.to_string()
                .starts_with("config reload not supported for Port: old="),
            "{e}"
        );
    }

    #[test]
    fn limits_and_users_may_change() {
        let old = Options::default();
        let new = Options {
            max_payload: 1024,
            debug: true,
            ..Options::default()
        };
        let changed: Vec<&str> = diff(&old, &new).unwrap().iter().map(|f| f.key).collect();
        assert_eq!(changed, ["max_payload", "debug"]);
    }
}
