//! The in-memory state in its checkpoint form: every part, built by applying one event of
//! each type (the golden samples) at growing positions, reads back equal to itself, with
//! the positions the API forms leave out.

use std::collections::BTreeMap;
use std::fmt::Debug;

use kaledger::domain::contests::Contests;
use kaledger::domain::daily::DailySales;
use kaledger::domain::events::Event;
use kaledger::domain::incentives::Incentives;
use kaledger::domain::limits::SaleTotals;
use kaledger::domain::programs::Programs;
use kaledger::domain::seasons::Seasons;
use kaledger::domain::settlements::Settlements;
use kaledger::ledger::codec::{decode_checkpoint_from, encode_checkpoint_into};
use kaledger::projections::accounts::AccountsProjection;
use kaledger::projections::sales::SalesBreakdown;
use kaledger::projections::tokens::TokensProjection;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Every part of the state that is not per sale line, as the ledger builds them.
#[derive(Default)]
struct Parts {
    incentives: Incentives,
    programs: Programs,
    settlements: Settlements,
    contests: Contests,
    seasons: Seasons,
    daily: BTreeMap<String, DailySales>,
    totals: SaleTotals,
    accounts: AccountsProjection,
    tokens: TokensProjection,
    sales: SalesBreakdown,
}

impl Parts {
    fn apply(&mut self, position: u64, event: &Event) {
        self.incentives.apply(position, event);
        self.programs.apply(position, event);
        self.settlements.apply(position, event);
        self.contests.apply(position, event);
        self.seasons.apply(position, event);
        self.accounts
            .apply(position, 1_700_000_000_000_000 + position as i64, event);
        self.tokens
            .apply(1_700_000_000_000_000 + position as i64, "admin", event);
        if let Some(line) = event.line_effect() {
            self.daily
                .entry(line.account_id.to_string())
                .or_default()
                .add_line(&line);
            self.totals.record(line.net, line.cost, line.quantity);
            self.sales.add_line(&line);
        }
    }
}

fn round_trips<T: Serialize + DeserializeOwned + PartialEq + Debug>(name: &str, value: &T) {
    let mut bytes = Vec::new();
    encode_checkpoint_into(&mut bytes, value).unwrap_or_else(|e| panic!("{name}: {e}"));
    let back: T = decode_checkpoint_from(&mut &bytes[..], bytes.len() as u64)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(&back, value, "{name}");
}

#[test]
fn every_part_of_the_state_reads_back_from_its_checkpoint_form() {
    // Proves the checkpoint form keeps every fact, positions of grants, revocations, ends
    // and decisions included (the API forms skip them), so a loaded state answers
    // `known_at` questions as the replayed one does.
    let mut parts = Parts::default();
    for (i, (event, _)) in crate::envelope_golden::samples().iter().enumerate() {
        parts.apply(i as u64 + 1, event);
    }
    assert!(!parts.programs.is_empty() && !parts.contests.is_empty());
    assert!(parts.settlements.digest_lines().len() == 1);
    round_trips("incentives", &parts.incentives);
    round_trips("programs", &parts.programs);
    round_trips("settlements", &parts.settlements);
    round_trips("contests", &parts.contests);
    round_trips("seasons", &parts.seasons);
    round_trips("daily", &parts.daily);
    round_trips("sale totals", &parts.totals);
    round_trips("accounts", &parts.accounts);
    round_trips("tokens", &parts.tokens);
    round_trips("sales breakdown", &parts.sales);
    // A position the API form leaves out survives: the program was ended after its definition.
    let program = parts.programs.list(None, u64::MAX).next().unwrap();
    assert!(program.ended_at.is_some() && program.defined_at > 0);
}
