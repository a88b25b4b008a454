//! Configuration: nats-server's command-line flags (`cli`), the NATS conf
//! file format (`conf`), and the one `Options` value built from both. Flags
//! override the file; a key tern does not know, or does not support yet, is
//! a start-up error naming it.

mod accounts;
mod auth;
pub mod cli;
pub mod cluster;
pub mod conf;
pub mod leafnodes;
mod mappings;
pub mod operator;
pub mod options;
mod tls;
pub mod websocket;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use conf::{ConfError, Key, Map, Spanned, Value};
use options::{Options, Port, SyncInterval, LAME_DUCK_DURATION_MIN};

/// A configuration that cannot be used, with the reason in the reference's
/// words where it has them.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read, or its syntax is wrong.
    Parse(ConfError),
    /// Keys of the config file whose values cannot be used: every problem
    /// found, each starting with its file, line and column.
    Invalid(Vec<String>),
    /// A command-line flag, or the options taken together, cannot be used.
    Options(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Parse(e) => write!(f, "{e}"),
            ConfigError::Invalid(problems) => f.write_str(&problems.join("\n")),
            ConfigError::Options(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Parse(e) => Some(e),
            _ => None,
        }
    }
}

/// Reads the configuration again (the command line and the config file,
/// as at start-up), for a reload.
pub type Loader = Box<dyn Fn() -> Result<Options, ConfigError> + Send + Sync>;

impl From<ConfError> for ConfigError {
    fn from(e: ConfError) -> Self {
        ConfigError::Parse(e)
    }
}

/// Top-level keys that belong to features still to come: recognised, so the
/// error says "not supported yet" rather than "unknown".
const LATER_KEYS: &[&str] = &[
    "no_system_account",
    "gateway",
    "mqtt",
    "trusted",
    "trusted_keys",
    "client_advertise",
    "server_tags",
    "default_js_domain",
];

/// Builds the options from an optional config file, then the flags.
pub fn build_options(flags: &cli::Flags) -> Result<Options, ConfigError> {
    let mut opts = Options::default();
    if let Some(path) = &flags.config {
        apply_file(&mut opts, path)?;
        opts.config_file = Some(path.clone());
    }
    apply_flags(&mut opts, flags)?;
    validate(&opts)?;
    Ok(opts)
}

fn apply_flags(opts: &mut Options, f: &cli::Flags) -> Result<(), ConfigError> {
    if let Some(name) = f.later.first_unsupported() {
        return Err(ConfigError::Options(format!(
            "flag {name} is not supported by tern yet"
        )));
    }
    if let Some(addr) = &f.addr {
        opts.host.clone_from(addr);
    }
    apply_cluster_flags(opts, &f.later).map_err(ConfigError::Options)?;
    if let Some(port) = f.port {
        opts.port = port_from(i64::from(port))?;
    }
    if let Some(name) = &f.name {
        opts.server_name = Some(name.clone());
    }
    if let Some(pid) = &f.pid {
        opts.pid_file = Some(pid.clone());
    }
    if let Some(dir) = &f.ports_file_dir {
        opts.ports_file_dir = Some(dir.clone());
    }
    if let Some(log) = &f.log {
        opts.log_file = Some(log.clone());
    }
    if let Some(t) = f.logtime {
        opts.logtime = t;
    }
    if let Some(limit) = &f.log_size_limit {
        opts.log_size_limit = parse_byte_size(limit)
            .ok_or_else(|| ConfigError::Options(format!("invalid log size limit {limit:?}")))?;
    }
    if let Some(d) = f.debug {
        opts.debug = d;
    }
    if let Some(t) = f.trace {
        opts.trace = t;
    }
    if f.verbose_trace {
        opts.trace = true;
    }
    if f.debug_trace || f.debug_verbose_trace {
        opts.debug = true;
        opts.trace = true;
    }
    if let Some(dir) = &f.store_dir {
        opts.store_dir = Some(dir.clone());
    }
    if let Some(js) = f.jetstream {
        opts.jetstream = js;
    }
    // As the reference: --user/--pass replace the configured users with
    // that one, --auth sets the token.
    if let Some(user) = &f.user {
        opts.auth.users = vec![crate::auth::User::new(
            user.clone(),
            f.pass.clone().unwrap_or_default(),
        )];
    }
    if let Some(token) = &f.auth {
        opts.auth.token = Some(crate::auth::Secret::new(token.clone()));
    }
    if let Some(port) = f.http_port {
        opts.http_port = Some(port_from(port)?);
    }
    if let Some(port) = f.https_port {
        opts.https_port = Some(port_from(port)?);
    }
    if let Some(on) = f.syslog {
        opts.syslog = on;
    }
    if let Some(url) = &f.remote_syslog {
        opts.remote_syslog = Some(url.clone());
    }
    tls::apply_flags(
        opts,
        f.tls,
        f.tlscert.as_deref(),
        f.tlskey.as_deref(),
        f.tlscacert.as_deref(),
        f.tlsverify,
    )
    .map_err(ConfigError::Options)?;
    Ok(())
}

