//! Correlating alerts into incidents: chains on shared entities within the window,
//! tactics in kill-chain order, severity raised for multi-stage attacks, stable names.

use crate::alert::Level;
use crate::incident::{AlertFacts, DEFAULT_WINDOW_NS, correlate};

const MINUTE: i64 = 60 * 1_000_000_000;

fn alert(
    id: &str,
    minute: i64,
    level: Level,
    tactic: &str,
    device: &str,
    user: &str,
) -> AlertFacts {
    let mut keys = vec![format!("device:{}", device.to_lowercase())];
    let mut users = Vec::new();
    if !user.is_empty() {
        keys.push(format!("user:{}", user.to_lowercase()));
        users.push(user.to_string());
    }
    AlertFacts {
        id: id.to_string(),
        time: 1_700_000_000_000_000_000 + minute * MINUTE,
        title: format!("rule {id}"),
        rule_id: format!("r-{id}"),
        level,
        tactics: vec![tactic.to_string()],
        techniques: vec![],
        devices: vec![device.to_string()],
        users,
        ips: vec![],
        keys,
    }
}

#[test]
fn a_chain_on_one_host_and_user_is_one_incident_in_kill_chain_order() {
    // Out of time order on purpose: correlation sorts by time.
    let alerts = vec![
        alert(
            "c",
            20,
            Level::High,
            "CredentialAccess",
            "WS01",
            r"CORP\ann",
        ),
        alert("a", 0, Level::Medium, "Execution", "WS01", r"CORP\ann"),
        alert(
            "d",
            40,
            Level::Medium,
            "LateralMovement",
            "WS01",
            r"CORP\ann",
        ),
        alert("b", 10, Level::Medium, "Persistence", "ws01", ""),
        // Another host and user, the same hour: its own incident.
        alert("x", 5, Level::Low, "Discovery", "WS99", r"CORP\bob"),
        // The same host a week later: too far apart to be the same attack.
        alert("late", 7 * 24 * 60, Level::Low, "Discovery", "WS01", ""),
    ];
    let incidents = correlate(&alerts, DEFAULT_WINDOW_NS);
    assert_eq!(incidents.len(), 3, "{incidents:#?}");
    let chain = incidents.iter().find(|i| i.alerts.len() == 4).unwrap();
    assert_eq!(chain.alerts, ["a", "b", "c", "d"]);
    assert_eq!(
        chain.tactics,
        [
            "Execution",
            "Persistence",
            "CredentialAccess",
            "LateralMovement"
        ]
    );
    // Four stages of one attack outrank its worst alert.
    assert_eq!(chain.level, Level::High);
    assert_eq!(chain.severity(), "High");
    assert_eq!(chain.devices, ["WS01"]);
    assert_eq!(chain.users, [r"CORP\ann"]);
    assert!(chain.title.contains("Execution"), "{}", chain.title);
    assert!(
        chain.title.ends_with(r"on WS01 involving CORP\ann"),
        "{}",
        chain.title
    );
    let apart = incidents.iter().find(|i| i.alerts == ["x"]).unwrap();
    assert_eq!(apart.level, Level::Low);
    assert!(incidents.iter().any(|i| i.alerts == ["late"]));

    // The same alerts give the same names; a new alert joins without renaming.
    let again = correlate(&alerts, DEFAULT_WINDOW_NS);
    assert_eq!(
        again.iter().map(|i| &i.name).collect::<Vec<_>>(),
        incidents.iter().map(|i| &i.name).collect::<Vec<_>>()
    );
    let mut more = alerts.clone();
    more.push(alert("e", 50, Level::Low, "Impact", "WS01", ""));
    let grown = correlate(&more, DEFAULT_WINDOW_NS);
    let g = grown
        .iter()
        .find(|i| i.alerts.contains(&"e".to_string()))
        .unwrap();
    assert_eq!(g.name, chain.name);
    assert_eq!(g.alerts.len(), 5);
}

#[test]
fn alerts_sharing_only_a_user_join_across_devices() {
    let alerts = vec![
        alert("a", 0, Level::Medium, "InitialAccess", "WS01", r"CORP\eve"),
        alert(
            "b",
            30,
            Level::Medium,
            "LateralMovement",
            "SRV02",
            r"CORP\eve",
        ),
        alert("c", 30, Level::Medium, "Discovery", "SRV03", ""),
    ];
    let incidents = correlate(&alerts, DEFAULT_WINDOW_NS);
    assert_eq!(incidents.len(), 2);
    assert_eq!(incidents[0].alerts, ["a", "b"]);
    assert_eq!(incidents[0].devices, ["WS01", "SRV02"]);
    assert!(
        incidents[0].title.contains("on 2 devices"),
        "{}",
        incidents[0].title
    );
    // Two tactics are not yet a chain: the severity stays.
    assert_eq!(incidents[0].level, Level::Medium);
}
