//! Calendar arithmetic: month steps that clamp to the month's end, metric windows
//! (DESIGN §5.2) and rebate periods (DESIGN §5.4: `2026`, `2026-Q2`, `2026-05`).

use crate::kernel::vocab::vocabulary;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::kernel::limits::{is_business_year, BUSINESS_YEAR_MAX, BUSINESS_YEAR_MIN};

/// Number of days in `month` (1–12) of `year`.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => panic!("month {month} is not 1-12"),
    }
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// A month as one number, `year × 12 + month0`, so that month keys sort, subtract and
/// step by plain integer arithmetic. The inverse is [`month_first_day`].
pub fn month_index(date: NaiveDate) -> i32 {
    date.year() * 12 + date.month0() as i32
}

/// The first day of the month numbered `index` by [`month_index`].
///
/// Panics outside chrono's year range (about ±262,000): indexes come from real dates.
pub fn month_first_day(index: i32) -> NaiveDate {
    let (year, month0) = (index.div_euclid(12), index.rem_euclid(12) as u32);
    NaiveDate::from_ymd_opt(year, month0 + 1, 1).expect("month index within chrono's range")
}

/// The last day of the month numbered `index` by [`month_index`].
pub fn month_last_day(index: i32) -> NaiveDate {
    let first = month_first_day(index);
    let last = days_in_month(first.year(), first.month());
    first.with_day(last).expect("last day of a valid month")
}

/// `date` moved by `months` calendar months (negative goes back), the day clamped to the
/// target month's end: 2026-03-31 − 1 month = 2026-02-28; 2024-02-29 + 12 = 2025-02-28.
///
/// Panics only beyond chrono's year range; business dates are years 1900–2999.
pub fn add_months_clamped(date: NaiveDate, months: i32) -> NaiveDate {
    let first = month_first_day(month_index(date) + months);
    let day = date.day().min(days_in_month(first.year(), first.month()));
    first.with_day(day).expect("day clamped to the month")
}

/// First day inside the metric window of `window_months` months ending on `as_of`.
///
/// DESIGN §5.2 defines the window as (as_of − window_months months, as_of]: the month step
/// clamps to month end, and the day it lands on is excluded, so the window starts one day
/// later. as_of 2026-03-31 with 1 month starts 2026-03-01; as_of 2026-02-28 with 1 month
/// starts 2026-01-29. A window of 0 months is empty: it starts the day after `as_of`.
pub fn window_start(as_of: NaiveDate, window_months: u32) -> NaiveDate {
    let months = i32::try_from(window_months).expect("window_months fits in i32");
    let excluded = add_months_clamped(as_of, -months);
    excluded + Days::new(1)
}

vocabulary!(
    /// How long a rebate period is.
    PeriodKind "period kind" {
        Monthly => "monthly",
        Quarterly => "quarterly",
        Annual => "annual",
    }
);

impl PeriodKind {
    /// Months in one period of this kind.
    pub fn months(self) -> u32 {
        match self {
            PeriodKind::Monthly => 1,
            PeriodKind::Quarterly => 3,
            PeriodKind::Annual => 12,
        }
    }
}

/// One calendar period: a month, a quarter or a year, with its first and last day
/// (both inclusive). Written and parsed as its label: `2026`, `2026-Q2`, `2026-05`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Period {
    pub label: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub kind: PeriodKind,
}

impl Period {
    /// The period of `kind` that contains `date`.
    pub fn containing(kind: PeriodKind, date: NaiveDate) -> Period {
        let year = date.year();
        let (first_month0, label) = match kind {
            PeriodKind::Annual => (0, format!("{year:04}")),
            PeriodKind::Quarterly => {
                let quarter0 = date.month0() / 3;
                (quarter0 * 3, format!("{year:04}-Q{}", quarter0 + 1))
            }
            PeriodKind::Monthly => (date.month0(), format!("{year:04}-{:02}", date.month())),
        };
        let first_index = year * 12 + first_month0 as i32;
        Period {
            label,
            start: month_first_day(first_index),
            end: month_last_day(first_index + kind.months() as i32 - 1),
            kind,
        }
    }

    /// The period of the same kind that starts the day after this one ends.
    pub fn next(&self) -> Period {
        Period::containing(self.kind, self.end + Days::new(1))
    }

    /// The period of the same kind that ends the day before this one starts.
    pub fn previous(&self) -> Period {
        Period::containing(self.kind, self.start - Days::new(1))
    }

