//! Typed load errors. Every rule that cannot be loaded yields one
//! [`LoadFailure`] naming the file, the document, the rule and the reason.

use std::fmt;

use crate::condition::ConditionError;

/// Why one rule document could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuleError {
    #[error("YAML: {0}")]
    Yaml(String),
    #[error("missing required `{0}`")]
    Missing(&'static str),
    #[error("`{field}`: {reason}")]
    Invalid { field: String, reason: String },
    #[error("unknown modifier `{modifier}` in `{key}`")]
    UnknownModifier { key: String, modifier: String },
    #[error("`{key}`: {reason}")]
    BadModifiers { key: String, reason: String },
    #[error("condition: {0}")]
    Condition(#[from] ConditionError),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("regex `{pattern}`: {reason}")]
    Regex { pattern: String, reason: String },
    #[error("unresolved placeholder `%{0}%` (no value configured)")]
    Placeholder(String),
    #[error("limit exceeded: {0}")]
    Limit(String),
    #[error("correlation references unknown rule `{0}`")]
    UnknownReference(String),
    #[error("correlation references rule `{reference}` which failed to load: {reason}")]
    BrokenReference { reference: String, reason: String },
    #[error("duplicate rule id `{0}` (first loaded copy kept)")]
    DuplicateId(String),
}

impl RuleError {
    /// A short stable category for grouping failures in summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            RuleError::Yaml(_) => "yaml",
            RuleError::Missing(_) => "missing-field",
            RuleError::Invalid { .. } => "invalid-field",
            RuleError::UnknownModifier { .. } => "unknown-modifier",
            RuleError::BadModifiers { .. } => "bad-modifiers",
            RuleError::Condition(_) => "condition",
            RuleError::Unsupported(_) => "unsupported",
            RuleError::Regex { .. } => "regex",
            RuleError::Placeholder(_) => "placeholder",
            RuleError::Limit(_) => "limit",
            RuleError::UnknownReference(_) => "unknown-reference",
            RuleError::BrokenReference { .. } => "broken-reference",
            RuleError::DuplicateId(_) => "duplicate-id",
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> RuleError {
        RuleError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// One rule (or document) that did not load, and why.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    /// The file (or other source name) given to the loader.
    pub path: String,
    /// 0-based YAML document index within the file.
    pub document: usize,
    pub id: Option<String>,
    pub title: Option<String>,
    pub error: RuleError,
}

impl fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if self.document > 0 {
            write!(f, " (document {})", self.document + 1)?;
        }
        match (&self.title, &self.id) {
            (Some(t), Some(i)) => write!(f, ": rule {t:?} ({i})")?,
            (Some(t), None) => write!(f, ": rule {t:?}")?,
            (None, Some(i)) => write!(f, ": rule {i}")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.error)
    }
}

impl std::error::Error for LoadFailure {}

/// Something a rule loaded with but that a reviewer should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadWarning {
    pub path: String,
    pub document: usize,
    pub id: Option<String>,
    pub title: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if self.document > 0 {
            write!(f, " (document {})", self.document + 1)?;
        }
        if let Some(t) = &self.title {
            write!(f, ": rule {t:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}
