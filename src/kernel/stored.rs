//! Serde forms of decimals and dates in events: compact and exact in the stored binary
//! form (a decimal's 16-byte representation, a date's day number), readable strings in
//! JSON ("1234.50", "2026-05-01"). The choice follows `is_human_readable()`, which bincode
//! answers false and serde_json true. Parsing a decimal from text on every replayed event
//! was the main cost of replay; the 16-byte form is also what DESIGN §4 recommends.
//! Checkpoints of the in-memory state use the same forms (and [`checkpoint`] for types
//! whose own serde form is an API body).

/// `Decimal` as 16 bytes (binary) or a string (JSON).
pub mod decimal {
    use rust_decimal::Decimal;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(value)
        } else {
            serializer.serialize_bytes(&value.serialize())
        }
    }

    /// Reads the 16-byte form in one call (a `[u8; 16]` would be sixteen).
    struct DecimalBytes;

    impl<'de> serde::de::Visitor<'de> for DecimalBytes {
        type Value = Decimal;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("16 bytes of a decimal")
        }
        fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Decimal, E> {
            let exact: [u8; 16] = bytes
                .try_into()
                .map_err(|_| E::invalid_length(bytes.len(), &self))?;
            // Flags: 16 zero bits, the scale (at most 28), then only the sign bit.
            if exact[0] != 0 || exact[1] != 0 || exact[2] > 28 || exact[3] & 0x7f != 0 {
                return Err(E::custom("corrupt decimal flags"));
            }
            Ok(Decimal::deserialize(exact))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        if deserializer.is_human_readable() {
            // The same plain form as line amounts: no exponent, `_`, `+` or spaces.
            let text = String::deserialize(deserializer)?;
            crate::kernel::decimal::parse_plain_decimal(&text).ok_or_else(|| {
                D::Error::custom(format!(
                    "\"{text}\" is not a decimal number; write it like \"1234.50\""
                ))
            })
        } else {
            deserializer.deserialize_bytes(DecimalBytes)
        }
    }
}

/// `Option<Decimal>` in the same forms.
pub mod decimal_option {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Wrapped(#[serde(with = "super::decimal")] Decimal);

    pub fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.map(Wrapped).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|w| w.0))
    }
}

/// `NaiveDate` as days from 0001-01-01 (binary) or "YYYY-MM-DD" (JSON).
pub mod date {
    use chrono::{Datelike, NaiveDate};
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(value)
        } else {
            serializer.serialize_i32(value.num_days_from_ce())
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(D::Error::custom)
        } else {
            let days = i32::deserialize(deserializer)?;
            NaiveDate::from_num_days_from_ce_opt(days)
                .ok_or_else(|| D::Error::custom(format!("day number {days} is out of range")))
        }
    }
}

/// `Option<NaiveDate>` in the same forms as [`date`].
pub mod date_option {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Wrapped(#[serde(with = "super::date")] NaiveDate);

    pub fn serialize<S: Serializer>(
        value: &Option<NaiveDate>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.map(Wrapped).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<NaiveDate>, D::Error> {
        Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|w| w.0))
    }
}

/// The checkpoint form of types whose own serde form is an API body that leaves fields out
/// (the positions marked `#[serde(skip)]`). Such a type implements [`CheckpointForm`]
/// through a full mirror (a `#[serde(remote = "…")]` derive, see [`checkpoint_form`]), and
/// a field holding it, or a vector or map of it, takes
/// `#[serde(with = "crate::kernel::stored::checkpoint")]`.
pub mod checkpoint {
    use std::collections::{BTreeMap, HashMap};
    use std::hash::{BuildHasher, Hash};

    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serde in the checkpoint form, next to the type's own (API) form.
    pub trait CheckpointForm: Sized {
        fn serialize_checkpoint<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
        fn deserialize_checkpoint<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Self, D::Error>;
    }

