//! Enumerated column values of the catalog (every `ActionType` and the like), matched
//! against the words of a question: "pnp device connected" finds
//! `DeviceEvents | where ActionType == "PnpDeviceConnected"`.

use std::sync::LazyLock;

/// The enumerations, as `Table<TAB>Column<TAB>Value` lines.
const ENUMERATIONS: &str = include_str!("../../data/enumerations.tsv");

/// Columns whose values name what happened; other enumerations (platforms, levels) are
/// too vague to choose a table by.
const ACTION_COLUMNS: &[&str] = &["ActionType", "ActivityType", "Action"];

/// One value matched in a question.
#[derive(Debug, Clone, PartialEq)]
pub struct Enumerated {
    pub table: String,
    pub column: String,
    pub value: String,
    /// The value as words ("pnp device connected").
    pub words: String,
}

struct Entry {
    table: &'static str,
    column: &'static str,
    value: &'static str,
    words: Vec<String>,
}

/// `UsbDriveMounted` → `["usb", "drive", "mounted"]`.
fn words_of(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = value.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let boundary = c.is_uppercase()
            && i > 0
            && (chars[i - 1].is_lowercase()
                || chars.get(i + 1).is_some_and(|n| n.is_lowercase())
                    && chars[i - 1].is_uppercase());
        if !c.is_alphanumeric() || boundary {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            if !c.is_alphanumeric() {
                continue;
            }
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

static ENTRIES: LazyLock<Vec<Entry>> = LazyLock::new(|| {
    ENUMERATIONS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut parts = l.split('\t');
            let (table, column, value) = (parts.next()?, parts.next()?, parts.next()?);
            ACTION_COLUMNS.contains(&column).then(|| Entry {
                table,
                column,
                value,
                words: words_of(value),
            })
        })
        .filter(|e| e.words.len() >= 2)
        .collect()
});

/// A word of the question matches a word of the value when one starts with the other
/// and they share at least four letters ("mounted"/"mount", "created"/"create").
fn word_matches(question_word: &str, value_word: &str) -> bool {
    if question_word == value_word {
        return true;
    }
    let (short, long) = if question_word.len() <= value_word.len() {
        (question_word, value_word)
    } else {
        (value_word, question_word)
    };
    short.len() >= 4 && long.starts_with(&short[..short.len().min(long.len())])
}

/// The value whose words all appear in the question, the one with most words winning.
pub fn find(lower_question: &str) -> Option<Enumerated> {
    let words: Vec<&str> = lower_question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    ENTRIES
        .iter()
        .filter(|e| {
            e.words
                .iter()
                .all(|vw| words.iter().any(|qw| word_matches(qw, vw)))
        })
        .max_by_key(|e| (e.words.len(), std::cmp::Reverse(e.value.len())))
        .map(|e| Enumerated {
            table: e.table.to_string(),
            column: e.column.to_string(),
            value: e.value.to_string(),
            words: e.words.join(" "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_becomes_words() {
        assert_eq!(
            words_of("PnpDeviceConnected"),
            ["pnp", "device", "connected"]
        );
        assert_eq!(
            words_of("AsrLsassCredentialTheftBlocked"),
            ["asr", "lsass", "credential", "theft", "blocked"]
        );
    }

    #[test]
    fn a_question_finds_its_action_type() {
        let e = find("show pnp devices connected this week").expect("a match");
        assert_eq!(
            (e.table.as_str(), e.value.as_str()),
            ("DeviceEvents", "PnpDeviceConnected")
        );
        let e = find("were any scheduled tasks deleted").expect("a match");
        assert_eq!(e.value, "ScheduledTaskDeleted");
    }
}
