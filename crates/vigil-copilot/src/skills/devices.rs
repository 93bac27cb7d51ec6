//! Managed devices as Intune sees them: who a device belongs to, the groups it is in,
//! the apps deployed to it, and how two devices' configurations differ.
//!
//! Intune names a device by its host name (`TRE-LT-1042`) where Defender uses the fully
//! qualified name (`tre-lt-1042.corp.example`); every query here accepts either.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value as Json;

use super::{and_list, plural};
use crate::grounding::{Entity, EntityKind};
use crate::lake::{QueryResult, kql_string};
use crate::skill::{
    InputKind, InputSpec, Inputs, ResultTable, Section, Skill, SkillContext, SkillError,
    SkillOutput, SkillSpec, required, text_of,
};

fn spec(name: &str, description: &str, examples: &[&str], inputs: Vec<InputSpec>) -> SkillSpec {
    SkillSpec {
        name: name.into(),
        description: description.into(),
        examples: examples.iter().map(|e| e.to_string()).collect(),
        inputs,
        source: "builtin".into(),
        side_effects: false,
    }
}

fn device_input() -> InputSpec {
    InputSpec::required(
        "device",
        InputKind::Device,
        "the device's name (host name or fully qualified)",
    )
}

/// The host part of a device name, which Intune and Defender share.
fn host_of(name: &str) -> &str {
    let name = name.trim();
    name.split('.').next().unwrap_or(name)
}

/// A KQL condition on `column` that holds for the device however it is written.
fn device_filter(column: &str, device: &str) -> String {
    let host = host_of(device);
    format!(
        "({column} =~ {} or {column} startswith {})",
        kql_string(host),
        kql_string(&format!("{host}."))
    )
}

fn cell(table: &ResultTable, row: &[Json], name: &str) -> String {
    table
        .column(name)
        .and_then(|i| row.get(i))
        .and_then(text_of)
        .unwrap_or_default()
}

fn not_managed(device: &str) -> SkillError {
    SkillError::BadInput(format!(
        "Intune knows no device named {device:?}: check the name, or ask \"Look up {device}\" \
         for what the other tables know"
    ))
}

fn device_entity(name: &str) -> Entity {
    Entity::new(EntityKind::Device, name)
}

/// The Intune record of a device as of its latest inventory snapshot.
async fn intune_record(ctx: &SkillContext<'_>, device: &str) -> Result<QueryResult, SkillError> {
    let query = format!(
        "IntuneDevices\n| where {}\n| summarize arg_max(TimeGenerated, *) by DeviceName\n\
         | project DeviceName, UPN, UserName, UserEmail, OS, OSVersion, CompliantState, \
         EncryptionStatusString, Ownership, ManagedBy, JoinType, Model, Manufacturer, \
         SerialNumber, LastContact, TimeGenerated",
        device_filter("DeviceName", device)
    );
    ctx.lake.query("Intune device record", &query).await
}

/// Runs a query over one device's Intune rows. No rows is an error only when Intune does
/// not know the device at all (a known device may simply be in no group). Returns the
/// result and the device's name as Intune writes it.
async fn device_rows(
    ctx: &SkillContext<'_>,
    device: &str,
    title: &str,
    query: &str,
) -> Result<(QueryResult, String), SkillError> {
    let result = ctx.lake.query(title, query).await?;
    if result.table.rows.is_empty() && intune_record(ctx, device).await?.table.rows.is_empty() {
        return Err(not_managed(device));
    }
    let name = result
        .table
        .texts("DeviceName")
        .into_iter()
        .next()
        .unwrap_or_else(|| host_of(device).to_string());
    Ok((result, name))
}

/// "Who is the primary user of this device?"
pub struct DevicePrimaryUser {
    spec: SkillSpec,
}

impl DevicePrimaryUser {
    pub fn new() -> DevicePrimaryUser {
        DevicePrimaryUser {
            spec: spec(
                "device_primary_user",
                "Name the primary user (owner) of a managed device from its Intune record, with the accounts Defender saw logged on to it",
                &[
                    "Who is the primary user of TRE-LT-1042?",
                    "Who owns this laptop?",
                    "Which user is assigned to this device?",
                    "Primary user of the device",
                ],
                vec![device_input()],
            ),
        }
    }
}

impl Default for DevicePrimaryUser {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Skill for DevicePrimaryUser {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let device = required(&self.spec, inputs, "device")?;
        let record = intune_record(ctx, device).await?;
        let Some(row) = record.table.rows.first().cloned() else {
            return Err(not_managed(device));
        };
        let t = &record.table;
        let name = cell(t, &row, "DeviceName");
        let upn = cell(t, &row, "UPN");
        let display = cell(t, &row, "UserName");
        // Who Defender saw logged on, to confirm or question the assignment.
        let logons = format!(
            "DeviceInfo\n| where {}\n| summarize arg_max(Timestamp, *) by DeviceName\n\
             | project DeviceName, LoggedOnUsers, MachineGroup, Timestamp",
            device_filter("DeviceName", device)
        );
        let seen = ctx
            .lake
            .query("Accounts logged on (DeviceInfo)", &logons)
            .await?;

