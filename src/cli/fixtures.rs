//! Deterministic generator of realistic key-account sales datasets.
//!
//! `generate` writes `accounts.csv`, `sales.csv` and `returns.csv` in the ingestion
//! format (DESIGN §5.1). The same [`FixtureSpec`] always produces byte-identical files,
//! because every choice comes from one seeded ChaCha stream and every floating-point
//! computation uses only IEEE-exact operations (`+ - * /`, no `powf`/`ln`), which give
//! the same bits on every platform. Floats only weigh random choices (which account,
//! which day); every money amount is computed with `rust_decimal` from prices in fen.
//!
//! The data has the shape the ledger's reports and guards are meant to reveal:
//! - a 20/80 revenue distribution (rank weights `1 / (rank + c)^2`, with `c` solved so
//!   the top 20% of accounts carry about 80% of the volume), global chains on top;
//! - a "one-off bulk buyer" whose sales all fall in a single month;
//! - a "low-margin giant" (gome) selling at 2–4% margin;
//! - seasonality: a sell-in peak in the weeks before Chinese New Year and in November.
//!
//! Rows are streamed: only per-account counters and the pending returns (about 2% of
//! lines, and at most the next 60 days of them) are held in memory.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use chrono::{Datelike, Months, NaiveDate, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::{Decimal, RoundingStrategy};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureSpec {
    /// Total accounts, including the named real chains (if fewer than the named
    /// chains, the first N named ones are taken).
    pub accounts: usize,
    /// Total sale lines; returns come on top (about 2% of lines).
    pub lines: usize,
    /// Seed of the deterministic random stream.
    pub seed: u64,
    /// First day of sales (inclusive).
    pub start: NaiveDate,
    /// Number of calendar months covered, starting at `start`'s month.
    pub months: u32,
}

impl FixtureSpec {
    /// The dataset used by `kaledger demo`: two years of sales for 60 accounts.
    pub fn demo() -> FixtureSpec {
        FixtureSpec {
            accounts: 60,
            lines: 20_000,
            seed: 2026,
            start: NaiveDate::from_ymd_opt(2024, 11, 1).expect("valid constant date"),
            months: 24,
        }
    }
}

/// How many rows were written to each file (header rows not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixtureSummary {
    pub accounts: usize,
    pub sales: usize,
    pub returns: usize,
}

/// Header of `accounts.csv` (ingestion contract).
pub const ACCOUNTS_HEADER: [&str; 7] = [
    "account_id",
    "name",
    "scope",
    "segment",
    "manager",
    "currency",
    "relationship_stage",
];
/// Header of `sales.csv` (ingestion contract).
pub const SALES_HEADER: [&str; 10] = [
    "account_id",
    "invoice_id",
    "line",
    "sku",
    "category",
    "quantity",
    "net_amount",
    "cost_amount",
    "currency",
    "occurred_on",
];
/// Header of `returns.csv` (ingestion contract).
pub const RETURNS_HEADER: [&str; 8] = [
    "account_id",
    "return_id",
    "invoice_id",
    "line",
    "quantity",
    "net_amount",
    "cost_amount",
    "occurred_on",
];

/// Every account and line is in the supplier's home currency.
const CURRENCY: &str = "CNY";
/// Share of revenue the top 20% of accounts should carry (the classic 20/80 rule).
const TARGET_TOP_SHARE: f64 = 0.80;
/// Invoices carry between 1 and this many lines.
const MAX_INVOICE_LINES: usize = 8;
/// About 2% of sale lines are later returned (brief: returns are ~2% of lines).
const RETURN_RATE: f64 = 0.02;
/// A return happens at most this many days after its sale.
const MAX_RETURN_DELAY_DAYS: i64 = 60;
/// About 3% of lines come from systems that do not report cost.
const UNKNOWN_COST_RATE: f64 = 0.03;
/// Some upstream systems leave the currency column empty; the ledger defaults it.
const MISSING_CURRENCY_RATE: f64 = 0.05;
/// Over the whole range the bulk buyer books about this share of the top ordinary
/// account's revenue: a top-20% account overall, yet far above anyone in its month.
const BULK_REVENUE_VS_TOP: f64 = 0.3;
/// A bulk line is worth about this many ordinary lines (~950 cases at a bulk price
/// against ~23 cases; measured ratio of average line values on the demo data).
const BULK_LINE_VALUE_IN_LINES: f64 = 50.0;
/// Below this many lines the bulk buyer would distort tiny datasets, so it stays idle.
const BULK_MIN_TOTAL_LINES: usize = 100;
/// The bulk buyer orders on at most this many days of its single month.
const BULK_ORDER_DAYS: usize = 3;
/// Bulk orders are whole pallets: 400–1500 cases per line (normal lines average ~23).
const BULK_QUANTITY: std::ops::RangeInclusive<u32> = 400..=1_500;
/// Negotiated price discount of the bulk deal, in basis points.
const BULK_DISCOUNT_BPS: i64 = 500;
/// Per-line margin noise around an account's margin, in basis points.
const MARGIN_JITTER_BPS: i64 = 100;
/// Floor of any line margin (1%), so cost stays strictly below net for every line.
const MIN_MARGIN_BPS: i64 = 100;
/// The low-margin giant sells at 2–4% margin (a high-volume, low-profit account).
const THIN_MARGIN_BPS: std::ops::RangeInclusive<i64> = 200..=400;
/// Weight jitter keeps account volumes from looking like a perfect formula.
const WEIGHT_JITTER: f64 = 0.10;

/// Manager handles assigned to accounts.
const MANAGERS: [&str; 6] = [
    "li.wei",
    "zhang.min",
    "chen.jing",
    "wang.fang",
    "liu.yang",
    "zhao.lei",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Global,
    National,
    Local,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::National => "national",
            Scope::Local => "local",
        }
    }
}

/// A real chain that always leads the account list.
struct NamedChain {
    id: &'static str,
    name: &'static str,
    scope: Scope,
    segment: &'static str,
    stage: &'static str,
    /// 0 = biggest; global chains lead, gome is the big low-margin national.
    size_rank: usize,
    /// Margin range in basis points; gome's is the thin one.
    margin_bps: (i64, i64),
    /// Negotiated price discount range in basis points.
    discount_bps: (i64, i64),
}

/// Id of the low-margin giant (a big national account selling at 2–4% margin).
const LOW_MARGIN_GIANT: &str = "gome";

