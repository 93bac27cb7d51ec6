//! Entra ID: who the people are (`IdentityInfo`), how they sign in (`SigninLogs`,
//! `AADNonInteractiveUserSignInLogs`) and what changes in the directory (`AuditLogs`).

use serde_json::{Value as Json, json};

use super::{Ctx, shifts};
use crate::Error;
use crate::clock::{HOUR, MINUTE, SECOND, iso};
use crate::names::OFFICES;
use crate::org::{AccountKind, COMPANY, DOMAIN, EGRESS_IP, Org, User};
use crate::rng::Rng;
use crate::sink::{Row, Sink};

/// Entra applications people sign in to: display name and application id.
pub const APPS: &[(&str, &str)] = &[
    ("Microsoft Office", "d3590ed6-52b3-4102-aeff-aad2292ab01c"),
    ("Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264"),
    (
        "Office 365 Exchange Online",
        "00000002-0000-0ff1-ce00-000000000000",
    ),
    (
        "OneDrive SyncEngine",
        "ab9b8c07-8f02-4f72-87fa-80105867a763",
    ),
    ("Tamarack ERP", "6f1d3c8e-2b7a-4e59-9c41-5d0a8e7b3f12"),
    ("Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),
];

/// Where a sign-in came from.
#[derive(Debug, Clone)]
pub struct Place {
    pub ip: String,
    pub city: String,
    pub state: String,
    pub country: String,
    pub lat: f64,
    pub lon: f64,
}

impl Place {
    pub fn office(office: usize, ip: &str) -> Place {
        let (city, cc, _, state, lat, lon) = OFFICES[office.min(OFFICES.len() - 1)];
        Place {
            ip: ip.to_string(),
            city: city.into(),
            state: state.into(),
            country: cc.into(),
            lat,
            lon,
        }
    }
}

/// The device a sign-in came from, as `DeviceDetail` describes it.
#[derive(Debug, Clone)]
pub struct Client {
    pub device_id: String,
    pub display_name: String,
    pub os: String,
    pub browser: String,
    pub compliant: bool,
    pub managed: bool,
    pub trust: String,
    pub user_agent: String,
    pub client_app: String,
}

impl Client {
    pub fn unknown_browser(ua: &str, os: &str, browser: &str) -> Client {
        Client {
            device_id: String::new(),
            display_name: String::new(),
            os: os.into(),
            browser: browser.into(),
            compliant: false,
            managed: false,
            trust: String::new(),
            user_agent: ua.into(),
            client_app: "Browser".into(),
        }
    }
}

/// The result of a sign-in: error code, its description, what MFA did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub code: i64,
    pub mfa: Option<(&'static str, bool, &'static str)>,
    pub risk: &'static str,
    pub risk_events: Vec<&'static str>,
    pub ca_status: &'static str,
}

impl Outcome {
    pub fn success_mfa() -> Outcome {
        Outcome {
            code: 0,
            mfa: Some((
                "Mobile app notification",
                true,
                "MFA successfully completed",
            )),
            risk: "none",
            risk_events: vec![],
            ca_status: "success",
        }
    }

    pub fn success_sso() -> Outcome {
        Outcome {
            code: 0,
            mfa: None,
            risk: "none",
            risk_events: vec![],
            ca_status: "success",
        }
    }

    pub fn failed(code: i64) -> Outcome {
        Outcome {
            code,
            mfa: None,
            risk: "none",
            risk_events: vec![],
            ca_status: "notApplied",
        }
    }
}

pub fn describe(code: i64) -> &'static str {
    match code {
        0 => "",
        50126 => "Error validating credentials due to invalid username or password.",
        50053 => {
            "The account is locked, you've tried to sign in too many times with an incorrect user ID or password."
        }
        50074 => "Strong Authentication is required.",
        500121 => "Authentication failed during strong authentication request.",
        50140 => {
            "This error occurred due to 'Keep me signed in' interrupt when the user was signing in."
        }
        53003 => "Access has been blocked by Conditional Access policies.",
        _ => "Other",
    }
}

