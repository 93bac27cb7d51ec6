//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Ingest defaults, also used when `vigil hunt --input` ingests.
pub const DEFAULT_COMMIT_ROWS: u64 = 500_000;
pub const DEFAULT_BUFFER_MB: usize = 256;
pub const DEFAULT_MAX_PROBLEMS: usize = 20;

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "A self-hosted security copilot over your own logs",
    long_about = "Vigil keeps your security data in a local lake of Defender XDR and Sentinel \
                  tables and answers questions over it.\n\n\
                  Data lives in --data-dir, else $VIGIL_HOME, else the platform data directory \
                  (~/.local/share/vigil on Linux).",
    after_help = "Examples:\n  \
                  vigil ingest ./logs/                    read every EVTX, JSON and CSV file under ./logs\n  \
                  vigil tables                            what the lake holds\n  \
                  vigil tables DeviceProcessEvents        the columns of one table\n  \
                  vigil sql 'SELECT FileName, count(*) FROM DeviceProcessEvents GROUP BY 1'"
)]
pub struct Cli {
    /// The data directory (default: $VIGIL_HOME, else the platform data directory)
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug); VIGIL_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Read logs into the lake
    #[command(
        long_about = "Read logs into the lake.\n\n\
            Each PATH is a file or a folder (read recursively); .zip archives are opened in \
            place. The format of each file is recognised from its content: Windows event logs \
            (.evtx), JSON (one object per line, an array, or the evtx crate's, NXLog's and \
            Winlogbeat's shapes of Windows events, or Defender/Sentinel exports), and CSV \
            exports whose header names a table's columns.\n\n\
            Windows events land in SecurityEvent or WindowsEvent, and Sysmon and Security \
            events are also mapped to the Defender device tables (DeviceProcessEvents, \
            DeviceNetworkEvents, DeviceLogonEvents, ...).\n\n\
            A file whose content was ingested before is skipped. A record that cannot be read \
            is reported (file, record, reason) and skipped; the rest goes on.\n\n\
            Exit status: 0 all read, 3 finished but something was skipped, 1 failed.",
        after_help = "Examples:\n  \
            vigil ingest Security.evtx Sysmon.evtx\n  \
            vigil ingest exports/ --table DeviceProcessEvents --format csv\n  \
            vigil ingest logs.zip --format json\n  \
            vigil ingest --detect --rules sigma/rules/windows new-logs/"
    )]
    Ingest(IngestArgs),

    /// List the tables and what the lake holds, or show one table's columns
    Tables(TablesArgs),

    /// Run a KQL query over the lake, or check a pack of queries
    #[command(
        long_about = "Run a KQL (Kusto Query Language) query over the lake: the same language as \
            Microsoft Sentinel and Defender advanced hunting, over the same tables.\n\n\
            Table and column names are case-sensitive. `{{Name}}` placeholders are filled with \
            --param Name=VALUE (the value is pasted as written, so quote strings).\n\n\
            With --check PATH, every query in a .kql file, a folder of them, or a JSONL file \
            with a \"query\" field is parsed and bound against the table catalog (no data \
            needed); failures are listed and totals printed. Exit status 3 when any fails.",
        after_help = "Examples:\n  \
            vigil query 'DeviceProcessEvents | where FileName =~ \"powershell.exe\" | take 10'\n  \
            vigil query -f hunt.kql --format csv > hits.csv\n  \
            vigil query 'SigninLogs | where UserPrincipalName == {{User}}' --param User=\"'ann@example.com'\"\n  \
            vigil query --explain 'DeviceLogonEvents | summarize count() by DeviceName'\n  \
            vigil query --check ./queries/"
    )]
    Query(QueryArgs),

    /// Run a DataFusion SQL query over the lake (a debugging aid)
    #[command(
        after_help = "Table and column names are case-sensitive; quote them when they \
        are not plain identifiers.\n\nExample:\n  \
        vigil sql 'SELECT DeviceName, count(*) AS n FROM DeviceProcessEvents GROUP BY DeviceName ORDER BY n DESC'"
    )]
    Sql(SqlArgs),

    /// Merge each day's small Parquet files into one
    Compact,

    /// Work with Sigma detection rules
    #[command(subcommand)]
    Rules(RulesCommand),

    /// Hunt with Sigma rules: raise alerts and group them into incidents
    #[command(
        long_about = "Hunt with Sigma rules over the lake, or over files as they are ingested \
            (--input).\n\n\
            Every rule with a table to run on is compiled once into a columnar matcher that \
            reads Arrow batches: one multi-pattern scan per column for all rules, cheap \
            tests before regular expressions. Each matching row raises an alert in \
            AlertInfo and AlertEvidence (rule, severity from the level, ATT&CK tactics and \
            techniques from the tags, the row's entities and its source record); hunting \
            the same data again adds no duplicates. Alerts sharing a device, user, remote \
            address or file within 24 hours are grouped into incidents in \
            SecurityIncident (see `vigil incidents`).\n\n\
            Rules come from --rules, else from the folders in $VIGIL_RULES (separated by \
            ':'), else from <data-dir>/rules. The run ends with a summary: events scanned, \
            alerts by level, top rules and devices, incidents, and rules skipped with the \
            reason.\n\n\
            Exit status: 0; 3 when a rule file could not be loaded or an input record was \
            skipped (rules with no table to run on are listed, not counted).",
        after_help = "Examples:\n  \
            vigil hunt --rules ../shared/data/sigma/rules --input ./evtx/\n  \
            vigil hunt --rules my-rules/ --min-level high\n  \
            vigil hunt --rules rules/ --format ndjson > alerts.ndjson"
    )]
    Hunt(HuntArgs),

    /// List incidents, show one, or set its status and classification
    #[command(
        long_about = "Incidents are groups of related alerts made by `vigil hunt`, stored in \
            the SecurityIncident table (each change adds a row, as in Microsoft Sentinel).\n\n\
            With no subcommand, incidents are listed newest first; --severity and --status \
            filter them.",
        after_help = "Examples:\n  \
            vigil incidents --severity high --status new\n  \
            vigil incidents show 3\n  \
            vigil incidents set 3 --status closed --classification false-positive \\\n      \
            --reason incorrect-alert-logic --comment 'backup job'"
    )]
    Incidents(IncidentsArgs),

    /// Ask the copilot a question in plain language and get an answer with evidence
    #[command(
        long_about = "Ask a question in plain language. Vigil grounds it (devices, users, \
            addresses, hashes, incident numbers, time ranges such as \"last week\" or \
            \"yesterday\", and references such as \"that device\" to earlier turns), plans \
            which skills answer it, runs them over the lake, and answers with the evidence: \
            the query that ran, how many rows, and the source records they came from.\n\n\
            Every number and name comes from a skill's rows. No language model is needed; \
            one configured in vigil.toml ([model]) or by VIGIL_MODEL_ENDPOINT plans with the \
            skills as tools and writes prose that is checked against their results. \
            Each answer is a turn of a session; --session continues one so follow-ups see \
            what came before. A prompt starting with /skill_name runs that skill directly \
            (`vigil skills list` shows them).",
        after_help = "Examples:\n  \
            vigil ask \"Show high severity incidents\"\n  \
            vigil ask \"Summarize incident 3\"\n  \
            vigil ask \"Which devices copied data to a USB drive in the last week?\"\n  \
            vigil ask --session s1a2b3c4d5 \"What else happened on that device?\"\n  \
            vigil ask \"/run_kql DeviceProcessEvents | take 5\" --format json"
    )]
    Ask(crate::copilot::AskArgs),

    /// Talk to the copilot interactively, with follow-ups, pins and feedback
    Chat(crate::copilot::ChatArgs),

    /// List, show and export copilot sessions; pin turns and give feedback
    #[command(subcommand)]
    Sessions(crate::copilot::SessionsCommand),

    /// The copilot's skills and their inputs
    #[command(subcommand)]
    Skills(crate::copilot::SkillsCommand),

    /// Build a demo organisation's lake: 14 days of telemetry with attacks, hunted
    #[command(
        long_about = "Write fourteen days of a fictional company's telemetry (about 50 Windows \
            devices, Linux servers, 200 users; process, network, file, registry, logon, \
            sign-in, email, vulnerability, certificate and Intune tables) with injected \
            attacks (phishing to ransomware precursors, USB exfiltration, password spray with \
            MFA fatigue, Kerberoasting, an exposed vulnerable server) and benign look-alikes, \
            read it into the lake and hunt it with Sigma rules, so alerts and incidents exist \
            when it finishes. The same --seed and --now give the same data.",
        after_help = "Examples:\n  \
            vigil --data-dir demo demo\n  \
            vigil --data-dir demo demo --seed 7 --now 2026-03-11T12:00:00Z\n  \
            vigil demo --generate-only ./demo-files"
    )]
    Demo(crate::demo::DemoArgs),

    /// Analyze a suspicious script or command line
    #[command(subcommand)]
    Analyze(crate::analyze::AnalyzeCommand),

    /// Security Copilot plugin manifests: validate, add, enable, disable, set, remove
    #[command(subcommand)]
    Plugins(crate::extend::PluginsCommand),

    /// Promptbooks: named series of prompts with inputs, run in one session
    #[command(subcommand)]
    Promptbook(crate::extend::PromptbookCommand),

    /// Serve the REST API and MCP over HTTP (loopback by default, token required)
    #[command(
        long_about = "Serve Vigil over HTTP: the REST API under /api (ask, skills, KQL, tables, \
            incidents; its OpenAPI 3.1 document at /api/openapi.json) and MCP's streamable \
            HTTP transport at /mcp. Every request but /api/health needs the API token, \
            printed once on the first start.",
        after_help = "Example:\n  \
            vigil --data-dir demo serve --listen 127.0.0.1:8080\n  \
            curl -H 'Authorization: Bearer TOKEN' -d '{\"prompt\": \"Show high severity incidents\"}' \
            http://127.0.0.1:8080/api/ask"
    )]
    Serve(crate::serve::ServeArgs),

    /// Accounts and API tokens for vigil serve (roles admin, analyst, reader)
    #[command(subcommand)]
    Users(crate::users::UsersCommand),

    /// Serve Vigil's skills to AI assistants and agents over MCP (stdio)
    #[command(
        long_about = "Speak the Model Context Protocol on standard input and output (one \
            JSON-RPC message a line): every skill, built-in or from a plugin, is a tool with \
            typed inputs, and the tables and incidents are resources. Point an MCP host at \
            `vigil --data-dir DIR mcp`. Skills that change things outside Vigil are marked \
            destructive, so hosts ask before calling them.",
        after_help = "Example (an MCP host's server entry):\n  \
            {\"command\": \"vigil\", \"args\": [\"--data-dir\", \"/srv/vigil\", \"mcp\"]}"
    )]
    Mcp(crate::mcp::McpArgs),

    /// Incident reports for executives or technical readers (Markdown, HTML, PDF)
    #[command(subcommand)]
    Report(crate::report::ReportCommand),
}

