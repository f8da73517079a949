//! Field checks shared by the decisions on policies, programs, contests and seasons: each
//! pushes a [`FieldError`] with a stable code instead of failing at the first problem, so
//! one answer lists every bad field.

use chrono::{Datelike, NaiveDate};

use super::error::FieldError;
use super::ids::is_valid_id;
use super::money::is_known_currency;
use super::text::is_blank;
use crate::kernel::limits::{
    is_business_year, BUSINESS_YEAR_MAX, BUSINESS_YEAR_MIN, TEXT_LENGTH_MAX,
};

/// Notes a problem of the field `name` (not of a line).
pub fn field(errors: &mut Vec<FieldError>, name: &str, code: &str, message: impl Into<String>) {
    errors.push(FieldError::new(None, name, code, message));
}

/// `invalid_id` unless `id` follows the id rule.
pub fn id(errors: &mut Vec<FieldError>, name: &str, id: &str) {
    if !is_valid_id(id) {
        field(
            errors,
            name,
            "invalid_id",
            format!("\"{id}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$"),
        );
    }
}

/// The trimmed name; `invalid_text` when it holds a control or bidi character (see
/// [`super::text`]), `invalid_name` unless it shows something and has 1 to
/// [`TEXT_LENGTH_MAX`] characters.
pub fn name<'a>(errors: &mut Vec<FieldError>, name: &'a str) -> &'a str {
    let trimmed = name.trim();
    if let Some(error) = super::text::check_chars(None, "name", name) {
        errors.push(error);
    } else if is_blank(trimmed) || trimmed.chars().count() > TEXT_LENGTH_MAX {
        field(
            errors,
            "name",
            "invalid_name",
            format!("name must be 1 to {TEXT_LENGTH_MAX} characters"),
        );
    }
    trimmed
}

/// `unknown_currency` unless `currency` is an ISO 4217 code the ledger knows.
pub fn currency(errors: &mut Vec<FieldError>, currency: &str) {
    if !is_known_currency(currency) {
        field(
            errors,
            "currency",
            "unknown_currency",
            format!("unknown currency \"{currency}\"; expected an ISO 4217 code such as CNY"),
        );
    }
}

/// `invalid_date` for a day outside the business years, and `ends_before_start` when the
/// window ends before it starts (or on its first day, unless `one_day_ok`).
pub fn window(
    errors: &mut Vec<FieldError>,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    one_day_ok: bool,
) {
    business_date(errors, "starts_on", starts_on);
    business_date(errors, "ends_on", ends_on);
    if ends_on < starts_on || (ends_on == starts_on && !one_day_ok) {
        let rule = if one_day_ok {
            "must not be before"
        } else {
            "must be after"
        };
        field(
            errors,
            "ends_on",
            "ends_before_start",
            format!("ends_on {ends_on} {rule} starts_on {starts_on}"),
        );
    }
}

/// `invalid_date` for a day outside the business years (a typo such as 0026 for 2026).
pub fn business_date(errors: &mut Vec<FieldError>, name: &str, date: NaiveDate) {
    if !is_business_year(date.year()) {
        field(
            errors,
            name,
            "invalid_date",
            format!("{date} is outside the years {BUSINESS_YEAR_MIN}-{BUSINESS_YEAR_MAX}"),
        );
    }
}

/// The ids of an optional scope list, sorted and without repeats; `empty_scope` for a
/// list given empty, `invalid_id` for each id that breaks the id rule.
pub fn id_list(
    errors: &mut Vec<FieldError>,
    name: &str,
    list: &Option<Vec<String>>,
) -> Vec<String> {
    match list {
        None => Vec::new(),
        Some(items) if items.is_empty() => {
            field(
                errors,
                name,
                "empty_scope",
                format!(
                    "{name} must list at least one id when given; leave it out for no restriction"
                ),
            );
            Vec::new()
        }
        Some(items) => {
            for (i, item) in items.iter().enumerate() {
                if !is_valid_id(item) {
                    field(
                        errors,
                        &format!("{name}[{i}]"),
                        "invalid_id",
                        format!("\"{item}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$"),
                    );
                }
            }
            let mut unique = items.clone();
            unique.sort();
            unique.dedup();
            unique
        }
    }
}
