//! Scenario 3: a password spray from one address against many accounts; one password
//! works, MFA push requests follow until the tired user approves one at night, the
//! attacker registers an authenticator of their own, and the same account is used from
//! Singapore minutes after the user signed in at the office.

use serde_json::json;

use super::{Track, strings};
use crate::Error;
use crate::activity::{APPS, Client, Ctx, Outcome, Place, audit_row, signin, workstation_client};
use crate::clock::{MINUTE, SECOND};
use crate::org::EGRESS_IP;
use crate::sink::Sink;
use crate::truth::Scenario;

pub const SPRAY_IP: &str = "203.0.113.77";

fn attacker_place() -> Place {
    Place {
        ip: SPRAY_IP.into(),
        city: "Singapore".into(),
        state: "Singapore".into(),
        country: "SG".into(),
        lat: 1.2897,
        lon: 103.8501,
    }
}

pub fn inject(ctx: &Ctx<'_>, sink: &mut Sink) -> Result<Option<Scenario>, Error> {
    let org = ctx.org;
    let victim = &org.users[org.cast.spray_victim];
    let mut rng = ctx.rng("scenario-spray");
    let mut tr = Track::new(sink);
    let days = ctx.clock.days();
    let day = days[days.len().saturating_sub(3)];
    let place = attacker_place();
    let tool = Client::unknown_browser("python-requests/2.31.0", "", "Python Requests 2.31");
    let mut legacy = tool.clone();
    legacy.client_app = "Other clients".into();
    let app = (
        "Azure Active Directory PowerShell",
        "1b730954-1685-4b74-9bfa-1f7f8d4f6bb8",
    );

    // The spray: one attempt per account, a few seconds apart, in the small hours.
    let mut targets: Vec<&crate::org::User> =
        org.people().filter(|u| u.index != victim.index).collect();
    let picks = rng.sample(targets.len(), 64);
    targets = picks.into_iter().map(|i| targets[i]).collect();
    let at = rng.index(targets.len());
    targets.insert(at, victim);
    let mut t = day.at(3.1);
    for (k, u) in targets.iter().enumerate() {
        let outcome = if u.index == victim.index {
            // Right password; MFA is required.
            Outcome {
                code: 50074,
                ..Outcome::failed(50074)
            }
        } else if k % 23 == 7 {
            Outcome::failed(50053)
        } else {
            Outcome::failed(50126)
        };
        let row = signin(org, &mut rng, t, u, app, &place, &legacy, &outcome, true);
        if k == 0 {
            tr.step(
                row,
                "The spray starts: one password tried against many accounts from one address",
            )?;
        } else if u.index == victim.index {
            tr.step(
                row,
                "The password works for this account; MFA is required (50074)",
            )?;
        } else {
            tr.push(row)?;
        }
        t += rng.range(4, 12) * SECOND;
    }

    // MFA fatigue: repeated push requests, denied or ignored, then one approved.
    let mut mt = t + 4 * MINUTE;
    let pushes = 14;
    for k in 0..pushes {
        let detail = if k % 3 == 1 {
            "MFA denied; user declined the authentication"
        } else {
            "MFA denied; user did not respond to mobile app notification"
        };
        let outcome = Outcome {
            code: 500121,
            mfa: Some(("Mobile app notification", false, detail)),
            risk: "none",
            risk_events: vec![],
            ca_status: "failure",
        };
        let row = signin(
            org, &mut rng, mt, victim, APPS[0], &place, &tool, &outcome, true,
        );
        if k == 0 {
            tr.step(row, "MFA push requests start (500121)")?;
        } else {
            tr.push(row)?;
        }
        mt += rng.range(70, 140) * SECOND;
    }
    let approved = Outcome {
        code: 0,
        mfa: Some((
            "Mobile app notification",
            true,
            "MFA successfully completed",
        )),
        risk: "medium",
        risk_events: vec!["unfamiliarFeatures"],
        ca_status: "success",
    };
    tr.step(
        signin(
            org, &mut rng, mt, victim, APPS[0], &place, &tool, &approved, true,
        ),
        "The user approves a push at night: the attacker is signed in",
    )?;
    let register = json!([{"displayName": "StrongAuthenticationMethod", "oldValue": "[{\"MethodType\":6}]", "newValue": "[{\"MethodType\":6},{\"MethodType\":7}]"}]);
    tr.step(
        audit_row(
            org,
            &mut rng,
            mt + 3 * MINUTE,
            "User registered security info",
            "UserManagement",
            "Add",
            "Authentication Methods",
            victim,
            victim,
            register,
            Some(SPRAY_IP),
        ),
        "The attacker registers their own authenticator app",
    )?;
    for k in 0..6 {
        let outcome = Outcome::success_sso();
        let row = signin(
            org,
            &mut rng,
            mt + (5 + 7 * k) * MINUTE,
            victim,
            APPS[2],
            &place,
            &tool,
            &outcome,
            false,
        );
        tr.push(row)?;
    }

    // Morning: the user signs in at the office; twelve minutes later the account is
    // used from Singapore again.
    let office = Place::office(victim.office, EGRESS_IP);
    let client = workstation_client(org, victim);
    let morning = day.at(8.45);
    tr.step(
        signin(
            org,
            &mut rng,
            morning,
            victim,
            APPS[0],
            &office,
            &client,
            &Outcome::success_sso(),
            true,
        ),
        "The user signs in from the office",
    )?;
    let travel = Outcome {
        code: 0,
        mfa: Some((
            "Mobile app notification",
            true,
            "MFA successfully completed",
        )),
        risk: "high",
        risk_events: vec!["impossibleTravel", "unfamiliarFeatures"],
        ca_status: "success",
    };
    tr.step(
        signin(
            org,
            &mut rng,
            morning + 12 * MINUTE,
            victim,
            APPS[2],
            &place,
            &tool,
            &travel,
            true,
        ),
        "Twelve minutes later the account signs in from Singapore: impossible travel",
    )?;

    let mut sc = tr.finish(
        "password-spray-mfa-fatigue",
        "Password spray, MFA fatigue and impossible travel",
        true,
    );
    sc.summary = format!(
        "{SPRAY_IP} tries one password against {} accounts ({} in all, error 50126 and a few lockouts 50053). The password of {} is right; {pushes} MFA push requests follow (500121) until one is approved, after which the attacker registers an authenticator and reads mail. The next morning the user signs in from {} while the account is used from Singapore twelve minutes later.",
        targets.len(),
        targets.len(),
        victim.upn,
        crate::names::OFFICES[victim.office].0
    );
    sc.users = vec![victim.upn.clone()];
    sc.ips = strings(&[SPRAY_IP, EGRESS_IP]);
    sc.techniques = strings(&["T1110.003", "T1621", "T1078.004", "T1098.005"]);
    sc.tactics = strings(&["CredentialAccess", "InitialAccess", "Persistence"]);
    sc.notes = vec![
        format!("Accounts sprayed: {}.", targets.len()),
        "Vigil's shipped Sigma mapping covers Windows only, so no alert is expected from SigninLogs; the identity skills and KQL find the spray (one IPAddress, many UserPrincipalName with ResultType 50126), the MFA fatigue (many 500121 then success) and the impossible travel.".into(),
    ];
    Ok(Some(sc))
}
