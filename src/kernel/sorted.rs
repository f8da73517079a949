//! A map held as one vector sorted by key: the per-account totals by day and by month
//! that the in-memory state keeps. Keys arrive mostly in order (a sale's day, its month),
//! so an insert is nearly always a push, and an entry costs its key and value alone where
//! a `BTreeMap` adds half again in node slack and pointers.

use std::ops::RangeInclusive;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

/// Entries sorted by key, each key once. Serialized as the sequence of `(key, value)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord + Copy, V: Default> SortedMap<K, V> {
    /// The value of `key`, inserted as the default when missing.
    pub fn entry_or_default(&mut self, key: K) -> &mut V {
        let index = match self.entries.last() {
            Some((last, _)) if *last < key => {
                self.grow();
                self.entries.push((key, V::default()));
                self.entries.len() - 1
            }
            _ => match self.entries.binary_search_by(|(k, _)| k.cmp(&key)) {
                Ok(found) => found,
                Err(at) => {
                    self.grow();
                    self.entries.insert(at, (key, V::default()));
                    at
                }
            },
        };
        &mut self.entries[index].1
    }

    /// Room for one more entry, growing by an eighth (at least 4): the slack stays small
    /// where doubling would leave up to half of a long map unused.
    fn grow(&mut self) {
        let len = self.entries.len();
        if len == self.entries.capacity() {
            self.entries.reserve_exact((len / 8).max(4));
        }
    }
}

impl<K: Ord + Copy, V> SortedMap<K, V> {
    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        let index = self.entries.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        Some(&self.entries[index].1)
    }

    /// Entries with keys in `range` (both ends included), in key order.
    pub fn range(&self, range: RangeInclusive<K>) -> impl Iterator<Item = &(K, V)> + '_ {
        let (from, to) = range.into_inner();
        let start = self.entries.partition_point(|(k, _)| *k < from);
        self.entries[start..]
            .iter()
            .take_while(move |(k, _)| *k <= to)
    }

    /// Every entry in key order.
    pub fn iter(&self) -> impl Iterator<Item = &(K, V)> + '_ {
        self.entries.iter()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Read back only when the keys are strictly increasing: a map is never built unsorted.
impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for SortedMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = Vec::<(K, V)>::deserialize(deserializer)?;
        if entries.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
            return Err(D::Error::custom("sorted map keys out of order"));
        }
        Ok(SortedMap { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_anywhere_keep_the_keys_sorted_and_single() {
        // Proves pushes, inserts before the end and updates of a held key all leave one
        // sorted entry per key, and ranges include both ends.
        let mut map = SortedMap::<i32, u32>::default();
        for key in [5, 7, 9, 1, 8, 7, 5, 10] {
            *map.entry_or_default(key) += 1;
        }
        let all: Vec<_> = map.iter().copied().collect();
        assert_eq!(all, [(1, 1), (5, 2), (7, 2), (8, 1), (9, 1), (10, 1)]);
        let middle: Vec<_> = map.range(5..=8).map(|(k, _)| *k).collect();
        assert_eq!(middle, [5, 7, 8]);
        assert_eq!(map.range(11..=20).count(), 0);
        let (from, to) = (8, 5);
        assert_eq!(map.range(from..=to).count(), 0);
        assert_eq!(map.get(&7), Some(&2));
        assert_eq!(map.get(&6), None);
    }

    #[test]
    fn only_strictly_increasing_keys_read_back() {
        // Proves a stored map round-trips and one with repeated or unsorted keys is refused.
        let mut map = SortedMap::<i32, u32>::default();
        *map.entry_or_default(3) = 30;
        *map.entry_or_default(1) = 10;
        let json = serde_json::to_string(&map).unwrap();
        assert_eq!(json, "[[1,10],[3,30]]");
        let back: SortedMap<i32, u32> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, map);
        assert!(serde_json::from_str::<SortedMap<i32, u32>>("[[3,30],[1,10]]").is_err());
        assert!(serde_json::from_str::<SortedMap<i32, u32>>("[[1,10],[1,10]]").is_err());
    }
}