/// One sign-in row (`SigninLogs` when `interactive`, else the non-interactive table).
#[allow(clippy::too_many_arguments)]
pub fn signin(
    org: &Org,
    rng: &mut Rng,
    t: i64,
    user: &User,
    app: (&str, &str),
    place: &Place,
    client: &Client,
    outcome: &Outcome,
    interactive: bool,
) -> Row {
    let table = if interactive {
        "SigninLogs"
    } else {
        "AADNonInteractiveUserSignInLogs"
    };
    let mut row = Row::new(table, t);
    let status = if outcome.code == 0 {
        json!({"errorCode": 0})
    } else {
        json!({"errorCode": outcome.code, "failureReason": describe(outcome.code)})
    };
    let location = json!({
        "city": place.city, "state": place.state, "countryOrRegion": place.country,
        "geoCoordinates": {"latitude": place.lat, "longitude": place.lon},
    });
    let device = json!({
        "deviceId": client.device_id, "displayName": client.display_name,
        "operatingSystem": client.os, "browser": client.browser,
        "isCompliant": client.compliant, "isManaged": client.managed, "trustType": client.trust,
    });
    let mut steps = vec![json!({
        "authenticationStepDateTime": iso(t),
        "authenticationMethod": if outcome.mfa.is_none() && outcome.code == 0 { "Previously satisfied" } else { "Password" },
        "succeeded": outcome.code != 50126 && outcome.code != 50053,
        "authenticationStepResultDetail": match outcome.code { 50126 => "Invalid username or password", 50053 => "Account locked", _ => "Correct password" },
    })];
    let mfa_detail = match outcome.mfa {
        Some((method, ok, detail)) => {
            steps.push(json!({
                "authenticationStepDateTime": iso(t + 8 * SECOND),
                "authenticationMethod": method,
                "succeeded": ok,
                "authenticationStepResultDetail": detail,
            }));
            json!({"authMethod": method, "authDetail": detail})
        }
        None => json!({}),
    };
    let risky = outcome.risk != "none";
    let risk_events: Vec<Json> = outcome.risk_events.iter().map(|e| json!(e)).collect();
    row.set("OperationName", "Sign-in activity")
        .set("OperationVersion", "1.0")
        .set(
            "Category",
            if interactive {
                "SignInLogs"
            } else {
                "NonInteractiveUserSignInLogs"
            },
        )
        .set("ResultType", outcome.code.to_string())
        .set(
            "ResultSignature",
            if outcome.code == 0 {
                "SUCCESS"
            } else {
                "FAILURE"
            },
        )
        .text("ResultDescription", describe(outcome.code))
        .set("Id", rng.guid())
        .set("CorrelationId", rng.guid())
        .set("OriginalRequestId", rng.guid())
        .set("UniqueTokenIdentifier", rng.hex(22))
        .set("UserPrincipalName", user.upn.as_str())
        .set("UserDisplayName", user.display.as_str())
        .set("UserId", user.object_id.as_str())
        .set("AlternateSignInName", user.upn.as_str())
        .set("Identity", user.display.as_str())
        .set("UserType", "Member")
        .set("AppDisplayName", app.0)
        .set("AppId", app.1)
        .set(
            "ResourceDisplayName",
            if app.0 == "Azure Portal" {
                "Windows Azure Service Management API"
            } else {
                "Office 365 Exchange Online"
            },
        )
        .set("ClientAppUsed", client.client_app.as_str())
        .set("UserAgent", client.user_agent.as_str())
        .set("IsInteractive", interactive)
        .set("IPAddress", place.ip.as_str())
        .set("Location", place.country.as_str())
        .set(
            "AutonomousSystemNumber",
            if place.ip == EGRESS_IP {
                "64500"
            } else {
                "64510"
            },
        )
        .set(
            "AuthenticationRequirement",
            if outcome.mfa.is_some() {
                "multiFactorAuthentication"
            } else {
                "singleFactorAuthentication"
            },
        )
        .set(
            "AuthenticationDetails",
            crate::sink::canonical(&Json::Array(steps)),
        )
        .set("ConditionalAccessStatus", outcome.ca_status)
        .set("RiskLevelDuringSignIn", outcome.risk)
        .set("RiskLevelAggregated", outcome.risk)
        .set("RiskState", if risky { "atRisk" } else { "none" })
        .set("RiskDetail", "none")
        .set(
            "RiskEventTypes",
            crate::sink::canonical(&Json::Array(risk_events.clone())),
        )
        .set(
            "RiskEventTypes_V2",
            crate::sink::canonical(&Json::Array(risk_events)),
        )
        .set("IsRisky", risky)
        .set("TokenIssuerType", "AzureAD")
        .set("AADTenantId", org.tenant_id.as_str())
        .set("HomeTenantId", org.tenant_id.as_str())
        .set("ResourceTenantId", org.tenant_id.as_str())
        .time("CreatedDateTime", t)
        .set("DurationMs", 0)
        .set("Level", if outcome.code == 0 { "4" } else { "2" })
        .set("SourceSystem", "Azure AD");
    if interactive {
        row.set("Status", status)
            .set("LocationDetails", location)
            .set("DeviceDetail", device)
            .set("MfaDetail", mfa_detail);
    } else {
        row.json_text("Status", &status)
            .json_text("LocationDetails", &location)
            .json_text("DeviceDetail", &device)
            .json_text("MfaDetail", &mfa_detail);
    }
    row
}

