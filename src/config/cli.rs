//! nats-server's command line. Go's flag package accepts `-name` and
//! `--name`, `-name=value` and `-name value`, and multi-letter single-dash
//! names (`-js`, `-sd`, `-DV`); every argument is rewritten to clap's
//! `--long` form first, so both spellings parse the same.

use std::path::PathBuf;

use clap::Parser;

/// Single-dash names and the long flag each one means.
const ALIASES: &[(&str, &str)] = &[
    ("a", "addr"),
    ("net", "addr"),
    ("p", "port"),
    ("n", "name"),
    ("server_name", "name"),
    ("P", "pid"),
    ("m", "http_port"),
    ("ms", "https_port"),
    ("c", "config"),
    ("t", "test_config"),
    ("sl", "signal"),
    ("l", "log"),
    ("T", "logtime"),
    ("s", "syslog"),
    ("r", "remote_syslog"),
    ("D", "debug"),
    ("V", "trace"),
    ("js", "jetstream"),
    ("sd", "store_dir"),
    ("h", "help"),
    ("v", "version"),
];

/// The command line as given, before the config file is read: each field
/// is one nats-server flag, `None` (or false) when it was not given.
#[derive(Debug, Default, Parser)]
#[command(
    name = "tern",
    disable_help_flag = true,
    disable_version_flag = true,
    no_binary_name = true,
    rename_all = "snake_case"
)]
pub struct Flags {
    /// `-a`, `--addr`, `--net`: the interface the client port binds.
    #[arg(long)]
    pub addr: Option<String>,
    /// `-p`, `--port`: the client port; `-1` for any free port.
    #[arg(long, allow_negative_numbers = true)]
    pub port: Option<i32>,
    /// `-n`, `--name`, `--server_name`: the server's name.
    #[arg(long)]
    pub name: Option<String>,
    /// `-P`, `--pid`: file to write the process id to.
    #[arg(long)]
    pub pid: Option<PathBuf>,
    /// `-c`, `--config`: the conf file to read before applying the flags.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// `-t`: check the configuration, print whether it is valid, and exit.
    #[arg(long = "test_config")]
    pub test_config: bool,
    /// `--signal <signal>[=<pid>]`: send a signal (ldm, stop, quit, term,
    /// reopen, reload) to a running server instead of starting one.
    #[arg(long)]
    pub signal: Option<String>,
    /// `--client_advertise`: accepted for compatibility; tern has no cluster
    /// to advertise a client URL to, and ignores it.
    #[arg(long)]
    pub client_advertise: Option<String>,
    /// `--ports_file_dir`: write the listening URLs to a ports file there.
    #[arg(long)]
    pub ports_file_dir: Option<PathBuf>,
    /// `-l`, `--log`: log to this file instead of stderr.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// `-T`, `--logtime`: timestamp log lines (on unless `-T=false`).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub logtime: Option<bool>,
    /// `-D`, `--debug`: log debug lines.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub debug: Option<bool>,
    /// `-V`, `--trace`: trace the raw protocol.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub trace: Option<bool>,
    /// `-VV`: verbose trace; tern traces the same as with `-V`.
    #[arg(long = "VV")]
    pub verbose_trace: bool,
    /// `-DV`: debug and trace.
    #[arg(long = "DV")]
    pub debug_trace: bool,
    /// `-DVV`: debug and verbose trace; the same as `-DV` here.
    #[arg(long = "DVV")]
    pub debug_verbose_trace: bool,
    /// `--log_size_limit`: rotate the log file at this size (`10MB`, or bytes).
    #[arg(long)]
    pub log_size_limit: Option<String>,
    /// `--max_traced_msg_len`: accepted for compatibility; traces are not
    /// shortened.
    #[arg(long)]
    pub max_traced_msg_len: Option<usize>,
    /// `-sd`, `--store_dir`: where JetStream keeps its data.
    #[arg(long)]
    pub store_dir: Option<PathBuf>,
    /// `-js`, `--jetstream`: enable JetStream.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub jetstream: Option<bool>,
    /// `-h`, `--help`: print the usage text and exit.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub help: Option<bool>,
    /// `-v`, `--version`: print the version and exit.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub version: Option<bool>,
    /// `--help_tls`: print the usage text and exit (tern has no separate TLS
    /// help).
    #[arg(long)]
    pub help_tls: bool,

    /// HTTP monitoring port (`-1`: any free port).
    #[arg(long, allow_hyphen_values = true)]
    pub http_port: Option<i64>,
    /// HTTPS monitoring port, with the client TLS certificate.
    #[arg(long, allow_hyphen_values = true)]
    pub https_port: Option<i64>,
    /// Log to the local syslog.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub syslog: Option<bool>,
    /// Log to a remote syslog (`udp://host:port`, `tcp://`, `unix://`).
    #[arg(long)]
    pub remote_syslog: Option<String>,

