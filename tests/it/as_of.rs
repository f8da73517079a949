//! The one `known_at` mechanism (`projections::as_of`): an account's per-day totals and
//! monthly breakdown as of any position, folded from the line facts at or before it, equal
//! the live read model of a replay stopped at that position.

use kaledger::engine::{replay_through, LineHome};
use serde_json::json;

use crate::support::{give_back, sale_on, sell, TestApp};

#[tokio::test]
async fn sales_as_of_every_position_equal_a_replay_stopped_there() {
    let app = TestApp::new().await;
    app.open_account("ACC-A", "EUR").await;
    app.open_account("ACC-B", "EUR").await;
    let days = ["2026-01-05", "2026-01-20", "2026-02-03", "2026-03-15"];
    for (i, day) in days.iter().enumerate() {
        let invoice = format!("INV-{i}");
        let net = format!("{}.50", 100 + i * 7);
        sell(
            &app,
            vec![
                sale_on("ACC-A", &invoice, 1, &net, "60.00", day),
                sale_on("ACC-B", &invoice, 1, "80.00", "70.00", day),
            ],
        )
        .await;
    }
    let line = |invoice: &str, quantity: &str, net: &str| {
        json!({"account_id": "ACC-A", "return_id": format!("RET-{invoice}"), "invoice_id": invoice,
            "line": 1, "quantity": quantity, "net_amount": net, "occurred_on": "2026-03-20"})
    };
    give_back(&app, vec![line("INV-0", "4", "40.20")]).await;
    give_back(&app, vec![line("INV-2", "10", "114.50")]).await;
    let live = app.engine.read();
    let head = live.head_position();
    for cutoff in 1..=head {
        let stopped = replay_through(app.engine.store(), &LineHome::Memory, cutoff)
            .expect("replay")
            .read;
        for account in ["ACC-A", "ACC-B", "ACC-NONE"] {
            let expected_daily = stopped.daily(account).cloned().unwrap_or_default();
            assert_eq!(
                *live.daily_at(account, cutoff).expect("daily"),
                expected_daily,
                "per-day totals of {account} at position {cutoff}"
            );
            let expected_months = stopped
                .breakdown
                .get(account)
                .map(|b| b.months(0, i32::MAX - 1, "EUR"));
            assert_eq!(
                Some(
                    live.breakdown_at(account, cutoff)
                        .expect("breakdown")
                        .months(0, i32::MAX - 1, "EUR")
                )
                .filter(|m| !m.is_empty()),
                expected_months.filter(|m| !m.is_empty()),
                "monthly breakdown of {account} at position {cutoff}"
            );
        }
    }
}
