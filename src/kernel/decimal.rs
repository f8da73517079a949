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
    if let Some(d) = small_unsigned(text, whole, fraction) {
        return Some(d);
    }
    Decimal::from_str(text).ok()
}

/// The decimal of a checked unsigned plain form whose digits fit a `u64` (at most 18),
/// built directly: the same mantissa and scale as `Decimal::from_str` gives it, without
/// its general parse (every amount of every line goes through here). `None` for a signed
/// or longer form, which `Decimal::from_str` reads.
fn small_unsigned(text: &str, whole: &str, fraction: Option<&str>) -> Option<Decimal> {
    let fraction = fraction.unwrap_or("");
    if text.starts_with('-') || whole.len() + fraction.len() > 18 {
        return None;
    }
    let mantissa = whole
        .bytes()
        .chain(fraction.bytes())
        .fold(0u64, |m, b| m * 10 + u64::from(b - b'0'));
    Decimal::try_from_i128_with_scale(i128::from(mantissa), fraction.len() as u32).ok()
}

/// Decimal places of a plain decimal as written, trailing zeros included ("5.10" has 2).
pub fn written_places(text: &str) -> u32 {
    text.split_once('.').map_or(0, |(_, fraction)| {
        u32::try_from(fraction.len()).unwrap_or(u32::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The general parse the direct path must agree with, bit for bit (mantissa, scale, sign).
    fn slow(text: &str) -> Option<[u8; 16]> {
        Decimal::from_str(text).ok().map(|d| d.serialize())
    }

    #[test]
    fn direct_path_agrees_with_the_general_parse_at_its_edges() {
        // Proves the u64 path gives the same stored decimal as `Decimal::from_str` where it
        // applies (and leaves signed and longer forms to it).
        for text in [
            "0",
            "0.0",
            "000.000",
            "7",
            "10.50",
            "0.000000000000000001",
            "999999999999999999",
            "99999999999999999.9",
            "1000000000000000000",
            "9999999999999999999",
            "12345678901234567890.12",
            "-0",
            "-0.00",
            "-12.5",
        ] {
            assert_eq!(
                parse_plain_decimal(text).map(|d| d.serialize()),
                slow(text),
                "{text}"
            );
        }
    }

    proptest! {
        #[test]
        fn direct_path_agrees_with_the_general_parse(
            minus in proptest::bool::ANY,
            whole in "[0-9]{1,22}",
            fraction in proptest::option::of("[0-9]{0,12}"),
        ) {
            // Proves any plain form reads to the same stored decimal as the general parse.
            let text = format!(
                "{}{whole}{}",
                if minus { "-" } else { "" },
                fraction.map(|f| format!(".{f}")).unwrap_or_default()
            );
            let expected = if text.ends_with('.') { None } else { slow(&text) };
            prop_assert_eq!(parse_plain_decimal(&text).map(|d| d.serialize()), expected);
        }
    }
}
