//! One Windows event, whatever it was read from: an EVTX record, the `evtx` crate's JSON,
//! a flattened NXLog record or a Winlogbeat document. Normalisers map this to tables.

use serde_json::{Map, Value as Json};

use crate::time::parse_time;

/// A Windows event reduced to its system properties and its named data fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WinEvent {
    /// When the event was written, nanoseconds since the epoch, UTC. `None` when the
    /// record has no time Vigil can read (a damaged record, or a time before 1677).
    pub time_ns: Option<i64>,
    pub channel: String,
    pub provider: String,
    pub event_id: u32,
    pub version: Option<u32>,
    pub level: Option<u32>,
    pub task: Option<u32>,
    pub opcode: Option<u32>,
    pub keywords: Option<String>,
    pub computer: String,
    pub record_id: u64,
    pub process_id: Option<u32>,
    pub thread_id: Option<u32>,
    /// SID of the account the event was logged under (`System/Security/@UserID`).
    pub user_sid: Option<String>,
    /// `EventData`/`UserData` fields in document order, each as text. Unnamed `Data`
    /// items are kept under the name `Data` as a JSON array.
    pub data: Vec<(String, String)>,
    /// The rendered message, where the source carried one (NXLog and Winlogbeat do).
    pub message: Option<String>,
}

impl WinEvent {
    /// A data field by name, ignoring empty values and Windows' `-` placeholder.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty() && *v != "-")
    }

    /// The data fields as a JSON object (the form `dynamic` columns hold).
    pub fn data_json(&self) -> String {
        json_object(self.data.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Reads the `evtx` crate's JSON rendering of a record (`{"Event": {"System": …}}`).
    pub fn from_evtx_json(doc: &Json) -> Result<WinEvent, String> {
        crate::evtx_doc::from_value(doc)
    }

    /// Reads a flattened record as NXLog's `im_msvistalog` writes it: system properties
    /// and event data side by side at the top level.
    pub fn from_nxlog(obj: &Map<String, Json>) -> Result<WinEvent, String> {
        let mut ev = WinEvent {
            channel: text(obj.get("Channel")).unwrap_or_default(),
            provider: text(obj.get("SourceName"))
                .or_else(|| text(obj.get("ProviderName")))
                .unwrap_or_default(),
            event_id: number(obj.get("EventID")).ok_or("no EventID")? as u32,
            version: number(obj.get("Version")).map(|v| v as u32),
            level: number(obj.get("SeverityValue")).map(nxlog_level),
            task: number(obj.get("Task")).map(|v| v as u32),
            opcode: number(obj.get("OpcodeValue")).map(|v| v as u32),
            keywords: text(obj.get("Keywords")),
            computer: text(obj.get("Hostname")).unwrap_or_default(),
            record_id: number(obj.get("RecordNumber")).unwrap_or(0),
            process_id: number(obj.get("ExecutionProcessID")).map(|v| v as u32),
            thread_id: number(obj.get("ThreadID")).map(|v| v as u32),
            user_sid: text(obj.get("UserID")),
            message: text(obj.get("Message")),
            ..WinEvent::default()
        };
        // Sysmon writes its own UTC time and some exports carry the record's
        // `TimeCreated`; `@timestamp` is UTC at collection, seconds later; `EventTime`
        // is the collector's local time with no zone (taken as UTC, the last resort).
        ev.time_ns = ["UtcTime", "TimeCreated", "@timestamp", "EventTime"]
            .iter()
            .find_map(|k| text(obj.get(*k)).and_then(|t| parse_time(&t)));
        for (key, value) in obj {
            if NXLOG_SYSTEM_KEYS.contains(&key.as_str()) {
                continue;
            }
            // NXLog renames the event's own `EventType` so as not to clash with its own.
            let key = if key == "EventTypeOrignal" {
                "EventType"
            } else {
                key.as_str()
            };
            if let Some(v) = text(Some(value)) {
                ev.data.push((key.to_string(), v));
            }
        }
        Ok(ev)
    }

    /// Reads a Winlogbeat document (`winlog.event_data`, `winlog.channel`, …).
    pub fn from_winlogbeat(obj: &Map<String, Json>) -> Result<WinEvent, String> {
        let winlog = obj.get("winlog").ok_or("no winlog object")?;
        let event_id = number(winlog.get("event_id")).ok_or("no winlog.event_id")?;
        let mut ev = WinEvent {
            time_ns: text(obj.get("@timestamp")).and_then(|t| parse_time(&t)),
            channel: text(winlog.get("channel")).unwrap_or_default(),
            provider: text(winlog.get("provider_name")).unwrap_or_default(),
            event_id: event_id as u32,
            computer: text(winlog.get("computer_name")).unwrap_or_default(),
            record_id: number(winlog.get("record_id")).unwrap_or(0),
            task: None,
            opcode: None,
            keywords: winlog.get("keywords").map(|k| k.to_string()),
            process_id: winlog
                .pointer("/process/pid")
                .and_then(|v| number(Some(v)))
                .map(|v| v as u32),
            thread_id: winlog
                .pointer("/process/thread/id")
                .and_then(|v| number(Some(v)))
                .map(|v| v as u32),
            user_sid: winlog
                .pointer("/user/identifier")
                .and_then(|v| text(Some(v))),
            message: text(obj.get("message")),
            ..WinEvent::default()
        };
        for key in ["event_data", "user_data"] {
            if let Some(data) = winlog.get(key) {
                flatten_data(data, &mut ev.data);
            }
        }
        Ok(ev)
    }
}

/// A JSON object of string values, written directly (this runs for every event; a
/// `serde_json` map would allocate every key and value again).
pub fn json_object<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::with_capacity(256);
    out.push('{');
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, k);
        out.push(':');
        push_json_string(&mut out, v);
    }
    out.push('}');
    out
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    // Copy runs of plain text whole; only quotes, backslashes and control characters
    // (all ASCII, so never inside a multi-byte character) need escaping.
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if escaped.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(escaped);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// NXLog keys that describe the record or the collector rather than the event's data.
const NXLOG_SYSTEM_KEYS: &[&str] = &[
    "@timestamp",
    "@version",
    "AccountName",
    "AccountType",
    "Category",
    "Channel",
    "Domain",
    "EventID",
    "EventReceivedTime",
    "EventTime",
    "EventType",
    "ExecutionProcessID",
    "Hostname",
    "Keywords",
    "Message",
    "Opcode",
    "OpcodeValue",
    "ProviderGuid",
    "RecordNumber",
    "Severity",
    "SeverityValue",
    "SourceModuleName",
    "SourceModuleType",
    "SourceName",
    "Task",
    "ThreadID",
    "TimeCreated",
    "UserID",
    "Version",
    "host",
    "port",
    "tags",
];

