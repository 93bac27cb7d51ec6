//! Turns layers, behaviours and indicators into the explanation an analyst reads: the
//! steps in execution order and the verdict with its reasons.

use crate::behaviours;
use crate::model::{
    Behaviour, Indicator, IndicatorKind, Language, Layer, LayerKind, RiskLevel, Verdict,
};

fn layer_sentence(layer: &Layer) -> String {
    let what = match layer.kind {
        LayerKind::EncodedCommand => {
            "PowerShell is started with -EncodedCommand: its argument is Base64 of UTF-16LE text, \
             decoded here"
        }
        LayerKind::CommandWrapper => {
            "the command is passed to a new shell (powershell -Command or cmd /c); the inner command is taken out"
        }
        LayerKind::Gzip => "a gzip-compressed payload is decompressed",
        LayerKind::Deflate => "a deflate-compressed payload is decompressed",
        LayerKind::Base64 => "a Base64 payload is decoded",
        LayerKind::Hex => "hexadecimal text is decoded",
        LayerKind::Xor => "bytes are XOR-ed with a constant key",
        LayerKind::CharCodes => "text is rebuilt from character codes",
        LayerKind::Reverse => "a reversed string is turned back",
        LayerKind::FormatOperator => "text is reassembled with the -f format operator",
        LayerKind::Replace => "junk characters are removed with replace operations",
        LayerKind::Join => "pieces are joined into one string",
        LayerKind::Concatenation => "string fragments are concatenated",
        LayerKind::Substring => "characters are picked out of other strings",
        LayerKind::InvokeExpression => {
            "the rebuilt string is run as code (Invoke-Expression or equivalent)"
        }
        LayerKind::Backtick => "backtick escapes and random capitalisation are removed",
        LayerKind::Caret => "cmd caret escapes are removed",
        LayerKind::CmdVariables => "cmd variables set earlier are expanded",
        LayerKind::Eval => "a string is run with eval/Execute",
        LayerKind::Unescape => "URL-style escapes (%XX, %uXXXX) are decoded",
        LayerKind::ShellDecode => "a shell pipeline decodes a payload and feeds it to a shell",
    };
    let mut s = what.to_string();
    if !layer.also.is_empty() {
        let also: Vec<&str> = layer.also.iter().map(|k| k.name()).collect();
        s.push_str(&format!(" (together with: {})", also.join(", ")));
    }
    s
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Network indicators a behaviour sentence can name (defanged).
fn destinations(indicators: &[Indicator]) -> Vec<&str> {
    indicators
        .iter()
        .filter(|i| i.benign.is_none() && matches!(i.kind, IndicatorKind::Url))
        .map(|i| i.defanged.as_str())
        .take(3)
        .collect()
}

/// The plain-language account of the script in the order it runs: what each stage does
/// (in the order its text says it), then how the next stage comes out of it.
/// `stages[0]` is the input, `stages[k]` the text after layer `k`.
pub fn steps(
    language: Language,
    layers: &[Layer],
    behaviours: &[Behaviour],
    indicators: &[Indicator],
    stages: &[String],
) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!("The input reads as {}.", language.name()));
    let urls = destinations(indicators);
    for stage in 0..=layers.len() {
        let text = stages.get(stage).map_or("", String::as_str);
        let mut here: Vec<(usize, &Behaviour)> = behaviours
            .iter()
            .filter(|b| b.layer == stage && b.id != "obfuscation")
            .map(|b| (behaviours::position(&b.id, text).unwrap_or(usize::MAX), b))
            .collect();
        here.sort_by_key(|(pos, _)| *pos);
        for (_, b) in here {
            let mut s = format!(
                "{} ({} {}): `{}`",
                b.description, b.technique_id, b.technique_name, b.fragment
            );
            if b.id == "download" && !urls.is_empty() {
                s.push_str(&format!(" from {}", urls.join(", ")));
            }
            out.push(s);
        }
        if let Some(layer) = layers.get(stage) {
            out.push(format!(
                "Layer {}: {}.",
                stage + 1,
                capitalise(&layer_sentence(layer))
            ));
        }
    }
    if behaviours.is_empty() {
        out.push("No known malicious behaviour was recognised in the decoded text.".into());
    }
    out
}

fn has(behaviours: &[Behaviour], id: &str) -> bool {
    behaviours.iter().any(|b| b.id == id)
}

