//! Sales-contest maths of DESIGN §5.5: prize validation, the growth metric, and standings
//! with standard competition ranking and the pooling of prizes over ties.
//!
//! The prize and standing structs double as event payloads (ContestDefined, ContestClosed):
//! decimals are strings in JSON and 16 bytes in the stored binary form (`domain::stored`).
//! Cash is split in whole minor units with integer arithmetic, so the awards of a tie group
//! always add up to exactly the prizes it covers.

use crate::kernel::vocab::vocabulary;
use std::collections::HashSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{exact_percent, round_percent};
use crate::kernel::field::FieldError;
use crate::kernel::limits::{LINE_VALUE_MAX, TEXT_LENGTH_MAX};
use crate::kernel::money::{minor_unit_places, round_to_minor_unit};
use crate::kernel::text::{check_chars, is_blank};

/// Most prizes a contest may define: real contests award a podium or a top ten, a longer
/// list is almost certainly a pasted column, and the limit bounds every standings answer.
pub const CONTEST_PRIZES_MAX: usize = 100;

/// Largest cash prize: the ledger's ceiling on one money value (10^15), far beyond any real
/// prize, so pooled sums of up to [`CONTEST_PRIZES_MAX`] prizes stay exact in `Decimal`.
pub const PRIZE_AMOUNT_MAX: Decimal = LINE_VALUE_MAX;

/// Reason of an account whose growth has no positive baseline (M_prev ≤ 0 or absent).
pub const REASON_NO_BASELINE: &str = "no_baseline";
/// Reason of an account whose metric is zero or negative.
pub const REASON_METRIC_NOT_POSITIVE: &str = "metric_not_positive";
/// Reason of an account whose metric is below the contest's min_metric.
pub const REASON_BELOW_MIN_METRIC: &str = "below_min_metric";
/// Reason of an ineligible account when the caller gave none more specific.
pub const REASON_NOT_ELIGIBLE: &str = "not_eligible";

vocabulary!(
    /// What a contest ranks accounts by.
    ContestMetric "contest metric" {
        /// Sales minus returns in the window, in the contest's currency.
        NetRevenue => "net_revenue",
        /// Units sold minus units returned in the window.
        Quantity => "quantity",
        /// Net revenue growth over the same window one year earlier, in percent.
        GrowthPct => "growth_pct",
    }
);

vocabulary!(
    /// What a prize is.
    PrizeKind "prize kind" {
        /// Money in the contest's currency; pooled and split over ties.
        Cash => "cash",
        /// A thing (a trip, a machine), described in words; every tie member receives it.
        Goods => "goods",
        /// A title or trophy, described in words; every tie member receives it.
        Honor => "honor",
    }
);

/// One prize of a contest definition: cash with an amount, goods or honor with a description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Prize {
    /// The rank it rewards, 1 = first.
    pub rank: u32,
    pub kind: PrizeKind,
    /// The cash amount in the contest's currency ("1500.00"); only for cash.
    #[serde(default, with = "crate::kernel::stored::decimal_option")]
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
    /// What the prize is ("Trip to Sanya for two"); required for goods and honor.
    #[serde(default)]
    pub description: Option<String>,
}