#[derive(Args)]
pub struct HuntArgs {
    /// Rule files or folders (repeatable; default: $VIGIL_RULES, else <data-dir>/rules)
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,

    /// A field-mapping file read after the shipped one and <data-dir>/mapping/*.yaml
    /// (repeatable); its entries replace those of the same name
    #[arg(long = "mapping", value_name = "FILE")]
    pub mapping: Vec<PathBuf>,

    /// Leave out rules below this level
    #[arg(long, value_name = "LEVEL", default_value = "low",
          value_parser = ["informational", "low", "medium", "high", "critical"])]
    pub min_level: String,

    /// Ingest these files and hunt over them as they are read (repeatable)
    #[arg(long = "input", value_name = "PATH")]
    pub input: Vec<PathBuf>,

    /// `table`: the summary; `json`: summary and alerts; `csv`, `ndjson`: the new alerts
    #[arg(long, value_name = "FORMAT", default_value = "table",
          value_parser = ["table", "json", "csv", "ndjson"])]
    pub format: String,

    /// With --input: read files again even if their content is in the lake already
    #[arg(long)]
    pub force: bool,

    /// Threads for parsing EVTX with --input (0: one per core)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,

    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,

    /// The time incident changes are stamped with (nanoseconds; the current time when
    /// unset). The demo sets it to its reference time so that a seed always gives the
    /// same lake.
    #[arg(skip)]
    pub clock: Option<i64>,
}

