//! A rule set compiled for hunting: each rule planned over its table, Sigma filters
//! applied to the rules they name, and one [`TableMatcher`] per table.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use arrow::array::Array;
use arrow::record_batch::RecordBatch;
use vigil_schema::Catalog;

use crate::alert::{Alert, Level, RuleInfo, alerts_of};
use crate::correlation::{self, BaseHit, CorrelationPlan};
use crate::kql::plan_query;
use crate::mapping::Mapping;
use crate::matcher::TableMatcher;
use crate::matcher::values::Values;
use crate::plan::{Expr, Plan, Target, field_target, plan};
use crate::rule::{CorrelationKind, Rule, RuleBody};

/// A rule left out of the hunt, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: PathBuf,
    pub title: String,
    pub reason: String,
}

/// What a correlation needs from one match of a rule it names.
#[derive(Debug, Clone)]
struct BaseSpec {
    correlation: usize,
    base: usize,
    group: Vec<Target>,
    value: Option<Target>,
}

/// Compiled rules, ready to run over batches of the tables they read.
pub struct Detector {
    rules: Vec<RuleInfo>,
    matchers: BTreeMap<String, TableMatcher>,
    skipped: Vec<Skipped>,
    below_level: usize,
    correlations: Vec<CorrelationPlan>,
    /// For each rule a correlation names: what to keep of its matches.
    bases: HashMap<usize, Vec<BaseSpec>>,
}

/// What one batch gave: alerts, and the matches correlations will count.
#[derive(Debug, Default)]
pub struct Scanned {
    pub alerts: Vec<Alert>,
    pub hits: Vec<BaseHit>,
}

impl Detector {
    /// Compiles the rules at or above `min_level` (rules without a level count as
    /// medium). Rules that cannot run are listed in [`Detector::skipped`].
    pub fn new(rules: &[Rule], mapping: &Mapping, catalog: &Catalog, min_level: Level) -> Detector {
        let mut filters: Vec<(&Rule, &crate::rule::Filter)> = Vec::new();
        for r in rules {
            if let RuleBody::Filter(f) = &r.body {
                filters.push((r, f));
            }
        }
        let mut skipped = Vec::new();
        let mut infos = Vec::new();
        let mut by_table: BTreeMap<String, Vec<(usize, Plan)>> = BTreeMap::new();
        let mut below_level = 0;
        let mut compiled: Vec<&Rule> = Vec::new();
        for r in rules {
            let skip = |reason: String| Skipped {
                file: r.file.clone(),
                title: r.title.clone(),
                reason,
            };
            match &r.body {
                RuleBody::Filter(_) | RuleBody::Correlation(_) => continue,
                RuleBody::Detection(_) => {}
            }
            if level_of(r) < min_level {
                below_level += 1;
                continue;
            }
            let mut p = match plan(r, mapping, catalog) {
                Ok(p) => p,
                Err(reason) => {
                    skipped.push(skip(reason));
                    continue;
                }
            };
            for (filter_rule, f) in &filters {
                let named = f.rules.iter().any(|n| {
                    Some(n) == r.id.as_ref() || Some(n) == r.name.as_ref() || *n == r.title
                });
                if !named {
                    continue;
                }
                match filter_plan(filter_rule, f, r, mapping, catalog) {
                    Ok(fp) if fp.table == p.table => {
                        p.expr = Expr::And(vec![p.expr, fp.expr]);
                    }
                    Ok(fp) => skipped.push(skip(format!(
                        "filter {} reads {}, not {}",
                        filter_rule.file.display(),
                        fp.table,
                        p.table
                    ))),
                    Err(reason) => skipped.push(skip(format!(
                        "filter {} cannot apply: {reason}",
                        filter_rule.file.display()
                    ))),
                }
            }
            let query = plan_query(&p).ok();
            infos.push(RuleInfo::of(r, &p.table, query));
            compiled.push(r);
            by_table
                .entry(p.table.clone())
                .or_default()
                .push((infos.len() - 1, p));
        }
        let (correlations, bases) = correlations(
            rules,
            &compiled,
            &mut infos,
            &mut skipped,
            mapping,
            catalog,
            min_level,
        );
        let mut matchers = BTreeMap::new();
        let mut refused_ids = Vec::new();
        for (table, plans) in by_table {
            let (m, refused) = TableMatcher::build(&table, plans);
            for (id, reason) in refused {
                refused_ids.push(id);
                let info = &infos[id];
                skipped.push(Skipped {
                    file: info.file.clone(),
                    title: info.title.clone(),
                    reason,
                });
            }
            matchers.insert(table, m);
        }
        Detector {
            rules: infos,
            matchers,
            skipped,
            below_level,
            correlations,
            bases,
        }
    }

