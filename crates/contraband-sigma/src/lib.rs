//! Sigma (specification v2.1) for contraband: parse rules, compile them to
//! fast matchers, evaluate them against [`contraband_event::Event`]s, and run
//! correlation rules over the stream of matches.
//!
//! This crate does no I/O: callers hand it file contents.
//!
//! ```
//! use contraband_sigma::{Loader, LoadOptions};
//! let mut loader = Loader::new(LoadOptions::default());
//! loader.add_source("inline.yml", r#"
//! title: Whoami
//! logsource: {product: linux, category: process_creation}
//! detection:
//!   sel: {Image|endswith: /whoami}
//!   condition: sel
//! "#);
//! let report = loader.finish();
//! assert_eq!(report.ruleset.len(), 1);
//! assert!(report.failures.is_empty());
//! ```

mod compile;
mod condition;
mod correlation;
mod error;
mod pattern;
mod prefilter;
mod rule;
mod ruleset;

pub use compile::{Cmp, Node};
pub use condition::{parse_condition, Cond, ConditionError, Target};
pub use correlation::{
    CorrelationCondition, CorrelationEngine, CorrelationLimits, CorrelationMatch, CorrelationRule,
    CorrelationType, RuleRef,
};
pub use error::{LoadFailure, LoadWarning, RuleError};
pub use prefilter::{Prefilter, PrefilterScratch};
pub use rule::{Related, Rule, RuleLogSource, RuleMeta, RuleOrigin};
pub use ruleset::{LoadOptions, LoadReport, Loader, MatchedField, RuleSet};

/// Bounds that keep hostile rules from exhausting memory or time.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Compiled size limit per regex (bytes), also the lazy DFA cache limit.
    pub regex_size: usize,
    /// Regex syntax nesting limit.
    pub regex_nest: u32,
    /// Maximum condition / selection nesting depth.
    pub max_depth: usize,
    /// Maximum number of values in one list (after expansion).
    pub max_values: usize,
    /// Maximum length of one value or regex.
    pub max_pattern_len: usize,
    /// Maximum size of one rule file.
    pub max_file_bytes: usize,
    /// Maximum YAML documents in one file.
    pub max_documents: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            regex_size: 10 * 1024 * 1024,
            regex_nest: 100,
            max_depth: 64,
            max_values: 10_000,
            max_pattern_len: 16 * 1024,
            max_file_bytes: 4 * 1024 * 1024,
            max_documents: 256,
        }
    }
}