/// NXLog's SeverityValue (1 debug … 5 critical) as a Windows level (1 critical … 5 verbose).
fn nxlog_level(v: u64) -> u32 {
    match v {
        5 => 1,
        4 => 2,
        3 => 3,
        1 => 5,
        _ => 4,
    }
}

fn flatten_data(data: &Json, out: &mut Vec<(String, String)>) {
    match data {
        Json::Object(map) => {
            for (k, v) in map {
                if k == "#attributes" {
                    continue;
                }
                if let Some(v) = text(Some(v)) {
                    out.push((k.clone(), v));
                }
            }
        }
        Json::Null => {}
        other => {
            if let Some(v) = text(Some(other)) {
                out.push(("Data".to_string(), v));
            }
        }
    }
}

/// A JSON value as text: strings as they are, numbers and booleans printed, `#text`
/// of an element with attributes, arrays and objects as JSON. Null is `None`.
fn text(v: Option<&Json>) -> Option<String> {
    match v? {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(n) => Some(n.to_string()),
        Json::Object(map) if map.contains_key("#text") => text(map.get("#text")),
        other => Some(other.to_string()),
    }
}

fn number(v: Option<&Json>) -> Option<u64> {
    match v? {
        Json::Number(n) => n.as_u64().or_else(|| n.as_i64().map(|v| v as u64)),
        Json::String(s) => crate::rows::parse_long(s).map(|v| v as u64),
        Json::Object(map) => number(map.get("#text")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evtx_json_with_qualified_event_id_and_user_data() {
        let doc = json!({"Event": {
            "System": {
                "Provider": {"#attributes": {"Name": "Service Control Manager"}},
                "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7036},
                "Level": 4, "Channel": "System", "Computer": "WIN-1",
                "EventRecordID": 42,
                "TimeCreated": {"#attributes": {"SystemTime": "2020-01-01T00:00:01.5Z"}},
                "Execution": {"#attributes": {"ProcessID": 600, "ThreadID": 7}},
                "Security": {"#attributes": {"UserID": "S-1-5-18"}}
            },
            "UserData": {"Info": {"#attributes": {"xmlns": "x"}, "Name": "svc", "Count": 3}}
        }});
        let ev = WinEvent::from_evtx_json(&doc).unwrap();
        assert_eq!(ev.event_id, 7036);
        assert_eq!(ev.provider, "Service Control Manager");
        assert_eq!(ev.process_id, Some(600));
        assert_eq!(ev.user_sid.as_deref(), Some("S-1-5-18"));
        assert_eq!(ev.get("Name"), Some("svc"));
        assert_eq!(ev.get("Count"), Some("3"));
        assert_eq!(ev.time_ns, Some(1_577_836_801_500_000_000));
    }

    #[test]
    fn json_objects_are_written_with_escapes() {
        let pairs = [
            ("a", "pla\u{ef}n \u{2713}"),
            ("q\"uote", "back\\slash\nnew\u{1}"),
        ];
        let text = json_object(pairs.into_iter());
        let back: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(back["a"], "pla\u{ef}n \u{2713}");
        assert_eq!(back["q\"uote"], "back\\slash\nnew\u{1}");
        assert_eq!(json_object(std::iter::empty()), "{}");
    }

    #[test]
    fn evtx_json_without_system_is_an_error() {
        assert!(WinEvent::from_evtx_json(&json!({"Event": {}})).is_err());
        assert!(WinEvent::from_evtx_json(&json!({"Other": 1})).is_err());
    }

    #[test]
    fn nxlog_record_keeps_event_data_and_drops_collector_fields() {
        let obj = json!({
            "EventID": 13, "Channel": "Microsoft-Windows-Sysmon/Operational",
            "SourceName": "Microsoft-Windows-Sysmon", "Hostname": "WS5.example.local",
            "RecordNumber": 99, "@timestamp": "2020-07-22T03:27:42.455Z",
            "UtcTime": "2020-07-22 03:27:40.100", "EventType": "INFO",
            "EventTypeOrignal": "SetValue", "TargetObject": "HKLM\\x", "tags": ["t"],
            "AccountName": "SYSTEM", "SeverityValue": 2
        });
        let ev = WinEvent::from_nxlog(obj.as_object().unwrap()).unwrap();
        assert_eq!(ev.event_id, 13);
        assert_eq!(ev.get("EventType"), Some("SetValue"));
        assert_eq!(ev.get("TargetObject"), Some("HKLM\\x"));
        assert_eq!(ev.get("AccountName"), None);
        assert_eq!(ev.get("tags"), None);
        assert_eq!(
            ev.time_ns,
            Some(1_595_388_460_100_000_000),
            "Sysmon's UtcTime wins"
        );
    }
}