    /// Every rule that runs (and some refused by the matcher, which never match).
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// How many rules run (correlations included).
    pub fn rule_count(&self) -> usize {
        self.matchers
            .values()
            .map(TableMatcher::rule_count)
            .sum::<usize>()
            + self.correlations.len()
    }

    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Rules left out for being under the minimum level.
    pub fn below_level(&self) -> usize {
        self.below_level
    }

    /// The tables rules read, with their matchers.
    pub fn matchers(&self) -> impl Iterator<Item = &TableMatcher> {
        self.matchers.values()
    }

    pub fn matcher(&self, table: &str) -> Option<&TableMatcher> {
        self.matchers.get(table)
    }

    /// The alerts rules raise on one batch of `table`, and the matches correlations
    /// will count.
    pub fn scan(&self, table: &str, batch: &RecordBatch) -> Scanned {
        let Some(m) = self.matchers.get(table) else {
            return Scanned::default();
        };
        let hits: Vec<(usize, Vec<usize>)> =
            m.run(batch).into_iter().map(|h| (h.rule, h.rows)).collect();
        let alerts = alerts_of(&self.rules, table, batch, &hits);
        let mut base_hits = Vec::new();
        if !self.bases.is_empty() {
            // `alerts_of` gives one alert per row, in the order of `hits`.
            let mut next = 0;
            let mut targets: Vec<Target> = Vec::new();
            for (rule, _) in &hits {
                for spec in self.bases.get(rule).into_iter().flatten() {
                    targets.extend(spec.group.iter().cloned());
                    targets.extend(spec.value.iter().cloned());
                }
            }
            targets.sort();
            targets.dedup();
            let values = Values::of(batch, &targets);
            let text = |t: &Target, row: usize| -> Option<String> {
                let i = targets.binary_search(t).ok()?;
                let a = values.text(i);
                (a.is_valid(row) && !a.value(row).is_empty()).then(|| a.value(row).to_string())
            };
            for (rule, rows) in &hits {
                let specs = self.bases.get(rule);
                for &row in rows {
                    let alert = &alerts[next];
                    next += 1;
                    for spec in specs.into_iter().flatten() {
                        let group: Option<Vec<String>> = spec
                            .group
                            .iter()
                            .map(|t| text(t, row).map(|v| v.to_lowercase()))
                            .collect();
                        // A match without a value to group by belongs to no group.
                        let Some(group) = group else { continue };
                        base_hits.push(BaseHit {
                            correlation: spec.correlation,
                            base: spec.base,
                            time: alert.time,
                            group,
                            value: spec.value.as_ref().and_then(|t| text(t, row)),
                            alert_id: alert.id.clone(),
                            entities: alert.entities.clone(),
                        });
                    }
                }
            }
        }
        Scanned {
            alerts,
            hits: base_hits,
        }
    }

    /// The alerts of the correlation rules, from the matches collected by [`scan`].
    ///
    /// [`scan`]: Detector::scan
    pub fn correlate(&self, hits: &[BaseHit]) -> Vec<Alert> {
        let tables: HashMap<usize, String> = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (i, r.table.clone()))
            .collect();
        correlation::evaluate(&self.correlations, hits, &tables)
    }
}

type Correlations = (Vec<CorrelationPlan>, HashMap<usize, Vec<BaseSpec>>);

