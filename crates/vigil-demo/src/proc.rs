//! Programs and running processes, and the Defender columns that describe them.
//!
//! A [`Proc`] is one running process on one device; every event it causes names it in
//! the `InitiatingProcess*` columns, and its own creation names it in the plain ones.
//! Keeping one value for both makes process ids, command lines and parent links agree
//! across tables, the way real telemetry does.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::org::{NETBIOS, User};
use crate::rng::digest_hex;
use crate::sink::Row;

/// A program file and its version resource.
#[derive(Debug, PartialEq, Eq)]
pub struct Image {
    pub path: &'static str,
    pub company: &'static str,
    pub product: &'static str,
    pub description: &'static str,
    pub original: &'static str,
    pub version: &'static str,
    pub size: i64,
}

impl Image {
    pub fn file(&self) -> &'static str {
        self.path.rsplit(['\\', '/']).next().unwrap_or(self.path)
    }

    /// One of the file's stand-in hashes (0 SHA-256, 1 SHA-1, 2 MD5), worked out once
    /// per program: every event a process causes names them.
    fn hash(&self, which: usize) -> String {
        type Hashes = [String; 3];
        static CACHE: OnceLock<Mutex<HashMap<(&'static str, &'static str), Hashes>>> =
            OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        let mut map = match cache.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        let hashes = map.entry((self.path, self.version)).or_insert_with(|| {
            [
                digest_hex(&["sha256", self.path, self.version], 64),
                digest_hex(&["sha1", self.path, self.version], 40),
                digest_hex(&["md5", self.path, self.version], 32),
            ]
        });
        hashes[which].clone()
    }

    pub fn sha256(&self) -> String {
        self.hash(0)
    }

    pub fn sha1(&self) -> String {
        self.hash(1)
    }

    pub fn md5(&self) -> String {
        self.hash(2)
    }
}

macro_rules! images {
    ($($name:ident = $path:literal, $company:literal, $product:literal, $desc:literal,
       $orig:literal, $ver:literal, $size:literal;)*) => {
        $(pub const $name: Image = Image {
            path: $path,
            company: $company,
            product: $product,
            description: $desc,
            original: $orig,
            version: $ver,
            size: $size,
        };)*
    };
}

const MS: &str = "Microsoft Corporation";

