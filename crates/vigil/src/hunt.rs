//! `vigil hunt`: Sigma rules over the lake (or over files as they are ingested), alerts
//! into AlertInfo and AlertEvidence, alerts grouped into incidents.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use serde_json::{Value as Json, json};
use vigil_detect::alert::{Alert, Level, RuleInfo, alert_rows};
use vigil_detect::incident::{
    AlertFacts, DEFAULT_WINDOW_NS, Verdict, correlate, incident_batch, incident_row,
};
use vigil_detect::state::DetectionState;
use vigil_detect::{Detector, Mapping};
use vigil_schema::{Catalog, Table};
use vigil_store::Store;

use crate::cli::{HuntArgs, IngestArgs, SummaryFormat};
use crate::lake;

/// The rule folders to use: those given, else `$VIGIL_RULES`, else `<data-dir>/rules`.
pub fn rule_paths(given: &[PathBuf], data_dir: &Path) -> Result<Vec<PathBuf>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    if let Some(list) = std::env::var_os("VIGIL_RULES").filter(|v| !v.is_empty()) {
        return Ok(std::env::split_paths(&list).collect());
    }
    let own = data_dir.join("rules");
    if own.is_dir() {
        return Ok(vec![own]);
    }
    anyhow::bail!(
        "no rules: pass --rules PATH, set VIGIL_RULES, or put rules in {}",
        own.display()
    )
}

