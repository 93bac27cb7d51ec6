//! The `evtx` crate's JSON rendering of a record, read straight into the fields Vigil
//! uses. Reading into typed structures skips building a `serde_json::Value` tree for
//! every record, which costs more than the rendering itself.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;

use crate::time::parse_time;
use crate::winevent::WinEvent;

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "Event")]
    event: EventEl,
}

#[derive(Deserialize)]
struct EventEl {
    #[serde(rename = "System")]
    system: Option<SystemEl>,
    #[serde(rename = "EventData", default)]
    event_data: Fields,
    #[serde(rename = "UserData", default)]
    user_data: UserData,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SystemEl {
    #[serde(rename = "Provider")]
    provider: Option<Attrs>,
    #[serde(rename = "EventID")]
    event_id: Text,
    #[serde(rename = "Version")]
    version: Text,
    #[serde(rename = "Level")]
    level: Text,
    #[serde(rename = "Task")]
    task: Text,
    #[serde(rename = "Opcode")]
    opcode: Text,
    #[serde(rename = "Keywords")]
    keywords: Text,
    #[serde(rename = "TimeCreated")]
    time_created: Option<Attrs>,
    #[serde(rename = "EventRecordID")]
    record_id: Text,
    #[serde(rename = "Execution")]
    execution: Option<Attrs>,
    #[serde(rename = "Channel")]
    channel: Text,
    #[serde(rename = "Computer")]
    computer: Text,
    #[serde(rename = "Security")]
    security: Option<Attrs>,
}

/// An element whose values are attributes (`{"#attributes": {"Name": …}}`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Attrs {
    #[serde(rename = "#attributes")]
    attributes: Fields,
}

impl Attrs {
    fn get(&self, name: &str) -> Option<&str> {
        self.attributes
            .0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An attribute of an element that may be missing or null.
fn attr<'a>(element: &'a Option<Attrs>, name: &str) -> Option<&'a str> {
    element.as_ref()?.get(name)
}

/// Any JSON value as text: scalars printed, the `#text` of an element with attributes,
/// other objects and arrays as JSON. Null is `None`.
#[derive(Default)]
struct Text(Option<String>);

impl Text {
    fn number(&self) -> Option<u64> {
        crate::rows::parse_long(self.0.as_deref()?).map(|v| v as u64)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, v: &str) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Text, E> {
        Ok(Text(Some(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }

    fn visit_unit<E>(self) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_none<E>(self) -> Result<Text, E> {
        Ok(Text(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
        let mut text = None;
        let mut rest = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "#text" {
                text = Some(map.next_value::<Text>()?.0);
            } else {
                rest.insert(key, map.next_value::<Json>()?);
            }
        }
        Ok(match text {
            Some(text) => Text(text),
            None => Text(Some(Json::Object(rest).to_string())),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Text(Some(Json::Array(items).to_string())))
    }
}

/// Named fields in document order (`EventData`, attributes). Anything else than an
/// object is kept under the name `Data`.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        d.deserialize_any(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("event data")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "#attributes" {
                map.next_value::<serde::de::IgnoredAny>()?;
                continue;
            }
            if let Some(value) = map.next_value::<Text>()?.0 {
                out.push((key, value));
            }
        }
        Ok(Fields(out))
    }

    fn visit_unit<E>(self) -> Result<Fields, E> {
        Ok(Fields::default())
    }

    fn visit_none<E>(self) -> Result<Fields, E> {
        Ok(Fields::default())
    }

    fn visit_str<E>(self, v: &str) -> Result<Fields, E> {
        Ok(Fields(vec![("Data".to_string(), v.to_string())]))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Fields, E> {
        Ok(Fields(vec![("Data".to_string(), v.to_string())]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Fields, A::Error> {
        let text = TextVisitor.visit_seq(seq)?;
        Ok(Fields(
            text.0
                .map(|t| ("Data".to_string(), t))
                .into_iter()
                .collect(),
        ))
    }
}

/// `UserData` wraps its fields in one element named after the event's schema.
#[derive(Default)]
struct UserData(Vec<(String, String)>);

impl<'de> Deserialize<'de> for UserData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<UserData, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UserData;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("user data")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UserData, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "#attributes" {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        continue;
                    }
                    out.extend(map.next_value::<Fields>()?.0);
                }
                Ok(UserData(out))
            }

            fn visit_unit<E>(self) -> Result<UserData, E> {
                Ok(UserData::default())
            }
        }
        d.deserialize_any(V)
    }
}

fn into_event(doc: Doc) -> Result<WinEvent, String> {
    let system = doc.event.system.ok_or("no System element")?;
    let number = |t: &Text| t.number().map(|v| v as u32);
    let mut data = doc.event.event_data.0;
    data.extend(doc.event.user_data.0);
    Ok(WinEvent {
        time_ns: attr(&system.time_created, "SystemTime").and_then(parse_time),
        channel: system.channel.0.unwrap_or_default(),
        provider: attr(&system.provider, "Name")
            .unwrap_or_default()
            .to_string(),
        event_id: number(&system.event_id).ok_or("no EventID")?,
        version: number(&system.version),
        level: number(&system.level),
        task: number(&system.task),
        opcode: number(&system.opcode),
        keywords: system.keywords.0,
        computer: system.computer.0.unwrap_or_default(),
        record_id: system.record_id.number().unwrap_or(0),
        process_id: attr(&system.execution, "ProcessID").and_then(|v| v.parse().ok()),
        thread_id: attr(&system.execution, "ThreadID").and_then(|v| v.parse().ok()),
        user_sid: attr(&system.security, "UserID").map(str::to_string),
        data,
        message: None,
    })
}

/// Reads a rendered record from its JSON bytes.
pub(crate) fn from_bytes(bytes: &[u8]) -> Result<WinEvent, String> {
    let doc: Doc = serde_json::from_slice(bytes)
        .map_err(|e| format!("rendered record is not readable: {e}"))?;
    into_event(doc)
}

/// Reads a record already parsed as JSON (a line of an `evtx` JSON export).
pub(crate) fn from_value(value: &Json) -> Result<WinEvent, String> {
    let doc = Doc::deserialize(value).map_err(|e| format!("not an EVTX record: {e}"))?;
    into_event(doc)
}