const NAMED_CHAINS: [NamedChain; 11] = [
    NamedChain {
        id: "carrefour",
        name: "Carrefour",
        scope: Scope::Global,
        segment: "economic",
        stage: "interdependent",
        size_rank: 1,
        margin_bps: (1200, 1800),
        discount_bps: (400, 800),
    },
    NamedChain {
        id: "metro",
        name: "Metro",
        scope: Scope::Global,
        segment: "economic",
        stage: "interdependent",
        size_rank: 2,
        margin_bps: (1300, 1900),
        discount_bps: (400, 800),
    },
    NamedChain {
        id: "walmart",
        name: "Walmart",
        scope: Scope::Global,
        segment: "economic",
        stage: "integrated",
        size_rank: 0,
        margin_bps: (1200, 1700),
        discount_bps: (500, 800),
    },
    NamedChain {
        id: "lotus",
        name: "Lotus",
        scope: Scope::Global,
        segment: "strategic",
        stage: "cooperative",
        size_rank: 4,
        margin_bps: (1500, 2200),
        discount_bps: (300, 700),
    },
    NamedChain {
        id: "lianhua",
        name: "Lianhua Supermarket",
        scope: Scope::National,
        segment: "group",
        stage: "cooperative",
        size_rank: 7,
        margin_bps: (1800, 2800),
        discount_bps: (200, 600),
    },
    NamedChain {
        id: "hualian",
        name: "Hualian",
        scope: Scope::National,
        segment: "important",
        stage: "basic",
        size_rank: 8,
        margin_bps: (1800, 2800),
        discount_bps: (200, 600),
    },
    NamedChain {
        id: "suning",
        name: "Suning",
        scope: Scope::National,
        segment: "strategic",
        stage: "cooperative",
        size_rank: 5,
        margin_bps: (1600, 2600),
        discount_bps: (200, 600),
    },
    NamedChain {
        id: LOW_MARGIN_GIANT,
        name: "Gome",
        scope: Scope::National,
        segment: "economic",
        stage: "basic",
        size_rank: 3,
        margin_bps: (200, 400),
        discount_bps: (600, 900),
    },
    NamedChain {
        id: "cr-vanguard",
        name: "CR Vanguard",
        scope: Scope::National,
        segment: "economic",
        stage: "cooperative",
        size_rank: 6,
        margin_bps: (1600, 2600),
        discount_bps: (200, 600),
    },
    NamedChain {
        id: "suguo",
        name: "Suguo",
        scope: Scope::Local,
        segment: "",
        stage: "basic",
        size_rank: 9,
        margin_bps: (2200, 3400),
        discount_bps: (0, 300),
    },
    NamedChain {
        id: "jiayi",
        name: "Jiayi",
        scope: Scope::Local,
        segment: "",
        stage: "exploratory",
        size_rank: 10,
        margin_bps: (2400, 3500),
        discount_bps: (0, 300),
    },
];

/// Cities for generated regional chain names.
const CITIES: [&str; 20] = [
    "Hangzhou",
    "Nanjing",
    "Suzhou",
    "Wuxi",
    "Ningbo",
    "Hefei",
    "Jinan",
    "Qingdao",
    "Zhengzhou",
    "Wuhan",
    "Changsha",
    "Nanchang",
    "Fuzhou",
    "Xiamen",
    "Chengdu",
    "Chongqing",
    "Kunming",
    "Xi'an",
    "Shenyang",
    "Harbin",
];
/// Brand words for generated regional chain names.
const BRANDS: [&str; 12] = [
    "Lianhua", "Xinhua", "Huimin", "Jiajia", "Fuli", "Lehua", "Yongfeng", "Tianhong", "Baijia",
    "Meijia", "Hongqi", "Dongfang",
];
/// Store formats for generated regional chain names.
const FORMATS: [&str; 6] = [
    "Market",
    "Supermarket",
    "Mart",
    "Fresh",
    "Hypermarket",
    "Convenience",
];

/// One catalog item; prices are per case, in fen (CNY cents), so they are exact.
struct Sku {
    code: &'static str,
    category: &'static str,
    price_cents: i64,
}

const fn sku(code: &'static str, category: &'static str, price_cents: i64) -> Sku {
    Sku {
        code,
        category,
        price_cents,
    }
}

/// Forty SKUs in six categories, priced per case.
const CATALOG: [Sku; 40] = [
    sku("SKU-BEV-001", "beverages", 2880),
    sku("SKU-BEV-002", "beverages", 4560),
    sku("SKU-BEV-003", "beverages", 3990),
    sku("SKU-BEV-004", "beverages", 6240),
    sku("SKU-BEV-005", "beverages", 5400),
    sku("SKU-BEV-006", "beverages", 8880),
    sku("SKU-BEV-007", "beverages", 3360),
    sku("SKU-BEV-008", "beverages", 12800),
    sku("SKU-SNK-001", "snacks", 4750),
    sku("SKU-SNK-002", "snacks", 6600),
    sku("SKU-SNK-003", "snacks", 3980),
    sku("SKU-SNK-004", "snacks", 9120),
    sku("SKU-SNK-005", "snacks", 5580),
    sku("SKU-SNK-006", "snacks", 7290),
    sku("SKU-SNK-007", "snacks", 15600),
    sku("SKU-DAI-001", "dairy", 5990),
    sku("SKU-DAI-002", "dairy", 7680),
    sku("SKU-DAI-003", "dairy", 4320),
    sku("SKU-DAI-004", "dairy", 10800),
    sku("SKU-DAI-005", "dairy", 6950),
    sku("SKU-DAI-006", "dairy", 13200),
    sku("SKU-HOU-001", "household", 8900),
    sku("SKU-HOU-002", "household", 12450),
    sku("SKU-HOU-003", "household", 6780),
    sku("SKU-HOU-004", "household", 19900),
    sku("SKU-HOU-005", "household", 5560),
    sku("SKU-HOU-006", "household", 23800),
    sku("SKU-HOU-007", "household", 9960),
    sku("SKU-PCA-001", "personal-care", 15800),
    sku("SKU-PCA-002", "personal-care", 21600),
    sku("SKU-PCA-003", "personal-care", 9480),
    sku("SKU-PCA-004", "personal-care", 28800),
    sku("SKU-PCA-005", "personal-care", 12960),
    sku("SKU-PCA-006", "personal-care", 17520),
    sku("SKU-FRZ-001", "frozen", 7200),
    sku("SKU-FRZ-002", "frozen", 9840),
    sku("SKU-FRZ-003", "frozen", 11520),
    sku("SKU-FRZ-004", "frozen", 6480),
    sku("SKU-FRZ-005", "frozen", 14400),
    sku("SKU-FRZ-006", "frozen", 8160),
];

