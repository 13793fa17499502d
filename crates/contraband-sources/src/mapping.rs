//! Field mappings as data: one YAML file per format in `mappings/`, embedded
//! at build time and replaceable from a directory at run time.
//!
//! The decoders produce each format's own fields (and a few computed ones);
//! a mapping then decides the logsource (a default plus conditional rules),
//! copies source fields to Sigma taxonomy names, and renames fields. The file
//! format is documented in `docs/mappings.md`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use contraband_event::{visit_map, Fields, LogSource, ValueRef};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::MappingError;
use crate::Format;

/// A logsource as written in a mapping file; unset keys are left alone.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
}

impl LogSpec {
    fn apply(&self, to: &mut LogSource) {
        if let Some(p) = &self.product {
            to.product = Some(Arc::from(p.as_str()));
        }
        if let Some(c) = &self.category {
            to.category = Some(Arc::from(c.as_str()));
        }
        if let Some(s) = &self.service {
            to.service = Some(Arc::from(s.as_str()));
        }
    }
}

/// One conditional rule: when every `when` field has one of the listed
/// values (and every `exists` field is present), the rule's logsource keys
/// override the default and its `copy` entries are applied.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub when: Map<String, Value>,
    #[serde(default)]
    pub exists: Vec<String>,
    #[serde(default)]
    pub logsource: LogSpec,
    #[serde(default)]
    pub copy: Map<String, Value>,
}

/// The mapping for one format.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Logsource every event of this format starts with.
    #[serde(default)]
    pub logsource: LogSpec,
    /// Conditional logsource/copy rules; the first that matches applies.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// `target: source` or `target: [source, fallback, ...]`: set `target`
    /// from the first source path that has a value, unless already set.
    #[serde(default)]
    pub copy: Map<String, Value>,
    /// `old: new`: rename fields after everything else.
    #[serde(default)]
    pub rename: Map<String, Value>,
    /// Lookup tables the decoder reads by name (syscall numbers, channel
    /// names, ...); each is a map from key to value.
    #[serde(default)]
    pub tables: Map<String, Value>,
    /// The keys of some tables, read for every event: listed once.
    #[serde(skip)]
    table_keys: TableKeys,
}

#[derive(Clone, Debug, Default)]
struct TableKeys {
    time_fields: OnceLock<Vec<String>>,
    host_fields: OnceLock<Vec<String>>,
}

fn text(v: ValueRef<'_>) -> Option<String> {
    v.to_text().map(Cow::into_owned)
}

fn values_of<'a>(fields: &'a Fields, path: &str) -> Vec<ValueRef<'a>> {
    let mut out = Vec::new();
    let _ = visit_map(fields, path, &mut |v| {
        out.push(v);
        ControlFlow::Continue(())
    });
    out
}

fn first_value<'a>(fields: &'a Fields, path: &str) -> Option<ValueRef<'a>> {
    let mut found = None;
    let _ = visit_map(fields, path, &mut |v| {
        if v.is_null() || v.as_str() == Some("") {
            return ControlFlow::Continue(());
        }
        found = Some(v);
        ControlFlow::Break(())
    });
    found
}

