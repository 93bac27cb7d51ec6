//! A rule set compiled for hunting: each rule planned over its table, Sigma filters
//! applied to the rules they name, and one [`TableMatcher`] per table.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow::record_batch::RecordBatch;
use vigil_schema::Catalog;

use crate::alert::{Alert, Level, RuleInfo, alerts_of};
use crate::kql::plan_query;
use crate::mapping::Mapping;
use crate::matcher::TableMatcher;
use crate::plan::{Expr, Plan, plan};
use crate::rule::{Rule, RuleBody};

/// A rule left out of the hunt, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: PathBuf,
    pub title: String,
    pub reason: String,
}

/// Compiled rules, ready to run over batches of the tables they read.
pub struct Detector {
    rules: Vec<RuleInfo>,
    matchers: BTreeMap<String, TableMatcher>,
    skipped: Vec<Skipped>,
    below_level: usize,
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
        for r in rules {
            let skip = |reason: String| Skipped {
                file: r.file.clone(),
                title: r.title.clone(),
                reason,
            };
            match &r.body {
                RuleBody::Filter(_) => continue,
                RuleBody::Correlation(_) => {
                    // Limitation: correlation rules load and are checked, but are not
                    // evaluated yet; hunts list them here.
                    skipped.push(skip("correlation rules are not evaluated yet".into()));
                    continue;
                }
                RuleBody::Detection(_) => {}
            }
            let level = r
                .level
                .as_deref()
                .and_then(Level::parse)
                .unwrap_or(Level::Medium);
            if level < min_level {
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
            by_table
                .entry(p.table.clone())
                .or_default()
                .push((infos.len() - 1, p));
        }
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
        }
    }

    /// Every rule that runs (and some refused by the matcher, which never match).
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// How many rules run.
    pub fn rule_count(&self) -> usize {
        self.matchers.values().map(TableMatcher::rule_count).sum()
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

    /// The alerts rules raise on one batch of `table`.
    pub fn scan(&self, table: &str, batch: &RecordBatch) -> Vec<Alert> {
        let Some(m) = self.matchers.get(table) else {
            return Vec::new();
        };
        let hits: Vec<(usize, Vec<usize>)> =
            m.run(batch).into_iter().map(|h| (h.rule, h.rows)).collect();
        alerts_of(&self.rules, table, batch, &hits)
    }
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
