//! Chat commands: the registry loaded from `commands/*.toml`, argument parsing and handlers.

pub mod args;
pub mod handlers;
pub mod registry;

pub use handlers::{
    Context, HANDLERS, Outcome, TicketData, TicketsNeeded, handle_line, tickets_needed,
};
pub use registry::{Invocation, Registry, RegistryError};
