//! Property tests of rebate accruals at the engine level: for random programs (tiers,
//! method, basis, scope, cap, early end), random enrollments (retroactive, ended, renewed)
//! and random sales and returns over several periods, recorded in a random order, every
//! (program, account, period) accrual equals a brute-force recomputation from the raw
//! inputs, live, through the HTTP read, after a replay of the log, and as known at a
//! cutoff in the middle of the recording.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use kaledger::domain::commands::{DefineProgram, OpenAccount, ReturnLineInput, SaleLineInput};
use kaledger::domain::vocab::{Role, Scope, Stage};
use kaledger::domain::Command;
use kaledger::engine::{replay, Engine, LineHome, WriteMeta};
use kaledger::ledger::Actor;
use kaledger::projections::accruals::AccrualTotals;
use kaledger::rules::calendar::{month_index, Period, PeriodKind};
use kaledger::rules::rebates::{compute, RebateBasis, RebateMethod, RebateTier};
use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};

/// Cases per property: each opens a sled directory and records dozens of commands.
const CASES: u32 = 40;
/// Sales fall within this many days of [`span_start`] (five quarters or so).
const SPAN_DAYS: u64 = 450;
const SKUS: usize = 3;
const CATEGORIES: usize = 2;

fn span_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 7, 1).expect("date")
}

fn day(offset: u64) -> NaiveDate {
    span_start() + Days::new(offset)
}

fn cents(amount: i64) -> Decimal {
    Decimal::new(amount, 2)
}

fn account_id(index: usize) -> String {
    format!("KA-{index}")
}

fn program_id(index: usize) -> String {
    format!("P-{index}")
}

fn sku(index: usize) -> String {
    format!("S{index}")
}

fn category(index: usize) -> String {
    format!("C{index}")
}

/// A program as generated.
#[derive(Debug, Clone)]
struct ProgramSpec {
    kind: usize,
    start_day: u64,
    length_days: u64,
    basis: usize,
    incremental: bool,
    /// Steps between tier starts (cents for money, units for quantity) and rates (hundredths).
    tier_steps: Vec<i64>,
    rates: Vec<i64>,
    cap_cents: Option<i64>,
    /// Bit masks over the skus and categories (0: no restriction).
    sku_mask: u8,
    category_mask: u8,
    /// Early end, as an offset into the program's days (below its length).
    early_end: Option<u64>,
}

/// An enrollment of (program, account) as generated: first span, optional end, optional
/// second span with optional end. Offsets are days relative to the program's start.
#[derive(Debug, Clone)]
struct EnrollmentSpec {
    from_offset: i64,
    first_length: Option<u64>,
    second_gap: Option<u64>,
    second_length: Option<u64>,
}

#[derive(Debug, Clone)]
struct SaleSpec {
    account: usize,
    day: u64,
    sku: usize,
    category: usize,
    quantity: u32,
    net_cents: i64,
    cost_percent: Option<i64>,
}

#[derive(Debug, Clone)]
struct ReturnSpec {
    sale: usize,
    delay_days: u64,
    quantity: u32,
    net_per_mille: i64,
    cost_per_mille: i64,
}

#[derive(Debug, Clone)]
struct Scenario {
    accounts: usize,
    programs: Vec<ProgramSpec>,
    /// One per (program, account), row-major.
    enrollments: Vec<Option<EnrollmentSpec>>,
    sales: Vec<SaleSpec>,
    returns: Vec<ReturnSpec>,
    /// Seeds of the recording order.
    order: u64,
}

