//! The domain, without I/O: everything here is a function of its inputs.

pub mod actions;
pub mod address;
pub mod business_hours;
pub mod dates;
pub mod directory;
pub mod formats;
pub mod geo;
pub mod inbound;
pub mod lang;
pub mod news;
pub mod numbers;
pub mod reminders;
pub mod search;
pub mod social;
pub mod text;
pub mod tickets;
pub mod topics;
