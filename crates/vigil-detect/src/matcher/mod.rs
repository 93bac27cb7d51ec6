//! The columnar matcher: every rule of a table compiled together and run over Arrow
//! record batches.
//!
//! Rules share their work. Each value a rule reads (a column, a key inside JSON) is
//! taken out of the batch once. All the literal texts all rules look for in one value
//! go into one Aho-Corasick automaton, so each row's text is scanned once whatever the
//! number of rules; where the match sits (start, end, whole text) decides equality,
//! prefix, suffix and containment at the same time. Wildcard patterns must first
//! contain their literal pieces, and regular expressions, numbers and networks are
//! tested only on the rows a rule's cheaper tests left standing, so a rule that needs
//! `EventID 4688 and a regex` runs the regex on 4688 events only. Rules run on all
//! cores.
//!
//! ```
//! use vigil_detect::matcher::TableMatcher;
//! use vigil_detect::plan::{Expr, Plan, Target, text_test};
//! let plan = Plan {
//!     table: "DeviceProcessEvents".into(),
//!     expr: Expr::Test(Target::column("FileName"), text_test("whoami.exe", &[])),
//! };
//! let matcher = TableMatcher::new("DeviceProcessEvents", vec![(0, plan)]).unwrap();
//! assert_eq!(matcher.columns(), vec!["FileName".to_string()]);
//! ```

mod bits;
pub(crate) mod values;

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use aho_corasick::{AhoCorasick, MatchKind};
use arrow::array::Array;
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;
use regex::{Regex, RegexBuilder};

pub use bits::{Bits, Pool};
use values::Values;

use crate::plan::{Compare, Expr, Pattern, Piece, Plan, Target, Test};

/// Regular expressions larger than this once compiled are refused.
const REGEX_SIZE_LIMIT: usize = 8 << 20;

/// Where a literal must sit in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Whole,
    Start,
    End,
    Anywhere,
}

impl Place {
    fn of(p: &Pattern) -> Place {
        match (p.at_start, p.at_end) {
            (true, true) => Place::Whole,
            (true, false) => Place::Start,
            (false, true) => Place::End,
            (false, false) => Place::Anywhere,
        }
    }

    fn holds(self, start: usize, end: usize, len: usize) -> bool {
        match self {
            Place::Whole => start == 0 && end == len,
            Place::Start => start == 0,
            Place::End => end == len,
            Place::Anywhere => true,
        }
    }
}

/// One distinct test of one target, shared by every rule that asks it.
enum Leaf {
    /// Answered by the target's literal scan.
    Scanned,
    /// A wildcard pattern: its literal pieces (scanned leaves) must all be present
    /// before the regular expression is tried.
    Glob {
        pieces: Vec<usize>,
        regex: Regex,
    },
    Regex(Regex),
    /// Texts compared row by row: case-insensitive text with non-ASCII letters
    /// (lower-cased on both sides, which ASCII folding in the scan cannot do).
    Literals {
        items: Vec<(String, Place)>,
        cased: bool,
    },
    Numbers(Vec<f64>),
    Compare(Compare, f64),
    Empty,
    Cidr(IpAddr, u8),
    SameAs(usize),
    /// Every row (a pattern of nothing but `*`).
    Always,
}

impl Leaf {
    /// Leaves worked out for whole batches before rules run.
    fn is_cheap(&self) -> bool {
        matches!(
            self,
            Leaf::Scanned | Leaf::Numbers(_) | Leaf::Empty | Leaf::Always
        )
    }
}

/// One literal scan of one target.
struct Scan {
    automaton: AhoCorasick,
    /// For each pattern, the leaves it answers and where it must sit.
    uses: Vec<Vec<(usize, Place)>>,
}

/// A rule's expression over leaf numbers.
#[derive(Debug, Clone)]
enum Node {
    Leaf(usize),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

/// The compiled rules of one table.
pub struct TableMatcher {
    table: String,
    targets: Vec<Target>,
    leaves: Vec<(usize, Leaf)>,
    /// Per target: the case-insensitive and the cased literal scans.
    scans: Vec<[Option<Scan>; 2]>,
    rules: Vec<(usize, Node)>,
}

/// The rows of one batch a rule matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRows {
    pub rule: usize,
    pub rows: Vec<usize>,
}

