//! Log lines in the reference's format: `[PID] YYYY/MM/DD HH:MM:SS.micro
//! [LVL] text`, local time, with `-T=false` dropping the stamp. Tools parse
//! these lines ("Listening for client connections on", "Server is ready").

use std::fs::OpenOptions;
use std::io;
use std::path::Path;
use std::sync::Mutex;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Errors logged with this target print as `[FTL]`: the reference's level
/// for errors that stop the server.
pub const FATAL_TARGET: &str = "fatal";

/// Formats events as the reference's logger does.
pub struct NatsFormat {
    pid: u32,
    logtime: bool,
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
        write!(w, "[{}] ", self.pid)?;
        if self.logtime {
            w.write_str(&local_timestamp())?;
            w.write_char(' ')?;
        }
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR if meta.target() == FATAL_TARGET => "[FTL]",
            Level::ERROR => "[ERR]",
            Level::WARN => "[WRN]",
            Level::INFO => "[INF]",
            Level::DEBUG => "[DBG]",
            Level::TRACE => "[TRC]",
        };
        write!(w, "{level} ")?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// `YYYY/MM/DD HH:MM:SS.micro` in local time.
fn local_timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = libc::time_t::try_from(now.as_secs()).unwrap_or(0);
    // SAFETY: localtime_r writes only into the tm we own; a zeroed tm is a
    // valid value of that plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if !ok {
        return String::from("0000/00/00 00:00:00.000000");
    }
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_micros()
    )
}

/// Where and how much to log.
pub struct LogSettings<'a> {
    pub file: Option<&'a Path>,
    pub logtime: bool,
    pub debug: bool,
    pub trace: bool,
}

/// Installs the global logger; a log file is appended to.
pub fn init(settings: &LogSettings<'_>) -> io::Result<()> {
    let level = if settings.trace {
        Level::TRACE
    } else if settings.debug {
        Level::DEBUG
    } else {
        Level::INFO
    };
    let format = NatsFormat {
        pid: std::process::id(),
        logtime: settings.logtime,
    };
    let builder = tracing_subscriber::fmt()
        .event_format(format)
        .with_max_level(level);
    let result = match settings.file {
        Some(path) => {
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            builder.with_writer(Mutex::new(file)).try_init()
        }
        None => builder.with_writer(io::stderr).try_init(),
    };
    // A logger already installed (tests, embedding) is kept.
    let _ = result;
    Ok(())
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
