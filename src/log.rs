//! Log lines in the reference's format: `[PID] YYYY/MM/DD HH:MM:SS.micro
//! [LVL] text`, local time, with `-T=false` dropping the stamp. Tools parse
//! these lines ("Listening for client connections on", "Server is ready").
//!
//! The level, the time stamp and the destination can change while the
//! server runs (a config reload, SIGUSR1 reopening the file); a log file
//! rotates at `logfile_size_limit`, keeping at most `logfile_max_num`
//! files. `log_format: json` writes one JSON object per line instead.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Errors logged with this target print as `[FTL]`: the reference's level
/// for errors that stop the server.
pub const FATAL_TARGET: &str = "fatal";

/// 0: info and above; 1: debug; 2: trace.
static LEVEL: AtomicU8 = AtomicU8::new(0);
static LOGTIME: AtomicBool = AtomicBool::new(true);
static JSON: AtomicBool = AtomicBool::new(false);
static SINK: Mutex<Option<Sink>> = Mutex::new(None);

/// Sets what is logged: `-D` debug, `-V` trace (which includes debug).
pub fn set_levels(debug: bool, trace: bool) {
    let level = if trace { 2 } else { u8::from(debug) };
    LEVEL.store(level, Ordering::Relaxed);
}

fn enabled(level: &Level) -> bool {
    match *level {
        Level::TRACE => LEVEL.load(Ordering::Relaxed) >= 2,
        Level::DEBUG => LEVEL.load(Ordering::Relaxed) >= 1,
        _ => true,
    }
}

/// Formats events as the reference's logger does (or as JSON lines).
pub struct NatsFormat {
    pid: u32,
}

impl<S, N> FormatEvent<S, N> for NatsFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR if meta.target() == FATAL_TARGET => "FTL",
            Level::ERROR => "ERR",
            Level::WARN => "WRN",
            Level::INFO => "INF",
            Level::DEBUG => "DBG",
            Level::TRACE => "TRC",
        };
        if let Some(style) = crate::syslog::style() {
            let mut text = String::new();
            ctx.field_format()
                .format_fields(Writer::new(&mut text), event)?;
            return w.write_str(&crate::syslog::line(
                style,
                meta.level(),
                level == "FTL",
                &text,
            ));
        }
        if JSON.load(Ordering::Relaxed) {
            let mut text = String::new();
            ctx.field_format()
                .format_fields(Writer::new(&mut text), event)?;
            let line = serde_json::json!({
                "time": tern_jetstream::api::format_time(crate::handle::conn_info::unix_nanos(std::time::SystemTime::now()) as i64),
                "pid": self.pid,
                "level": level,
                "msg": text,
            });
            return writeln!(w, "{line}");
        }
        write!(w, "[{}] ", self.pid)?;
        if LOGTIME.load(Ordering::Relaxed) {
            w.write_str(&local_timestamp())?;
            w.write_char(' ')?;
        }
        write!(w, "[{level}] ")?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// `YYYY/MM/DD HH:MM:SS.micro` in local time.
fn local_timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let tm = local_tm(now.as_secs());
    match tm {
        Some(tm) => format!(
            "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec,
            now.subsec_micros()
        ),
        None => String::from("0000/00/00 00:00:00.000000"),
    }
}

fn local_tm(secs: u64) -> Option<libc::tm> {
    let secs = libc::time_t::try_from(secs).unwrap_or(0);
    // SAFETY: localtime_r writes only into the tm we own; a zeroed tm is a
    // valid value of that plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    ok.then_some(tm)
}

/// Where and how much to log.
#[derive(Default)]
pub struct LogSettings<'a> {
    /// Log to this file; `None`: stderr (or syslog).
    pub file: Option<&'a Path>,
    /// Start each line with the local time.
    pub logtime: bool,
    /// Log debug lines.
    pub debug: bool,
    /// Log the protocol traffic (trace lines), and debug lines with it.
    pub trace: bool,
    /// Rotate the file once it reaches this many bytes (0: never).
    pub size_limit: u64,
    /// Keep at most this many files, the current one included (0: all).
    pub max_files: usize,
    /// One JSON object per line instead of the reference's format.
    pub json: bool,
    /// `-s`: the local syslog (when no file is set).
    pub syslog: bool,
    /// `-r`: a remote syslog URL (when no file is set; before `syslog`).
    pub remote_syslog: Option<&'a str>,
}

