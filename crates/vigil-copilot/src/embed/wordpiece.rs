//! The uncased BERT tokenizer the embedding model was trained with, as its
//! `tokenizer.json` describes it: the BERT normalizer (drop control characters, space out
//! CJK ideographs, strip accents, lower-case), the BERT pre-tokenizer (split on white
//! space, every punctuation mark a word of its own), WordPiece (greedy longest match,
//! `##` on continuations), then `[CLS] … [SEP]`, truncated to `max_len` ids.
//!
//! Errors are reasons only; the caller names the file they come from.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this file; a bad one is a bug every test catches.
    Regex::new(pattern).unwrap_or_else(|e| panic!("tokenizer pattern {pattern:?}: {e}"))
}

/// What the normalizer drops: U+FFFD and every "other" character (control, format,
/// surrogate, private use, unassigned) except tab, CR and LF, which become spaces.
static DROP: LazyLock<Regex> = LazyLock::new(|| re(r"[\x{FFFD}\pC--[\t\n\r]]"));
/// Non-spacing marks, which accent stripping removes after canonical decomposition.
static MARKS: LazyLock<Regex> = LazyLock::new(|| re(r"\p{Mn}"));
/// A pre-token: one punctuation mark (Unicode P* or ASCII punctuation), or a run of
/// characters that are neither punctuation nor white space.
static WORD: LazyLock<Regex> = LazyLock::new(|| re(r"[\pP[:punct:]]|[^\s\pP[:punct:]]+"));

/// The CJK ideograph blocks BERT tokenizes one character at a time.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B920..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

/// A WordPiece vocabulary with BERT's normalizer and pre-tokenizer.
#[derive(Debug, Clone)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    unk: u32,
    cls: u32,
    sep: u32,
    prefix: String,
    max_word_chars: usize,
    lowercase: bool,
    strip_accents: bool,
    /// The most ids one encoding has, `[CLS]` and `[SEP]` included.
    pub max_len: usize,
}

/// Settings of a WordPiece tokenizer beyond its vocabulary.
struct Options<'a> {
    unk: &'a str,
    prefix: &'a str,
    max_word_chars: usize,
    lowercase: bool,
    strip_accents: bool,
    max_len: usize,
}

impl Default for Options<'_> {
    /// BERT's uncased defaults.
    fn default() -> Self {
        Options {
            unk: "[UNK]",
            prefix: "##",
            max_word_chars: 100,
            lowercase: true,
            strip_accents: true,
            max_len: 512,
        }
    }
}