        let mut out = SkillOutput::default();
        out.answer = if upn.is_empty() {
            format!("{name} has no primary user in Intune (a shared or lab device).")
        } else {
            format!("The primary user of {name} is {display} ({upn}).")
        };
        out.fact("device", &name);
        if !upn.is_empty() {
            out.fact("primary user", &upn);
            out.entities.push(Entity::new(EntityKind::User, &upn));
            out.follow_ups.push(format!(
                "Show failed sign-ins for {upn} in the last 24 hours"
            ));
        }
        out.entities.push(device_entity(&name));
        out.follow_ups
            .push(format!("Which managed apps are installed on {name}?"));
        out.follow_ups.push(format!("Which groups is {name} in?"));
        out.evidence.push(record.evidence);
        out.tables.push(record.table);
        if !seen.table.rows.is_empty() {
            out.evidence.push(seen.evidence);
            out.tables.push(seen.table);
        }
        Ok(out)
    }
}

/// "Which groups is this device in?"
pub struct DeviceGroups {
    spec: SkillSpec,
}

impl DeviceGroups {
    pub fn new() -> DeviceGroups {
        DeviceGroups {
            spec: spec(
                "device_groups",
                "List the Entra ID groups a managed device is a member of (assigned or dynamic, with the rule), from Intune group membership",
                &[
                    "Which groups is TRE-LT-1042 in?",
                    "What groups does this device belong to?",
                    "Show the group memberships of the device",
                    "Is the laptop a member of the finance devices group?",
                ],
                vec![device_input()],
            ),
        }
    }
}

impl Default for DeviceGroups {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Skill for DeviceGroups {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let device = required(&self.spec, inputs, "device")?;
        let query = format!(
            "IntuneGroupMembership\n| where MemberType == \"Device\" and {}\n\
             | summarize arg_max(TimeGenerated, *) by GroupId\n\
             | project DeviceName, GroupName, GroupType, MembershipType, MembershipRule, TimeGenerated\n\
             | sort by GroupName asc",
            device_filter("DeviceName", device)
        );
        let (groups, name) = device_rows(ctx, device, "Group memberships", &query).await?;
        let names = groups.table.texts("GroupName");
        let dynamic = groups
            .table
            .texts("MembershipType")
            .iter()
            .filter(|m| m.eq_ignore_ascii_case("dynamic"))
            .count();
        let mut out = SkillOutput::default();
        out.answer = if names.is_empty() {
            format!("{name} is in no group.")
        } else {
            format!(
                "{name} is in {}: {}.",
                plural(names.len(), "group", "groups"),
                and_list(&names)
            )
        };
        out.fact("device", &name);
        out.fact("groups", names.len());
        if dynamic > 0 {
            out.sections.push(Section {
                title: "Membership".into(),
                body: format!(
                    "{} by a dynamic rule, {} assigned by hand; the rules are in the table.",
                    plural(dynamic, "group includes it", "groups include it"),
                    names.len() - dynamic
                ),
            });
        }
        out.entities.push(device_entity(&name));
        out.follow_ups
            .push(format!("Which managed apps are installed on {name}?"));
        out.evidence.push(groups.evidence);
        out.tables.push(groups.table);
        Ok(out)
    }
}

/// "Which managed apps are installed on this device?"
pub struct DeviceManagedApps {
    spec: SkillSpec,
}

impl DeviceManagedApps {
    pub fn new() -> DeviceManagedApps {
        DeviceManagedApps {
            spec: spec(
                "device_managed_apps",
                "List the apps Intune deploys to a managed device with their versions and install state (installed, failed, pending)",
                &[
                    "Which managed apps are installed on TRE-LT-1042?",
                    "What apps does Intune deploy to this device?",
                    "Show the managed applications on the laptop",
                    "Which app installs failed on the device?",
                ],
                vec![device_input()],
            ),
        }
    }
}