/// A literal to scan for: its text, the leaf it answers, and where it must sit.
type Literal = (String, usize, Place);

#[derive(Default)]
struct Builder {
    targets: Vec<Target>,
    target_ids: HashMap<Target, usize>,
    leaves: Vec<(usize, Leaf)>,
    leaf_ids: HashMap<(usize, Test), usize>,
    /// Per target and case mode: the literals to scan for.
    literals: HashMap<(usize, bool), Vec<Literal>>,
}

impl Builder {
    fn target(&mut self, t: &Target) -> usize {
        if let Some(&i) = self.target_ids.get(t) {
            return i;
        }
        self.targets.push(t.clone());
        self.target_ids.insert(t.clone(), self.targets.len() - 1);
        self.targets.len() - 1
    }

    fn add_leaf(&mut self, target: usize, leaf: Leaf) -> usize {
        self.leaves.push((target, leaf));
        self.leaves.len() - 1
    }

    fn literal(&mut self, target: usize, text: &str, place: Place, cased: bool, leaf: usize) {
        self.literals
            .entry((target, cased))
            .or_default()
            .push((text.to_string(), leaf, place));
    }

    /// A scanned leaf for a literal (or the folded form when ASCII folding falls short).
    fn literal_leaf(&mut self, target: usize, text: &str, place: Place, cased: bool) -> usize {
        if text.is_empty() {
            return if place == Place::Whole {
                self.add_leaf(target, Leaf::Empty)
            } else {
                self.add_leaf(target, Leaf::Always)
            };
        }
        if !cased && text.chars().any(|c| !c.is_ascii() && c.is_alphabetic()) {
            let items = vec![(text.to_lowercase(), place)];
            return self.add_leaf(target, Leaf::Literals { items, cased });
        }
        let leaf = self.add_leaf(target, Leaf::Scanned);
        self.literal(target, text, place, cased, leaf);
        leaf
    }

