//! The stream endpoints' JSON (`$JS.API.STREAM.*`): the configuration and
//! its checks, what info replies hold, and the request/response bodies.

mod config;
mod info;
mod requests;
mod validate;

pub use config::*;
pub use info::*;
pub use requests::*;
pub use validate::{
    is_subset_match, is_valid_name, subjects_collide, DEFAULT_DUPLICATE_WINDOW, MAX_METADATA_LEN,
};

#[cfg(test)]
mod tests;
