//! Sigma correlation rules over the matches of the rules they name: `event_count`,
//! `value_count`, `temporal` and `temporal_ordered`, per `group-by` values, within the
//! `timespan`.
//!
//! While a hunt runs, each match of a referenced rule is kept as a [`BaseHit`] (its
//! time, its group values, the counted value, its alert's entities); at the end the
//! hits of each group are walked in time order and every window that satisfies the
//! correlation raises one alert, whose entities are those of the matches in it.

use std::collections::{BTreeMap, HashMap};

use crate::alert::{Alert, Entity, short_digest};
use crate::rule::{CorrelationKind, Threshold};

/// A compiled correlation rule.
#[derive(Debug, Clone)]
pub struct CorrelationPlan {
    /// The correlation's own rule number (an index into the detector's rules).
    pub rule: usize,
    pub rule_id: String,
    pub kind: CorrelationKind,
    /// The referenced rules, in the order the correlation lists them.
    pub bases: Vec<usize>,
    pub timespan_ns: i64,
    pub threshold: Option<Threshold>,
}

/// One match of a rule a correlation refers to.
#[derive(Debug, Clone)]
pub struct BaseHit {
    pub correlation: usize,
    /// Which of the correlation's rules matched (its position in `bases`).
    pub base: usize,
    pub time: i64,
    /// The `group-by` values, lower-cased.
    pub group: Vec<String>,
    /// For `value_count`: the value counted.
    pub value: Option<String>,
    pub alert_id: String,
    pub entities: Vec<Entity>,
}

fn holds(t: &Threshold, n: usize) -> bool {
    let n = n as i64;
    match t.op.as_str() {
        "gt" => n > t.value,
        "gte" => n >= t.value,
        "lt" => n < t.value,
        "lte" => n <= t.value,
        _ => n == t.value,
    }
}

/// Whether a count can only grow into the condition (so windows slide) or must stay
/// under it (so windows are fixed from their first event).
fn at_least(t: &Threshold) -> bool {
    matches!(t.op.as_str(), "gt" | "gte" | "eq")
}

fn alert_of(plan: &CorrelationPlan, group: &[String], members: &[&BaseHit], table: &str) -> Alert {
    let time = members[0].time.to_le_bytes();
    let mut parts: Vec<&[u8]> = vec![plan.rule_id.as_bytes()];
    for g in group {
        parts.push(&[0]);
        parts.push(g.as_bytes());
    }
    parts.push(&time);
    let hex = short_digest(&parts, 12);
    let mut entities: Vec<Entity> = Vec::new();
    for m in members {
        for e in &m.entities {
            if !entities.contains(e) {
                entities.push(e.clone());
            }
        }
    }
    Alert {
        id: format!("vc{hex}"),
        time: members[members.len() - 1].time,
        rule: plan.rule,
        entities,
        source_table: table.to_string(),
        source_file: None,
        source_record: None,
    }
}

/// The alerts the correlations raise from the hits collected during a hunt. `tables`
/// names the table each referenced rule reads, for the alerts' source.
pub fn evaluate(
    plans: &[CorrelationPlan],
    hits: &[BaseHit],
    tables: &HashMap<usize, String>,
) -> Vec<Alert> {
    let mut groups: BTreeMap<(usize, Vec<String>), Vec<&BaseHit>> = BTreeMap::new();
    for h in hits {
        groups
            .entry((h.correlation, h.group.clone()))
            .or_default()
            .push(h);
    }
    let mut out = Vec::new();
    for ((c, group), mut members) in groups {
        let plan = &plans[c];
        members.sort_by(|a, b| (a.time, &a.alert_id).cmp(&(b.time, &b.alert_id)));
        let table = plan
            .bases
            .first()
            .and_then(|b| tables.get(b))
            .cloned()
            .unwrap_or_default();
        for window in windows(plan, &members) {
            out.push(alert_of(plan, &group, &window, &table));
        }
    }
    out
}

/// The windows of one group's hits (in time order) that satisfy the correlation.
fn windows<'a>(plan: &CorrelationPlan, hits: &[&'a BaseHit]) -> Vec<Vec<&'a BaseHit>> {
    let span = plan.timespan_ns;
    let mut found = Vec::new();
    match plan.kind {
        CorrelationKind::EventCount | CorrelationKind::ValueCount => {
            let Some(t) = &plan.threshold else {
                return found;
            };
            let distinct = plan.kind == CorrelationKind::ValueCount;
            let measure = |w: &[&BaseHit]| -> usize {
                if distinct {
                    let mut values: Vec<&str> =
                        w.iter().filter_map(|h| h.value.as_deref()).collect();
                    values.sort_unstable();
                    values.dedup();
                    values.len()
                } else {
                    w.len()
                }
            };
            let mut start = 0;
            if at_least(t) {
                // Slide: the window ends at each hit in turn; once it holds, it is
                // reported and the next window starts after it.
                for end in 0..hits.len() {
                    while hits[end].time - hits[start].time > span {
                        start += 1;
                    }
                    let w = &hits[start..=end];
                    if holds(t, measure(w)) {
                        found.push(w.to_vec());
                        start = end + 1;
                        if start >= hits.len() {
                            break;
                        }
                    }
                }
            } else {
                // Fixed windows from their first hit: few enough hits in the span.
                while start < hits.len() {
                    let end = hits[start..]
                        .iter()
                        .position(|h| h.time - hits[start].time > span)
                        .map_or(hits.len(), |p| start + p);
                    let w = &hits[start..end];
                    if holds(t, measure(w)) {
                        found.push(w.to_vec());
                    }
                    start = end;
                }
            }
        }
        CorrelationKind::Temporal => {
            let needed = plan.bases.len();
            let mut start = 0;
            for end in 0..hits.len() {
                while hits[end].time - hits[start].time > span {
                    start += 1;
                }
                let w = &hits[start..=end];
                let mut seen = vec![false; needed];
                for h in w {
                    seen[h.base] = true;
                }
                if seen.iter().all(|s| *s) {
                    found.push(w.to_vec());
                    start = end + 1;
                    if start >= hits.len() {
                        break;
                    }
                }
            }
        }
        CorrelationKind::TemporalOrdered => {
            let mut i = 0;
            while i < hits.len() {
                if hits[i].base != 0 {
                    i += 1;
                    continue;
                }
                let first = hits[i].time;
                let mut chain = vec![hits[i]];
                let mut next = 1;
                let mut last = i;
                for (j, h) in hits.iter().enumerate().skip(i + 1) {
                    if h.time - first > span || next == plan.bases.len() {
                        break;
                    }
                    if h.base == next {
                        chain.push(h);
                        next += 1;
                        last = j;
                    }
                }
                if next == plan.bases.len() {
                    found.push(chain);
                    i = last + 1;
                } else {
                    i += 1;
                }
            }
        }
    }
    found
}
