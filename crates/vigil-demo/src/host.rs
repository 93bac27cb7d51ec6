//! The long-running processes of a device and of a user's logon session.
//!
//! Both are drawn from random streams named after the device (and day), so that the
//! normal activity and the scenarios see the same process ids for the same explorer,
//! Outlook or lsass without passing them around.

use crate::activity::{Ctx, Shift};
use crate::clock::{HOUR, MINUTE, SECOND};
use crate::org::{Device, User};
use crate::proc::{self, Account, Proc};
use crate::rng::Rng;

/// The processes every Windows device runs from boot.
#[derive(Debug, Clone)]
pub struct Host<'a> {
    pub dev: &'a Device,
    pub boot: i64,
    pub system: Proc,
    pub services: Proc,
    pub lsass: Proc,
    pub winlogon: Proc,
    /// svchost instances: 0 netsvcs (Schedule), 1 DcomLaunch, 2 NetworkService (Dnscache),
    /// 3 LocalService, 4 wuauserv
    pub svchost: Vec<Proc>,
    pub msmpeng: Proc,
    pub mssense: Proc,
}

impl<'a> Host<'a> {
    pub fn of(ctx: &Ctx<'_>, dev: &'a Device) -> Host<'a> {
        let mut rng = ctx.rng(&format!("host-{}", dev.name));
        let boot = ctx.clock.start - rng.range(3, 300) * HOUR;
        let mut system = Proc::new(&proc::NTOSKRNL, 4, "", boot);
        system.logon_id = 999;
        let wininit_pid = rng.pid();
        let mut services = Proc::new(
            &proc::SERVICES,
            rng.pid(),
            "C:\\Windows\\system32\\services.exe",
            boot + 2 * SECOND,
        );
        services.parent_pid = wininit_pid;
        services.parent_file = "wininit.exe";
        let mut lsass = Proc::new(
            &proc::LSASS,
            rng.pid(),
            "C:\\Windows\\system32\\lsass.exe",
            boot + 2 * SECOND,
        );
        lsass.parent_pid = wininit_pid;
        lsass.parent_file = "wininit.exe";
        let mut winlogon = Proc::new(
            &proc::WINLOGON,
            rng.pid(),
            "winlogon.exe",
            boot + 3 * SECOND,
        );
        winlogon.parent_pid = rng.pid();
        winlogon.parent_file = "smss.exe";
        let groups = [
            ("-k netsvcs -p -s Schedule", Account::system()),
            ("-k DcomLaunch -p", Account::system()),
            (
                "-k NetworkService -p -s Dnscache",
                Account::network_service(),
            ),
            ("-k LocalService -p -s EventLog", Account::local_service()),
            ("-k netsvcs -p -s wuauserv", Account::system()),
        ];
        let svchost = groups
            .into_iter()
            .map(|(args, account)| {
                let p = Proc::child(
                    &services,
                    &proc::SVCHOST,
                    rng.pid(),
                    format!("C:\\Windows\\system32\\svchost.exe {args}"),
                    boot + rng.range(3, 20) * SECOND,
                );
                p.run_as(account, "System", 999)
            })
            .collect();
        let msmpeng = Proc::child(
            &services,
            &proc::MSMPENG,
            rng.pid(),
            "\"MsMpEng.exe\"",
            boot + 9 * SECOND,
        );
        let mssense = Proc::child(
            &services,
            &proc::MSSENSE,
            rng.pid(),
            "\"MsSense.exe\"",
            boot + 12 * SECOND,
        );
        Host {
            dev,
            boot,
            system,
            services,
            lsass,
            winlogon,
            svchost,
            msmpeng,
            mssense,
        }
    }

    /// The Task Scheduler's svchost.
    pub fn scheduler(&self) -> &Proc {
        &self.svchost[0]
    }
}

/// A user's interactive logon on a workstation, and the apps it starts.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: Account,
    pub logon_id: i64,
    pub start: i64,
    pub end: i64,
    pub userinit: Proc,
    pub explorer: Proc,
    pub outlook: Proc,
    pub teams: Proc,
    pub edge: Proc,
    pub onedrive: Proc,
}

impl Session {
    pub fn of(ctx: &Ctx<'_>, host: &Host<'_>, user: &User, shift: &Shift) -> Session {
        let mut rng = ctx.rng(&format!("session-{}-{}", host.dev.name, shift.day.index));
        let account = Account::of(user);
        let logon_id = rng.range(0x100_0000, 0x7FF_FFFF);
        let t = shift.start;
        let userinit = Proc::child(
            &host.winlogon,
            &proc::USERINIT,
            rng.pid(),
            "C:\\Windows\\system32\\userinit.exe",
            t + 2 * SECOND,
        )
        .run_as(account.clone(), "Medium", logon_id);
        let explorer = Proc::child(
            &userinit,
            &proc::EXPLORER,
            rng.pid(),
            "C:\\Windows\\Explorer.EXE",
            t + 4 * SECOND,
        );
        let app = |rng: &mut Rng, image, cmd: &str, after: i64| {
            Proc::child(&explorer, image, rng.pid(), cmd, t + after)
        };
        let onedrive = app(
            &mut rng,
            &proc::ONEDRIVE,
            "\"C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe\" /background",
            12 * SECOND,
        );
        let teams = app(
            &mut rng,
            &proc::TEAMS,
            "\"ms-teams.exe\" msteams:system-initiated",
            20 * SECOND,
        );
        let outlook_at = rng_offset(&mut rng, 1, 6);
        let outlook = app(
            &mut rng,
            &proc::OUTLOOK,
            "\"C:\\Program Files\\Microsoft Office\\Root\\Office16\\OUTLOOK.EXE\" ",
            outlook_at,
        );
        let edge_at = rng_offset(&mut rng, 3, 40);
        let edge = app(
            &mut rng,
            &proc::EDGE,
            "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --profile-directory=Default",
            edge_at,
        );
        Session {
            account,
            logon_id,
            start: t,
            end: shift.end,
            userinit,
            explorer,
            outlook,
            teams,
            edge,
            onedrive,
        }
    }
}

fn rng_offset(rng: &mut Rng, lo_min: i64, hi_min: i64) -> i64 {
    rng.range(lo_min * MINUTE, hi_min * MINUTE)
}
