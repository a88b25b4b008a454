//! Many KV buckets on one server: how long creating them takes, what the
//! idle server then costs (threads, RSS, CPU, descriptors), and how long a
//! restart takes until the last bucket answers.

use std::time::{Duration, Instant};

use super::proto::Conn;
use super::server::ServerProcess;

/// What one server showed.
pub struct BucketsResult {
    pub create_secs: f64,
    /// Then one put into each bucket (a durable write each on tern).
    pub put_secs: f64,
    pub restart_secs: f64,
    pub threads: u64,
    pub rss_bytes: u64,
    /// CPU used while idle, in percent of one core.
    pub idle_cpu_pct: f64,
    pub fds: u64,
}

fn bucket_config(name: &str) -> String {
    format!(
        "{{\"name\":\"KV_{name}\",\"subjects\":[\"$KV.{name}.>\"],\"max_msgs_per_subject\":1,\"max_bytes\":-1,\"max_age\":0,\"max_msg_size\":-1,\"storage\":\"file\",\"num_replicas\":1,\"discard\":\"new\",\"allow_rollup_hdrs\":true,\"deny_delete\":true,\"allow_direct\":true}}"
    )
}

/// Creates `count` buckets, 32 requests in flight; then puts one key in
/// each. Returns the seconds each part took.
fn create(port: u16, count: usize) -> (f64, f64) {
    let start = Instant::now();
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.scale.*", None, "1");
    c.ping_pong();
    let window = 32;
    let (mut sent, mut answered) = (0, 0);
    while answered < count {
        while sent < count && sent - answered < window {
            let name = format!("B{sent}");
            c.request_now(
                &format!("$JS.API.STREAM.CREATE.KV_{name}"),
                "_INBOX.scale.1",
                bucket_config(&name).as_bytes(),
            );
            sent += 1;
        }
        c.wait_msg(Duration::from_secs(60))
            .expect("bucket create reply");
        answered += 1;
    }
    let created = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let (mut sent, mut answered) = (0, 0);
    while answered < count {
        while sent < count && sent - answered < window {
            c.request_now(&format!("$KV.B{sent}.key"), "_INBOX.scale.1", b"value");
            sent += 1;
        }
        c.wait_msg(Duration::from_secs(60)).expect("put ack");
        answered += 1;
    }
    (created, start.elapsed().as_secs_f64())
}

fn proc_field(pid: u32, file: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) start after ')'.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let at = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the whole line.
    at(11) + at(12)
}

fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Creates the buckets on a fresh server, samples it idle, kills it and
/// times a restart until the last bucket's info is answered.
pub fn buckets(bin: &str, dir: &str, count: usize) -> BucketsResult {
    let extra = ["-js", "-sd", dir];
    let server = ServerProcess::start_with("buckets", bin, &extra).expect("start");
    let (create_secs, put_secs) = create(server.port, count);
    // Let the post-create work settle: the reference flushes on timers,
    // tern closes idle streams' files after 5 s.
    std::thread::sleep(Duration::from_secs(10));
    let pid = server.pid();
    let idle = Duration::from_secs(5);
    let before = cpu_ticks(pid);
    std::thread::sleep(idle);
    let used = (cpu_ticks(pid) - before) as f64 / ticks_per_sec();
    let idle_cpu_pct = used / idle.as_secs_f64() * 100.0;
    let threads = proc_field(pid, "status", "Threads:");
    let rss_bytes = server.rss_bytes();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    let port = server.port;
    server.kill();
    let start = Instant::now();
    let again =
        ServerProcess::start_on("buckets-restart", bin, &extra, i32::from(port)).expect("restart");
    let mut c = Conn::connect(again.port);
    c.subscribe("_INBOX.scale.*", None, "1");
    c.ping_pong();
    let last = count - 1;
    c.request_now(
        &format!("$JS.API.STREAM.INFO.KV_B{last}"),
        "_INBOX.scale.1",
        b"",
    );
    c.wait_msg(Duration::from_secs(120)).expect("info reply");
    let restart_secs = start.elapsed().as_secs_f64();
    BucketsResult {
        create_secs,
        put_secs,
        restart_secs,
        threads,
        rss_bytes,
        idle_cpu_pct,
        fds,
    }
}
