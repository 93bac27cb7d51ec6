//! Limits on one analysis, so that hostile input ends with a partial result, not a hang.

use std::time::{Duration, Instant};

/// The limits one analysis runs under. Every field has a default chosen so that a typical
/// script analyses in milliseconds and a hostile one stops within about a second.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Input beyond this many bytes is not read.
    pub max_input: usize,
    /// No decoded or decompressed text may grow beyond this many bytes.
    pub max_decoded: usize,
    /// Decoding stops after this many layers.
    pub max_layers: usize,
    /// Total work units (roughly bytes scanned) over all passes.
    pub max_work: u64,
    /// Expression nesting the PowerShell evaluator follows.
    pub max_depth: usize,
    /// Wall-clock cap on the whole analysis.
    pub max_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input: 4 << 20,
            max_decoded: 4 << 20,
            max_layers: 40,
            max_work: 400 << 20,
            max_depth: 60,
            max_time: Duration::from_secs(3),
        }
    }
}

/// The running account of work done against [`Limits`], and the warnings met on the way.
#[derive(Debug)]
pub(crate) struct Budget {
    pub limits: Limits,
    work: u64,
    started: Instant,
    exhausted: bool,
    pub warnings: Vec<String>,
}

impl Budget {
    pub fn new(limits: Limits) -> Self {
        Budget {
            limits,
            work: 0,
            started: Instant::now(),
            exhausted: false,
            warnings: Vec::new(),
        }
    }

    /// Charges `units` of work; false once the budget is spent (and stays false).
    pub fn charge(&mut self, units: usize) -> bool {
        if self.exhausted {
            return false;
        }
        self.work = self.work.saturating_add(units as u64);
        if self.work > self.limits.max_work {
            self.exhausted = true;
            self.warn(format!(
                "work limit reached ({} units): decoding stopped early, results are partial",
                self.limits.max_work
            ));
            return false;
        }
        // Reading the clock costs little next to the passes that call this.
        if self.started.elapsed() > self.limits.max_time {
            self.exhausted = true;
            self.warn(format!(
                "time limit reached ({} ms): decoding stopped early, results are partial",
                self.limits.max_time.as_millis()
            ));
            return false;
        }
        true
    }

    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Adds a warning once; the same sentence twice says nothing new.
    pub fn warn(&mut self, message: String) {
        if !self.warnings.contains(&message) && self.warnings.len() < 50 {
            self.warnings.push(message);
        }
    }
}