    fn leaf(&mut self, target: &Target, test: &Test) -> Result<usize, String> {
        let t = self.target(target);
        if let Some(&i) = self.leaf_ids.get(&(t, test.clone())) {
            return Ok(i);
        }
        let numeric = matches!(target, Target::Column { numeric: true, .. });
        let regex = |pattern: &str| {
            RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| format!("regular expression `{pattern}`: {e}"))
        };
        let leaf = match test {
            Test::Text { pattern, cased } => match pattern.literal() {
                Some(text) => self.literal_leaf(t, &text, Place::of(pattern), *cased),
                None => {
                    let pieces = pattern
                        .pieces
                        .iter()
                        .filter_map(|p| match p {
                            Piece::Text(s) => Some(s),
                            _ => None,
                        })
                        .map(|s| self.literal_leaf(t, s, Place::Anywhere, *cased))
                        .collect();
                    let regex = regex(&pattern.regex(*cased))?;
                    self.add_leaf(t, Leaf::Glob { pieces, regex })
                }
            },
            Test::OneOf(values) if numeric => {
                let numbers = values.iter().filter_map(|v| v.parse().ok()).collect();
                self.add_leaf(t, Leaf::Numbers(numbers))
            }
            Test::OneOf(values) => {
                let ascii = values.iter().all(|v| !v.is_empty() && v.is_ascii());
                if ascii {
                    let leaf = self.add_leaf(t, Leaf::Scanned);
                    for v in values {
                        self.literal(t, v, Place::Whole, false, leaf);
                    }
                    leaf
                } else {
                    let pattern = values
                        .iter()
                        .map(|v| regex::escape(v))
                        .collect::<Vec<_>>()
                        .join("|");
                    self.add_leaf(t, Leaf::Regex(regex(&format!("(?i)^(?:{pattern})$"))?))
                }
            }
            Test::Regex(pattern) => self.add_leaf(t, Leaf::Regex(regex(pattern)?)),
            Test::Number { op, value } => {
                let v = value
                    .parse()
                    .map_err(|_| format!("`{value}` is not a number"))?;
                self.add_leaf(t, Leaf::Compare(*op, v))
            }
            Test::Empty => self.add_leaf(t, Leaf::Empty),
            Test::Cidr(net) => {
                let (addr, bits) = crate::value::parse_cidr(net)
                    .ok_or_else(|| format!("`{net}` is not a network"))?;
                self.add_leaf(t, Leaf::Cidr(addr, bits))
            }
            Test::SameAs(other) => {
                let o = self.target(other);
                self.add_leaf(t, Leaf::SameAs(o))
            }
        };
        self.leaf_ids.insert((t, test.clone()), leaf);
        Ok(leaf)
    }

    fn node(&mut self, e: &Expr) -> Result<Node, String> {
        Ok(match e {
            Expr::Test(target, test) => Node::Leaf(self.leaf(target, test)?),
            Expr::And(parts) => Node::And(self.nodes(parts)?),
            Expr::Or(parts) => Node::Or(self.nodes(parts)?),
            Expr::Not(inner) => Node::Not(Box::new(self.node(inner)?)),
        })
    }

    /// Child nodes, cheapest first, so that costly tests see the fewest rows.
    fn nodes(&mut self, parts: &[Expr]) -> Result<Vec<Node>, String> {
        let mut nodes = parts
            .iter()
            .map(|p| self.node(p))
            .collect::<Result<Vec<_>, _>>()?;
        nodes.sort_by_key(|n| self.cost(n));
        Ok(nodes)
    }

    fn cost(&self, n: &Node) -> u8 {
        match n {
            Node::Leaf(i) => match &self.leaves[*i].1 {
                l if l.is_cheap() => 0,
                Leaf::Glob { .. } | Leaf::Literals { .. } => 1,
                _ => 2,
            },
            Node::And(parts) => parts.iter().map(|p| self.cost(p)).min().unwrap_or(0),
            Node::Or(parts) => parts.iter().map(|p| self.cost(p)).max().unwrap_or(0),
            Node::Not(inner) => self.cost(inner),
        }
    }
}

impl TableMatcher {
    /// Compiles rules (each with the caller's number for it) that read `table`.
    /// A rule that cannot be compiled (a bad regular expression, a network that is
    /// not one) is returned with the reason; the others are kept.
    pub fn new(
        table: &str,
        plans: Vec<(usize, Plan)>,
    ) -> Result<TableMatcher, Vec<(usize, String)>> {
        let (m, refused) = TableMatcher::build(table, plans);
        if refused.is_empty() {
            Ok(m)
        } else {
            Err(refused)
        }
    }

    /// Like [`TableMatcher::new`], keeping the rules that compile and listing the
    /// others.
    pub fn build(table: &str, plans: Vec<(usize, Plan)>) -> (TableMatcher, Vec<(usize, String)>) {
        let mut b = Builder::default();
        let mut rules = Vec::new();
        let mut refused = Vec::new();
        for (id, plan) in plans {
            if plan.table != table {
                refused.push((id, format!("the rule reads {}, not {table}", plan.table)));
                continue;
            }
            match b.node(&plan.expr) {
                Ok(node) => rules.push((id, node)),
                Err(e) => refused.push((id, e)),
            }
        }
        let mut scans: Vec<[Option<Scan>; 2]> =
            (0..b.targets.len()).map(|_| [None, None]).collect();
        for ((target, cased), literals) in std::mem::take(&mut b.literals) {
            let mut patterns: Vec<String> = Vec::new();
            let mut index: HashMap<String, usize> = HashMap::new();
            let mut uses: Vec<Vec<(usize, Place)>> = Vec::new();
            for (text, leaf, place) in literals {
                let key = if cased {
                    text
                } else {
                    text.to_ascii_lowercase()
                };
                let i = *index.entry(key.clone()).or_insert_with(|| {
                    patterns.push(key);
                    uses.push(Vec::new());
                    patterns.len() - 1
                });
                uses[i].push((leaf, place));
            }
            let automaton = AhoCorasick::builder()
                .ascii_case_insensitive(!cased)
                .match_kind(MatchKind::Standard)
                .build(&patterns);
            match automaton {
                Ok(automaton) => scans[target][usize::from(cased)] = Some(Scan { automaton, uses }),
                Err(_) => {
                    // A pattern set beyond the automaton's limits: its leaves are
                    // answered row by row instead, slower but the same.
                    let mut by_leaf: HashMap<usize, Vec<(String, Place)>> = HashMap::new();
                    for (text, leaf_uses) in patterns.iter().zip(&uses) {
                        for (leaf, place) in leaf_uses {
                            let text = if cased {
                                text.clone()
                            } else {
                                text.to_lowercase()
                            };
                            by_leaf.entry(*leaf).or_default().push((text, *place));
                        }
                    }
                    for (leaf, items) in by_leaf {
                        b.leaves[leaf].1 = Leaf::Literals { items, cased };
                    }
                }
            }
        }
        let matcher = TableMatcher {
            table: table.to_string(),
            targets: b.targets,
            leaves: b.leaves,
            scans,
            rules,
        };
        (matcher, refused)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// How many rules are compiled in.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The columns the rules read.
    pub fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.targets {
            t.columns(&mut out);
        }
        let set: BTreeSet<String> = out.into_iter().collect();
        set.into_iter().collect()
    }