/// Every problem of a prize list about to be defined, each with a stable code and the path
/// of the field (`prizes[1].amount`). Empty means the list is valid: at most
/// [`CONTEST_PRIZES_MAX`] prizes, ranks ≥ 1 and unique, cash with an amount above zero, at
/// most [`PRIZE_AMOUNT_MAX`] and with no more places than the currency's minor unit (a
/// description is optional), goods and honor with a description and no amount.
pub fn validate_prizes(prizes: &[Prize], currency: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut push = |field: String, code: &str, message: String| {
        errors.push(FieldError::new(None, &field, code, message));
    };
    if prizes.len() > CONTEST_PRIZES_MAX {
        push(
            "prizes".into(),
            "too_many_prizes",
            format!(
                "{} prizes is more than the {CONTEST_PRIZES_MAX} a contest may have",
                prizes.len()
            ),
        );
    }
    let places = minor_unit_places(currency);
    let mut seen_ranks = HashSet::new();
    for (i, prize) in prizes.iter().enumerate() {
        if prize.rank == 0 {
            push(
                format!("prizes[{i}].rank"),
                "invalid_rank",
                "rank 0 is not a rank; the first place is rank 1".into(),
            );
        } else if !seen_ranks.insert(prize.rank) {
            push(
                format!("prizes[{i}].rank"),
                "duplicate_rank",
                format!(
                    "rank {} already has a prize; give each rank one prize",
                    prize.rank
                ),
            );
        }
        match prize.kind {
            PrizeKind::Cash => match prize.amount {
                None => push(
                    format!("prizes[{i}].amount"),
                    "missing_amount",
                    format!("a cash prize needs an amount in {currency}, e.g. \"1500.00\""),
                ),
                Some(amount) if amount <= Decimal::ZERO || amount > PRIZE_AMOUNT_MAX => push(
                    format!("prizes[{i}].amount"),
                    "invalid_amount",
                    format!(
                        "amount \"{amount}\" must be above 0 and at most {PRIZE_AMOUNT_MAX}"
                    ),
                ),
                // Places as written: "1500.000" is refused although its value fits.
                Some(amount) if amount.scale() > places => push(
                    format!("prizes[{i}].amount"),
                    "too_many_decimals",
                    format!(
                        "amount \"{amount}\" has more than the {places} decimal places of {currency}"
                    ),
                ),
                Some(_) => {}
            },
            PrizeKind::Goods | PrizeKind::Honor => {
                if let Some(amount) = prize.amount {
                    push(
                        format!("prizes[{i}].amount"),
                        "unexpected_amount",
                        format!(
                            "a {} prize has no amount (got \"{amount}\"); describe it instead, or make it cash",
                            prize.kind
                        ),
                    );
                }
                if prize
                    .description
                    .as_deref()
                    .is_none_or(is_blank)
                {
                    push(
                        format!("prizes[{i}].description"),
                        "missing_description",
                        format!("a {} prize needs a description of what is won", prize.kind),
                    );
                }
            }
        }
        if let Some(text) = &prize.description {
            let field = format!("prizes[{i}].description");
            if let Some(error) = check_chars(None, &field, text) {
                push(field, &error.code, error.message);
            } else if text.chars().count() > TEXT_LENGTH_MAX {
                push(
                    format!("prizes[{i}].description"),
                    "too_long",
                    format!("at most {TEXT_LENGTH_MAX} characters"),
                );
            }
        }
    }
    errors
}

/// Growth in percent, `(current − previous) / previous × 100`, rounded once by
/// [`round_percent`]. `None` when `previous ≤ 0`: without a positive baseline growth means
/// nothing and the account is not ranked ([`REASON_NO_BASELINE`]).
pub fn growth_pct(current: Decimal, previous: Decimal) -> Option<Decimal> {
    // Metrics are sums of lines capped at 10^15, so the difference cannot overflow; the
    // checked form only keeps an absurd input from panicking.
    let change = current.checked_sub(previous)?;
    exact_percent(change, previous).map(round_percent)
}

/// One account as the caller measured it for a contest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Entrant {
    pub account_id: String,
    /// The metric over the contest window; `None` when growth has no baseline.
    #[serde(default, with = "crate::kernel::stored::decimal_option")]
    #[schema(value_type = Option<String>)]
    pub metric: Option<Decimal>,
    /// False when the account's tier at ends_on may not take part.
    pub eligible: bool,
    /// Why it may not ("tier_not_contest_eligible"); used when `eligible` is false.
    #[serde(default)]
    pub ineligible_reason: Option<String>,
}

/// A prize as one account receives it: cash is that account's share of the pooled prizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwardedPrize {
    pub kind: PrizeKind,
    /// The cash received, with exactly the currency's minor-unit places ("750.00").
    #[serde(default, with = "crate::kernel::stored::decimal_option")]
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
    /// The description of goods and honor (and of cash when the prize had one).
    #[serde(default)]
    pub description: Option<String>,
}

/// One line of the standings: ranked accounts carry a rank, the others a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Standing {
    /// Standard competition rank (1, 2, 2, 4); `null` for accounts not ranked.
    pub rank: Option<u32>,
    pub account_id: String,
    /// The metric as measured; `null` when growth has no baseline.
    #[serde(with = "crate::kernel::stored::decimal_option")]
    #[schema(value_type = Option<String>)]
    pub metric: Option<Decimal>,
    /// Whether the account's tier may take part.
    pub eligible: bool,
    /// Why the account is not ranked: "no_baseline", "metric_not_positive",
    /// "below_min_metric" or the reason it is not eligible; `null` when ranked.
    pub reason: Option<String>,
    /// What the account receives at this rank; empty without a prize.
    pub prizes: Vec<AwardedPrize>,
    /// True when the account shares a rank with others and received prizes pooled over
    /// the ranks the tie covers.
    pub tie_expanded: bool,
}

