//! Incident reports for two audiences, from the facts the lake holds about an incident.
//!
//! The executive report is short and speaks of impact in plain words; the technical one
//! carries the timeline, the entities, the ATT&CK mapping, the queries behind every
//! figure, and containment and recovery steps. Both render to Markdown and to one
//! self-contained HTML page (no network: the timeline chart is drawn by a script inside
//! the page, from data inside the page).

use std::fmt::Write as _;

use serde_json::{Value as Json, json};

use crate::skill::{ResultTable, text_of};
use crate::skills::{IncidentFacts, next_step};

/// Who the report is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Executive,
    Technical,
}

impl Audience {
    /// Reads "executive", "exec", "technical", "tech" (any case).
    pub fn parse(text: &str) -> Option<Audience> {
        match text.trim().to_ascii_lowercase().as_str() {
            "executive" | "executives" | "exec" | "management" | "leadership" => {
                Some(Audience::Executive)
            }
            "technical" | "tech" | "analyst" | "analysts" | "soc" => Some(Audience::Technical),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Audience::Executive => "executive",
            Audience::Technical => "technical",
        }
    }
}

/// What a tactic means for the business, in plain words.
fn impact_words(tactic: &str) -> Option<&'static str> {
    Some(match tactic {
        "InitialAccess" => "an attacker got a foothold",
        "Execution" => "ran their own programs",
        "Persistence" => "set themselves up to come back",
        "PrivilegeEscalation" => "gave themselves administrator rights",
        "DefenseEvasion" => "tried to hide from security tools",
        "CredentialAccess" => "stole passwords or sign-in secrets",
        "Discovery" => "explored the network",
        "LateralMovement" => "spread to other computers",
        "Collection" => "gathered data",
        "CommandAndControl" => "kept in contact with a server they control",
        "Exfiltration" => "sent data out of the organisation",
        "Impact" => "prepared to damage systems or data (such as ransomware)",
        _ => return None,
    })
}

/// Recovery work once an incident is contained, by tactic.
fn recovery_step(tactic: &str) -> Option<&'static str> {
    Some(match tactic {
        "CredentialAccess" => {
            "Rotate every credential that was on the affected devices, including service and administrator accounts, and the Kerberos krbtgt key if a domain controller was reached."
        }
        "Persistence" => {
            "Rebuild devices where persistence was found rather than cleaning them in place."
        }
        "Impact" => {
            "Restore from backups taken before the first activity and check them for tampering before use."
        }
        "LateralMovement" => {
            "Review administrative access paths between workstations and servers; restrict remote execution to privileged access workstations."
        }
        "InitialAccess" => {
            "Close the way in: block the sender or link, patch or remove the exposed service."
        }
        "Exfiltration" => "Assess what data left and whether notification duties apply.",
        _ => return None,
    })
}