/// How a person's own workstation signs in.
pub fn workstation_client(org: &Org, user: &User) -> Client {
    match org.user_device(user.index) {
        Some(d) => Client {
            device_id: d.aad_id.clone(),
            display_name: d.host.clone(),
            os: if d.os.platform == "Windows11" { "Windows 11".into() } else { "Windows10".into() },
            browser: "Edge 133.0.0".into(),
            compliant: true,
            managed: true,
            trust: "Hybrid Azure AD joined".into(),
            user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36 Edg/133.0.0.0".into(),
            client_app: "Browser".into(),
        },
        None => Client {
            device_id: String::new(),
            display_name: String::new(),
            os: "Ios".into(),
            browser: "Mobile Safari".into(),
            compliant: false,
            managed: false,
            trust: String::new(),
            user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1".into(),
            client_app: "Mobile Apps and Desktop clients".into(),
        },
    }
}

pub fn generate(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), Error> {
    identity_info(ctx, sink)?;
    signins(ctx, sink)?;
    audit(ctx, sink)?;
    Ok(())
}

fn identity_info(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), Error> {
    let org = ctx.org;
    for day in ctx.clock.days() {
        let t = day.at(1.5);
        if !ctx.clock.contains(t) {
            continue;
        }
        for u in &org.users {
            let (city, _, country, state, _, _) = OFFICES[u.office];
            let manager = u
                .manager
                .map(|m| org.users[m].upn.clone())
                .unwrap_or_default();
            let ou = match u.kind {
                AccountKind::Person => format!("OU={},OU=Staff", u.department),
                AccountKind::Admin => "OU=Admins,OU=Tier0".into(),
                AccountKind::Service => "OU=Service Accounts".into(),
            };
            let roles: Vec<&str> = match u.kind {
                AccountKind::Admin => vec!["Global Administrator"],
                _ if u.department == "IT" && u.title.contains("Security") => {
                    vec!["Security Reader"]
                }
                _ => vec![],
            };
            let mut row = Row::new("IdentityInfo", t);
            row.set("AccountObjectId", u.object_id.as_str())
                .set("AccountUpn", u.upn.as_str())
                .set("AccountUPN", u.upn.as_str())
                .set("OnPremSid", u.sid.as_str())
                .set("AccountSID", u.sid.as_str())
                .text("GivenName", &u.given)
                .text("Surname", &u.surname)
                .set("AccountDisplayName", u.display.as_str())
                .set("Department", u.department)
                .set("JobTitle", u.title.as_str())
                .set("AccountName", u.sam.as_str())
                .set("SAMAccountName", u.sam.as_str())
                .set("AccountDomain", DOMAIN)
                .set(
                    "DistinguishedName",
                    format!("CN={},{ou},DC=tamarack,DC=example", u.display),
                )
                .set("EmailAddress", u.upn.as_str())
                .set("MailAddress", u.upn.as_str())
                .set("City", city)
                .set("Country", country)
                .set("State", state)
                .set("CompanyName", COMPANY)
                .set("IsAccountEnabled", true)
                .text("Manager", &manager)
                .text("EmployeeId", &u.employee_id)
                .set("UserType", "Member")
                .set("UserState", "Active")
                .set("IsServiceAccount", u.kind == AccountKind::Service)
                .set("IsMFARegistered", u.mfa_registered)
                .time("CreatedDateTime", u.created)
                .time("AccountCreationTime", u.created)
                .set("GroupMembership", json!(u.groups))
                .set("AssignedRoles", json!(roles))
                .set("RiskLevel", "None")
                .set("RiskState", "None")
                .set(
                    "BlastRadius",
                    if u.kind == AccountKind::Admin {
                        "High"
                    } else {
                        "Low"
                    },
                )
                .set("SourceSystem", "AzureActiveDirectory")
                .set("AccountTenantId", org.tenant_id.as_str());
            if !u.is_person() {
                row.set(
                    "Tags",
                    if u.kind == AccountKind::Admin {
                        "Privileged"
                    } else {
                        "Service"
                    },
                );
            }
            sink.push(row)?;
        }
    }
    Ok(())
}