    /// Runs every rule over `batch`; rules with no match are left out.
    pub fn run(&self, batch: &RecordBatch) -> Vec<RuleRows> {
        let len = batch.num_rows();
        if len == 0 || self.rules.is_empty() {
            return Vec::new();
        }
        let values = Values::of(batch, &self.targets);
        let cheap = self.cheap_leaves(&values, len);
        let all = Bits::ones(len);
        self.rules
            .par_iter()
            .map_init(
                || Pool::new(len),
                |pool, (id, node)| {
                    let hits = self.eval(node, &all, &cheap, &values, pool);
                    let found = (!hits.none()).then(|| RuleRows {
                        rule: *id,
                        rows: hits.rows().collect(),
                    });
                    pool.give(hits);
                    found
                },
            )
            .flatten()
            .collect()
    }

    /// Works out every cheap leaf for the whole batch: one literal scan per target
    /// and case mode, and the number and emptiness tests.
    fn cheap_leaves(&self, values: &Values, len: usize) -> Vec<Option<Bits>> {
        let per_target: Vec<Vec<(usize, Bits)>> = (0..self.targets.len())
            .into_par_iter()
            .map(|t| self.scan_target(t, values, len))
            .collect();
        let mut out: Vec<Option<Bits>> = (0..self.leaves.len()).map(|_| None).collect();
        for (leaf, bits) in per_target.into_iter().flatten() {
            out[leaf] = Some(bits);
        }
        for (i, (t, leaf)) in self.leaves.iter().enumerate() {
            let text = values.text(*t);
            let bits = match leaf {
                Leaf::Empty => {
                    let mut b = Bits::zeros(len);
                    for row in 0..len {
                        if text.is_null(row) || text.value(row).is_empty() {
                            b.set(row);
                        }
                    }
                    b
                }
                Leaf::Always => Bits::ones(len),
                Leaf::Numbers(wanted) => {
                    let mut b = Bits::zeros(len);
                    if let Some(numbers) = values.number(*t) {
                        for row in 0..len {
                            if numbers.is_valid(row) && wanted.contains(&numbers.value(row)) {
                                b.set(row);
                            }
                        }
                    }
                    b
                }
                _ => continue,
            };
            out[i] = Some(bits);
        }
        out
    }

    fn scan_target(&self, t: usize, values: &Values, len: usize) -> Vec<(usize, Bits)> {
        let mut found: HashMap<usize, Bits> = HashMap::new();
        let text = values.text(t);
        for scan in self.scans[t].iter().flatten() {
            for uses in &scan.uses {
                for (leaf, _) in uses {
                    found.entry(*leaf).or_insert_with(|| Bits::zeros(len));
                }
            }
            for row in 0..len {
                if text.is_null(row) {
                    continue;
                }
                let value = text.value(row);
                for m in scan.automaton.find_overlapping_iter(value) {
                    for (leaf, place) in &scan.uses[m.pattern().as_usize()] {
                        if place.holds(m.start(), m.end(), value.len())
                            && let Some(b) = found.get_mut(leaf)
                        {
                            b.set(row);
                        }
                    }
                }
            }
        }
        found.into_iter().collect()
    }

