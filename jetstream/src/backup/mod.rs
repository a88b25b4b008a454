//! Stream backups in nats-server's format (`$JS.API.STREAM.SNAPSHOT`
//! and `RESTORE`): a Snappy/S2-framed tar of the stream's file store
//! (`meta.inf`, `meta.sum`, `msgs/<n>.blk`, and per consumer
//! `obs/<name>/meta.inf`, `meta.sum`, `o.dat`), so `nats stream backup`
//! and `restore` move streams between tern and nats-server both ways.

pub(crate) mod archive;
pub(crate) mod filestore;
pub(crate) mod s2;
pub(crate) mod tar;
