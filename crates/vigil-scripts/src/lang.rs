//! Guesses the language of a script from the marks each language leaves.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::Language;
use crate::re;

struct Marks {
    lang: Language,
    patterns: Vec<(Regex, u32)>,
}

static MARKS: LazyLock<Vec<Marks>> = LazyLock::new(|| {
    let m = |lang, list: &[(&str, u32)]| Marks {
        lang,
        patterns: list.iter().map(|(p, w)| (re(p), *w)).collect(),
    };
    vec![
        m(
            Language::PowerShell,
            &[
                (r"(?i)\b(?:powershell|pwsh)(?:\.exe)?\b", 3),
                (
                    r"(?i)\b(?:invoke-expression|iex|new-object|invoke-webrequest|set-mppreference|start-process|invoke-command|get-wmiobject|write-host)\b",
                    4,
                ),
                (
                    r"(?i)\$(?:env:|psversiontable|executioncontext|shellid|pshome)",
                    4,
                ),
                (
                    r"(?i)\[(?:system\.)?(?:convert|text\.encoding|char|string|scriptblock|io\.[a-z.]+|reflection\.assembly|net\.[a-z.]+)(?:\[\])?\]",
                    5,
                ),
                (r"(?i)\s-(?:join|replace|split|bxor|f)\s", 3),
                (r"\$[A-Za-z_][A-Za-z0-9_]*\s*=", 1),
                (r"(?i)\$(?:null|true|false)\b", 2),
                (r"(?i)\[ref\]|\.GetType\(|\.GetField\(", 3),
                (r"(?i)\b[a-z]+-[a-z]+\s+-[a-z]+", 2),
            ],
        ),
        m(
            Language::Cmd,
            &[
                (r"(?im)^\s*@?echo\s+off\b", 6),
                (
                    r"(?im)(?:^|&)\s*set\s+(?:/a\s+|/p\s+)?\x22?[A-Za-z_][\w]*=",
                    4,
                ),
                (r"%[A-Za-z_][\w]*(?::~-?\d+(?:,-?\d+)?)?%", 3),
                (r"(?i)\bcmd(?:\.exe)?\s+/[ckr]\b", 4),
                (r"(?im)^\s*(?:goto|call|rem)\s", 3),
                (r"[a-zA-Z]\^[a-zA-Z]", 2),
                (
                    r"(?i)\b(?:reg|schtasks|sc|vssadmin|bcdedit|wmic|net)(?:\.exe)?\s+/?(?:add|create|delete|config|user|localgroup|set|shadowcopy)\b",
                    2,
                ),
            ],
        ),
        m(
            Language::JavaScript,
            &[
                (r"\b(?:var|let|const)\s+[A-Za-z_$][\w$]*\s*=", 3),
                (r"\bfunction\s*[\w$]*\s*\(", 3),
                (r"\b(?:eval|unescape|atob|decodeURIComponent)\s*\(", 3),
                (r"String\.fromCharCode", 5),
                (r"%u[0-9a-fA-F]{4}", 4),
                (r"new\s+ActiveXObject\s*\(", 5),
                (r"WScript\.(?:CreateObject|Shell|Echo)\s*\(", 2),
                (r";\s*$", 1),
            ],
        ),
        m(
            Language::VBScript,
            &[
                (r"(?im)^\s*Dim\s+\w", 5),
                (r"(?i)\bCreateObject\s*\(", 3),
                (
                    r"(?im)^\s*(?:Sub|Function|End\s+(?:Sub|Function|If)|Set\s+\w+\s*=)",
                    4,
                ),
                (r"(?i)\bChrW?\s*\(", 3),
                (r#"(?i)"\s*&\s*(?:"|Chr)"#, 3),
                (r"(?i)\b(?:Execute|ExecuteGlobal|StrReverse)\b", 4),
                (r"(?im)^\s*'", 1),
            ],
        ),
        m(
            Language::Bash,
            &[
                (r"^#!\s*/(?:usr/)?bin/(?:env\s+)?(?:ba|z|da)?sh", 8),
                (r"\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b", 4),
                (r"\bbase64\s+(?:-d|--decode|-D)\b", 4),
                (r"\b(?:curl|wget)\s+(?:-[A-Za-z]+\s+)*\S+", 2),
                (r"\bchmod\s+\+?[0-7x]+", 4),
                (r"\$\((?:echo|printf|cat|curl|wget)\b", 3),
                (r"(?:^|\s)/(?:tmp|dev/shm|var/tmp|etc|bin|usr)/", 2),
                (r"\beval\s+[\x22']?\$", 3),
            ],
        ),
    ]
});

/// The language `text` is most likely written in.
pub fn detect(text: &str) -> Language {
    // The first 64 KiB tell enough; scoring more only costs time.
    let mut end = text.len().min(64 << 10);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let sample = &text[..end];
    let mut best = (Language::Unknown, 0u32);
    for marks in MARKS.iter() {
        let score: u32 = marks
            .patterns
            .iter()
            .map(|(re, w)| re.find_iter(sample).take(5).count() as u32 * w)
            .sum();
        if score > best.1 {
            best = (marks.lang, score);
        }
    }
    if best.1 < 3 {
        Language::Unknown
    } else {
        best.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_is_recognised() {
        assert_eq!(
            detect("powershell -nop -enc SQBFAFgA"),
            Language::PowerShell
        );
        assert_eq!(detect("@echo off\r\nset a=1\r\n%a%"), Language::Cmd);
        assert_eq!(
            detect("var x = String.fromCharCode(65); eval(x);"),
            Language::JavaScript
        );
        assert_eq!(
            detect("Dim s\r\ns = Chr(65) & \"b\"\r\nExecute s"),
            Language::VBScript
        );
        assert_eq!(
            detect("#!/bin/bash\necho aGk= | base64 -d | sh"),
            Language::Bash
        );
        assert_eq!(detect("hello there"), Language::Unknown);
    }
}
