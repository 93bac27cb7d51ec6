//! Loading rules: what the specification allows loads, everything else is refused
//! with the reason.

mod correlation;
mod golden;
mod incidents;
mod matcher;

use std::path::{Path, PathBuf};

use crate::condition::{Condition, parse, pattern_matches};
use crate::modifier::Modifier;
use crate::rule::{CorrelationKind, RuleBody, Selection, Value, load_path, load_text};

fn one(text: &str) -> Result<crate::Rule, String> {
    let loaded = load_text(Path::new("t.yml"), text);
    match (loaded.rules.len(), loaded.errors.first()) {
        (1, None) => Ok(loaded.rules.into_iter().next().unwrap()),
        (_, Some(e)) => Err(e.message.clone()),
        (n, None) => panic!("{n} rules from one document"),
    }
}

fn rule(detection: &str) -> String {
    format!(
        "title: t\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n{detection}"
    )
}

#[test]
fn conditions_follow_sigma_precedence() {
    let c = parse("a or b and not c").unwrap();
    let expected = Condition::Or(
        Box::new(Condition::Ident("a".into())),
        Box::new(Condition::And(
            Box::new(Condition::Ident("b".into())),
            Box::new(Condition::Not(Box::new(Condition::Ident("c".into())))),
        )),
    );
    assert_eq!(c, expected);
    assert_eq!(
        parse("1 of sel_*").unwrap(),
        Condition::OneOf("sel_*".into())
    );
    assert_eq!(parse("all of them").unwrap(), Condition::AllOfThem);
    assert_eq!(parse("any of them").unwrap(), Condition::OneOfThem);
    assert_eq!(
        parse("(a or b) and c").unwrap(),
        Condition::And(
            Box::new(Condition::Or(
                Box::new(Condition::Ident("a".into())),
                Box::new(Condition::Ident("b".into())),
            )),
            Box::new(Condition::Ident("c".into())),
        )
    );
    assert!(parse("a and").is_err());
    assert!(
        parse("(a or b")
            .unwrap_err()
            .message
            .contains("never closed")
    );
    assert!(
        parse("sel | count() > 5")
            .unwrap_err()
            .message
            .contains("correlation")
    );
}

#[test]
fn identifier_patterns_use_sigma_wildcards() {
    assert!(pattern_matches("sel_*", "sel_cmd"));
    assert!(pattern_matches("sel?", "sel1"));
    assert!(!pattern_matches("sel_*", "filter_x"));
}

#[test]
fn a_detection_with_maps_lists_and_keywords_loads() {
    let r = one(&rule(
        "  sel:\n    Image|endswith:\n      - '\\cmd.exe'\n      - '\\powershell.exe'\n    CommandLine|contains|all: ['-enc', 'bypass']\n  alt:\n    - ParentImage|endswith: '\\winword.exe'\n    - ParentImage|endswith: '\\excel.exe'\n  kw:\n    - 'mimikatz'\n    - 'sekurlsa'\n  condition: (sel or alt) and not kw\n",
    ))
    .unwrap();
    let RuleBody::Detection(d) = r.body else {
        panic!("not a detection")
    };
    let Selection::Maps(maps) = &d.selections["sel"] else {
        panic!("sel is a map")
    };
    assert_eq!(maps[0].len(), 2);
    assert_eq!(
        maps[0][1].modifiers,
        vec![Modifier::Contains, Modifier::All]
    );
    let Selection::Maps(alt) = &d.selections["alt"] else {
        panic!("alt is a list of maps")
    };
    assert_eq!(alt.len(), 2);
    let Selection::Keywords(kw) = &d.selections["kw"] else {
        panic!("kw is keywords")
    };
    assert_eq!(
        kw.values,
        vec![Value::Str("mimikatz".into()), Value::Str("sekurlsa".into())]
    );
}

#[test]
fn every_specified_modifier_is_accepted() {
    let cases = [
        "Field|contains: x",
        "Field|startswith: x",
        "Field|endswith: x",
        "Field|contains|all: [a, b]",
        "Field|base64: x",
        "Field|base64offset|contains: x",
        "Field|wide|base64offset|contains: x",
        "Field|utf16le|base64: x",
        "Field|utf16be|base64: x",
        "Field|windash|contains: ' -enc '",
        "Field|re: '^a.*b$'",
        "Field|re|i: '^a'",
        "Field|re|m|s: '^a'",
        "Field|cidr: 10.0.0.0/8",
        "Field|cidr: 'fe80::/10'",
        "Field|exists: true",
        "Field|fieldref: Other",
        "Field|gt: 5",
        "Field|gte: 5",
        "Field|lt: 5.5",
        "Field|lte: 5",
        "Field|cased: Abc",
        "Field|contains|cased: Abc",
        "Field|expand: '%admins%'",
    ];
    for c in cases {
        let text = rule(&format!("  sel:\n    {c}\n  condition: sel\n"));
        if let Err(e) = one(&text) {
            panic!("{c}: {e}");
        }
    }
}