/// The standings of a contest (DESIGN §5.5).
///
/// Not ranked, and listed after the ranked accounts by account_id with the reason: the
/// ineligible (their own reason, else [`REASON_NOT_ELIGIBLE`]), those without a metric
/// ([`REASON_NO_BASELINE`]), those with a metric ≤ 0 ([`REASON_METRIC_NOT_POSITIVE`]) and
/// those below `min_metric` ([`REASON_BELOW_MIN_METRIC`]), checked in that order.
///
/// The others are sorted by metric descending, then account_id, and ranked 1, 2, 2, 4. A tie
/// group of t accounts at rank r covers ranks r..r+t−1: the cash prizes of those ranks are
/// pooled, rounded to the currency's minor unit and split equally in whole minor units; the
/// minor units left over go one each to the members by account_id ascending. Each member also
/// receives the non-cash prizes of rank r. No prize of a rank beyond the last rank covered
/// is awarded to anyone. Assumes `prizes` passed [`validate_prizes`] and account ids are
/// unique; a cash share of zero minor units is left out rather than listed as 0.
pub fn rank(
    entrants: Vec<Entrant>,
    min_metric: Option<Decimal>,
    prizes: &[Prize],
    currency: &str,
) -> Vec<Standing> {
    let mut ranked: Vec<Ranked> = Vec::new();
    let mut unranked: Vec<Standing> = Vec::new();
    for entrant in entrants {
        let reason = unranked_reason(&entrant, min_metric);
        match (reason, entrant.metric) {
            (None, Some(metric)) => ranked.push(Ranked {
                account_id: entrant.account_id,
                metric,
                eligible: entrant.eligible,
            }),
            (reason, metric) => unranked.push(Standing {
                rank: None,
                account_id: entrant.account_id,
                metric,
                eligible: entrant.eligible,
                reason,
                prizes: Vec::new(),
                tie_expanded: false,
            }),
        }
    }

    ranked.sort_by(|a, b| {
        b.metric
            .cmp(&a.metric)
            .then_with(|| a.account_id.cmp(&b.account_id))
    });
    unranked.sort_by(|a, b| {
        a.account_id
            .cmp(&b.account_id)
            .then_with(|| a.reason.cmp(&b.reason))
            .then_with(|| a.metric.cmp(&b.metric))
    });

    let places = minor_unit_places(currency);
    let mut standings = Vec::with_capacity(ranked.len() + unranked.len());
    let mut start = 0;
    while start < ranked.len() {
        // The tie group: every account from `start` with the same metric (Decimal equality is
        // by value, so "90000" and "90000.00" tie).
        let metric = ranked[start].metric;
        let end = start
            + ranked[start..]
                .iter()
                .take_while(|entry| entry.metric == metric)
                .count();
        let group = TieGroup {
            members: &ranked[start..end],
            first_rank: u32::try_from(start + 1).unwrap_or(u32::MAX),
            last_rank: u32::try_from(end).unwrap_or(u32::MAX),
        };
        standings.extend(group.standings(prizes, currency, places));
        start = end;
    }
    standings.extend(unranked);
    standings
}

/// An entrant to be ranked.
struct Ranked {
    account_id: String,
    metric: Decimal,
    eligible: bool,
}

/// Why an entrant is not ranked, checked in the order [`rank`] states; `None` when it is.
fn unranked_reason(entrant: &Entrant, min_metric: Option<Decimal>) -> Option<String> {
    if !entrant.eligible {
        return Some(
            entrant
                .ineligible_reason
                .clone()
                .unwrap_or_else(|| REASON_NOT_ELIGIBLE.to_string()),
        );
    }
    match entrant.metric {
        None => Some(REASON_NO_BASELINE.to_string()),
        Some(m) if m <= Decimal::ZERO => Some(REASON_METRIC_NOT_POSITIVE.to_string()),
        Some(m) if min_metric.is_some_and(|min| m < min) => {
            Some(REASON_BELOW_MIN_METRIC.to_string())
        }
        Some(_) => None,
    }
}

/// Accounts sharing one metric, sorted by account_id, at ranks `first_rank..=last_rank`.
struct TieGroup<'r> {
    members: &'r [Ranked],
    first_rank: u32,
    last_rank: u32,
}

