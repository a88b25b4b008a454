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

/// The client port when none is configured (nats-server's default).
pub const DEFAULT_PORT: u16 = 4222;
/// The interface clients connect on when none is configured: all of them.
pub const DEFAULT_HOST: &str = "0.0.0.0";
/// Default `max_payload`: the largest message body a client may publish.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Default `max_control_line`: the longest protocol line accepted.
pub const MAX_CONTROL_LINE_BYTES: usize = 4096;
/// Default `max_pending`: bytes queued for one client's writer before it
/// is cut off as a slow consumer.
pub const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;
/// Default `max_connections`: client connections open at once.
pub const MAX_CONNECTIONS: usize = 64 * 1024;
/// Default `ping_interval`: how often an idle client is PINGed.
pub const PING_INTERVAL: Duration = Duration::from_secs(120);
/// Default `ping_max`: PINGs left unanswered before a client is closed.
pub const PING_MAX: u32 = 2;
/// Default `write_deadline`: how long one write to a client may block.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// Default authorization timeout: how long a client has to authenticate.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Default `lame_duck_duration`: the time over which lame duck mode closes
/// every client.
pub const LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
/// Default `lame_duck_grace_period`: the pause before lame duck mode closes
/// its first client.
pub const LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
/// The reference refuses a lame duck duration below this.
pub const LAME_DUCK_DURATION_MIN: Duration = Duration::from_secs(30);

/// Port request: a number, or `-1` for a random free port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Port {
    /// Listen on this port; 0 asks the OS for a free one too.
    Fixed(u16),
    /// Any free port (the reference's `-1`).
    Random,
}

/// The reference's `sync_interval`: tern commits durably before every ack
/// by default (`Always`); a period lets commits skip the sync and flushes
/// durably on that period instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncInterval {
    /// Sync to disk before every ack (the default).
    Always,
    /// Commit without syncing, and sync on this period: a crash can lose
    /// what was acked since the last sync.
    Every(Duration),
}

/// Where JetStream's data goes when no store dir is given, as the reference
/// does: a folder in the system's temp dir.
pub fn default_store_dir() -> PathBuf {
    std::env::temp_dir().join("tern")
}

/// The reference's default for the closed-connection ring.
pub const MAX_CLOSED_CLIENTS: usize = 10_000;

