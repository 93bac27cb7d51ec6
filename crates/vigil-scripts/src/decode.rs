//! The decoding loop: applies the first pass that changes the text, records it as a
//! layer, and starts over, until no pass changes anything or a limit is reached.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::budget::Budget;
use crate::codec;
use crate::lang;
use crate::model::{Language, Layer, LayerKind};
use crate::{bash, cmd, generic, jsvbs, ps};

/// What one pass produced.
pub struct Step {
    pub kind: LayerKind,
    pub also: Vec<LayerKind>,
    pub description: String,
    pub text: String,
}

impl Step {
    pub fn new(kind: LayerKind, description: String, text: String) -> Self {
        Step {
            kind,
            also: Vec::new(),
            description,
            text,
        }
    }
}

type Pass = fn(&str, &mut Budget) -> Option<Step>;

/// Layers in the order they were peeled, and the text of each stage (input first).
pub struct Decoded {
    pub layers: Vec<Layer>,
    pub stages: Vec<String>,
}

const EXCERPT: usize = 4096;

fn powershell_fold(text: &str, budget: &mut Budget) -> Option<Step> {
    let r = ps::rewrite::rewrite(text, budget)?;
    let mut kinds: Vec<LayerKind> = r.ops.into_iter().collect();
    // The most telling transformation leads: decompression before Base64 before joins.
    kinds.sort();
    let kind = kinds.first().copied().unwrap_or(LayerKind::Concatenation);
    let also = kinds.iter().skip(1).copied().collect::<Vec<_>>();
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    Some(Step {
        kind,
        also,
        description: format!(
            "evaluated {} PowerShell expression(s): {}",
            r.edits,
            names.join(", ")
        ),
        text: r.text,
    })
}

fn powershell_tidy(text: &str, budget: &mut Budget) -> Option<Step> {
    let out = ps::rewrite::tidy(text, budget)?;
    Some(Step::new(
        LayerKind::Backtick,
        "removed backtick escapes and normalised the casing of PowerShell names".into(),
        out,
    ))
}

fn has_any(text: &str, needles: &[&str]) -> bool {
    let lower = text.to_ascii_lowercase();
    needles.iter().any(|n| lower.contains(n))
}

/// The passes to try on `text`, most specific first.
fn passes(text: &str, lang: Language) -> Vec<Pass> {
    // The language's own passes go first: cmd hides the words the generic passes look
    // for (`p^ower^shell`, `%a%%b%`), and JavaScript or VBScript string escapes must be
    // undone before a command line inside a string can be read.
    let mut list: Vec<Pass> = Vec::new();
    let ps_marks = has_any(
        text,
        &[
            "iex",
            "invoke-expression",
            "-join",
            "[char",
            "::",
            "-replace",
            "-f ",
            "-bxor",
            "`",
            "$env:",
            "new-object",
            "-split",
            "'+'",
            "' + '",
            "$null",
            "[ref]",
        ],
    );
    let cmd_marks = has_any(text, &["%", "^", "set "]);
    let js_marks = has_any(
        text,
        &["fromcharcode", "eval", "unescape", "atob(", "decodeuri"],
    );
    let vbs_marks = has_any(text, &["chr(", "chrw(", "execute", "strreverse("]);
    let sh_marks = has_any(text, &["base64", "xxd", "eval", "\\x", "rev"]);
    let family = |l: Language| -> Vec<Pass> {
        match l {
            Language::PowerShell => vec![powershell_tidy, powershell_fold],
            Language::Cmd => vec![cmd::carets, cmd::variables],
            Language::JavaScript => vec![jsvbs::javascript],
            Language::VBScript => vec![jsvbs::vbscript],
            Language::Bash => vec![bash::decode],
            Language::Unknown => Vec::new(),
        }
    };
    list.extend(family(lang));
    list.extend([generic::encoded_command as Pass, generic::command_wrapper]);
    for (l, marked) in [
        (Language::PowerShell, ps_marks),
        (Language::Cmd, cmd_marks && lang != Language::PowerShell),
        (Language::JavaScript, js_marks),
        (Language::VBScript, vbs_marks),
        (Language::Bash, sh_marks),
    ] {
        if l != lang && marked {
            list.extend(family(l));
        }
    }
    if lang != Language::Cmd && has_any(text, &["set "]) && text.contains(['%', '!']) {
        list.push(cmd::variables);
    }
    list.push(generic::base64_blobs);
    list.push(generic::hex_blobs);
    list
}

/// Peels every layer it can from `input`.
pub fn decode(input: &str, budget: &mut Budget) -> Decoded {
    let mut layers = Vec::new();
    let mut stages = vec![input.to_string()];
    let mut seen: HashSet<u64> = HashSet::new();
    seen.insert(digest(input));
    let mut kept = input.len();
    let mut text = input.to_string();
    'outer: loop {
        if layers.len() >= budget.limits.max_layers {
            budget.warn(format!(
                "stopped after {} decoding layers; the text may hide more",
                budget.limits.max_layers
            ));
            break;
        }
        if budget.exhausted() {
            break;
        }
        let lang = lang::detect(&text);
        for pass in passes(&text, lang) {
            let Some(mut step) = pass(&text, budget) else {
                if budget.exhausted() {
                    break 'outer;
                }
                continue;
            };
            if step.text == text {
                continue;
            }
            if codec::truncate_to(&mut step.text, budget.limits.max_decoded) {
                budget.warn(format!(
                    "decoded text grew past {} bytes: cut there",
                    budget.limits.max_decoded
                ));
            }
            if !seen.insert(digest(&step.text)) {
                // A pass that undoes another would loop forever; the first fixed point wins.
                continue;
            }
            step.also.retain(|k| *k != step.kind);
            step.also.sort();
            step.also.dedup();
            layers.push(Layer {
                kind: step.kind,
                also: step.also,
                description: step.description,
                text: codec::excerpt(&step.text, EXCERPT),
                length: step.text.len(),
            });
            // Every stage is scanned for indicators; past a total size only an excerpt
            // of the middle ones is kept, and the final text always in full.
            kept += step.text.len();
            if kept > 4 * budget.limits.max_decoded
                && stages.len() > 1
                && let Some(last) = stages.last_mut()
            {
                *last = codec::excerpt(last, 64 << 10);
            }
            stages.push(step.text.clone());
            text = step.text;
            continue 'outer;
        }
        break;
    }
    Decoded { layers, stages }
}

fn digest(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}
