//! The natural-key records the decider consults: each recorded sale line (to tell an
//! identical repeat from a conflict, and what a return may take back) and each return.
//!
//! They grow with the log, so they do not live in memory: the engine keeps them in a
//! derived store on disk and, before deciding, loads into this book the records its
//! commands name ([`Needs`]). Applying events adds to the book; the engine writes the
//! changed records to the store after each durable group and empties the book. A book that
//! is not backed by a store (`LineBook::default()`) keeps everything, as replays of a
//! backup and unit tests need.

use std::collections::BTreeMap;

use super::events::{SaleRecorded, SaleReturned};
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::commands::Command;
use crate::kernel::fast::FastMap;

/// Natural key of a sale line: (account, invoice, line).
pub type SaleKey = (String, String, u32);
/// Natural key of a return line: (account, return, invoice, line).
pub type ReturnKey = (String, String, String, u32);

/// A recorded sale line and what has been returned of it so far.
#[derive(Debug, Clone, PartialEq)]
pub struct SoldLine {
    /// Digest of the line's content, to tell an identical repeat from a conflicting one.
    pub fingerprint: [u8; 16],
    pub quantity: Decimal,
    pub net_amount: Decimal,
    /// The cost that counts for margin: the stated cost, or the net amount when unknown.
    pub cost_amount: Decimal,
    pub occurred_on: NaiveDate,
    /// Interned sku and category (see [`Names`]).
    pub sku: u32,
    pub category: u32,
    pub returned_quantity: Decimal,
    pub returned_net: Decimal,
    pub returned_cost: Decimal,
}

/// A recorded return, kept to tell an identical repeat from a conflicting one.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnedLine {
    pub quantity: Decimal,
    pub net_amount: Decimal,
    /// The resolved cost (stated, or prorated from the sale).
    pub cost_amount: Decimal,
    pub occurred_on: NaiveDate,
}

impl ReturnedLine {
    /// True when a repeat states the same return; a repeat that leaves the cost out
    /// matches whatever cost was resolved the first time.
    pub fn same_as(
        &self,
        quantity: Decimal,
        net: Decimal,
        stated_cost: Option<Decimal>,
        occurred_on: NaiveDate,
    ) -> bool {
        self.quantity == quantity
            && self.net_amount == net
            && self.occurred_on == occurred_on
            && stated_cost.is_none_or(|c| c == self.cost_amount)
    }
}

/// The lines of one invoice of one account, by line number.
pub type InvoiceLines = BTreeMap<u32, SoldLine>;
/// The lines one return takes back from one invoice, by line number.
pub type ReturnLines = BTreeMap<u32, ReturnedLine>;
/// (account, return, invoice): the key a return's lines are kept under.
pub type ReturnOfInvoice = (String, String, String);

/// The records a batch of commands or events looks up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// (account, invoice) pairs.
    pub invoices: Vec<(String, String)>,
    pub returns: Vec<ReturnOfInvoice>,
}