fn signins(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), Error> {
    let org = ctx.org;
    for user in org.people() {
        let mut rng = ctx.rng(&format!("signin-{}", user.sam));
        let client = workstation_client(org, user);
        for shift in shifts(ctx, user.index) {
            let place = if shift.remote {
                Place::office(user.office, &user.home_ip)
            } else {
                Place::office(user.office, EGRESS_IP)
            };
            let t = shift.start + rng.range(20, 120) * SECOND;
            if rng.chance(0.03) {
                let bad = Outcome::failed(50126);
                sink.push(signin(
                    org,
                    &mut rng,
                    t - MINUTE,
                    user,
                    APPS[0],
                    &place,
                    &client,
                    &bad,
                    true,
                ))?;
            }
            // The first sign-in of the day asks for MFA from outside the office.
            let first = if shift.remote {
                Outcome::success_mfa()
            } else {
                Outcome::success_sso()
            };
            sink.push(signin(
                org, &mut rng, t, user, APPS[0], &place, &client, &first, true,
            ))?;
            if user.department == "Finance" || user.department == "Operations" {
                let at = t + rng.range(5, 90) * MINUTE;
                sink.push(signin(
                    org,
                    &mut rng,
                    at,
                    user,
                    APPS[4],
                    &place,
                    &client,
                    &Outcome::success_sso(),
                    true,
                ))?;
            }
            if user.department == "IT" && rng.chance(0.5) {
                let at = t + rng.range(5, 240) * MINUTE;
                sink.push(signin(
                    org,
                    &mut rng,
                    at,
                    user,
                    APPS[5],
                    &place,
                    &client,
                    &Outcome::success_mfa(),
                    true,
                ))?;
            }
            // Token refreshes by the desktop apps through the day.
            let hours = ((shift.end - shift.start) / HOUR).max(1);
            let refreshes = ctx.scaled(hours as f64 * 0.8);
            for _ in 0..refreshes {
                let rt = rng.range(shift.start, shift.end);
                let app = APPS[1 + rng.index(3)];
                let mut c = client.clone();
                c.client_app = "Mobile Apps and Desktop clients".into();
                sink.push(signin(
                    org,
                    &mut rng,
                    rt,
                    user,
                    app,
                    &place,
                    &c,
                    &Outcome::success_sso(),
                    false,
                ))?;
            }
        }
    }
    Ok(())
}

