//! The whole-column search behind `has` and `contains` with a literal needle must agree
//! with the row-by-row definition on any data, sliced arrays and nulls included.

use arrow::array::{Array, StringArray};
use proptest::prelude::*;

use crate::udf::strings::{Bounds, has_term, scan_column};

fn texts() -> impl Strategy<Value = Vec<Option<String>>> {
    let piece = prop::sample::select(vec![
        "cmd",
        "CMD",
        "powershell",
        "Power",
        "shell",
        "-enc",
        " ",
        "\\",
        ".exe",
        "x",
        "é",
        "",
        "a-b",
        "_",
        "1",
        "cmd.exe",
    ]);
    let text = prop::collection::vec(piece, 0..8).prop_map(|p| p.concat());
    prop::collection::vec(prop::option::weighted(0.9, text), 1..40)
}

proptest! {
    #[test]
    fn column_scan_matches_the_row_by_row_definition(
        rows in texts(),
        needle in prop::sample::select(vec!["cmd", "Power", "shell", "-enc", "cmd.exe", "x", "a-b", ".exe"]),
        case_sensitive in any::<bool>(),
        mode in 0u8..4,
        skip in 0usize..3,
    ) {
        let all = StringArray::from(rows.clone());
        let skip = skip.min(all.len() - 1);
        let hay = all.slice(skip, all.len() - skip);
        let terms = match mode {
            0 => Some(Bounds { start: true, end: true }),
            1 => Some(Bounds { start: true, end: false }),
            2 => Some(Bounds { start: false, end: true }),
            _ => None,
        };
        let got = scan_column(&hay, needle.as_bytes(), case_sensitive, terms);
        for i in 0..hay.len() {
            let expected = if hay.is_null(i) {
                false
            } else {
                let text = hay.value(i);
                match terms {
                    Some(t) => has_term(text, needle, case_sensitive, t.start, t.end),
                    None if case_sensitive => text.contains(needle),
                    None => text.to_ascii_lowercase().contains(&needle.to_ascii_lowercase()),
                }
            };
            prop_assert_eq!(got.value(i), expected, "row {} {:?}", i, hay.value(i));
        }
    }
}