    /// Enable TLS (any TLS flag does).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls: Option<bool>,
    /// Server certificate file.
    #[arg(long)]
    pub tlscert: Option<String>,
    /// Private key for the server certificate.
    #[arg(long)]
    pub tlskey: Option<String>,
    /// Enable TLS and require verified client certificates.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tlsverify: Option<bool>,
    /// Client certificate CA for verification.
    #[arg(long)]
    pub tlscacert: Option<String>,

    /// User required for connections (with `--pass`).
    #[arg(long)]
    pub user: Option<String>,
    /// Password required for connections (with `--user`).
    #[arg(long)]
    pub pass: Option<String>,
    /// Authorization token required for connections.
    #[arg(long)]
    pub auth: Option<String>,

    /// Flags whose features come with later work: accepted by the parser so
    /// the start-up error can name them.
    #[command(flatten)]
    pub later: LaterFlags,
}

/// Clustering flags, and the profiling flag tern does not support yet
/// (it holds the value given, so the start-up error can name the flag).
#[derive(Debug, Default, clap::Args)]
#[command(rename_all = "snake_case")]
pub struct LaterFlags {
    /// `--routes`: routes to other cluster members.
    #[arg(long)]
    pub routes: Option<String>,
    /// `--cluster`: the cluster listen URL.
    #[arg(long)]
    pub cluster: Option<String>,
    /// `--cluster_name`: the cluster's name.
    #[arg(long)]
    pub cluster_name: Option<String>,
    /// `--no_advertise`: do not advertise known cluster URLs to clients.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub no_advertise: Option<String>,
    /// `--cluster_advertise`: the cluster URL to advertise to other servers.
    #[arg(long)]
    pub cluster_advertise: Option<String>,
    /// `--connect_retries`: attempts to connect to an implicit route.
    #[arg(long)]
    pub connect_retries: Option<String>,
    /// `--cluster_listen`: the cluster listen URL (as `--cluster`).
    #[arg(long)]
    pub cluster_listen: Option<String>,
    /// `--profile`: the port of the profiling HTTP server.
    #[arg(long)]
    pub profile: Option<String>,
}

impl LaterFlags {
    /// The first flag given whose feature tern does not have yet.
    pub fn first_unsupported(&self) -> Option<&'static str> {
        let given: &[(bool, &'static str)] = &[(self.profile.is_some(), "--profile")];
        given.iter().find(|(set, _)| *set).map(|(_, name)| *name)
    }
}

/// Rewrites Go-style arguments to `--long` form.
pub fn normalize<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest_are_values = false;
    for arg in args {
        if rest_are_values || !arg.starts_with('-') || arg == "-" || is_negative_number(&arg) {
            out.push(arg);
            continue;
        }
        if arg == "--" {
            rest_are_values = true;
            out.push(arg);
            continue;
        }
        let body = arg.trim_start_matches('-');
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let long = ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map_or(name, |(_, long)| long);
        out.push(match value {
            Some(v) => format!("--{long}={v}"),
            None => format!("--{long}"),
        });
    }
    out
}

fn is_negative_number(arg: &str) -> bool {
    arg.len() > 1 && arg[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Flags, clap::Error> {
    Flags::try_parse_from(normalize(args))
}

/// The usage text, in the reference's layout, for tern.
pub const USAGE: &str = include_str!("usage.txt");

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Flags {
        parse(args.iter().map(|s| s.to_string())).unwrap()
    }

    #[test]
    fn go_style_spellings() {
        let f = p(&[
            "-p",
            "-1",
            "-a",
            "127.0.0.1",
            "-n",
            "x",
            "-DV",
            "-T=false",
            "-sd",
            "/tmp/s",
        ]);
        assert_eq!(f.port, Some(-1));
        assert_eq!(f.addr.as_deref(), Some("127.0.0.1"));
        assert_eq!(f.name.as_deref(), Some("x"));
        assert!(f.debug_trace);
        assert_eq!(f.logtime, Some(false));
        assert_eq!(f.store_dir, Some(PathBuf::from("/tmp/s")));
        let f = p(&[
            "--port=4333",
            "-net",
            "localhost",
            "--server_name",
            "y",
            "-js",
            "--ports_file_dir",
            "/tmp",
        ]);
        assert_eq!(f.port, Some(4333));
        assert_eq!(f.addr.as_deref(), Some("localhost"));
        assert_eq!(f.name.as_deref(), Some("y"));
        assert_eq!(f.jetstream, Some(true));
        assert_eq!(f.later.first_unsupported(), None);
        let f = p(&[
            "-sl", "ldm=123", "-D", "-V", "-c", "a.conf", "-P", "p.pid", "-l", "x.log",
        ]);
        assert_eq!(f.signal.as_deref(), Some("ldm=123"));
        assert_eq!((f.debug, f.trace), (Some(true), Some(true)));
    }

    #[test]
    fn unknown_flag_is_an_error() {
        assert!(parse(["--no_such_flag".to_string()]).is_err());
    }
}
