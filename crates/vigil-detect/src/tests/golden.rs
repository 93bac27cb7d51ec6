//! Runs the plain-text Sigma semantics cases in `golden/*.test` (see
//! `golden/README.md`): each case's rows are loaded into its table, the rule is
//! mapped, turned into KQL and run, and the rows it matches are compared with the
//! expected ones.

use crate::matcher::TableMatcher;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use arrow::json::ReaderBuilder;
use datafusion::datasource::MemTable;

use crate::{Mapping, kql, load_text};

struct Case {
    file: String,
    line: usize,
    title: String,
    table: String,
    rows: Vec<String>,
    rule: String,
    expected: Vec<usize>,
}

fn parse(file: &str, text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let Some(title) = lines[i].strip_prefix("=== ") else {
            i += 1;
            continue;
        };
        let line = i + 1;
        i += 1;
        let mut table = "DeviceProcessEvents".to_string();
        let mut rows = Vec::new();
        let mut rule = Vec::new();
        let mut in_rule = false;
        let mut expected = None;
        while i < lines.len() && !lines[i].starts_with("=== ") {
            let l = lines[i];
            if let Some(t) = l.strip_prefix("table: ") {
                table = t.trim().to_string();
            } else if l.starts_with('{') && !in_rule {
                rows.push(l.to_string());
            } else if l == "rule:" {
                in_rule = true;
            } else if let Some(m) = l.strip_prefix("--- matches:") {
                in_rule = false;
                expected = Some(
                    m.split(',')
                        .filter_map(|n| n.trim().parse::<usize>().ok())
                        .collect(),
                );
            } else if in_rule {
                rule.push(l);
            }
            i += 1;
        }
        let expected = expected.unwrap_or_else(|| panic!("{file}:{line}: no `--- matches:` line"));
        cases.push(Case {
            file: file.to_string(),
            line,
            title: title.to_string(),
            table,
            rows,
            rule: rule.join("\n"),
            expected,
        });
    }
    cases
}

/// The rows (1-based, in the order written) the case's rule matches.
async fn run(case: &Case) -> Result<Vec<usize>, String> {
    let catalog = vigil_schema::Catalog::builtin();
    let table = catalog
        .table(&case.table)
        .ok_or_else(|| format!("no table {}", case.table))?;
    // A row number column tells which rows matched.
    let mut fields: Vec<arrow::datatypes::Field> = table
        .arrow_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(arrow::datatypes::Field::new(
        "__row",
        arrow::datatypes::DataType::Int64,
        true,
    ));
    let schema = Arc::new(arrow::datatypes::Schema::new(fields));
    let numbered: Vec<String> = case
        .rows
        .iter()
        .enumerate()
        .map(|(n, r)| {
            let mut v: serde_json::Value = serde_json::from_str(r).map_err(|e| e.to_string())?;
            v["__row"] = serde_json::json!(n + 1);
            Ok(v.to_string())
        })
        .collect::<Result<_, String>>()?;
    let reader = ReaderBuilder::new(schema.clone())
        .build(Cursor::new(numbered.join("\n")))
        .map_err(|e| e.to_string())?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let provider = MemTable::try_new(schema, vec![batches.clone()]).map_err(|e| e.to_string())?;

    let loaded = load_text(Path::new("case.yml"), &case.rule);
    if let Some(e) = loaded.errors.first() {
        return Err(format!("the rule does not load: {}", e.message));
    }
    let rule = &loaded.rules[0];
    let (mapping, _) = Mapping::windows(catalog);
    let plan = crate::plan::plan(rule, &mapping, catalog)?;
    let (table, query) = (plan.table.clone(), kql::plan_query(&plan)?);
    if table != case.table {
        return Err(format!("the rule runs on {table}, not {}", case.table));
    }
    let query = query + "\n| project __row";
    let mut engine = vigil_kql::Engine::new();
    engine.register_table(case.table.clone(), Arc::new(provider));
    let out = engine
        .run(&query)
        .await
        .map_err(|e| format!("{}\n{query}", e.message))?;
    let mut rows = Vec::new();
    for b in out {
        let col = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Int64)
            .map_err(|e| e.to_string())?;
        let col = col
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .ok_or("row numbers")?;
        rows.extend(col.values().iter().map(|v| *v as usize));
    }
    rows.sort_unstable();

    // The columnar matcher must find the same rows as the query.
    let matcher = TableMatcher::new(&table, vec![(0, plan)])
        .map_err(|e| format!("the matcher refused the rule: {e:?}"))?;
    let mut matched = Vec::new();
    let mut offset = 0;
    for b in &batches {
        for hit in matcher.run(b) {
            matched.extend(hit.rows.iter().map(|r| r + offset + 1));
        }
        offset += b.num_rows();
    }
    if matched != rows {
        return Err(format!(
            "the query found rows {rows:?} but the matcher found {matched:?}\n{query}"
        ));
    }
    Ok(rows)
}

#[test]
fn golden_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    let mut cases = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        cases.extend(parse(&f.file_name().unwrap().to_string_lossy(), &text));
    }
    assert!(!cases.is_empty());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        match runtime.block_on(run(case)) {
            Ok(rows) if rows == case.expected => {}
            Ok(rows) => failures.push(format!(
                "{}:{}: {}\n  expected rows {:?}, got {:?}",
                case.file, case.line, case.title, case.expected, rows
            )),
            Err(e) => failures.push(format!(
                "{}:{}: {}\n  {e}",
                case.file, case.line, case.title
            )),
        }
    }
    eprintln!("sigma golden: {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
