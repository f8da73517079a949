//! Stores derived from the log that grow with it, kept on disk instead of in memory: the
//! natural-key records of sale and return lines (consulted by the decider) and the line
//! facts of every account (folded by `known_at` reads, accrual recomputations and
//! settlement bases). The log stays the only truth: each store records the last log
//! position it reflects, is caught up from the log at start, and is rebuilt when deleted.
//!
//! Engine: fjall (an LSM tree), not sled. Measured on the reference machine for one
//! record per sale line with natural keys (examples in docs/decisions.md): sled 0.34
//! took 28 µs and 747 bytes on disk per key, fjall 5.9 µs and 36 bytes. The records are
//! keyed so that one key carries many lines: a whole invoice, or an account's lines of
//! one group.

pub mod encode;
mod store;

pub use store::{DerivedError, LineCounts, LineFact, LineStore, StoreMarks};
