//! Accounts: each has its own subject space (router). Only the default
//! `$G` account exists until the security work adds named accounts with
//! isolation, imports and exports; every client, socket or internal,
//! belongs to exactly one.

use crate::router::Router;

/// The default account's name.
pub const GLOBAL_ACCOUNT: &str = "$G";

pub struct Account {
    pub name: String,
    pub router: Router,
}

impl Account {
    pub fn new(name: &str) -> Self {
        Account {
            name: name.to_string(),
            router: Router::new(),
        }
    }
}