/// The shipped field mapping, then `<data-dir>/mapping/*.yaml` in name order, then the
/// files given; mistakes in them are printed as warnings.
pub fn mapping(files: &[PathBuf], data_dir: &Path) -> Result<Mapping> {
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(data_dir.join("mapping")) {
        let mut own: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        own.sort();
        paths.extend(own);
    }
    paths.extend(files.iter().cloned());
    let mut texts = vec![vigil_detect::mapping::WINDOWS.to_string()];
    for p in &paths {
        texts.push(
            std::fs::read_to_string(p)
                .with_context(|| format!("reading the field mapping {}", p.display()))?,
        );
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (mapping, errors) = Mapping::load(&refs, Catalog::builtin());
    for e in &errors {
        eprintln!("warning: the field mapping: {e}");
    }
    Ok(mapping)
}

/// Loads the rules under `paths` and compiles them; problems are printed.
pub fn detector(
    paths: &[PathBuf],
    mapping: &Mapping,
    min_level: Level,
    quiet: bool,
) -> Result<(Detector, usize)> {
    let mut rules = Vec::new();
    let mut refused = 0;
    for path in paths {
        if !path.exists() {
            anyhow::bail!("{}: no such rule file or folder", path.display());
        }
        let loaded = vigil_detect::load_path(path);
        for e in &loaded.errors {
            if !quiet {
                eprintln!("rule not loaded: {e}");
            }
        }
        refused += loaded.errors.len();
        rules.extend(loaded.rules);
    }
    Ok((
        Detector::new(&rules, mapping, Catalog::builtin(), min_level),
        refused,
    ))
}

/// Rules loaded, compiled and run on a thread of their own, over batches sent to it
/// while an ingest goes on.
pub struct Hunt {
    thread: std::thread::JoinHandle<Result<Found>>,
}

/// What the hunting thread found.
pub struct Found {
    pub detector: Detector,
    pub refused: usize,
    pub load_time: Duration,
    pub alerts: Vec<Alert>,
    pub scanned: u64,
}

/// Batches queued for the hunt before the ingest waits for it.
const HUNT_QUEUE: usize = 64;

impl Hunt {
    /// Starts loading and compiling the rules; batches sent meanwhile wait in a short
    /// queue.
    pub fn start(
        paths: Vec<PathBuf>,
        mapping: Mapping,
        min_level: Level,
        quiet: bool,
    ) -> (SyncSender<(&'static Table, RecordBatch)>, Hunt) {
        let (send, receive) =
            std::sync::mpsc::sync_channel::<(&'static Table, RecordBatch)>(HUNT_QUEUE);
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let (detector, refused) = detector(&paths, &mapping, min_level, quiet)?;
            let load_time = started.elapsed();
            let mut alerts = Vec::new();
            let mut hits = Vec::new();
            let mut scanned = 0;
            for (table, batch) in receive {
                if detector.matcher(&table.name).is_none() {
                    continue;
                }
                scanned += batch.num_rows() as u64;
                let found = detector.scan(&table.name, &batch);
                alerts.extend(found.alerts);
                hits.extend(found.hits);
            }
            alerts.extend(detector.correlate(&hits));
            Ok(Found {
                detector,
                refused,
                load_time,
                alerts,
                scanned,
            })
        });
        (send, Hunt { thread })
    }

    /// Waits for the hunt to finish the batches sent (the sender must be dropped).
    pub fn finish(self) -> Result<Found> {
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the hunting thread failed"))?
    }
}

/// What a hunt found and did.
pub struct Outcome {
    pub scanned: u64,
    pub raised: Vec<Alert>,
    /// Which of `raised` were stored: neither stored before nor suppressed.
    pub new: Vec<usize>,
    pub suppressed: usize,
    pub incidents_changed: usize,
    pub incidents: usize,
}

impl Outcome {
    pub fn new_alerts(&self) -> impl Iterator<Item = &Alert> {
        self.new.iter().map(|&i| &self.raised[i])
    }
}

/// A progress bar over the rows of the hunted tables (drawn on a terminal only).
fn lake_bar(store: &Store, detector: &Detector, quiet: bool) -> Result<indicatif::ProgressBar> {
    if quiet {
        return Ok(indicatif::ProgressBar::hidden());
    }
    let total: u64 = store
        .table_stats()?
        .iter()
        .filter(|t| detector.matcher(&t.table).is_some())
        .map(|t| t.rows)
        .sum();
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} events {msg} ({eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Ok(bar)
}

/// Rows of every table the detector reads, scanned batch by batch.
async fn scan_lake(
    ctx: &SessionContext,
    detector: &Detector,
    bar: &indicatif::ProgressBar,
) -> Result<(u64, Vec<Alert>)> {
    let mut scanned = 0;
    let mut alerts = Vec::new();
    let mut hits = Vec::new();
    for m in detector.matchers() {
        let df = ctx
            .table(datafusion::common::TableReference::bare(m.table()))
            .await
            .with_context(|| format!("opening {}", m.table()))?;
        // Only what the rules test and what the alerts cite is read.
        let mut wanted = m.columns();
        wanted.extend(
            vigil_detect::alert::evidence_columns()
                .into_iter()
                .map(str::to_string),
        );
        let present: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|name| wanted.contains(name))
            .collect();
        let names: Vec<&str> = present.iter().map(String::as_str).collect();
        let df = df.select_columns(&names)?;
        let mut stream = df.execute_stream().await?;
        while let Some(batch) = stream.next().await {
            let batch = batch.with_context(|| format!("reading {}", m.table()))?;
            scanned += batch.num_rows() as u64;
            bar.set_message(m.table().to_string());
            bar.inc(batch.num_rows() as u64);
            let found = detector.scan(m.table(), &batch);
            alerts.extend(found.alerts);
            hits.extend(found.hits);
        }
    }
    alerts.extend(detector.correlate(&hits));
    Ok((scanned, alerts))
}

/// Stores the alerts not stored before (and not suppressed), then brings incidents up
/// to date with every alert in the lake.
pub async fn record(
    store: &Store,
    detector: &Detector,
    raised: Vec<Alert>,
    scanned: u64,
    clock: Option<i64>,
) -> Result<Outcome> {
    let catalog = Catalog::builtin();
    let state = DetectionState::open(&store.db_path()).map_err(anyhow::Error::msg)?;
    let ctx = store.session()?;
    let known: HashSet<String> = lake::texts(&ctx, "SELECT \"AlertId\" FROM \"AlertInfo\"")
        .await?
        .into_iter()
        .collect();
    let suppressions = state.suppressions().map_err(anyhow::Error::msg)?;
    let rules = detector.rules();
    let mut seen = HashSet::new();
    let mut new = Vec::new();
    let mut new_facts = Vec::new();
    let mut suppressed = 0;
    for (i, a) in raised.iter().enumerate() {
        if known.contains(&a.id) || !seen.insert(a.id.clone()) {
            continue;
        }
        let facts = AlertFacts::of(a, &rules[a.rule]);
        if suppressions.iter().any(|s| s.covers(&facts)) {
            suppressed += 1;
            continue;
        }
        new.push(i);
        new_facts.push(facts);
    }
    if !new.is_empty() {
        let stored: Vec<&Alert> = new.iter().map(|&i| &raised[i]).collect();
        let mut writer = store.writer()?;
        for chunk in stored.chunks(50_000) {
            if let Some((info, evidence)) = alert_rows(catalog, rules, chunk) {
                writer.write(catalog.table("AlertInfo").context("catalog")?, &info)?;
                writer.write(
                    catalog.table("AlertEvidence").context("catalog")?,
                    &evidence,
                )?;
            }
        }
        writer.commit()?;
    }
    // With no alerts stored before, the new ones are all there is to correlate, and
    // need not be read back.
    let facts = known.is_empty().then_some(new_facts);
    let (incidents, incidents_changed) = update_incidents(store, &state, facts, clock).await?;
    Ok(Outcome {
        scanned,
        raised,
        new,
        suppressed,
        incidents_changed,
        incidents,
    })
}

/// Correlates every alert in the lake (or `facts`, when the caller knows them all) and
/// adds a SecurityIncident row for each incident that is new or whose alerts changed.
/// Incident changes are stamped `clock` (nanoseconds), else the current time.
/// Returns (incidents, rows added).
pub async fn update_incidents(
    store: &Store,
    state: &DetectionState,
    facts: Option<Vec<AlertFacts>>,
    clock: Option<i64>,
) -> Result<(usize, usize)> {
    let ctx = store.session()?;
    let facts = match facts {
        Some(f) => f,
        None => lake::alert_facts(&ctx).await?,
    };
    let incidents = correlate(&facts, DEFAULT_WINDOW_NS);
    let latest = lake::latest_incidents(&ctx).await?;
    let now = clock.unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0));
    let mut changed = 0;
    let batch = incident_batch(Catalog::builtin(), |rows| {
        for inc in &incidents {
            let previous = latest.get(&inc.name);
            if previous.is_some_and(|p| p.alerts == inc.alerts) {
                continue;
            }
            let Ok((number, created)) = state.number(&inc.name, now) else {
                continue;
            };
            let verdict = previous
                .map(|p| p.verdict.clone())
                .unwrap_or_else(|| Verdict {
                    status: "New".into(),
                    ..Verdict::default()
                });
            incident_row(rows, inc, number, &verdict, created, now, "Vigil");
            changed += 1;
        }
    });
    if let Some(batch) = batch {
        let mut writer = store.writer()?;
        writer.write(
            Catalog::builtin()
                .table("SecurityIncident")
                .context("catalog")?,
            &batch,
        )?;
        writer.commit()?;
    }
    Ok((incidents.len(), changed))
}