impl Needs {
    /// The records `command` looks up when decided.
    pub fn add_command(&mut self, command: &Command) {
        match command {
            Command::RecordSales { lines } => {
                for l in lines {
                    if let (Some(account), Some(invoice)) = (&l.account_id, &l.invoice_id) {
                        self.add_invoice(account, invoice);
                    }
                }
            }
            Command::RecordReturns { lines } => {
                for l in lines {
                    if let (Some(account), Some(invoice)) = (&l.account_id, &l.invoice_id) {
                        self.add_invoice(account, invoice);
                        if let Some(return_id) = &l.return_id {
                            self.returns.push((
                                account.clone(),
                                return_id.clone(),
                                invoice.clone(),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// An invoice to look up; the next line of the invoice named just before adds nothing
    /// (a batch lists an invoice's lines together, and each invoice is loaded once anyway).
    fn add_invoice(&mut self, account: &str, invoice: &str) {
        if self
            .invoices
            .last()
            .is_some_and(|(a, i)| a == account && i == invoice)
        {
            return;
        }
        self.invoices
            .push((account.to_string(), invoice.to_string()));
    }

    /// The records a sale event changes.
    pub fn add_sale(&mut self, e: &SaleRecorded) {
        self.invoices
            .push((e.account_id.clone(), e.invoice_id.clone()));
    }

    /// The records a return event changes.
    pub fn add_return(&mut self, e: &SaleReturned) {
        self.invoices
            .push((e.account_id.clone(), e.invoice_id.clone()));
        self.returns.push(return_of_invoice(e));
    }
}

/// The key a return event's line is kept under.
pub fn return_of_invoice(e: &SaleReturned) -> ReturnOfInvoice {
    (
        e.account_id.clone(),
        e.return_id.clone(),
        e.invoice_id.clone(),
    )
}

fn group_of(key: &ReturnKey) -> ReturnOfInvoice {
    (key.0.clone(), key.1.clone(), key.2.clone())
}

/// What changed in the book since it was last emptied, to write to the store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BookChanges {
    /// Whole invoices: (account, invoice, every line of it).
    pub invoices: Vec<(String, String, InvoiceLines)>,
    pub returns: Vec<(ReturnOfInvoice, ReturnLines)>,
}

/// The records at hand: loaded from the store, or recorded since.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineBook {
    /// account → invoice → (lines, changed since loaded).
    invoices: FastMap<String, FastMap<String, (InvoiceLines, bool)>>,
    /// (account, return, invoice) → (its lines, changed since loaded).
    returns: FastMap<ReturnOfInvoice, (ReturnLines, bool)>,
    /// True when a store backs the book: a record that is not here was not loaded.
    backed: bool,
}

impl LineBook {
    /// A book over a store: records are loaded before they are consulted.
    pub fn backed() -> LineBook {
        LineBook {
            backed: true,
            ..LineBook::default()
        }
    }

    /// The recorded sale line under `key`, when there is one.
    pub fn sold(&self, key: &SaleKey) -> Option<&SoldLine> {
        self.sold_line(&key.0, &key.1, key.2)
    }

    /// [`LineBook::sold`] by the parts of the key, without building one.
    pub fn sold_line(&self, account_id: &str, invoice_id: &str, line: u32) -> Option<&SoldLine> {
        let invoice = self.invoices.get(account_id)?.get(invoice_id);
        debug_assert!(
            !self.backed || invoice.is_some(),
            "invoice {:?} consulted before it was loaded",
            (account_id, invoice_id, line)
        );
        invoice?.0.get(&line)
    }

    /// The recorded return under `key`, when there is one.
    pub fn returned(&self, key: &ReturnKey) -> Option<&ReturnedLine> {
        let entry = self.returns.get(&group_of(key));
        debug_assert!(
            !self.backed || entry.is_some(),
            "return {key:?} consulted before it was loaded"
        );
        entry?.0.get(&key.3)
    }

    /// True when the invoice's lines are at hand (loaded, or the book holds everything).
    pub fn has_invoice(&self, account_id: &str, invoice_id: &str) -> bool {
        !self.backed
            || self
                .invoices
                .get(account_id)
                .is_some_and(|i| i.contains_key(invoice_id))
    }

    /// True when the lines of a return of an invoice are at hand.
    pub fn has_return(&self, key: &ReturnOfInvoice) -> bool {
        !self.backed || self.returns.contains_key(key)
    }

    /// Puts an invoice's stored lines (possibly none) at hand.
    pub fn load_invoice(&mut self, account_id: &str, invoice_id: &str, lines: InvoiceLines) {
        self.invoices
            .entry(account_id.to_string())
            .or_default()
            .entry(invoice_id.to_string())
            .or_insert((lines, false));
    }

    /// Puts the stored lines of a return of an invoice (possibly none) at hand.
    pub fn load_return(&mut self, key: ReturnOfInvoice, lines: ReturnLines) {
        self.returns.entry(key).or_insert((lines, false));
    }

    /// Records a sold line under its key (account, invoice, line). The names are copied
    /// only when the book does not hold them yet (most lines join an invoice at hand).
    pub fn record_sale(&mut self, account_id: &str, invoice_id: &str, line: u32, sold: SoldLine) {
        let at_hand = self
            .invoices
            .get_mut(account_id)
            .and_then(|invoices| invoices.get_mut(invoice_id));
        let entry = match at_hand {
            Some(entry) => entry,
            None => self
                .invoices
                .entry(account_id.to_string())
                .or_default()
                .entry(invoice_id.to_string())
                .or_default(),
        };
        entry.0.insert(line, sold);
        entry.1 = true;
    }

    /// Takes a return back from its sold line, and keeps it to tell a repeat.
    pub fn record_return(&mut self, e: &SaleReturned) {
        if let Some(entry) = self
            .invoices
            .get_mut(&e.account_id)
            .and_then(|i| i.get_mut(&e.invoice_id))
        {
            if let Some(sold) = entry.0.get_mut(&e.line) {
                sold.returned_quantity = sold.returned_quantity.saturating_add(e.quantity);
                sold.returned_net = sold.returned_net.saturating_add(e.net_amount);
                sold.returned_cost = sold.returned_cost.saturating_add(e.cost_amount);
                entry.1 = true;
            }
        }
        let record = ReturnedLine {
            quantity: e.quantity,
            net_amount: e.net_amount,
            cost_amount: e.cost_amount,
            occurred_on: e.occurred_on,
        };
        let entry = self.returns.entry(return_of_invoice(e)).or_default();
        entry.0.insert(e.line, record);
        entry.1 = true;
    }

    /// The changed records, and an empty book (a book without a store keeps everything).
    pub fn take_changes(&mut self) -> BookChanges {
        let mut changes = BookChanges::default();
        if !self.backed {
            return changes;
        }
        for (account, invoices) in std::mem::take(&mut self.invoices) {
            for (invoice, (lines, changed)) in invoices {
                if changed {
                    changes.invoices.push((account.clone(), invoice, lines));
                }
            }
        }
        for (key, (lines, changed)) in std::mem::take(&mut self.returns) {
            if changed {
                changes.returns.push((key, lines));
            }
        }
        changes
    }

    /// Every record held, in a stable order (for the state digest of an in-memory book).
    pub fn digest_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (account, invoices) in &self.invoices {
            for (invoice, (sold, _)) in invoices {
                for (line, v) in sold {
                    lines.push(format!("l|{:?}|{v:?}", (account, invoice, line)));
                }
            }
        }
        for ((account, return_id, invoice), (returned, _)) in &self.returns {
            for (line, v) in returned {
                lines.push(format!("r|{:?}|{v:?}", (account, return_id, invoice, line)));
            }
        }
        lines
    }
}
