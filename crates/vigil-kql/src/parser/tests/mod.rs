//! Parser tests: shapes of the tree for the forms real queries use, errors, and the
//! parse rate over the shared corpus of community hunting queries.

use super::parse;
use crate::ast::*;

fn pipeline(text: &str) -> Pipeline {
    let q = parse(text).unwrap_or_else(|e| panic!("{}", e.render(text)));
    match q.statements.into_iter().last() {
        Some(Statement::Tabular(p)) => *p,
        other => panic!("not a tabular statement: {other:?}"),
    }
}

#[test]
fn a_simple_pipeline() {
    let p =
        pipeline("DeviceProcessEvents | where FileName =~ 'cmd.exe' and ProcessId > 4 | take 10");
    assert!(
        matches!(&p.source, Source::Expr(Expr { kind: ExprKind::Name(n), .. }) if n == "DeviceProcessEvents")
    );
    assert_eq!(p.ops.len(), 2);
    let Operator::Where { predicate, .. } = &p.ops[0] else {
        panic!()
    };
    let ExprKind::Binary {
        op: BinaryOp::And,
        left,
        ..
    } = &predicate.kind
    else {
        panic!("{predicate:?}")
    };
    assert!(matches!(
        left.kind,
        ExprKind::Binary {
            op: BinaryOp::EqCi,
            ..
        }
    ));
}

#[test]
fn precedence_of_arithmetic_and_logic() {
    let p = pipeline("print x = 1 + 2 * 3 > 6 or false");
    let Source::Print { columns, .. } = &p.source else {
        panic!()
    };
    let ExprKind::Binary {
        op: BinaryOp::Or,
        left,
        ..
    } = &columns[0].expr.kind
    else {
        panic!()
    };
    let ExprKind::Binary {
        op: BinaryOp::Gt,
        left: sum,
        ..
    } = &left.kind
    else {
        panic!()
    };
    let ExprKind::Binary {
        op: BinaryOp::Add,
        right: product,
        ..
    } = &sum.kind
    else {
        panic!()
    };
    assert!(matches!(
        product.kind,
        ExprKind::Binary {
            op: BinaryOp::Mul,
            ..
        }
    ));
}

#[test]
fn string_operators_and_negations() {
    let p = pipeline(
        "T | where a !has 'x' and b has_cs 'y' and c !in~ ('a', 'b') and d matches regex 'z' and e !between (1 .. 5)",
    );
    let Operator::Where { predicate, .. } = &p.ops[0] else {
        panic!()
    };
    let text = format!("{predicate:?}");
    assert!(text.contains("Str(Has, true)"), "{text}");
    assert!(text.contains("Str(HasCs, false)"));
    assert!(text.contains("NotInCi"));
    assert!(text.contains("MatchesRegex"));
    assert!(text.contains("negated: true"));
}

#[test]
fn summarize_join_and_sort() {
    let p = pipeline(
        "SigninLogs | summarize Failures = countif(ResultType != '0'), dcount(IPAddress) by UserPrincipalName, bin(TimeGenerated, 1h)
         | join kind=leftouter hint.strategy=shuffle (AuditLogs | project UserPrincipalName) on UserPrincipalName
         | sort by Failures desc nulls last, UserPrincipalName asc",
    );
    let Operator::Summarize { aggregates, by, .. } = &p.ops[0] else {
        panic!()
    };
    assert_eq!((aggregates.len(), by.len()), (2, 2));
    assert_eq!(aggregates[0].names[0].name, "Failures");
    let Operator::Join {
        props, right, on, ..
    } = &p.ops[1]
    else {
        panic!()
    };
    assert_eq!(props.len(), 2);
    assert_eq!(props[1].name, "hint.strategy");
    assert_eq!(right.ops.len(), 1);
    assert_eq!(on.len(), 1);
    let Operator::Sort { keys, .. } = &p.ops[2] else {
        panic!()
    };
    assert_eq!(
        (keys[0].ascending, keys[0].nulls_first),
        (false, Some(false))
    );
    assert!(keys[1].ascending);
}