images! {
    NTOSKRNL = "C:\\Windows\\System32\\ntoskrnl.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "NT Kernel & System", "ntoskrnl.exe", "10.0.22621.4830", 11_800_000;
    SERVICES = "C:\\Windows\\System32\\services.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Services and Controller app", "services.exe", "10.0.22621.4830", 721_000;
    SVCHOST = "C:\\Windows\\System32\\svchost.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Host Process for Windows Services", "svchost.exe", "10.0.22621.4830", 57_000;
    LSASS = "C:\\Windows\\System32\\lsass.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Local Security Authority Process", "lsass.exe", "10.0.22621.4830", 60_000;
    WINLOGON = "C:\\Windows\\System32\\winlogon.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Windows Logon Application", "WINLOGON.EXE", "10.0.22621.4830", 907_000;
    USERINIT = "C:\\Windows\\System32\\userinit.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Userinit Logon Application", "USERINIT.EXE", "10.0.22621.4830", 36_000;
    EXPLORER = "C:\\Windows\\explorer.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Windows Explorer", "EXPLORER.EXE", "10.0.22621.4830", 5_420_000;
    TASKHOSTW = "C:\\Windows\\System32\\taskhostw.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Host Process for Windows Tasks", "taskhostw.exe", "10.0.22621.4830", 101_000;
    CMD = "C:\\Windows\\System32\\cmd.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Windows Command Processor", "Cmd.Exe", "10.0.22621.4830", 323_000;
    POWERSHELL = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Windows PowerShell", "PowerShell.EXE", "10.0.22621.4830", 455_000;
    RUNDLL32 = "C:\\Windows\\System32\\rundll32.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Windows host process (Rundll32)", "RUNDLL32.EXE", "10.0.22621.4830", 72_000;
    WERFAULT = "C:\\Windows\\System32\\WerFault.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Windows Problem Reporting", "WerFault.exe", "10.0.22621.4830", 570_000;
    GPUPDATE = "C:\\Windows\\System32\\gpupdate.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Microsoft® Windows® Group Policy Update", "GPUpdate.exe", "10.0.22621.4830", 30_000;
    WHOAMI = "C:\\Windows\\System32\\whoami.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "whoami - displays logged on user information", "whoami.exe", "10.0.22621.4830", 79_000;
    NET = "C:\\Windows\\System32\\net.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Net Command", "net.exe", "10.0.22621.4830", 57_000;
    VSSADMIN = "C:\\Windows\\System32\\vssadmin.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Command Line Interface for Microsoft® Volume Shadow Copy Service ", "VSSADMIN.EXE", "10.0.17763.6532", 133_000;
    WMIC = "C:\\Windows\\System32\\wbem\\WMIC.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "WMI Commandline Utility", "wmic.exe", "10.0.17763.6532", 512_000;
    BCDEDIT = "C:\\Windows\\System32\\bcdedit.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Boot Configuration Data Editor", "bcdedit.exe", "10.0.17763.6532", 385_000;
 NLTEST = "C:\\Windows\\System32\\nltest.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Microsoft® Logon Server Test Utility", "nltestrk.exe", "10.0.22621.4830", 492_000;
    FODHELPER = "C:\\Windows\\System32\\fodhelper.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Features On Demand Helper", "FodHelper.EXE", "10.0.22621.4830", 47_000;
    ROBOCOPY = "C:\\Windows\\System32\\Robocopy.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Microsoft® Robocopy", "robocopy.exe", "10.0.20348.2966", 140_000;
    NOTEPAD = "C:\\Windows\\System32\\notepad.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Notepad", "NOTEPAD.EXE", "10.0.22621.4830", 201_000;
    MPCMDRUN = "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Microsoft Malware Protection Command Line Utility", "MpCmdRun.exe", "4.18.24090.11", 1_100_000;
    MSMPENG = "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MsMpEng.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Antimalware Service Executable", "MsMpEng.exe", "4.18.24090.11", 133_000;
    MSSENSE = "C:\\Program Files\\Windows Defender Advanced Threat Protection\\MsSense.exe", "Microsoft Corporation", "Microsoft® Windows® Operating System", "Windows Defender Advanced Threat Protection Service Executable", "MsSense.exe", "10.8760.22621.1010", 4_900_000;
    WINWORD = "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE", "Microsoft Corporation", "Microsoft Office", "Microsoft Word", "WinWord.exe", "16.0.17928.20392", 1_700_000;
    EXCEL = "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE", "Microsoft Corporation", "Microsoft Office", "Microsoft Excel", "Excel.exe", "16.0.17928.20392", 2_300_000;
    OUTLOOK = "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "Microsoft Corporation", "Microsoft Outlook", "Microsoft Outlook", "Outlook.exe", "16.0.17928.20392", 4_100_000;
    POWERPNT = "C:\\Program Files\\Microsoft Office\\root\\Office16\\POWERPNT.EXE", "Microsoft Corporation", "Microsoft Office", "Microsoft PowerPoint", "POWERPNT.EXE", "16.0.17928.20392", 1_900_000;
    EDGE = "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", "Microsoft Corporation", "Microsoft Edge", "Microsoft Edge", "msedge.exe", "133.0.3065.92", 4_200_000;
    TEAMS = "C:\\Program Files\\WindowsApps\\MSTeams_24335.208.3315.1951_x64__8wekyb3d8bbwe\\ms-teams.exe", "Microsoft Corporation", "Microsoft Teams", "Microsoft Teams", "ms-teams.exe", "24335.208.3315.1951", 2_100_000;
    ONEDRIVE = "C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe", "Microsoft Corporation", "Microsoft OneDrive", "Microsoft OneDrive", "OneDrive.exe", "24.246.1204.0003", 3_400_000;
    ACROBAT = "C:\\Program Files\\Adobe\\Acrobat DC\\Acrobat\\Acrobat.exe", "Adobe Inc.", "Adobe Acrobat", "Adobe Acrobat", "Acrobat.exe", "23.3.20269.0", 6_100_000;
    SOLIDWORKS = "C:\\Program Files\\SOLIDWORKS Corp\\SOLIDWORKS\\SLDWORKS.exe", "Dassault Systemes SolidWorks Corp.", "SOLIDWORKS", "SOLIDWORKS", "SLDWORKS.exe", "32.3.0.0073", 32_000_000;
    SQLSERVR = "C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe", "Microsoft Corporation", "Microsoft SQL Server", "SQL Server Windows NT - 64 Bit", "sqlservr.exe", "2019.150.4405.4", 470_000;
    W3WP = "C:\\Windows\\System32\\inetsrv\\w3wp.exe", "Microsoft Corporation", "Internet Information Services", "IIS Worker Process", "w3wp.exe", "10.0.20348.2966", 30_000;
    PSEXEC = "C:\\Tools\\Sysinternals\\PsExec64.exe", "Sysinternals - www.sysinternals.com", "Sysinternals PsExec", "Execute processes remotely", "psexec.c", "2.43", 833_000;
    PSEXEC_DROPPED = "C:\\ProgramData\\PsExec64.exe", "Sysinternals - www.sysinternals.com", "Sysinternals PsExec", "Execute processes remotely", "psexec.c", "2.43", 833_000;
    PSEXESVC = "C:\\Windows\\PSEXESVC.exe", "Sysinternals", "Sysinternals PsExec", "PsExec Service", "psexesvc.exe", "2.43", 371_000;
    BEACON = "C:\\ProgramData\\Microsoft\\OneDriveUpdater\\OneDriveUpdater.exe", "", "", "", "", "", 289_000;
    RUBEUS = "C:\\Users\\Public\\Rubeus.exe", "", "Rubeus", "Rubeus", "Rubeus.exe", "1.0.0.0", 446_000;
    CRON = "/usr/sbin/cron", "", "", "", "", "3.0pl1-137ubuntu3", 55_000;
    SSHD = "/usr/sbin/sshd", "", "", "", "", "8.9p1-3ubuntu0.10", 921_000;
    APT = "/usr/bin/apt-get", "", "", "", "", "2.4.13", 19_000;
    JAVA_CONFLUENCE = "/opt/atlassian/confluence/jre/bin/java", "", "", "", "", "11.0.14.1", 12_000;
    JAVA_JENKINS = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "", "", "", "", "17.0.13", 14_000;
    NGINX = "/usr/sbin/nginx", "", "", "", "", "1.18.0-6ubuntu14.5", 1_200_000;
    PROMETHEUS = "/usr/local/bin/prometheus", "", "", "", "", "2.53.3", 110_000_000;
}