impl TieGroup<'_> {
    /// The group's standings: each member at `first_rank` with its share of the pooled cash
    /// and the non-cash prizes of `first_rank`.
    fn standings(&self, prizes: &[Prize], currency: &str, places: u32) -> Vec<Standing> {
        let (first_rank, size) = (self.first_rank, self.members.len());
        let shares = split_cash(prizes, first_rank, self.last_rank, size, currency, places);
        let goods: Vec<AwardedPrize> = prizes
            .iter()
            .filter(|p| p.rank == first_rank && p.kind != PrizeKind::Cash)
            .map(|p| AwardedPrize {
                kind: p.kind,
                amount: None,
                description: p.description.clone(),
            })
            .collect();
        // A lone cash prize keeps its description; pooled cash has several, so none.
        let cash_description = if size == 1 {
            prizes
                .iter()
                .find(|p| p.rank == first_rank && p.kind == PrizeKind::Cash)
                .and_then(|p| p.description.clone())
        } else {
            None
        };
        let mut standings = Vec::with_capacity(size);
        for (member, ranked) in self.members.iter().enumerate() {
            let mut awarded = Vec::new();
            if let Some(share) = shares.get(member).copied().filter(|s| !s.is_zero()) {
                awarded.push(AwardedPrize {
                    kind: PrizeKind::Cash,
                    amount: Some(share),
                    description: cash_description.clone(),
                });
            }
            awarded.extend(goods.iter().cloned());
            standings.push(Standing {
                rank: Some(first_rank),
                account_id: ranked.account_id.clone(),
                metric: Some(ranked.metric),
                eligible: ranked.eligible,
                reason: None,
                tie_expanded: size > 1 && !awarded.is_empty(),
                prizes: awarded,
            });
        }
        standings
    }
}

