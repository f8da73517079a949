//! The one written form of a business date the ledger accepts from callers.

use chrono::{Datelike, NaiveDate};

use super::limits::is_business_year;

/// Parses `YYYY-MM-DD` strictly (no times, no other forms), within the business years.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| is_business_year(d.year()))
}
