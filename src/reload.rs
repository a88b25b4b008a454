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
use crate::config::ConfigError;
use crate::server::Server;

pub use crate::config::Loader;

impl Server {
    /// Reads the configuration again and puts it in force (SIGHUP).
    pub fn reload(self: &Arc<Self>) -> Result<(), ReloadError> {
        reload(self)
    }
}

/// Why a reload did not happen.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReloadError {
    /// The server was not started from a configuration it can read again.
    NoLoader,
    /// The configuration could not be read (syntax, values): its error.
    Config(ConfigError),
    /// A key changed that only a restart can change.
    NotSupported(String),
    /// The new TLS certificate or key could not be loaded.
    Tls(crate::tls::TlsError),
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::NoLoader => {
                f.write_str("can only reload config when a file is provided using -c or --config")
            }
            ReloadError::Config(e) => write!(f, "{e}"),
            ReloadError::NotSupported(e) => f.write_str(e),
            ReloadError::Tls(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReloadError::Config(e) => Some(e),
            ReloadError::Tls(e) => Some(e),
            ReloadError::NoLoader | ReloadError::NotSupported(_) => None,
        }
    }
}

/// One option compared across a reload: the reference's name for it
/// (its Go field, as its refusals name it; its config key, as its
/// "Reloaded:" lines do), how it reads, and whether it may change.
struct Field {
    go_name: &'static str,
    key: &'static str,
    read: fn(&Options) -> String,
    reloadable: bool,
}

/// A value as Go's `%v` prints it.
trait GoValue {
    fn go(&self) -> String;
}

impl GoValue for String {
    fn go(&self) -> String {
        self.clone()
    }
}
macro_rules! go_display {
    ($($t:ty),*) => {
        $(impl GoValue for $t {
            fn go(&self) -> String {
                self.to_string()
            }
        })*
    };
}
go_display!(bool, usize, u32, u64, i64);
impl GoValue for std::time::Duration {
    fn go(&self) -> String {
        crate::gotime::go_duration(u64::try_from(self.as_nanos()).unwrap_or(u64::MAX))
    }
}
impl GoValue for std::path::PathBuf {
    fn go(&self) -> String {
        self.display().to_string()
    }
}
impl GoValue for crate::config::options::Port {
    fn go(&self) -> String {
        match self {
            crate::config::options::Port::Fixed(p) => p.to_string(),
            crate::config::options::Port::Random => "-1".into(),
        }
    }
}
impl<T: GoValue> GoValue for Option<T> {
    fn go(&self) -> String {
        self.as_ref().map(GoValue::go).unwrap_or_default()
    }
}

macro_rules! field {
    ($go:literal, $key:literal, $f:ident, $ok:expr) => {
        Field {
            go_name: $go,
            key: $key,
            read: |o: &Options| o.$f.go(),
            reloadable: $ok,
        }
    };
    (debug $go:literal, $key:literal, $f:ident, $ok:expr) => {
        Field {
            go_name: $go,
            key: $key,
            read: |o: &Options| format!("{:?}", o.$f),
            reloadable: $ok,
        }
    };
}

