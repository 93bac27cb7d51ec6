//! Plugins in Security Copilot's manifest format: every shared sample loads or is
//! rejected with its reason, and a KQL plugin and an API plugin run end to end.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::common::{ingest, shared_data, vigil};
use super::fixture_http::{Reply, serve};

fn test_plugins() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/copilot/plugins")
}

fn run(lake: &Path, args: &[&str]) -> (i32, String, String) {
    let out = vigil(lake).args(args).output().expect("vigil runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_sample_manifest_loads_or_says_why_not() {
    let samples = shared_data().join("copilot/security-copilot-samples/Plugins");
    let lake = tempfile::tempdir().expect("a temp dir");
    let (code, stdout, stderr) = run(
        lake.path(),
        &[
            "plugins",
            "validate",
            samples.to_str().expect("utf-8"),
            "--format",
            "json",
        ],
    );
    assert_eq!(
        code, 3,
        "some samples are rejected, so the status says so: {stderr}"
    );
    let reports: Vec<Value> = serde_json::from_str(&stdout).expect("JSON reports");
    assert!(
        reports.len() >= 70,
        "only {} manifests found",
        reports.len()
    );
    let mut loaded = 0;
    for r in &reports {
        match r["rejected"].as_str() {
            Some(why) => assert!(why.len() > 20, "a rejection without a real reason: {r}"),
            None => {
                loaded += 1;
                let usable = r["skills"]
                    .as_array()
                    .expect("skills")
                    .iter()
                    .filter(|s| s["problem"].is_null())
                    .count();
                assert!(usable > 0, "a loaded manifest with no usable skill: {r}");
            }
        }
    }
    assert!(loaded >= 40, "only {loaded} manifests load");
    let find = |name: &str| {
        reports
            .iter()
            .find(|r| r["file"].as_str().is_some_and(|f| f.ends_with(name)))
            .unwrap_or_else(|| panic!("no report for {name}"))
    };
    // Formats Vigil cannot run are reported as such.
    assert!(
        find("CopilotforSecurityEmail.yml")["rejected"]
            .as_str()
            .unwrap_or("")
            .contains("LogicApp")
    );
    // A template fetched from the network is refused, saying so.
    assert!(
        find("GPT_PluginManifest_TemplateURL.yaml")["rejected"]
            .as_str()
            .unwrap_or("")
            .contains("fetches nothing from the network")
    );
    // A KQL pack loads every skill.
    let device = find("EnrichmentPlugins/DeviceEnrichment.yaml");
    assert!(device["rejected"].is_null(), "{device}");
    // An API plugin whose spec ships beside it turns each operation into a skill.
    let ipqs = find("IPQualityScore/ipqs-manifest.yaml");
    assert!(ipqs["rejected"].is_null(), "{ipqs}");
    assert!(
        ipqs["skills"]
            .as_array()
            .is_some_and(|s| s.iter().all(|s| s["format"] == "API"))
    );
}

fn fixture_lake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/copilot/fixture");
    let report = ingest(dir.path(), &[&fixture]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    dir
}

#[test]
fn a_kql_plugin_runs_on_the_lake() {
    let lake = fixture_lake();
    let manifest = test_plugins().join("fixture-kql.yaml");
    let (code, stdout, stderr) = run(
        lake.path(),
        &["plugins", "add", manifest.to_str().expect("utf-8")],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (_, skills, _) = run(lake.path(), &["skills", "list", "--format", "json"]);
    assert!(
        skills.contains("FixtureHunts.FailedLogonsOnDevice"),
        "{skills}"
    );

    let (code, stdout, stderr) = run(
        lake.path(),
        &[
            "ask",
            "--format",
            "json",
            "/FixtureHunts.FailedLogonsOnDevice Device=web-ext-01.corp.example",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let turn: Value = serde_json::from_str(&stdout).expect("JSON");
    let rows = turn["skill_calls"][0]["output"]["tables"][0]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // The same question asked directly of the lake.
    let (_, reference, _) = run(
        lake.path(),
        &[
            "query",
            "--format",
            "json",
            "DeviceLogonEvents | where ActionType == 'LogonFailed' and DeviceName =~ 'web-ext-01.corp.example' | summarize Failures = count() by AccountName | sort by Failures desc",
        ],
    );
    let reference: Vec<Value> = serde_json::from_str(&reference).expect("JSON rows");
    assert!(
        !reference.is_empty(),
        "the fixture has failed logons on web-ext-01"
    );
    assert_eq!(rows.len(), reference.len(), "{turn}");
    assert_eq!(rows[0][1], reference[0]["Failures"], "{turn}");
    assert!(
        turn["evidence"][0]["query"]
            .as_str()
            .unwrap_or("")
            .contains("web-ext-01.corp.example")
    );

    // Disabled, its skill is gone; a missing input is named.
    run(lake.path(), &["plugins", "disable", "FixtureHunts"]);
    let (_, skills, _) = run(lake.path(), &["skills", "list", "--format", "json"]);
    assert!(!skills.contains("FixtureHunts.FailedLogonsOnDevice"));
    run(lake.path(), &["plugins", "enable", "FixtureHunts"]);
    let (_, stdout, _) = run(
        lake.path(),
        &[
            "ask",
            "--format",
            "json",
            "/FixtureHunts.FailedLogonsOnDevice",
        ],
    );
    assert!(stdout.contains("needs the input"), "{stdout}");
}

#[test]
fn an_api_plugin_calls_its_service_with_the_key() {
    let server = serve(|req, _| {
        if req.header("X-Api-Key") != Some("s3cret-key") {
            return Reply::json(401, json!({"error": "bad key"}));
        }
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/ip/203.0.113.50") | ("GET", "/ip/203.0.113.50?verbose=true") => Reply::json(
                200,
                json!({"address": "203.0.113.50", "score": 97, "category": "command-and-control", "country": "ZZ"}),
            ),
            _ => Reply::json(404, json!({"error": "not found"})),
        }
    });
    let lake = tempfile::tempdir().expect("a temp dir");
    let manifest = test_plugins().join("ip-reputation.yaml");
    let (code, stdout, stderr) = run(
        lake.path(),
        &["plugins", "add", manifest.to_str().expect("utf-8")],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let endpoint = format!("EndpointUrl={}", server.url);
    let (code, stdout, _) = run(
        lake.path(),
        &[
            "plugins",
            "set",
            "IpReputation",
            &endpoint,
            "ApiKey=s3cret-key",
        ],
    );
    assert_eq!(code, 0);
    assert!(
        !stdout.contains("s3cret-key"),
        "a secret was echoed: {stdout}"
    );
    let (_, listed, _) = run(lake.path(), &["plugins", "list"]);
    assert!(
        listed.contains("ApiKey") && !listed.contains("s3cret-key"),
        "{listed}"
    );

    let (code, stdout, stderr) = run(
        lake.path(),
        &[
            "ask",
            "--format",
            "json",
            "/IpReputation.GetIpReputation address=203.0.113.50",
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let turn: Value = serde_json::from_str(&stdout).expect("JSON");
    let answer = turn["answer"].as_str().unwrap_or("");
    assert!(
        answer.contains("command-and-control") && answer.contains("97"),
        "{answer}"
    );
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/ip/203.0.113.50");
    assert_eq!(seen[0].header("X-Api-Key"), Some("s3cret-key"));
    // The key is in no stored answer or log line.
    assert!(!stdout.contains("s3cret-key") && !stderr.contains("s3cret-key"));

    // A service error is reported with its status, and nothing is invented.
    let (code, stdout, _) = run(
        lake.path(),
        &[
            "ask",
            "--format",
            "json",
            "/IpReputation.GetIpReputation address=198.51.100.1",
        ],
    );
    assert_ne!(code, 0);
    assert!(stdout.contains("HTTP 404"), "{stdout}");
}

#[test]
fn a_gpt_skill_without_a_model_says_which_plugin_and_skill_need_one_and_remove_drops_it() {
    let lake = fixture_lake();
    let dir = tempfile::tempdir().expect("a temp dir");
    let manifest = dir.path().join("triage.yaml");
    std::fs::write(
        &manifest,
        "Descriptor:\n  Name: TriageWriter\n  Description: Writes triage notes\n\
         SkillGroups:\n  - Format: GPT\n    Skills:\n      - Name: TriageNote\n\
         \x20       Description: Writes a triage note for an alert\n\
         \x20       Inputs:\n          - Name: Alert\n            Description: The alert\n\
         \x20       Settings:\n          Template: Write a triage note for {{Alert}}\n",
    )
    .expect("writes the manifest");
    let path = manifest.to_str().expect("utf-8");
    let (code, stdout, stderr) = run(lake.path(), &["plugins", "add", path]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = run(
        lake.path(),
        &[
            "ask",
            "--format",
            "json",
            "/TriageWriter.TriageNote Alert=va1234",
        ],
    );
    assert_ne!(code, 0, "with no model the skill cannot run: {stdout}");
    let turn: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    let error = turn["skill_calls"][0]["error"].as_str().unwrap_or("");
    assert!(
        error.contains("TriageNote")
            && error.contains("TriageWriter")
            && error.contains("language model"),
        "{error}"
    );

    let (code, stdout, stderr) = run(lake.path(), &["plugins", "remove", "TriageWriter"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (_, skills, _) = run(lake.path(), &["skills", "list", "--format", "json"]);
    assert!(!skills.contains("TriageWriter.TriageNote"), "{skills}");
}

#[test]
fn api_plugins_authenticate_with_a_key_in_the_query_basic_or_a_bearer_token() {
    let server = serve(|req, _| {
        let ok = req.path.contains("code=q-key")
            || req.header("Authorization") == Some("Basic YW5uOnB3ZA==")
            || req.header("Authorization") == Some("Bearer tok-123");
        if !ok {
            return Reply::json(401, json!({"error": "unauthenticated"}));
        }
        Reply::json(
            200,
            json!({"address": "203.0.113.50", "score": 12, "category": "benign"}),
        )
    });
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::copy(
        test_plugins().join("ip-reputation-openapi.yaml"),
        dir.path().join("ip-reputation-openapi.yaml"),
    )
    .expect("copies the spec");
    let original =
        std::fs::read_to_string(test_plugins().join("ip-reputation.yaml")).expect("the manifest");
    let header = "  Authorization:\n    Type: APIKey\n    Key: X-Api-Key\n    Location: Header\n    AuthScheme: ''\n";
    assert!(
        original.contains(header),
        "the fixture's auth section moved"
    );
    let lake = tempfile::tempdir().expect("a temp dir");
    let endpoint = format!("EndpointUrl={}", server.url);
    for (name, auth, settings) in [
        (
            "RepQuery",
            "  Authorization:\n    Type: APIKey\n    Key: code\n    Location: QueryParams\n",
            vec!["ApiKey=q-key"],
        ),
        (
            "RepBasic",
            "  Authorization:\n    Type: Basic\n",
            vec!["Username=ann", "Password=pwd"],
        ),
        (
            "RepBearer",
            "  Authorization:\n    Type: Bearer\n",
            vec!["Token=tok-123"],
        ),
    ] {
        let text = original
            .replace("Name: IpReputation", &format!("Name: {name}"))
            .replace(header, auth);
        let manifest = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&manifest, text).expect("writes the manifest");
        let (code, stdout, stderr) = run(
            lake.path(),
            &["plugins", "add", manifest.to_str().expect("utf-8")],
        );
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        let mut set = vec!["plugins", "set", name, endpoint.as_str()];
        set.extend(settings.iter().copied());
        let (code, stdout, stderr) = run(lake.path(), &set);
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        let call = format!("/{name}.GetIpReputation address=203.0.113.50");
        let (code, stdout, stderr) = run(lake.path(), &["ask", "--format", "json", &call]);
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        let turn: Value = serde_json::from_str(&stdout).expect("JSON");
        assert!(
            turn["answer"].as_str().unwrap_or("").contains("benign"),
            "{name}: {turn}"
        );
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen[0].path.starts_with("/ip/203.0.113.50?") && seen[0].path.contains("code=q-key"));
    assert_eq!(seen[1].header("Authorization"), Some("Basic YW5uOnB3ZA=="));
    assert_eq!(seen[2].header("Authorization"), Some("Bearer tok-123"));
}
