//! The BERT encoder of the embedding model on candle: post-LayerNorm layers, absolute
//! position embeddings, exact (erf) GELU. Weights are read by the tensor names of a
//! Hugging Face `BertModel` checkpoint (`embeddings.*`, `encoder.layer.N.*`).

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder, embedding, layer_norm, linear};
use serde::Deserialize;

/// The fields of `config.json` the encoder needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "Config::type_vocab_size")]
    pub type_vocab_size: usize,
    #[serde(default = "Config::layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "Config::hidden_act")]
    pub hidden_act: String,
}

impl Config {
    fn type_vocab_size() -> usize {
        2
    }
    fn layer_norm_eps() -> f64 {
        1e-12
    }
    fn hidden_act() -> String {
        "gelu".into()
    }

    /// Why the encoder cannot run this configuration, if it cannot.
    pub fn unsupported(&self) -> Option<String> {
        if self.hidden_act != "gelu" {
            return Some(format!(
                "hidden_act is {:?}; only \"gelu\" is supported",
                self.hidden_act
            ));
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Some(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        None
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    up: Linear,
    down: Linear,
    out_norm: LayerNorm,
}

pub struct Bert {
    words: Embedding,
    positions: Embedding,
    token_types: Embedding,
    norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
}

impl Bert {
    pub fn load(vb: VarBuilder, c: &Config) -> Result<Bert> {
        let (h, eps) = (c.hidden_size, c.layer_norm_eps);
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let vb = vb.pp(format!("encoder.layer.{i}"));
            let attention = vb.pp("attention.self");
            let attention_out = vb.pp("attention.output");
            layers.push(Layer {
                query: linear(h, h, attention.pp("query"))?,
                key: linear(h, h, attention.pp("key"))?,
                value: linear(h, h, attention.pp("value"))?,
                attention_out: linear(h, h, attention_out.pp("dense"))?,
                attention_norm: layer_norm(h, eps, attention_out.pp("LayerNorm"))?,
                up: linear(h, c.intermediate_size, vb.pp("intermediate.dense"))?,
                down: linear(c.intermediate_size, h, vb.pp("output.dense"))?,
                out_norm: layer_norm(h, eps, vb.pp("output.LayerNorm"))?,
            });
        }
        let vb = vb.pp("embeddings");
        Ok(Bert {
            words: embedding(c.vocab_size, h, vb.pp("word_embeddings"))?,
            positions: embedding(c.max_position_embeddings, h, vb.pp("position_embeddings"))?,
            token_types: embedding(c.type_vocab_size, h, vb.pp("token_type_embeddings"))?,
            norm: layer_norm(h, eps, vb.pp("LayerNorm"))?,
            layers,
            heads: c.num_attention_heads,
        })
    }

    /// The last hidden states (batch, len, hidden) of `ids` (batch, len; u32) where `mask`
    /// (batch, len; f32) is 1 on tokens and 0 on padding. Every token is of type 0.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, len) = ids.dims2()?;
        let x = self
            .words
            .forward(ids)?
            .broadcast_add(&self.positions.embeddings().narrow(0, 0, len)?)?
            .broadcast_add(&self.token_types.embeddings().get(0)?)?;
        let mut x = self.norm.forward(&x)?;
        // Added to the attention scores: 0 on tokens, -1e9 on padding.
        let bias = mask.affine(1e9, -1e9)?.reshape((batch, 1, 1, len))?;
        for layer in &self.layers {
            x = self.layer(layer, &x, &bias)?;
        }
        Ok(x)
    }

    fn layer(&self, l: &Layer, x: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let (batch, len, h) = x.dims3()?;
        let head = h / self.heads;
        let heads = |t: Tensor| {
            t.reshape((batch, len, self.heads, head))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = heads(l.query.forward(x)?)?;
        let k = heads(l.key.forward(x)?)?;
        let v = heads(l.value.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? / (head as f64).sqrt())?.broadcast_add(bias)?;
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = weights
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((batch, len, h))?;
        let x = l
            .attention_norm
            .forward(&(l.attention_out.forward(&context)? + x)?)?;
        let up = l.up.forward(&x)?.gelu_erf()?;
        l.out_norm.forward(&(l.down.forward(&up)? + &x)?)
    }
}

/// The mean of the hidden states where `mask` is 1, scaled to unit length: (batch, hidden).
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let sum = hidden.broadcast_mul(&mask)?.sum(1)?;
    let mean = sum.broadcast_div(&mask.sum(1)?.clamp(1e-9f32, f32::MAX)?)?;
    let norm = mean
        .sqr()?
        .sum_keepdim(1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    mean.broadcast_div(&norm)
}
