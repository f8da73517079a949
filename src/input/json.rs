//! Reading a JSON input form: the one parse of every write body, fixture record and JSONL
//! import line, with its refusals worded once.

use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::InputError;
use crate::domain::limits::BATCH_LINES_MAX;

/// Parses JSON bytes: a syntax error is `malformed_json`, a body of the wrong shape
/// (unknown field, wrong type, missing field) `invalid_body`, an array of lines longer
/// than [`BATCH_LINES_MAX`] `too_many_lines` (see [`at_most_batch_lines`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, InputError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        match e.classify() {
            serde_json::error::Category::Data if text.starts_with(TOO_MANY_LINES_MARK) => {
                InputError::too_many_lines()
            }
            serde_json::error::Category::Data => InputError::invalid("invalid_body", text),
            _ => InputError::malformed("malformed_json", text),
        }
    })
}

/// Start of the serde error message of [`at_most_batch_lines`]; no message serde or
/// serde_json writes for caller input starts with it, so [`parse_json`] can map it to
/// `too_many_lines`.
const TOO_MANY_LINES_MARK: &str = "too_many_lines:";

/// `deserialize_with` for the line arrays of batches: reads at most [`BATCH_LINES_MAX`]
/// elements and fails at the next one without looking at the rest, so a body of millions of
/// tiny elements costs what its first 10,001 cost, not what all of them would.
pub fn at_most_batch_lines<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Lines<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Lines<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "an array of at most {BATCH_LINES_MAX} lines")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut lines = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(BATCH_LINES_MAX));
            while let Some(line) = seq.next_element()? {
                if lines.len() == BATCH_LINES_MAX {
                    return Err(de::Error::custom(format!(
                        "{TOO_MANY_LINES_MARK} more than {BATCH_LINES_MAX} lines"
                    )));
                }
                lines.push(line);
            }
            Ok(lines)
        }
    }
    deserializer.deserialize_seq(Lines(PhantomData))
}
