//! The one `Options` value the server runs with: the reference's defaults,
//! then the config file, then command-line flags.

use std::path::PathBuf;
use std::time::Duration;

/// Client-visible version: tern matches nats-server 2.14's behaviour, and
/// clients gate features on this string.
pub const NATS_VERSION: &str = "2.14.0";
/// tern's own version, reported beside it.
pub const TERN_VERSION: &str = env!("CARGO_PKG_VERSION");
/// JetStream API level of the matched reference.
pub const API_LEVEL: u32 = 4;

pub const DEFAULT_PORT: u16 = 4222;
pub const DEFAULT_HOST: &str = "0.0.0.0";
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
pub const MAX_CONTROL_LINE_BYTES: usize = 4096;
pub const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;
pub const MAX_CONNECTIONS: usize = 64 * 1024;
pub const PING_INTERVAL: Duration = Duration::from_secs(120);
pub const PING_MAX: u32 = 2;
pub const WRITE_DEADLINE: Duration = Duration::from_secs(10);
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(2);
pub const LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
pub const LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
/// The reference refuses a lame duck duration below this.
pub const LAME_DUCK_DURATION_MIN: Duration = Duration::from_secs(30);

/// Port request: a number, or `-1` for a random free port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Port {
    Fixed(u16),
    Random,
}

/// The reference's `sync_interval`: tern commits durably before every ack
/// by default (`Always`); a period lets commits skip the sync and flushes
/// durably on that period instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncInterval {
    Always,
    Every(Duration),
}

/// Where JetStream's data goes when no store dir is given, as the reference
/// does: a folder in the system's temp dir.
pub fn default_store_dir() -> PathBuf {
    std::env::temp_dir().join("tern")
}

/// The reference's default for the closed-connection ring.
pub const MAX_CLOSED_CLIENTS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    pub port: Port,
    pub server_name: Option<String>,
    pub max_payload: usize,
    pub max_control_line: usize,
    pub max_pending: usize,
    pub max_connections: usize,
    /// 0 = unlimited.
    pub max_subscriptions: usize,
    /// Closed connections kept for `/connz?state=closed` (0: none).
    pub max_closed_clients: usize,
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub write_deadline: Duration,
    pub auth_timeout: Duration,
    /// Who may connect (`authorization { }`, `--user/--pass/--auth`, and
    /// the users of `accounts`).
    pub auth: crate::auth::Auth,
    /// Named accounts (`accounts { }`); clients without one are in `$G`.
    pub accounts: Vec<crate::account::AccountConfig>,
    /// `system_account`; none: `$SYS`.
    pub system_account: Option<String>,
    /// `operator`, `resolver`, `resolver_preload` as read.
    pub operator: super::operator::OperatorKeys,
    /// HTTP monitoring (`-m`, `http_port`, `http`); none: off.
    pub http_port: Option<Port>,
    /// Where monitoring listens; none: the client `host`.
    pub http_host: Option<String>,
    /// A prefix for every monitoring path (`http_base_path`).
    pub http_base_path: String,
    /// TLS for client connections (`tls { }`, `--tls*`).
    pub tls: Option<crate::tls::TlsConfig>,
    /// With TLS: clients may also connect without it (INFO `tls_available`).
    pub allow_non_tls: bool,
    pub lame_duck_duration: Duration,
    pub lame_duck_grace_period: Duration,
    pub no_header_support: bool,
    pub log_file: Option<PathBuf>,
    /// Rotate the log file at this many bytes (0: never).
    pub log_size_limit: u64,
    /// Log files kept, the live one included (0: all).
    pub log_max_files: usize,
    /// `log_format: json`: one JSON object per line (beyond the reference).
    pub log_json: bool,
    /// `-s`: log to the local syslog (when no log file is set).
    pub syslog: bool,
    /// `-r`: log to this syslog URL (when no log file is set).
    pub remote_syslog: Option<String>,
    /// HTTPS monitoring (`-ms`, `https_port`, `https`), with the client TLS
    /// configuration.
    pub https_port: Option<Port>,
    pub logtime: bool,
    pub debug: bool,
    pub trace: bool,
    pub pid_file: Option<PathBuf>,
    pub ports_file_dir: Option<PathBuf>,
    /// JetStream on (`-js`, `jetstream {}` / `jetstream: enabled`).
    pub jetstream: bool,
    /// Where JetStream keeps its data; a store dir alone does not enable
    /// JetStream (harnesses pass it either way).
    pub store_dir: Option<PathBuf>,
    /// Account-wide JetStream limits in bytes; `None` = what the machine has.
    pub max_memory_store: Option<i64>,
    pub max_file_store: Option<i64>,
    /// When stored messages are made durable.
    pub sync_interval: SyncInterval,
    /// A stream's ingest queue limits (`max_buffered_msgs`,
    /// `max_buffered_size`) and the API queue's (`request_queue_limit`);
    /// `None` = the reference's defaults.
    pub stream_max_buffered_msgs: Option<usize>,
    pub stream_max_buffered_size: Option<usize>,
    pub js_request_queue_limit: Option<usize>,
    pub config_file: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: DEFAULT_HOST.to_string(),
            port: Port::Fixed(DEFAULT_PORT),
            server_name: None,
            max_payload: MAX_PAYLOAD_BYTES,
            max_control_line: MAX_CONTROL_LINE_BYTES,
            max_pending: MAX_PENDING_BYTES,
            max_connections: MAX_CONNECTIONS,
            max_subscriptions: 0,
            max_closed_clients: MAX_CLOSED_CLIENTS,
            ping_interval: PING_INTERVAL,
            ping_max: PING_MAX,
            write_deadline: WRITE_DEADLINE,
            auth_timeout: AUTH_TIMEOUT,
            auth: crate::auth::Auth::default(),
            accounts: Vec::new(),
            system_account: None,
            operator: Default::default(),
            http_port: None,
            http_host: None,
            http_base_path: String::new(),
            tls: None,
            allow_non_tls: false,
            lame_duck_duration: LAME_DUCK_DURATION,
            lame_duck_grace_period: LAME_DUCK_GRACE_PERIOD,
            no_header_support: false,
            log_file: None,
            log_size_limit: 0,
            log_max_files: 0,
            log_json: false,
            syslog: false,
            remote_syslog: None,
            https_port: None,
            logtime: true,
            debug: false,
            trace: false,
            pid_file: None,
            ports_file_dir: None,
            jetstream: false,
            store_dir: None,
            max_memory_store: None,
            max_file_store: None,
            sync_interval: SyncInterval::Always,
            stream_max_buffered_msgs: None,
            stream_max_buffered_size: None,
            js_request_queue_limit: None,
            config_file: None,
        }
    }
}

impl Options {
    /// Options for tests and embedding: loopback, an ephemeral port.
    pub fn loopback() -> Self {
        Options {
            host: "127.0.0.1".to_string(),
            port: Port::Fixed(0),
            ..Options::default()
        }
    }
}
