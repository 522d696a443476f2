//! Passerelle: a chat-ops bot for networks of local authorities that open their data together.

pub mod app;
pub mod commands;
pub mod config;
pub mod connectors;
pub mod core;
pub mod engine;
pub mod fuzzing;
pub mod import;
pub mod leadership;
pub mod mail;
pub mod prompts;
pub mod store;
pub mod supervisor;