impl Default for DeviceManagedApps {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Skill for DeviceManagedApps {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let device = required(&self.spec, inputs, "device")?;
        let query = format!(
            "IntuneManagedApps\n| where {}\n| summarize arg_max(TimeGenerated, *) by AppId\n\
             | project DeviceName, AppName, AppVersion, Publisher, AppType, InstallState, \
             InstallStateDetail, AssignmentIntent, AssignedGroup, TimeGenerated\n\
             | sort by InstallState asc, AppName asc",
            device_filter("DeviceName", device)
        );
        let (apps, name) = device_rows(ctx, device, "Managed apps", &query).await?;
        let t = &apps.table;
        let mut by_state: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in &t.rows {
            let app = match cell(t, row, "AppVersion") {
                v if v.is_empty() => cell(t, row, "AppName"),
                v => format!("{} {v}", cell(t, row, "AppName")),
            };
            by_state
                .entry(cell(t, row, "InstallState"))
                .or_default()
                .push(app);
        }
        let installed = by_state.get("Installed").map_or(0, Vec::len);
        let mut out = SkillOutput::default();
        out.answer = format!(
            "{} on {name}: {}.",
            plural(
                installed,
                "managed app is installed",
                "managed apps are installed"
            ),
            and_list(by_state.get("Installed").map_or(&[][..], Vec::as_slice))
        );
        if installed == 0 {
            out.answer = format!("No managed app is installed on {name}.");
        }
        out.fact("device", &name);
        out.fact("installed", installed);
        let others: Vec<String> = by_state
            .iter()
            .filter(|(state, _)| state.as_str() != "Installed")
            .map(|(state, apps)| format!("- {state}: {}", and_list(apps)))
            .collect();
        if !others.is_empty() {
            for (state, apps) in by_state.iter().filter(|(s, _)| s.as_str() != "Installed") {
                out.fact(&state.to_lowercase(), apps.len());
            }
            out.sections.push(Section {
                title: "Not installed".into(),
                body: others.join("\n"),
            });
        }
        out.entities.push(device_entity(&name));
        out.evidence.push(apps.evidence);
        out.tables.push(apps.table);
        Ok(out)
    }
}

/// "Compare the configuration of device A and device B."
pub struct CompareDeviceConfiguration {
    spec: SkillSpec,
}

impl CompareDeviceConfiguration {
    pub fn new() -> CompareDeviceConfiguration {
        CompareDeviceConfiguration {
            spec: spec(
                "compare_device_configuration",
                "Compare two managed devices: the Intune configuration settings and policy states that differ, their compliance, and the apps and groups one has and the other lacks",
                &[
                    "Compare the configuration of TRE-LT-1042 and TRE-LT-1043",
                    "What is different between the settings of these two devices?",
                    "Compare device A with device B",
                    "How does the configuration of this laptop differ from that one?",
                ],
                vec![
                    InputSpec::required("device", InputKind::Device, "the first device"),
                    InputSpec::required(
                        "other",
                        InputKind::Device,
                        "the device to compare it with",
                    ),
                ],
            ),
        }
    }
}

impl Default for CompareDeviceConfiguration {
    fn default() -> Self {
        Self::new()
    }
}

/// One device's value of each key, as text.
type Side = BTreeMap<String, String>;

fn side_of(t: &ResultTable, device: &str, key: &[&str], value: &str) -> Side {
    let host = host_of(device).to_lowercase();
    t.rows
        .iter()
        .filter(|r| host_of(&cell(t, r, "DeviceName")).to_lowercase() == host)
        .map(|r| {
            let k: Vec<String> = key.iter().map(|c| cell(t, r, c)).collect();
            (k.join(" / "), cell(t, r, value))
        })
        .collect()
}

/// The keys whose values differ between two sides, as rows of a table.
fn differences(what: &str, a: &Side, b: &Side, into: &mut ResultTable) -> usize {
    let mut n = 0;
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (va, vb) = (a.get(k), b.get(k));
        if va != vb {
            n += 1;
            let show = |v: Option<&String>| match v {
                Some(v) if v.is_empty() => Json::from("(empty)"),
                Some(v) => Json::from(v.as_str()),
                None => Json::from("(not assigned)"),
            };
            into.rows.push(vec![
                Json::from(what),
                Json::from(k.as_str()),
                show(va),
                show(vb),
            ]);
        }
    }
    n
}

#[async_trait]
impl Skill for CompareDeviceConfiguration {
    fn spec(&self) -> &SkillSpec {
        &self.spec
    }

