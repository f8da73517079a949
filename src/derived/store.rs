//! The fjall keyspace of a data directory's derived stores (`<data>/derived`):
//! partition `invoices` (account ‖ 0 ‖ invoice → its sold lines), `returns` (account ‖ 0 ‖
//! return ‖ 0 ‖ invoice ‖ 0 ‖ line → the return), `facts` (account ‖ 0 ‖ first position
//! BE → a run of the account's line facts) and `marks` (each store's position and the
//! format). Each write is one atomic fjall batch holding a store's records and its mark,
//! so a mark never claims what is not there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use chrono::NaiveDate;
use fjall::{Batch, Config, Keyspace, PartitionCreateOptions, PartitionHandle};
use rust_decimal::Decimal;

use super::encode::{put_date, put_decimal, put_varint, DecodeError, Reader};
use crate::domain::book::{BookChanges, InvoiceLines, LineBook, Needs, ReturnLines};
use crate::domain::state::{FastMap, ReturnedLine, SoldLine};

/// The format of the derived stores; a store of another format is emptied and rebuilt.
const FORMAT: u32 = 3;
/// Block cache of the keyspace (named limit on the memory the stores may take).
pub const CACHE_BYTES: u64 = 32 << 20;
/// Memtables held before they are written out (named limit).
pub const WRITE_BUFFER_BYTES: u64 = 16 << 20;
/// Journal kept before memtables are flushed to segments: it is replayed at every open,
/// so it bounds the stores' share of start time (fjall's least is 24 MiB).
pub const JOURNAL_BYTES: u64 = 24 << 20;

/// Why a derived store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DerivedError {
    #[error("derived store: {0}")]
    Storage(String),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl From<fjall::Error> for DerivedError {
    fn from(e: fjall::Error) -> Self {
        DerivedError::Storage(e.to_string())
    }
}

impl From<DerivedError> for crate::ledger::LedgerError {
    fn from(e: DerivedError) -> Self {
        crate::ledger::LedgerError::Storage(e.to_string())
    }
}

impl From<fjall::LsmError> for DerivedError {
    fn from(e: fjall::LsmError) -> Self {
        DerivedError::Storage(e.to_string())
    }
}

/// One sale or return of an account, as accruals and `known_at` folds need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFact {
    pub position: u64,
    /// The sale's date (for a return: the date of the sale it returns).
    pub sale_date: NaiveDate,
    pub sku: u32,
    pub category: u32,
    /// Signed: negative for returns.
    pub net: Decimal,
    pub cost: Decimal,
    pub quantity: Decimal,
    /// A return line (its amounts are taken back); else a sale line.
    pub returned: bool,
}

/// How many sale and return lines an account has (at some cutoff).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineCounts {
    pub sales: u64,
    pub returns: u64,
}

impl LineCounts {
    /// Counts one more line of `fact`'s kind.
    pub fn add(&mut self, fact: &LineFact) {
        if fact.returned {
            self.returns += 1;
        } else {
            self.sales += 1;
        }
    }

    /// Sale and return lines together.
    pub fn total(&self) -> u64 {
        self.sales + self.returns
    }
}

/// The positions the stores reflect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreMarks {
    /// Natural-key records (invoices and returns).
    pub records: u64,
    /// Line facts.
    pub facts: u64,
}

/// The derived stores of one data directory (or a temporary one). They can be opened
/// again in place ([`LineStore::reopen`]): after a failed write fjall refuses every later
/// one until then.
pub struct LineStore {
    /// None only while a reopen is in progress or failed.
    inner: RwLock<Option<Open>>,
    /// Facts stored per account (loaded on first use): the count a new run starts after.
    fact_counts: Mutex<FastMap<String, LineCounts>>,
    path: PathBuf,
    temporary: bool,
}

/// A read guard on open stores.
struct OpenGuard<'a>(RwLockReadGuard<'a, Option<Open>>);

impl std::ops::Deref for OpenGuard<'_> {
    type Target = Open;
    fn deref(&self) -> &Open {
        // `LineStore::db` hands out guards only over `Some`.
        self.0.as_ref().expect("checked open")
    }
}

/// The open keyspace and its partitions.
struct Open {
    keyspace: Keyspace,
    invoices: PartitionHandle,
    returns: PartitionHandle,
    facts: PartitionHandle,
    marks: PartitionHandle,
}

impl std::fmt::Debug for LineStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineStore")
            .field("path", &self.path)
            .finish()
    }
}

