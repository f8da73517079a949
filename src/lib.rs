//! kaledger: an event-sourced incentive and rebate ledger for key accounts.
//!
//! Layers, each in its folder (see ARCHITECTURE.md):
//! - [`ledger`]: the event log on sled — envelope codec, hash chain, durable group
//!   appends, verification. Knows nothing of accounts or rebates.
//! - [`domain`]: events, commands, validation (`decide`), money, ids. Pure: no IO, no
//!   sled, no axum, no clock.
//! - [`rules`]: pure calculations: calendar windows and periods, tier evaluation, the Pareto report.
//! - [`projections`]: read models fed by events; they apply facts, never decide.
//! - [`engine`]: the single writer thread (group commit) and the shared read models.
//! - [`api`]: axum routers, one file per resource; auth; problem+json; OpenAPI.
//! - [`cli`]: clap subcommands: serve, demo, import, verify, rebuild, export, token, fixtures.

pub mod api;
pub mod cli;
pub mod domain;
pub mod engine;
pub mod ledger;
pub mod projections;
pub mod rules;