#[derive(Args)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    pub command: Option<IncidentsCommand>,

    /// Only incidents of this severity (informational, low, medium, high)
    #[arg(long, value_name = "SEVERITY")]
    pub severity: Option<String>,

    /// Only incidents with this status (new, active, closed)
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,

    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Subcommand)]
pub enum IncidentsCommand {
    /// One incident: what it is, its entities, and the timeline of its alerts
    Show {
        /// The incident number
        number: i64,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Set an incident's status, classification and comment
    #[command(
        long_about = "Set an incident's status, classification and comment. Closing an \
            incident as a false positive (with its --reason) suppresses the same rules on \
            the same device and user in later hunts; `vigil hunt` reports how many alerts \
            were suppressed."
    )]
    Set {
        /// The incident number
        number: i64,
        /// new, active or closed
        #[arg(long, value_parser = ["new", "active", "closed"])]
        status: Option<String>,
        /// true-positive, false-positive, benign (benign positive) or undetermined
        #[arg(long, value_parser = ["true-positive", "false-positive", "benign", "undetermined"])]
        classification: Option<String>,
        /// Why: suspicious-activity, suspicious-but-expected, incorrect-alert-logic,
        /// inaccurate-data (required with false-positive)
        #[arg(long, value_parser = ["suspicious-activity", "suspicious-but-expected",
                                    "incorrect-alert-logic", "inaccurate-data"])]
        reason: Option<String>,
        /// Free text kept with the verdict
        #[arg(long)]
        comment: Option<String>,
        /// Who is working on it
        #[arg(long)]
        owner: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Load every Sigma rule under the paths and list those that cannot be used
    #[command(
        long_about = "Load every Sigma rule (.yml, .yaml) under the given files or folders and \
            check it against the Sigma specification: detection maps, lists and keywords, \
            conditions, value modifiers and their combinations, regular expressions, CIDR \
            networks, collections (action: global/reset/repeat), filters and correlation \
            rules.\n\n\
            Each rule that cannot be used is listed with its file, its document in a \
            collection, and the reason. The loaded rules are then matched to the lake's \
            tables through the field mapping; the totals say how many have a table to run \
            on, and --why lists the others with the reason (a log source or field Vigil \
            has no data for). Exit status: 0 when all load, 3 when any does not.",
        after_help = "Examples:\n  \
            vigil rules lint ../shared/data/sigma/rules\n  \
            vigil rules lint my-rules/ --format json"
    )]
    Lint(LintArgs),

    /// Run Sigma rules over the lake and report which matched
    #[command(
        long_about = "Run Sigma rules over the lake. Each rule with a table to run on (see \
            `vigil rules lint --why`) becomes a KQL query over that table, evaluated by the \
            same engine as `vigil query`; the rules that match are listed with their level, \
            table and number of matching rows, most severe first.\n\n\
            --show-kql prints the query of every rule, so a match can be re-run and \
            explored with `vigil query`. Exit status: 0 when no rule failed to run, 3 \
            otherwise.",
        after_help = "Examples:\n  \
            vigil rules run ../shared/data/sigma/rules/windows\n  \
            vigil rules run my-rules/ --format json > matches.ndjson"
    )]
    Run(RunRulesArgs),

    /// List rules with their level, table and ATT&CK tags
    #[command(after_help = "Examples:\n  \
        vigil rules list ../shared/data/sigma/rules --tag attack.t1059\n  \
        vigil rules list rules/ --level high --format csv")]
    List(ListRulesArgs),
}