/// Everything a server runs with. `Default` holds the reference's defaults;
/// each field names the conf key or flag it comes from where it has one.
#[derive(Debug, Clone)]
pub struct Options {
    /// Interface the client port binds (`host`, `-a`).
    pub host: String,
    /// Client port (`port`, `-p`).
    pub port: Port,
    /// `server_name`, `-n`: the name in INFO, monitoring and events; none:
    /// the generated server id is used as the name.
    pub server_name: Option<String>,
    /// Largest message body a client may publish, in bytes (`max_payload`),
    /// advertised in INFO; a larger one closes the connection.
    pub max_payload: usize,
    /// Longest protocol line the parser accepts, in bytes (`max_control_line`):
    /// a PUB or SUB line with its arguments, not the payload.
    pub max_control_line: usize,
    /// Bytes a client may have waiting for its writer before it is cut off as
    /// a slow consumer (`max_pending`).
    pub max_pending: usize,
    /// Client connections open at once (`max_connections`); the next one is
    /// refused with `-ERR 'maximum connections exceeded'`.
    pub max_connections: usize,
    /// 0 = unlimited.
    pub max_subscriptions: usize,
    /// Closed connections kept for `/connz?state=closed` (0: none).
    pub max_closed_clients: usize,
    /// How often a client is sent a PING to check it is alive (`ping_interval`).
    pub ping_interval: Duration,
    /// PINGs a client may leave unanswered; one more and it is closed as a
    /// stale connection (`ping_max`).
    pub ping_max: u32,
    /// How long one write to a client may take before the client is closed as
    /// a slow consumer (`write_deadline`).
    pub write_deadline: Duration,
    /// Time a client has to send its CONNECT when authentication is required
    /// (`authorization { timeout }`).
    pub auth_timeout: Duration,
    /// Who may connect (`authorization { }`, `--user/--pass/--auth`, and
    /// the users of `accounts`).
    pub auth: crate::auth::Auth,
    /// Named accounts (`accounts { }`); clients without one are in `$G`.
    pub accounts: Vec<crate::account::AccountConfig>,
    /// Top-level `mappings` (`maps`): the global account's.
    pub mappings: Option<std::sync::Arc<crate::mapping::Mappings>>,
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
    /// `websocket { }`: NATS clients over WebSocket on a port of its own.
    pub websocket: Option<super::websocket::WebsocketOptions>,
    /// `cluster { }`, `--cluster`, `--routes`: routes to other servers.
    pub cluster: Option<super::cluster::ClusterOptions>,
    /// `leafnodes { }`: leaf node connections (as hub and as leaf).
    pub leafnodes: Option<super::leafnodes::LeafOptions>,
    /// `jetstream { domain }`: this server's JetStream domain.
    pub js_domain: Option<String>,
    /// With TLS: clients may also connect without it (INFO `tls_available`).
    pub allow_non_tls: bool,
    /// Time over which lame duck mode closes all clients, spread evenly
    /// (`lame_duck_duration`); at least `LAME_DUCK_DURATION_MIN`.
    pub lame_duck_duration: Duration,
    /// Wait after entering lame duck mode before the first client is closed
    /// (`lame_duck_grace_period`), so clients can move on by themselves.
    pub lame_duck_grace_period: Duration,
    /// `no_header_support`: INFO says `headers: false` and a CONNECT asking for
    /// headers is not granted them.
    pub no_header_support: bool,
    /// Log to this file instead of stderr (`log_file`, `-l`).
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
    /// Start each log line with the local time (`logtime`, `-T`).
    pub logtime: bool,
    /// Log debug lines (`debug`, `-D`).
    pub debug: bool,
    /// Trace the raw protocol: log each op clients send and are sent
    /// (`trace`, `-V`).
    pub trace: bool,
    /// Write the process id to this file at start-up (`pid_file`, `-P`).
    pub pid_file: Option<PathBuf>,
    /// Write the listening URLs as JSON to `<executable>_<pid>.ports` in this
    /// directory at start-up (`ports_file_dir`).
    pub ports_file_dir: Option<PathBuf>,
    /// JetStream on (`-js`, `jetstream {}` / `jetstream: enabled`).
    pub jetstream: bool,
    /// Where JetStream keeps its data; a store dir alone does not enable
    /// JetStream (harnesses pass it either way).
    pub store_dir: Option<PathBuf>,
    /// Account-wide JetStream limits in bytes; `None` = what the machine has.
    pub max_memory_store: Option<i64>,
    /// The same limit for file storage (`max_file_store`).
    pub max_file_store: Option<i64>,
    /// When stored messages are made durable.
    pub sync_interval: SyncInterval,
    /// A stream's ingest queue limits (`max_buffered_msgs`,
    /// `max_buffered_size`) and the API queue's (`request_queue_limit`);
    /// `None` = the reference's defaults.
    pub stream_max_buffered_msgs: Option<usize>,
    /// The ingest queue's byte limit (`max_buffered_size`); see above.
    pub stream_max_buffered_size: Option<usize>,
    /// The JetStream API request queue limit (`request_queue_limit`); see
    /// above.
    pub js_request_queue_limit: Option<usize>,
    /// The config file the options were read from, if any: a reload reads it
    /// again.
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
            mappings: None,
            system_account: None,
            operator: Default::default(),
            http_port: None,
            http_host: None,
            http_base_path: String::new(),
            tls: None,
            websocket: None,
            cluster: None,
            leafnodes: None,
            js_domain: None,
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
    /// The authorization a client signs in under: the server's, or for a
    /// WebSocket client the `websocket` block's own when it has one (its
    /// user or token in place of the server's, its `no_auth_user`), as
    /// the reference overrides it.
    pub fn client_auth(&self, websocket: bool) -> std::borrow::Cow<'_, crate::auth::Auth> {
        let Some(ws) = self
            .websocket
            .as_ref()
            .filter(|w| websocket && w.auth.overrides())
        else {
            return std::borrow::Cow::Borrowed(&self.auth);
        };
        let mut auth = self.auth.clone();
        // The server's token does not apply to them; the block's does.
        auth.token = ws.auth.token.clone().map(crate::auth::Secret::new);
        if let Some((user, password)) = &ws.auth.user {
            auth.users
                .push(crate::auth::User::new(user.clone(), password.clone()));
        }
        if ws.auth.no_auth_user.is_some() {
            auth.no_auth_user.clone_from(&ws.auth.no_auth_user);
        }
        std::borrow::Cow::Owned(auth)
    }

    /// How long a client has to sign in: the `websocket` block's
    /// `authorization { timeout }` for a WebSocket client when set.
    pub fn client_auth_timeout(&self, websocket: bool) -> Duration {
        self.websocket
            .as_ref()
            .filter(|_| websocket)
            .and_then(|w| w.auth.timeout)
            .unwrap_or(self.auth_timeout)
    }

    /// Options for tests and embedding: loopback, an ephemeral port.
    pub fn loopback() -> Self {
        Options {
            host: "127.0.0.1".to_string(),
            port: Port::Fixed(0),
            ..Options::default()
        }
    }
}