/// Directory changes: group membership, profile updates, password resets, device
/// registrations, done by the service desk or by people themselves.
fn audit(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), Error> {
    let org = ctx.org;
    let mut rng = ctx.rng("audit");
    let helpdesk = &org.users[org.cast.helpdesk_admin];
    let people: Vec<&User> = org.people().collect();
    for day in ctx.clock.days() {
        let n = if day.is_weekend() { 1 } else { ctx.scaled(7.0) };
        for _ in 0..n {
            let t = day.at(8.5 + rng.unit() * 8.5);
            if !ctx.clock.contains(t) {
                continue;
            }
            let target = people[rng.index(people.len())];
            let (activity, category, op, service, props): (&str, &str, &str, &str, Json) = match rng
                .below(5)
            {
                0 => (
                    "Add member to group",
                    "GroupManagement",
                    "Assign",
                    "Core Directory",
                    json!([{"displayName": "Group.DisplayName", "oldValue": null, "newValue": "\"VPN Users\""}]),
                ),
                1 => (
                    "Update user",
                    "UserManagement",
                    "Update",
                    "Core Directory",
                    json!([{"displayName": "TelephoneNumber", "oldValue": "[]", "newValue": format!("[\"+31 10 {} {}\"]", rng.range(100, 999), rng.range(1000, 9999))}]),
                ),
                2 => (
                    "Reset password (self-service)",
                    "UserManagement",
                    "Update",
                    "Self-service Password Management",
                    json!([]),
                ),
                3 => (
                    "Register device",
                    "Device",
                    "Add",
                    "Core Directory",
                    json!([{"displayName": "DeviceOSType", "oldValue": null, "newValue": "\"IPhone\""}]),
                ),
                _ => (
                    "User registered security info",
                    "UserManagement",
                    "Add",
                    "Authentication Methods",
                    json!([]),
                ),
            };
            let by_self = matches!(
                activity,
                "Reset password (self-service)"
                    | "User registered security info"
                    | "Register device"
            );
            let initiator = if by_self { target } else { helpdesk };
            sink.push(audit_row(
                org, &mut rng, t, activity, category, op, service, initiator, target, props, None,
            ))?;
        }
    }
    Ok(())
}

/// One `AuditLogs` row: `initiator` did `activity` to `target`.
#[allow(clippy::too_many_arguments)]
pub fn audit_row(
    org: &Org,
    rng: &mut Rng,
    t: i64,
    activity: &str,
    category: &str,
    op_type: &str,
    service: &str,
    initiator: &User,
    target: &User,
    modified: Json,
    ip: Option<&str>,
) -> Row {
    let mut row = Row::new("AuditLogs", t);
    let ip = ip.unwrap_or(EGRESS_IP);
    row.set("ActivityDisplayName", activity)
        .set("OperationName", activity)
        .set("Category", category)
        .set("AADOperationType", op_type)
        .set("LoggedByService", service)
        .set("Result", "success")
        .set("ResultType", "0")
        .set("Id", format!("Directory_{}", rng.guid()))
        .set("CorrelationId", rng.guid())
        .set("AADTenantId", org.tenant_id.as_str())
        .set("Identity", initiator.display.as_str())
        .set("Level", "4")
        .set("OperationVersion", "1.0")
        .set("SourceSystem", "Azure AD")
        .time("ActivityDateTime", t)
        .set("DurationMs", 0)
        .set("InitiatedBy", json!({"user": {"id": initiator.object_id, "displayName": initiator.display, "userPrincipalName": initiator.upn, "ipAddress": ip}}))
        .set("TargetResources", json!([{"id": target.object_id, "displayName": target.display, "type": "User", "userPrincipalName": target.upn, "modifiedProperties": modified}]))
        .set("AdditionalDetails", json!([{"key": "UserType", "value": "Member"}]));
    row
}
