//! Load-generation support for the benchmark: raw-protocol client
//! connections and server processes.

pub mod cluster;
pub mod inproc;
pub mod js;
pub mod kv;
pub mod obj;
pub mod ops;
pub mod proto;
pub mod scale;
pub mod server;
pub mod tls;
pub mod ws;