fn port_from(n: i64) -> Result<Port, ConfigError> {
    match n {
        -1 => Ok(Port::Random),
        0..=65535 => Ok(Port::Fixed(n as u16)),
        _ => Err(ConfigError::Options(format!("invalid port: {n}"))),
    }
}

/// `--cluster`, `--cluster_listen`, `--cluster_name`, `--routes`,
/// `--no_advertise`, `--cluster_advertise`, `--connect_retries`: over the
/// config file's `cluster` block, as in the reference.
fn apply_cluster_flags(opts: &mut Options, f: &cli::LaterFlags) -> Result<(), String> {
    let any = f.cluster.is_some()
        || f.cluster_listen.is_some()
        || f.cluster_name.is_some()
        || f.routes.is_some()
        || f.no_advertise.is_some()
        || f.cluster_advertise.is_some()
        || f.connect_retries.is_some();
    if !any {
        return Ok(());
    }
    let c = opts.cluster.get_or_insert_with(Default::default);
    if let Some(url) = f.cluster.as_ref().or(f.cluster_listen.as_ref()) {
        let (host, port) = cluster::listen_url(url)?;
        c.host = host;
        c.port = port;
        if let Some((cred, _)) = url
            .split_once("://")
            .map_or(url.as_str(), |(_, r)| r)
            .rsplit_once('@')
        {
            let (u, p) = cred.split_once(':').unwrap_or((cred, ""));
            c.user = Some((u.to_string(), p.to_string()));
        }
    }
    if let Some(name) = &f.cluster_name {
        c.name = Some(name.clone());
    }
    if let Some(routes) = &f.routes {
        c.routes = routes
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(cluster::RouteUrl::parse)
            .collect::<Result<_, _>>()?;
    }
    if let Some(v) = &f.no_advertise {
        c.no_advertise = matches!(v.as_str(), "true" | "1" | "yes" | "on");
    }
    if let Some(a) = &f.cluster_advertise {
        c.advertise = Some(a.clone());
    }
    if let Some(n) = &f.connect_retries {
        c.connect_retries = n
            .parse()
            .map_err(|_| format!("invalid connect_retries {n:?}"))?;
    }
    Ok(())
}

fn validate(opts: &Options) -> Result<(), ConfigError> {
    auth::check_no_auth_user(opts).map_err(ConfigError::Options)?;
    auth::check_websocket_auth(opts).map_err(ConfigError::Options)?;
    accounts::check_accounts(opts).map_err(ConfigError::Options)?;
    if opts.max_payload > opts.max_pending {
        return Err(ConfigError::Options(format!(
            "max_payload ({}) cannot be higher than max_pending ({})",
            opts.max_payload, opts.max_pending
        )));
    }
    if opts.lame_duck_duration < LAME_DUCK_DURATION_MIN {
        return Err(ConfigError::Options(format!(
            "invalid lame_duck_duration of {:?}, minimum is {:?}",
            opts.lame_duck_duration, LAME_DUCK_DURATION_MIN
        )));
    }
    Ok(())
}

