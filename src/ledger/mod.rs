//! The event log on sled: envelope codec, hash chain, durable group appends, replay and
//! verification. It knows nothing of accounts or rebates: it stores envelopes.

pub mod backup;
pub mod codec;
pub mod envelope;
pub mod store;

pub use envelope::{Actor, Envelope};
pub use store::{LedgerError, LogStore, VerifyReport};