const MARK_RECORDS: &[u8] = b"records";
const MARK_FACTS: &[u8] = b"facts";
const MARK_FORMAT: &[u8] = b"format";

fn text_key(parts: &[&str]) -> Vec<u8> {
    let mut key = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 8);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            key.push(0);
        }
        key.extend_from_slice(part.as_bytes());
    }
    key
}

fn fact_key(account_id: &str, first_position: u64) -> Vec<u8> {
    let mut key = text_key(&[account_id]);
    key.push(0);
    key.extend_from_slice(&first_position.to_be_bytes());
    key
}

fn read_mark(marks: &PartitionHandle, name: &[u8]) -> Result<u64, DerivedError> {
    Ok(match marks.get(name)? {
        Some(v) => u64::from_be_bytes(
            v.as_ref()
                .try_into()
                .map_err(|_| DecodeError("mark is not 8 bytes"))?,
        ),
        None => 0,
    })
}

impl Open {
    fn new(dir: &Path, temporary: bool) -> Result<Open, DerivedError> {
        let keyspace = Config::new(dir)
            .temporary(temporary)
            .cache_size(CACHE_BYTES)
            .max_write_buffer_size(WRITE_BUFFER_BYTES)
            .max_journaling_size(JOURNAL_BYTES)
            .flush_workers(1)
            .compaction_workers(1)
            .open()?;
        let open = |name: &str, options| keyspace.open_partition(name, options);
        let point_reads = PartitionCreateOptions::default();
        // Facts are only ever read in ranges: a bloom filter (10 bits a run, in memory for
        // as long as the store is open) would never answer a read.
        let range_reads = PartitionCreateOptions::default().bloom_filter_bits(None);
        Ok(Open {
            invoices: open("invoices", point_reads.clone())?,
            returns: open("returns", point_reads.clone())?,
            facts: open("facts", range_reads)?,
            marks: open("marks", point_reads)?,
            keyspace,
        })
    }
}

impl LineStore {
    /// Opens (or creates) the derived stores in `dir`; stores of another format are
    /// removed, to be rebuilt from the log.
    pub fn open(dir: &Path) -> Result<LineStore, DerivedError> {
        let store = Self::open_in(dir, false)?;
        let format = store.db()?.marks.get(MARK_FORMAT)?;
        match format {
            Some(format) if format.as_ref() == FORMAT.to_be_bytes() => Ok(store),
            Some(_) => {
                tracing::warn!(path = %dir.display(), "derived stores of another format; rebuilding them from the log");
                drop(store);
                Self::open_empty(dir)
            }
            None => store.stamped(),
        }
    }