    async fn run(
        &self,
        ctx: &SkillContext<'_>,
        inputs: &Inputs,
    ) -> Result<SkillOutput, SkillError> {
        let a = required(&self.spec, inputs, "device")?;
        let b = required(&self.spec, inputs, "other")?;
        if host_of(a).eq_ignore_ascii_case(host_of(b)) {
            return Err(SkillError::BadInput(format!(
                "name two different devices to compare (both are {a:?})"
            )));
        }
        let both = format!(
            "({} or {})",
            device_filter("DeviceName", a),
            device_filter("DeviceName", b)
        );
        let record_q = format!(
            "IntuneDevices\n| where {both}\n| summarize arg_max(TimeGenerated, *) by DeviceName\n\
             | project DeviceName, OS, OSVersion, CompliantState, EncryptionStatusString, \
             JoinType, ManagedBy, Model, SkuFamily"
        );
        let settings_q = format!(
            "IntuneDeviceConfiguration\n| where {both}\n\
             | summarize arg_max(TimeGenerated, *) by DeviceName, PolicyName, SettingName\n\
             | extend Result = iff(State == \"Succeeded\", SettingValue, strcat(SettingValue, \" (\", State, \")\"))\n\
             | project DeviceName, PolicyName, SettingName, SettingValue, State, Result"
        );
        let apps_q = format!(
            "IntuneManagedApps\n| where {both}\n| summarize arg_max(TimeGenerated, *) by DeviceName, AppName\n\
             | extend Result = iff(InstallState == \"Installed\", AppVersion, InstallState)\n\
             | project DeviceName, AppName, Result"
        );
        let groups_q = format!(
            "IntuneGroupMembership\n| where MemberType == \"Device\" and {both}\n\
             | summarize arg_max(TimeGenerated, *) by DeviceName, GroupName\n\
             | extend Result = MembershipType\n| project DeviceName, GroupName, Result"
        );
        let record = ctx.lake.query("Intune device records", &record_q).await?;
        for d in [a, b] {
            if side_of(&record.table, d, &["DeviceName"], "OS").is_empty() {
                return Err(not_managed(d));
            }
        }
        let settings = ctx
            .lake
            .query("Configuration settings", &settings_q)
            .await?;
        let apps = ctx.lake.query("Managed apps", &apps_q).await?;
        let groups = ctx.lake.query("Group memberships", &groups_q).await?;

        let name_of = |d: &str| {
            record
                .table
                .texts("DeviceName")
                .into_iter()
                .find(|n| host_of(n).eq_ignore_ascii_case(host_of(d)))
                .unwrap_or_else(|| d.to_string())
        };
        let (name_a, name_b) = (name_of(a), name_of(b));
        let mut diff = ResultTable::new(
            format!("Differences between {name_a} and {name_b}"),
            &["Area", "Item", name_a.as_str(), name_b.as_str()],
        );
        let mut counts = Vec::new();
        let rt = &record.table;
        let properties = [
            "OS",
            "OSVersion",
            "CompliantState",
            "EncryptionStatusString",
            "JoinType",
            "ManagedBy",
            "Model",
            "SkuFamily",
        ];
        let mut props = 0;
        for p in properties {
            props += differences(
                "Device",
                &side_of(rt, a, &[], p)
                    .into_values()
                    .map(|v| (p.to_string(), v))
                    .collect(),
                &side_of(rt, b, &[], p)
                    .into_values()
                    .map(|v| (p.to_string(), v))
                    .collect(),
                &mut diff,
            );
        }
        counts.push(("device property", props));
        let st = &settings.table;
        let n = differences(
            "Setting",
            &side_of(st, a, &["PolicyName", "SettingName"], "Result"),
            &side_of(st, b, &["PolicyName", "SettingName"], "Result"),
            &mut diff,
        );
        counts.push(("setting", n));
        let n = differences(
            "App",
            &side_of(&apps.table, a, &["AppName"], "Result"),
            &side_of(&apps.table, b, &["AppName"], "Result"),
            &mut diff,
        );
        counts.push(("app", n));
        let n = differences(
            "Group",
            &side_of(&groups.table, a, &["GroupName"], "Result"),
            &side_of(&groups.table, b, &["GroupName"], "Result"),
            &mut diff,
        );
        counts.push(("group", n));
        let compared = side_of(st, a, &["PolicyName", "SettingName"], "Result")
            .len()
            .max(side_of(st, b, &["PolicyName", "SettingName"], "Result").len());

        let mut out = SkillOutput::default();
        let parts: Vec<String> = counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(what, n)| plural(*n, what, &format!("{what}s")))
            .collect();
        out.answer = if parts.is_empty() {
            format!(
                "{name_a} and {name_b} are configured alike: the same {} and the same apps and groups.",
                plural(compared, "setting", "settings")
            )
        } else {
            format!("{name_a} and {name_b} differ in {}.", and_list(&parts))
        };
        out.fact("differences", diff.rows.len());
        for (what, n) in &counts {
            out.fact(&format!("{what} differences"), n);
        }
        out.entities.push(device_entity(&name_a));
        out.entities.push(device_entity(&name_b));
        out.tables.push(diff);
        for r in [record, settings, apps, groups] {
            out.evidence.push(r.evidence);
        }
        Ok(out)
    }
}
