//! Writes the demo data set into a folder and prints the rows per table.
//!
//! `cargo run -p vigil-demo --example generate -- OUT_DIR [NOW] [SEED]`, NOW as RFC 3339
//! (default 2026-03-11T12:00:00Z).

use std::time::Instant;

use chrono::{DateTime, Utc};
use vigil_demo::{DEFAULT_SEED, DemoBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "demo-out".into());
    let now: DateTime<Utc> = match args.next() {
        Some(text) => text.parse()?,
        None => "2026-03-11T12:00:00Z".parse()?,
    };
    let seed = match args.next() {
        Some(text) => text.parse()?,
        None => DEFAULT_SEED,
    };
    let started = Instant::now();
    let summary = DemoBuilder::new(now).seed(seed).generate(out.as_ref())?;
    let took = started.elapsed();
    for (table, rows) in &summary.rows {
        println!("{table:40} {rows:>8}");
    }
    println!("{:40} {:>8}", "total", summary.total_rows());
    println!("generated in {:.2} s", took.as_secs_f64());
    Ok(())
}
