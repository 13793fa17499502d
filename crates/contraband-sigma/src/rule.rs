//! Rule documents: metadata, multi-document files, legacy collections.

use std::sync::Arc;

use contraband_event::LogSource;
use yaml_serde::{Mapping, Value as Yaml};

use crate::block_yaml;
use crate::compile::Node;
use crate::error::RuleError;

/// A rule's `logsource`, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleLogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
    pub definition: Option<String>,
}

impl RuleLogSource {
    pub fn to_logsource(&self) -> LogSource {
        LogSource::new(
            self.product.as_deref(),
            self.category.as_deref(),
            self.service.as_deref(),
        )
    }
}

/// A `related` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub id: String,
    /// `derived`, `obsolete`, `merged`, `renamed`, `similar`.
    pub kind: String,
}

/// Metadata shared by detection and correlation rules.
#[derive(Clone, Debug, Default)]
pub struct RuleMeta {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub modified: Option<String>,
    pub license: Option<String>,
    pub taxonomy: Option<String>,
    pub scope: Vec<String>,
    pub references: Vec<String>,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    pub fields: Vec<String>,
    pub related: Vec<Related>,
    pub logsource: RuleLogSource,
}

/// Where a rule was read from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleOrigin {
    pub path: Arc<str>,
    /// 0-based YAML document index.
    pub document: usize,
}

/// A loaded, compiled detection rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub meta: RuleMeta,
    pub origin: RuleOrigin,
    /// The rule's logsource as the matcher compares it.
    pub logsource: LogSource,
    /// Fields the detection reads (sorted, unique).
    pub fields_used: Vec<String>,
    /// The detection has field-less keyword searches (needs every field).
    pub uses_keywords: bool,
    pub(crate) detection: Node,
}

impl Rule {
    /// The compiled detection tree.
    pub fn detection(&self) -> &Node {
        &self.detection
    }

    /// `id`, else `name`, else `title`: how reports should name the rule.
    pub fn label(&self) -> &str {
        self.meta
            .id
            .as_deref()
            .or(self.meta.name.as_deref())
            .unwrap_or(&self.meta.title)
    }
}

pub(crate) fn get<'a>(map: &'a Mapping, key: &str) -> Option<&'a Yaml> {
    map.get(key)
}

pub(crate) fn opt_text(map: &Mapping, key: &str) -> Result<Option<String>, RuleError> {
    match get(map, key) {
        None | Some(Yaml::Null) => Ok(None),
        Some(Yaml::String(s)) => Ok(Some(s.clone())),
        Some(Yaml::Number(n)) => Ok(Some(n.to_string())),
        Some(Yaml::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(RuleError::invalid(key, "expected a string")),
    }
}

pub(crate) fn text_list(map: &Mapping, key: &str) -> Result<Vec<String>, RuleError> {
    match get(map, key) {
        None | Some(Yaml::Null) => Ok(Vec::new()),
        Some(Yaml::String(s)) => Ok(vec![s.clone()]),
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|i| match i {
                Yaml::String(s) => Ok(s.clone()),
                Yaml::Number(n) => Ok(n.to_string()),
                Yaml::Bool(b) => Ok(b.to_string()),
                _ => Err(RuleError::invalid(key, "list items must be strings")),
            })
            .collect(),
        Some(_) => Err(RuleError::invalid(key, "expected a list of strings")),
    }
}