    /// A value serialized in its checkpoint form.
    struct Out<'a, T>(&'a T);

    impl<T: CheckpointForm> Serialize for Out<'_, T> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            self.0.serialize_checkpoint(serializer)
        }
    }

    /// A value deserialized from its checkpoint form.
    struct In<T>(T);

    impl<'de, T: CheckpointForm> Deserialize<'de> for In<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            T::deserialize_checkpoint(deserializer).map(In)
        }
    }

    impl<T: CheckpointForm> CheckpointForm for Vec<T> {
        fn serialize_checkpoint<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(self.iter().map(Out))
        }
        fn deserialize_checkpoint<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Self, D::Error> {
            let items = Vec::<In<T>>::deserialize(deserializer)?;
            Ok(items.into_iter().map(|i| i.0).collect())
        }
    }

    impl<K: Serialize + DeserializeOwned + Ord, T: CheckpointForm> CheckpointForm for BTreeMap<K, T> {
        fn serialize_checkpoint<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_map(self.iter().map(|(k, v)| (k, Out(v))))
        }
        fn deserialize_checkpoint<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Self, D::Error> {
            let map = BTreeMap::<K, In<T>>::deserialize(deserializer)?;
            Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
        }
    }

    impl<K, T, H> CheckpointForm for HashMap<K, T, H>
    where
        K: Serialize + DeserializeOwned + Eq + Hash,
        T: CheckpointForm,
        H: BuildHasher + Default,
    {
        fn serialize_checkpoint<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_map(self.iter().map(|(k, v)| (k, Out(v))))
        }
        fn deserialize_checkpoint<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Self, D::Error> {
            let map = HashMap::<K, In<T>, H>::deserialize(deserializer)?;
            Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
        }
    }

    pub fn serialize<T: CheckpointForm, S: Serializer>(
        value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.serialize_checkpoint(serializer)
    }

    pub fn deserialize<'de, T: CheckpointForm, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        T::deserialize_checkpoint(deserializer)
    }
}

/// Implements [`checkpoint::CheckpointForm`] for `$type` through `$mirror`, a struct with
/// `#[derive(Serialize, Deserialize)] #[serde(remote = "$type")]` that lists every field
/// (the compiler checks the list against the type).
macro_rules! checkpoint_form {
    ($type:ty, $mirror:ident) => {
        impl $crate::kernel::stored::checkpoint::CheckpointForm for $type {
            fn serialize_checkpoint<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                $mirror::serialize(self, serializer)
            }
            fn deserialize_checkpoint<'de, D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                $mirror::deserialize(deserializer)
            }
        }
    };
}
pub(crate) use checkpoint_form;

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use rust_decimal::Decimal;
    use serde::{Deserialize, Serialize};
    use std::str::FromStr;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        #[serde(with = "super::decimal")]
        amount: Decimal,
        #[serde(with = "super::decimal_option")]
        cost: Option<Decimal>,
        #[serde(with = "super::date")]
        on: NaiveDate,
    }

    #[test]
    fn both_forms_round_trip_exactly() {
        // Proves decimals keep their scale and dates their day in both the binary and JSON forms.
        let sample = Sample {
            amount: Decimal::from_str("1234.50").unwrap(),
            cost: Some(Decimal::from_str("-0.005").unwrap()),
            on: NaiveDate::from_ymd_opt(2026, 2, 28).unwrap(),
        };
        let json = serde_json::to_string(&sample).unwrap();
        assert_eq!(
            json,
            r#"{"amount":"1234.50","cost":"-0.005","on":"2026-02-28"}"#
        );
        assert_eq!(serde_json::from_str::<Sample>(&json).unwrap(), sample);
        let bytes = crate::ledger::codec::encode(&sample);
        assert_eq!(
            crate::ledger::codec::decode::<Sample>(&bytes).unwrap(),
            sample
        );
        let none = Sample {
            cost: None,
            ..sample
        };
        assert_eq!(
            crate::ledger::codec::decode::<Sample>(&crate::ledger::codec::encode(&none)).unwrap(),
            none
        );
    }
}