/// An account a process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub domain: String,
    pub name: String,
    pub sid: String,
    pub upn: String,
    pub object_id: String,
}

impl Account {
    pub fn of(user: &User) -> Account {
        Account {
            domain: NETBIOS.to_lowercase(),
            name: user.sam.clone(),
            sid: user.sid.clone(),
            upn: user.upn.clone(),
            object_id: user.object_id.clone(),
        }
    }

    pub fn system() -> Account {
        Account::builtin("system", "S-1-5-18")
    }

    pub fn local_service() -> Account {
        Account::builtin("local service", "S-1-5-19")
    }

    pub fn network_service() -> Account {
        Account::builtin("network service", "S-1-5-20")
    }

    fn builtin(name: &str, sid: &str) -> Account {
        Account {
            domain: "nt authority".into(),
            name: name.into(),
            sid: sid.into(),
            upn: String::new(),
            object_id: String::new(),
        }
    }

    /// A local account of a Linux host.
    pub fn linux(host: &str, name: &str, uid: u32) -> Account {
        Account {
            domain: host.to_string(),
            name: name.to_string(),
            sid: format!("uid={uid}"),
            upn: String::new(),
            object_id: String::new(),
        }
    }

    /// `DOMAIN\name` the way Windows security events spell it.
    pub fn qualified(&self) -> String {
        if self.domain == "nt authority" {
            format!("NT AUTHORITY\\{}", self.name.to_uppercase())
        } else {
            format!("{}\\{}", self.domain.to_uppercase(), self.name)
        }
    }
}

/// One running process.
#[derive(Debug, Clone)]
pub struct Proc {
    pub image: &'static Image,
    pub pid: i64,
    pub cmd: String,
    pub created: i64,
    pub account: Account,
    pub integrity: &'static str,
    pub logon_id: i64,
    pub parent_pid: i64,
    pub parent_file: &'static str,
    pub parent_created: i64,
}

impl Proc {
    pub fn new(image: &'static Image, pid: i64, cmd: impl Into<String>, created: i64) -> Proc {
        Proc {
            image,
            pid,
            cmd: cmd.into(),
            created,
            account: Account::system(),
            integrity: "System",
            logon_id: 999,
            parent_pid: 0,
            parent_file: "",
            parent_created: created,
        }
    }

    pub fn run_as(mut self, account: Account, integrity: &'static str, logon_id: i64) -> Proc {
        self.account = account;
        self.integrity = integrity;
        self.logon_id = logon_id;
        self
    }

    /// A child of `parent`, inheriting its account unless changed afterwards.
    pub fn child(
        parent: &Proc,
        image: &'static Image,
        pid: i64,
        cmd: impl Into<String>,
        created: i64,
    ) -> Proc {
        Proc {
            image,
            pid,
            cmd: cmd.into(),
            created,
            account: parent.account.clone(),
            integrity: parent.integrity,
            logon_id: parent.logon_id,
            parent_pid: parent.pid,
            parent_file: parent.image.file(),
            parent_created: parent.created,
        }
    }

