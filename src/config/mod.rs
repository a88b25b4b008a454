//! Configuration: nats-server's command-line flags (`cli`), the NATS conf
//! file format (`conf`), and the one `Options` value built from both.

pub mod options;
