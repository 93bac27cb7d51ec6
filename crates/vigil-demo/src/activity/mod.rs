//! Normal activity: what the company's people and machines do on ordinary days.
//!
//! Work follows the office day (people log on between 07:30 and 09:30 local time and
//! leave between 16:30 and 18:30, fewer work on weekends); machines do their own
//! background work around the clock at a lower rate.

mod email;
mod endpoint;
mod identity;
mod intune;
mod inventory;
mod security;
mod servers;
mod sites;

pub use email::{Mail, mail_rows};
pub use identity::{APPS, Client, Outcome, Place, audit_row, signin, workstation_client};
pub use inventory::CONFLUENCE;
pub use security::{SecurityFields, security_event};
pub use sites::public_ip;

use crate::Error;
use crate::clock::{Clock, Day};
use crate::org::Org;
use crate::rng::Rng;
use crate::sink::Sink;

/// What every part of the generator needs.
pub struct Ctx<'a> {
    pub seed: u64,
    pub scale: f64,
    pub clock: Clock,
    pub org: &'a Org,
}

impl Ctx<'_> {
    pub fn rng(&self, label: &str) -> Rng {
        Rng::stream(self.seed, label)
    }

    /// `n` scaled by the volume setting, at least 1 when `n` is positive.
    pub fn scaled(&self, n: f64) -> usize {
        if n <= 0.0 {
            0
        } else {
            ((n * self.scale).round() as usize).max(1)
        }
    }
}

/// A person's working day: when they started and stopped, and from where.
#[derive(Debug, Clone, Copy)]
pub struct Shift {
    pub day: Day,
    pub start: i64,
    pub end: i64,
    pub remote: bool,
}

/// Who works when: one entry per person and day they worked.
pub fn shifts(ctx: &Ctx<'_>, user: usize) -> Vec<Shift> {
    let mut rng = ctx.rng(&format!("shift-{user}"));
    let mut out = Vec::new();
    for day in ctx.clock.days() {
        let works = if day.is_weekend() {
            rng.chance(0.07)
        } else {
            rng.chance(0.93)
        };
        // Draw the times even on days off so that one day's choice does not shift
        // the next day's values.
        let start_h = 7.5 + rng.unit() * 2.0;
        let len_h = if day.is_weekend() {
            1.0 + rng.unit() * 2.5
        } else {
            7.5 + rng.unit() * 2.0
        };
        let remote = rng.chance(0.25);
        if !works {
            continue;
        }
        let start = day.at(start_h);
        let end = day.at(start_h + len_h);
        if end <= ctx.clock.start || start >= ctx.clock.end {
            continue;
        }
        out.push(Shift {
            day,
            start: start.max(ctx.clock.start),
            end: end.min(ctx.clock.end - 1),
            remote: remote || day.is_weekend(),
        });
    }
    out
}

/// Writes all normal activity.
pub fn generate(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), Error> {
    inventory::generate(ctx, sink)?;
    intune::generate(ctx, sink)?;
    identity::generate(ctx, sink)?;
    email::generate(ctx, sink)?;
    endpoint::generate(ctx, sink)?;
    servers::generate(ctx, sink)?;
    security::generate(ctx, sink)?;
    Ok(())
}