/// Every option, in the order of the reference's options (the order of
/// its refusals and "Reloaded:" lines). Users, accounts and TLS are
/// handled apart: they always count as changed.
const FIELDS: &[Field] = &[
    field!("Host", "host", host, false),
    field!("Port", "port", port, false),
    field!("ServerName", "server_name", server_name, false),
    field!("Trace", "trace", trace, true),
    field!("Debug", "debug", debug, true),
    field!("Logtime", "logtime", logtime, true),
    field!("MaxConn", "max_connections", max_connections, true),
    field!("MaxSubs", "max_subscriptions", max_subscriptions, false),
    field!(
        "MaxClosedClients",
        "max_closed_clients",
        max_closed_clients,
        false
    ),
    field!("PingInterval", "ping_interval", ping_interval, true),
    field!("MaxPingsOut", "ping_max", ping_max, true),
    field!("AuthTimeout", "authorization timeout", auth_timeout, true),
    field!("MaxControlLine", "max_control_line", max_control_line, true),
    field!("MaxPayload", "max_payload", max_payload, true),
    field!("MaxPending", "max_pending", max_pending, false),
    field!("SystemAccount", "system_account", system_account, false),
    field!(debug "TrustedOperators", "operator", operator, false),
    field!(debug "HTTPPort", "http_port", http_port, false),
    field!(debug "HTTPSPort", "https_port", https_port, false),
    field!("HTTPHost", "http_host", http_host, false),
    field!("HTTPBasePath", "http_base_path", http_base_path, false),
    field!("AllowNonTLS", "allow_non_tls", allow_non_tls, false),
    field!(
        "LameDuckDuration",
        "lame_duck_duration",
        lame_duck_duration,
        false
    ),
    field!(
        "LameDuckGracePeriod",
        "lame_duck_grace_period",
        lame_duck_grace_period,
        false
    ),
    field!(
        "NoHeaderSupport",
        "no_header_support",
        no_header_support,
        false
    ),
    field!("JetStream", "jetstream", jetstream, false),
    field!(
        "JetStreamMaxMemory",
        "max_memory_store",
        max_memory_store,
        false
    ),
    field!("JetStreamMaxStore", "max_file_store", max_file_store, false),
    field!(debug "SyncInterval", "sync_interval", sync_interval, false),
    field!("PidFile", "pid_file", pid_file, true),
    field!("PortsFileDir", "ports_file_dir", ports_file_dir, true),
    field!("LogFile", "log_file", log_file, true),
    field!("Syslog", "syslog", syslog, true),
    field!("RemoteSyslog", "remote_syslog", remote_syslog, true),
    field!("LogSizeLimit", "log_size_limit", log_size_limit, false),
    field!("LogMaxFiles", "logfile_max_num", log_max_files, false),
    field!("LogFormat", "log_format", log_json, false),
    field!("WriteDeadline", "write_deadline", write_deadline, true),
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
            return Err(not_supported(f.go_name, &was, &is));
        }
        changed.push(f);
    }
    if old.store_dir != new.store_dir {
        return Err(ReloadError::NotSupported(
            "config reload not supported for jetstream storage directory".into(),
        ));
    }
    // The no-auth user may only go away.
    let (was, is) = (&old.auth.no_auth_user, &new.auth.no_auth_user);
    if was != is && is.is_some() {
        return Err(not_supported("NoAuthUser", &was.go(), &is.go()));
    }
    Ok(changed)
}

fn not_supported(field: &str, was: &str, is: &str) -> ReloadError {
    ReloadError::NotSupported(format!(
        "config reload not supported for {field}: old={was}, new={is}"
    ))
}

