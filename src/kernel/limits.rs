//! Named limits on single values that every layer checks against (the bounds on sums and
//! definitions, which need the rules' types, are `domain::limits`).

use rust_decimal::Decimal;

/// Largest amount or quantity on one line: far above any real invoice line, low enough
/// that sums over millions of lines stay far inside Decimal's 28 digits.
pub const LINE_VALUE_MAX: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0); // 10^15
/// Most decimal places a quantity may carry (kilograms to the gram, litres to the ml).
pub const QUANTITY_PLACES_MAX: u32 = 6;
/// Most decimal places of a discount percent ("12.5", "7.25").
pub const DISCOUNT_PLACES_MAX: u32 = 2;
/// Largest capacity or request in whole units (10^12): beyond any real stock, and sums of
/// millions of requests stay far inside u64.
pub const UNITS_MAX: u64 = 1_000_000_000_000;
/// Longest free text (names, reasons) stored in an event.
pub const TEXT_LENGTH_MAX: usize = 200;

/// Business dates outside these years are typos (0026 for 2026), not history or plans.
pub const BUSINESS_YEAR_MIN: i32 = 1900;
/// See [`BUSINESS_YEAR_MIN`].
pub const BUSINESS_YEAR_MAX: i32 = 2999;

/// True for a year from [`BUSINESS_YEAR_MIN`] to [`BUSINESS_YEAR_MAX`].
pub fn is_business_year(year: i32) -> bool {
    (BUSINESS_YEAR_MIN..=BUSINESS_YEAR_MAX).contains(&year)
}
