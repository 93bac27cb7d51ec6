//! Skills over KQL: run a query, turn a question into a query and run it, describe a
//! table.

use async_trait::async_trait;
use serde_json::json;

use super::{entities_in, plural};
use crate::lake::QueryResult;
use crate::skill::{
    InputKind, InputSpec, Inputs, ResultTable, Section, Skill, SkillContext, SkillError,
    SkillOutput, SkillSpec, required,
};

fn builtin(name: &str, description: &str, examples: &[&str], inputs: Vec<InputSpec>) -> SkillSpec {
    SkillSpec {
        name: name.into(),
        description: description.into(),
        examples: examples.iter().map(|e| e.to_string()).collect(),
        inputs,
        source: "builtin".into(),
        side_effects: false,
    }
}

/// The answer for a query's rows.
fn rows_answer(result: QueryResult, what: &str) -> SkillOutput {
    let n = result.table.rows.len();
    let mut out = SkillOutput {
        answer: if n == 0 {
            format!("No rows: {what} found nothing in the lake.")
        } else {
            format!("{what} returned {}.", plural(n, "row", "rows"))
        },
        entities: entities_in(&result.table),
        ..SkillOutput::default()
    };
    out.fact("rows", n);
    out.tables.push(result.table);
    out.evidence.push(result.evidence);
    out
}

/// Runs a KQL query over the lake.
pub struct RunKql {
    spec: SkillSpec,
}

impl RunKql {
    pub fn new() -> RunKql {
        RunKql {
            spec: builtin(
                "run_kql",
                "Run a KQL (Kusto Query Language) query over the lake's Defender and Sentinel tables and show the rows",
                &[
                    "Run this KQL: DeviceProcessEvents | take 10",
                    "Execute the query SigninLogs | where ResultType != 0 | count",
                    "/run_kql DeviceLogonEvents | summarize count() by DeviceName",
                ],
                vec![InputSpec::required(
                    "query",
                    InputKind::Kql,
                    "the KQL query to run",
                )],
            ),
        }
    }
}

impl Default for RunKql {
    fn default() -> Self {
        RunKql::new()
    }
}

#[async_trait]
impl Skill for RunKql {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let query = required(&self.spec, inputs, "query")?;
        let result = ctx.lake.query("Query results", query).await?;
        Ok(rows_answer(result, "The query"))
    }
}

/// Turns a question into KQL from the catalog and a vocabulary of security concepts, and
/// runs it.
pub struct NlToKql {
    spec: SkillSpec,
}

impl NlToKql {
    pub fn new() -> NlToKql {
        NlToKql {
            spec: builtin(
                "nl_to_kql",
                "Answer a question about the data by writing a KQL query for it (generate a hunting query) and running it over the lake: which devices, how many events, failed logons, USB drives, encoded PowerShell, sign-ins, processes, network connections",
                &[
                    "Which devices copied data to a USB drive in the last week?",
                    "Generate a KQL query to find encoded PowerShell commands",
                    "Show failed sign-ins for ann@example.com in the last 24 hours",
                    "How many failed logons were there yesterday?",
                    "Show the five most recent app crash events on ws-01",
                    "What happened on ws-01 yesterday?",
                    "Which processes connected to 203.0.113.7?",
                    "Write a query for new services installed this week",
                ],
                vec![InputSpec::required(
                    "question",
                    InputKind::Text,
                    "the question, in plain language",
                )],
            ),
        }
    }
}

impl Default for NlToKql {
    fn default() -> Self {
        NlToKql::new()
    }
}

#[async_trait]
impl Skill for NlToKql {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let question = required(&self.spec, inputs, "question")?;
        let translation = crate::nl2kql::translate(question, ctx.grounding)?;
        // What the translator writes must parse and bind, like anything a model writes.
        ctx.lake.check(&translation.kql)?;
        let result = ctx.lake.query(&translation.title, &translation.kql).await?;
        let mut out = rows_answer(result, &translation.title);
        out.answer = translation.answer(&out.tables[0]);
        out.sections.push(Section {
            title: "How the question became a query".into(),
            body: translation.explanation.join("\n"),
        });
        out.sections.push(Section {
            title: "KQL".into(),
            body: format!("```kql\n{}\n```", translation.kql),
        });
        out.fact("query", &translation.kql);
        out.follow_ups = translation.follow_ups.clone();
        Ok(out)
    }
}

/// What a table holds: its columns, their types and meanings, and what the lake has.
pub struct DescribeTable {
    spec: SkillSpec,
}

impl DescribeTable {
    pub fn new() -> DescribeTable {
        DescribeTable {
            spec: builtin(
                "describe_table",
                "Describe a table of the lake: what it holds, its columns with types and meanings, how many rows and which time span the lake has",
                &[
                    "Describe the DeviceProcessEvents table",
                    "What columns does SigninLogs have?",
                    "What is in DeviceNetworkEvents?",
                    "Explain the schema of DeviceLogonEvents",
                ],
                vec![InputSpec::required(
                    "table",
                    InputKind::Table,
                    "a catalog table name",
                )],
            ),
        }
    }
}

impl Default for DescribeTable {
    fn default() -> Self {
        DescribeTable::new()
    }
}

#[async_trait]
impl Skill for DescribeTable {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let name = required(&self.spec, inputs, "table")?;
        let catalog = vigil_schema::Catalog::builtin();
        let Some(table) = catalog
            .table(name)
            .or_else(|| catalog.table_ignore_case(name))
        else {
            let hint = catalog
                .suggest_table(name)
                .map_or_else(String::new, |t| format!(" (did you mean {t}?)"));
            return Err(SkillError::BadInput(format!("no table named {name}{hint}")));
        };
        let mut columns = ResultTable::new(
            format!("Columns of {}", table.name),
            &["Column", "Type", "Meaning"],
        );
        for c in table.columns() {
            columns.rows.push(vec![
                json!(c.name),
                json!(c.kql_type.name()),
                json!(c.description),
            ]);
        }
        let stats_query = format!(
            "{} | summarize Rows = count(), First = min(Timestamp), Last = max(Timestamp)",
            table.name
        );
        let stats = ctx.lake.query("What the lake holds", &stats_query).await?;
        let rows = stats
            .table
            .rows
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.as_u64().or_else(|| v.as_i64().map(|n| n.max(0) as u64)))
            .unwrap_or(0);
        let span = stats.table.rows.first().map(|r| {
            (
                r.get(1).and_then(crate::skill::text_of),
                r.get(2).and_then(crate::skill::text_of),
            )
        });
        let held = match span {
            Some((Some(first), Some(last))) if rows > 0 => {
                format!(
                    "the lake holds {} from {first} to {last}",
                    plural(rows as usize, "row", "rows")
                )
            }
            _ => "the lake holds no rows of it yet".to_string(),
        };
        let mut out = SkillOutput {
            answer: format!(
                "{} ({} source) has {}: {}; {held}.",
                table.name,
                table.source.name(),
                plural(table.columns().len(), "column", "columns"),
                if table.about.is_empty() {
                    "no description"
                } else {
                    &table.about
                },
            ),
            ..SkillOutput::default()
        };
        out.fact("rows", rows);
        out.fact("columns", table.columns().len());
        out.tables.push(columns);
        out.evidence.push(stats.evidence);
        out.follow_ups
            .push(format!("Run this KQL: {} | take 10", table.name));
        Ok(out)
    }
}
