//! The event log on sled: envelope codec, hash chain, durable group appends, replay and
//! verification, and checkpoint files of the in-memory state. It knows nothing of accounts
//! or rebates: it stores envelopes and opaque checkpoint payloads.

pub mod backup;
pub mod checkpoint;
pub mod codec;
pub mod envelope;
pub mod store;
pub mod wal;

pub use envelope::{Actor, Envelope};
pub use store::{LedgerError, LogStore, VerifyReport};
