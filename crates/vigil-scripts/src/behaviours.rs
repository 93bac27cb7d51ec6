//! What a script does, recognised by the calls and commands it makes, each mapped to a
//! MITRE ATT&CK technique and quoted from the text where it was seen.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::Behaviour;
use crate::re;

/// One recognisable behaviour.
pub struct Rule {
    pub id: &'static str,
    pub description: &'static str,
    pub technique_id: &'static str,
    pub technique_name: &'static str,
    pub tactic: &'static str,
    pattern: &'static str,
    /// Table and terms for a hunting query that finds the same behaviour elsewhere; no
    /// terms when the behaviour alone (starting PowerShell or cmd) is too common to hunt.
    pub hunt_table: &'static str,
    pub hunt_terms: &'static [&'static str],
}

macro_rules! rule {
    ($id:expr, $desc:expr, $tid:expr, $tname:expr, $tactic:expr, $pat:expr, $table:expr, [$($term:expr),* $(,)?]) => {
        Rule {
            id: $id,
            description: $desc,
            technique_id: $tid,
            technique_name: $tname,
            tactic: $tactic,
            pattern: $pat,
            hunt_table: $table,
            hunt_terms: &[$($term),*],
        }
    };
}

const PROC: &str = "DeviceProcessEvents";
const PSEVT: &str = "DeviceEvents";
const REG: &str = "DeviceRegistryEvents";

