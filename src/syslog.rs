//! Logging to syslog as the reference does: `-r udp://host:port` (also
//! `tcp://`, `unix://`) in the network format, `<PRI>RFC3339 host
//! tag[pid]: message`, facility kern; `-s` to the local daemon at
//! `/dev/log` in the local format, `<PRI>Jan _2 15:04:05 tag[pid]:
//! message`, facility daemon. Info and trace lines go at Notice, as the
//! reference sends them.

use std::io::{self, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::atomic::{AtomicU8, Ordering};

use tracing::Level;

/// A stalled syslog must not stall every thread that logs: connecting
/// and each line's write give up after these.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// How lines are framed: 0 none (not syslog), 1 network, 2 local.
static STYLE: AtomicU8 = AtomicU8::new(0);

/// The syslog framing in force, if logging goes to syslog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Style {
    Network,
    Local,
}

/// Logging no longer goes to syslog.
pub fn stop() {
    STYLE.store(0, Ordering::Relaxed);
}

pub fn style() -> Option<Style> {
    match STYLE.load(Ordering::Relaxed) {
        1 => Some(Style::Network),
        2 => Some(Style::Local),
        _ => None,
    }
}

/// Where the datagrams or lines go.
#[non_exhaustive]
pub enum Syslog {
    Udp(UdpSocket),
    Tcp(TcpStream),
    UnixDatagram(UnixDatagram),
    UnixStream(UnixStream),
}

/// Why a syslog could not be opened, in the reference's words.
fn refused(text: String) -> io::Error {
    io::Error::other(text)
}

impl Syslog {
    /// `udp://host:port`, `tcp://host:port` or `unix:///path`.
    pub fn remote(url: &str) -> io::Result<Syslog> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(refused(format!(
                "parse {url:?}: first path segment in URL cannot contain colon"
            )));
        };
        let dial = |e: io::Error| {
            refused(format!(
                "error connecting to syslog: \"dial {scheme} {rest}: {e}\""
            ))
        };
        let s = match scheme {
            "udp" => {
                let sock = UdpSocket::bind(("0.0.0.0", 0)).map_err(dial)?;
                sock.connect(rest).map_err(dial)?;
                Syslog::Udp(sock)
            }
            "tcp" => {
                let addr = std::net::ToSocketAddrs::to_socket_addrs(rest)
                    .map_err(dial)?
                    .next()
                    .ok_or_else(|| dial(io::Error::other("no address")))?;
                let s = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(dial)?;
                s.set_write_timeout(Some(WRITE_TIMEOUT)).map_err(dial)?;
                Syslog::Tcp(s)
            }
            "unix" => match UnixDatagram::unbound().and_then(|d| d.connect(rest).map(|()| d)) {
                Ok(d) => Syslog::UnixDatagram(d),
                Err(_) => {
                    let s = UnixStream::connect(rest).map_err(dial)?;
                    s.set_write_timeout(Some(WRITE_TIMEOUT)).map_err(dial)?;
                    Syslog::UnixStream(s)
                }
            },
            other => return Err(refused(format!("error invalid network type: {other:?}"))),
        };
        STYLE.store(1, Ordering::Relaxed);
        Ok(s)
    }

    /// The local syslog daemon.
    pub fn local() -> io::Result<Syslog> {
        for path in ["/dev/log", "/var/run/syslog", "/var/run/log"] {
            if let Ok(d) = UnixDatagram::unbound().and_then(|d| d.connect(path).map(|()| d)) {
                STYLE.store(2, Ordering::Relaxed);
                return Ok(Syslog::UnixDatagram(d));
            }
            if let Ok(s) = UnixStream::connect(path) {
                let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
                STYLE.store(2, Ordering::Relaxed);
                return Ok(Syslog::UnixStream(s));
            }
        }
        Err(refused(
            "error connecting to syslog: \"Unix syslog delivery error\"".into(),
        ))
    }

    /// Sends one framed line (one datagram, or one line of the stream).
    pub fn send(&mut self, line: &[u8]) -> io::Result<()> {
        match self {
            Syslog::Udp(s) => s.send(line).map(drop),
            Syslog::UnixDatagram(s) => s.send(line).map(drop),
            Syslog::Tcp(s) => s.write_all(line),
            Syslog::UnixStream(s) => s.write_all(line),
        }
    }
}

/// The severity a level goes at (Notice for info and trace).
fn severity(level: &Level, fatal: bool) -> u8 {
    match *level {
        _ if fatal => 2,
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::DEBUG => 7,
        Level::INFO | Level::TRACE => 5,
    }
}

/// The machine's name, for the network format (read once).
fn hostname() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(read_hostname)
}

fn read_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The program's name as syslog tags it (the executable's file name,
/// read once).
fn tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(read_tag)
}

fn read_tag() -> String {
    std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "tern".into())
}

/// One message framed for syslog.
pub fn line(style: Style, level: &Level, fatal: bool, text: &str) -> String {
    let pid = std::process::id();
    let sev = severity(level, fatal);
    let now = crate::handle::conn_info::unix_nanos(std::time::SystemTime::now());
    match style {
        Style::Network => {
            // RFC 3339 to the second.
            let stamp =
                tern_jetstream::api::format_time((now / 1_000_000_000 * 1_000_000_000) as i64);
            format!("<{sev}>{stamp} {} {}[{pid}]: {text}\n", hostname(), tag())
        }
        Style::Local => {
            const DAEMON: u8 = 3 << 3;
            format!(
                "<{}>{} {}[{pid}]: {text}\n",
                DAEMON + sev,
                stamp_local(now),
                tag()
            )
        }
    }
}

/// `Jan _2 15:04:05` in local time.
fn stamp_local(now_ns: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = libc::time_t::try_from(now_ns / 1_000_000_000).unwrap_or(0);
    // SAFETY: localtime_r writes only into the tm we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&secs, &mut tm).is_null() } {
        return String::new();
    }
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        MONTHS[usize::try_from(tm.tm_mon).unwrap_or(0).min(11)],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_goes_at_notice_in_the_network_format() {
        let l = line(Style::Network, &Level::INFO, false, "Starting");
        assert!(l.starts_with("<5>"), "{l}");
        assert!(
            l.ends_with(&format!("[{}]: Starting\n", std::process::id())),
            "{l}"
        );
        let l = line(Style::Local, &Level::ERROR, false, "bad");
        assert!(l.starts_with("<27>"), "{l}");
    }

    #[test]
    fn a_remote_url_without_a_scheme_is_refused() {
        let Err(e) = Syslog::remote("127.0.0.1:514") else {
            panic!("accepted");
        };
        assert!(e.to_string().contains("first path segment"), "{e}");
        let Err(e) = Syslog::remote("foo://x") else {
            panic!("accepted");
        };
        assert_eq!(e.to_string(), "error invalid network type: \"foo\"");
    }
}
