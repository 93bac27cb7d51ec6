//! A fictional organisation's security telemetry, with attacks in it: the data behind
//! `vigil demo`.
//!
//! [`DemoBuilder`] writes fourteen days of activity of *Tamarack Ridge Engineering*
//! (`tamarack.example`, about 200 people, 50 Windows workstations, a domain controller,
//! a file server and a few Linux servers) as one NDJSON file per Defender XDR or
//! Sentinel table, each line a row whose keys are that table's catalog columns plus
//! `Type`, so that `vigil ingest` puts every row in its table. Normal work follows
//! office hours; six scenarios are injected on top (a phishing-to-ransomware chain,
//! USB exfiltration, a password spray with MFA fatigue, Kerberoasting, an exposed
//! vulnerable server, and benign look-alikes), and `ground-truth.json` says what each
//! one is, where and when it happened, and what a hunt should find.
//!
//! The output depends only on the seed and the reference time: the same pair gives the
//! same bytes.
//!
//! ```no_run
//! use chrono::{TimeZone, Utc};
//! use vigil_demo::DemoBuilder;
//!
//! let now = Utc.with_ymd_and_hms(2026, 3, 11, 12, 0, 0).unwrap();
//! let summary = DemoBuilder::new(now).seed(7).generate("demo-out".as_ref())?;
//! println!("{} rows in {} tables", summary.total_rows(), summary.rows.len());
//! # Ok::<(), vigil_demo::Error>(())
//! ```

mod activity;
mod b64;
mod clock;
mod events;
mod host;
mod names;
mod org;
mod proc;
mod rng;
mod scenarios;
mod sink;
mod truth;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

pub use truth::{ExpectedIncident, GroundTruth, Scenario};

/// The seed used when none is given.
pub const DEFAULT_SEED: u64 = 0x7A3A_2026;

/// The ground-truth file written next to the tables.
pub const GROUND_TRUTH_FILE: &str = "ground-truth.json";

/// What can go wrong while generating.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the demo writes table {0}, which Vigil's catalog does not have")]
    UnknownTable(String),
    #[error("the demo writes column {column} of {table}, which the catalog does not list")]
    UnknownColumn { table: String, column: String },
    #[error("scale must be between 0.1 and 20, not {0}")]
    Scale(f64),
}

/// What a generation wrote.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Rows per table name.
    pub rows: BTreeMap<String, usize>,
    /// The NDJSON files written, one per table, in table-name order.
    pub files: Vec<PathBuf>,
    pub ground_truth: PathBuf,
    /// The scenarios injected, as in the ground-truth file.
    pub truth: GroundTruth,
}

impl Summary {
    pub fn total_rows(&self) -> usize {
        self.rows.values().sum()
    }
}

/// Settings of one demo generation.
#[derive(Debug, Clone)]
pub struct DemoBuilder {
    seed: u64,
    now: DateTime<Utc>,
    scale: f64,
}

impl DemoBuilder {
    /// A demo whose fourteen days end at `now`, with the default seed and scale.
    pub fn new(now: DateTime<Utc>) -> DemoBuilder {
        DemoBuilder {
            seed: DEFAULT_SEED,
            now,
            scale: 1.0,
        }
    }

    /// Another organisation and other activity (the scenarios stay, with other actors
    /// and times).
    pub fn seed(mut self, seed: u64) -> DemoBuilder {
        self.seed = seed;
        self
    }

    /// Multiplies the volume of normal activity (1.0 gives about 150,000 rows); the
    /// scenarios are the same at every scale.
    pub fn scale(mut self, scale: f64) -> DemoBuilder {
        self.scale = scale;
        self
    }

    /// Writes the tables and the ground truth into `out_dir` (created if missing).
    pub fn generate(&self, out_dir: &Path) -> Result<Summary, Error> {
        if !(0.1..=20.0).contains(&self.scale) {
            return Err(Error::Scale(self.scale));
        }
        std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
            path: out_dir.to_path_buf(),
            source,
        })?;
        let clock = clock::Clock::new(self.now);
        let org = org::Org::build(self.seed, clock.start);
        let mut sink = sink::Sink::new(&org.tenant_id, clock.end);
        let ctx = activity::Ctx {
            seed: self.seed,
            scale: self.scale,
            clock,
            org: &org,
        };
        activity::generate(&ctx, &mut sink)?;
        let truth = scenarios::inject(&ctx, &mut sink)?;
        let rows = sink.counts();
        sink.write(out_dir)?;
        let ground_truth = out_dir.join(GROUND_TRUTH_FILE);
        truth.write(&ground_truth)?;
        let files = rows
            .keys()
            .map(|t| out_dir.join(format!("{t}.ndjson")))
            .collect();
        Ok(Summary {
            rows,
            files,
            ground_truth,
            truth,
        })
    }
}
