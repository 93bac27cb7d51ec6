//! The columnar matcher on its own: shared scans, positions, nulls, and rules that do
//! not compile.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::matcher::TableMatcher;
use crate::modifier::Modifier;
use crate::plan::{Expr, Plan, Target, Test, text_test};

fn batch(names: &[Option<&str>], ids: &[i32]) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("FileName", DataType::Utf8, true),
        Field::new("EventID", DataType::Int32, true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(names.to_vec())),
        Arc::new(Int32Array::from(ids.to_vec())),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

fn plan(expr: Expr) -> Plan {
    Plan {
        table: "T".into(),
        expr,
    }
}

fn file(text: &str, modifiers: &[Modifier]) -> Expr {
    Expr::Test(Target::column("FileName"), text_test(text, modifiers))
}

fn event(id: &str) -> Expr {
    Expr::Test(
        Target::Column {
            name: "EventID".into(),
            numeric: true,
        },
        Test::OneOf(vec![id.into()]),
    )
}

#[test]
fn one_scan_answers_every_position_for_every_rule() {
    let b = batch(
        &[
            Some("C:\\Windows\\cmd.exe"),
            Some("CMD.EXE"),
            Some("notcmd.exe.bak"),
            None,
            Some("Ärger.exe"),
        ],
        &[1, 1, 4688, 1, 1],
    );
    let rules = vec![
        (0, plan(file("cmd.exe", &[]))),
        (1, plan(file("*\\cmd.exe", &[]))),
        (2, plan(file("cmd", &[Modifier::Contains]))),
        (
            3,
            plan(file("CMD", &[Modifier::StartsWith, Modifier::Cased])),
        ),
        (
            4,
            plan(Expr::Not(Box::new(file("cmd", &[Modifier::Contains])))),
        ),
        (
            5,
            plan(Expr::And(vec![event("4688"), file("*c?d*.bak", &[])])),
        ),
        (6, plan(file("ärger.exe", &[]))),
        (7, plan(Expr::Test(Target::column("FileName"), Test::Empty))),
        (8, plan(Expr::Test(Target::column("Missing"), Test::Empty))),
    ];
    let m = TableMatcher::new("T", rules).unwrap();
    let mut found: Vec<(usize, Vec<usize>)> =
        m.run(&b).into_iter().map(|h| (h.rule, h.rows)).collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (0, vec![1]),
            (1, vec![0]),
            (2, vec![0, 1, 2]),
            (3, vec![1]),
            // A missing value contains nothing, so `not` holds for it.
            (4, vec![3, 4]),
            (5, vec![2]),
            // Case is folded beyond ASCII too.
            (6, vec![4]),
            (7, vec![3]),
            (8, vec![0, 1, 2, 3, 4]),
        ]
    );
}

#[test]
fn a_rule_that_cannot_compile_is_refused_and_the_others_run() {
    // Ten thousand copies of the Unicode word class: far past the size limit.
    let huge = r"(\w{100}){100}".to_string();
    let rules = vec![
        (
            0,
            plan(Expr::Test(Target::column("FileName"), Test::Regex(huge))),
        ),
        (
            1,
            plan(Expr::Test(
                Target::column("FileName"),
                Test::Cidr("10.0.0.0/99".into()),
            )),
        ),
        (2, plan(file("x", &[Modifier::Contains]))),
    ];
    let (m, refused) = TableMatcher::build("T", rules);
    let ids: Vec<usize> = refused.iter().map(|(i, _)| *i).collect();
    assert_eq!(ids, vec![0, 1], "{refused:?}");
    assert!(
        refused[0].1.contains("regular expression"),
        "{}",
        refused[0].1
    );
    assert_eq!(m.rule_count(), 1);
    let hits = m.run(&batch(&[Some("xyz"), Some("abc")], &[1, 1]));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].rows, vec![0]);
}
