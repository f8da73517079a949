//! Events, commands and the rules that decide them. Pure: no IO, no sled, no axum, no clock.

pub mod book;
pub mod checks;
pub mod commands;
pub mod contests;
pub mod daily;
pub mod decide;
pub mod error;
pub mod events;
pub mod incentives;
pub mod limits;
pub mod programs;
pub mod seasons;
pub mod settlements;
pub mod state;
pub mod text;

// The kernel's modules under their old names, for the domain's own `super::money` paths.
pub use crate::kernel::{ids, money, stored, vocab};

pub use commands::Command;
pub use decide::{decide, Decision};
pub use error::{DomainError, FieldError};
pub use events::Event;
pub use state::LedgerState;

#[cfg(test)]
mod tests;