/// Reads a conf file into `opts`; every problem found is reported, each
/// with its file, line and column.
pub fn apply_file(opts: &mut Options, path: &Path) -> Result<(), ConfigError> {
    let map = conf::parse_file(path)?;
    apply_map(opts, &map)
}

/// Applies conf text (tests and embedding).
pub fn apply_str(opts: &mut Options, text: &str, name: &str) -> Result<(), ConfigError> {
    let map = conf::parse_str(text, name)?;
    apply_map(opts, &map)
}

fn apply_map(opts: &mut Options, map: &Map) -> Result<(), ConfigError> {
    let mut errors = Vec::new();
    for (key, value) in map.iter() {
        if key.used_as_variable {
            continue;
        }
        if let Err(msg) = apply_key(opts, key, value) {
            // Errors inside a block already name their own place.
            let pos = key.pos.to_string();
            let file = pos.rsplitn(3, ':').last().unwrap_or_default();
            if !file.is_empty() && msg.starts_with(&format!("{file}:")) {
                errors.push(msg);
            } else {
                errors.push(format!("{pos}: {msg}"));
            }
        }
    }
    operator::assemble(opts);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(errors))
    }
}

fn apply_key(opts: &mut Options, key: &Key, v: &Spanned) -> Result<(), String> {
    let name = key.name.to_ascii_lowercase();
    match name.as_str() {
        "port" => opts.port = port_from(int(v)?).map_err(|e| e.to_string())?,
        "host" | "net" => opts.host = string(v)?,
        "listen" => apply_listen(opts, v)?,
        "server_name" => opts.server_name = Some(string(v)?),
        "max_payload" => opts.max_payload = size(v)?,
        "max_control_line" => opts.max_control_line = size(v)?,
        "max_pending" => opts.max_pending = size(v)?,
        "max_connections" | "max_conn" => opts.max_connections = size(v)?,
        "max_subscriptions" | "max_subs" => opts.max_subscriptions = size(v)?,
        "max_closed_clients" => opts.max_closed_clients = size(v)?,
        "ping_interval" => opts.ping_interval = duration(v)?,
        "ping_max" => {
            opts.ping_max = u32::try_from(int(v)?).map_err(|_| "ping_max out of range")?
        }
        "write_deadline" => opts.write_deadline = duration(v)?,
        "lame_duck_duration" => opts.lame_duck_duration = duration(v)?,
        "lame_duck_grace_period" => opts.lame_duck_grace_period = duration(v)?,
        "no_header_support" => opts.no_header_support = boolean(v)?,
        "logfile" | "log_file" => opts.log_file = Some(PathBuf::from(string(v)?)),
        "logtime" => opts.logtime = boolean(v)?,
        "syslog" => opts.syslog = boolean(v)?,
        "remote_syslog" => opts.remote_syslog = Some(string(v)?),
        "https_port" => opts.https_port = Some(port_from(int(v)?).map_err(|e| e.to_string())?),
        "https" => {
            // As `http`, for the TLS monitoring port.
            let plain = opts.http_port.take();
            apply_http(opts, v)?;
            opts.https_port = std::mem::replace(&mut opts.http_port, plain);
        }
        "logfile_size_limit" | "log_size_limit" => {
            opts.log_size_limit =
                u64::try_from(int(v)?).map_err(|_| "log size limit out of range")?
        }
        "logfile_max_num" | "log_max_num" => opts.log_max_files = size(v)?,
        "log_format" => {
            opts.log_json = match string(v)?.to_ascii_lowercase().as_str() {
                "json" => true,
                "text" | "" => false,
                other => return Err(format!("unknown log_format {other:?} (json or text)")),
            }
        }
        "debug" => opts.debug = boolean(v)?,
        "trace" => opts.trace = boolean(v)?,
        "pidfile" | "pid_file" => opts.pid_file = Some(PathBuf::from(string(v)?)),
        "ports_file_dir" => opts.ports_file_dir = Some(PathBuf::from(string(v)?)),
        "jetstream" => apply_jetstream(opts, v)?,
        "authorization" => auth::apply_authorization(opts, v)?,
        "no_auth_user" => opts.auth.no_auth_user = Some(string(v)?),
        "accounts" => accounts::apply_accounts(opts, v)?,
        "mappings" | "maps" => opts.mappings = Some(std::sync::Arc::new(mappings::mappings(v)?)),
        "system_account" | "system" => opts.system_account = Some(string(v)?),
        "tls" => tls::apply_tls(opts, v)?,
        "websocket" | "ws" => opts.websocket = Some(websocket::websocket(v)?),
        "cluster" => opts.cluster = Some(cluster::cluster(v)?),
        "leafnodes" | "leaf" => opts.leafnodes = Some(leafnodes::leafnodes(v)?),
        "http_port" | "monitor_port" => {
            opts.http_port = Some(port_from(int(v)?).map_err(|e| e.to_string())?)
        }
        "http" => apply_http(opts, v)?,
        "http_base_path" => opts.http_base_path = string(v)?,
        "operator" | "operators" | "roots" | "root" | "root_operators" | "root_operator" => {
            operator::apply_operator(opts, v)?
        }
        "resolver" | "account_resolver" | "accounts_resolver" => operator::apply_resolver(opts, v)?,
        "resolver_preload" => operator::apply_preload(opts, v)?,
        "allow_non_tls" => opts.allow_non_tls = boolean(v)?,
        _ if LATER_KEYS.contains(&name.as_str()) => {
            return Err(format!("\"{}\" is not supported by tern yet", key.name));
        }
        _ => return Err(format!("unknown field \"{}\"", key.name)),
    }
    Ok(())
}