#[test]
fn lets_functions_and_lambdas() {
    let q = parse(
        "let threshold = 5;
         let recent = (lookback:timespan = 1d) { SigninLogs | where TimeGenerated > ago(lookback) };
         let names = dynamic(['a', \"b\"]);
         recent(2d) | where UserPrincipalName in (names) | summarize count() by bin(TimeGenerated, 5m)",
    )
    .unwrap();
    assert_eq!(q.statements.len(), 4);
    let Statement::Let {
        value: LetValue::Function { params, body, .. },
        ..
    } = &q.statements[1]
    else {
        panic!()
    };
    assert_eq!(params[0].ty, "timespan");
    assert!(params[0].default.is_some());
    assert_eq!(body.len(), 1);
}

#[test]
fn sources_other_than_tables() {
    pipeline("datatable(Name:string, Count:long) ['a', 1, 'b', 2] | where Count > 1");
    pipeline("range x from 1 to 10 step 1 | extend y = x * 2");
    pipeline(
        "union withsource=TableName isfuzzy=true SecurityEvent, (WindowsEvent | take 1), Device*",
    );
    pipeline(
        "print now(), ago(1d), datetime(2024-01-01 10:00), int(null), real(nan), timespan(1.02:00:00)",
    );
    pipeline("externaldata(ip:string) [h@'https://example.com/list.csv'] with (format='csv')");
    pipeline("search in (SecurityEvent, SigninLogs) 'mimikatz'");
}

#[test]
fn operators_real_queries_use() {
    pipeline(
        "T | mv-expand with_itemindex=i Items to typeof(string) limit 10
           | parse CommandLine with * '-enc ' Payload:string ' ' *
           | parse kind=regex flags=i Url with @'https?://' Host '/' *
           | project-away Col*, *Id | project-rename New = Old | project-reorder A, B desc
           | top 10 by Count asc | distinct A, B | evaluate bag_unpack(Props)
           | make-series n = count() default = 0 on Timestamp from ago(7d) to now() step 1h by Device
           | mv-apply Item = Items to typeof(dynamic) on (summarize make_list(Item) | take 1)
           | serialize rn = row_number() | extend p = prev(rn) | as Result
           | top-nested 3 of Device by count() desc, 2 of User by sum(Bytes)
           | render timechart with (title='x', ycolumns=a, b) | getschema | count",
    );
    pipeline(
        "T | lookup kind=leftouter (U | project K, V) on K | invoke my_function(1) | sample 5 | where x == $left.y",
    );
}

#[test]
fn errors_name_what_was_expected_and_where() {
    let text = "T | where | take 1";
    let err = parse(text).unwrap_err();
    assert_eq!(err.span.start, 10);
    assert!(
        err.message.contains("expected an expression"),
        "{}",
        err.message
    );
    let err = parse("T | summarise count()").unwrap_err();
    assert!(
        err.message.contains("did you mean `summarize`"),
        "{}",
        err.message
    );
    let err = parse("T | where x == (1").unwrap_err();
    assert!(err.message.contains("expected `)`"), "{}", err.message);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("print {}1{}", "(".repeat(5000), ")".repeat(5000));
    let err = parse(&deep).unwrap_err();
    assert!(err.message.contains("nests too deeply"));
    let long = format!("print x = {}", vec!["1"; 20000].join(" + "));
    assert!(parse(&long).is_ok(), "long flat expressions are fine");
}

/// The community hunting queries. Of the 1,362, 14 are not valid KQL as written (an
/// unquoted regex, a `;` in the middle of a pipeline, a trailing comma, unbalanced
/// parentheses, YAML pasted into the query, a `#` comment, duplicated lines); every other
/// one must parse.
#[test]
fn parses_the_shared_hunting_queries() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/kql/hunting-queries.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the shared hunting queries are missing at {}: {e}",
            path.display()
        )
    });
    let mut total = 0;
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let query = value["query"].as_str().unwrap();
        total += 1;
        // Queries written as templates parse once their placeholders are filled.
        let filled = crate::substitute(query, |_| Some("x".to_string()))
            .unwrap_or_else(|_| query.to_string());
        if let Err(e) = parse(&filled) {
            failures.push(e.render(&filled));
        }
    }
    let parsed = total - failures.len();
    let rate = parsed as f64 / total as f64;
    eprintln!("parsed {parsed}/{total} ({:.2}%)", rate * 100.0);
    for f in &failures {
        eprintln!("{f}\n");
    }
    assert!(total >= 1300, "the corpus has 1,362 queries");
    assert!(
        failures.len() <= 14,
        "parsed {parsed}/{total}; the failures are above"
    );
}

/// Mutated real queries (bytes deleted, duplicated, swapped for punctuation) never make
/// the lexer or parser panic, and each parse stays fast.
#[test]
fn mangled_queries_never_panic() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/kql/hunting-queries.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the shared hunting queries are missing at {}: {e}",
            path.display()
        )
    });
    let queries: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["query"].as_str().map(str::to_string))
        .collect();
    // A fixed linear congruential sequence: the same cases on every run.
    let mut state: u64 = 0x5eed;
    let mut next = |bound: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % bound.max(1)
    };
    const NOISE: &[&str] = &[
        "(", ")", "|", "'", "\"", "[", "]", "{", "}", "!", "~", "..", "@", "`", "=", ",", "\n",
    ];
    let mut cases = 0;
    for query in queries.iter().take(400) {
        for _ in 0..10 {
            let mut s: Vec<char> = query.chars().collect();
            for _ in 0..1 + next(4) {
                let at = next(s.len());
                match next(3) {
                    0 if !s.is_empty() => {
                        let len = next(8).min(s.len() - at);
                        s.drain(at..at + len);
                    }
                    1 => {
                        let noise = NOISE[next(NOISE.len())];
                        for (i, c) in noise.chars().enumerate() {
                            s.insert(at + i, c);
                        }
                    }
                    _ => {
                        let end = (at + next(40)).min(s.len());
                        let piece: Vec<char> = s[at..end].to_vec();
                        for (i, c) in piece.into_iter().enumerate() {
                            s.insert(end + i, c);
                        }
                    }
                }
            }
            let mangled: String = s.into_iter().collect();
            let started = std::time::Instant::now();
            let _ = parse(&mangled);
            assert!(
                started.elapsed() < std::time::Duration::from_secs(1),
                "slow on:\n{mangled}"
            );
            cases += 1;
        }
    }
    assert_eq!(cases, 4000);
}

#[test]
fn long_queries_parse_in_linear_time() {
    let step = "| where A has 'x' and B in ('a', 'b') | extend C = strcat(D, tostring(E.f[0]))\n";
    let small = format!("T\n{}", step.repeat(200));
    let large = format!("T\n{}", step.repeat(4000));
    let time = |q: &str| {
        let started = std::time::Instant::now();
        parse(q).unwrap();
        started.elapsed()
    };
    time(&small);
    let (t_small, t_large) = (time(&small), time(&large));
    // Twenty times the text may take at most about twenty times as long (with slack
    // for timer noise), not the square of it.
    assert!(
        t_large < t_small * 60 + std::time::Duration::from_millis(50),
        "{t_small:?} vs {t_large:?}"
    );
}