    /// Removes the derived stores in `dir` and opens them empty.
    pub fn open_empty(dir: &Path) -> Result<LineStore, DerivedError> {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(DerivedError::Storage(format!("{}: {e}", dir.display()))),
        }
        Self::open_in(dir, false)?.stamped()
    }

    /// Derived stores in a fresh directory under `parent`, removed when dropped (for
    /// replays that are not the data directory's own: rebuilds, backups).
    pub fn temporary(parent: &Path) -> Result<LineStore, DerivedError> {
        let dir = parent.join(format!(
            "kaledger-derived-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        Self::open_in(&dir, true)?.stamped()
    }

    /// The stores, marked as of this format (they hold nothing of another).
    fn stamped(self) -> Result<LineStore, DerivedError> {
        self.db()?.marks.insert(MARK_FORMAT, FORMAT.to_be_bytes())?;
        Ok(self)
    }

    fn open_in(dir: &Path, temporary: bool) -> Result<LineStore, DerivedError> {
        Ok(LineStore {
            inner: RwLock::new(Some(Open::new(dir, temporary)?)),
            fact_counts: Mutex::new(FastMap::default()),
            path: dir.to_path_buf(),
            temporary,
        })
    }

    /// Opens the stores again from disk (what they hold is what fjall made durable; the
    /// marks say how far, and the caller catches up from there).
    pub fn reopen(&self) -> Result<(), DerivedError> {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        // The old keyspace is closed before the new one opens the same files.
        drop(inner.take());
        *inner = Some(Open::new(&self.path, self.temporary)?);
        self.fact_counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }

    fn db(&self) -> Result<OpenGuard<'_>, DerivedError> {
        let guard = self.inner.read().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            return Err(DerivedError::Storage(
                "closed for reopening after a failed write; try again".to_string(),
            ));
        }
        Ok(OpenGuard(guard))
    }

    /// The positions the stores reflect.
    pub fn marks(&self) -> Result<StoreMarks, DerivedError> {
        let db = self.db()?;
        Ok(StoreMarks {
            records: read_mark(&db.marks, MARK_RECORDS)?,
            facts: read_mark(&db.marks, MARK_FACTS)?,
        })
    }

    /// The stored lines of an invoice (empty when none is stored).
    pub fn invoice(
        &self,
        account_id: &str,
        invoice_id: &str,
    ) -> Result<InvoiceLines, DerivedError> {
        match self
            .db()?
            .invoices
            .get(text_key(&[account_id, invoice_id]))?
        {
            Some(bytes) => decode_by_line(&bytes, decode_sold),
            None => Ok(InvoiceLines::new()),
        }
    }

    /// The stored lines of one return of one invoice (empty when none is stored).
    pub fn returned(
        &self,
        account_id: &str,
        return_id: &str,
        invoice_id: &str,
    ) -> Result<ReturnLines, DerivedError> {
        match self
            .db()?
            .returns
            .get(text_key(&[account_id, return_id, invoice_id]))?
        {
            Some(bytes) => decode_by_line(&bytes, decode_return),
            None => Ok(ReturnLines::new()),
        }
    }

    /// Puts at hand in `book` every record `needs` names that it does not hold yet.
    pub fn load(&self, book: &mut LineBook, needs: &Needs) -> Result<(), DerivedError> {
        for (account, invoice) in &needs.invoices {
            if !book.has_invoice(account, invoice) {
                let lines = self.invoice(account, invoice)?;
                book.load_invoice(account, invoice, lines);
            }
        }
        for key in &needs.returns {
            if !book.has_return(key) {
                let lines = self.returned(&key.0, &key.1, &key.2)?;
                book.load_return(key.clone(), lines);
            }
        }
        Ok(())
    }

    /// Writes changed natural-key records and marks them as reflecting `position`.
    pub fn write_records(&self, changes: &BookChanges, position: u64) -> Result<(), DerivedError> {
        let db = self.db()?;
        let mut batch = db.keyspace.batch();
        for (account, invoice, lines) in &changes.invoices {
            batch.insert(
                &db.invoices,
                text_key(&[account, invoice]),
                encode_by_line(lines, encode_sold),
            );
        }
        for ((account, return_id, invoice), lines) in &changes.returns {
            let key = text_key(&[account, return_id, invoice]);
            batch.insert(&db.returns, key, encode_by_line(lines, encode_return));
        }
        batch.insert(&db.marks, MARK_RECORDS, position.to_be_bytes());
        batch.commit()?;
        Ok(())
    }

    /// Writes every memtable out to segments and waits: at a clean stop, so the next open
    /// replays no journal into memory.
    pub fn settle(&self) -> Result<(), DerivedError> {
        let db = self.db()?;
        for partition in [&db.invoices, &db.returns, &db.facts, &db.marks] {
            partition.rotate_memtable_and_wait()?;
        }
        Ok(())
    }

    /// Appends runs of line facts (by account, positions increasing and after every
    /// stored one) and marks the facts as reflecting `position`.
    pub fn append_facts(
        &self,
        runs: &FastMap<String, Vec<LineFact>>,
        position: u64,
    ) -> Result<(), DerivedError> {
        let mut counts = self.fact_counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut runs_before = Vec::with_capacity(runs.len());
        for (account, facts) in runs {
            let Some(first) = facts.first() else { continue };
            let before = match counts.get(account) {
                Some(count) => *count,
                None => self.fact_count_through(account, u64::MAX)?,
            };
            runs_before.push((account, first.position, before, facts));
        }
        let db = self.db()?;
        let mut batch: Batch = db.keyspace.batch();
        for (account, first, before, facts) in &runs_before {
            batch.insert(
                &db.facts,
                fact_key(account, *first),
                encode_facts(*before, facts),
            );
        }
        batch.insert(&db.marks, MARK_FACTS, position.to_be_bytes());
        batch.commit()?;
        for (account, _, mut before, facts) in runs_before {
            facts.iter().for_each(|fact| before.add(fact));
            counts.insert(account.clone(), before);
        }
        Ok(())
    }

    /// An account's stored sale and return lines at or before `cutoff` (one run read).
    pub fn fact_count_through(
        &self,
        account_id: &str,
        cutoff: u64,
    ) -> Result<LineCounts, DerivedError> {
        let range = fact_key(account_id, 0)..=fact_key(account_id, cutoff);
        let Some(last) = self.db()?.facts.range(range).next_back() else {
            return Ok(LineCounts::default());
        };
        let (_, value) = last?;
        let (mut counts, facts) = decode_facts(&value)?;
        facts
            .iter()
            .take_while(|f| f.position <= cutoff)
            .for_each(|fact| counts.add(fact));
        Ok(counts)
    }

    /// An account's stored facts at or before `cutoff`, in log order.
    pub fn facts_through(
        &self,
        account_id: &str,
        cutoff: u64,
    ) -> Result<Vec<LineFact>, DerivedError> {
        let mut out = Vec::new();
        let range = fact_key(account_id, 0)..=fact_key(account_id, cutoff);
        for entry in self.db()?.facts.range(range) {
            let (_, value) = entry?;
            let (_, facts) = decode_facts(&value)?;
            out.extend(facts.into_iter().filter(|f| f.position <= cutoff));
        }
        Ok(out)
    }
}

