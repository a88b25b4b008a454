//! The writer task of a socket connection: takes the whole outbound buffer
//! at each wake-up and writes it in one call, under the write deadline.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::handle::CloseReason;
use crate::server::Connection;
use crate::stats::Stats;

/// A written buffer larger than this is not kept for reuse, so one burst
/// does not pin its memory for the life of the connection.
const KEEP_BUFFER_BYTES: usize = 256 * 1024;

pub(crate) async fn run_writer<W: AsyncWrite + Unpin>(
    conn: Arc<Connection>,
    mut sock: W,
    stats: Arc<Stats>,
    write_deadline: Duration,
) {
    let handle = &conn.handle;
    let Some(out) = handle.outbound() else {
        return;
    };
    let mut spare = BytesMut::new();
    'wakes: loop {
        out.wait_for_work().await;
        loop {
            let closing = out.take_pending(&mut spare);
            if spare.is_empty() {
                if closing.is_some() {
                    break 'wakes;
                }
                break;
            }
            match tokio::time::timeout(write_deadline, sock.write_all(&spare)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    handle.close(CloseReason::WriteError);
                    break 'wakes;
                }
                Err(_) => {
                    tracing::info!(
                        "cid:{} - Slow Consumer Detected: WriteDeadline of {:?} exceeded",
                        handle.id,
                        write_deadline
                    );
                    crate::deliver::slow_consumer(
                        &stats,
                        conn.account(),
                        handle,
                        CloseReason::SlowConsumerWriteDeadline,
                    );
                    break 'wakes;
                }
            }
            if spare.capacity() > KEEP_BUFFER_BYTES {
                spare = BytesMut::new();
            } else {
                spare.clear();
            }
        }
    }
    // Bounded: a peer that stopped reading must not hold the task forever.
    let _ = tokio::time::timeout(write_deadline, sock.shutdown()).await;
}
