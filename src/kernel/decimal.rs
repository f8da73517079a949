//! The one plain form of a decimal the ledger accepts from callers.

use std::str::FromStr;

use rust_decimal::Decimal;

/// Parses a plain decimal: optional minus, digits, optional fraction. No exponents,
/// separators or signs that ERP exports sometimes smuggle in.
pub fn parse_plain_decimal(text: &str) -> Option<Decimal> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !all_digits(whole)
        || fraction.is_some_and(|f| f.is_empty() || !all_digits(f))
    {
        return None;
    }
    Decimal::from_str(text).ok()
}

/// Decimal places of a plain decimal as written, trailing zeros included ("5.10" has 2).
pub fn written_places(text: &str) -> u32 {
    text.split_once('.').map_or(0, |(_, fraction)| {
        u32::try_from(fraction.len()).unwrap_or(u32::MAX)
    })
}