fn encode_sold(out: &mut Vec<u8>, sold: &SoldLine) {
    out.extend_from_slice(&sold.fingerprint);
    put_decimal(out, sold.quantity);
    put_decimal(out, sold.net_amount);
    put_decimal(out, sold.cost_amount);
    put_date(out, sold.occurred_on);
    put_varint(out, sold.sku.into());
    put_varint(out, sold.category.into());
    let returned = [
        sold.returned_quantity,
        sold.returned_net,
        sold.returned_cost,
    ];
    if returned.iter().all(Decimal::is_zero) {
        out.push(0);
    } else {
        out.push(1);
        for value in returned {
            put_decimal(out, value);
        }
    }
}

fn decode_sold(r: &mut Reader<'_>) -> Result<SoldLine, DecodeError> {
    let fingerprint = r.array::<16>()?;
    let (quantity, net_amount, cost_amount) = (r.decimal()?, r.decimal()?, r.decimal()?);
    let occurred_on = r.date()?;
    let (sku, category) = (r.u32()?, r.u32()?);
    let (returned_quantity, returned_net, returned_cost) = match r.byte()? {
        0 => (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO),
        1 => (r.decimal()?, r.decimal()?, r.decimal()?),
        _ => return Err(DecodeError("returned flag")),
    };
    Ok(SoldLine {
        fingerprint,
        quantity,
        net_amount,
        cost_amount,
        occurred_on,
        sku,
        category,
        returned_quantity,
        returned_net,
        returned_cost,
    })
}

/// Records by line number (an invoice's lines, a return's lines): the count, then each
/// line number and its record.
fn encode_by_line<T>(lines: &BTreeMap<u32, T>, one: fn(&mut Vec<u8>, &T)) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + lines.len() * 40);
    put_varint(&mut out, lines.len() as u128);
    for (line, record) in lines {
        put_varint(&mut out, (*line).into());
        one(&mut out, record);
    }
    out
}