fn severity_rank(s: &str) -> u8 {
    match s.to_ascii_lowercase().as_str() {
        "informational" => 0,
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        _ => 4,
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    crate::skills::and_list(items)
}

fn cell(t: &ResultTable, row: &[Json], name: &str) -> String {
    t.column(name)
        .and_then(|i| row.get(i))
        .and_then(text_of)
        .unwrap_or_default()
}

/// One alert on the timeline.
struct Mark {
    time: String,
    title: String,
    severity: String,
    tactics: Vec<String>,
    source: String,
}

fn marks(f: &IncidentFacts) -> Vec<Mark> {
    let Some(a) = &f.alerts else {
        return Vec::new();
    };
    a.table
        .rows
        .iter()
        .map(|r| Mark {
            time: cell(&a.table, r, "Timestamp"),
            title: cell(&a.table, r, "Title"),
            severity: cell(&a.table, r, "Severity"),
            tactics: IncidentFacts::alert_tactics(&a.table, r),
            source: format!(
                "{}#{}",
                cell(&a.table, r, "_SourceFile"),
                cell(&a.table, r, "_SourceRecord")
            ),
        })
        .collect()
}

/// Distinct values of a column of the evidence, for the entity lists.
fn evidence_values(f: &IncidentFacts, column: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(e) = &f.evidence {
        for v in e.table.texts(column) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// The plain-words story of the tactics, in kill-chain order.
fn story(f: &IncidentFacts) -> String {
    let parts: Vec<String> = f
        .tactics
        .iter()
        .filter_map(|t| impact_words(t))
        .map(str::to_string)
        .collect();
    if parts.is_empty() {
        "suspicious activity was detected".into()
    } else {
        and_list(&parts)
    }
}

fn people(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The report as Markdown.
pub fn markdown(f: &IncidentFacts, audience: Audience) -> String {
    match audience {
        Audience::Executive => executive_markdown(f),
        Audience::Technical => technical_markdown(f),
    }
}

fn executive_markdown(f: &IncidentFacts) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Incident {}: executive summary\n", f.number);
    let _ = writeln!(
        out,
        "**Bottom line:** a {} severity incident, status {}. Between {} and {}, {}.\n",
        f.severity.to_lowercase(),
        f.status.to_lowercase(),
        f.first,
        f.last,
        story(f)
    );
    let _ = writeln!(out, "## What is affected\n");
    let _ = writeln!(
        out,
        "- {}: {}",
        people(f.devices.len(), "computer", "computers"),
        if f.devices.is_empty() {
            "none named".into()
        } else {
            and_list(&f.devices)
        }
    );
    let _ = writeln!(
        out,
        "- {}: {}",
        people(f.users.len(), "user account", "user accounts"),
        if f.users.is_empty() {
            "none named".into()
        } else {
            and_list(&f.users)
        }
    );
    let (inside, outside): (Vec<String>, Vec<String>) =
        f.ips.iter().cloned().partition(|ip| internal(ip));
    if !outside.is_empty() {
        let _ = writeln!(
            out,
            "- {} outside the organisation: {}",
            people(outside.len(), "network address", "network addresses"),
            and_list(&outside)
        );
    }
    if !inside.is_empty() {
        let _ = writeln!(
            out,
            "- {} inside the organisation: {}",
            people(inside.len(), "network address", "network addresses"),
            and_list(&inside)
        );
    }
    let _ = writeln!(out, "\n## What to do now\n");
    for step in actions(f).iter().take(4) {
        let _ = writeln!(out, "- {step}");
    }
    let _ = writeln!(
        out,
        "\n_Based on {} detected by Vigil; the technical report has the evidence._",
        people(f.alert_ids.len(), "alert", "alerts")
    );
    out
}

/// A private, loopback or link-local address: one of the organisation's own.
fn internal(ip: &str) -> bool {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => a.is_private() || a.is_loopback() || a.is_link_local(),
        Ok(std::net::IpAddr::V6(a)) => {
            let first = a.segments()[0];
            a.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

/// Containment steps for the incident's tactics, most urgent (latest in the chain) first.
fn actions(f: &IncidentFacts) -> Vec<String> {
    let mut out: Vec<String> = f
        .tactics
        .iter()
        .rev()
        .filter_map(|t| next_step(t))
        .map(str::to_string)
        .collect();
    out.dedup();
    if out.is_empty() {
        out.push("Review the alerts and decide whether the activity was expected.".into());
    }
    out
}

fn technical_markdown(f: &IncidentFacts) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Incident {}: {}\n", f.number, f.title);
    let _ = writeln!(out, "| | |\n|---|---|");
    for (k, v) in [
        ("Severity", f.severity.clone()),
        ("Status", f.status.clone()),
        (
            "Classification",
            if f.classification.is_empty() {
                "not set".into()
            } else {
                f.classification.clone()
            },
        ),
        ("First activity", f.first.clone()),
        ("Last activity", f.last.clone()),
        ("Alerts", f.alert_ids.len().to_string()),
    ] {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    let _ = writeln!(out, "\n## Summary\n\nIn kill-chain order, {}.\n", story(f));

    let _ = writeln!(out, "## ATT&CK mapping\n");
    let _ = writeln!(out, "| Tactic | Alerts |\n|---|---|");
    let ms = marks(f);
    for t in &f.tactics {
        let mut titles: Vec<String> = Vec::new();
        for m in ms.iter().filter(|m| m.tactics.contains(t)) {
            if !titles.contains(&m.title) {
                titles.push(m.title.clone());
            }
        }
        let _ = writeln!(
            out,
            "| {} | {} |",
            vigil_detect::incident::tactic_words(t),
            titles.join("; ")
        );
    }
    if !f.techniques.is_empty() {
        let _ = writeln!(out, "\nTechniques: {}", f.techniques.join(", "));
    }

    let _ = writeln!(out, "\n## Entities\n");
    for (label, values) in [
        ("Devices", f.devices.clone()),
        ("Users", f.users.clone()),
        ("Remote IPs", f.ips.clone()),
        ("Files", evidence_values(f, "FileName")),
        ("SHA256", evidence_values(f, "SHA256")),
    ] {
        if !values.is_empty() {
            let _ = writeln!(out, "- {label}: {}", values.join(", "));
        }
    }

    let _ = writeln!(out, "\n## Timeline\n");
    let _ = writeln!(
        out,
        "| Time | Alert | Severity | Tactics | Source record |\n|---|---|---|---|---|"
    );
    for m in &ms {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | `{}` |",
            m.time,
            m.title.replace('|', "\\|"),
            m.severity,
            m.tactics.join(", "),
            m.source
        );
    }

    let _ = writeln!(out, "\n## Containment\n");
    for step in actions(f) {
        let _ = writeln!(out, "- {step}");
    }
    let recovery: Vec<&str> = f.tactics.iter().filter_map(|t| recovery_step(t)).collect();
    if !recovery.is_empty() {
        let _ = writeln!(out, "\n## Recovery\n");
        for step in recovery {
            let _ = writeln!(out, "- {step}");
        }
    }

    let _ = writeln!(out, "\n## Evidence queries\n");
    let mut queries = vec![&f.incident.evidence];
    queries.extend(f.alerts.iter().map(|a| &a.evidence));
    queries.extend(f.evidence.iter().map(|e| &e.evidence));
    for e in queries {
        let _ = writeln!(out, "{} rows:\n\n```kql\n{}\n```\n", e.rows, e.query);
    }
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown as this module writes it, turned into HTML: headings, tables, lists, code
/// blocks, bold and inline code. Not a general Markdown renderer.
fn markdown_to_html(md: &str) -> String {
    let mut out = String::new();
    let mut lines = md.lines().peekable();
    let inline = |s: &str| -> String {
        let mut html = String::new();
        let mut bold = false;
        let mut code = false;
        let mut it = s.chars().peekable();
        while let Some(c) = it.next() {
            match c {
                '`' => {
                    html.push_str(if code { "</code>" } else { "<code>" });
                    code = !code;
                }
                '*' if !code && it.peek() == Some(&'*') => {
                    it.next();
                    html.push_str(if bold { "</strong>" } else { "<strong>" });
                    bold = !bold;
                }
                c => html.push_str(&escape(&c.to_string())),
            }
        }
        if code {
            html.push_str("</code>");
        }
        if bold {
            html.push_str("</strong>");
        }
        html
    };
    while let Some(line) = lines.next() {
        if let Some(h) = line.strip_prefix("# ") {
            let _ = writeln!(out, "<h1>{}</h1>", inline(h));
        } else if let Some(h) = line.strip_prefix("## ") {
            let _ = writeln!(out, "<h2>{}</h2>", inline(h));
        } else if line.starts_with("```") {
            out.push_str("<pre><code>");
            for l in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                out.push_str(&escape(l));
                out.push('\n');
            }
            out.push_str("</code></pre>\n");
        } else if line.starts_with('|') {
            out.push_str("<table>\n");
            let mut first = true;
            let mut rows = vec![line];
            while let Some(l) = lines.peek().filter(|l| l.starts_with('|')) {
                rows.push(l);
                lines.next();
            }
            for row in rows {
                if row.starts_with("|---") {
                    continue;
                }
                let cells: Vec<String> = row
                    .trim()
                    .trim_matches('|')
                    .split(" | ")
                    .map(|c| {
                        inline(
                            c.trim()
                                .trim_start_matches('|')
                                .trim()
                                .replace("\\|", "|")
                                .as_str(),
                        )
                    })
                    .collect();
                let tag = if first { "th" } else { "td" };
                first = false;
                if cells.iter().all(String::is_empty) {
                    continue;
                }
                out.push_str("<tr>");
                for c in cells {
                    let _ = write!(out, "<{tag}>{c}</{tag}>");
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table>\n");
        } else if line.starts_with("- ") {
            out.push_str("<ul>\n");
            let mut items = vec![line];
            while let Some(l) = lines.peek().filter(|l| l.starts_with("- ")) {
                items.push(l);
                lines.next();
            }
            for item in items {
                let _ = writeln!(out, "<li>{}</li>", inline(&item[2..]));
            }
            out.push_str("</ul>\n");
        } else if line.trim().is_empty() {
            continue;
        } else {
            let text = line.trim().trim_matches('_');
            let _ = writeln!(out, "<p>{}</p>", inline(text));
        }
    }
    out
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1c2430}\
h1{font-size:1.6em;border-bottom:2px solid #c0392b;padding-bottom:.3em}h2{font-size:1.2em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #d5dbe3;padding:4px 8px;text-align:left;vertical-align:top;font-size:.92em}\
th{background:#eef2f7}pre{background:#f5f7fa;padding:.7em;overflow-x:auto;font-size:.85em}code{font-size:.92em}\
#chart{border:1px solid #d5dbe3;margin:1em 0}#chart text{font-size:11px;fill:#445}\
.legend span{display:inline-block;margin-right:1em;font-size:.85em}.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}\
@media print{#chart{break-inside:avoid}}";

/// Draws the timeline: one lane per tactic in kill-chain order, one dot per alert at its
/// time, coloured by severity. It marks the page with what it drew so that a test (or a
/// reader) can tell that the chart rendered.
const CHART_SCRIPT: &str = r#"
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    errors.push(String(e.message));
    document.body.setAttribute('data-errors', errors.join(' | '));
  });
  var data = JSON.parse(document.getElementById('timeline-data').textContent);
  var svg = document.getElementById('chart');
  var ns = 'http://www.w3.org/2000/svg';
  var lanes = data.lanes.length ? data.lanes : ['Alerts'];
  var left = 170, right = 20, top = 20, lane = 28;
  var width = svg.clientWidth || 940;
  var height = top + lane * lanes.length + 40;
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  svg.setAttribute('height', height);
  function el(name, attrs, text) {
    var e = document.createElementNS(ns, name);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    svg.appendChild(e);
    return e;
  }
  var times = data.alerts.map(function (a) { return Date.parse(a.time); })
    .filter(function (t) { return !isNaN(t); });
  var t0 = Math.min.apply(null, times), t1 = Math.max.apply(null, times);
  if (!isFinite(t0)) { t0 = 0; t1 = 1; }
  if (t1 === t0) { t0 -= 60000; t1 += 60000; }
  function x(t) { return left + (width - left - right) * (t - t0) / (t1 - t0); }
  lanes.forEach(function (name, i) {
    var y = top + lane * i + lane / 2;
    el('line', {x1: left, x2: width - right, y1: y, y2: y, stroke: '#e3e8ef'});
    el('text', {x: 8, y: y + 4}, name);
  });
  var axis = top + lane * lanes.length + 12;
  for (var k = 0; k <= 4; k++) {
    var t = t0 + (t1 - t0) * k / 4;
    var label = new Date(t).toISOString().replace('T', ' ').slice(5, 16);
    el('text', {x: x(t), y: axis + 12, 'text-anchor': k === 0 ? 'start' : (k === 4 ? 'end' : 'middle')}, label);
  }
  var drawn = 0;
  data.alerts.forEach(function (a) {
    var t = Date.parse(a.time);
    if (isNaN(t)) { return; }
    var tactics = a.tactics.length ? a.tactics : [lanes[0]];
    tactics.forEach(function (tactic) {
      var i = lanes.indexOf(tactic);
      if (i < 0) { i = 0; }
      var dot = el('circle', {cx: x(t), cy: top + lane * i + lane / 2, r: 6,
        fill: data.colours[a.severity] || '#7f8c8d', 'class': 'alert'});
      var tip = document.createElementNS(ns, 'title');
      tip.textContent = a.time + ' ' + a.title + ' (' + a.severity + ')';
      dot.appendChild(tip);
      drawn++;
    });
  });
  svg.setAttribute('data-drawn', String(drawn));
  document.body.setAttribute('data-chart', 'drawn');
})();
"#;

fn colours() -> Json {
    json!({"High": "#c0392b", "Medium": "#e67e22", "Low": "#f1c40f", "Informational": "#7f8c8d"})
}

/// The report as one self-contained HTML page with the timeline chart.
pub fn html(f: &IncidentFacts, audience: Audience) -> String {
    let body = markdown_to_html(&markdown(f, audience));
    let ms = marks(f);
    let data = json!({
        "lanes": f.tactics.iter().map(|t| vigil_detect::incident::tactic_words(t)).collect::<Vec<_>>(),
        "alerts": ms.iter().map(|m| json!({
            "time": m.time,
            "title": m.title,
            "severity": m.severity,
            "tactics": m.tactics.iter().map(|t| vigil_detect::incident::tactic_words(t)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "colours": colours(),
    });
    // `</` inside the JSON would close the script element early.
    let data = data.to_string().replace("</", "<\\/");
    let mut severities: Vec<&str> = ms.iter().map(|m| m.severity.as_str()).collect();
    severities.sort_by_key(|s| std::cmp::Reverse(severity_rank(s)));
    severities.dedup();
    let legend: String = severities
        .iter()
        .map(|s| {
            let colour = colours()[*s].as_str().unwrap_or("#7f8c8d").to_string();
            format!(
                "<span><i style=\"background:{colour}\"></i>{}</span>",
                escape(s)
            )
        })
        .collect();
    let chart = format!(
        "<h2>Timeline of alerts</h2>\n<div class=\"legend\">{legend}</div>\n\
         <svg id=\"chart\" width=\"100%\" role=\"img\" aria-label=\"Alerts over time by tactic\"></svg>\n"
    );
    // The chart goes after the opening summary.
    let at = body.find("<h2>").unwrap_or(body.len());
    let (head, rest) = body.split_at(at);
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Incident {} report ({})</title>\n<style>{STYLE}</style></head>\n<body>\n{head}{chart}{rest}\
         <script type=\"application/json\" id=\"timeline-data\">{data}</script>\n\
         <script>{CHART_SCRIPT}</script>\n</body></html>\n",
        f.number,
        audience.name()
    )
}