/// Risk level and the reasons for it.
pub fn verdict(layers: &[Layer], behaviours: &[Behaviour], indicators: &[Indicator]) -> Verdict {
    let mut reasons = Vec::new();
    let mut risk = RiskLevel::Informational;
    let mut raise = |level: RiskLevel, reason: String, reasons: &mut Vec<String>| {
        if level > risk {
            risk = level;
        }
        reasons.push(reason);
    };
    let obfuscation = layers.iter().filter(|l| l.is_obfuscation()).count();
    let download = has(behaviours, "download");
    let executes = [
        "powershell-exec",
        "powershell-start",
        "unix-shell",
        "vbscript",
        "jscript",
        "wmi-exec",
    ]
    .iter()
    .any(|id| has(behaviours, id))
        || layers
            .iter()
            .any(|l| l.applied(LayerKind::InvokeExpression) || l.applied(LayerKind::Eval));
    let evasion = [
        "amsi-bypass",
        "defender-off",
        "firewall-off",
        "log-clear",
        "logging-off",
    ]
    .iter()
    .any(|id| has(behaviours, id));
    if has(behaviours, "lsass-dump") || has(behaviours, "sam-dump") {
        raise(
            RiskLevel::Critical,
            "steals credentials (LSASS memory, Mimikatz or registry hives)".into(),
            &mut reasons,
        );
    }
    if has(behaviours, "shadow-delete") {
        raise(
            RiskLevel::Critical,
            "deletes shadow copies or disables recovery, as ransomware does before encrypting"
                .into(),
            &mut reasons,
        );
    }
    if download && executes {
        let level = if obfuscation >= 2 || evasion {
            RiskLevel::Critical
        } else {
            RiskLevel::High
        };
        raise(
            level,
            "downloads code and runs it (a download cradle)".into(),
            &mut reasons,
        );
    } else if download {
        raise(
            RiskLevel::Medium,
            "downloads a file from the network".into(),
            &mut reasons,
        );
    }
    if evasion {
        raise(
            RiskLevel::High,
            "turns off security tooling (AMSI, Defender, firewall or logs)".into(),
            &mut reasons,
        );
    }
    for (id, why) in [
        ("reflective-load", "loads code straight into memory"),
        (
            "shellcode",
            "allocates executable memory and starts a thread in it",
        ),
        ("psexec", "moves to other computers"),
        ("winrm", "moves to other computers"),
        ("wmi-exec", "starts processes through WMI"),
    ] {
        if has(behaviours, id) && !reasons.iter().any(|r| r == why) {
            raise(RiskLevel::High, why.into(), &mut reasons);
        }
    }
    for (id, why) in [
        ("run-key", "persists through a Run key"),
        ("startup-folder", "persists through the Startup folder"),
        ("scheduled-task", "persists through a scheduled task"),
        ("service", "creates or changes a service"),
        ("wmi-persistence", "persists through a WMI subscription"),
    ] {
        if has(behaviours, id) {
            let level = if obfuscation > 0 {
                RiskLevel::High
            } else {
                RiskLevel::Medium
            };
            raise(level, why.into(), &mut reasons);
        }
    }
    if obfuscation > 0 {
        let level = if executes {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        };
        raise(
            level,
            format!("hides its code under {obfuscation} layer(s) of encoding or obfuscation"),
            &mut reasons,
        );
    }
    let discovery = behaviours
        .iter()
        .filter(|b| b.tactic == "Discovery")
        .count();
    if discovery > 0 {
        let level = if discovery >= 3 {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        };
        raise(
            level,
            format!("gathers information about the system or domain ({discovery} kind(s))"),
            &mut reasons,
        );
    }
    let live = indicators
        .iter()
        .filter(|i| {
            i.benign.is_none()
                && matches!(
                    i.kind,
                    IndicatorKind::Url
                        | IndicatorKind::Domain
                        | IndicatorKind::Ipv4
                        | IndicatorKind::Ipv6
                )
        })
        .count();
    if live > 0 {
        raise(
            RiskLevel::Low,
            format!("names {live} network indicator(s) that are not known noise"),
            &mut reasons,
        );
    }
    if executes && reasons.is_empty() {
        raise(
            RiskLevel::Low,
            "runs a script interpreter".into(),
            &mut reasons,
        );
    }
    if reasons.is_empty() {
        reasons.push("nothing suspicious was recognised".into());
    }
    Verdict { risk, reasons }
}
