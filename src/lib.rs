//! Passerelle: a chat-ops bot for networks of local authorities that open their data together.

pub mod admin;
pub mod app;
pub mod ask;
pub mod commands;
pub mod config;
pub mod connectors;
pub mod core;
pub mod doctor;
pub mod engine;
pub mod fuzzing;
pub mod import;
pub mod leadership;
pub mod mail;
pub mod prompts;
pub mod store;
pub mod supervisor;

/// What a caught panic carried, as text.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".into()
    }
}
