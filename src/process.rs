//! What a supervisor sees of the server process: the pid file, the ports
//! file, `--signal`, and the signals the running server handles.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Writes the bare decimal pid with no newline, as harnesses parse it.
pub fn write_pid_file(path: &Path) -> io::Result<()> {
    fs::write(path, std::process::id().to_string())
}

/// `<dir>/<executable>_<pid>.ports` with the client URL, as the reference
/// writes it; removed again on a clean shutdown.
pub fn write_ports_file(
    dir: &Path,
    client: SocketAddr,
    monitoring: Option<SocketAddr>,
) -> io::Result<PathBuf> {
    let exe = std::env::args()
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "tern".to_string());
    let path = dir.join(format!("{exe}_{}.ports", std::process::id()));
    let mut body = serde_json::json!({ "nats": [format!("nats://{client}")] });
    if let Some(m) = monitoring {
        body["monitoring"] = serde_json::json!([format!("http://{m}")]);
    }
    fs::write(&path, body.to_string())?;
    Ok(path)
}

/// A `--signal` command: what to send, and to which process.
#[derive(Debug, PartialEq, Eq)]
pub struct SignalCommand {
    /// The signal to send (`stop` is SIGKILL, `ldm` SIGUSR2, and so on).
    pub signal: libc::c_int,
    /// The command's name as given (`ldm`, `reload`...).
    pub name: String,
    /// The process: a pid or a pid file; `None`: every other process
    /// running this executable.
    pub target: Option<String>,
}

/// Why `--signal` could not be carried out; `Display` gives the
/// reference's wording where it has one.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignalError {
    /// Not one of `ldm`, `stop`, `quit`, `term`, `reopen`, `reload`.
    UnknownCommand(String),
    /// The pid file could not be read.
    PidFile {
        /// The pid file's path as given.
        path: String,
        /// Why it could not be read.
        source: io::Error,
    },
    /// The pid file does not hold a pid.
    InvalidPid {
        /// The pid file's path as given.
        path: String,
        /// What it holds instead.
        found: String,
    },
    /// `/proc` could not be read to find the running servers.
    Proc(io::Error),
    /// No other process runs this executable.
    NoProcess {
        /// The executable's name.
        name: String,
    },
    /// kill(2) failed.
    Kill {
        /// The command's name (`ldm`, `reload`...).
        command: String,
        /// The process it was for.
        pid: libc::pid_t,
        /// The operating system's error.
        source: io::Error,
    },
}

impl std::fmt::Display for SignalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignalError::UnknownCommand(name) => write!(f, "unknown signal {name:?}"),
            SignalError::PidFile { path, source } => {
                write!(f, "could not read pid file {path}: {source}")
            }
            SignalError::InvalidPid { path, found } => {
                write!(f, "invalid pid in {path}: {found:?}")
            }
            SignalError::Proc(e) => write!(f, "{e}"),
            SignalError::NoProcess { name } => write!(f, "no {name} processes running"),
            SignalError::Kill {
                command,
                pid,
                source,
            } => {
                let text = match source.raw_os_error() {
                    Some(libc::ESRCH) => "no such process".to_string(),
                    _ => source.to_string(),
                };
                write!(f, "\nsignal \"{command}\" {pid}: {text}")
            }
        }
    }
}

impl std::error::Error for SignalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SignalError::PidFile { source, .. } | SignalError::Kill { source, .. } => Some(source),
            SignalError::Proc(e) => Some(e),
            _ => None,
        }
    }
}

/// Parses `ldm`, `stop`, `quit`, `term`, `reopen` or `reload`, with an
/// optional `=<pid or pid file>`.
pub fn parse_signal(arg: &str) -> Result<SignalCommand, SignalError> {
    let (name, target) = match arg.split_once('=') {
        Some((n, t)) => (n, Some(t.to_string())),
        None => (arg, None),
    };
    let signal = match name {
        "stop" => libc::SIGKILL,
        "quit" => libc::SIGINT,
        "term" => libc::SIGTERM,
        "reopen" => libc::SIGUSR1,
        "reload" => libc::SIGHUP,
        "ldm" => libc::SIGUSR2,
        _ => return Err(SignalError::UnknownCommand(name.to_string())),
    };
    Ok(SignalCommand {
        signal,
        name: name.to_string(),
        target,
    })
}

/// Sends the signal to the pid given (directly or through a pid file), or
/// to every other process running this executable.
pub fn send_signal(cmd: &SignalCommand) -> Result<(), SignalError> {
    let pids = match &cmd.target {
        Some(t) => vec![resolve_pid(t)?],
        None => same_executable_pids()?,
    };
    for pid in pids {
        // SAFETY: kill(2) with a pid and a signal number; no memory is shared.
        let rc = unsafe { libc::kill(pid, cmd.signal) };
        if rc != 0 {
            return Err(SignalError::Kill {
                command: cmd.name.clone(),
                pid,
                source: io::Error::last_os_error(),
            });
        }
    }
    Ok(())
}

fn resolve_pid(target: &str) -> Result<libc::pid_t, SignalError> {
    if let Ok(pid) = target.parse() {
        return Ok(pid);
    }
    let text = fs::read_to_string(target).map_err(|source| SignalError::PidFile {
        path: target.to_string(),
        source,
    })?;
    text.trim().parse().map_err(|_| SignalError::InvalidPid {
        path: target.to_string(),
        found: text.trim().to_string(),
    })
}

fn same_executable_pids() -> Result<Vec<libc::pid_t>, SignalError> {
    let me = std::process::id();
    let my_name = fs::read_to_string("/proc/self/comm").map_err(SignalError::Proc)?;
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").map_err(SignalError::Proc)?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        if fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c == my_name) {
            pids.push(pid as libc::pid_t);
        }
    }
    match pids.len() {
        0 => Err(SignalError::NoProcess {
            name: my_name.trim().to_string(),
        }),
        _ => Ok(pids),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(parse_signal("ldm=12").unwrap().signal, libc::SIGUSR2);
        assert_eq!(
            parse_signal("ldm=12").unwrap().target.as_deref(),
            Some("12")
        );
        assert_eq!(parse_signal("stop").unwrap().signal, libc::SIGKILL);
        assert!(parse_signal("bogus").is_err());
    }

    #[test]
    fn pid_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        fs::write(&path, "4570").unwrap();
        assert_eq!(resolve_pid(path.to_str().unwrap()).unwrap(), 4570);
        assert_eq!(resolve_pid("77").unwrap(), 77);
    }
}

/// Raises the soft limit on open files to the hard limit, as the
/// reference does at start-up (each file stream holds a descriptor, and
/// clients need theirs); returns the limit now in force.
pub fn raise_open_files_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and fill the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        return Ok(raised.rlim_cur);
    }
    Ok(lim.rlim_cur)
}

#[cfg(test)]
mod limit_tests {
    #[test]
    fn the_open_files_limit_ends_at_the_hard_limit() {
        let now = super::raise_open_files_limit().expect("raise");
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
        assert_eq!(now, lim.rlim_cur);
    }
}
