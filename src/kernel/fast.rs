//! Hash maps of the in-memory state: foldhash is several times faster than SipHash on
//! short keys and still seeded per process, so crafted ids cannot degrade it.

use std::collections::HashMap;

/// A `HashMap` with foldhash's seeded hasher.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
