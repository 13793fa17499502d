//! Alerting & Detection Strategy documents (`detections/strategies/*.yml`).
//!
//! Each strategy is the reason a set of rules exists: what it is meant to
//! catch, what it cannot see, how to tell a false positive, how to prove it
//! works and what to do when it fires. Alerts carry their strategy's id and
//! priority; `ads render` turns a strategy into a report.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    pub id: String,
    pub title: String,
    pub goal: String,
    pub categorization: Categorization,
    pub strategy_abstract: String,
    pub technical_context: String,
    #[serde(default)]
    pub blind_spots: Vec<String>,
    #[serde(default)]
    pub assumptions: Vec<String>,
    #[serde(default)]
    pub false_positives: Vec<String>,
    pub priority: Priority,
    #[serde(default)]
    pub priority_justification: String,
    #[serde(default)]
    pub validation: Vec<Validation>,
    #[serde(default)]
    pub response: Vec<String>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    pub rules: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Categorization {
    pub techniques: Vec<Technique>,
    #[serde(default)]
    pub tactics: Vec<String>,
    #[serde(default)]
    pub platforms: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Technique {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Medium,
    High,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    pub name: String,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub commands: Vec<String>,
    #[serde(default)]
    pub expected_rules: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub title: String,
    pub url: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct StrategyError {
    pub path: String,
    pub message: String,
}

impl Strategy {
    pub fn parse(path: &str, text: &str) -> Result<Strategy, StrategyError> {
        contraband_sigma::check_yaml_nesting(text).map_err(|message| StrategyError {
            path: path.to_string(),
            message,
        })?;
        let strategy: Strategy = yaml_serde::from_str(text).map_err(|e| StrategyError {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        if strategy.rules.is_empty() {
            return Err(StrategyError {
                path: path.to_string(),
                message: format!("strategy {} lists no rules", strategy.id),
            });
        }
        Ok(strategy)
    }
}

/// The built-in strategies. A strategy that fails to parse is a build
/// defect, reported rather than hidden.
pub fn builtin_strategies() -> (Vec<Strategy>, Vec<StrategyError>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for (path, text) in contraband_pack::files_under("strategies/") {
        match Strategy::parse(path, text) {
            Ok(s) => ok.push(s),
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}