pub fn run(data_dir: &Path, args: HuntArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let paths = rule_paths(&args.rules, data_dir)?;
    let min_level = Level::parse(&args.min_level).unwrap_or(Level::Low);
    let mapping = mapping(&args.mapping, data_dir)?;
    let quiet = args.quiet || args.format != "table";
    let store = Store::open(data_dir)
        .with_context(|| format!("opening the lake in {}", data_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut skipped_records = false;
    let mut records_read = None;
    let (found, scan_time) = if args.input.is_empty() {
        let (detector, refused) = detector(&paths, &mapping, min_level, quiet)?;
        let load_time = started.elapsed();
        let scan_started = Instant::now();
        let ctx = store.session()?;
        let bar = lake_bar(&store, &detector, args.quiet)?;
        let (scanned, alerts) = runtime.block_on(scan_lake(&ctx, &detector, &bar))?;
        bar.finish_and_clear();
        let found = Found {
            detector,
            refused,
            load_time,
            alerts,
            scanned,
        };
        (found, scan_started.elapsed())
    } else {
        // The rules load while the first files are read, and run beside the ingest.
        let (sender, hunt) = Hunt::start(paths, mapping, min_level, quiet);
        let ingest_args = IngestArgs {
            paths: args.input.clone(),
            table: None,
            format: vigil_ingest::Format::Auto,
            force: args.force,
            commit_rows: crate::cli::DEFAULT_COMMIT_ROWS,
            carve: false,
            buffer_mb: crate::cli::DEFAULT_BUFFER_MB,
            threads: args.threads,
            max_problems: crate::cli::DEFAULT_MAX_PROBLEMS,
            quiet: args.quiet,
            summary: SummaryFormat::Table,
            detect: false,
            rules: Vec::new(),
            mapping: Vec::new(),
        };
        let done = crate::ingest::ingest(&store, &ingest_args, Some(sender));
        let found = hunt.finish()?;
        let done = done?;
        skipped_records = done.totals.has_skips();
        records_read = Some(done.totals.records);
        if done.totals.already_ingested > 0 {
            eprintln!(
                "note: {} file(s) had content already in the lake or read earlier in this run \
                 and were not read again; `vigil hunt` without --input hunts the whole lake",
                done.totals.already_ingested
            );
        }
        let scan_time = started.elapsed().saturating_sub(found.load_time);
        (found, scan_time)
    };
    let outcome = runtime.block_on(record(
        &store,
        &found.detector,
        found.alerts,
        found.scanned,
        args.clock,
    ))?;
    let times = Times {
        load: found.load_time,
        scan: scan_time,
        total: started.elapsed(),
        records_read,
    };
    let detector = &found.detector;
    print(&args, detector, &outcome, found.refused, &times)?;
    // Rules with no table to run on are expected (other products, other log sources)
    // and only reported; rules that do not load, or records that could not be read,
    // change the exit status.
    let code = if found.refused > 0 || skipped_records {
        ExitCode::from(crate::EXIT_SKIPPED)
    } else {
        ExitCode::SUCCESS
    };
    // Freeing every compiled rule and alert takes a noticeable moment at the end of a
    // large hunt; it happens beside the exit instead of before it.
    let detector = found.detector;
    std::thread::spawn(move || drop((detector, outcome)));
    Ok(code)
}

fn alert_json(a: &Alert, r: &RuleInfo) -> Json {
    json!({
        "AlertId": a.id,
        "Timestamp": vigil_ingest::time::format_time(a.time),
        "Severity": r.level.severity(),
        "Level": r.level.name(),
        "Title": r.title,
        "RuleId": r.id,
        "Tactics": r.tactics,
        "Techniques": r.techniques,
        "DeviceName": a.device(),
        "SourceTable": a.source_table,
        "SourceFile": a.source_file,
        "SourceRecord": a.source_record,
    })
}

fn top(counts: &BTreeMap<String, usize>, n: usize) -> Vec<(&String, &usize)> {
    let mut v: Vec<_> = counts.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.truncate(n);
    v
}

/// How long the stages took, and what was read with --input.
struct Times {
    load: Duration,
    scan: Duration,
    total: Duration,
    records_read: Option<u64>,
}

fn print(
    args: &HuntArgs,
    detector: &Detector,
    o: &Outcome,
    refused: usize,
    times: &Times,
) -> Result<()> {
    let (load_time, scan_time, total) = (times.load, times.scan, times.total);
    let rules = detector.rules();
    let mut out = std::io::stdout().lock();
    match args.format.as_str() {
        "ndjson" => {
            for a in o.new_alerts() {
                writeln!(out, "{}", alert_json(a, &rules[a.rule]))?;
            }
            return Ok(());
        }
        "csv" => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record([
                "AlertId",
                "Timestamp",
                "Severity",
                "Title",
                "DeviceName",
                "SourceTable",
                "SourceFile",
                "SourceRecord",
            ])?;
            for a in o.new_alerts() {
                let r = &rules[a.rule];
                w.write_record([
                    a.id.clone(),
                    vigil_ingest::time::format_time(a.time),
                    r.level.severity().to_string(),
                    r.title.clone(),
                    a.device().unwrap_or_default().to_string(),
                    a.source_table.clone(),
                    a.source_file.clone().unwrap_or_default(),
                    a.source_record.map(|r| r.to_string()).unwrap_or_default(),
                ])?;
            }
            w.flush()?;
            return Ok(());
        }
        _ => {}
    }
    let mut by_level: BTreeMap<Level, usize> = BTreeMap::new();
    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_device: BTreeMap<String, usize> = BTreeMap::new();
    for a in &o.raised {
        let r = &rules[a.rule];
        *by_level.entry(r.level).or_default() += 1;
        *by_rule
            .entry(format!("[{}] {}", r.level, r.title))
            .or_default() += 1;
        if let Some(d) = a.device() {
            *by_device.entry(d.to_string()).or_default() += 1;
        }
    }
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    for s in detector.skipped() {
        *skipped.entry(reason_kind(&s.reason)).or_default() += 1;
    }
    let rate = o.scanned as f64 / scan_time.as_secs_f64().max(1e-9);
    if args.format == "json" {
        let levels_json: serde_json::Map<String, Json> = by_level
            .iter()
            .map(|(l, n)| (l.name().to_string(), json!(n)))
            .collect();
        let top_rules: Vec<Json> = top(&by_rule, 10)
            .iter()
            .map(|(r, n)| json!({"rule": r, "alerts": n}))
            .collect();
        let top_devices: Vec<Json> = top(&by_device, 10)
            .iter()
            .map(|(d, n)| json!({"device": d, "alerts": n}))
            .collect();
        let alerts: Vec<Json> = o
            .new_alerts()
            .map(|a| alert_json(a, &rules[a.rule]))
            .collect();
        let summary = json!({
            "rules": detector.rule_count(),
            "rules_below_level": detector.below_level(),
            "rules_not_loaded": refused,
            "rules_skipped": detector.skipped().iter().map(|s| json!({
                "file": s.file.display().to_string(), "title": s.title, "reason": s.reason,
            })).collect::<Vec<_>>(),
            "rule_load_seconds": load_time.as_secs_f64(),
            "scan_seconds": scan_time.as_secs_f64(),
            "seconds": total.as_secs_f64(),
            "records_read": times.records_read,
            "events_scanned": o.scanned,
            "events_per_second": rate,
            "alerts_raised": o.raised.len(),
            "alerts_new": o.new.len(),
            "alerts_suppressed": o.suppressed,
            "alerts_by_level": levels_json,
            "top_rules": top_rules,
            "top_devices": top_devices,
            "incidents": o.incidents,
            "incidents_updated": o.incidents_changed,
            "alerts": alerts,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "Hunted {} events with {} rules in {:.2} s ({:.0} events/s; rules loaded in {:.2} s).",
        o.scanned,
        detector.rule_count(),
        total.as_secs_f64(),
        rate,
        load_time.as_secs_f64()
    )?;
    let levels: Vec<String> = Level::all()
        .iter()
        .rev()
        .map(|l| format!("{} {}", by_level.get(l).copied().unwrap_or(0), l))
        .collect();
    writeln!(
        out,
        "\nAlerts: {} raised ({}), {} new, {} already stored, {} suppressed by analyst verdicts.",
        o.raised.len(),
        levels.join(", "),
        o.new.len(),
        o.raised.len() - o.new.len() - o.suppressed,
        o.suppressed
    )?;
    if !by_rule.is_empty() {
        writeln!(out, "\nTop rules:")?;
        for (r, n) in top(&by_rule, 10) {
            writeln!(out, "  {n:>6}  {r}")?;
        }
    }
    if !by_device.is_empty() {
        writeln!(out, "\nTop devices:")?;
        for (d, n) in top(&by_device, 10) {
            writeln!(out, "  {n:>6}  {d}")?;
        }
    }
    writeln!(
        out,
        "\nIncidents: {} in all, {} new or updated (`vigil incidents` lists them).",
        o.incidents, o.incidents_changed
    )?;
    if refused + detector.skipped().len() + detector.below_level() > 0 {
        writeln!(out, "\nRules not run:")?;
        if detector.below_level() > 0 {
            writeln!(
                out,
                "  {:>6}  below --min-level {}",
                detector.below_level(),
                args.min_level
            )?;
        }
        if refused > 0 {
            writeln!(
                out,
                "  {refused:>6}  could not be loaded (`vigil rules lint` says why)"
            )?;
        }
        for (reason, n) in top(&skipped, 20) {
            writeln!(out, "  {n:>6}  {reason}")?;
        }
    }
    Ok(())
}

/// A reason without the names in it, so that like reasons count together.
fn reason_kind(reason: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in reason.chars() {
        if c == '`' {
            quoted = !quoted;
            if quoted {
                out.push_str("`…`");
            }
            continue;
        }
        if !quoted {
            out.push(c);
        }
    }
    out
}