#[derive(Args)]
pub struct ListRulesArgs {
    /// Rule files or folders (read recursively)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Only rules with this tag (`attack.t1059` also lists its sub-techniques)
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Only rules of this level
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<String>,

    /// A field-mapping file read after the shipped one and <data-dir>/mapping/*.yaml
    /// (repeatable); its entries replace those of the same name
    #[arg(long = "mapping", value_name = "FILE")]
    pub mapping: Vec<PathBuf>,

    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Args)]
pub struct RunRulesArgs {
    /// Rule files or folders (read recursively)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// `table` for people, `json` for one object per matched rule
    #[arg(long, value_name = "FORMAT", default_value = "table", value_parser = ["table", "json"])]
    pub format: String,

    /// Print each rule's KQL query as well
    #[arg(long)]
    pub show_kql: bool,

    /// A field-mapping file read after the shipped one and <data-dir>/mapping/*.yaml
    /// (repeatable); its entries replace those of the same name
    #[arg(long = "mapping", value_name = "FILE")]
    pub mapping: Vec<PathBuf>,
}

#[derive(Args)]
pub struct LintArgs {
    /// Rule files or folders (read recursively)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// `text` lists problems and totals; `json` prints one object per problem
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,

    /// Also list each loaded rule that has no table to run on, and why
    #[arg(long)]
    pub why: bool,

