//! Sigma (specification v2.1) for contraband: parse rules, compile them to
//! fast matchers, evaluate them against [`contraband_event::Event`]s, and run
//! correlation rules over the stream of matches.
//!
//! This crate does no I/O: callers hand it file contents.
//!
//! # Using it
//!
//! - Load: [`Loader::new`], [`Loader::add_source`] per file (path, text),
//!   [`Loader::finish`] → [`LoadReport`] (the [`RuleSet`], every
//!   [`LoadFailure`] with file, document, rule id/title and reason, grouped by
//!   [`LoadReport::failures_by_kind`], plus [`LoadWarning`]s).
//! - Match: [`RuleSet::matches_into`] (logsource-indexed), or with a shared
//!   literal [`Prefilter`] via [`RuleSet::matches_prefiltered`]; engines
//!   cache a [`Selection`] per logsource ([`RuleSet::select`], shared among
//!   logsources of equal [`RuleSet::selection_key`]) and use
//!   [`RuleSet::matches_selection`]. A selection reads each field once for
//!   all its rules, paths that share a prefix continuing from it; below
//!   the prefilter's threshold it skips the rules whose required words
//!   (`verb: create`) a field's value is not. For each hit,
//!   [`RuleSet::matched_fields`] gives the fields and values that matched.
//! - Correlate: [`CorrelationEngine::new`] over [`RuleSet::correlations`],
//!   then [`CorrelationEngine::feed`] every (rule, event) match;
//!   [`RuleSet::emits_alerts`] says whether a base rule's own matches should
//!   be reported (`generate`).
//! - Decoders may parse only [`RuleSet::required_fields`] (all fields when
//!   [`RuleSet::needs_all_fields`]).
//!
//! # Semantics chosen where the specification leaves room
//!
//! - Matching is ASCII-case-insensitive unless `|cased`; literals with
//!   cased non-ASCII letters fall back to a Unicode case-insensitive regex.
//! - `*`/`?` are wildcards in every string value, also with
//!   `contains`/`startswith`/`endswith`; `\*`, `\?`, `\\` escape; any other
//!   backslash is literal. `|re` values are regexes (Rust `regex` syntax:
//!   no look-around or back-references; such rules fail to load with the
//!   regex error) and are case-sensitive unless `|i`.
//! - Numbers and booleans compare as their text (`4688` = `"4688"`);
//!   `lt`/`gt`… compare numerically (numeric strings and `0x` hex accepted).
//! - `null` matches an absent field or a null (or empty-array) value; `''`
//!   only the empty string. `|neq` negates the whole item.
//! - Field-less (keyword) values are substring searches over every scalar.
//! - Arrays fan out: a field matches when any element matches; `|all` needs
//!   each value to match some element.
//! - Correlations evaluate on every fed match, in event time; when the
//!   condition holds the correlation fires and that group's window restarts.
//!   `lt`/`lte` conditions ("fewer than") use tumbling windows starting at
//!   a group's first event, judged when a later event passes the window's
//!   end or on [`CorrelationEngine::advance`] / [`CorrelationEngine::flush`].
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

mod block_yaml;
mod compile;
mod condition;
mod correlation;
mod error;
mod field_memo;
mod gate;
mod pattern;
mod prefilter;
mod regex_literals;
mod rule;
mod ruleset;
mod scalar_text;
mod scan_memo;

pub use compile::{Cmp, Node};
pub use condition::{parse_condition, Cond, ConditionError, Target};
pub use correlation::{
    CorrOp, CorrelationCondition, CorrelationEngine, CorrelationLimits, CorrelationMatch,
    CorrelationRule, CorrelationType, RuleRef,
};
pub use error::{LoadFailure, LoadWarning, RuleError};
pub use prefilter::{Prefilter, PrefilterScratch, Selection};
pub use rule::{
    check_yaml_nesting, Related, Rule, RuleLogSource, RuleMeta, RuleOrigin, MAX_YAML_FLOW_DEPTH,
};
pub use ruleset::{LoadOptions, LoadReport, Loader, MatchedField, RuleSet, SelectionKey};

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

#[cfg(test)]
mod test_support {
    use contraband_event::Event;

    /// The JSON object of `pairs`, in order; a name met again keeps its
    /// place and takes the later value.
    pub(crate) fn object<'n>(
        pairs: impl IntoIterator<Item = (&'n str, serde_json::Value)>,
    ) -> serde_json::Value {
        serde_json::Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// Records read by the JSON decoder, one a line, as one stream: the
    /// decoder keeps the shapes of the records it meets again, and shares
    /// one container context among the records naming it alike.
    pub(crate) fn decoded_stream(records: &[serde_json::Value]) -> Vec<Event> {
        let opts = contraband_sources::Options {
            format: Some(contraband_sources::Format::GenericJson),
            ..Default::default()
        };
        let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
        contraband_sources::read("test", Box::new(std::io::Cursor::new(lines)), &opts)
            .map(|e| e.expect("decoded"))
            .collect()
    }
}

#[cfg(test)]
mod thread_safety {
    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn shared_types_are_send_and_sync() {
        send_sync::<crate::RuleSet>();
        send_sync::<crate::Prefilter>();
        send_sync::<crate::CorrelationEngine>();
    }
}
