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

/// Sigma rules run over a lake made from a real attack recording: the rule for the
/// technique it recorded matches, an unrelated rule does not.
#[test]
fn run_finds_the_recorded_technique() {
    let dir = tempfile::tempdir().unwrap();
    let data = shared_data();
    let evtx = data.join("evtx/attack-samples/Defense Evasion/DE_1102_security_log_cleared.evtx");
    let (code, _, stderr) = output(vigil(dir.path()).arg("ingest").arg(&evtx));
    assert_eq!(code, 0, "{stderr}");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    for (from, to) in [
        (
            "rules/windows/builtin/security/win_security_audit_log_cleared.yml",
            "cleared.yml",
        ),
        (
            "rules/windows/process_creation/proc_creation_win_renamed_whoami.yml",
            "whoami.yml",
        ),
    ] {
        std::fs::copy(data.join("sigma").join(from), rules.join(to)).unwrap();
    }
    let (code, stdout, stderr) = output(
        vigil(dir.path())
            .args(["rules", "run", "--format", "json"])
            .arg(&rules),
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let matched: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(matched.len(), 1, "{stdout}");
    assert_eq!(matched[0]["rule"], "Security Eventlog Cleared");
    assert_eq!(matched[0]["table"], "SecurityEvent");
    assert!(matched[0]["hits"].as_u64().unwrap() >= 1);
    assert!(
        matched[0]["query"].as_str().unwrap().contains("EventID"),
        "{stdout}"
    );
}

/// A site's own mapping file replaces the shipped entry of the same name.
#[test]
fn a_mapping_file_overrides_the_shipped_entry() {
    let dir = tempfile::tempdir().unwrap();
    let sigma = shared_data().join("sigma");
    let rule = sigma.join("rules/windows/process_creation/proc_creation_win_renamed_whoami.yml");
    let (code, stdout, _) = output(
        vigil(dir.path())
            .args(["rules", "lint", "--why"])
            .arg(&rule),
    );
    assert_eq!(code, 0);
    assert!(
        stdout.contains("1 rules have a table to run on"),
        "{stdout}"
    );
    let own = dir.path().join("site.yaml");
    std::fs::write(
        &own,
        "version: 1\nproduct: windows\ncategories:\n  process_creation:\n    unmapped: this site collects no process events\n",
    )
    .unwrap();
    let (code, stdout, stderr) = output(
        vigil(dir.path())
            .args(["rules", "lint", "--why", "--mapping"])
            .arg(&own)
            .arg(&rule),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("this site collects no process events"),
        "{stdout}"
    );
    assert!(
        stdout.contains("0 rules have a table to run on"),
        "{stdout}"
    );
}
