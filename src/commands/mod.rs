//! Chat commands: the registry loaded from `commands/*.toml`, argument parsing and handlers.

pub mod args;
pub mod handlers;
pub mod registry;
pub mod understand;

pub use handlers::{
    CommandHandler, Context, HANDLERS, HandlerError, NewsData, Outcome, TicketData, TicketsNeeded,
    handle_line, tickets_needed,
};
pub use registry::{Interpretation, Invocation, Registry, RegistryError};