    /// True when `date` falls in the period (both ends inclusive).
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date <= self.end
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl FromStr for Period {
    type Err = String;

    /// Parses exactly `YYYY`, `YYYY-Qn` (n 1–4) or `YYYY-MM` (01–12), years 1900–2999.
    fn from_str(s: &str) -> Result<Period, String> {
        let unknown = || format!("unknown period \"{s}\"; expected YYYY, YYYY-Qn or YYYY-MM");
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let year_text = s.get(..4).filter(|y| digits(y)).ok_or_else(unknown)?;
        let year: i32 = year_text.parse().map_err(|_| unknown())?;
        let (kind, month) = match &s[4..] {
            "" => (PeriodKind::Annual, 1),
            rest => {
                let rest = rest.strip_prefix('-').ok_or_else(unknown)?;
                if let Some(quarter) = rest.strip_prefix('Q') {
                    match quarter {
                        "1" | "2" | "3" | "4" => {
                            let q: u32 = quarter.parse().map_err(|_| unknown())?;
                            (PeriodKind::Quarterly, (q - 1) * 3 + 1)
                        }
                        _ => return Err(unknown()),
                    }
                } else if rest.len() == 2 && digits(rest) {
                    let m: u32 = rest.parse().map_err(|_| unknown())?;
                    if !(1..=12).contains(&m) {
                        return Err(unknown());
                    }
                    (PeriodKind::Monthly, m)
                } else {
                    return Err(unknown());
                }
            }
        };
        if !is_business_year(year) {
            return Err(format!(
                "period \"{s}\" is out of range; years {BUSINESS_YEAR_MIN}-{BUSINESS_YEAR_MAX} are accepted"
            ));
        }
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(unknown)?;
        Ok(Period::containing(kind, first))
    }
}

/// Periods travel as their label in JSON and events ("2026-Q2").
impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.label)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Period, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn month_steps_clamp_to_month_end() {
        // Proves month arithmetic clamps the day to the target month's end, in both directions.
        assert_eq!(
            add_months_clamped(date("2026-03-31"), -1),
            date("2026-02-28")
        );
        assert_eq!(
            add_months_clamped(date("2026-01-31"), 1),
            date("2026-02-28")
        );
        assert_eq!(
            add_months_clamped(date("2026-05-31"), -1),
            date("2026-04-30")
        );
        assert_eq!(
            add_months_clamped(date("2026-03-15"), -3),
            date("2025-12-15")
        );
        assert_eq!(
            add_months_clamped(date("2025-12-31"), 2),
            date("2026-02-28")
        );
        assert_eq!(
            add_months_clamped(date("2026-06-30"), 0),
            date("2026-06-30")
        );
    }

    #[test]
    fn month_steps_clamp_on_leap_years() {
        // Proves February 29 exists only in leap years: 2024 and 2000 yes, 2025 and 1900 no.
        assert_eq!(
            add_months_clamped(date("2024-02-29"), 12),
            date("2025-02-28")
        );
        assert_eq!(
            add_months_clamped(date("2024-02-29"), 48),
            date("2028-02-29")
        );
        assert_eq!(
            add_months_clamped(date("2024-03-31"), -1),
            date("2024-02-29")
        );
        assert_eq!(
            add_months_clamped(date("2000-01-31"), 1),
            date("2000-02-29")
        );
        assert_eq!(
            add_months_clamped(date("1900-01-31"), 1),
            date("1900-02-28")
        );
        assert_eq!(
            add_months_clamped(date("2025-02-28"), -12),
            date("2024-02-28")
        );
    }

    #[test]
    fn windows_start_the_day_after_the_month_step() {
        // Proves the DESIGN §5.2 window examples: (D − m months, D] starts one day after the step.
        assert_eq!(window_start(date("2026-03-31"), 1), date("2026-03-01"));
        assert_eq!(window_start(date("2026-06-30"), 12), date("2025-07-01"));
        assert_eq!(window_start(date("2026-06-15"), 12), date("2025-06-16"));
        assert_eq!(window_start(date("2026-02-28"), 1), date("2026-01-29"));
        assert_eq!(window_start(date("2024-03-31"), 1), date("2024-03-01"));
        assert_eq!(window_start(date("2025-02-28"), 12), date("2024-02-29"));
        assert_eq!(window_start(date("2026-06-30"), 0), date("2026-07-01"));
    }

    #[test]
    fn month_indexes_round_trip() {
        // Proves month_index and month_first_day / month_last_day are inverse, across year ends.
        assert_eq!(
            month_index(date("2026-01-15")) + 1,
            month_index(date("2026-02-01"))
        );
        assert_eq!(
            month_index(date("2025-12-31")) + 1,
            month_index(date("2026-01-01"))
        );
        assert_eq!(
            month_first_day(month_index(date("2026-05-17"))),
            date("2026-05-01")
        );
        assert_eq!(
            month_last_day(month_index(date("2024-02-03"))),
            date("2024-02-29")
        );
        assert_eq!(
            month_last_day(month_index(date("2026-12-03"))),
            date("2026-12-31")
        );
    }

    #[test]
    fn periods_parse_in_the_three_forms() {
        // Proves each written form gives the right kind and first/last day, quarter edges included.
        let year: Period = "2026".parse().unwrap();
        assert_eq!(
            (year.kind, year.start, year.end),
            (PeriodKind::Annual, date("2026-01-01"), date("2026-12-31"))
        );
        let q1: Period = "2026-Q1".parse().unwrap();
        assert_eq!((q1.start, q1.end), (date("2026-01-01"), date("2026-03-31")));
        let q2: Period = "2026-Q2".parse().unwrap();
        assert_eq!(
            (q2.kind, q2.start, q2.end),
            (
                PeriodKind::Quarterly,
                date("2026-04-01"),
                date("2026-06-30")
            )
        );
        let q3: Period = "2026-Q3".parse().unwrap();
        assert_eq!((q3.start, q3.end), (date("2026-07-01"), date("2026-09-30")));
        let q4: Period = "2026-Q4".parse().unwrap();
        assert_eq!((q4.start, q4.end), (date("2026-10-01"), date("2026-12-31")));
        let feb: Period = "2024-02".parse().unwrap();
        assert_eq!(
            (feb.kind, feb.start, feb.end),
            (PeriodKind::Monthly, date("2024-02-01"), date("2024-02-29"))
        );
        let may: Period = "2026-05".parse().unwrap();
        assert_eq!(may.to_string(), "2026-05");
        assert_eq!(q2.to_string(), "2026-Q2");
        assert_eq!("1900".parse::<Period>().unwrap().label, "1900");
        assert_eq!("2999-12".parse::<Period>().unwrap().end, date("2999-12-31"));
    }

    #[test]
    fn bad_periods_are_refused_with_the_expected_forms() {
        // Proves malformed labels are refused, quoting the value and suggesting the forms.
        let err = "2026-Q5".parse::<Period>().unwrap_err();
        assert_eq!(
            err,
            "unknown period \"2026-Q5\"; expected YYYY, YYYY-Qn or YYYY-MM"
        );
        for bad in [
            "",
            "26",
            "20266",
            "2026-",
            "2026-Q0",
            "2026-q2",
            "2026-Q",
            "2026-Q12",
            "2026-13",
            "2026-00",
            "2026-5",
            "2026-005",
            "2026/05",
            "2026-05-01",
            "+026",
            " 2026",
            "2026 ",
            "２０２６",
            "2026-Q2x",
        ] {
            let err = bad.parse::<Period>().unwrap_err();
            assert!(err.contains(&format!("\"{bad}\"")), "{bad}: {err}");
        }
        let err = "1899".parse::<Period>().unwrap_err();
        assert!(
            err.contains("\"1899\"") && err.contains("1900-2999"),
            "{err}"
        );
        assert!("3000-Q1".parse::<Period>().is_err());
    }

    #[test]
    fn containing_and_next_walk_the_calendar() {
        // Proves containing finds the period around a date and next/previous cross year ends.
        let q = Period::containing(PeriodKind::Quarterly, date("2026-06-30"));
        assert_eq!(q.label, "2026-Q2");
        assert_eq!(
            Period::containing(PeriodKind::Quarterly, date("2026-07-01")).label,
            "2026-Q3"
        );
        assert_eq!(q.next().label, "2026-Q3");
        assert_eq!(
            Period::containing(PeriodKind::Quarterly, date("2026-11-02"))
                .next()
                .label,
            "2027-Q1"
        );
        assert_eq!(
            Period::containing(PeriodKind::Monthly, date("2026-12-31"))
                .next()
                .label,
            "2027-01"
        );
        assert_eq!(
            Period::containing(PeriodKind::Annual, date("2026-03-03"))
                .next()
                .label,
            "2027"
        );
        assert_eq!(
            "2027-Q1".parse::<Period>().unwrap().previous().label,
            "2026-Q4"
        );
        assert_eq!(
            "2026-03".parse::<Period>().unwrap().previous().end,
            date("2026-02-28")
        );
        assert!(q.contains(date("2026-04-01")) && q.contains(date("2026-06-30")));
        assert!(!q.contains(date("2026-03-31")) && !q.contains(date("2026-07-01")));
        assert_eq!(serde_json::to_string(&q).unwrap(), "\"2026-Q2\"");
        assert_eq!(serde_json::from_str::<Period>("\"2026-Q2\"").unwrap(), q);
        assert_eq!(
            serde_json::to_string(&PeriodKind::Quarterly).unwrap(),
            "\"quarterly\""
        );
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (1900i32..3000, 1u32..13, 1u32..32).prop_map(|(y, m, d)| {
            NaiveDate::from_ymd_opt(y, m, d.min(days_in_month(y, m))).unwrap()
        })
    }

    proptest! {
        #[test]
        fn window_start_lies_in_the_window(as_of in any_date(), months in 1u32..=36) {
            // Proves window_start is in (D − m months, D] and the window is never longer than m × 31 days.
            let start = window_start(as_of, months);
            prop_assert!(start > add_months_clamped(as_of, -(months as i32)));
            prop_assert!(start <= as_of);
            prop_assert!((as_of - start).num_days() < i64::from(months) * 31 + 1);
        }

        #[test]
        fn periods_tile_the_calendar(day in any_date(), kind_number in 0usize..3) {
            // Proves the period containing a day contains it, round-trips through its label, and next starts the day after.
            let kind = [PeriodKind::Monthly, PeriodKind::Quarterly, PeriodKind::Annual][kind_number];
            let period = Period::containing(kind, day);
            prop_assert!(period.contains(day));
            prop_assert_eq!(period.label.parse::<Period>().unwrap(), period.clone());
            prop_assert_eq!(period.next().start, period.end + Days::new(1));
            prop_assert_eq!(period.next().previous(), period);
        }
    }
}