#[test]
fn modifiers_the_specification_forbids_are_refused_with_the_reason() {
    let cases = [
        ("Field|contanis: x", "unknown value modifier `contanis`"),
        ("Field|contains|startswith: x", "only one of contains"),
        ("Field|re|contains: x", "cannot be combined"),
        ("Field|i: x", "only apply to the `re` modifier"),
        ("Field|cidr: 10.0.0.0/33", "is not an IPv4 or IPv6 network"),
        ("Field|gt: abc", "comparisons take numbers"),
        ("Field|exists: maybe", "`exists` takes true or false"),
        ("Field|re: '(?<=a)b'", "cannot run here"),
        ("Field|contains|contains: x", "given twice"),
    ];
    for (c, why) in cases {
        let text = rule(&format!("  sel:\n    {c}\n  condition: sel\n"));
        let e = one(&text).expect_err(c);
        assert!(e.contains(why), "{c}: {e}");
    }
}

#[test]
fn conditions_must_name_what_the_detection_has() {
    let e = one(&rule("  sel:\n    a: 1\n  condition: sel and filter\n")).unwrap_err();
    assert!(e.contains("`filter`"), "{e}");
    let e = one(&rule("  sel:\n    a: 1\n  condition: 1 of filter_*\n")).unwrap_err();
    assert!(e.contains("filter_*"), "{e}");
    let e = one(&rule("  sel:\n    a: 1\n")).unwrap_err();
    assert!(e.contains("no `condition`"), "{e}");
}

#[test]
fn collections_merge_the_global_document_into_each_rule() {
    let text = "action: global\ntitle: base\nlogsource:\n  product: windows\ndetection:\n  condition: sel\n---\nlogsource:\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\a.exe'\n---\nlogsource:\n  category: file_event\ndetection:\n  sel:\n    TargetFilename|endswith: '.lnk'\n";
    let loaded = load_text(Path::new("c.yml"), text);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.rules.len(), 2);
    assert_eq!(loaded.rules[0].title, "base");
    assert_eq!(
        loaded.rules[1].logsource.product.as_deref(),
        Some("windows")
    );
    assert_eq!(
        loaded.rules[1].logsource.category.as_deref(),
        Some("file_event")
    );
}

#[test]
fn correlation_rules_load_with_their_window_and_threshold() {
    let text = "title: many failed logons\nname: failed_logon\nlogsource:\n  product: windows\n  service: security\ndetection:\n  sel:\n    EventID: 4625\n  condition: sel\n---\ntitle: brute force\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [TargetUserName]\n  timespan: 5m\n  condition:\n    gte: 10\n";
    let loaded = load_text(Path::new("c.yml"), text);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let RuleBody::Correlation(c) = &loaded.rules[1].body else {
        panic!("not a correlation")
    };
    assert_eq!(c.kind, CorrelationKind::EventCount);
    assert_eq!(c.timespan, 300);
    assert_eq!(c.group_by, vec!["TargetUserName"]);
    assert_eq!(c.threshold.as_ref().map(|t| t.value), Some(10));

    let bad = "title: x\ncorrelation:\n  type: value_count\n  rules: [a]\n  timespan: 1h\n  condition:\n    gt: 3\n";
    let e = one(bad).unwrap_err();
    assert!(e.contains("condition.field"), "{e}");
}

#[test]
fn filters_name_the_rules_they_apply_to() {
    let text = "title: quiet admin tools\nlogsource:\n  product: windows\n  category: process_creation\nfilter:\n  rules: [5b8d3c1e-0000-4000-8000-000000000000]\n  admin:\n    User: 'CORP\\admin'\n  condition: admin\n";
    let r = one(text).unwrap();
    assert!(matches!(r.body, RuleBody::Filter(ref f) if f.rules.len() == 1));
}