/// The log's destination: stderr, a file that may rotate, or syslog.
enum Target {
    Stderr,
    File {
        file: File,
        path: PathBuf,
        size: u64,
    },
    Syslog(crate::syslog::Syslog),
}

struct Sink {
    target: Target,
    size_limit: u64,
    max_files: usize,
}

impl Sink {
    fn syslog(s: crate::syslog::Syslog) -> Sink {
        Sink {
            target: Target::Syslog(s),
            size_limit: 0,
            max_files: 0,
        }
    }

    fn open(path: Option<&Path>, size_limit: u64, max_files: usize) -> io::Result<Sink> {
        let target = match path {
            Some(p) => {
                let file = OpenOptions::new().create(true).append(true).open(p)?;
                let size = file.metadata().map_or(0, |m| m.len());
                Target::File {
                    file,
                    path: p.to_path_buf(),
                    size,
                }
            }
            None => Target::Stderr,
        };
        Ok(Sink {
            target,
            size_limit,
            max_files,
        })
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.target {
            Target::Stderr => io::stderr().write_all(buf),
            Target::Syslog(s) => s.send(buf),
            Target::File { file, size, .. } => {
                file.write_all(buf)?;
                *size += buf.len() as u64;
                // The line that crosses the limit stays in the old file.
                if self.size_limit > 0 && *size > self.size_limit {
                    self.rotate()?;
                }
                Ok(())
            }
        }
    }

    /// Renames the full file aside with a time stamp, starts a new one
    /// that names the backup, and drops the oldest beyond the limit.
    fn rotate(&mut self) -> io::Result<()> {
        let Target::File { path, .. } = &self.target else {
            return Ok(());
        };
        let path = path.clone();
        let backup = PathBuf::from(format!("{}.{}", path.display(), rotation_stamp()));
        std::fs::rename(&path, &backup)?;
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        let absolute = std::fs::canonicalize(&backup).unwrap_or(backup);
        let mut written = direct_line(
            &mut file,
            &format!(
                "Rotated log, backup saved as {:?}",
                absolute.display().to_string()
            ),
        )?;
        if self.max_files > 0 {
            for purged in prune_backups(&path, self.max_files) {
                written += direct_line(&mut file, &format!("Purged log file {purged:?}"))?;
            }
        }
        self.target = Target::File {
            file,
            path,
            size: written,
        };
        Ok(())
    }
}

/// A line the file logger writes itself (rotation, purges): the usual
/// prefix, and CRLF as the reference ends these.
fn direct_line(file: &mut File, text: &str) -> io::Result<u64> {
    let stamp = if LOGTIME.load(Ordering::Relaxed) {
        format!("{} ", local_timestamp())
    } else {
        String::new()
    };
    let line = format!("[{}] {stamp}[INF] {text}\r\n", std::process::id());
    file.write_all(line.as_bytes())?;
    Ok(line.len() as u64)
}

/// `2006.01.02.15.04.05.999999999` in local time, as Go formats it (the
/// fraction without trailing zeros).
fn rotation_stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let Some(tm) = local_tm(now.as_secs()) else {
        return now.as_nanos().to_string();
    };
    let nanos = format!("{:09}", now.subsec_nanos());
    let nanos = nanos.trim_end_matches('0');
    format!(
        "{:04}.{:02}.{:02}.{:02}.{:02}.{:02}{}{}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        if nanos.is_empty() { "" } else { "." },
        nanos
    )
}

/// `YYYY.MM.DD.hh.mm.ss` with an optional `.fraction`, as `rotation_stamp`
/// writes it.
fn is_rotation_stamp(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    let widths = [4, 2, 2, 2, 2, 2];
    (parts.len() == 6 || parts.len() == 7)
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts.iter().zip(widths).all(|(p, w)| p.len() == w)
}

