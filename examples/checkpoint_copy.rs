//! How long a checkpoint stalls the writer: the writer copies the decision state and the
//! read models (then a background thread encodes and writes them). Restores a stopped data
//! directory as a start would, then times five copies and one encoding.
//!
//! `cargo run --release --example checkpoint_copy -- DATA_DIR`

use std::path::Path;
use std::time::Instant;

use kaledger::engine::{restore, LineHome};
use kaledger::ledger::LogStore;

fn main() {
    let data = std::env::args()
        .nth(1)
        .expect("usage: checkpoint_copy DATA_DIR (a stopped ledger)");
    let store = LogStore::open(Path::new(&data)).expect("open the data directory");
    let home = LineHome::of_data_dir(&store).expect("open the derived stores");
    let replayed = restore(&store, &home).expect("restore");
    println!(
        "head {} (checkpoint at {}, {} events replayed)",
        replayed.head.position, replayed.checkpoint, replayed.events
    );
    for _ in 0..5 {
        let started = Instant::now();
        let copy = (replayed.state.clone(), replayed.read.clone());
        println!("copy {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
        drop(copy);
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let path = kaledger::engine::checkpoint::write(dir.path(), &replayed.state, &replayed.read)
        .expect("write a checkpoint");
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "encode and write {:.1} ms ({bytes} bytes, off the writer thread)",
        started.elapsed().as_secs_f64() * 1e3
    );
}
