//! Where the model is and how to reach it: `[model]` in `<data-dir>/vigil.toml`, or
//! environment variables (which win).
//!
//! ```toml
//! [model]
//! endpoint = "http://127.0.0.1:11434/v1"   # OpenAI-compatible base URL
//! model = "llama3.1"
//! # api_key = "…"                          # or VIGIL_MODEL_API_KEY
//! # kind = "azure"                         # Azure OpenAI: deployment + api_version
//! # deployment = "gpt-4o"
//! # api_version = "2024-06-01"
//! timeout_secs = 60
//! retries = 2
//! stream = true
//! # pseudonymise = true                    # default: on for endpoints off this machine
//! ```

use std::path::Path;

use serde::Deserialize;

/// How to reach an OpenAI-compatible chat completions endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ModelConfig {
    pub endpoint: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
    /// `openai` (default) or `azure`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub deployment: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_stream")]
    pub stream: bool,
    #[serde(default, rename = "pseudonymise")]
    pub pseudonymise_override: Option<bool>,
}

fn default_timeout() -> u64 {
    60
}
fn default_retries() -> u32 {
    2
}
fn default_stream() -> bool {
    true
}

#[derive(Deserialize)]
struct File {
    model: Option<ModelConfig>,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct ConfigError {
    pub file: String,
    pub reason: String,
}

impl ModelConfig {
    /// A configuration for `endpoint` with the defaults.
    pub fn new(endpoint: &str) -> ModelConfig {
        ModelConfig {
            endpoint: endpoint.to_string(),
            model: None,
            api_key: None,
            kind: None,
            deployment: None,
            api_version: None,
            timeout_secs: default_timeout(),
            retries: default_retries(),
            stream: default_stream(),
            pseudonymise_override: None,
        }
    }

    /// The model of a data directory: `vigil.toml`'s `[model]`, with `VIGIL_MODEL_*`
    /// environment variables over it. `None` when neither names an endpoint.
    pub fn load(data_dir: &Path) -> Result<Option<ModelConfig>, ConfigError> {
        let path = data_dir.join("vigil.toml");
        let mut config = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let file: File = toml::from_str(&text).map_err(|e| ConfigError {
                    file: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                file.model
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(ConfigError {
                    file: path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(endpoint) = env("VIGIL_MODEL_ENDPOINT") {
            let base = config.take().unwrap_or_else(|| ModelConfig::new(&endpoint));
            config = Some(ModelConfig { endpoint, ..base });
        }
        if let Some(c) = &mut config {
            if let Some(v) = env("VIGIL_MODEL") {
                c.model = Some(v);
            }
            if let Some(v) = env("VIGIL_MODEL_API_KEY") {
                c.api_key = Some(v);
            }
            if let Some(v) = env("VIGIL_MODEL_KIND") {
                c.kind = Some(v);
            }
            if let Some(v) = env("VIGIL_MODEL_DEPLOYMENT") {
                c.deployment = Some(v);
            }
            if let Some(v) = env("VIGIL_MODEL_API_VERSION") {
                c.api_version = Some(v);
            }
        }
        Ok(config)
    }

    pub fn is_azure(&self) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("azure"))
    }

    /// The chat completions URL.
    pub fn completions_url(&self) -> String {
        let base = self.endpoint.trim_end_matches('/');
        if self.is_azure() {
            format!(
                "{base}/openai/deployments/{}/chat/completions?api-version={}",
                self.deployment
                    .as_deref()
                    .or(self.model.as_deref())
                    .unwrap_or("default"),
                self.api_version.as_deref().unwrap_or("2024-06-01")
            )
        } else if base.ends_with("/chat/completions") {
            base.to_string()
        } else {
            format!("{base}/chat/completions")
        }
    }

    pub fn auth_headers(&self) -> Vec<(String, String)> {
        match &self.api_key {
            Some(k) if self.is_azure() => vec![("api-key".into(), k.clone())],
            Some(k) => vec![("Authorization".into(), format!("Bearer {k}"))],
            None => Vec::new(),
        }
    }

    /// True when the endpoint is on this machine.
    pub fn is_loopback(&self) -> bool {
        let rest = self
            .endpoint
            .split_once("://")
            .map_or(self.endpoint.as_str(), |(_, r)| r);
        let host = if let Some(v6) = rest.strip_prefix('[') {
            v6.split(']').next().unwrap_or("")
        } else {
            rest.split(['/', ':']).next().unwrap_or("")
        };
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Whether identifying values are replaced before calls: as configured, else when
    /// the endpoint is off this machine.
    pub fn pseudonymise(&self) -> bool {
        self.pseudonymise_override.unwrap_or(!self.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_endpoints_are_recognised() {
        assert!(ModelConfig::new("http://127.0.0.1:8080/v1").is_loopback());
        assert!(ModelConfig::new("http://localhost/v1").is_loopback());
        assert!(ModelConfig::new("http://[::1]:9000").is_loopback());
        assert!(!ModelConfig::new("https://api.example.com/v1").is_loopback());
        assert!(ModelConfig::new("https://api.example.com/v1").pseudonymise());
    }

    #[test]
    fn azure_urls_carry_the_deployment_and_version() {
        let mut c = ModelConfig::new("https://res.openai.azure.example/");
        c.kind = Some("azure".into());
        c.deployment = Some("gpt4o".into());
        c.api_key = Some("k".into());
        assert_eq!(
            c.completions_url(),
            "https://res.openai.azure.example/openai/deployments/gpt4o/chat/completions?api-version=2024-06-01"
        );
        assert_eq!(
            c.auth_headers(),
            vec![("api-key".to_string(), "k".to_string())]
        );
    }
}