    fn elevation(&self) -> &'static str {
        match self.integrity {
            "High" | "System" => "TokenElevationTypeFull",
            _ => "TokenElevationTypeLimited",
        }
    }

    /// The process as the subject of a row: FileName, FolderPath, ProcessId, ... and
    /// the account it runs as. Columns the row's table lacks are left out.
    pub fn as_subject(&self, row: &mut Row) {
        let img = self.image;
        row.maybe("FileName", img.file())
            .maybe("FolderPath", img.path)
            .maybe("SHA1", img.sha1())
            .maybe("SHA256", img.sha256())
            .maybe("MD5", img.md5())
            .maybe("FileSize", img.size)
            .maybe_text("ProcessVersionInfoCompanyName", img.company)
            .maybe_text("ProcessVersionInfoProductName", img.product)
            .maybe_text("ProcessVersionInfoProductVersion", img.version)
            .maybe_text("ProcessVersionInfoInternalFileName", img.original)
            .maybe_text("ProcessVersionInfoOriginalFileName", img.original)
            .maybe_text("ProcessVersionInfoFileDescription", img.description)
            .maybe("ProcessId", self.pid)
            .maybe("ProcessCommandLine", self.cmd.as_str())
            .maybe("ProcessIntegrityLevel", self.integrity)
            .maybe("ProcessTokenElevation", self.elevation())
            .maybe_time("ProcessCreationTime", self.created)
            .maybe("AccountDomain", self.account.domain.as_str())
            .maybe("AccountName", self.account.name.as_str())
            .maybe("AccountSid", self.account.sid.as_str())
            .maybe_text("AccountUpn", &self.account.upn)
            .maybe_text("AccountObjectId", &self.account.object_id)
            .maybe("LogonId", self.logon_id);
    }

    /// The process as the one that caused a row's event (`InitiatingProcess*`).
    pub fn as_initiator(&self, row: &mut Row) {
        let img = self.image;
        row.maybe("InitiatingProcessFileName", img.file())
            .maybe("InitiatingProcessFolderPath", img.path)
            .maybe("InitiatingProcessSHA1", img.sha1())
            .maybe("InitiatingProcessSHA256", img.sha256())
            .maybe("InitiatingProcessMD5", img.md5())
            .maybe("InitiatingProcessFileSize", img.size)
            .maybe_text("InitiatingProcessVersionInfoCompanyName", img.company)
            .maybe_text("InitiatingProcessVersionInfoProductName", img.product)
            .maybe_text("InitiatingProcessVersionInfoProductVersion", img.version)
            .maybe_text("InitiatingProcessVersionInfoInternalFileName", img.original)
            .maybe_text("InitiatingProcessVersionInfoOriginalFileName", img.original)
            .maybe_text(
                "InitiatingProcessVersionInfoFileDescription",
                img.description,
            )
            .maybe("InitiatingProcessId", self.pid)
            .maybe("InitiatingProcessCommandLine", self.cmd.as_str())
            .maybe_time("InitiatingProcessCreationTime", self.created)
            .maybe("InitiatingProcessIntegrityLevel", self.integrity)
            .maybe("InitiatingProcessTokenElevation", self.elevation())
            .maybe(
                "InitiatingProcessAccountDomain",
                self.account.domain.as_str(),
            )
            .maybe("InitiatingProcessAccountName", self.account.name.as_str())
            .maybe("InitiatingProcessAccountSid", self.account.sid.as_str())
            .maybe_text("InitiatingProcessAccountUpn", &self.account.upn)
            .maybe_text("InitiatingProcessAccountObjectId", &self.account.object_id)
            .maybe("InitiatingProcessLogonId", self.logon_id);
        if self.parent_pid != 0 {
            row.maybe("InitiatingProcessParentId", self.parent_pid)
                .maybe("InitiatingProcessParentFileName", self.parent_file)
                .maybe_time("InitiatingProcessParentCreationTime", self.parent_created);
        }
        row.maybe_text("InitiatingProcessSignatureStatus", signature(img))
            .maybe_text("InitiatingProcessSignerType", signer(img));
    }
}

fn signature(img: &Image) -> &'static str {
    if img.company.is_empty() {
        if img.path.starts_with('/') {
            ""
        } else {
            "Unsigned"
        }
    } else {
        "Valid"
    }
}

fn signer(img: &Image) -> &'static str {
    match img.company {
        "" => "",
        c if c == MS => "OsVendor",
        _ => "ThirdParty",
    }
}