/// Parse the metadata common to every rule kind.
pub(crate) fn parse_meta(map: &Mapping, need_logsource: bool) -> Result<RuleMeta, RuleError> {
    let title = opt_text(map, "title")?.ok_or(RuleError::Missing("title"))?;
    let logsource = match get(map, "logsource") {
        Some(Yaml::Mapping(ls)) => RuleLogSource {
            product: opt_text(ls, "product")?,
            category: opt_text(ls, "category")?,
            service: opt_text(ls, "service")?,
            definition: opt_text(ls, "definition")?,
        },
        None | Some(Yaml::Null) if !need_logsource => RuleLogSource::default(),
        None | Some(Yaml::Null) => return Err(RuleError::Missing("logsource")),
        Some(_) => return Err(RuleError::invalid("logsource", "must be a mapping")),
    };
    let related = match get(map, "related") {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|i| match i {
                Yaml::Mapping(m) => Ok(Related {
                    id: opt_text(m, "id")?
                        .ok_or_else(|| RuleError::invalid("related", "entry without `id`"))?,
                    kind: opt_text(m, "type")?.unwrap_or_default(),
                }),
                _ => Err(RuleError::invalid("related", "entries must be mappings")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(RuleError::invalid("related", "must be a list")),
    };
    Ok(RuleMeta {
        title,
        id: opt_text(map, "id")?,
        name: opt_text(map, "name")?,
        status: opt_text(map, "status")?,
        level: opt_text(map, "level")?,
        description: opt_text(map, "description")?,
        author: opt_text(map, "author")?,
        date: opt_text(map, "date")?,
        modified: opt_text(map, "modified")?,
        license: opt_text(map, "license")?,
        taxonomy: opt_text(map, "taxonomy")?,
        scope: text_list(map, "scope")?,
        references: text_list(map, "references")?,
        tags: text_list(map, "tags")?,
        falsepositives: text_list(map, "falsepositives")?,
        fields: text_list(map, "fields")?,
        related,
        logsource,
    })
}

/// Best-effort id and title of a document, for error reports.
pub(crate) fn ident_of(doc: &Yaml) -> (Option<String>, Option<String>) {
    match doc {
        Yaml::Mapping(m) => (
            opt_text(m, "id").ok().flatten(),
            opt_text(m, "title").ok().flatten(),
        ),
        _ => (None, None),
    }
}

/// Deep merge: keys of `over` replace or (for mappings) merge into `base`.
pub(crate) fn merge(base: &Yaml, over: &Yaml) -> Yaml {
    match (base, over) {
        (Yaml::Mapping(b), Yaml::Mapping(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match out.get(k) {
                    Some(existing) => merge(existing, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Yaml::Mapping(out)
        }
        (_, o) => o.clone(),
    }
}

/// What a document is.
pub(crate) enum DocKind {
    Rule,
    Correlation,
    Filter,
}

pub(crate) fn doc_kind(map: &Mapping) -> DocKind {
    if map.contains_key("correlation") {
        DocKind::Correlation
    } else if map.contains_key("filter") && !map.contains_key("detection") {
        DocKind::Filter
    } else {
        DocKind::Rule
    }
}

/// Deepest flow-collection nesting (`[` / `{`) a YAML text may have.
/// Deserialising stops at 128 levels anyway; this guard exists because the
/// YAML parser's work grows with depth × tokens *before* that limit is
/// checked: 50,000 nested `[` took 17 s to reject, a 4 MiB file hours.
pub const MAX_YAML_FLOW_DEPTH: usize = 256;

/// Reject YAML whose flow collections nest deeper than
/// [`MAX_YAML_FLOW_DEPTH`], before handing it to the parser. A cheap lexical
/// scan that errs on the side of counting: comments and quoted scalars are
/// skipped, but a quote is only taken as one where a scalar can start and it
/// ends at the line's end at the latest, so text cannot hide a real `[[[…`
/// from the scan. Brackets in plain or block scalars count, so only text with
/// hundreds of unbalanced `[`/`{` in values is turned away wrongly. The
/// error names the line.
pub fn check_yaml_nesting(text: &str) -> Result<(), String> {
    // Nesting needs an opening bracket per level: text with few cannot nest
    // too deep, and counting them is much cheaper than the scan below.
    let openings = text.bytes().filter(|&b| b == b'[' || b == b'{').count();
    if openings <= MAX_YAML_FLOW_DEPTH {
        return Ok(());
    }
    let mut depth = 0usize;
    let mut line = 1usize;
    let mut quote: Option<u8> = None;
    // The byte before this one, and the last non-blank one on this line.
    let (mut prev, mut last) = (b'\n', b'\n');
    let mut bytes = text.bytes().peekable();
    while let Some(b) = bytes.next() {
        if b == b'\n' {
            line += 1;
            quote = None;
            (prev, last) = (b, b);
            continue;
        }
        match quote {
            Some(b'"') if b == b'\\' => {
                if bytes.peek() != Some(&b'\n') {
                    bytes.next(); // the escaped character
                }
            }
            Some(q) if b == q => {
                if q == b'\'' && bytes.peek() == Some(&b'\'') {
                    bytes.next(); // '' inside '...'
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None => match b {
                b'"' | b'\''
                    if matches!(prev, b'\n' | b'[' | b'{' | b',')
                        || (matches!(prev, b' ' | b'\t')
                            && matches!(last, b'\n' | b':' | b'-' | b'?' | b',' | b'[' | b'{')) =>
                {
                    quote = Some(b)
                }
                b'#' if matches!(prev, b'\n' | b' ' | b'\t') => {
                    // A comment runs to the end of the line.
                    while bytes.next_if(|&c| c != b'\n').is_some() {}
                }
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_YAML_FLOW_DEPTH {
                        return Err(format!(
                            "flow collections (`[`, `{{`) nested deeper than {MAX_YAML_FLOW_DEPTH} at line {line}"
                        ));
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        if !matches!(b, b' ' | b'\t') {
            last = b;
        }
        prev = b;
    }
    Ok(())
}

/// Split a file into YAML documents, applying the legacy collection actions
/// (`action: global` merged into every following document, `reset`
/// forgetting it, `repeat` re-using the previous document with changes).
/// Each item is (document index, result).
pub(crate) fn documents(text: &str, max_docs: usize) -> Vec<(usize, Result<Yaml, RuleError>)> {
    use serde::Deserialize;
    let mut out = Vec::new();
    let mut global: Option<Yaml> = None;
    // Where in `out` the document a `repeat` re-uses is, rather than a copy
    // of it: most files never repeat, and copying every document for the
    // few that do cost ~3% of loading the SigmaHQ corpus.
    let mut previous: Option<usize> = None;
    if let Err(reason) = check_yaml_nesting(text) {
        out.push((0, Err(RuleError::Limit(reason))));
        return out;
    }
    // Most rule files need none of YAML's generality: read those without
    // the general parser (see `block_yaml`), whose errors stay the ones
    // users see.
    let parsed: Box<dyn Iterator<Item = Result<Yaml, String>>> = match block_yaml::parse(text) {
        Some(doc) => Box::new(std::iter::once(Ok(doc))),
        None => Box::new(
            yaml_serde::Deserializer::from_str(text)
                .map(|de| Yaml::deserialize(de).map_err(|e| e.to_string())),
        ),
    };
    for (i, doc) in parsed.enumerate() {
        if i >= max_docs {
            out.push((
                i,
                Err(RuleError::Limit(format!(
                    "more than {max_docs} YAML documents in one file"
                ))),
            ));
            break;
        }
        let doc = match doc {
            Ok(d) => d,
            Err(e) => {
                out.push((i, Err(RuleError::Yaml(e))));
                // The parser cannot resynchronise after an error.
                break;
            }
        };
        let Yaml::Mapping(map) = &doc else {
            if matches!(doc, Yaml::Null) {
                continue; // empty document (`---` at the end)
            }
            out.push((i, Err(RuleError::Yaml("document is not a mapping".into()))));
            continue;
        };
        let action = map
            .get("action")
            .and_then(|a| a.as_str())
            .map(str::to_string);
        let strip = |m: &Mapping| {
            let mut m = m.clone();
            m.remove("action");
            Yaml::Mapping(m)
        };
        match action.as_deref() {
            Some("global") => {
                global = Some(strip(map));
                continue;
            }
            Some("reset") => {
                global = None;
                previous = None;
                continue;
            }
            Some("repeat") => {
                let Some(Ok(prev)) = previous.map(|p| &out[p].1) else {
                    out.push((
                        i,
                        Err(RuleError::invalid(
                            "action",
                            "`repeat` without a previous document",
                        )),
                    ));
                    continue;
                };
                let d = merge(prev, &strip(map));
                previous = Some(out.len());
                out.push((i, Ok(d)));
            }
            Some(other) if other != "correlation" => {
                out.push((
                    i,
                    Err(RuleError::invalid(
                        "action",
                        format!("unknown collection action `{other}`"),
                    )),
                ));
            }
            _ => {
                let d = match &global {
                    Some(g) => merge(g, &doc),
                    None => doc,
                };
                previous = Some(out.len());
                out.push((i, Ok(d)));
            }
        }
    }
    out
}