pub static RULES: &[Rule] = &[
    rule!(
        "download",
        "Downloads a file or script from the network",
        "T1105",
        "Ingress Tool Transfer",
        "Command and Control",
        r"(?i)\b(?:DownloadString|DownloadFile|DownloadData|DownloadStringAsync|OpenRead)\s*\(|\b(?:Invoke-WebRequest|Invoke-RestMethod|Start-BitsTransfer)\b|(?:^|[\s;|(&])(?:iwr|irm|wget|curl)(?:\.exe)?\s+\S|bitsadmin(?:\.exe)?\s+/transfer|certutil(?:\.exe)?\s+.*-urlcache|\bMsxml2\.(?:Server)?XMLHTTP|\bWinHttp\.WinHttpRequest|\bMicrosoft\.XMLHTTP",
        PROC,
        [
            "DownloadString",
            "DownloadFile",
            "Invoke-WebRequest",
            "Start-BitsTransfer",
            "urlcache",
            "/transfer"
        ]
    ),
    rule!(
        "powershell-start",
        "Starts PowerShell",
        "T1059.001",
        "Command and Scripting Interpreter: PowerShell",
        "Execution",
        r"(?i)\b(?:powershell|pwsh)(?:\.exe)?\b",
        PROC,
        []
    ),
    rule!(
        "powershell-exec",
        "Runs a string as PowerShell code (Invoke-Expression or equivalent)",
        "T1059.001",
        "Command and Scripting Interpreter: PowerShell",
        "Execution",
        r"(?i)\b(?:Invoke-Expression|iex)\b|\[ScriptBlock\]::Create|\.InvokeScript\s*\(",
        PROC,
        [
            "Invoke-Expression",
            "iex",
            "ScriptBlock",
            "FromBase64String"
        ]
    ),
    rule!(
        "encoded-command",
        "Starts PowerShell with a Base64-encoded command",
        "T1027.010",
        "Obfuscated Files or Information: Command Obfuscation",
        "Defense Evasion",
        r"(?i)(?:^|[\s'\x22])[-/](?:e|ec|en|enc|enco|encod|encode|encoded|encodedc\w*)\s+[A-Za-z0-9+/]{16,}",
        PROC,
        ["-EncodedCommand", "-enc ", "-ec "]
    ),
    rule!(
        "hidden-window",
        "Hides the PowerShell window from the user",
        "T1564.003",
        "Hide Artifacts: Hidden Window",
        "Defense Evasion",
        r"(?i)\s[-/]w(?:i|in|ind|indo|indow|indows|indowst|indowsty|indowstyl|indowstyle)?\s+(?:hidden|hid|h|1)\b|-WindowStyle\s+Hidden|\.WindowStyle\s*=\s*['\x22]?Hidden",
        PROC,
        ["-w hidden", "-WindowStyle Hidden", "-win hidden"]
    ),
    rule!(
        "cmd-exec",
        "Runs commands through the Windows command shell",
        "T1059.003",
        "Command and Scripting Interpreter: Windows Command Shell",
        "Execution",
        r"(?i)\bcmd(?:\.exe)?[\x22']?\s+(?:/[a-z](?::\w+)?\s+)*/[ckr]\b",
        PROC,
        []
    ),
    rule!(
        "vbscript",
        "Runs VBScript (Windows Script Host or MSHTA)",
        "T1059.005",
        "Command and Scripting Interpreter: Visual Basic",
        "Execution",
        r"(?i)(?:^|[^.\w])CreateObject\s*\(|\bvbscript:|\b(?:wscript|cscript)(?:\.exe)?\s+[^\r\n]*\.vb[se]\b|\bExecute(?:Global)?\b[ \t(]",
        PROC,
        ["wscript", "cscript", "vbscript"]
    ),
    rule!(
        "jscript",
        "Runs JScript (Windows Script Host or MSHTA)",
        "T1059.007",
        "Command and Scripting Interpreter: JavaScript",
        "Execution",
        r"(?i)new\s+ActiveXObject\s*\(|\bWScript\.CreateObject\s*\(|\bjavascript:|\b(?:wscript|cscript)(?:\.exe)?\s+[^\r\n]*\.js[e]?\b",
        PROC,
        ["wscript", "cscript", "javascript:"]
    ),
    rule!(
        "unix-shell",
        "Pipes downloaded or decoded text into a Unix shell",
        "T1059.004",
        "Command and Scripting Interpreter: Unix Shell",
        "Execution",
        r"(?i)\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b|\b(?:ba|z)?sh\s+-c\s|\beval\s+[\x22']?\$\(",
        PROC,
        ["| sh", "| bash", "bash -c"]
    ),
    rule!(
        "amsi-bypass",
        "Disables the Antimalware Scan Interface (AMSI) so that scripts escape scanning",
        "T1562.001",
        "Impair Defenses: Disable or Modify Tools",
        "Defense Evasion",
        r"(?i)AmsiUtils|amsiInitFailed|AmsiScanBuffer|amsiContext|amsi\.dll|AmsiOpenSession",
        PSEVT,
        ["AmsiUtils", "amsiInitFailed", "AmsiScanBuffer"]
    ),
    rule!(
        "defender-off",
        "Turns off or weakens Microsoft Defender",
        "T1562.001",
        "Impair Defenses: Disable or Modify Tools",
        "Defense Evasion",
        r"(?i)Set-MpPreference\s+[^\r\n]*-Disable\w+|Add-MpPreference\s+[^\r\n]*-Exclusion\w+|DisableAntiSpyware|DisableRealtimeMonitoring|\bsc(?:\.exe)?\s+(?:stop|delete|config)\s+WinDefend|MpCmdRun(?:\.exe)?\s+[^\r\n]*-RemoveDefinitions|Uninstall-WindowsFeature\s+[^\r\n]*Defender",
        PROC,
        [
            "Set-MpPreference",
            "Add-MpPreference",
            "DisableRealtimeMonitoring",
            "ExclusionPath",
            "WinDefend"
        ]
    ),
    rule!(
        "firewall-off",
        "Disables or opens the Windows firewall",
        "T1562.004",
        "Impair Defenses: Disable or Modify System Firewall",
        "Defense Evasion",
        r"(?i)netsh(?:\.exe)?\s+(?:advfirewall\s+set\s+\w+\s+state\s+off|firewall\s+set\s+opmode\s+disable|advfirewall\s+firewall\s+add\s+rule)|Set-NetFirewallProfile\s+[^\r\n]*-Enabled\s+(?:False|0)",
        PROC,
        ["advfirewall", "Set-NetFirewallProfile"]
    ),
    rule!(
        "logging-off",
        "Turns off PowerShell script block or module logging",
        "T1562.002",
        "Impair Defenses: Disable Windows Event Logging",
        "Defense Evasion",
        r"(?i)EnableScriptBlock(?:Invocation)?Logging|ScriptBlockLogging|cachedGroupPolicySettings|EnableModuleLogging|etwProvider|\bauditpol(?:\.exe)?\s+/(?:set|clear)\b",
        PROC,
        [
            "ScriptBlockLogging",
            "cachedGroupPolicySettings",
            "auditpol"
        ]
    ),
    rule!(
        "log-clear",
        "Clears Windows event logs",
        "T1070.001",
        "Indicator Removal: Clear Windows Event Logs",
        "Defense Evasion",
        r"(?i)wevtutil(?:\.exe)?\s+(?:cl|clear-log)\b|Clear-EventLog\b|Remove-EventLog\b",
        PROC,
        ["wevtutil", "Clear-EventLog"]
    ),
    rule!(
        "run-key",
        "Persists through a Run or RunOnce registry key",
        "T1547.001",
        "Boot or Logon Autostart Execution: Registry Run Keys / Startup Folder",
        "Persistence",
        r"(?i)\\CurrentVersion\\Run(?:Once|Services|ServicesOnce)?\b",
        REG,
        ["CurrentVersion\\Run"]
    ),
    rule!(
        "startup-folder",
        "Persists through the Startup folder",
        "T1547.001",
        "Boot or Logon Autostart Execution: Registry Run Keys / Startup Folder",
        "Persistence",
        r"(?i)\\Start Menu\\Programs\\Startup\b|shell:startup",
        "DeviceFileEvents",
        ["Programs\\Startup"]
    ),
    rule!(
        "scheduled-task",
        "Creates a scheduled task",
        "T1053.005",
        "Scheduled Task/Job: Scheduled Task",
        "Persistence",
        r"(?i)schtasks(?:\.exe)?\s+/create\b|Register-ScheduledTask\b|New-ScheduledTask(?:Action|Trigger)?\b|Schedule\.Service",
        PROC,
        ["schtasks", "Register-ScheduledTask"]
    ),
    rule!(
        "service",
        "Creates or changes a Windows service",
        "T1543.003",
        "Create or Modify System Process: Windows Service",
        "Persistence",
        r"(?i)\bsc(?:\.exe)?\s+(?:\\\\\S+\s+)?(?:create|config)\s+\S+|\bNew-Service\b|Set-Service\s+[^\r\n]*-StartupType",
        PROC,
        ["sc create", "sc.exe create", "New-Service", "binPath"]
    ),
    rule!(
        "wmi-persistence",
        "Persists through a WMI event subscription",
        "T1546.003",
        "Event Triggered Execution: Windows Management Instrumentation Event Subscription",
        "Persistence",
        r"(?i)__EventFilter|CommandLineEventConsumer|__FilterToConsumerBinding",
        PROC,
        ["__EventFilter", "CommandLineEventConsumer"]
    ),
    rule!(
        "lsass-dump",
        "Dumps LSASS memory or runs Mimikatz to steal credentials",
        "T1003.001",
        "OS Credential Dumping: LSASS Memory",
        "Credential Access",
        r"(?i)mimikatz|sekurlsa::|Invoke-Mimikatz|comsvcs(?:\.dll)?[\x22']?\s*,?\s*#?(?:MiniDump|24)\b|procdump(?:64)?(?:\.exe)?\s+[^\r\n]*lsass|Out-Minidump|MiniDumpWriteDump|lsass(?:\.exe|\.dmp)",
        PROC,
        ["mimikatz", "sekurlsa", "comsvcs", "MiniDump", "lsass"]
    ),
    rule!(
        "sam-dump",
        "Copies the SAM, SYSTEM or SECURITY hive or the AD database",
        "T1003.002",
        "OS Credential Dumping: Security Account Manager",
        "Credential Access",
        r"(?i)reg(?:\.exe)?\s+save\s+HK(?:LM|EY_LOCAL_MACHINE)\\(?:SAM|SYSTEM|SECURITY)\b|ntds\.dit|ntdsutil",
        PROC,
        ["reg save", "ntds.dit", "ntdsutil"]
    ),
    rule!(
        "whoami",
        "Asks who the current user is",
        "T1033",
        "System Owner/User Discovery",
        "Discovery",
        r"(?i)\bwhoami(?:\.exe)?\b|\bquser\b|\$env:USERNAME\b|%USERNAME%",
        PROC,
        ["whoami"]
    ),
    rule!(
        "account-discovery",
        "Lists user accounts and groups",
        "T1087",
        "Account Discovery",
        "Discovery",
        r"(?i)\bnet1?(?:\.exe)?\s+(?:user|users|localgroup|group|accounts)\b|Get-(?:Local|AD)(?:User|Group(?:Member)?)\b|Get-WmiObject\s+[^\r\n]*Win32_UserAccount",
        PROC,
        [
            "net user",
            "net localgroup",
            "net group",
            "Get-ADUser",
            "Get-LocalUser"
        ]
    ),
    rule!(
        "system-info",
        "Collects system information",
        "T1082",
        "System Information Discovery",
        "Discovery",
        r"(?i)\bsysteminfo(?:\.exe)?\b|Get-ComputerInfo\b|Win32_OperatingSystem|\buname\s+-a\b|\bhostname(?:\.exe)?\b",
        PROC,
        ["systeminfo", "Get-ComputerInfo"]
    ),
    rule!(
        "network-discovery",
        "Reads the network configuration",
        "T1016",
        "System Network Configuration Discovery",
        "Discovery",
        r"(?i)\bipconfig(?:\.exe)?\s+/all\b|\bipconfig(?:\.exe)?\b|\barp(?:\.exe)?\s+-a\b|\broute(?:\.exe)?\s+print\b|Get-NetIPConfiguration",
        PROC,
        ["ipconfig", "arp -a", "route print"]
    ),
    rule!(
        "process-discovery",
        "Lists running processes",
        "T1057",
        "Process Discovery",
        "Discovery",
        r"(?i)\btasklist(?:\.exe)?\b|\bGet-Process\b|\bps\s+(?:aux|-ef)\b",
        PROC,
        ["tasklist", "Get-Process"]
    ),
    rule!(
        "domain-trust",
        "Maps domain trusts and controllers",
        "T1482",
        "Domain Trust Discovery",
        "Discovery",
        r"(?i)nltest(?:\.exe)?\s+/(?:domain_trusts|dclist|dsgetdc)|Get-(?:AD)?DomainTrust",
        PROC,
        ["nltest"]
    ),
    rule!(
        "remote-discovery",
        "Looks for other computers on the network",
        "T1018",
        "Remote System Discovery",
        "Discovery",
        r"(?i)\bnet1?(?:\.exe)?\s+view\b|Get-ADComputer\b",
        PROC,
        ["net view", "Get-ADComputer"]
    ),
    rule!(
        "psexec",
        "Runs commands on another computer over SMB admin shares (PsExec)",
        "T1021.002",
        "Remote Services: SMB/Windows Admin Shares",
        "Lateral Movement",
        r"(?i)\bpsexec(?:64)?(?:\.exe)?\b|\\\\[\w.-]+\\(?:ADMIN|C|IPC)\$",
        PROC,
        ["psexec", "ADMIN$", "PSEXESVC"]
    ),
    rule!(
        "wmi-exec",
        "Starts processes through WMI, locally or on another computer",
        "T1047",
        "Windows Management Instrumentation",
        "Execution",
        r"(?i)\bwmic(?:\.exe)?\s+[^\r\n]*process\s+call\s+create|\bwmic(?:\.exe)?\s+/node:|Invoke-WmiMethod\s+[^\r\n]*Win32_Process|Invoke-CimMethod\s+[^\r\n]*Win32_Process|\[wmiclass\][^\r\n]*Win32_Process",
        PROC,
        ["process call create", "Win32_Process", "/node:"]
    ),
    rule!(
        "winrm",
        "Runs commands on another computer over WinRM (PowerShell remoting)",
        "T1021.006",
        "Remote Services: Windows Remote Management",
        "Lateral Movement",
        r"(?i)Invoke-Command\s+[^\r\n]*-ComputerName|\b(?:Enter|New)-PSSession\b|\bwinrs(?:\.exe)?\s",
        PROC,
        [
            "Invoke-Command",
            "Enter-PSSession",
            "New-PSSession",
            "winrs"
        ]
    ),
    rule!(
        "rdp",
        "Opens Remote Desktop to other computers",
        "T1021.001",
        "Remote Services: Remote Desktop Protocol",
        "Lateral Movement",
        r"(?i)\bmstsc(?:\.exe)?\s+/v|fDenyTSConnections",
        PROC,
        ["mstsc", "fDenyTSConnections"]
    ),
    rule!(
        "shadow-delete",
        "Deletes volume shadow copies or disables recovery (typical before ransomware encrypts)",
        "T1490",
        "Inhibit System Recovery",
        "Impact",
        r"(?i)vssadmin(?:\.exe)?\s+delete\s+shadows|vssadmin(?:\.exe)?\s+resize\s+shadowstorage|wmic(?:\.exe)?\s+shadowcopy\s+delete|Win32_ShadowCopy[^\r\n]*Delete|bcdedit(?:\.exe)?\s+/set\s+[^\r\n]*(?:recoveryenabled\s+no|bootstatuspolicy\s+ignoreallfailures)|wbadmin(?:\.exe)?\s+delete\s+(?:catalog|systemstatebackup)",
        PROC,
        ["vssadmin", "shadowcopy", "recoveryenabled", "wbadmin"]
    ),
    rule!(
        "reflective-load",
        "Loads a .NET assembly or PE image from memory",
        "T1620",
        "Reflective Code Loading",
        "Defense Evasion",
        r"(?i)\[(?:System\.)?Reflection\.Assembly\]::Load(?:File|From)?\s*\(|\bAssembly\]::Load\(|\.Assembly\.Load\(|Invoke-ReflectivePEInjection|::Load\(\s*\[Convert\]::FromBase64String",
        PSEVT,
        [
            "Reflection.Assembly",
            "Assembly]::Load",
            "ReflectivePEInjection"
        ]
    ),
    rule!(
        "shellcode",
        "Allocates executable memory and runs code in it",
        "T1055",
        "Process Injection",
        "Defense Evasion",
        r"(?i)\bVirtualAlloc(?:Ex)?\b[^\r\n]{0,400}\b(?:CreateThread|CreateRemoteThread)\b|\bCreateRemoteThread\b|\bWriteProcessMemory\b",
        PSEVT,
        ["VirtualAlloc", "CreateThread", "WriteProcessMemory"]
    ),
    rule!(
        "runtime-decode",
        "Decodes or decompresses its own payload at run time",
        "T1140",
        "Deobfuscate/Decode Files or Information",
        "Defense Evasion",
        r"(?i)FromBase64String|\b(?:Gzip|Deflate)Stream\b|certutil(?:\.exe)?\s+[^\r\n]*-decode|\bbase64\s+(?:-d|--decode)\b|\batob\s*\(|-bxor\b|\bxxd\s+-r",
        PROC,
        [
            "FromBase64String",
            "GzipStream",
            "certutil -decode",
            "base64 -d"
        ]
    ),
    rule!(
        "proxy-exec",
        "Runs code through a signed Windows binary (regsvr32, rundll32, mshta)",
        "T1218",
        "System Binary Proxy Execution",
        "Defense Evasion",
        r"(?i)\bregsvr32(?:\.exe)?\s+[^\r\n]*(?:/i:|scrobj)|\brundll32(?:\.exe)?\s+[^\r\n]*(?:javascript:|url\.dll|shell32\.dll,ShellExec_RunDLL)|\bmshta(?:\.exe)?\s+(?:vbscript|javascript|https?):",
        PROC,
        ["regsvr32", "rundll32", "mshta"]
    ),
];

