//! Chat commands: the registry loaded from `commands/*.toml`, argument parsing and handlers.

pub mod args;
pub mod handlers;
pub mod registry;

pub use handlers::{handle_line, Context, Outcome, HANDLERS};
pub use registry::{Invocation, Registry, RegistryError};
