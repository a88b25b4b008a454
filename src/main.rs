//! `tern`: flags and config file -> `Options` -> run the server until a
//! signal stops it.

use std::process::ExitCode;

use tern::config::{self, cli, options::NATS_VERSION, options::TERN_VERSION};
use tern::process;
use tern::Options;
use tracing::{error, info};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let flags = match cli::parse(std::env::args().skip(1)) {
        Ok(f) => f,
        Err(e) => {
            // Go's flag package prints the complaint and the usage, and the
            // reference then exits 0.
            match e.get(clap::error::ContextKind::InvalidArg) {
                Some(arg) if e.kind() == clap::error::ErrorKind::UnknownArgument => {
                    let name = arg.to_string();
                    let name = name
                        .split('=')
                        .next()
                        .unwrap_or_default()
                        .trim_start_matches('-');
                    eprintln!("flag provided but not defined: -{name}");
                }
                _ => eprintln!("{}", e.to_string().lines().next().unwrap_or_default()),
            }
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
    };
    if flags.help == Some(true) || flags.help_tls {
        print!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    if flags.version == Some(true) {
        println!("tern: v{TERN_VERSION} (nats-server: v{NATS_VERSION})");
        return ExitCode::SUCCESS;
    }
    if let Some(sig) = &flags.signal {
        return match process::parse_signal(sig).and_then(|c| process::send_signal(&c)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e.to_string()),
        };
    }
    let opts = match config::build_options(&flags) {
        Ok(o) => o,
        Err(e) => return fail(&e.to_string()),
    };
    if flags.test_config {
        let file = opts
            .config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        println!("tern: configuration file {file} is valid");
        return ExitCode::SUCCESS;
    }
    let settings = tern::log::LogSettings {
        file: opts.log_file.as_deref(),
        logtime: opts.logtime,
        debug: opts.debug,
        trace: opts.trace,
        size_limit: opts.log_size_limit,
        max_files: opts.log_max_files,
        json: opts.log_json,
        syslog: opts.syslog,
        remote_syslog: opts.remote_syslog.as_deref(),
    };
    if let Err(e) = tern::log::init(&settings) {
        // The reference's words for a syslog it cannot reach, or the file.
        if opts.log_file.is_none() && (opts.syslog || opts.remote_syslog.is_some()) {
            return fail(&e.to_string());
        }
        return fail(&format!("could not open log file: {e}"));
    }
    tern::log::log_panics();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("could not start the runtime: {e}")),
    };
    runtime.block_on(run(opts, flags))
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("tern: {msg}");
    ExitCode::FAILURE
}

async fn run(opts: Options, flags: cli::Flags) -> ExitCode {
    info!("Starting tern, a nats-server drop-in");
    info!("  Version:  {NATS_VERSION}");
    info!("  Tern:     {TERN_VERSION}");
    let pid_file = opts.pid_file.clone();
    let ports_dir = opts.ports_file_dir.clone();
    if let Some(cfg) = &opts.config_file {
        let digest = tern::reload::config_digest(cfg)
            .map(|d| format!(" (sha256:{d})"))
            .unwrap_or_default();
        info!("Using configuration file: {}{digest}", cfg.display());
    }
    // Handlers go in before the server starts: a signal that arrives once
    // "Server is ready" is logged must find them, not the default action.
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            error!(target: tern::log::FATAL_TARGET, "could not install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = process::raise_open_files_limit() {
        tracing::warn!("could not raise the open files limit: {e}");
    }
    let (host, port) = (opts.host.clone(), opts.port);
    let running = match tern::start(opts).await {
        Ok(r) => r,
        Err(tern::lifecycle::StartError::Listen(e)) => {
            let port = match port {
                tern::config::options::Port::Fixed(p) => p.to_string(),
                // Random, as the reference prints it.
                _ => "0".to_string(),
            };
            error!(target: tern::log::FATAL_TARGET, "Error listening on port: {host}:{port}, \"{e}\"");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            error!(target: tern::log::FATAL_TARGET, "{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &pid_file {
        if let Err(e) = process::write_pid_file(path) {
            error!("Could not write pidfile: {e}");
            return ExitCode::FAILURE;
        }
    }
    let ports_file = match &ports_dir {
        Some(dir) => {
            match process::write_ports_file(dir, running.addr(), running.server().monitor_addr()) {
                Ok(p) => Some(p),
                Err(e) => {
                    error!("Error writing ports file ({}): {e}", dir.display());
                    None
                }
            }
        }
        None => None,
    };
    // A reload reads the command line and the config file again; without
    // a file there is nothing to reload (the reference's refusal).
    if flags.config.is_some() {
        running
            .server()
            .set_config_loader(Box::new(move || config::build_options(&flags)));
    }
    info!("Server is ready");
    let stop = signals.wait(running.server()).await;
    match stop {
        Stop::Shutdown(name) => {
            info!("Trapped \"{name}\" signal");
            running.shutdown().await;
        }
        Stop::LameDuck => {
            info!("Trapped \"user defined signal 2\" signal");
            running.lame_duck().await;
        }
    }
    if let Some(p) = ports_file {
        let _ = std::fs::remove_file(p);
    }
    ExitCode::SUCCESS
}

enum Stop {
    Shutdown(&'static str),
    LameDuck,
}

/// The signals the server answers, registered up front.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            usr2: signal(SignalKind::user_defined2())?,
            hup: signal(SignalKind::hangup())?,
            usr1: signal(SignalKind::user_defined1())?,
        })
    }

    /// Waits for a signal that stops the server, answering the others
    /// (SIGHUP reloads the configuration, SIGUSR1 reopens the log file).
    async fn wait(&mut self, server: &std::sync::Arc<tern::Server>) -> Stop {
        loop {
            tokio::select! {
                _ = self.int.recv() => return Stop::Shutdown("interrupt"),
                _ = self.term.recv() => return Stop::Shutdown("terminated"),
                _ = self.usr2.recv() => return Stop::LameDuck,
                _ = self.hup.recv() => {
                    info!("Trapped \"hangup\" signal");
                    // The reload logs its outcome; the server keeps
                    // running either way.
                    let _ = server.reload();
                }
                _ = self.usr1.recv() => {
                    info!("Trapped \"user defined signal 1\" signal");
                    match tern::log::reopen() {
                        Ok(true) => info!("File log re-opened"),
                        Ok(false) => info!("File log re-open ignored, not a file logger"),
                        Err(e) => error!("Error re-opening log file: {e}"),
                    }
                }
            }
        }
    }
}