static COMPILED: LazyLock<Vec<Regex>> =
    LazyLock::new(|| RULES.iter().map(|r| re(r.pattern)).collect());

/// The rule with this id, for the hunting queries.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// A quote fit for a report: long unbroken runs (Base64, hex) are cut to their start.
pub fn shorten(quote: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut len = 0;
    for word in quote.split(' ') {
        let w = if word.chars().count() > 64 {
            format!("{}…", word.chars().take(40).collect::<String>())
        } else {
            word.to_string()
        };
        len += w.len() + 1;
        out.push(w);
        if len > 240 {
            out.push("…".into());
            break;
        }
    }
    out.join(" ")
}

/// The matched text with the rest of its statement (line, or up to `;`), trimmed to a
/// readable quote.
fn quote_line(text: &str, start: usize, end: usize) -> String {
    let ls = text[..start].rfind(['\n', ';']).map_or(0, |p| p + 1);
    let le = text[end..]
        .find(['\n', ';'])
        .map_or(text.len(), |p| end + p);
    let line = text[ls..le].trim_end_matches('\r');
    if line.len() <= 200 {
        return line.trim().to_string();
    }
    let mut from = start.saturating_sub(60).max(ls);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (end + 100).min(le).max(end);
    while !text.is_char_boundary(to) {
        to += 1;
    }
    let mut q = String::new();
    if from > ls {
        q.push('…');
    }
    q.push_str(text[from..to].trim());
    if to < le {
        q.push('…');
    }
    q
}

/// Behaviours found in the stages of a script; each rule reports once, from the stage
/// where it first appears. `stages[0]` is the input.
pub fn find(stages: &[String]) -> Vec<Behaviour> {
    let mut out: Vec<Behaviour> = Vec::new();
    for (layer, text) in stages.iter().enumerate() {
        for (rule, re) in RULES.iter().zip(COMPILED.iter()) {
            if out.iter().any(|b| b.id == rule.id) {
                continue;
            }
            if let Some(m) = re.find(text) {
                out.push(Behaviour {
                    id: rule.id.to_string(),
                    description: rule.description.to_string(),
                    technique_id: rule.technique_id.to_string(),
                    technique_name: rule.technique_name.to_string(),
                    tactic: rule.tactic.to_string(),
                    fragment: shorten(&quote_line(text, m.start(), m.end())),
                    layer,
                });
            }
        }
    }
    out
}

/// Where the behaviour first shows in the final text (for ordering the explanation).
pub fn position(id: &str, text: &str) -> Option<usize> {
    let n = RULES.iter().position(|r| r.id == id)?;
    COMPILED.get(n)?.find(text).map(|m| m.start())
}
