//! One folder per outside system. A connector turns outside traffic into [`crate::engine::Inbound`]
//! items and delivers outbox rows; it never decides anything.

pub mod console;
pub mod imap;
pub mod maildir;
pub mod mbox;
pub mod smtp;