    /// The rows of `candidates` for which `node` holds (a set from `pool`).
    fn eval(
        &self,
        node: &Node,
        candidates: &Bits,
        cheap: &[Option<Bits>],
        v: &Values,
        pool: &mut Pool,
    ) -> Bits {
        match node {
            Node::Leaf(i) => match &cheap[*i] {
                Some(bits) => {
                    let mut out = pool.copy(candidates);
                    out.and(bits);
                    out
                }
                None => self.costly_leaf(*i, candidates, cheap, v, pool),
            },
            Node::And(parts) => {
                let mut rows = pool.copy(candidates);
                for p in parts {
                    if rows.none() {
                        break;
                    }
                    let next = self.eval(p, &rows, cheap, v, pool);
                    pool.give(std::mem::replace(&mut rows, next));
                }
                rows
            }
            Node::Or(parts) => {
                let mut hits = pool.zeros();
                let mut rest = pool.copy(candidates);
                for p in parts {
                    if rest.none() {
                        break;
                    }
                    let found = self.eval(p, &rest, cheap, v, pool);
                    rest.remove(&found);
                    hits.or(&found);
                    pool.give(found);
                }
                pool.give(rest);
                hits
            }
            Node::Not(inner) => {
                let inside = self.eval(inner, candidates, cheap, v, pool);
                let mut out = pool.copy(candidates);
                out.remove(&inside);
                pool.give(inside);
                out
            }
        }
    }

    fn costly_leaf(
        &self,
        i: usize,
        candidates: &Bits,
        cheap: &[Option<Bits>],
        v: &Values,
        pool: &mut Pool,
    ) -> Bits {
        let (t, leaf) = &self.leaves[i];
        let text = v.text(*t);
        let mut out = pool.zeros();
        let mut rows = pool.copy(candidates);
        if let Leaf::Glob { pieces, .. } = leaf {
            for p in pieces {
                if let Some(bits) = &cheap[*p] {
                    rows.and(bits);
                }
            }
        }
        for row in rows.rows() {
            if text.is_null(row) {
                continue;
            }
            let value = text.value(row);
            let hit = match leaf {
                Leaf::Glob { regex, .. } | Leaf::Regex(regex) => regex.is_match(value),
                Leaf::Literals { items, cased } => items
                    .iter()
                    .any(|(text, place)| literal_at(value, text, *place, *cased)),
                Leaf::Compare(op, right) => value
                    .trim()
                    .parse::<f64>()
                    .is_ok_and(|left| op.holds(left, *right)),
                Leaf::Cidr(net, bits) => value
                    .trim()
                    .parse::<IpAddr>()
                    .is_ok_and(|a| in_network(a, *net, *bits)),
                Leaf::SameAs(other) => {
                    let o = v.text(*other);
                    o.is_valid(row)
                        && (o.value(row) == value
                            || o.value(row).to_lowercase() == value.to_lowercase())
                }
                Leaf::Scanned | Leaf::Numbers(_) | Leaf::Empty | Leaf::Always => false,
            };
            if hit {
                out.set(row);
            }
        }
        pool.give(rows);
        out
    }
}

/// `text` (lower-cased already unless `cased`) at `place` in `value`.
fn literal_at(value: &str, text: &str, place: Place, cased: bool) -> bool {
    let lowered;
    let v = if cased {
        value
    } else {
        lowered = value.to_lowercase();
        &lowered
    };
    match place {
        Place::Whole => v == text,
        Place::Start => v.starts_with(text),
        Place::End => v.ends_with(text),
        Place::Anywhere => v.contains(text),
    }
}

fn in_network(addr: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        // An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) against an IPv4 network.
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|a4| in_network(IpAddr::V4(a4), net, bits)),
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}