impl WordPiece {
    /// Reads a Hugging Face `tokenizer.json` whose model is WordPiece.
    pub fn from_tokenizer_json(text: &str) -> Result<WordPiece, String> {
        let json: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let model = &json["model"];
        if model["type"] != "WordPiece" {
            return Err(format!(
                "the tokenizer model is {}, not WordPiece",
                model["type"]
            ));
        }
        let entries = model["vocab"]
            .as_object()
            .ok_or("model.vocab is not an object of token ids")?;
        let mut vocab = HashMap::with_capacity(entries.len());
        for (token, id) in entries {
            let id = id
                .as_u64()
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| format!("the id of {token:?} is not a number below 2^32"))?;
            vocab.insert(token.clone(), id);
        }
        let count = |v: &Value, what: &str, default: usize| match v {
            Value::Null => Ok(default),
            v => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| format!("{what} is not a whole number")),
        };
        let defaults = Options::default();
        let normalizer = &json["normalizer"];
        let lowercase = normalizer["lowercase"].as_bool().unwrap_or(true);
        let options = Options {
            unk: model["unk_token"].as_str().unwrap_or(defaults.unk),
            prefix: model["continuing_subword_prefix"]
                .as_str()
                .unwrap_or(defaults.prefix),
            max_word_chars: count(
                &model["max_input_chars_per_word"],
                "model.max_input_chars_per_word",
                defaults.max_word_chars,
            )?,
            lowercase,
            // Left unset, accent stripping follows lower-casing (as in the BERT normalizer).
            strip_accents: normalizer["strip_accents"].as_bool().unwrap_or(lowercase),
            max_len: count(
                &json["truncation"]["max_length"],
                "truncation.max_length",
                defaults.max_len,
            )?,
        };
        WordPiece::new(vocab, options)
    }

    /// Reads a `vocab.txt` (one token a line, its id the line number) with BERT's uncased
    /// defaults.
    pub fn from_vocab_txt(text: &str, max_len: usize) -> Result<WordPiece, String> {
        let vocab = text.lines().zip(0u32..).map(|(t, i)| (t.to_string(), i));
        WordPiece::new(
            vocab.collect(),
            Options {
                max_len,
                ..Options::default()
            },
        )
    }

    fn new(vocab: HashMap<String, u32>, o: Options<'_>) -> Result<WordPiece, String> {
        let id = |token: &str| {
            vocab
                .get(token)
                .copied()
                .ok_or_else(|| format!("the vocabulary has no {token} token"))
        };
        if o.max_len < 2 {
            return Err(format!(
                "a maximum length of {} leaves no room for [CLS] and [SEP]",
                o.max_len
            ));
        }
        Ok(WordPiece {
            unk: id(o.unk)?,
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            vocab,
            prefix: o.prefix.to_string(),
            max_word_chars: o.max_word_chars,
            lowercase: o.lowercase,
            strip_accents: o.strip_accents,
            max_len: o.max_len,
        })
    }

    fn normalize(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in DROP.replace_all(text, "").chars() {
            match c {
                c if c.is_whitespace() => out.push(' '),
                c if is_cjk(c) => out.extend([' ', c, ' ']),
                c => out.push(c),
            }
        }
        if self.strip_accents {
            let decomposed: String = out.nfd().collect();
            out = MARKS.replace_all(&decomposed, "").into_owned();
        }
        if self.lowercase {
            out = out.to_lowercase();
        }
        out
    }

    /// Appends the pieces of one word, or one `[UNK]` when some part of it has no piece.
    fn push_word(&self, word: &str, ids: &mut Vec<u32>) {
        if word.chars().count() > self.max_word_chars {
            return ids.push(self.unk);
        }
        let mark = ids.len();
        let mut piece = String::new();
        let mut start = 0;
        while start < word.len() {
            let mut end = word.len();
            let found = loop {
                piece.clear();
                if start > 0 {
                    piece.push_str(&self.prefix);
                }
                piece.push_str(&word[start..end]);
                if let Some(&id) = self.vocab.get(&piece) {
                    break Some(id);
                }
                // One character shorter (not one byte).
                match word[start..end].char_indices().next_back() {
                    Some((i, _)) if i > 0 => end = start + i,
                    _ => break None,
                }
            };
            let Some(id) = found else {
                ids.truncate(mark);
                return ids.push(self.unk);
            };
            ids.push(id);
            start = end;
        }
    }

    /// The ids of one text: `[CLS]`, its pieces, `[SEP]`; at most `max_len` in all.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![self.cls];
        for word in WORD.find_iter(&self.normalize(text)) {
            if ids.len() >= self.max_len - 1 {
                break;
            }
            self.push_word(word.as_str(), &mut ids);
        }
        ids.truncate(self.max_len - 1);
        ids.push(self.sep);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> WordPiece {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n,\nworld\n!\nun\n##aff\n##able\ncafe\n";
        WordPiece::from_vocab_txt(vocab, 8).expect("the tiny vocabulary")
    }

    #[test]
    fn normalizes_splits_and_matches_pieces() {
        let t = tiny();
        assert_eq!(t.encode("Héllo,\tWORLD!"), [2, 4, 5, 6, 7, 3]);
        assert_eq!(t.encode("unaffable CAFÉ"), [2, 8, 9, 10, 11, 3]);
        assert_eq!(
            t.encode("unx"),
            [2, 1, 3],
            "an unknown tail makes the word [UNK]"
        );
        assert_eq!(
            t.encode("\u{200b}hel\u{0}lo"),
            [2, 4, 3],
            "format and control characters go"
        );
        assert_eq!(t.encode(""), [2, 3]);
        assert_eq!(t.encode(&"hello ".repeat(20)).len(), 8);
    }

    #[test]
    fn bad_vocabularies_say_why() {
        let no_cls = WordPiece::from_vocab_txt("[UNK]\n[SEP]\n", 8).err();
        assert_eq!(no_cls.as_deref(), Some("the vocabulary has no [CLS] token"));
        let short = WordPiece::from_vocab_txt("[UNK]\n[CLS]\n[SEP]\n", 1).err();
        assert!(short.is_some_and(|e| e.contains("no room")));
        let bpe = WordPiece::from_tokenizer_json(r#"{"model": {"type": "BPE"}}"#).err();
        assert!(
            bpe.as_deref().is_some_and(|e| e.contains("not WordPiece")),
            "{bpe:?}"
        );
    }

    /// Ids computed by a Python port of the Hugging Face BERT tokenizer for Vigil's
    /// embedding model; they cover accents, punctuation runs, Windows paths, command
    /// lines, CJK, zero-width characters and over-long words.
    #[test]
    fn minilm_tokenizer_matches_reference_ids() {
        let path = super::super::tests::model_dir().join("tokenizer.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let t = WordPiece::from_tokenizer_json(&text).expect("tokenizer.json parses");
        assert_eq!(t.max_len, 128);
        let long = "x".repeat(101);
        let cases: &[(&str, &[u32])] = &[
            (
                "Show high severity incidents",
                &[101, 2265, 2152, 18976, 10444, 102],
            ),
            (
                "Which devices copied data to a USB drive?",
                &[
                    101, 2029, 5733, 15826, 2951, 2000, 1037, 18833, 3298, 1029, 102,
                ],
            ),
            (
                "Summarize incident 12",
                &[101, 7680, 7849, 4697, 5043, 2260, 102],
            ),
            (
                "Héllo, WORLD!! naïve café",
                &[101, 7592, 1010, 2088, 999, 999, 15743, 7668, 102],
            ),
            (
                "C:\\Windows\\System32\\cmd.exe /c whoami",
                &[
                    101, 1039, 1024, 1032, 3645, 1032, 2291, 16703, 1032, 4642, 2094, 1012, 4654,
                    2063, 1013, 1039, 23281, 4328, 102,
                ],
            ),
            (
                "lsass.exe dumped by rundll32 comsvcs.dll MiniDump",
                &[
                    101, 1048, 20939, 2015, 1012, 4654, 2063, 14019, 2011, 2448, 19422, 2140,
                    16703, 4012, 2015, 25465, 2015, 1012, 21469, 2140, 7163, 8566, 8737, 102,
                ],
            ),
            (
                "東京 ＡＢＣ\u{a0}tab\there\u{200b}zero",
                &[101, 1879, 1755, 100, 21628, 2182, 6290, 2080, 102],
            ),
            (long.as_str(), &[101, 100, 102]),
        ];
        for (text, want) in cases {
            assert_eq!(&t.encode(text), want, "{text}");
        }
        assert_eq!(t.encode(&"incident ".repeat(300)).len(), 128);
    }
}