/// Chinese New Year dates; the weeks before it are the biggest sell-in peak of the year.
/// Years outside the table fall back to an average date (see `new_year_for`).
const CHINESE_NEW_YEAR: [(i32, u32, u32); 16] = [
    (2020, 1, 25),
    (2021, 2, 12),
    (2022, 2, 1),
    (2023, 1, 22),
    (2024, 2, 10),
    (2025, 1, 29),
    (2026, 2, 17),
    (2027, 2, 6),
    (2028, 1, 26),
    (2029, 2, 13),
    (2030, 2, 3),
    (2031, 1, 23),
    (2032, 2, 11),
    (2033, 1, 31),
    (2034, 2, 19),
    (2035, 2, 8),
];
/// Retailers stock up during the three weeks before Chinese New Year.
const PRE_NEW_YEAR_DAYS: i64 = 21;
/// Volume multiplier of the pre-New-Year stock-up.
const PRE_NEW_YEAR_FACTOR: f64 = 1.8;
/// Deliveries slow down during the holiday week itself.
const NEW_YEAR_HOLIDAY_DAYS: i64 = 7;
/// Volume multiplier of the holiday week.
const NEW_YEAR_HOLIDAY_FACTOR: f64 = 0.5;
/// November carries the Singles' Day (11.11) promotions.
const NOVEMBER_FACTOR: f64 = 1.4;
/// The run-up to 11.11 itself is busier still.
const SINGLES_DAY_RUNUP_FACTOR: f64 = 1.3;
/// December stocks up for the calendar New Year.
const DECEMBER_FACTOR: f64 = 1.15;
/// Fewer invoices are issued on Saturdays ...
const SATURDAY_FACTOR: f64 = 0.75;
/// ... and fewer still on Sundays.
const SUNDAY_FACTOR: f64 = 0.55;

/// One account row plus the state the sales stream needs.
struct Account {
    id: String,
    name: String,
    scope: Scope,
    segment: &'static str,
    manager: &'static str,
    stage: &'static str,
    /// Relative share of ordinary lines (0 for the bulk buyer, which has its own plan).
    weight: f64,
    /// Largest invoice this account places: small stores order a few SKUs at a time,
    /// so they place more, smaller invoices and show up in more months.
    max_invoice_lines: usize,
    /// Typical margin in basis points of net.
    margin_bps: i64,
    /// The low-margin giant draws every line margin from `THIN_MARGIN_BPS`.
    thin_margin: bool,
    /// Negotiated price discount in basis points of list price.
    discount_bps: i64,
    /// Last invoice number issued (per account, so invoice ids are unique per account).
    invoices: u64,
    /// Last return number issued (per account).
    returns: u64,
}

/// A return decided when its sale was written, waiting for its date to come.
struct PendingReturn {
    account: usize,
    invoice_id: String,
    line: usize,
    quantity: u32,
    net: Decimal,
    cost: Option<Decimal>,
}

/// The bulk buyer's plan: a few order days in one month, with lines per day.
struct BulkPlan {
    account: usize,
    /// Sorted by date.
    orders: Vec<(NaiveDate, usize)>,
}

/// Writes `accounts.csv`, `sales.csv` and `returns.csv` into `dir` (created if missing).
///
/// Rows are streamed; memory is bounded by the number of accounts and about 60 days of
/// pending returns. The same spec yields byte-identical files.
pub fn generate(spec: &FixtureSpec, dir: &Path) -> io::Result<FixtureSummary> {
    fs::create_dir_all(dir)?;

    // Accounts and sales use separate streams of the same seed, so changing `lines`
    // or the date range leaves accounts.csv unchanged.
    let mut account_rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut sales_rng = ChaCha8Rng::seed_from_u64(spec.seed);
    sales_rng.set_stream(1);

    let (mut accounts, bulk_account) = build_accounts(spec.accounts, &mut account_rng);
    write_accounts(&accounts, &dir.join("accounts.csv"))?;

    let mut sales = csv::Writer::from_path(dir.join("sales.csv"))?;
    sales.write_record(SALES_HEADER)?;
    let mut returns = csv::Writer::from_path(dir.join("returns.csv"))?;
    returns.write_record(RETURNS_HEADER)?;

    let mut summary = FixtureSummary {
        accounts: accounts.len(),
        sales: 0,
        returns: 0,
    };

    if let Some((first, last)) = covered_range(spec) {
        if !accounts.is_empty() {
            let mut stream = SalesStream {
                rng: sales_rng,
                accounts: &mut accounts,
                sales: &mut sales,
                returns: &mut returns,
                pending: BTreeMap::new(),
                next_seq: 0,
                last,
                summary: &mut summary,
            };
            stream.run(spec.lines, first, bulk_account)?;
        }
    }

    sales.flush()?;
    returns.flush()?;
    Ok(summary)
}

/// First and last day (both inclusive) of the covered range, or `None` if it is empty.
/// A range that would run past chrono's last representable date is clipped to it.
fn covered_range(spec: &FixtureSpec) -> Option<(NaiveDate, NaiveDate)> {
    if spec.months == 0 {
        return None;
    }
    let month_start = spec.start.with_day(1)?;
    let last = match month_start.checked_add_months(Months::new(spec.months)) {
        Some(end) => end.pred_opt()?,
        None => NaiveDate::MAX,
    };
    (spec.start <= last).then_some((spec.start, last))
}

/// Builds the account list: named chains first, then generated regional chains.
/// Returns the index of the one-off bulk buyer, if there is a generated account for it.
fn build_accounts(count: usize, rng: &mut ChaCha8Rng) -> (Vec<Account>, Option<usize>) {
    let mut accounts = Vec::with_capacity(count);
    // Sort keys that decide the volume ranking: named chains by their fixed size rank,
    // generated ones after them in random order (national ones tend to rank higher).
    let mut rank_keys: Vec<(u8, f64, usize)> = Vec::with_capacity(count);

    for chain in NAMED_CHAINS.iter().take(count) {
        rank_keys.push((0, chain.size_rank as f64, accounts.len()));
        accounts.push(named_account(chain, rng));
    }

    let generated = count.saturating_sub(accounts.len());
    // The bulk buyer is one of the generated accounts, chosen at random.
    let bulk_offset = (generated > 0).then(|| rng.random_range(0..generated));
    let mut bulk_account = None;

    for offset in 0..generated {
        let index = accounts.len();
        let row_number = index + 1;
        let city = CITIES[rng.random_range(0..CITIES.len())];
        if Some(offset) == bulk_offset {
            bulk_account = Some(index);
            accounts.push(bulk_buyer(row_number, city, rng));
            continue;
        }
        let (account, key) = regional_account(row_number, city, rng);
        accounts.push(account);
        rank_keys.push((1, key, index));
    }

    assign_weights(&mut accounts, rank_keys, count, rng);
    (accounts, bulk_account)
}

