//! Passerelle: a chat-ops bot for networks of local authorities that open their data together.

pub mod commands;
pub mod core;
pub mod prompts;
pub mod store;