    /// A field-mapping file read after the shipped one and <data-dir>/mapping/*.yaml
    /// (repeatable); its entries replace those of the same name
    #[arg(long = "mapping", value_name = "FILE")]
    pub mapping: Vec<PathBuf>,
}

#[derive(Args)]
pub struct IngestArgs {
    /// Files or folders to read
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The table JSON and CSV rows belong to, when it cannot be told from the rows
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,

    /// The input format; `auto` recognises each file from its content
    #[arg(long, default_value = "auto", value_name = "FORMAT")]
    pub format: vigil_ingest::Format,

    /// Read files again even if their content was ingested before (duplicates rows)
    #[arg(long)]
    pub force: bool,

    /// Commit (make rows visible) after a file once this many rows are pending; a commit
    /// always comes at the end, and never splits a file
    #[arg(long, default_value_t = DEFAULT_COMMIT_ROWS, value_name = "ROWS")]
    pub commit_rows: u64,

    /// Also carve deleted or overwritten EVTX records from unused chunk space (may add
    /// stale copies of live events and fragments that fail to parse)
    #[arg(long)]
    pub carve: bool,

    /// Memory for rows waiting to be written, in MiB; more makes fewer, larger files
    #[arg(long, default_value_t = DEFAULT_BUFFER_MB, value_name = "MIB")]
    pub buffer_mb: usize,

    /// Threads for parsing EVTX (0: one per core)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,

    /// Print at most this many problems (all are counted in the summary)
    #[arg(long, default_value_t = DEFAULT_MAX_PROBLEMS, value_name = "N")]
    pub max_problems: usize,

    /// No progress bar
    #[arg(short, long)]
    pub quiet: bool,

    /// How to print the summary
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub summary: SummaryFormat,

    /// Run Sigma rules over the rows as they are read, raising alerts and incidents
    /// (as `vigil hunt --input` does)
    #[arg(long)]
    pub detect: bool,

    /// Rules for --detect (repeatable; default: $VIGIL_RULES, else <data-dir>/rules)
    #[arg(long = "rules", value_name = "PATH", requires = "detect")]
    pub rules: Vec<PathBuf>,

    /// A field-mapping file for --detect (repeatable; see `vigil hunt --help`)
    #[arg(long = "mapping", value_name = "FILE", requires = "detect")]
    pub mapping: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SummaryFormat {
    Table,
    Json,
}

#[derive(Args)]
pub struct TablesArgs {
    /// Show this table's columns instead of the list
    pub table: Option<String>,

    /// List every catalog table, also those without data
    #[arg(long)]
    pub all: bool,

    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Args)]
pub struct SqlArgs {
    /// The query
    pub query: String,

    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Args)]
pub struct QueryArgs {
    /// The KQL query
    #[arg(value_name = "KQL", conflicts_with = "check")]
    pub query: Option<String>,

    /// Read the query from a file (`-` for stdin)
    #[arg(short, long, value_name = "FILE", conflicts_with = "check")]
    pub file: Option<PathBuf>,

    /// A value for a `{{NAME}}` placeholder, as NAME=VALUE (repeatable)
    #[arg(long, value_name = "NAME=VALUE")]
    pub param: Vec<String>,

    /// Print the DataFusion logical plan instead of running the query
    #[arg(long)]
    pub explain: bool,

    /// Parse and bind every query in a .kql file, a folder, or a JSONL file
    #[arg(long, value_name = "PATH")]
    pub check: Option<PathBuf>,

    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum QueryFormat {
    /// Aligned columns for reading
    Table,
    /// A JSON array of objects
    Json,
    /// CSV with a header row
    Csv,
    /// One JSON object per line
    Ndjson,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum OutputFormat {
    /// Aligned columns for reading
    Table,
    /// A JSON array of objects
    Json,
    /// CSV with a header row
    Csv,
}