/// The account of a named chain.
fn named_account(chain: &NamedChain, rng: &mut ChaCha8Rng) -> Account {
    Account {
        id: chain.id.to_string(),
        name: chain.name.to_string(),
        scope: chain.scope,
        segment: chain.segment,
        manager: MANAGERS[rng.random_range(0..MANAGERS.len())],
        stage: chain.stage,
        weight: 0.0,
        max_invoice_lines: MAX_INVOICE_LINES,
        margin_bps: rng.random_range(chain.margin_bps.0..=chain.margin_bps.1),
        thin_margin: chain.id == LOW_MARGIN_GIANT,
        discount_bps: rng.random_range(chain.discount_bps.0..=chain.discount_bps.1),
        invoices: 0,
        returns: 0,
    }
}

/// The one-off bulk buyer: a local wholesaler with its own order plan (no ordinary weight).
fn bulk_buyer(row_number: usize, city: &str, rng: &mut ChaCha8Rng) -> Account {
    Account {
        id: format!("ka-{row_number:04}"),
        name: format!("{city} Haida Wholesale Trading {row_number}"),
        scope: Scope::Local,
        segment: "",
        manager: MANAGERS[rng.random_range(0..MANAGERS.len())],
        stage: "exploratory",
        weight: 0.0,
        max_invoice_lines: MAX_INVOICE_LINES,
        margin_bps: rng.random_range(1500..=2500),
        thin_margin: false,
        discount_bps: BULK_DISCOUNT_BPS,
        invoices: 0,
        returns: 0,
    }
}

/// A generated regional chain and its random ranking key (halved for national ones, which
/// tend to rank higher).
fn regional_account(row_number: usize, city: &str, rng: &mut ChaCha8Rng) -> (Account, f64) {
    // One generated chain in five spans several provinces.
    let scope = if rng.random_bool(0.2) {
        Scope::National
    } else {
        Scope::Local
    };
    let brand = BRANDS[rng.random_range(0..BRANDS.len())];
    let format = FORMATS[rng.random_range(0..FORMATS.len())];
    let segment = pick_weighted(
        rng,
        &[
            ("economic", 20),
            ("important", 10),
            ("group", 10),
            ("strategic", 15),
            ("", 45),
        ],
    );
    let stage = pick_weighted(
        rng,
        &[
            ("exploratory", 20),
            ("basic", 35),
            ("cooperative", 30),
            ("interdependent", 12),
            ("integrated", 3),
        ],
    );
    // Most accounts earn 12–35%; one in ten sits outside that band.
    let margin_bps = match rng.random_range(0..10) {
        0 => rng.random_range(600..1200),
        1 => rng.random_range(3500..4500),
        _ => rng.random_range(1200..=3500),
    };
    let discount_bps = match scope {
        Scope::National => rng.random_range(200..=600),
        _ => rng.random_range(0..=300),
    };
    let account = Account {
        id: format!("ka-{row_number:04}"),
        name: format!("{city} {brand} {format} {row_number}"),
        scope,
        segment,
        manager: MANAGERS[rng.random_range(0..MANAGERS.len())],
        stage,
        weight: 0.0,
        max_invoice_lines: MAX_INVOICE_LINES,
        margin_bps,
        thin_margin: false,
        discount_bps,
        invoices: 0,
        returns: 0,
    };
    let key = rng.random::<f64>();
    let key = if scope == Scope::National {
        key * 0.5
    } else {
        key
    };
    (account, key)
}

/// Heavy-tailed weights by rank: 1 / (rank + c)^2, with c chosen so the top 20% of all
/// `count` accounts carry TARGET_TOP_SHARE of the ordinary volume.
fn assign_weights(
    accounts: &mut [Account],
    mut rank_keys: Vec<(u8, f64, usize)>,
    count: usize,
    rng: &mut ChaCha8Rng,
) {
    rank_keys.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
    let top = count.div_ceil(5);
    let offset = solve_rank_offset(rank_keys.len(), top, TARGET_TOP_SHARE);
    for (rank, &(_, _, index)) in rank_keys.iter().enumerate() {
        let jitter = 1.0 - WEIGHT_JITTER + 2.0 * WEIGHT_JITTER * rng.random::<f64>();
        accounts[index].weight = rank_weight(rank, offset) * jitter;
    }
}

/// Weight of the account at 0-based `rank`: a Zipf-like tail of exponent 2 without
/// `powf`, so the value is bit-identical on every platform.
fn rank_weight(rank: usize, offset: f64) -> f64 {
    let x = rank as f64 + 1.0 + offset;
    1.0 / (x * x)
}

/// Share of the total weight carried by the first `top` of `n` ranks.
fn top_share(n: usize, top: usize, offset: f64) -> f64 {
    let mut head = 0.0;
    let mut total = 0.0;
    for rank in 0..n {
        let w = rank_weight(rank, offset);
        total += w;
        if rank < top {
            head += w;
        }
    }
    if total > 0.0 {
        head / total
    } else {
        1.0
    }
}

/// Finds the rank offset `c` whose top share is `target` (bisection; the share falls
/// as `c` grows). Returns 0 when even the steepest curve is below the target, as with
/// three or four accounts.
fn solve_rank_offset(n: usize, top: usize, target: f64) -> f64 {
    /// Bisection steps; 60 halvings exhaust f64 precision.
    const STEPS: usize = 60;
    if n == 0 || top_share(n, top, 0.0) <= target {
        return 0.0;
    }
    let (mut low, mut high) = (0.0_f64, 10.0 * n as f64 + 10.0);
    for _ in 0..STEPS {
        let mid = (low + high) / 2.0;
        if top_share(n, top, mid) > target {
            low = mid;
        } else {
            high = mid;
        }
    }
    (low + high) / 2.0
}

/// Picks a value from `(value, weight)` pairs with integer weights.
fn pick_weighted<T: Copy>(rng: &mut ChaCha8Rng, options: &[(T, u32)]) -> T {
    let total: u32 = options.iter().map(|o| o.1).sum();
    let mut x = rng.random_range(0..total);
    for &(value, weight) in options {
        if x < weight {
            return value;
        }
        x -= weight;
    }
    options[options.len() - 1].0
}

