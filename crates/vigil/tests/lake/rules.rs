//! `vigil rules lint`: every shared Sigma rule loads; a broken rule is listed with its
//! file and reason and makes the exit status non-zero.

use super::common::{output, shared_data, vigil};

#[test]
fn lint_loads_the_community_rules_and_reports_broken_ones() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = shared_data().join("sigma");
    let (code, stdout, stderr) = output(vigil(dir.path()).args(["rules", "lint"]).arg(&sigma));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("2819 rules have a table to run on"),
        "{stdout}"
    );
    let totals = stdout.lines().last().unwrap_or_default();
    assert!(totals.ends_with("rules loaded, 0 refused"), "{totals}");
    let loaded: usize = totals
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(loaded >= 3754, "{totals}");

    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("typo.yml"),
        "title: typo\nlogsource: {category: process_creation, product: windows}\ndetection:\n  sel:\n    Image|endwith: '\\\\x.exe'\n  condition: sel\n",
    )
    .unwrap();
    std::fs::copy(
        sigma.join("rules/windows/process_creation/proc_creation_win_renamed_whoami.yml"),
        rules.join("good.yml"),
    )
    .unwrap();
    let (code, stdout, _) = output(vigil(dir.path()).args(["rules", "lint"]).arg(&rules));
    assert_eq!(code, 3, "{stdout}");
    assert!(
        stdout.contains("typo.yml: field `Image|endwith`: unknown value modifier `endwith`"),
        "{stdout}"
    );
    assert!(stdout.ends_with("1 rules loaded, 1 refused\n"), "{stdout}");

    let (_, json, _) = output(
        vigil(dir.path())
            .args(["rules", "lint", "--format", "json"])
            .arg(&rules),
    );
    let problem: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(problem["document"], 1);
    assert!(problem["file"].as_str().unwrap().ends_with("typo.yml"));
}