#[test]
fn broken_files_are_reported_with_the_reason_and_other_files_still_load() {
    let dir = tempdir();
    std::fs::write(dir.join("bad.yml"), "title: [unclosed\n").unwrap();
    std::fs::write(
        dir.join("good.yml"),
        rule("  sel:\n    Image: x\n  condition: sel\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("modifier.yml"),
        rule("  sel:\n    Image|endswithh: x\n  condition: sel\n"),
    )
    .unwrap();
    // Ten thousand copies of the Unicode word class: it would not fit in memory.
    std::fs::write(
        dir.join("regex.yml"),
        rule("  sel:\n    CommandLine|re: '(\\w{100}){100}'\n  condition: sel\n"),
    )
    .unwrap();
    let loaded = load_path(&dir);
    assert_eq!(loaded.rules.len(), 1);
    assert_eq!(loaded.errors.len(), 3, "{:?}", loaded.errors);
    // Errors come in file-name order, each naming its file and the reason.
    assert!(loaded.errors[0].file.ends_with("bad.yml"));
    assert!(loaded.errors[0].message.contains("not valid YAML"));
    assert!(loaded.errors[1].file.ends_with("modifier.yml"));
    assert!(
        loaded.errors[1]
            .message
            .contains("unknown value modifier `endswithh`"),
        "{}",
        loaded.errors[1].message
    );
    assert!(loaded.errors[2].file.ends_with("regex.yml"));
    assert!(
        loaded.errors[2].message.contains("size limit"),
        "{}",
        loaded.errors[2].message
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "vigil-detect-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The community rule set: every rule loads, or is refused with a reason that names
/// a feature (never a crash). Today all of them load; a refusal would be a regression.
#[test]
fn the_sigma_community_rules_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigma");
    assert!(
        root.is_dir(),
        "the Sigma rules are test data at {}",
        root.display()
    );
    let loaded = load_path(&root);
    eprintln!(
        "sigma: {} rules loaded, {} refused",
        loaded.rules.len(),
        loaded.errors.len()
    );
    for e in &loaded.errors {
        eprintln!("  {e}");
    }
    assert!(
        loaded.rules.len() >= 3754,
        "only {} rules loaded",
        loaded.rules.len()
    );
    assert!(
        loaded.errors.is_empty(),
        "{} rules refused",
        loaded.errors.len()
    );
}

#[test]
fn the_shipped_windows_mapping_matches_the_catalog() {
    let catalog = vigil_schema::Catalog::builtin();
    let (mapping, errors) = crate::Mapping::windows(catalog);
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(mapping.categories.contains_key("process_creation"));
    assert!(mapping.services.contains_key("security"));
}

#[test]
fn mapping_mistakes_are_reported_and_the_rest_loads() {
    let catalog = vigil_schema::Catalog::builtin();
    let text = "version: 1\nproduct: windows\ncategories:\n  process_creation:\n    sources:\n      - table: DeviceProcessEvents\n        fields:\n          Image: FolderPathh\n          CommandLine: ProcessCommandLine\n  bogus:\n    sources:\n      - table: NoSuchTable\n";
    let (mapping, errors) = crate::Mapping::load(&[text], catalog);
    let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("no column `FolderPathh`")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`NoSuchTable` is not a catalog table")),
        "{messages:?}"
    );
    assert!(mapping.categories.contains_key("process_creation"));
}

#[test]
fn rules_find_their_source_or_say_why_not() {
    let catalog = vigil_schema::Catalog::builtin();
    let (mapping, _) = crate::Mapping::windows(catalog);
    let r = one(&rule(
        "  sel:\n    Image|endswith: '\\whoami.exe'\n    CommandLine|contains: '/all'\n  condition: sel\n",
    ))
    .unwrap();
    let resolved = mapping.resolve(&r, catalog).unwrap();
    assert_eq!(resolved.source.table, "DeviceProcessEvents");
    assert_eq!(
        resolved.fields["Image"].form,
        crate::mapping::Form::Column("FolderPath".into())
    );

    // A field only the raw Sysmon event has sends the rule to the second source.
    let r = one(&rule(
        "  sel:\n    Hashes|contains: 'IMPHASH=ABC'\n  condition: sel\n",
    ))
    .unwrap();
    assert_eq!(
        mapping.resolve(&r, catalog).unwrap().source.table,
        "WindowsEvent"
    );

    let r = one(&rule("  sel:\n    GrandParentImage: x\n  condition: sel\n")).unwrap();
    let why = mapping.resolve(&r, catalog).unwrap_err();
    assert!(
        why.contains("GrandParentImage") && why.contains("unmapped"),
        "{why}"
    );

    let linux = "title: t\nlogsource: {product: linux, category: process_creation}\ndetection:\n  sel: {Image: x}\n  condition: sel\n";
    let why = mapping.resolve(&one(linux).unwrap(), catalog).unwrap_err();
    assert!(why.starts_with("no table for logsource"), "{why}");
}

/// How many of the community Windows rules have a table to run on.
#[test]
fn most_community_windows_rules_have_a_table() {
    let catalog = vigil_schema::Catalog::builtin();
    let (mapping, _) = crate::Mapping::windows(catalog);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigma");
    let loaded = load_path(&root);
    let windows: Vec<_> = loaded
        .rules
        .iter()
        .filter(|r| r.logsource.product.as_deref() == Some("windows"))
        .collect();
    let runnable = windows
        .iter()
        .filter(|r| mapping.resolve(r, catalog).is_ok())
        .count();
    eprintln!(
        "windows rules: {} of {} have a table",
        runnable,
        windows.len()
    );
    // Every resolved rule becomes a query or a reason; none may crash the translation.
    let mut queries = 0;
    for r in &loaded.rules {
        if mapping.resolve(r, catalog).is_ok() && crate::kql::compile(r, &mapping, catalog).is_ok()
        {
            queries += 1;
        }
    }
    eprintln!("windows rules: {queries} become queries");
    assert!(queries * 100 >= runnable * 95, "{queries} of {runnable}");
    assert!(windows.len() > 2800);
    assert!(
        runnable * 100 >= windows.len() * 97,
        "{runnable} of {}",
        windows.len()
    );
}

#[test]
fn values_become_kql_tests_with_sigma_wildcards() {
    use crate::kql::test_text as t;
    assert_eq!(t("F", "a.exe", &[]), "F =~ @\"a.exe\"");
    assert_eq!(t("F", "*\\a.exe", &[]), "F endswith @\"\\a.exe\"");
    assert_eq!(t("F", "a*", &[]), "F startswith @\"a\"");
    assert_eq!(t("F", "x", &[Modifier::Contains]), "F contains @\"x\"");
    assert_eq!(
        t("F", "x", &[Modifier::EndsWith, Modifier::Cased]),
        "F endswith_cs @\"x\""
    );
    assert_eq!(
        t("F", "a*b?c", &[]),
        "F matches regex @\"(?i)^a(?s:.*)b(?s:.)c$\""
    );
    // An escaped star is a literal star.
    assert_eq!(t("F", "a\\*b", &[]), "F =~ @\"a*b\"");
    assert_eq!(t("F", "say \"hi\"", &[]), "F =~ @\"say \"\"hi\"\"\"");
}

#[test]
fn windash_and_base64offset_make_the_variants_sigma_defines() {
    let v = crate::plan::windash("-enc x");
    assert_eq!(v.len(), 5);
    assert!(v.contains(&"/enc x".to_string()));
    assert!(v.contains(&"\u{2013}enc x".to_string()));
    assert_eq!(
        crate::plan::base64_offsets(b"ping"),
        vec!["cGluZ", "Bpbm", "waW5n"]
    );
}

#[test]
fn expand_fills_placeholders_from_the_mapping_or_says_which_is_missing() {
    let catalog = vigil_schema::Catalog::builtin();
    let text =
        rule("  sel:\n    CommandLine|contains|expand: 'net use %share%'\n  condition: sel\n");
    let r = one(&text).unwrap();
    let (plain, _) = crate::Mapping::windows(catalog);
    let why = crate::plan::plan(&r, &plain, catalog).unwrap_err();
    assert!(why.contains("`%share%` has no values"), "{why}");

    let extra = "version: 1\nproduct: windows\nplaceholders:\n  share: ['\\\\\\\\fs01\\\\it', '\\\\\\\\fs02\\\\hr']\n";
    let (mapping, errors) = crate::Mapping::load(&[crate::mapping::WINDOWS, extra], catalog);
    assert!(errors.is_empty(), "{errors:?}");
    let p = crate::plan::plan(&r, &mapping, catalog).unwrap();
    let kql = crate::kql::plan_query(&p).unwrap();
    assert!(kql.contains(r#"contains @"net use \\fs01\it""#), "{kql}");
    assert!(kql.contains(r#"contains @"net use \\fs02\hr""#), "{kql}");
}