/// The cash shares of a tie group of `size` members (sorted by account_id) covering ranks
/// `first_rank..=last_rank`, in the currency's minor unit: the pooled prizes rounded once,
/// split in whole minor units, the remainder one unit each to the first members. Empty when
/// the ranks covered hold no positive cash.
fn split_cash(
    prizes: &[Prize],
    first_rank: u32,
    last_rank: u32,
    size: usize,
    currency: &str,
    places: u32,
) -> Vec<Decimal> {
    let mut pool = Decimal::ZERO;
    for prize in prizes {
        if prize.kind == PrizeKind::Cash && (first_rank..=last_rank).contains(&prize.rank) {
            // Validated amounts are at most 10^15 each and there are at most 100, so the
            // sum is exact; saturating keeps an unvalidated list from panicking.
            pool = pool.saturating_add(prize.amount.unwrap_or_default());
        }
    }
    let mut pool = round_to_minor_unit(pool, currency);
    if pool <= Decimal::ZERO || size == 0 {
        return Vec::new();
    }
    pool.rescale(places);
    // After rescaling, the mantissa is the pool in minor units, exactly.
    let pool_minor = pool.mantissa();
    let members = size as i128;
    let (each, left_over) = (pool_minor / members, pool_minor % members);
    let shares: Vec<Decimal> = (0..members)
        .map(|i| Decimal::from_i128_with_scale(each + i128::from(i < left_over), places))
        .collect();
    debug_assert_eq!(
        shares.iter().map(|s| s.mantissa()).sum::<i128>(),
        pool_minor,
        "cash shares must add up to the pool"
    );
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn entrant(account_id: &str, metric: &str) -> Entrant {
        Entrant {
            account_id: account_id.into(),
            metric: Some(d(metric)),
            eligible: true,
            ineligible_reason: None,
        }
    }

    fn cash(rank: u32, amount: &str) -> Prize {
        Prize {
            rank,
            kind: PrizeKind::Cash,
            amount: Some(d(amount)),
            description: None,
        }
    }

    fn thing(rank: u32, kind: PrizeKind, description: &str) -> Prize {
        Prize {
            rank,
            kind,
            amount: None,
            description: Some(description.into()),
        }
    }

    fn podium() -> Vec<Prize> {
        vec![cash(1, "1500.00"), cash(2, "1000.00"), cash(3, "500.00")]
    }

    /// (rank, account, cash amounts as text) of each line, for compact assertions.
    fn summary(standings: &[Standing]) -> Vec<(Option<u32>, &str, Vec<String>)> {
        standings
            .iter()
            .map(|s| {
                let cash = s
                    .prizes
                    .iter()
                    .filter_map(|p| p.amount.map(|a| a.to_string()))
                    .collect();
                (s.rank, s.account_id.as_str(), cash)
            })
            .collect()
    }

    fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect()
    }

    #[test]
    fn standard_competition_ranking() {
        // Proves ties share a rank and the next rank skips the tied places (1, 2, 2, 4).
        let standings = rank(
            vec![
                entrant("D", "100"),
                entrant("B", "500"),
                entrant("A", "900"),
                entrant("C", "500.00"),
            ],
            None,
            &[],
            "CNY",
        );
        let ranks: Vec<(Option<u32>, &str)> = standings
            .iter()
            .map(|s| (s.rank, s.account_id.as_str()))
            .collect();
        assert_eq!(
            ranks,
            vec![
                (Some(1), "A"),
                (Some(2), "B"),
                (Some(2), "C"),
                (Some(4), "D")
            ]
        );
        assert!(standings
            .iter()
            .all(|s| s.prizes.is_empty() && !s.tie_expanded));
    }

    #[test]
    fn tie_for_second_pools_second_and_third_prizes() {
        // Proves two accounts tied for second split 1,000 + 500 (750.00 each) and nobody gets the third prize.
        let standings = rank(
            vec![
                entrant("KA-1", "90000"),
                entrant("KA-2", "50000"),
                entrant("KA-3", "50000"),
                entrant("KA-4", "10000"),
            ],
            None,
            &podium(),
            "CNY",
        );
        assert_eq!(
            summary(&standings),
            vec![
                (Some(1), "KA-1", vec!["1500.00".to_string()]),
                (Some(2), "KA-2", vec!["750.00".to_string()]),
                (Some(2), "KA-3", vec!["750.00".to_string()]),
                (Some(4), "KA-4", vec![]),
            ]
        );
        let flags: Vec<bool> = standings.iter().map(|s| s.tie_expanded).collect();
        assert_eq!(flags, vec![false, true, true, false]);
    }

    #[test]
    fn odd_cent_goes_to_the_lowest_account_id() {
        // Proves 1,000.00 over three tied accounts is 333.34, 333.33, 333.33 by account_id.
        let standings = rank(
            vec![entrant("C", "7"), entrant("A", "7"), entrant("B", "7")],
            None,
            &[cash(1, "1000.00")],
            "EUR",
        );
        assert_eq!(
            summary(&standings),
            vec![
                (Some(1), "A", vec!["333.34".to_string()]),
                (Some(1), "B", vec!["333.33".to_string()]),
                (Some(1), "C", vec!["333.33".to_string()]),
            ]
        );
        // Two cents left over (1.01 over three): the first two accounts get one each.
        let standings = rank(
            vec![entrant("C", "7"), entrant("A", "7"), entrant("B", "7")],
            None,
            &[cash(1, "1.00"), cash(3, "0.01")],
            "EUR",
        );
        assert_eq!(
            summary(&standings)
                .into_iter()
                .map(|(_, _, c)| c)
                .collect::<Vec<_>>(),
            vec![vec!["0.34"], vec!["0.34"], vec!["0.33"]]
        );
    }

    #[test]
    fn yen_splits_in_whole_units() {
        // Proves JPY prizes split in whole yen, the odd yen to the lowest account_id.
        let standings = rank(
            vec![entrant("B", "3"), entrant("A", "3")],
            None,
            &[cash(1, "10001"), cash(2, "5000")],
            "JPY",
        );
        assert_eq!(
            summary(&standings),
            vec![
                (Some(1), "A", vec!["7501".to_string()]),
                (Some(1), "B", vec!["7500".to_string()]),
            ]
        );
    }

    #[test]
    fn growth_without_baseline_is_listed_not_ranked() {
        // Proves growth needs a positive baseline and an account without one is listed with "no_baseline".
        assert_eq!(growth_pct(d("120"), d("100")), Some(d("20.00")));
        assert_eq!(growth_pct(d("80"), d("100")), Some(d("-20.00")));
        assert_eq!(growth_pct(d("1"), d("3")), Some(d("-66.67")));
        assert_eq!(growth_pct(d("100"), Decimal::ZERO), None);
        assert_eq!(growth_pct(d("100"), d("-5")), None);

        let standings = rank(
            vec![
                Entrant {
                    account_id: "A".into(),
                    metric: growth_pct(d("500"), Decimal::ZERO),
                    eligible: true,
                    ineligible_reason: None,
                },
                Entrant {
                    account_id: "B".into(),
                    metric: growth_pct(d("150"), d("100")),
                    eligible: true,
                    ineligible_reason: None,
                },
                Entrant {
                    account_id: "C".into(),
                    metric: growth_pct(d("90"), d("100")),
                    eligible: true,
                    ineligible_reason: None,
                },
            ],
            None,
            &podium(),
            "CNY",
        );
        assert_eq!(standings[0].account_id, "B");
        assert_eq!(standings[0].rank, Some(1));
        assert_eq!(standings[0].metric, Some(d("50.00")));
        let unranked: Vec<(&str, Option<&str>)> = standings[1..]
            .iter()
            .map(|s| (s.account_id.as_str(), s.reason.as_deref()))
            .collect();
        assert_eq!(
            unranked,
            vec![
                ("A", Some("no_baseline")),
                ("C", Some("metric_not_positive"))
            ]
        );
        assert!(standings[1..]
            .iter()
            .all(|s| s.rank.is_none() && s.prizes.is_empty()));
    }

    #[test]
    fn ineligible_accounts_are_listed_not_ranked() {
        // Proves an ineligible account, however strong, is listed last with its reason and takes no prize.
        let standings = rank(
            vec![
                Entrant {
                    account_id: "A".into(),
                    metric: Some(d("99999")),
                    eligible: false,
                    ineligible_reason: Some("tier_not_contest_eligible".into()),
                },
                Entrant {
                    account_id: "Z".into(),
                    metric: Some(d("5")),
                    eligible: false,
                    ineligible_reason: None,
                },
                entrant("B", "10"),
            ],
            None,
            &podium(),
            "CNY",
        );
        assert_eq!(
            summary(&standings),
            vec![
                (Some(1), "B", vec!["1500.00".to_string()]),
                (None, "A", vec![]),
                (None, "Z", vec![]),
            ]
        );
        assert!(!standings[1].eligible);
        assert_eq!(
            standings[1].reason.as_deref(),
            Some("tier_not_contest_eligible")
        );
        assert_eq!(standings[1].metric, Some(d("99999")));
        assert_eq!(standings[2].reason.as_deref(), Some("not_eligible"));
    }

    #[test]
    fn below_min_metric_is_listed_not_ranked() {
        // Proves min_metric is inclusive and accounts below it are unranked, so prizes go to those above.
        let standings = rank(
            vec![
                entrant("A", "999.99"),
                entrant("B", "1000"),
                entrant("C", "5000"),
            ],
            Some(d("1000")),
            &podium(),
            "CNY",
        );
        assert_eq!(
            summary(&standings),
            vec![
                (Some(1), "C", vec!["1500.00".to_string()]),
                (Some(2), "B", vec!["1000.00".to_string()]),
                (None, "A", vec![]),
            ]
        );
        assert_eq!(standings[2].reason.as_deref(), Some("below_min_metric"));
    }

    #[test]
    fn goods_and_honor_go_to_every_tie_member() {
        // Proves each tie member receives the non-cash prize of the shared rank, flagged tie_expanded, and not those of later ranks.
        let standings = rank(
            vec![entrant("A", "10"), entrant("B", "10"), entrant("C", "5")],
            None,
            &[
                thing(1, PrizeKind::Honor, "Partner of the year"),
                thing(2, PrizeKind::Goods, "Trip to Sanya"),
                thing(3, PrizeKind::Goods, "Tablet"),
            ],
            "CNY",
        );
        for s in &standings[..2] {
            assert_eq!(s.rank, Some(1));
            assert!(s.tie_expanded);
            assert_eq!(
                s.prizes,
                vec![AwardedPrize {
                    kind: PrizeKind::Honor,
                    amount: None,
                    description: Some("Partner of the year".into()),
                }]
            );
        }
        assert_eq!(standings[2].rank, Some(3));
        assert_eq!(
            standings[2].prizes[0].description.as_deref(),
            Some("Tablet")
        );
        assert!(!standings[2].tie_expanded);

        // A tie at rank 2 with goods at rank 2 and cash at ranks 2..3.
        let standings = rank(
            vec![entrant("A", "10"), entrant("B", "5"), entrant("C", "5")],
            None,
            &[
                thing(1, PrizeKind::Honor, "Partner of the year"),
                thing(2, PrizeKind::Goods, "Trip to Sanya"),
                cash(3, "600.00"),
            ],
            "CNY",
        );
        for s in &standings[1..] {
            assert!(s.tie_expanded);
            assert_eq!(s.prizes.len(), 2);
            assert_eq!(s.prizes[0].amount, Some(d("300.00")));
            assert_eq!(s.prizes[1].kind, PrizeKind::Goods);
        }
        assert!(!standings[0].tie_expanded);
    }

    #[test]
    fn validation_codes_and_paths() {
        // Proves each prize error has its stable code and field path, and a good list has none.
        assert!(validate_prizes(&podium(), "CNY").is_empty());
        assert!(validate_prizes(&[cash(1, "1500"), cash(2, "800.50")], "EUR").is_empty());
        assert!(validate_prizes(&[cash(1, "1500")], "JPY").is_empty());
        // Places count as written: "1500.00" yen carries places the yen does not have.
        assert_eq!(
            codes(&validate_prizes(&[cash(1, "1500.00")], "JPY")),
            vec![("prizes[0].amount", "too_many_decimals")]
        );
        assert!(validate_prizes(&[thing(1, PrizeKind::Goods, "TV")], "CNY").is_empty());
        let errors = validate_prizes(
            &[
                cash(0, "10"),
                cash(1, "10"),
                cash(1, "10"),
                Prize {
                    rank: 2,
                    kind: PrizeKind::Cash,
                    amount: None,
                    description: Some("ok".into()),
                },
                cash(3, "-1"),
                cash(4, "0"),
                cash(5, "1.005"),
                Prize {
                    rank: 6,
                    kind: PrizeKind::Goods,
                    amount: Some(d("5")),
                    description: Some("  ".into()),
                },
                Prize {
                    rank: 7,
                    kind: PrizeKind::Honor,
                    amount: None,
                    description: None,
                },
                thing(8, PrizeKind::Honor, &"x".repeat(TEXT_LENGTH_MAX + 1)),
            ],
            "CNY",
        );
        assert_eq!(
            codes(&errors),
            vec![
                ("prizes[0].rank", "invalid_rank"),
                ("prizes[2].rank", "duplicate_rank"),
                ("prizes[3].amount", "missing_amount"),
                ("prizes[4].amount", "invalid_amount"),
                ("prizes[5].amount", "invalid_amount"),
                ("prizes[6].amount", "too_many_decimals"),
                ("prizes[7].amount", "unexpected_amount"),
                ("prizes[7].description", "missing_description"),
                ("prizes[8].description", "missing_description"),
                ("prizes[9].description", "too_long"),
            ]
        );
        assert_eq!(
            codes(&validate_prizes(&[cash(1, "100.5")], "JPY")),
            vec![("prizes[0].amount", "too_many_decimals")]
        );
        let many: Vec<Prize> = (1..=CONTEST_PRIZES_MAX as u32 + 1)
            .map(|r| cash(r, "1"))
            .collect();
        assert_eq!(
            codes(&validate_prizes(&many, "CNY")),
            vec![("prizes", "too_many_prizes")]
        );
    }

    #[test]
    fn json_forms() {
        // Proves decimals are strings, enums snake_case, unranked rank null, unknown prize fields refused, and the binary form round-trips.
        let prize: Prize =
            serde_json::from_str(r#"{"rank":1,"kind":"cash","amount":"1500.00"}"#).unwrap();
        assert_eq!(prize, cash(1, "1500.00"));
        assert!(serde_json::from_str::<Prize>(r#"{"rank":1,"kind":"cash","x":1}"#).is_err());
        assert_eq!(
            serde_json::to_string(&ContestMetric::GrowthPct).unwrap(),
            r#""growth_pct""#
        );
        assert_eq!("net_revenue".parse(), Ok(ContestMetric::NetRevenue));
        assert!("revenue".parse::<ContestMetric>().is_err());
        assert_eq!("honor".parse(), Ok(PrizeKind::Honor));

        let standings = rank(
            vec![entrant("KA-1", "90000.00"), entrant("KA-2", "-1")],
            None,
            &podium(),
            "CNY",
        );
        let json = serde_json::to_value(&standings).unwrap();
        assert_eq!(json[0]["rank"], 1);
        assert_eq!(json[0]["metric"], "90000.00");
        assert_eq!(json[0]["prizes"][0]["kind"], "cash");
        assert_eq!(json[0]["prizes"][0]["amount"], "1500.00");
        assert_eq!(json[0]["reason"], serde_json::Value::Null);
        assert_eq!(json[0]["tie_expanded"], false);
        assert_eq!(json[1]["rank"], serde_json::Value::Null);
        assert_eq!(json[1]["reason"], "metric_not_positive");
        let back: Vec<Standing> = serde_json::from_value(json).unwrap();
        assert_eq!(back, standings);
        let bytes = crate::ledger::codec::encode(&standings);
        assert_eq!(
            crate::ledger::codec::decode::<Vec<Standing>>(&bytes).unwrap(),
            standings
        );
        let prizes = vec![cash(1, "1500.00"), thing(2, PrizeKind::Honor, "Star")];
        let bytes = crate::ledger::codec::encode(&prizes);
        assert_eq!(
            crate::ledger::codec::decode::<Vec<Prize>>(&bytes).unwrap(),
            prizes
        );
    }

    /// Entrants with unique ids; metrics from a small range so ties are common, some
    /// without a metric and some ineligible.
    fn any_entrants() -> impl Strategy<Value = Vec<Entrant>> {
        proptest::collection::vec((proptest::option::of(-2i64..8), any::<bool>()), 0..14).prop_map(
            |rows| {
                rows.into_iter()
                    .enumerate()
                    .map(|(i, (metric, eligible_bit))| Entrant {
                        account_id: format!("KA-{i:02}"),
                        metric: metric.map(|m| Decimal::new(m * 125, 1)),
                        eligible: eligible_bit || i % 3 != 0,
                        ineligible_reason: None,
                    })
                    .collect()
            },
        )
    }

    /// A valid prize list: unique ranks 1..=10, a mix of cash (cents) and goods.
    fn any_prizes() -> impl Strategy<Value = Vec<Prize>> {
        proptest::collection::btree_map(1u32..=10, (1i64..1_000_000, any::<bool>()), 0..8).prop_map(
            |ranks| {
                ranks
                    .into_iter()
                    .map(|(rank, (cents, is_cash))| {
                        if is_cash {
                            Prize {
                                rank,
                                kind: PrizeKind::Cash,
                                amount: Some(Decimal::new(cents, 2)),
                                description: None,
                            }
                        } else {
                            thing(rank, PrizeKind::Goods, "goods")
                        }
                    })
                    .collect()
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn awarded_cash_is_exactly_the_prizes_of_covered_ranks(
            entrants in any_entrants(),
            prizes in any_prizes(),
            min in proptest::option::of(0i64..40),
        ) {
            // Proves cash awarded adds up to exactly the cash prizes of ranks 1..=number ranked.
            prop_assert!(validate_prizes(&prizes, "CNY").is_empty());
            let min_metric = min.map(|m| Decimal::new(m, 1));
            let standings = rank(entrants, min_metric, &prizes, "CNY");
            let ranked = standings.iter().filter(|s| s.rank.is_some()).count() as u32;
            let expected: Decimal = prizes
                .iter()
                .filter(|p| p.kind == PrizeKind::Cash && p.rank <= ranked)
                .filter_map(|p| p.amount)
                .sum();
            let awarded: Decimal = standings
                .iter()
                .flat_map(|s| s.prizes.iter())
                .filter_map(|p| p.amount)
                .sum();
            prop_assert_eq!(awarded, expected);
            for s in &standings {
                for p in &s.prizes {
                    if let Some(a) = p.amount {
                        prop_assert!(a > Decimal::ZERO);
                        prop_assert_eq!(a.scale(), 2);
                    }
                }
                prop_assert_eq!(s.rank.is_none(), s.reason.is_some());
                if s.rank.is_none() {
                    prop_assert!(s.prizes.is_empty());
                }
            }
        }

        #[test]
        fn ranks_are_standard_competition_ranks(entrants in any_entrants()) {
            // Proves each rank is 1 + the number of ranked accounts with a strictly higher metric, ranked first.
            let standings = rank(entrants, None, &[], "CNY");
            let ranked: Vec<&Standing> = standings.iter().filter(|s| s.rank.is_some()).collect();
            prop_assert!(standings[..ranked.len()].iter().all(|s| s.rank.is_some()));
            for s in &ranked {
                let above = ranked.iter().filter(|o| o.metric > s.metric).count() as u32;
                prop_assert_eq!(s.rank, Some(above + 1));
            }
            for pair in ranked.windows(2) {
                prop_assert!(pair[0].metric >= pair[1].metric);
            }
        }

        #[test]
        fn standings_do_not_depend_on_input_order(
            (entrants, shuffled) in any_entrants()
                .prop_flat_map(|e| (Just(e.clone()), Just(e).prop_shuffle())),
            prizes in any_prizes(),
        ) {
            // Proves the same entrants in any order give identical standings.
            let min_metric = Some(Decimal::new(25, 1));
            prop_assert_eq!(
                rank(entrants, min_metric, &prizes, "CNY"),
                rank(shuffled, min_metric, &prizes, "CNY")
            );
        }
    }
}
