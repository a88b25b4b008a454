//! An object read back as an `AsyncRead`: chunks arrive from an ordered
//! consumer as the reader asks (flow control keeps at most the server's
//! window queued), and the size and digest are checked at the end.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::Bytes;
use sha2::Digest as _;
use tern_link::Ordered;
use tokio::io::{AsyncRead, ReadBuf};

use crate::{ObjectError, ObjectInfo};

/// An object's data as an `AsyncRead`. If the bytes read do not match the
/// recorded size or digest, the last read fails with `InvalidData` carrying
/// [`ObjectError::DigestMismatch`].
pub struct ObjectReader {
    info: ObjectInfo,
    chunks: Option<Ordered>,
    current: Bytes,
    read: u64,
    hasher: sha2::Sha256,
    done: bool,
}

/// An object error carried through `io::Error`, and back.
pub(crate) fn io_to_error(e: io::Error) -> ObjectError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ObjectError>())
    {
        Some(err) => err.clone(),
        None => ObjectError::Io(e.to_string()),
    }
}

fn error(e: ObjectError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl ObjectReader {
    pub(crate) fn new(info: ObjectInfo, chunks: Option<Ordered>) -> ObjectReader {
        ObjectReader {
            info,
            chunks,
            current: Bytes::new(),
            read: 0,
            hasher: sha2::Sha256::new(),
            done: false,
        }
    }

    /// The meta record of the object being read (for a link, the target's).
    pub fn info(&self) -> &ObjectInfo {
        &self.info
    }

    /// At the end: the bytes read must be the recorded size and digest.
    fn finish(&mut self) -> io::Result<()> {
        self.done = true;
        self.chunks = None;
        if self.read != self.info.size {
            return Err(error(ObjectError::DigestMismatch(format!(
                "{}: read {} bytes, recorded {}",
                self.info.name, self.read, self.info.size
            ))));
        }
        let digest = format!(
            "SHA-256={}",
            base64::engine::general_purpose::URL_SAFE
                .encode(std::mem::take(&mut self.hasher).finalize())
        );
        match &self.info.digest {
            Some(want) if *want != digest => Err(error(ObjectError::DigestMismatch(format!(
                "{}: digest {digest}, recorded {want}",
                self.info.name
            )))),
            _ => Ok(()),
        }
    }
}

impl AsyncRead for ObjectReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.current.is_empty() {
                let n = this.current.len().min(buf.remaining());
                let part = this.current.split_to(n);
                this.hasher.update(&part);
                buf.put_slice(&part);
                return Poll::Ready(Ok(()));
            }
            if this.done {
                return Poll::Ready(Ok(()));
            }
            if this.read >= this.info.size {
                return Poll::Ready(this.finish());
            }
            let Some(chunks) = this.chunks.as_mut() else {
                return Poll::Ready(this.finish());
            };
            match chunks.poll_next(cx) {
                Poll::Ready(Some(d)) => {
                    this.read += d.msg.payload.len() as u64;
                    this.current = d.msg.payload;
                }
                Poll::Ready(None) => return Poll::Ready(this.finish()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