/// `jetstream: enabled|disabled|true|false` or a `jetstream { }` block.
fn apply_jetstream(opts: &mut Options, v: &Spanned) -> Result<(), String> {
    let block = match &v.value {
        Value::Bool(b) => {
            opts.jetstream = *b;
            return Ok(());
        }
        Value::Str(s) => {
            opts.jetstream = match s.to_ascii_lowercase().as_str() {
                "enabled" | "enable" => true,
                "disabled" | "disable" => false,
                _ => return Err(format!("invalid jetstream value {s:?}")),
            };
            return Ok(());
        }
        Value::Map(m) => m,
        _ => return Err(type_error(v, "a jetstream block or enabled/disabled")),
    };
    opts.jetstream = true;
    let mut errors = Vec::new();
    for (key, value) in block.iter() {
        if key.used_as_variable {
            continue;
        }
        if let Err(msg) = apply_jetstream_key(opts, key, value) {
            errors.push(format!("{}: {msg}", key.pos));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

fn apply_jetstream_key(opts: &mut Options, key: &Key, v: &Spanned) -> Result<(), String> {
    match key.name.to_ascii_lowercase().as_str() {
        "store_dir" | "store" => opts.store_dir = Some(PathBuf::from(string(v)?)),
        "max_memory_store" | "max_mem_store" | "max_mem" => opts.max_memory_store = Some(int(v)?),
        "max_file_store" | "max_file" => opts.max_file_store = Some(int(v)?),
        "enabled" | "enable" => opts.jetstream = boolean(v)?,
        // tern always runs strict (unknown API fields rejected), as the
        // reference does by default.
        "strict" => {
            boolean(v)?;
        }
        "sync_interval" | "sync" => {
            opts.sync_interval = match &v.value {
                Value::Str(s) if s.eq_ignore_ascii_case("always") => SyncInterval::Always,
                _ => SyncInterval::Every(duration(v)?),
            }
        }
        // Zero or less: the default, as the reference reads them.
        "max_buffered_msgs" => opts.stream_max_buffered_msgs = positive(int(v)?),
        "max_buffered_size" => opts.stream_max_buffered_size = positive(int(v)?),
        "request_queue_limit" => opts.js_request_queue_limit = positive(int(v)?),
        "domain" => opts.js_domain = Some(string(v)?),
        "unique_tag" | "max_outstanding_catchup" | "limits" | "encryption" | "key" | "cipher" => {
            return Err(format!(
                "\"jetstream.{}\" is not supported by tern yet",
                key.name
            ));
        }
        _ => return Err(format!("unknown field \"{}\"", key.name)),
    }
    Ok(())
}

fn positive(n: i64) -> Option<usize> {
    usize::try_from(n).ok().filter(|&n| n > 0)
}

/// `listen: host:port`, `listen: :port` or `listen: port`.
/// `http: "host:port"` or a bare port: where monitoring listens.
fn apply_http(opts: &mut Options, v: &Spanned) -> Result<(), String> {
    match &v.value {
        Value::Int(n) => opts.http_port = Some(port_from(*n).map_err(|e| e.to_string())?),
        Value::Str(s) => {
            let (host, port) = s
                .rsplit_once(':')
                .ok_or_else(|| format!("invalid http address {s:?}"))?;
            let port: i64 = port
                .parse()
                .map_err(|_| format!("invalid http port {port:?}"))?;
            if !host.is_empty() {
                opts.http_host = Some(host.to_string());
            }
            opts.http_port = Some(port_from(port).map_err(|e| e.to_string())?);
        }
        _ => return Err(type_error(v, "host:port or a port")),
    }
    Ok(())
}

fn apply_listen(opts: &mut Options, v: &Spanned) -> Result<(), String> {
    if let Value::Int(p) = v.value {
        opts.port = port_from(p).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let s = string(v)?;
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("could not parse address string {s:?}"))?;
    let port: i64 = port
        .parse()
        .map_err(|_| format!("could not parse port {port:?}"))?;
    opts.port = port_from(port).map_err(|e| e.to_string())?;
    if !host.is_empty() {
        opts.host = host.trim_matches(|c| c == '[' || c == ']').to_string();
    }
    Ok(())
}

fn type_error(v: &Spanned, want: &str) -> String {
    format!("expected {want}, got {} ({})", v.value.kind(), v.pos)
}

fn int(v: &Spanned) -> Result<i64, String> {
    v.value.as_int().ok_or_else(|| type_error(v, "an integer"))
}

/// `1048576`, `10MB`, `1GiB` and the like, as sizes are written on the
/// command line.
fn parse_byte_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..digits].parse().ok()?;
    let unit: u64 = match t[digits..].trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(unit)
}

fn size(v: &Spanned) -> Result<usize, String> {
    let n = int(v)?;
    usize::try_from(n).map_err(|_| format!("{n} is out of range"))
}

fn string(v: &Spanned) -> Result<String, String> {
    v.value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| type_error(v, "a string"))
}