/// Compiles the correlation rules over the detection rules already compiled
/// (`compiled[i]` is the rule of `infos[i]`).
// Limitation: a correlation's `generate` is not read; the rules it names raise their
// own alerts as well as feeding it, as if `generate: true`.
fn correlations(
    rules: &[Rule],
    compiled: &[&Rule],
    infos: &mut Vec<RuleInfo>,
    skipped: &mut Vec<Skipped>,
    mapping: &Mapping,
    catalog: &Catalog,
    min_level: Level,
) -> Correlations {
    let mut plans = Vec::new();
    let mut bases: HashMap<usize, Vec<BaseSpec>> = HashMap::new();
    for r in rules {
        let RuleBody::Correlation(c) = &r.body else {
            continue;
        };
        if level_of(r) < min_level {
            continue;
        }
        let skip = |reason: String| Skipped {
            file: r.file.clone(),
            title: r.title.clone(),
            reason,
        };
        let mut specs = Vec::new();
        let mut problem = None;
        for (position, name) in c.rules.iter().enumerate() {
            let found = compiled.iter().position(|b| {
                Some(name) == b.id.as_ref() || Some(name) == b.name.as_ref() || *name == b.title
            });
            let Some(base) = found else {
                problem = Some(format!(
                    "the rule `{name}` it correlates is not in the hunt"
                ));
                break;
            };
            let table = infos[base].table.clone();
            let source = mapping
                .resolve_all(compiled[base], catalog)
                .ok()
                .and_then(|all| all.into_iter().find(|s| s.source.table == table));
            let Some(resolved) = source else {
                problem = Some(format!("the rule `{name}` has no source"));
                break;
            };
            // An alias names, per rule, the field that stands for it.
            let field_in_rule = |f: &String| -> String {
                c.aliases
                    .get(f)
                    .and_then(|per_rule| per_rule.get(name))
                    .cloned()
                    .unwrap_or_else(|| f.clone())
            };
            let group: Result<Vec<Target>, String> = c
                .group_by
                .iter()
                .map(|f| field_target(resolved.source, &field_in_rule(f), catalog))
                .collect();
            let value = match c.threshold.as_ref().and_then(|t| t.field.as_ref()) {
                Some(f) if c.kind == CorrelationKind::ValueCount => {
                    Some(field_target(resolved.source, f, catalog))
                }
                _ => None,
            };
            match (group, value.transpose()) {
                (Ok(group), Ok(value)) => specs.push((
                    base,
                    BaseSpec {
                        correlation: plans.len(),
                        base: position,
                        group,
                        value,
                    },
                )),
                (Err(e), _) | (_, Err(e)) => {
                    problem = Some(e);
                    break;
                }
            }
        }
        if let Some(reason) = problem {
            skipped.push(skip(reason));
            continue;
        }
        infos.push(RuleInfo::of(r, "(correlation)", None));
        let bases_of_plan: Vec<usize> = specs.iter().map(|(b, _)| *b).collect();
        plans.push(CorrelationPlan {
            rule: infos.len() - 1,
            rule_id: infos[infos.len() - 1].id.clone(),
            kind: c.kind,
            bases: bases_of_plan,
            timespan_ns: (c.timespan as i64).saturating_mul(1_000_000_000),
            threshold: c.threshold.clone(),
        });
        for (base, spec) in specs {
            bases.entry(base).or_default().push(spec);
        }
    }
    (plans, bases)
}

/// A rule's level; rules without one count as medium.
fn level_of(rule: &Rule) -> Level {
    rule.level
        .as_deref()
        .and_then(Level::parse)
        .unwrap_or(Level::Medium)
}

/// A filter's detection planned on the source of the rule it applies to.
fn filter_plan(
    filter_rule: &Rule,
    f: &crate::rule::Filter,
    target: &Rule,
    mapping: &Mapping,
    catalog: &Catalog,
) -> Result<Plan, String> {
    let mut as_rule = filter_rule.clone();
    as_rule.body = RuleBody::Detection(f.detection.clone());
    if as_rule.logsource == Default::default() {
        as_rule.logsource = target.logsource.clone();
    }
    plan(&as_rule, mapping, catalog)
}