fn write_accounts(accounts: &[Account], path: &Path) -> io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(ACCOUNTS_HEADER)?;
    for a in accounts {
        w.write_record([
            a.id.as_str(),
            a.name.as_str(),
            a.scope.as_str(),
            a.segment,
            a.manager,
            CURRENCY,
            a.stage,
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Seasonal weight of one day for ordinary invoices.
fn day_weight(date: NaiveDate) -> f64 {
    let mut w = 1.0;
    let new_year = new_year_for(date.year());
    let to_new_year = (new_year - date).num_days();
    if (1..=PRE_NEW_YEAR_DAYS).contains(&to_new_year) {
        w *= PRE_NEW_YEAR_FACTOR;
    } else if (0..NEW_YEAR_HOLIDAY_DAYS).contains(&-to_new_year) {
        w *= NEW_YEAR_HOLIDAY_FACTOR;
    }
    match date.month() {
        11 => {
            w *= NOVEMBER_FACTOR;
            if date.day() <= 11 {
                w *= SINGLES_DAY_RUNUP_FACTOR;
            }
        }
        12 => w *= DECEMBER_FACTOR,
        _ => {}
    }
    match date.weekday() {
        Weekday::Sat => w *= SATURDAY_FACTOR,
        Weekday::Sun => w *= SUNDAY_FACTOR,
        _ => {}
    }
    w
}

/// Chinese New Year of `year`, from the table, else February 5 (near the mean date),
/// which keeps a plausible peak for years the table does not list.
fn new_year_for(year: i32) -> NaiveDate {
    /// Approximate month and day used outside the table.
    const FALLBACK: (u32, u32) = (2, 5);
    let (month, day) = CHINESE_NEW_YEAR
        .iter()
        .find(|(y, _, _)| *y == year)
        .map(|&(_, m, d)| (m, d))
        .unwrap_or(FALLBACK);
    // February 5 exists in every year chrono supports; the MAX fallback is unreachable.
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or(NaiveDate::MAX)
}

/// Iterates the days of `[first, last]` without overflowing at `NaiveDate::MAX`.
fn days(first: NaiveDate, last: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    let mut next = (first <= last).then_some(first);
    std::iter::from_fn(move || {
        let day = next?;
        next = if day < last { day.succ_opt() } else { None };
        Some(day)
    })
}

/// Rounds a computed money amount once, to cents, midpoint away from zero (DESIGN §5).
fn round_cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Formats money with exactly two decimals.
fn money(amount: Decimal) -> String {
    let mut amount = round_cents(amount);
    amount.rescale(2);
    amount.to_string()
}

/// Ordinary line quantity in cases: mostly small top-ups, some pallets.
fn sample_quantity(rng: &mut ChaCha8Rng) -> u32 {
    match rng.random_range(0..10) {
        0..=5 => rng.random_range(1..=12),
        6..=8 => rng.random_range(13..=48),
        _ => rng.random_range(49..=144),
    }
}

/// The streaming writer of sales and returns.
struct SalesStream<'a> {
    rng: ChaCha8Rng,
    accounts: &'a mut [Account],
    sales: &'a mut csv::Writer<fs::File>,
    returns: &'a mut csv::Writer<fs::File>,
    /// Returns decided but not yet due, ordered by (date, decision order).
    pending: BTreeMap<(NaiveDate, u64), PendingReturn>,
    next_seq: u64,
    /// Last covered day; no return may fall after it.
    last: NaiveDate,
    summary: &'a mut FixtureSummary,
}

impl SalesStream<'_> {
    fn run(&mut self, lines: usize, first: NaiveDate, bulk: Option<usize>) -> io::Result<()> {
        let last = self.last;

        let top_weight = self.accounts.iter().map(|a| a.weight).fold(0.0, f64::max);
        let total_line_weight: f64 = self.accounts.iter().map(|a| a.weight).sum();
        // Cumulative weights for picking the account of each ordinary invoice. Invoice
        // size grows with the square root of the account's size (sqrt is correctly
        // rounded in IEEE 754, so this stays bit-identical across platforms); picking by
        // weight / mean invoice size keeps each account's share of *lines* at its weight.
        let mut cumulative = Vec::with_capacity(self.accounts.len());
        let mut total_weight = 0.0;
        for a in self.accounts.iter_mut() {
            if top_weight > 0.0 && a.weight > 0.0 {
                let relative = (a.weight / top_weight).sqrt();
                let extra = (relative * (MAX_INVOICE_LINES - 1) as f64).floor() as usize;
                a.max_invoice_lines = (1 + extra).min(MAX_INVOICE_LINES);
            }
            let mean_invoice_lines = (a.max_invoice_lines + 1) as f64 / 2.0;
            total_weight += a.weight / mean_invoice_lines;
            cumulative.push(total_weight);
        }
        if total_weight <= 0.0 {
            // Only the bulk buyer could be left, and it never buys ordinary invoices.
            return self.flush_returns_through(NaiveDate::MAX);
        }

        let bulk_total = if lines < BULK_MIN_TOTAL_LINES {
            0
        } else {
            let top_lines = lines as f64 * top_weight / total_line_weight;
            let wanted = top_lines * BULK_REVENUE_VS_TOP / BULK_LINE_VALUE_IN_LINES;
            (wanted.round() as usize).clamp(1, lines)
        };
        let bulk_plan = bulk.and_then(|account| self.plan_bulk(account, bulk_total, first, last));
        let bulk_lines: usize = bulk_plan
            .as_ref()
            .map_or(0, |p| p.orders.iter().map(|o| o.1).sum());
        let ordinary_lines = lines - bulk_lines;

        // Two passes over the days keep memory flat: the first sums the seasonal
        // weights, the second hands each day its share of lines by cumulative rounding
        // (the same additions in the same order, so the shares add up exactly).
        let total_days_weight: f64 = days(first, last).map(day_weight).sum();
        let mut running = 0.0;
        let mut assigned = 0usize;
        let mut bulk_orders = bulk_plan.as_ref().map(|p| p.orders.iter().peekable());

        for day in days(first, last) {
            self.flush_returns_through(day)?;
            running += day_weight(day);
            let target = if day == last {
                ordinary_lines
            } else {
                let share = running / total_days_weight * ordinary_lines as f64;
                (share.round() as usize).clamp(assigned, ordinary_lines)
            };
            let mut today = target - assigned;
            assigned = target;
            let date_text = day.format("%Y-%m-%d").to_string();

            if let (Some(plan), Some(orders)) = (bulk_plan.as_ref(), bulk_orders.as_mut()) {
                if let Some(&&(order_day, mut remaining)) = orders.peek() {
                    if order_day == day {
                        orders.next();
                        while remaining > 0 {
                            let size = self.rng.random_range(1..=MAX_INVOICE_LINES).min(remaining);
                            self.write_invoice(plan.account, size, day, &date_text, true)?;
                            remaining -= size;
                        }
                    }
                }
            }

            while today > 0 {
                let x = self.rng.random::<f64>() * total_weight;
                let account = cumulative
                    .partition_point(|&c| c <= x)
                    .min(cumulative.len() - 1);
                if self.accounts[account].weight <= 0.0 {
                    // Only reachable through float edge cases; skip rather than give
                    // the bulk buyer ordinary invoices.
                    continue;
                }
                let max_lines = self.accounts[account].max_invoice_lines;
                let size = self.rng.random_range(1..=max_lines).min(today);
                self.write_invoice(account, size, day, &date_text, false)?;
                today -= size;
            }
        }
        self.flush_returns_through(NaiveDate::MAX)
    }

    /// Picks the bulk buyer's month and order days: its `total` lines fall on up to
    /// BULK_ORDER_DAYS days of one random month.
    fn plan_bulk(
        &mut self,
        account: usize,
        total: usize,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Option<BulkPlan> {
        if total == 0 {
            return None;
        }
        // Months in range, counted without walking them (the range may be huge).
        let span_months = (last.year() - first.year()) as i64 * 12 + last.month() as i64
            - first.month() as i64
            + 1;
        let month_index = self.rng.random_range(0..span_months.max(1));
        let month_start = first
            .with_day(1)?
            .checked_add_months(Months::new(u32::try_from(month_index).ok()?))?;
        let window_first = month_start.max(first);
        let window_last = month_start
            .checked_add_months(Months::new(1))
            .and_then(|d| d.pred_opt())
            .unwrap_or(NaiveDate::MAX)
            .min(last);
        let window_days = (window_last - window_first).num_days() as usize + 1;

        // Distinct order days, sorted.
        let order_count = BULK_ORDER_DAYS.min(window_days).min(total);
        let mut offsets: Vec<usize> = Vec::with_capacity(order_count);
        while offsets.len() < order_count {
            let o = self.rng.random_range(0..window_days);
            if !offsets.contains(&o) {
                offsets.push(o);
            }
        }
        offsets.sort_unstable();
        let orders = offsets
            .iter()
            .enumerate()
            .map(|(i, &o)| {
                // Even split; earlier orders take the remainder.
                let share = total / order_count + usize::from(i < total % order_count);
                (window_first + chrono::Days::new(o as u64), share)
            })
            .collect();
        Some(BulkPlan { account, orders })
    }

    /// Writes one invoice of `size` lines and decides which of its lines are returned.
    fn write_invoice(
        &mut self,
        account: usize,
        size: usize,
        day: NaiveDate,
        date_text: &str,
        bulk: bool,
    ) -> io::Result<()> {
        let a = &mut self.accounts[account];
        a.invoices += 1;
        let invoice_id = format!("INV-{}-{:06}", a.id, a.invoices);
        let days_left = (self.last - day).num_days().min(MAX_RETURN_DELAY_DAYS);
        let price_factor = Decimal::new(10_000 - a.discount_bps, 4);

        for line in 1..=size {
            let item = &CATALOG[self.rng.random_range(0..CATALOG.len())];
            let quantity = if bulk {
                self.rng.random_range(BULK_QUANTITY)
            } else {
                sample_quantity(&mut self.rng)
            };
            let list = Decimal::new(item.price_cents, 2) * Decimal::from(quantity);
            let net = round_cents(list * price_factor);
            let cost = if self.rng.random_bool(UNKNOWN_COST_RATE) {
                None
            } else {
                let margin = if a.thin_margin {
                    self.rng.random_range(THIN_MARGIN_BPS)
                } else {
                    let jitter = self
                        .rng
                        .random_range(-MARGIN_JITTER_BPS..=MARGIN_JITTER_BPS);
                    (a.margin_bps + jitter).max(MIN_MARGIN_BPS)
                };
                Some(round_cents(net * Decimal::new(10_000 - margin, 4)))
            };
            let currency = if self.rng.random_bool(MISSING_CURRENCY_RATE) {
                ""
            } else {
                CURRENCY
            };
            let cost_text = cost.map(money).unwrap_or_default();
            self.sales.write_record([
                a.id.as_str(),
                invoice_id.as_str(),
                line.to_string().as_str(),
                item.code,
                item.category,
                quantity.to_string().as_str(),
                money(net).as_str(),
                cost_text.as_str(),
                currency,
                date_text,
            ])?;
            self.summary.sales += 1;

            // Decide the return now, while the sale is at hand; it waits in `pending`
            // until its date. A sale on the last covered day cannot be returned.
            if self.rng.random_bool(RETURN_RATE) && days_left >= 1 {
                let delay = self.rng.random_range(1..=days_left);
                // Half the returns give back the whole line, the rest part of it.
                let returned = if self.rng.random_bool(0.5) {
                    quantity
                } else {
                    self.rng.random_range(1..=quantity)
                };
                let ratio = |amount: Decimal| {
                    round_cents(amount * Decimal::from(returned) / Decimal::from(quantity))
                        .min(amount)
                };
                let key = (day + chrono::Days::new(delay as u64), self.next_seq);
                self.next_seq += 1;
                self.pending.insert(
                    key,
                    PendingReturn {
                        account,
                        invoice_id: invoice_id.clone(),
                        line,
                        quantity: returned,
                        net: ratio(net),
                        cost: cost.map(ratio),
                    },
                );
            }
        }
        Ok(())
    }

    /// Writes every pending return dated on or before `day`. New returns are always
    /// dated after the sale being written, so these can no longer be preceded.
    fn flush_returns_through(&mut self, day: NaiveDate) -> io::Result<()> {
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > day {
                break;
            }
            let ((date, _), r) = entry.remove_entry();
            let a = &mut self.accounts[r.account];
            a.returns += 1;
            let return_id = format!("RET-{}-{:06}", a.id, a.returns);
            let cost_text = r.cost.map(money).unwrap_or_default();
            self.returns.write_record([
                a.id.as_str(),
                return_id.as_str(),
                r.invoice_id.as_str(),
                r.line.to_string().as_str(),
                r.quantity.to_string().as_str(),
                money(r.net).as_str(),
                cost_text.as_str(),
                date.format("%Y-%m-%d").to_string().as_str(),
            ])?;
            self.summary.returns += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};
    use std::path::PathBuf;
    use std::str::FromStr;

    /// A fresh scratch directory per test, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!(
                "kaledger-fixtures-{}-{}",
                std::process::id(),
                name
            ));
            let _ = fs::remove_dir_all(&dir);
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn small_spec() -> FixtureSpec {
        FixtureSpec {
            accounts: 25,
            lines: 3_000,
            seed: 7,
            start: NaiveDate::from_ymd_opt(2025, 1, 15).unwrap(),
            months: 6,
        }
    }

    fn read(dir: &Path, file: &str) -> (Vec<String>, Vec<csv::StringRecord>) {
        let mut r = csv::Reader::from_path(dir.join(file)).unwrap();
        let header = r.headers().unwrap().iter().map(str::to_string).collect();
        let rows = r.records().map(|r| r.unwrap()).collect();
        (header, rows)
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Parses a money field and checks it has exactly two decimals.
    fn amount(s: &str) -> Decimal {
        let (_, cents) = s.split_once('.').expect("money has a decimal point");
        assert_eq!(cents.len(), 2, "money {s:?} must have exactly 2 decimals");
        Decimal::from_str(s).unwrap()
    }

    fn valid_id(id: &str) -> bool {
        let mut chars = id.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        first_ok
            && id.len() <= 64
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    }

    // Proves the same spec gives byte-identical files, and another seed does not.
    #[test]
    fn same_spec_gives_identical_bytes() {
        let (a, b, c) = (
            Scratch::new("det-a"),
            Scratch::new("det-b"),
            Scratch::new("det-c"),
        );
        let spec = small_spec();
        let sa = generate(&spec, &a.0).unwrap();
        let sb = generate(&spec, &b.0).unwrap();
        assert_eq!(sa, sb);
        for file in ["accounts.csv", "sales.csv", "returns.csv"] {
            assert_eq!(
                fs::read(a.0.join(file)).unwrap(),
                fs::read(b.0.join(file)).unwrap(),
                "{file} differs between runs"
            );
        }
        generate(&FixtureSpec { seed: 8, ..spec }, &c.0).unwrap();
        assert_ne!(
            fs::read(a.0.join("sales.csv")).unwrap(),
            fs::read(c.0.join("sales.csv")).unwrap()
        );
    }

    // Proves the three files carry exactly the header rows of the ingestion contract.
    #[test]
    fn header_rows_match_the_contract() {
        let dir = Scratch::new("headers");
        generate(&small_spec(), &dir.0).unwrap();
        let text = fs::read_to_string(dir.0.join("accounts.csv")).unwrap();
        assert!(
            text.starts_with("account_id,name,scope,segment,manager,currency,relationship_stage\n")
        );
        let text = fs::read_to_string(dir.0.join("sales.csv")).unwrap();
        assert!(text.starts_with(
            "account_id,invoice_id,line,sku,category,quantity,net_amount,cost_amount,currency,occurred_on\n"
        ));
        let text = fs::read_to_string(dir.0.join("returns.csv")).unwrap();
        assert!(text.starts_with(
            "account_id,return_id,invoice_id,line,quantity,net_amount,cost_amount,occurred_on\n"
        ));
    }

    // Proves account rows are well formed and named chains come first in the given order.
    #[test]
    fn accounts_are_well_formed() {
        let dir = Scratch::new("accounts");
        let summary = generate(&FixtureSpec::demo(), &dir.0).unwrap();
        let (_, rows) = read(&dir.0, "accounts.csv");
        assert_eq!(rows.len(), 60);
        assert_eq!(summary.accounts, 60);
        let ids: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
        assert_eq!(
            &ids[..11],
            &[
                "carrefour",
                "metro",
                "walmart",
                "lotus",
                "lianhua",
                "hualian",
                "suning",
                "gome",
                "cr-vanguard",
                "suguo",
                "jiayi"
            ]
        );
        assert_eq!(ids[11], "ka-0012");
        assert_eq!(ids[59], "ka-0060");
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
        for r in &rows {
            assert!(valid_id(&r[0]), "bad id {}", &r[0]);
            assert!(["global", "national", "local"].contains(&&r[2]));
            assert!(["economic", "important", "group", "strategic", ""].contains(&&r[3]));
            assert!(MANAGERS.contains(&&r[4]));
            assert_eq!(&r[5], "CNY");
            assert!([
                "exploratory",
                "basic",
                "cooperative",
                "interdependent",
                "integrated"
            ]
            .contains(&&r[6]));
        }
    }

    // Proves every sale line belongs to a listed account and is internally consistent.
    #[test]
    fn sale_lines_reference_accounts_and_are_consistent() {
        let dir = Scratch::new("sales");
        let summary = generate(&small_spec(), &dir.0).unwrap();
        let (_, accounts) = read(&dir.0, "accounts.csv");
        let ids: HashSet<String> = accounts.iter().map(|r| r[0].to_string()).collect();
        let (_, sales) = read(&dir.0, "sales.csv");
        assert_eq!(sales.len(), 3_000);
        assert_eq!(summary.sales, 3_000);
        let skus: HashMap<&str, &str> = CATALOG.iter().map(|s| (s.code, s.category)).collect();
        // (invoice) -> (account, date, last line number seen)
        let mut invoices: HashMap<String, (String, String, usize)> = HashMap::new();
        for r in &sales {
            assert!(ids.contains(&r[0]), "unknown account {}", &r[0]);
            assert!(r[1].starts_with(&format!("INV-{}-", &r[0])));
            let line: usize = r[2].parse().unwrap();
            assert!((1..=MAX_INVOICE_LINES).contains(&line));
            let entry =
                invoices
                    .entry(r[1].to_string())
                    .or_insert((r[0].to_string(), r[9].to_string(), 0));
            assert_eq!((entry.0.as_str(), entry.1.as_str()), (&r[0], &r[9]));
            assert_eq!(line, entry.2 + 1, "invoice lines are numbered 1, 2, ...");
            entry.2 = line;
            assert_eq!(skus.get(&r[3]), Some(&&r[4]));
            assert!(r[5].parse::<u32>().unwrap() > 0);
            let net = amount(&r[6]);
            assert!(net > Decimal::ZERO);
            if !r[7].is_empty() {
                let cost = amount(&r[7]);
                assert!(cost > Decimal::ZERO && cost < net);
            }
            assert!(r[8].is_empty() || &r[8] == "CNY");
        }
    }

    // Proves every return points at an earlier written sale line and never exceeds it.
    #[test]
    fn returns_reference_written_lines_and_never_exceed_them() {
        let dir = Scratch::new("returns");
        let summary = generate(&FixtureSpec::demo(), &dir.0).unwrap();
        let (_, sales) = read(&dir.0, "sales.csv");
        let (_, returns) = read(&dir.0, "returns.csv");
        assert_eq!(summary.returns, returns.len());
        let sold: HashMap<(String, String, String), &csv::StringRecord> = sales
            .iter()
            .map(|r| ((r[0].to_string(), r[1].to_string(), r[2].to_string()), r))
            .collect();
        let mut seen_lines = HashSet::new();
        let mut seen_ids = HashSet::new();
        for r in &returns {
            let key = (r[0].to_string(), r[2].to_string(), r[3].to_string());
            let sale = sold
                .get(&key)
                .expect("return references a written sale line");
            assert!(seen_lines.insert(key), "at most one return per sale line");
            assert!(seen_ids.insert(r[1].to_string()), "return ids are unique");
            assert!(r[1].starts_with(&format!("RET-{}-", &r[0])));
            let qty: u32 = r[4].parse().unwrap();
            let sold_qty: u32 = sale[5].parse().unwrap();
            assert!(qty >= 1 && qty <= sold_qty);
            let sold_net = amount(&sale[6]);
            let net = amount(&r[5]);
            let expected = |v: Decimal| {
                (v * Decimal::from(qty) / Decimal::from(sold_qty))
                    .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            };
            assert_eq!(net, expected(sold_net));
            assert!(net <= sold_net);
            if sale[7].is_empty() {
                assert!(r[6].is_empty(), "no cost sold, no cost returned");
            } else {
                let sold_cost = amount(&sale[7]);
                let cost = amount(&r[6]);
                assert_eq!(cost, expected(sold_cost));
                assert!(cost <= sold_cost);
            }
            let delay = (date(&r[7]) - date(&sale[9])).num_days();
            assert!((1..=MAX_RETURN_DELAY_DAYS).contains(&delay));
        }
        // About 2% of lines are returned (a little less: late sales cannot be).
        let rate = returns.len() as f64 / sales.len() as f64;
        assert!((0.012..=0.028).contains(&rate), "return rate {rate}");
    }

    // Proves money fields are exact decimals: totals add up to the cent with no drift.
    #[test]
    fn sums_are_exact_decimals() {
        let dir = Scratch::new("sums");
        generate(&small_spec(), &dir.0).unwrap();
        let (_, sales) = read(&dir.0, "sales.csv");
        let mut total = Decimal::ZERO;
        let mut per_account: HashMap<String, Decimal> = HashMap::new();
        let mut cents: i64 = 0;
        for r in &sales {
            let net = amount(&r[6]);
            total += net;
            *per_account.entry(r[0].to_string()).or_default() += net;
            cents += r[6].replace('.', "").parse::<i64>().unwrap();
        }
        assert_eq!(total.scale(), 2);
        assert_eq!(total, Decimal::new(cents, 2));
        assert_eq!(per_account.values().copied().sum::<Decimal>(), total);
    }

    // Proves the demo data has the 20/80 shape and the tier-guard cases it promises.
    #[test]
    fn demo_has_the_twenty_eighty_shape_and_guard_cases() {
        let dir = Scratch::new("pareto");
        generate(&FixtureSpec::demo(), &dir.0).unwrap();
        let (_, accounts) = read(&dir.0, "accounts.csv");
        let (_, sales) = read(&dir.0, "sales.csv");
        let mut revenue: HashMap<String, Decimal> = accounts
            .iter()
            .map(|r| (r[0].to_string(), Decimal::ZERO))
            .collect();
        let mut months: HashMap<String, HashSet<(i32, u32)>> = HashMap::new();
        let (mut gome_net, mut gome_cost) = (Decimal::ZERO, Decimal::ZERO);
        for r in &sales {
            let net = amount(&r[6]);
            *revenue.get_mut(&r[0]).unwrap() += net;
            let d = date(&r[9]);
            months
                .entry(r[0].to_string())
                .or_default()
                .insert((d.year(), d.month()));
            if &r[0] == "gome" && !r[7].is_empty() {
                gome_net += net;
                gome_cost += amount(&r[7]);
            }
        }
        let mut ranked: Vec<(String, Decimal)> = revenue.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let total: Decimal = ranked.iter().map(|r| r.1).sum();
        let top: Decimal = ranked.iter().take(12).map(|r| r.1).sum();
        let share = top / total;
        assert!(share >= Decimal::new(70, 2), "top 20% share {share}");
        assert!(share <= Decimal::new(90, 2), "top 20% share {share}");
        // Global chains are among the biggest.
        let top_ids: Vec<&str> = ranked.iter().take(12).map(|r| r.0.as_str()).collect();
        for id in ["walmart", "carrefour", "metro", "lotus"] {
            assert!(
                top_ids.contains(&id),
                "{id} not in the top 20%: {top_ids:?}"
            );
        }
        // The low-margin giant earns 2–4%.
        let margin = (gome_net - gome_cost) / gome_net;
        assert!(
            margin >= Decimal::new(2, 2) && margin <= Decimal::new(4, 2),
            "gome margin {margin}"
        );
        // Exactly one generated account buys in a single month, and buys big.
        let one_month: Vec<&String> = months
            .iter()
            .filter(|(id, m)| id.starts_with("ka-") && m.len() == 1)
            .map(|(id, _)| id)
            .collect();
        assert_eq!(one_month.len(), 1, "{one_month:?}");
        let bulk_rank = ranked.iter().position(|r| &r.0 == one_month[0]).unwrap();
        assert!(bulk_rank < 12, "bulk buyer ranks {bulk_rank}");
    }

    // Proves every date lies within [start, start + months) and both files are date-sorted.
    #[test]
    fn dates_stay_in_range_and_sorted() {
        let dir = Scratch::new("dates");
        let spec = small_spec();
        generate(&spec, &dir.0).unwrap();
        let first = spec.start;
        let end = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
        for (file, column) in [("sales.csv", 9), ("returns.csv", 7)] {
            let (_, rows) = read(&dir.0, file);
            let dates: Vec<NaiveDate> = rows.iter().map(|r| date(&r[column])).collect();
            assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{file} not sorted");
            assert!(
                dates.iter().all(|d| *d >= first && *d < end),
                "{file} out of range"
            );
        }
    }

    // Proves degenerate specs never panic and still write header-only files.
    #[test]
    fn degenerate_specs_do_not_panic() {
        let base = small_spec();
        let near_max = NaiveDate::MAX - chrono::Days::new(10);
        let cases = [
            FixtureSpec {
                accounts: 0,
                ..base.clone()
            },
            FixtureSpec {
                lines: 0,
                ..base.clone()
            },
            FixtureSpec {
                accounts: 1,
                ..base.clone()
            },
            FixtureSpec {
                accounts: 1,
                lines: 1,
                ..base.clone()
            },
            FixtureSpec {
                accounts: 12,
                lines: 150,
                ..base.clone()
            },
            FixtureSpec {
                months: 0,
                ..base.clone()
            },
            FixtureSpec {
                start: near_max,
                months: 3,
                ..base.clone()
            },
            FixtureSpec {
                months: 12 * 200,
                lines: 500,
                ..base.clone()
            },
        ];
        for (i, spec) in cases.iter().enumerate() {
            let dir = Scratch::new(&format!("edge-{i}"));
            let summary = generate(spec, &dir.0).unwrap();
            let (_, accounts) = read(&dir.0, "accounts.csv");
            let (_, sales) = read(&dir.0, "sales.csv");
            let (_, returns) = read(&dir.0, "returns.csv");
            assert_eq!(summary.accounts, accounts.len());
            assert_eq!(summary.sales, sales.len());
            assert_eq!(summary.returns, returns.len());
            assert_eq!(accounts.len(), spec.accounts, "case {i}");
            let expect_sales = if spec.accounts == 0 || spec.months == 0 {
                0
            } else {
                spec.lines
            };
            assert_eq!(sales.len(), expect_sales, "case {i}");
        }
    }
}