fn program_spec() -> impl Strategy<Value = ProgramSpec> {
    (
        (0usize..3, 0u64..200, 1u64..420, 0usize..3, any::<bool>()),
        prop::collection::vec((1i64..3_000_000, 0i64..1500), 0..4),
        0i64..1500,
        prop_oneof![2 => Just(None), 1 => (0i64..200_000).prop_map(Some)],
        (
            prop_oneof![2 => Just(0u8), 1 => 1u8..8],
            prop_oneof![2 => Just(0u8), 1 => 1u8..4],
        ),
        prop_oneof![2 => Just(None), 1 => any::<u64>().prop_map(Some)],
    )
        .prop_map(
            |(
                (kind, start_day, length_days, basis, incremental),
                steps,
                first_rate,
                cap_cents,
                (sku_mask, category_mask),
                early,
            )| {
                let mut rates = vec![first_rate];
                rates.extend(steps.iter().map(|(_, r)| *r));
                ProgramSpec {
                    kind,
                    start_day,
                    length_days,
                    basis,
                    incremental,
                    tier_steps: steps.iter().map(|(s, _)| *s).collect(),
                    rates,
                    cap_cents,
                    sku_mask,
                    category_mask,
                    early_end: early.map(|e| e % length_days),
                }
            },
        )
}

fn enrollment_spec() -> impl Strategy<Value = Option<EnrollmentSpec>> {
    prop_oneof![
        1 => Just(None),
        3 => (
            -60i64..150,
            prop_oneof![Just(None), (0u64..300).prop_map(Some)],
            prop_oneof![Just(None), (0u64..100).prop_map(Some)],
            prop_oneof![Just(None), (0u64..200).prop_map(Some)],
        )
            .prop_map(|(from_offset, first_length, second_gap, second_length)| {
                Some(EnrollmentSpec {
                    from_offset,
                    first_length,
                    second_gap,
                    second_length,
                })
            }),
    ]
}

fn sale_spec(accounts: usize) -> impl Strategy<Value = SaleSpec> {
    (
        0..accounts,
        0..SPAN_DAYS,
        0..SKUS,
        0..CATEGORIES,
        1u32..50,
        prop_oneof![1 => Just(0i64), 9 => 1i64..2_000_000],
        prop_oneof![Just(None), (0i64..=150).prop_map(Some)],
    )
        .prop_map(
            |(account, day, sku, category, quantity, net_cents, cost_percent)| SaleSpec {
                account,
                day,
                sku,
                category,
                quantity,
                net_cents,
                cost_percent,
            },
        )
}

fn return_spec() -> impl Strategy<Value = ReturnSpec> {
    (0usize..1000, 0u64..200, 1u32..50, 0i64..=1000, 0i64..=1000).prop_map(
        |(sale, delay_days, quantity, net_per_mille, cost_per_mille)| ReturnSpec {
            sale,
            delay_days,
            quantity,
            net_per_mille,
            cost_per_mille,
        },
    )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1usize..=3, 1usize..=3).prop_flat_map(|(accounts, programs)| {
        (
            prop::collection::vec(program_spec(), programs),
            prop::collection::vec(enrollment_spec(), programs * accounts),
            prop::collection::vec(sale_spec(accounts), 5..60),
            prop::collection::vec(return_spec(), 0..15),
            any::<u64>(),
        )
            .prop_map(
                move |(programs, enrollments, sales, returns, order)| Scenario {
                    accounts,
                    programs,
                    enrollments,
                    sales,
                    returns,
                    order,
                },
            )
    })
}

/// A program as the brute force sees it (as it finally stands).
#[derive(Debug, Clone)]
struct RawProgram {
    id: String,
    kind: PeriodKind,
    starts_on: NaiveDate,
    defined_ends_on: NaiveDate,
    ends_on: NaiveDate,
    basis: RebateBasis,
    method: RebateMethod,
    tiers: Vec<RebateTier>,
    cap: Option<Decimal>,
    skus: Vec<String>,
    categories: Vec<String>,
}

