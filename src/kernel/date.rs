//! The one written form of a business date the ledger accepts from callers.

use chrono::{Datelike, NaiveDate};

use super::limits::is_business_year;

/// Parses `YYYY-MM-DD` strictly (no times, no other forms), within the business years.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    // Every line of a batch carries a date: the plain all-digit form is read directly, and
    // anything else goes through chrono's parser, which decides what else it accepts.
    let date = match plain_digits(text.as_bytes()) {
        Some((year, month, day)) => NaiveDate::from_ymd_opt(year, month, day),
        None => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
    };
    date.filter(|d| is_business_year(d.year()))
}

/// Year, month and day of exactly `DDDD-DD-DD` (ASCII digits), which chrono reads as the
/// same three numbers.
fn plain_digits(b: &[u8]) -> Option<(i32, u32, u32)> {
    let digits = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    Some((digits(0..4)? as i32, digits(5..7)?, digits(8..10)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_form_reads_as_chrono_reads_it() {
        // Proves the direct reading agrees with chrono's "%Y-%m-%d" on plain dates, valid
        // or not, and that other forms are still chrono's to accept or refuse.
        for text in [
            "2026-05-01",
            "2026-02-29",
            "2024-02-29",
            "1900-01-01",
            "2999-12-31",
            "0000-01-01",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "2026-12-00",
            "2026- 5-01",
            "+2026-5-01",
            "2026-05-1 ",
            "2026/05/01",
            "２０２６-5-1",
            "2026-05-0a",
        ] {
            let chrono = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .filter(|d| text.len() == 10 && is_business_year(d.year()));
            assert_eq!(parse_date(text), chrono, "{text:?}");
        }
    }
}
