//! Compact byte forms of the derived records. Derived stores are rebuilt from the log, so
//! these forms carry a format byte and may change with it; the log's forms never do.
//!
//! Numbers are LEB128 varints; a decimal is one byte (scale, and 0x80 when negative)
//! followed by its mantissa's magnitude as a varint: `1234.56` takes 4 bytes, not 16.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

/// Why a stored derived record could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("derived record does not decode: {0}")]
pub struct DecodeError(pub &'static str);

/// Appends `value` as a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u128) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends a decimal: scale and sign byte, then the mantissa's magnitude.
pub fn put_decimal(out: &mut Vec<u8>, value: Decimal) {
    let negative = value.is_sign_negative() && !value.is_zero();
    out.push(value.scale() as u8 | if negative { 0x80 } else { 0 });
    put_varint(out, value.mantissa().unsigned_abs());
}

/// Appends a date as its day number counted from 1 January of year 1.
pub fn put_date(out: &mut Vec<u8>, date: NaiveDate) {
    put_varint(out, date.num_days_from_ce().max(0) as u128);
}

/// A reader over one stored value.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self
            .bytes
            .split_first()
            .ok_or(DecodeError("value ends early"))?;
        self.bytes = rest;
        Ok(first)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        if self.bytes.len() < N {
            return Err(DecodeError("value ends early"));
        }
        let (head, rest) = self.bytes.split_at(N);
        self.bytes = rest;
        Ok(head.try_into().expect("length checked"))
    }

    pub fn varint(&mut self) -> Result<u128, DecodeError> {
        let mut value: u128 = 0;
        for shift in (0..128).step_by(7) {
            let byte = self.byte()?;
            value |= u128::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError("varint too long"))
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        u64::try_from(self.varint()?).map_err(|_| DecodeError("number out of range"))
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.varint()?).map_err(|_| DecodeError("number out of range"))
    }

    pub fn decimal(&mut self) -> Result<Decimal, DecodeError> {
        let head = self.byte()?;
        let scale = u32::from(head & 0x7f);
        let magnitude = i128::try_from(self.varint()?).map_err(|_| DecodeError("mantissa"))?;
        let mantissa = if head & 0x80 != 0 {
            -magnitude
        } else {
            magnitude
        };
        Decimal::try_from_i128_with_scale(mantissa, scale).map_err(|_| DecodeError("decimal"))
    }

    pub fn date(&mut self) -> Result<NaiveDate, DecodeError> {
        let days = i32::try_from(self.varint()?).map_err(|_| DecodeError("date"))?;
        NaiveDate::from_num_days_from_ce_opt(days).ok_or(DecodeError("date"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn decimals_dates_and_varints_round_trip() {
        let mut out = Vec::new();
        let values = [
            "0",
            "-0.00",
            "1234.56",
            "-7.125",
            "79228162514264337593543950335",
        ];
        for v in values {
            put_decimal(&mut out, Decimal::from_str(v).unwrap());
        }
        let day = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        put_date(&mut out, day);
        put_varint(&mut out, u64::MAX as u128);
        let mut r = Reader::new(&out);
        for v in values {
            let d = r.decimal().unwrap();
            assert_eq!(d, Decimal::from_str(v).unwrap());
            assert_eq!(d.scale(), Decimal::from_str(v).unwrap().scale());
        }
        assert_eq!(r.date().unwrap(), day);
        assert_eq!(r.u64().unwrap(), u64::MAX);
        assert!(r.is_empty());
        assert!(Reader::new(&[0x80]).varint().is_err());
        assert!(Reader::new(&[]).decimal().is_err());
    }
}