/// The configuration file's digest, as the reference logs it.
pub fn config_digest(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &text);
    Some(digest.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads the configuration again and puts it in force, or says why not
/// (and keeps the running one). Logs as the reference does.
pub fn reload(server: &Arc<Server>) -> Result<(), ReloadError> {
    let result = reload_quietly(server);
    match &result {
        Ok(()) => {
            let digest = server
                .opts()
                .config_file
                .as_deref()
                .and_then(config_digest)
                .map(|d| format!("(sha256:{d})"))
                .unwrap_or_default();
            info!("Reloaded server configuration {digest}");
        }
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
    // One reload at a time (SIGHUP and `$SYS` RELOAD may race): each
    // diffs against the configuration the last one put in force.
    static RELOADING: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
    let _one = RELOADING.lock();
    let old = server.opts();
    let changed = diff(&old, &new)?;
    // As the reference: TLS is taken as changed whenever configured, so
    // replaced certificate files take effect.
    let tls = match &new.tls {
        Some(t) => Some(tokio_rustls::TlsAcceptor::from(
            t.load().map_err(ReloadError::Tls)?,
        )),
        None => None,
    };
    let tls_text = match (&old.tls, &new.tls) {
        (_, Some(_)) => Some("enabled"),
        (Some(_), None) => Some("disabled"),
        (None, None) => None,
    };
    server.global_account().set_mappings(new.mappings.clone());
    for a in &new.accounts {
        let (account, created) = server.account_or_create(&a.name);
        account.set_mappings(a.mappings.clone());
        if created && a.jetstream.is_some() {
            // A new account with JetStream gets its engine now.
            crate::jetstream::attach_late(server, &account, a.jetstream.as_ref());
        }
    }
    let wiring = |o: &Options| -> Vec<String> {
        o.accounts
            .iter()
            .map(|a| format!("{}:{:?}:{:?}", a.name, a.imports, a.exports))
            .collect()
    };
    let rewire = wiring(&old) != wiring(&new);
    let max_conn =
        (changed.iter().any(|f| f.key == "max_connections")).then_some(new.max_connections);
    let logging = changed.iter().any(|f| {
        matches!(
            f.key,
            "log_file" | "logtime" | "debug" | "trace" | "syslog" | "remote_syslog"
        )
    });
    server.set_opts(new);
    let now = server.opts();
    let mut lines = Vec::new();
    for f in &changed {
        if f.key == "max_connections" {
            let closed = close_over_limit(server, now.max_connections);
            if closed > 0 {
                lines.push(format!(
                    "Closed {closed} connections to fall within max_connections"
                ));
            }
        }
        lines.push(format!("Reloaded: {} = {}", f.key, (f.read)(&now)));
        if f.key == "max_connections" {
            // The users and accounts lines follow max_connections in the
            // reference's order.
            lines.push("Reloaded: authorization users".into());
            lines.push("Reloaded: accounts".into());
        }
    }
    if max_conn.is_none() {
        let at = changed
            .iter()
            .position(|f| !matches!(f.key, "trace" | "debug" | "logtime"))
            .map_or(lines.len(), |i| i.min(lines.len()));
        lines.insert(at, "Reloaded: accounts".into());
        lines.insert(at, "Reloaded: authorization users".into());
    }
    if let Some(text) = tls_text {
        lines.push(format!("Reloaded: tls = {text}"));
    }
    for line in &lines {
        info!("{line}");
    }
    server.set_tls(tls);
    if rewire {
        // Imports follow the new exports and imports at once.
        crate::imports::rewire(server);
    }
    if logging {
        set_levels(now.debug, now.trace);
        let settings = crate::log::LogSettings {
            file: now.log_file.as_deref(),
            logtime: now.logtime,
            syslog: now.syslog,
            remote_syslog: now.remote_syslog.as_deref(),
            size_limit: now.log_size_limit,
            max_files: now.log_max_files,
            json: now.log_json,
            ..Default::default()
        };
        if let Err(e) = crate::log::reconfigure(&settings) {
            error!("{e}");
        }
    }
    for conn in server.connections() {
        conn.handle.request_reauthorize();
    }
    Ok(())
}

fn set_levels(debug: bool, trace: bool) {
    crate::log::set_levels(debug, trace);
}

/// Closes connections beyond a lowered `max_connections`, newest first,
/// each told as the reference tells it.
fn close_over_limit(server: &Server, max: usize) -> usize {
    let mut conns = server.connections();
    if conns.len() <= max {
        return 0;
    }
    conns.sort_by_key(|c| std::cmp::Reverse(c.id()));
    let over = conns.len() - max;
    for c in conns.into_iter().take(over) {
        if let Some(out) = c.handle.outbound() {
            out.send_now(|b| crate::proto::write::append_err(b, "maximum connections exceeded"));
        }
        c.handle
            .close(crate::handle::CloseReason::MaxConnectionsExceeded);
    }
    over
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
        assert_eq!(changed, ["debug", "max_payload"]);
    }
}
