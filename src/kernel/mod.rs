//! The vocabulary every layer shares: money and its one rounding rule, ids, the closed word
//! sets, the stored forms of decimals and dates, the plain decimal, the written date, the
//! free-text rule, named limits on single values, checked sums, `FieldError`, the hash map
//! of the in-memory state (`fast::FastMap`, `sorted::SortedMap`) and the making of bearer tokens. Imports
//! nothing of ours outside this folder.

pub mod date;
pub mod decimal;
pub mod fast;
pub mod field;
pub mod ids;
pub mod limits;
pub mod money;
pub mod sorted;
pub mod stored;
pub mod sums;
pub mod text;
pub mod token;
pub mod vocab;
