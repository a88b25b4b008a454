//! Socket connections: each runs a reader task (read, parse, route, then
//! wake the noted writers once) and a writer task. What the router
//! delivers to is the connection's `handle::Handle`; the account it signed
//! in to is bound on its `server::Connection`.

mod cookies;
mod reader;
mod tls;
mod writer;

use std::net::SocketAddr;

pub use cookies::CookieCredentials;
pub(crate) use reader::user_account;
pub use reader::{run_connection, Greeting};
pub use tls::run_tls_connection;
pub(crate) use writer::run_writer;

use crate::handle::conn_info::SubSnapshot;
use crate::handle::CloseReason;
use crate::server::{Connection, Server};

/// A connection closed: the registry lets it go and the system account
/// hears of it.
fn connection_closed(
    server: &Server,
    conn: &Connection,
    peer: SocketAddr,
    reason: CloseReason,
    subs: Vec<SubSnapshot>,
) {
    if let Some(snapshot) = server.connection_closed(conn, peer, reason, subs) {
        crate::monitor::events::disconnected(server, &snapshot);
    }
}
