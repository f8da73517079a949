//! Probe: cost of sled inserts per event vs per chunk (not part of the product).
use std::time::Instant;
fn main() {
    for (label, per_value, values, seg) in [
        ("per-event", 1usize, 200_000usize, 512usize << 10),
        ("chunk-16", 16, 200_000 / 16, 512 << 10),
        ("chunk-64", 64, 200_000 / 64, 512 << 10),
        ("chunk-64-seg8m", 64, 200_000 / 64, 8 << 20),
        ("chunk-256-seg8m", 256, 200_000 / 256, 8 << 20),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new()
            .path(dir.path())
            .segment_size(seg)
            .flush_every_ms(None)
            .open()
            .unwrap();
        let tree = db.open_tree("log").unwrap();
        let value = vec![7u8; 236 * per_value];
        let t = Instant::now();
        let mut k = 0u64;
        let per_batch = (8000 / per_value).max(1);
        while k < values as u64 {
            let mut batch = sled::Batch::default();
            for _ in 0..per_batch {
                k += 1;
                batch.insert(&k.to_be_bytes(), value.as_slice());
            }
            tree.apply_batch(batch).unwrap();
            db.flush().unwrap();
        }
        let w = t.elapsed();
        let t = Instant::now();
        let n = tree.iter().count();
        let blobs = std::fs::read_dir(dir.path().join("blobs"))
            .map(|d| d.count())
            .unwrap_or(0);
        println!(
            "{label}: {blobs} blobs, write {:.0} ms, iterate {n} in {:.0} ms, disk {} bytes",
            w.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3,
            db.size_on_disk().unwrap()
        );
    }
}