fn boolean(v: &Spanned) -> Result<bool, String> {
    v.value.as_bool().ok_or_else(|| type_error(v, "a boolean"))
}

/// A duration string (`"2m"`, `1m30s`) or a whole number of seconds, as the
/// reference accepts both.
fn duration(v: &Spanned) -> Result<Duration, String> {
    match &v.value {
        Value::Int(n) if *n >= 0 => Ok(Duration::from_secs(*n as u64)),
        Value::Str(s) => conf::parse_duration(s).ok_or_else(|| format!("invalid duration {s:?}")),
        _ => Err(type_error(v, "a duration")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options from conf text named `t.conf`, validated: the config
    /// tests' loader (the block modules' tests use it too).
    pub(super) fn load(text: &str) -> Result<Options, ConfigError> {
        let mut o = Options::default();
        apply_str(&mut o, text, "t.conf")?;
        validate(&o)?;
        Ok(o)
    }

    #[test]
    fn keys_apply() {
        let o = load(
            "port: 4333\nhost = 127.0.0.1\nmax_payload: 128KB\nping_interval: \"1s\"\nping_max 3\nwrite_deadline: 5\nserver_name: srv\nmax_connections: 10\nlame_duck_duration: 30s\n",
        )
        .unwrap();
        assert_eq!(o.port, Port::Fixed(4333));
        assert_eq!(o.host, "127.0.0.1");
        assert_eq!(o.max_payload, 128 * 1024);
        assert_eq!(o.ping_interval, Duration::from_secs(1));
        assert_eq!(o.ping_max, 3);
        assert_eq!(o.write_deadline, Duration::from_secs(5));
        assert_eq!(o.server_name.as_deref(), Some("srv"));
        assert_eq!(o.max_connections, 10);
    }

    #[test]
    fn listen_forms() {
        assert_eq!(load("listen: localhost:4222").unwrap().host, "localhost");
        assert_eq!(load("listen: :4999").unwrap().port, Port::Fixed(4999));
        assert_eq!(load("listen: 5000").unwrap().port, Port::Fixed(5000));
    }

    #[test]
    fn unknown_and_later_keys_name_the_key_and_place() {
        let e = load("port: 1\nfoo_bar: 1\n").unwrap_err().to_string();
        assert!(
            e.contains("t.conf:2:1") && e.contains("unknown field \"foo_bar\""),
            "{e}"
        );
        let e = load("gateway {\n port: 1\n}\n").unwrap_err().to_string();
        assert!(
            e.contains("\"gateway\" is not supported by tern yet"),
            "{e}"
        );
    }

    #[test]
    fn jetstream_forms() {
        let mut o = Options::default();
        apply_str(&mut o, "jetstream {\n store_dir: /tmp/js\n max_mem_store: 64MiB\n max_file_store: 10GiB\n strict: true\n sync_interval: always\n}\n", "t.conf").unwrap();
        assert!(o.jetstream);
        assert_eq!(o.store_dir, Some(PathBuf::from("/tmp/js")));
        assert_eq!(o.max_memory_store, Some(64 << 20));
        assert_eq!(o.max_file_store, Some(10 << 30));
        assert_eq!(o.sync_interval, SyncInterval::Always);
        let parse = |text: &str| {
            let mut o = Options::default();
            apply_str(&mut o, text, "t.conf").map(|()| o)
        };
        assert!(parse("jetstream: enabled").unwrap().jetstream);
        assert!(!parse("jetstream: disabled").unwrap().jetstream);
        assert!(parse("jetstream: true").unwrap().jetstream);
        let o = parse("jetstream { max_buffered_msgs: 10\n max_buffered_size: 1MB\n request_queue_limit: 50 }").unwrap();
        assert_eq!(o.stream_max_buffered_msgs, Some(10));
        assert_eq!(o.stream_max_buffered_size, Some(1 << 20));
        assert_eq!(o.js_request_queue_limit, Some(50));
        let o = parse("jetstream { sync_interval: \"2m\" }").unwrap();
        assert_eq!(
            o.sync_interval,
            SyncInterval::Every(Duration::from_secs(120))
        );
        let e = parse("jetstream {\n bogus: 1\n}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field \"bogus\""), "{e}");
    }

    #[test]
    fn variables_are_not_keys() {
        let o = load("PORT = 4555\nport: $PORT\n").unwrap();
        assert_eq!(o.port, Port::Fixed(4555));
    }

    #[test]
    fn validation_errors() {
        let e = load("max_pending: 1024").unwrap_err().to_string();
        assert_eq!(
            e,
            "max_payload (1048576) cannot be higher than max_pending (1024)"
        );
        assert!(load("lame_duck_duration: \"5s\"").is_err());
        assert!(load("port = \"abc\"").is_err());
    }

    #[test]
    fn flags_override_file() {
        let dir = std::env::temp_dir().join(format!("tern-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.conf");
        std::fs::write(&path, "port: 4333\nlisten: 127.0.0.2:4334\n").unwrap();
        let flags =
            cli::parse(["-c", path.to_str().unwrap(), "-p", "4555"].map(String::from)).unwrap();
        let o = build_options(&flags).unwrap();
        assert_eq!(o.port, Port::Fixed(4555));
        assert_eq!(o.host, "127.0.0.2");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