/// Keeps the newest `max_files - 1` backups of `path` (the live file is
/// the last of the `max_files`); the names of those removed.
fn prune_backups(path: &Path, max_files: usize) -> Vec<String> {
    let mut purged = Vec::new();
    let Some(dir) = path.parent().map(|d| {
        if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d
        }
    }) else {
        return purged;
    };
    let Some(name) = path
        .file_name()
        .map(|n| format!("{}.", n.to_string_lossy()))
    else {
        return purged;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return purged;
    };
    // Only our own backups: the name, then a rotation stamp (a file such
    // as `tern.log.gz` from another tool is not ours to delete).
    let mut backups: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix(&name)
                .is_some_and(is_rotation_stamp)
        })
        .map(|e| e.path())
        .collect();
    // The stamps sort by time.
    backups.sort();
    let keep = max_files.saturating_sub(1);
    if backups.len() > keep {
        for old in &backups[..backups.len() - keep] {
            if std::fs::remove_file(old).is_ok() {
                if let Some(n) = old.file_name() {
                    purged.push(n.to_string_lossy().into_owned());
                }
            }
        }
    }
    purged
}

/// Hands formatted lines to the current sink.
struct SinkWriter;

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut sink = SINK.lock().unwrap_or_else(PoisonError::into_inner);
        match sink.as_mut() {
            Some(s) => s.write(buf)?,
            None => io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct MakeSink;

impl<'a> MakeWriter<'a> for MakeSink {
    type Writer = SinkWriter;
    fn make_writer(&'a self) -> SinkWriter {
        SinkWriter
    }
}

/// Installs the global logger; a log file is appended to. A log file
/// wins over syslog, a remote syslog over the local one.
pub fn init(settings: &LogSettings<'_>) -> io::Result<()> {
    let sink = match (settings.file, settings.remote_syslog, settings.syslog) {
        (None, Some(url), _) => Sink::syslog(crate::syslog::Syslog::remote(url)?),
        (None, None, true) => Sink::syslog(crate::syslog::Syslog::local()?),
        _ => Sink::open(settings.file, settings.size_limit, settings.max_files)?,
    };
    *SINK.lock().unwrap_or_else(PoisonError::into_inner) = Some(sink);
    set_levels(settings.debug, settings.trace);
    LOGTIME.store(settings.logtime, Ordering::Relaxed);
    JSON.store(settings.json, Ordering::Relaxed);
    let layer = tracing_subscriber::fmt::layer()
        .event_format(NatsFormat {
            pid: std::process::id(),
        })
        .with_writer(MakeSink)
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            enabled(meta.level())
        }));
    // A logger already installed (tests, embedding) is kept.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
    Ok(())
}

/// A reload changed where logs go or the time stamp.
pub fn reconfigure(settings: &LogSettings<'_>) -> io::Result<()> {
    LOGTIME.store(settings.logtime, Ordering::Relaxed);
    // The new destination is opened (maybe a network connection) before
    // the lock every logging thread takes.
    let new = match (settings.file, settings.remote_syslog, settings.syslog) {
        (None, Some(url), _) => Sink::syslog(crate::syslog::Syslog::remote(url)?),
        (None, None, true) => Sink::syslog(crate::syslog::Syslog::local()?),
        _ => {
            crate::syslog::stop();
            Sink::open(settings.file, settings.size_limit, settings.max_files)?
        }
    };
    *SINK.lock().unwrap_or_else(PoisonError::into_inner) = Some(new);
    Ok(())
}

/// SIGUSR1: opens the log file again (after an outside rotation moved
/// it), appending; false when logging goes to no file.
pub fn reopen() -> io::Result<bool> {
    let mut sink = SINK.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(s) = sink.as_mut() {
        if let Target::File { path, .. } = &s.target {
            let path = path.clone();
            *s = Sink::open(Some(&path), s.size_limit, s.max_files)?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Panics are logged as errors in the server's log format (with `-l` they
/// reach the log file, not just stderr). The stream shards contain a panic
/// in one stream's storage work; this makes it visible where operators
/// look.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        if tern_jetstream::writer::panic_is_a_retry() {
            return;
        }
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let msg = tern_jetstream::writer::panic_text(info.payload());
        tracing::error!("panic in thread '{name}'{at}: {msg}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rotation_stamps_are_backups() {
        assert!(is_rotation_stamp("2026.12.05.07.40.58.331214224"));
        assert!(is_rotation_stamp("2026.12.05.07.40.58"));
        assert!(!is_rotation_stamp("gz"));
        assert!(!is_rotation_stamp("old"));
        assert!(!is_rotation_stamp("2026.12.05"));
        let stamp = rotation_stamp();
        assert!(is_rotation_stamp(&stamp), "{stamp}");
    }
}
