//! Correlation rules over the matches of the rules they name, end to end through the
//! detector: failed logons counted per source address, distinct accounts per address,
//! and a success that follows failures for one account.

use std::path::Path;

use vigil_ingest::rows::{TableRows, Value};
use vigil_schema::Catalog;

use crate::alert::Level;
use crate::{Detector, Mapping, load_text};

const RULES: &str = "\
title: Failed logon
name: failed_logon
id: 0b8d1d36-9d0b-4a4c-9d3e-000000000001
level: low
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
---
title: Successful logon
name: success_logon
id: 0b8d1d36-9d0b-4a4c-9d3e-000000000002
level: informational
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4624}
  condition: sel
---
title: Many failed logons from one address
id: 0b8d1d36-9d0b-4a4c-9d3e-000000000003
level: high
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [IpAddress]
  timespan: 5m
  condition: {gte: 5}
---
title: One address tries many accounts
id: 0b8d1d36-9d0b-4a4c-9d3e-000000000004
level: high
correlation:
  type: value_count
  rules: [failed_logon]
  group-by: [IpAddress]
  timespan: 10m
  condition: {field: TargetUserName, gte: 3}
---
title: Failures then a success for one account
id: 0b8d1d36-9d0b-4a4c-9d3e-000000000005
level: critical
correlation:
  type: temporal_ordered
  rules: [failed_logon, success_logon]
  group-by: [TargetUserName]
  timespan: 10m
---
title: A failure and a success close together, by alias
id: 0b8d1d36-9d0b-4a4c-9d3e-000000000006
level: medium
correlation:
  type: temporal
  rules: [success_logon, failed_logon]
  group-by: [account]
  aliases:
    account:
      success_logon: TargetUserName
      failed_logon: TargetUserName
  timespan: 2m
";

const SECOND: i64 = 1_000_000_000;
const T0: i64 = 1_767_225_600 * SECOND; // 2026-01-01

#[test]
fn correlations_count_distinct_values_and_order_per_group() {
    let catalog = Catalog::builtin();
    let loaded = load_text(Path::new("logons.yml"), RULES);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let (mapping, _) = Mapping::windows(catalog);
    let detector = Detector::new(&loaded.rules, &mapping, catalog, Level::Informational);
    assert!(detector.skipped().is_empty(), "{:?}", detector.skipped());
    assert_eq!(detector.rule_count(), 6);

    let mut rows = TableRows::new(catalog.table("SecurityEvent").unwrap());
    let mut add = |second: i64, id: i64, ip: &str, user: &str| {
        let mut w = rows.row();
        w.set("TimeGenerated", Value::Time(T0 + second * SECOND))
            .set("Timestamp", Value::Time(T0 + second * SECOND))
            .set("EventID", id)
            .set("Computer", "DC01")
            .set("IpAddress", ip)
            .set("TargetUserName", user);
    };
    // Six failures from one address against six accounts, 50 s apart, then the last
    // account logs on.
    for i in 0..6 {
        add(i * 50, 4625, "203.0.113.5", &format!("u{i}"));
    }
    add(360, 4624, "203.0.113.5", "u5");
    // Two failures from elsewhere, and a success long after for another account.
    add(10, 4625, "198.51.100.7", "ann");
    add(20, 4625, "198.51.100.7", "ann");
    add(3600, 4624, "198.51.100.7", "ann");
    let batch = rows.take_batch();

    let scanned = detector.scan("SecurityEvent", &batch);
    assert_eq!(scanned.alerts.len(), 10, "one alert per matching event");
    let alerts = detector.correlate(&scanned.hits);
    let titles = |title: &str| -> Vec<i64> {
        alerts
            .iter()
            .filter(|a| detector.rules()[a.rule].title == title)
            .map(|a| (a.time - T0) / SECOND)
            .collect()
    };
    // The fifth failure from 203.0.113.5 completes a window of five.
    assert_eq!(titles("Many failed logons from one address"), vec![200]);
    // Three distinct accounts, twice over.
    let mut many = titles("One address tries many accounts");
    many.sort();
    assert_eq!(many, vec![100, 250]);
    // u5 failed at 250 s and logged on at 360 s; ann's success came too late.
    assert_eq!(titles("Failures then a success for one account"), vec![360]);
    assert_eq!(
        titles("A failure and a success close together"),
        Vec::<i64>::new()
    );
    let ordered = alerts
        .iter()
        .find(|a| detector.rules()[a.rule].title == "Failures then a success for one account")
        .unwrap();
    assert_eq!(detector.rules()[ordered.rule].level, Level::Critical);
    assert_eq!(ordered.device(), Some("DC01"));

    // The same matches give the same alerts.
    let again = detector.correlate(&scanned.hits);
    let ids = |a: &[crate::Alert]| a.iter().map(|x| x.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&alerts));
}

#[test]
fn a_correlation_naming_a_rule_not_in_the_hunt_is_skipped_with_the_reason() {
    let catalog = Catalog::builtin();
    let text = "title: Lonely\ncorrelation:\n  type: event_count\n  rules: [nowhere]\n  \
                group-by: [IpAddress]\n  timespan: 5m\n  condition: {gte: 2}\n";
    let loaded = load_text(Path::new("lonely.yml"), text);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let (mapping, _) = Mapping::windows(catalog);
    let detector = Detector::new(&loaded.rules, &mapping, catalog, Level::Informational);
    assert_eq!(detector.rule_count(), 0);
    assert!(
        detector.skipped()[0].reason.contains("`nowhere`"),
        "{:?}",
        detector.skipped()
    );
}