fn sources(spec: &Value) -> Vec<&str> {
    match spec {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

impl Rule {
    fn matches(&self, fields: &Fields) -> bool {
        for name in &self.exists {
            if first_value(fields, name).is_none() {
                return false;
            }
        }
        for (name, want) in &self.when {
            let wants: Vec<String> = match want {
                Value::Array(items) => items.iter().filter_map(|v| text(v.into())).collect(),
                other => text(other.into()).into_iter().collect(),
            };
            let found = values_of(fields, name).into_iter().any(|v| {
                text(v).is_some_and(|have| wants.iter().any(|w| w.eq_ignore_ascii_case(&have)))
            });
            if !found {
                return false;
            }
        }
        true
    }
}

fn apply_copy(copy: &Map<String, Value>, fields: &mut Fields) {
    for (target, spec) in copy {
        if fields.get_ref(target).is_some_and(|v| !v.is_null()) {
            continue;
        }
        if let Some(v) = sources(spec)
            .into_iter()
            .find_map(|s| first_value(fields, s).map(ValueRef::to_value))
        {
            fields.insert(target.clone(), v);
        }
    }
}

impl Mapping {
    /// Decide the logsource and apply copies and renames to `fields`.
    /// `base` is the logsource before the mapping (usually empty).
    pub fn apply(&self, fields: &mut Fields, base: LogSource) -> LogSource {
        self.apply_with(fields, base, true)
    }

    /// [`Mapping::apply`], optionally leaving the logsource as given (for
    /// records that state their own logsource): copies and renames still apply.
    pub fn apply_with(&self, fields: &mut Fields, base: LogSource, decide: bool) -> LogSource {
        let mut ls = base;
        if decide {
            self.logsource.apply(&mut ls);
        }
        // A rule decides the logsource and copies fields: when the logsource
        // is given and no rule copies, which rule matches changes nothing,
        // and testing them is most of a mapping's cost per event.
        let rules_matter = decide || self.rules.iter().any(|r| !r.copy.is_empty());
        if let Some(rule) = rules_matter
            .then(|| self.rules.iter().find(|r| r.matches(fields)))
            .flatten()
        {
            if decide {
                rule.logsource.apply(&mut ls);
            }
            apply_copy(&rule.copy, fields);
        }
        apply_copy(&self.copy, fields);
        for (old, new) in &self.rename {
            if let Some(new) = new.as_str() {
                if let Some(v) = fields.shift_remove(old) {
                    fields.insert(new.to_string(), v);
                }
            }
        }
        ls
    }

    /// The fields a record's time may be in, first found wins (table
    /// `time_fields`).
    pub fn time_fields(&self) -> &[String] {
        self.table_keys
            .time_fields
            .get_or_init(|| self.keys_of("time_fields"))
    }

    /// The fields a record's host may be in, first found wins (table
    /// `host_fields`).
    pub fn host_fields(&self) -> &[String] {
        self.table_keys
            .host_fields
            .get_or_init(|| self.keys_of("host_fields"))
    }

    fn keys_of(&self, table: &str) -> Vec<String> {
        match self.tables.get(table) {
            Some(Value::Object(t)) => t.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Look `key` up in table `table` (keys compared exactly).
    pub fn lookup(&self, table: &str, key: &str) -> Option<&str> {
        self.tables.get(table)?.as_object()?.get(key)?.as_str()
    }

    /// [`Mapping::lookup`], falling back to an ASCII case-insensitive match.
    pub fn lookup_nocase(&self, table: &str, key: &str) -> Option<&str> {
        let t = self.tables.get(table)?.as_object()?;
        if let Some(v) = t.get(key) {
            return v.as_str();
        }
        t.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| v.as_str())
    }

    /// Parse a mapping file's text.
    pub fn from_yaml(text: &str) -> Result<Mapping, String> {
        yaml_serde::from_str(text).map_err(|e| e.to_string())
    }
}

/// The file name (in `mappings/`) that holds each format's mapping.
pub fn mapping_file(format: Format) -> &'static str {
    match format {
        Format::DockerEvents | Format::DockerInspect => "docker.yml",
        Format::PodmanEvents => "podman.yml",
        Format::K8sAudit => "k8s.yml",
        Format::Auditd => "auditd.yml",
        Format::Tetragon => "tetragon.yml",
        Format::WindowsJson => "windows.yml",
        Format::GenericJson => "generic.yml",
    }
}

const BUILTIN: &[(&str, &str)] = &[
    ("docker.yml", include_str!("../../../mappings/docker.yml")),
    ("podman.yml", include_str!("../../../mappings/podman.yml")),
    ("k8s.yml", include_str!("../../../mappings/k8s.yml")),
    ("auditd.yml", include_str!("../../../mappings/auditd.yml")),
    (
        "tetragon.yml",
        include_str!("../../../mappings/tetragon.yml"),
    ),
    ("windows.yml", include_str!("../../../mappings/windows.yml")),
    ("generic.yml", include_str!("../../../mappings/generic.yml")),
];

/// Every format's mapping.
#[derive(Clone, Debug)]
pub struct Mappings {
    files: HashMap<&'static str, Arc<Mapping>>,
}

impl Default for Mappings {
    fn default() -> Mappings {
        Mappings::builtin()
    }
}

impl Mappings {
    /// The mappings embedded in the binary.
    pub fn builtin() -> Mappings {
        let files = BUILTIN
            .iter()
            .map(|(name, text)| {
                // The embedded files are checked by a unit test; a broken
                // one degrades to an empty mapping rather than a panic.
                (
                    *name,
                    Arc::new(Mapping::from_yaml(text).unwrap_or_default()),
                )
            })
            .collect();
        Mappings { files }
    }

    /// The built-in mappings, with every `*.yml` file of `dir` whose name is
    /// a known mapping (`docker.yml`, `auditd.yml`, ...) replacing the
    /// built-in one. Unknown file names are an error so typos are not silent.
    pub fn load_dir(dir: &Path) -> Result<Mappings, MappingError> {
        let mut mappings = Mappings::builtin();
        let read = std::fs::read_dir(dir).map_err(|error| MappingError::Io {
            path: dir.display().to_string(),
            error,
        })?;
        for entry in read {
            let entry = entry.map_err(|error| MappingError::Io {
                path: dir.display().to_string(),
                error,
            })?;
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !(name.ends_with(".yml") || name.ends_with(".yaml")) {
                continue;
            }
            let key = BUILTIN
                .iter()
                .map(|(n, _)| *n)
                .find(|n| {
                    n.trim_end_matches(".yml")
                        == name.trim_end_matches(".yaml").trim_end_matches(".yml")
                })
                .ok_or_else(|| MappingError::Parse {
                    path: path.display().to_string(),
                    error: format!(
                        "unknown mapping file; expected one of {}",
                        BUILTIN
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?;
            let text = std::fs::read_to_string(&path).map_err(|error| MappingError::Io {
                path: path.display().to_string(),
                error,
            })?;
            let mapping = Mapping::from_yaml(&text).map_err(|error| MappingError::Parse {
                path: path.display().to_string(),
                error,
            })?;
            mappings.files.insert(key, Arc::new(mapping));
        }
        Ok(mappings)
    }

    /// The mapping used for `format`.
    pub fn get(&self, format: Format) -> Arc<Mapping> {
        self.files
            .get(mapping_file(format))
            .cloned()
            .unwrap_or_default()
    }

    /// Replace one format's mapping (tests, embedding applications).
    pub fn set(&mut self, format: Format, mapping: Mapping) {
        self.files.insert(mapping_file(format), Arc::new(mapping));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_logsource_still_gets_the_matching_rules_copies() {
        let mapping = Mapping::from_yaml(
            "rules:\n\
             - exists: [Image]\n  logsource: {category: process_creation}\n  copy: {NewProcessName: Image}\n\
             - exists: [Image]\n  logsource: {category: file_event}\n",
        )
        .unwrap();
        let fields = || -> Fields {
            serde_json::from_str::<Map<String, Value>>(r#"{"Image": "/bin/sh"}"#)
                .unwrap()
                .into_iter()
                .collect()
        };
        let given = LogSource::new(Some("linux"), Some("network_connection"), None);
        let mut copied = fields();
        let ls = mapping.apply_with(&mut copied, given.clone(), false);
        assert_eq!(ls, given, "given: the rule does not decide");
        assert_eq!(copied.get("NewProcessName"), Some(&Value::from("/bin/sh")));
        let mut decided = fields();
        let ls = mapping.apply_with(&mut decided, LogSource::default(), true);
        assert_eq!(ls.category.as_deref(), Some("process_creation"));
        // Without copies in any rule, a given logsource skips the rules.
        let plain =
            Mapping::from_yaml("rules:\n- exists: [Image]\n  logsource: {category: x}\n").unwrap();
        let mut untouched = fields();
        assert_eq!(
            plain.apply_with(&mut untouched, given.clone(), false),
            given
        );
        assert_eq!(untouched, fields());
    }

    #[test]
    fn builtin_files_parse() {
        for (name, text) in BUILTIN {
            Mapping::from_yaml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