/// Reads what [`encode_by_line`] wrote.
fn decode_by_line<T>(
    bytes: &[u8],
    one: fn(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<BTreeMap<u32, T>, DerivedError> {
    let mut r = Reader::new(bytes);
    let count = r.u64()?;
    let mut lines = BTreeMap::new();
    for _ in 0..count {
        let line = r.u32()?;
        lines.insert(line, one(&mut r)?);
    }
    Ok(lines)
}

fn encode_return(out: &mut Vec<u8>, record: &ReturnedLine) {
    put_decimal(out, record.quantity);
    put_decimal(out, record.net_amount);
    put_decimal(out, record.cost_amount);
    put_date(out, record.occurred_on);
}

fn decode_return(r: &mut Reader<'_>) -> Result<ReturnedLine, DecodeError> {
    Ok(ReturnedLine {
        quantity: r.decimal()?,
        net_amount: r.decimal()?,
        cost_amount: r.decimal()?,
        occurred_on: r.date()?,
    })
}

/// A run: the account's sale and return lines before it, the count, then each fact with
/// its position as a delta from the previous one, shifted left once to hold the return bit.
fn encode_facts(before: LineCounts, facts: &[LineFact]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + facts.len() * 24);
    put_varint(&mut out, before.sales.into());
    put_varint(&mut out, before.returns.into());
    put_varint(&mut out, facts.len() as u128);
    let mut previous = 0;
    for fact in facts {
        let delta = u128::from(fact.position - previous);
        put_varint(&mut out, delta << 1 | u128::from(fact.returned));
        previous = fact.position;
        put_date(&mut out, fact.sale_date);
        put_varint(&mut out, fact.sku.into());
        put_varint(&mut out, fact.category.into());
        put_decimal(&mut out, fact.net);
        put_decimal(&mut out, fact.cost);
        put_decimal(&mut out, fact.quantity);
    }
    out
}

fn decode_facts(bytes: &[u8]) -> Result<(LineCounts, Vec<LineFact>), DecodeError> {
    let mut r = Reader::new(bytes);
    let before = LineCounts {
        sales: r.u64()?,
        returns: r.u64()?,
    };
    let count = r.u64()?;
    let mut facts = Vec::with_capacity(count.min(1 << 16) as usize);
    let mut position = 0u64;
    for _ in 0..count {
        let delta = r.varint()?;
        position = u64::try_from(delta >> 1)
            .ok()
            .and_then(|d| position.checked_add(d))
            .ok_or(DecodeError("position"))?;
        facts.push(LineFact {
            returned: delta & 1 == 1,
            position,
            sale_date: r.date()?,
            sku: r.u32()?,
            category: r.u32()?,
            net: r.decimal()?,
            cost: r.decimal()?,
            quantity: r.decimal()?,
        });
    }
    Ok((before, facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(position: u64, net: i64) -> LineFact {
        LineFact {
            position,
            sale_date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            sku: 3,
            category: 1,
            net: Decimal::new(net, 2),
            cost: Decimal::new(net / 2, 2),
            quantity: Decimal::new(-2, 0),
            returned: net < 0,
        }
    }

    fn sold(q: i64) -> SoldLine {
        SoldLine {
            fingerprint: [9; 16],
            quantity: Decimal::new(q, 0),
            net_amount: Decimal::new(12345, 2),
            cost_amount: Decimal::new(100, 0),
            occurred_on: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
            sku: 7,
            category: 2,
            returned_quantity: Decimal::ZERO,
            returned_net: Decimal::ZERO,
            returned_cost: Decimal::new(-5, 1),
        }
    }

    #[test]
    fn records_and_facts_round_trip_with_their_marks() {
        let dir = tempfile::tempdir().unwrap();
        let store = LineStore::open(dir.path()).unwrap();
        assert_eq!(store.marks().unwrap(), StoreMarks::default());
        let mut lines = InvoiceLines::new();
        lines.insert(1, sold(4));
        lines.insert(2, sold(5));
        let key = ("KA-1".to_string(), "R-1".to_string(), "I-1".to_string());
        let record = ReturnedLine {
            quantity: Decimal::new(1, 0),
            net_amount: Decimal::new(-1, 0),
            cost_amount: Decimal::ZERO,
            occurred_on: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
        };
        let changes = BookChanges {
            invoices: vec![("KA-1".into(), "I-1".into(), lines.clone())],
            returns: vec![(key.clone(), ReturnLines::from([(2, record.clone())]))],
        };
        store.write_records(&changes, 7).unwrap();
        assert_eq!(store.invoice("KA-1", "I-1").unwrap(), lines);
        assert!(store.invoice("KA-1", "I-2").unwrap().is_empty());
        assert_eq!(store.returned("KA-1", "R-1", "I-1").unwrap()[&2], record);
        assert!(store.returned("KA-1", "R-2", "I-1").unwrap().is_empty());
        let mut runs = FastMap::default();
        runs.insert("KA-1".to_string(), vec![fact(3, 100), fact(5, -40)]);
        store.append_facts(&runs, 5).unwrap();
        runs.insert("KA-1".to_string(), vec![fact(9, 7)]);
        store.append_facts(&runs, 9).unwrap();
        assert_eq!(
            store.marks().unwrap(),
            StoreMarks {
                records: 7,
                facts: 9
            }
        );
        assert_eq!(
            store.facts_through("KA-1", 5).unwrap(),
            vec![fact(3, 100), fact(5, -40)]
        );
        assert_eq!(store.facts_through("KA-1", 100).unwrap().len(), 3);
        let counts = |sales, returns| LineCounts { sales, returns };
        assert_eq!(store.fact_count_through("KA-1", 4).unwrap(), counts(1, 0));
        assert_eq!(store.fact_count_through("KA-1", 5).unwrap(), counts(1, 1));
        assert_eq!(store.fact_count_through("KA-1", 9).unwrap(), counts(2, 1));
        assert_eq!(store.fact_count_through("KA-10", 9).unwrap(), counts(0, 0));
        drop(store);
        let store = LineStore::open(dir.path()).unwrap();
        assert_eq!(
            store.marks().unwrap(),
            StoreMarks {
                records: 7,
                facts: 9
            }
        );
        assert_eq!(store.fact_count_through("KA-1", 9).unwrap().total(), 3);
    }
}