/// One enrollment span: from, and the last day when ended.
#[derive(Debug, Clone, Copy)]
struct Span {
    from: NaiveDate,
    to: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
struct RawSale {
    account: String,
    on: NaiveDate,
    sku: String,
    category: String,
    quantity: Decimal,
    net: Decimal,
    cost: Option<Decimal>,
}

#[derive(Debug, Clone)]
struct RawReturn {
    sale: usize,
    on: NaiveDate,
    quantity: Decimal,
    net: Decimal,
    cost: Decimal,
}

fn raw_program(index: usize, spec: &ProgramSpec) -> RawProgram {
    let kind = [
        PeriodKind::Monthly,
        PeriodKind::Quarterly,
        PeriodKind::Annual,
    ][spec.kind];
    let basis = [
        RebateBasis::NetRevenue,
        RebateBasis::Quantity,
        RebateBasis::GrossMargin,
    ][spec.basis];
    let starts_on = day(spec.start_day);
    let defined_ends_on = starts_on + Days::new(spec.length_days);
    let ends_on = spec
        .early_end
        .map_or(defined_ends_on, |offset| starts_on + Days::new(offset));
    // Money tiers step in cents; quantity tiers in whole units (a few dozen at most).
    let mut from = Decimal::ZERO;
    let mut tiers = vec![RebateTier {
        from,
        rate: Decimal::ZERO,
    }];
    for step in &spec.tier_steps {
        from += if basis.is_money() {
            cents(*step)
        } else {
            Decimal::from(1 + step % 60)
        };
        tiers.push(RebateTier {
            from,
            rate: Decimal::ZERO,
        });
    }
    for (tier, rate) in tiers.iter_mut().zip(&spec.rates) {
        tier.rate = cents(*rate);
    }
    let pick = |mask: u8, count: usize, name: fn(usize) -> String| -> Vec<String> {
        (0..count)
            .filter(|i| mask & (1 << i) != 0)
            .map(name)
            .collect()
    };
    RawProgram {
        id: program_id(index),
        kind,
        starts_on,
        defined_ends_on,
        ends_on,
        basis,
        method: if spec.incremental {
            RebateMethod::Incremental
        } else {
            RebateMethod::AllUnits
        },
        tiers,
        cap: spec.cap_cents.map(cents),
        skus: pick(spec.sku_mask, SKUS, sku),
        categories: pick(spec.category_mask, CATEGORIES, category),
    }
}

/// The spans of an enrollment spec, kept within what the ledger accepts: every span
/// starts on or before the program's (possibly early) last day, a second span starts
/// after the first one's end.
fn spans(program: &RawProgram, spec: &EnrollmentSpec) -> Vec<Span> {
    let signed = |offset: i64| {
        if offset >= 0 {
            program.starts_on + Days::new(offset as u64)
        } else {
            program.starts_on - Days::new(offset.unsigned_abs())
        }
    };
    let from = signed(spec.from_offset).min(program.ends_on);
    let to = spec.first_length.map(|l| from + Days::new(l));
    let mut spans = vec![Span { from, to }];
    if let (Some(to), Some(gap)) = (to, spec.second_gap) {
        let second = to + Days::new(1 + gap);
        if second <= program.ends_on {
            spans.push(Span {
                from: second,
                to: spec.second_length.map(|l| second + Days::new(l)),
            });
        }
    }
    spans
}

/// The returns asked for, clipped to what is left of each sale, with a stated cost.
fn plan_returns(sales: &[RawSale], specs: &[ReturnSpec]) -> Vec<RawReturn> {
    let mut left: Vec<(Decimal, Decimal, Decimal)> = sales
        .iter()
        .map(|s| (s.quantity, s.net, s.cost.unwrap_or(s.net)))
        .collect();
    let mut planned = Vec::new();
    for spec in specs {
        let index = spec.sale % sales.len();
        let (quantity_left, net_left, cost_left) = left[index];
        let quantity = Decimal::from(spec.quantity).min(quantity_left);
        if quantity <= Decimal::ZERO {
            continue;
        }
        let share = |amount: Decimal, per_mille: i64| {
            (amount * Decimal::from(per_mille) / Decimal::from(1000))
                .round_dp_with_strategy(2, RoundingStrategy::ToZero)
        };
        let net = share(net_left, spec.net_per_mille);
        let cost = share(cost_left, spec.cost_per_mille);
        left[index] = (quantity_left - quantity, net_left - net, cost_left - cost);
        planned.push(RawReturn {
            sale: index,
            on: sales[index].on + Days::new(spec.delay_days),
            quantity,
            net,
            cost,
        });
    }
    planned
}

/// Something to record (see [`recording_order`] for what each depends on).
#[derive(Debug, Clone)]
enum Action {
    Define(usize),
    End(usize),
    Enroll(usize, usize, Span),
    Unenroll(usize, usize, NaiveDate),
    Sale(usize),
    Return(usize),
}

/// A tiny deterministic generator for the recording order (xorshift64*).
struct Shuffle(u64);

impl Shuffle {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Every action in a random order in which each comes after what it depends on: an
/// action's key is the larger of its own random key and its dependency's, ties broken by
/// depth in the chain.
fn recording_order(
    programs: &[RawProgram],
    early_ends: &[bool],
    spans: &BTreeMap<(usize, usize), Vec<Span>>,
    sales: usize,
    returns: &[RawReturn],
    seed: u64,
) -> Vec<Action> {
    let mut shuffle = Shuffle(seed | 1);
    let mut keyed: Vec<((u64, u32, usize), Action)> = Vec::new();
    let push = |keyed: &mut Vec<((u64, u32, usize), Action)>,
                parent: Option<(u64, u32)>,
                action: Action,
                shuffle: &mut Shuffle|
     -> (u64, u32) {
        let own = shuffle.next() % 1000;
        let (key, depth) = match parent {
            Some((k, d)) => (own.max(k), d + 1),
            None => (own, 0),
        };
        let n = keyed.len();
        keyed.push(((key, depth, n), action));
        (key, depth)
    };
    for (p, _) in programs.iter().enumerate() {
        let defined = push(&mut keyed, None, Action::Define(p), &mut shuffle);
        if early_ends[p] {
            push(&mut keyed, Some(defined), Action::End(p), &mut shuffle);
        }
        for ((program, account), list) in spans.range((p, 0)..(p + 1, 0)) {
            let mut parent = defined;
            for span in list {
                parent = push(
                    &mut keyed,
                    Some(parent),
                    Action::Enroll(*program, *account, *span),
                    &mut shuffle,
                );
                if let Some(to) = span.to {
                    parent = push(
                        &mut keyed,
                        Some(parent),
                        Action::Unenroll(*program, *account, to),
                        &mut shuffle,
                    );
                }
            }
        }
    }
    let sale_keys: Vec<(u64, u32)> = (0..sales)
        .map(|s| push(&mut keyed, None, Action::Sale(s), &mut shuffle))
        .collect();
    // Returns of one sale stay in order (each was clipped to what the earlier ones left).
    let mut last_of_sale: BTreeMap<usize, (u64, u32)> = BTreeMap::new();
    for (r, ret) in returns.iter().enumerate() {
        let parent = last_of_sale
            .get(&ret.sale)
            .copied()
            .unwrap_or(sale_keys[ret.sale]);
        let key = push(&mut keyed, Some(parent), Action::Return(r), &mut shuffle);
        last_of_sale.insert(ret.sale, key);
    }
    keyed.sort_by_key(|(key, _)| *key);
    keyed.into_iter().map(|(_, action)| action).collect()
}

fn meta() -> WriteMeta {
    WriteMeta::new(
        Actor {
            name: "property".into(),
            role: "admin".into(),
        },
        None,
        &[],
        "property".into(),
    )
}

fn submit(engine: &Engine, command: Command) {
    engine
        .submit_blocking(command, meta())
        .unwrap_or_else(|e| panic!("command refused: {e}"));
}

fn sale_input(index: usize, s: &RawSale) -> SaleLineInput {
    SaleLineInput {
        account_id: Some(s.account.clone()),
        invoice_id: Some(format!("INV-{index}")),
        line: Some("1".into()),
        sku: Some(s.sku.clone()),
        category: Some(s.category.clone()),
        quantity: Some(s.quantity.to_string()),
        net_amount: Some(s.net.to_string()),
        cost_amount: s.cost.map(|c| c.to_string()),
        currency: None,
        occurred_on: Some(s.on.to_string()),
    }
}

fn return_input(index: usize, r: &RawReturn, sales: &[RawSale]) -> ReturnLineInput {
    ReturnLineInput {
        account_id: Some(sales[r.sale].account.clone()),
        return_id: Some(format!("RET-{index}")),
        invoice_id: Some(format!("INV-{}", r.sale)),
        line: Some("1".into()),
        quantity: Some(r.quantity.to_string()),
        net_amount: Some(r.net.to_string()),
        cost_amount: Some(r.cost.to_string()),
        occurred_on: Some(r.on.to_string()),
    }
}

/// Records the actions in order; runs of sales (or of returns) go in one batch each.
fn record(
    engine: &Engine,
    actions: &[Action],
    programs: &[RawProgram],
    sales: &[RawSale],
    returns: &[RawReturn],
) {
    let mut sale_batch: Vec<SaleLineInput> = Vec::new();
    let mut return_batch: Vec<ReturnLineInput> = Vec::new();
    let flush = |sale_batch: &mut Vec<SaleLineInput>, return_batch: &mut Vec<ReturnLineInput>| {
        if !sale_batch.is_empty() {
            submit(
                engine,
                Command::RecordSales {
                    lines: std::mem::take(sale_batch),
                },
            );
        }
        if !return_batch.is_empty() {
            submit(
                engine,
                Command::RecordReturns {
                    lines: std::mem::take(return_batch),
                },
            );
        }
    };
    for action in actions {
        match action {
            Action::Sale(s) => {
                if !return_batch.is_empty() {
                    flush(&mut sale_batch, &mut return_batch);
                }
                sale_batch.push(sale_input(*s, &sales[*s]));
                continue;
            }
            Action::Return(r) => {
                if !sale_batch.is_empty() {
                    flush(&mut sale_batch, &mut return_batch);
                }
                return_batch.push(return_input(*r, &returns[*r], sales));
                continue;
            }
            _ => flush(&mut sale_batch, &mut return_batch),
        }
        let command = match action {
            Action::Define(p) => {
                let program = &programs[*p];
                let list = |items: &Vec<String>| (!items.is_empty()).then(|| items.clone());
                Command::DefineProgram(DefineProgram {
                    program_id: program.id.clone(),
                    name: format!("Program {}", program.id),
                    currency: "CNY".into(),
                    period: program.kind,
                    starts_on: program.starts_on,
                    ends_on: program.defined_ends_on,
                    basis: program.basis,
                    method: program.method,
                    tiers: program.tiers.clone(),
                    cap: program.cap,
                    scope_skus: list(&program.skus),
                    scope_categories: list(&program.categories),
                    eligible_tiers: None,
                })
            }
            Action::End(p) => Command::EndProgram {
                program_id: programs[*p].id.clone(),
                ends_on: programs[*p].ends_on,
                reason: "property".into(),
            },
            Action::Enroll(p, a, span) => Command::Enroll {
                program_id: programs[*p].id.clone(),
                account_id: account_id(*a),
                effective_from: span.from,
            },
            Action::Unenroll(p, a, to) => Command::Unenroll {
                program_id: programs[*p].id.clone(),
                account_id: account_id(*a),
                effective_to: *to,
            },
            Action::Sale(_) | Action::Return(_) => unreachable!("handled above"),
        };
        submit(engine, command);
    }
    flush(&mut sale_batch, &mut return_batch);
}

/// The periods of a program: (clipped start, clipped end), in order.
fn program_periods(program: &RawProgram) -> Vec<(NaiveDate, NaiveDate)> {
    let mut periods = Vec::new();
    let mut day = program.starts_on;
    while day <= program.ends_on {
        let calendar = Period::containing(program.kind, day);
        periods.push((day, calendar.end.min(program.ends_on)));
        day = calendar.end + Days::new(1);
    }
    periods
}

/// The totals of (program, account) by clipped period start, by plain loops over the raw
/// inputs: a line counts when the program runs on its sale's day, a span of the account
/// covers that day, and its sku and category are in scope; a return counts like its sale,
/// in its sale's period.
fn brute_force(
    program: &RawProgram,
    account: &str,
    spans: &[Span],
    sales: &[RawSale],
    sales_known: &[bool],
    returns: &[RawReturn],
) -> BTreeMap<NaiveDate, AccrualTotals> {
    let counts = |index: usize| {
        let sale = &sales[index];
        sales_known[index]
            && sale.account == account
            && program.starts_on <= sale.on
            && sale.on <= program.ends_on
            && spans
                .iter()
                .any(|s| s.from <= sale.on && s.to.is_none_or(|to| sale.on <= to))
            && (program.skus.is_empty() || program.skus.contains(&sale.sku))
            && (program.categories.is_empty() || program.categories.contains(&sale.category))
    };
    let period_start = |on: NaiveDate| {
        Period::containing(program.kind, on)
            .start
            .max(program.starts_on)
    };
    let mut totals: BTreeMap<NaiveDate, AccrualTotals> = BTreeMap::new();
    for (_, sale) in sales.iter().enumerate().filter(|(i, _)| counts(*i)) {
        let t = totals.entry(period_start(sale.on)).or_default();
        t.net += sale.net;
        t.cost += sale.cost.unwrap_or(sale.net);
        t.quantity += sale.quantity;
        t.lines += 1;
    }
    for ret in returns {
        let sale = &sales[ret.sale];
        if counts(ret.sale) {
            let t = totals.entry(period_start(sale.on)).or_default();
            t.net -= ret.net;
            t.cost -= ret.cost;
            t.quantity -= ret.quantity;
            t.lines += 1;
        }
    }
    totals
}

/// What had been recorded by a cutoff, read off the actions before it.
struct Prefix {
    defined: Vec<bool>,
    ended: Vec<bool>,
    spans: BTreeMap<(usize, usize), Vec<Span>>,
    sales: Vec<bool>,
    returns: Vec<RawReturn>,
}

impl Prefix {
    fn of(
        actions: &[Action],
        programs: &[RawProgram],
        returns: &[RawReturn],
        sales: usize,
    ) -> Prefix {
        let mut prefix = Prefix {
            defined: vec![false; programs.len()],
            ended: vec![false; programs.len()],
            spans: BTreeMap::new(),
            sales: vec![false; sales],
            returns: Vec::new(),
        };
        for action in actions {
            match action {
                Action::Define(p) => prefix.defined[*p] = true,
                Action::End(p) => prefix.ended[*p] = true,
                Action::Enroll(p, a, span) => {
                    prefix.spans.entry((*p, *a)).or_default().push(Span {
                        from: span.from,
                        to: None,
                    })
                }
                Action::Unenroll(p, a, to) => {
                    let last = prefix
                        .spans
                        .get_mut(&(*p, *a))
                        .and_then(|list| list.last_mut())
                        .expect("an unenrollment follows its enrollment");
                    last.to = Some(*to);
                }
                Action::Sale(s) => prefix.sales[*s] = true,
                Action::Return(r) => prefix.returns.push(returns[*r].clone()),
            }
        }
        prefix
    }
}

/// The basis a program measures, from totals.
fn basis_of(program: &RawProgram, t: &AccrualTotals) -> Decimal {
    match program.basis {
        RebateBasis::NetRevenue => t.net,
        RebateBasis::Quantity => t.quantity,
        RebateBasis::GrossMargin => t.net - t.cost,
    }
}

/// The program accruals of every period over HTTP (in-process) as an auditor.
fn http_accruals(engine: &Arc<Engine>, asks: &[(String, String)]) -> Vec<(u16, serde_json::Value)> {
    use tower::ServiceExt;
    let (token, token_sha256) = kaledger::kernel::token::new_token().expect("randomness");
    submit(
        engine,
        Command::IssueToken {
            name: "property-auditor".into(),
            role: Role::Auditor,
            token_sha256,
        },
    );
    let router = kaledger::api::router(engine.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut answers = Vec::new();
        for (program, period) in asks {
            let request = axum::http::Request::builder()
                .uri(format!(
                    "/v1/rebate-programs/{program}/accruals?period={period}"
                ))
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .expect("request");
            let response = router.clone().oneshot(request).await.expect("infallible");
            let status = response.status().as_u16();
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .expect("body")
                .to_bytes();
            answers.push((status, serde_json::from_slice(&bytes).expect("JSON")));
        }
        answers
    })
}

fn decimal(v: &serde_json::Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
        .parse()
        .expect("decimal")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn accruals_equal_a_brute_force_recomputation_live_over_http_and_after_replay(scenario in scenario()) {
        // Proves for random programs, enrollments, sales and returns recorded in random order that every accrual equals a recomputation from the raw inputs, live, over HTTP and after replay.
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Arc::new(Engine::open(dir.path()).expect("open engine"));
        for a in 0..scenario.accounts {
            submit(&engine, Command::OpenAccount(OpenAccount {
                account_id: account_id(a),
                name: format!("Account {a}"),
                scope: Scope::National,
                segment: None,
                manager: None,
                currency: "CNY".into(),
                stage: Stage::ALL[0],
            }));
        }
        let programs: Vec<RawProgram> = scenario.programs.iter().enumerate()
            .map(|(i, spec)| raw_program(i, spec)).collect();
        let early_ends: Vec<bool> = scenario.programs.iter().map(|s| s.early_end.is_some()).collect();
        let mut all_spans: BTreeMap<(usize, usize), Vec<Span>> = BTreeMap::new();
        for (p, program) in programs.iter().enumerate() {
            for a in 0..scenario.accounts {
                if let Some(spec) = &scenario.enrollments[p * scenario.accounts + a] {
                    all_spans.insert((p, a), spans(program, spec));
                }
            }
        }
        let sales: Vec<RawSale> = scenario.sales.iter().map(|s| {
            let net = cents(s.net_cents);
            RawSale {
                account: account_id(s.account),
                on: day(s.day),
                sku: sku(s.sku),
                category: category(s.category),
                quantity: Decimal::from(s.quantity),
                net,
                cost: s.cost_percent.map(|p| cents(s.net_cents * p / 100)),
            }
        }).collect();
        let returns = plan_returns(&sales, &scenario.returns);
        let actions = recording_order(&programs, &early_ends, &all_spans, sales.len(), &returns, scenario.order);
        // The first `split` actions, then a cutoff, then the rest.
        let split = (scenario.order >> 32) as usize % (actions.len() + 1);
        record(&engine, &actions[..split], &programs, &sales, &returns);
        let cutoff = engine.read().head_position();
        record(&engine, &actions[split..], &programs, &sales, &returns);

        let replayed = replay(engine.store(), &LineHome::Memory).expect("replay");
        let mut asks = Vec::new();
        let mut expected_rows = Vec::new();
        {
            let live = engine.read();
            prop_assert!(replayed.read == *live, "the replayed read model differs from the live one");
            let head = live.head_position();
            for (p, program) in programs.iter().enumerate() {
                let known = live.programs.get(&program.id).expect("program");
                prop_assert_eq!(known.ends_on, program.ends_on);
                for a in 0..scenario.accounts {
                    let id = account_id(a);
                    let spans = all_spans.get(&(p, a)).cloned().unwrap_or_default();
                    let expected = brute_force(program, &id, &spans, &sales, &vec![true; sales.len()], &returns);
                    // Lines outside every period never count.
                    let periods = program_periods(program);
                    for key in expected.keys() {
                        prop_assert!(periods.iter().any(|(start, _)| start == key), "{} {} counted a line in no period: {}", program.id, id, key);
                    }
                    let recomputed = live.accruals.totals_of(&known.at(head).expect("known"), &id, head).expect("stored lines");
                    for (start, end) in &periods {
                        let want = expected.get(start).copied().unwrap_or_default();
                        let index = month_index(*start);
                        let got = live.accruals.live(&program.id, &id, index);
                        prop_assert_eq!(got, want, "{} {} period from {}", &program.id, &id, start);
                        prop_assert_eq!(replayed.read.accruals.live(&program.id, &id, index), got);
                        prop_assert_eq!(recomputed.get(&index).copied().unwrap_or_default(), got);
                        let enrolled = spans.iter().any(|s| s.from <= *end && s.to.is_none_or(|to| to >= *start));
                        if enrolled {
                            let computation = compute(&program.tiers, program.method, program.basis,
                                basis_of(program, &want), program.cap, "CNY").expect("compute");
                            expected_rows.push((p, *start, id.clone(), want, computation.entitlement, computation.tier_index));
                        }
                    }
                }
                // As known at the cutoff: the program, spans, sales and returns recorded by then.
                let prefix = Prefix::of(&actions[..split], &programs, &returns, sales.len());
                let then = known.at(cutoff);
                prop_assert_eq!(then.is_some(), prefix.defined[p], "{} known at {}", &program.id, cutoff);
                if let Some(then) = then {
                    let mut program_then = program.clone();
                    if !prefix.ended[p] {
                        program_then.ends_on = program.defined_ends_on;
                    }
                    prop_assert_eq!(then.ends_on, program_then.ends_on);
                    for a in 0..scenario.accounts {
                        let id = account_id(a);
                        let spans = prefix.spans.get(&(p, a)).cloned().unwrap_or_default();
                        let expected: BTreeMap<i32, AccrualTotals> =
                            brute_force(&program_then, &id, &spans, &sales, &prefix.sales, &prefix.returns)
                                .into_iter()
                                .map(|(start, totals)| (month_index(start), totals))
                                .collect();
                        let got = live.accruals.totals_of(&then, &id, cutoff).expect("stored lines");
                        prop_assert_eq!(got, expected, "{} {} known at {}", &program.id, &id, cutoff);
                    }
                }
                for (start, _) in program_periods(program) {
                    asks.push((program.id.clone(), Period::containing(program.kind, start).label));
                }
            }
        }

        // Over HTTP: each period lists exactly the accounts enrolled in it, with the brute force's numbers.
        let answers = http_accruals(&engine, &asks);
        let mut seen = BTreeSet::new();
        for ((program_id, label), (status, body)) in asks.iter().zip(&answers) {
            prop_assert_eq!(*status, 200, "{} {}: {}", program_id, label, body);
            let p: usize = program_id.trim_start_matches("P-").parse().expect("index");
            let start: NaiveDate = body["period_start"].as_str().expect("start").parse().expect("date");
            let want: Vec<_> = expected_rows.iter().filter(|r| r.0 == p && r.1 == start).collect();
            let rows = body["accounts"].as_array().expect("accounts");
            prop_assert_eq!(rows.len(), want.len(), "{} {}: {}", program_id, label, body);
            for (row, (_, _, account, totals, entitlement, tier_index)) in rows.iter().zip(want) {
                prop_assert_eq!(row["account_id"].as_str(), Some(account.as_str()));
                prop_assert_eq!(decimal(&row["basis"]), basis_of(&programs[p], totals), "{} {} {}", program_id, label, account);
                prop_assert_eq!(row["lines"].as_u64(), Some(totals.lines));
                prop_assert_eq!(decimal(&row["entitlement"]), *entitlement, "{} {} {}: {}", program_id, label, account, row);
                prop_assert_eq!(row["entitlement"].as_str().map(|s| s.split('.').nth(1).map(str::len)), Some(Some(2)));
                prop_assert_eq!(row["tier_index"].as_u64().map(|t| t as usize), *tier_index);
                prop_assert_eq!(row["eligible"].as_bool(), Some(true));
                // Nothing is settled: outstanding is the entitlement, written the same way.
                prop_assert_eq!(&row["outstanding"], &row["entitlement"], "{}", row);
                prop_assert_eq!(row["approved"].as_str(), Some("0.00"));
                prop_assert_eq!(row["pending"].as_str(), Some("0.00"));
                seen.insert((p, start, account.clone()));
            }
        }
        prop_assert_eq!(seen.len(), expected_rows.len());
        engine.shutdown_blocking();
    }
}
