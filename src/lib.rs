//! kaledger: an event-sourced incentive and rebate ledger for key accounts.
//!
//! Layers, each in its folder (see ARCHITECTURE.md):
//! - [`kernel`]: money and its one rounding rule, ids, vocabularies, stored forms, the
//!   plain decimal, the free-text rule, limits on single values, `FieldError`. Imports
//!   nothing of ours.
//! - [`ledger`]: the event log on sled — envelope codec, hash chain, durable group
//!   appends, verification. Knows nothing of accounts or rebates.
//! - [`domain`]: events, commands, decision state, validation (`decide`). Pure: no IO, no
//!   sled, no axum, no clock.
//! - [`rules`]: pure calculations over kernel types: calendar windows and periods
//!   (`calendar`), tier evaluation (`tiers`), rebate maths (`rebates`), contest ranking
//!   (`contests`), allocation (`allocation`), the Pareto report (`pareto`).
//! - [`derived`]: on-disk stores derived from the log that grow with it (natural-key
//!   records, line facts), each with the log position it reflects.
//! - [`projections`]: read models fed by events; they apply facts, never decide, and
//!   answer `known_at` (`projections::as_of`).
//! - [`queries`]: one function per question (entitlement, accruals, liability, settlement
//!   basis, standings, plan …) over one read snapshot and the caller's "today".
//! - [`input`]: the external input forms (HTTP write bodies, fixture records, CSV and JSONL
//!   import lines) and their conversion into commands. Pure: no HTTP, no storage.
//! - [`engine`]: the single writer thread (group commit) and the shared read models.
//! - [`api`]: axum routers, one file per resource: parse, authorise, call a query or
//!   submit a command, render; auth; problem+json; OpenAPI.
//! - [`cli`]: clap subcommands: serve, demo, import, verify, rebuild, export, token, fixtures.
//!   The HTTP server of `serve` and `demo` is given by the binary (`main.rs`).

pub mod api;
pub mod cli;
pub mod derived;
pub mod domain;
pub mod engine;
pub mod input;
pub mod kernel;
pub mod ledger;
pub mod projections;
pub mod queries;
pub mod rules;
