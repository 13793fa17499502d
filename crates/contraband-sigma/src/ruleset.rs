//! Loading rule files into a [`RuleSet`], and matching events against it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use contraband_event::{Event, LogSource, Value};
use yaml_serde::{Mapping, Value as Yaml};

use crate::compile::{compile_detection, Ctx, Node};
use crate::correlation::{
    parse_correlation, resolve_correlation, CorrelationRule, RuleRef, UnresolvedCorrelation,
};
use crate::error::{LoadFailure, LoadWarning, RuleError};
use crate::field_memo::{number_fields, FieldMemo, FieldPaths, FieldReader};
use crate::rule::{
    doc_kind, documents, ident_of, parse_meta, text_list, DocKind, Rule, RuleOrigin,
};
use crate::Limits;

/// Options for loading rules.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub limits: Limits,
    /// Values for `|expand` placeholders: `name` (without `%`) → values.
    pub placeholders: HashMap<String, Vec<String>>,
    /// Umbrella categories of the Sigma taxonomy: specific category → the
    /// category that covers it. A rule for the umbrella (`registry_event`)
    /// also sees events of each specific one (`registry_set`, …).
    pub category_parents: HashMap<String, String>,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        let parents = [
            "registry_add",
            "registry_delete",
            "registry_set",
            "registry_rename",
        ]
        .into_iter()
        .map(|child| (child.to_string(), "registry_event".to_string()))
        .collect();
        LoadOptions {
            limits: Limits::default(),
            placeholders: HashMap::new(),
            category_parents: parents,
        }
    }
}

/// A field of the event that contributed to a match.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchedField {
    pub field: String,
    pub value: Value,
}

const NONE_KEY: &str = "\u{0}";

/// See [`RuleSet::selection_key`]: at most 2 × 2 × 2 groups (stated or not,
/// for each of product, category and service).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SelectionKey {
    groups: [usize; 8],
    len: u8,
}

type Index = HashMap<String, HashMap<String, HashMap<String, Vec<u32>>>>;

/// Compiled rules, indexed by logsource.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    correlations: Vec<CorrelationRule>,
    index: Index,
    /// Rules referenced by a correlation with `generate: false`.
    silenced: Vec<bool>,
    /// The fields the rules test, numbered (see [`crate::field_memo`]).
    fields: FieldPaths,
}

fn lower_key(v: &Option<Arc<str>>) -> Option<std::borrow::Cow<'_, str>> {
    v.as_deref().map(|s| {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(s.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(s)
        }
    })
}

fn key_of(v: &Option<Arc<str>>) -> String {
    match v {
        Some(s) => s.to_ascii_lowercase(),
        None => NONE_KEY.to_string(),
    }
}

impl RuleSet {
    fn build(
        mut rules: Vec<Rule>,
        correlations: Vec<CorrelationRule>,
        category_parents: &HashMap<String, String>,
    ) -> RuleSet {
        let mut index: Index = HashMap::new();
        for (i, r) in rules.iter().enumerate() {
            let category = key_of(&r.logsource.category);
            // A rule for an umbrella category is indexed under each specific
            // category too, so events of those find it at no extra cost.
            let children = category_parents
                .iter()
                .filter(|(_, parent)| parent.eq_ignore_ascii_case(&category))
                .map(|(child, _)| child.to_ascii_lowercase());
            for category in std::iter::once(category.clone()).chain(children) {
                index
                    .entry(key_of(&r.logsource.product))
                    .or_default()
                    .entry(category)
                    .or_default()
                    .entry(key_of(&r.logsource.service))
                    .or_default()
                    .push(i as u32);
            }
        }
        let mut silenced = vec![false; rules.len()];
        for c in &correlations {
            if !c.generate {
                for r in &c.rules {
                    if let RuleRef::Rule(i) = r {
                        silenced[*i] = true;
                    }
                }
            }
        }
        let fields = number_fields(rules.iter_mut().map(|r| &mut r.detection));
        RuleSet {
            rules,
            correlations,
            index,
            silenced,
            fields,
        }
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, index: usize) -> &Rule {
        &self.rules[index]
    }

    pub fn correlations(&self) -> &[CorrelationRule] {
        &self.correlations
    }

    /// Find a rule by id or name.
    pub fn find(&self, id_or_name: &str) -> Option<usize> {
        self.rules.iter().position(|r| {
            r.meta.id.as_deref() == Some(id_or_name) || r.meta.name.as_deref() == Some(id_or_name)
        })
    }

    /// Should matches of this rule be reported on their own? False for rules
    /// that only feed a correlation with `generate: false`.
    pub fn emits_alerts(&self, rule: usize) -> bool {
        !self.silenced[rule]
    }

    /// Calls `f` with each list of rule indices whose logsource admits `ls`.
    /// Cheap: at most eight hash lookups, no allocation for lower-case keys.
    pub fn for_each_candidate_group(&self, ls: &LogSource, mut f: impl FnMut(&[u32])) {
        let (p, c, s) = (
            lower_key(&ls.product),
            lower_key(&ls.category),
            lower_key(&ls.service),
        );
        let pk = [Some(NONE_KEY), p.as_deref()];
        let ck = [Some(NONE_KEY), c.as_deref()];
        let sk = [Some(NONE_KEY), s.as_deref()];
        for pkey in pk.iter().flatten() {
            let Some(cm) = self.index.get(*pkey) else {
                continue;
            };
            for ckey in ck.iter().flatten() {
                let Some(sm) = cm.get(*ckey) else { continue };
                for skey in sk.iter().flatten() {
                    if let Some(list) = sm.get(*skey) {
                        f(list);
                    }
                }
            }
        }
    }

    /// Which candidate groups `ls` selects. Logsources with equal keys have
    /// the same [`RuleSet::candidates`], so engines can share one
    /// [`Selection`](crate::Selection) among them; there are only as many
    /// keys as the rules' logsources combine to, whatever events claim.
    pub fn selection_key(&self, ls: &LogSource) -> SelectionKey {
        let mut key = SelectionKey::default();
        self.for_each_candidate_group(ls, |list| {
            // The index is never changed after build, so a list's address
            // names it.
            key.groups[key.len as usize] = list.as_ptr() as usize;
            key.len += 1;
        });
        key
    }

    /// Indices of the rules whose logsource admits `ls` (sorted). Engines
    /// can cache this per distinct logsource.
    pub fn candidates(&self, ls: &LogSource) -> Vec<u32> {
        let mut out = Vec::new();
        self.for_each_candidate_group(ls, |l| out.extend_from_slice(l));
        out.sort_unstable();
        out
    }

    /// Does rule `index` match `event` (ignoring logsource)?
    #[inline]
    pub fn rule_matches(&self, index: usize, event: &Event) -> bool {
        self.rules[index].detection.eval(event)
    }

    /// Append the indices of every rule matching `event` to `out` (sorted).
    pub fn matches_into(&self, event: &Event, out: &mut Vec<u32>) {
        let start = out.len();
        self.for_each_candidate_group(&event.logsource, |list| {
            for &i in list {
                if self.rules[i as usize].detection.eval(event) {
                    out.push(i);
                }
            }
        });
        out[start..].sort_unstable();
    }

    /// Append the rules of a cached candidate list (see [`RuleSet::candidates`])
    /// that match `event`, in the list's order. Skips the logsource lookup.
    pub fn matches_in(&self, candidates: &[u32], event: &Event, out: &mut Vec<u32>) {
        for &i in candidates {
            if self.rules[i as usize].detection.eval(event) {
                out.push(i);
            }
        }
    }

    /// A reader of `event` that keeps each field's values for every rule.
    pub(crate) fn reader<'e, 'm>(
        &'m self,
        event: &'e Event,
        memo: &'m mut FieldMemo,
    ) -> FieldReader<'e, 'm> {
        FieldReader::memoized(event, memo, &self.fields)
    }

    /// Does rule `index` match the event `reader` reads?
    #[inline]
    pub(crate) fn rule_matches_in(&self, index: usize, reader: &mut FieldReader<'_, '_>) -> bool {
        self.rules[index].detection.eval_in(reader)
    }

    /// Indices of every rule matching `event`.
    pub fn matches(&self, event: &Event) -> Vec<u32> {
        let mut out = Vec::new();
        self.matches_into(event, &mut out);
        out
    }

    /// The fields (and their values) that made rule `index` match `event`.
    /// Call only for a rule known to match.
    pub fn matched_fields(&self, index: usize, event: &Event) -> Vec<MatchedField> {
        let mut pairs = Vec::new();
        self.rules[index].detection.collect(event, &mut pairs);
        pairs
            .into_iter()
            .map(|(field, value)| MatchedField { field, value })
            .collect()
    }

    /// Prefilter literals for rule `index`: when `Some`, the rule can only
    /// match events where one of these (lower-case) literals occurs ASCII
    /// case-insensitively in some field value's text. See
    /// [`Node::required_literals`].
    pub fn required_literals(&self, index: usize) -> Option<Vec<String>> {
        self.rules[index].detection.required_literals()
    }

    /// Every field name some rule reads (including correlation group-by
    /// and value fields). Decoders may parse only these.
    pub fn required_fields(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self
            .rules
            .iter()
            .flat_map(|r| r.fields_used.iter().cloned())
            .collect();
        for c in &self.correlations {
            out.extend(c.group_by.iter().cloned());
            out.extend(c.condition.field.iter().cloned());
            for per_rule in c.aliases.values() {
                out.extend(per_rule.values().cloned());
            }
        }
        out
    }

    /// Field names needed by the rules whose logsource admits `ls`, and
    /// whether any of them needs every field (keyword searches).
    pub fn required_fields_for(&self, ls: &LogSource) -> (BTreeSet<String>, bool) {
        let mut fields = BTreeSet::new();
        let mut all = false;
        for i in self.candidates(ls) {
            let r = &self.rules[i as usize];
            fields.extend(r.fields_used.iter().cloned());
            all |= r.uses_keywords;
        }
        (fields, all)
    }

    /// True when some rule has keyword searches (which read every field).
    pub fn needs_all_fields(&self) -> bool {
        self.rules.iter().any(|r| r.uses_keywords)
    }

    /// Distinct logsources of the loaded rules.
    pub fn logsources(&self) -> BTreeSet<String> {
        self.rules.iter().map(|r| r.logsource.to_string()).collect()
    }
}

/// The outcome of loading: the compiled rules and every failure.
#[derive(Debug)]
pub struct LoadReport {
    pub ruleset: RuleSet,
    /// One entry per document that did not load, in load order.
    pub failures: Vec<LoadFailure>,
    /// Files given to the loader.
    pub files: usize,
    /// Rule/correlation/filter documents seen.
    pub documents: usize,
    /// Rules that loaded with remarks (ignored constructs, catch-all
    /// logsources, deprecated status).
    pub warnings: Vec<LoadWarning>,
    /// Time spent parsing and compiling, summed over joined forks (so more
    /// than the wall time when they ran in parallel).
    pub elapsed: Duration,
}

impl LoadReport {
    /// Detection rules loaded.
    pub fn loaded(&self) -> usize {
        self.ruleset.len()
    }

    /// Documents (rules, correlations, filters) that did not load.
    pub fn failed(&self) -> usize {
        self.failures.len()
    }

    /// Fraction of documents loaded, 1.0 when there were none.
    pub fn load_ratio(&self) -> f64 {
        if self.documents == 0 {
            return 1.0;
        }
        1.0 - self.failures.len() as f64 / self.documents as f64
    }

    /// Failures grouped by [`RuleError::kind`].
    pub fn failures_by_kind(&self) -> BTreeMap<&'static str, Vec<&LoadFailure>> {
        let mut out: BTreeMap<&'static str, Vec<&LoadFailure>> = BTreeMap::new();
        for f in &self.failures {
            out.entry(f.error.kind()).or_default().push(f);
        }
        out
    }

    /// Failures grouped by their exact message.
    pub fn failures_by_reason(&self) -> BTreeMap<String, Vec<&LoadFailure>> {
        let mut out: BTreeMap<String, Vec<&LoadFailure>> = BTreeMap::new();
        for f in &self.failures {
            out.entry(f.error.to_string()).or_default().push(f);
        }
        out
    }
}

struct PendingFilter {
    origin: RuleOrigin,
    id: Option<String>,
    title: Option<String>,
    rules: Vec<String>,
    node: Node,
}

/// Accumulates rule files, then compiles and cross-links them.
pub struct Loader {
    opts: LoadOptions,
    rules: Vec<Rule>,
    correlations: Vec<(RuleOrigin, UnresolvedCorrelation)>,
    filters: Vec<PendingFilter>,
    failures: Vec<LoadFailure>,
    warnings: Vec<LoadWarning>,
    /// Rules that failed, by id and name, so references to them say why.
    failed_refs: HashMap<String, String>,
    files: usize,
    documents: usize,
    elapsed: Duration,
}

impl Loader {
    pub fn new(opts: LoadOptions) -> Loader {
        Loader {
            opts,
            rules: Vec::new(),
            correlations: Vec::new(),
            filters: Vec::new(),
            failures: Vec::new(),
            warnings: Vec::new(),
            failed_refs: HashMap::new(),
            files: 0,
            documents: 0,
            elapsed: Duration::ZERO,
        }
    }

    fn fail(&mut self, path: &Arc<str>, document: usize, doc: Option<&Yaml>, error: RuleError) {
        let (id, title) = doc.map(ident_of).unwrap_or_default();
        if let Some(Yaml::Mapping(m)) = doc {
            for key in ["id", "name"] {
                if let Some(Yaml::String(s)) = m.get(key) {
                    self.failed_refs.insert(s.clone(), error.to_string());
                }
            }
        }
        self.failures.push(LoadFailure {
            path: path.to_string(),
            document,
            id,
            title,
            error,
        });
    }

    /// Add one file's text. `path` names it in reports.
    pub fn add_source(&mut self, path: &str, text: &str) {
        let started = Instant::now();
        self.files += 1;
        let path: Arc<str> = Arc::from(path);
        if text.len() > self.opts.limits.max_file_bytes {
            self.documents += 1;
            self.fail(
                &path,
                0,
                None,
                RuleError::Limit(format!(
                    "file is {} bytes (max {})",
                    text.len(),
                    self.opts.limits.max_file_bytes
                )),
            );
            return;
        }
        for (i, doc) in documents(text, self.opts.limits.max_documents) {
            self.documents += 1;
            let doc = match doc {
                Ok(d) => d,
                Err(e) => {
                    self.fail(&path, i, None, e);
                    continue;
                }
            };
            let origin = RuleOrigin {
                path: path.clone(),
                document: i,
            };
            let Yaml::Mapping(map) = &doc else { continue };
            let result = match doc_kind(map) {
                DocKind::Rule => self.compile_rule(map, origin).map(|(r, warnings)| {
                    for message in warnings {
                        self.warnings.push(LoadWarning {
                            path: path.to_string(),
                            document: i,
                            id: r.meta.id.clone(),
                            title: Some(r.meta.title.clone()),
                            message,
                        });
                    }
                    self.rules.push(r)
                }),
                DocKind::Correlation => {
                    parse_correlation(map).map(|c| self.correlations.push((origin, c)))
                }
                DocKind::Filter => self
                    .compile_filter(map, origin)
                    .map(|f| self.filters.push(f)),
            };
            if let Err(e) = result {
                self.fail(&path, i, Some(&doc), e);
            }
        }
        self.elapsed += started.elapsed();
    }

    /// An empty loader with the same options, to add a run of files on
    /// another thread; [`Loader::join`] takes its result back.
    pub fn fork(&self) -> Loader {
        Loader::new(self.opts.clone())
    }

    /// Take in what a [`Loader::fork`] loaded, as if its files had been
    /// added here now: joining forks in the order of their runs of files
    /// gives the result of adding every file in that order.
    pub fn join(&mut self, part: Loader) {
        self.rules.extend(part.rules);
        self.correlations.extend(part.correlations);
        self.filters.extend(part.filters);
        self.failures.extend(part.failures);
        self.warnings.extend(part.warnings);
        // a later failure of an id replaces an earlier one, as in order
        self.failed_refs.extend(part.failed_refs);
        self.files += part.files;
        self.documents += part.documents;
        self.elapsed += part.elapsed;
    }

    /// A fresh compile context with this loader's limits and placeholders.
    fn compile_ctx(&self) -> Ctx<'_> {
        Ctx {
            limits: &self.opts.limits,
            placeholders: &self.opts.placeholders,
            fields: Vec::new(),
            uses_keywords: false,
            warnings: Vec::new(),
        }
    }

    fn compile_rule(
        &self,
        map: &Mapping,
        origin: RuleOrigin,
    ) -> Result<(Rule, Vec<String>), RuleError> {
        let meta = parse_meta(map, true)?;
        let det = map
            .get("detection")
            .ok_or(RuleError::Missing("detection"))?;
        let mut ctx = self.compile_ctx();
        let detection = compile_detection(det, &mut ctx)?;
        let mut fields = ctx.fields;
        fields.sort();
        fields.dedup();
        let mut warnings = ctx.warnings;
        let ls = &meta.logsource;
        if ls.product.is_none() && ls.category.is_none() && ls.service.is_none() {
            warnings.push(
                "logsource names no product, category or service: the rule sees every event".into(),
            );
        }
        if let Some(status @ ("deprecated" | "unsupported")) = meta.status.as_deref() {
            warnings.push(format!("status is `{status}`"));
        }
        let rule = Rule {
            logsource: meta.logsource.to_logsource(),
            meta,
            origin,
            fields_used: fields,
            uses_keywords: ctx.uses_keywords,
            detection,
        };
        Ok((rule, warnings))
    }

    fn compile_filter(
        &self,
        map: &Mapping,
        origin: RuleOrigin,
    ) -> Result<PendingFilter, RuleError> {
        let meta = parse_meta(map, false)?;
        let Some(Yaml::Mapping(f)) = map.get("filter") else {
            return Err(RuleError::invalid("filter", "must be a mapping"));
        };
        let rules = text_list(f, "rules")?;
        if rules.is_empty() {
            return Err(RuleError::invalid("filter.rules", "names no rule"));
        }
        let mut det = f.clone();
        det.remove("rules");
        let mut ctx = self.compile_ctx();
        let node = compile_detection(&Yaml::Mapping(det), &mut ctx)?;
        Ok(PendingFilter {
            origin,
            id: meta.id,
            title: Some(meta.title),
            rules,
            node,
        })
    }

    /// Cross-link correlations and filters, and build the indexed set.
    pub fn finish(mut self) -> LoadReport {
        let started = Instant::now();
        // Duplicate ids: keep the first.
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut keep = Vec::with_capacity(self.rules.len());
        for r in std::mem::take(&mut self.rules) {
            if let Some(id) = &r.meta.id {
                if seen.contains_key(id) {
                    self.failures.push(LoadFailure {
                        path: r.origin.path.to_string(),
                        document: r.origin.document,
                        id: r.meta.id.clone(),
                        title: Some(r.meta.title.clone()),
                        error: RuleError::DuplicateId(id.clone()),
                    });
                    continue;
                }
                seen.insert(id.clone(), keep.len());
            }
            keep.push(r);
        }
        let mut rules = keep;
        // Filters narrow the rules they name.
        for f in std::mem::take(&mut self.filters) {
            let mut missing = Vec::new();
            for name in &f.rules {
                let hit = rules.iter().position(|r| {
                    r.meta.id.as_deref() == Some(name) || r.meta.name.as_deref() == Some(name)
                });
                match hit {
                    Some(i) => {
                        let r = &mut rules[i];
                        let old = std::mem::replace(&mut r.detection, Node::Const(false));
                        r.detection = Node::And(vec![old, f.node.clone()].into());
                    }
                    None => missing.push(name.clone()),
                }
            }
            if !missing.is_empty() {
                self.failures.push(LoadFailure {
                    path: f.origin.path.to_string(),
                    document: f.origin.document,
                    id: f.id.clone(),
                    title: f.title.clone(),
                    error: RuleError::UnknownReference(missing.join(", ")),
                });
            }
        }
        // Correlations may reference rules and other correlations; resolve
        // in rounds so chains link whatever their order in the files.
        let mut correlations: Vec<CorrelationRule> = Vec::new();
        let mut unresolved: Vec<(RuleOrigin, UnresolvedCorrelation, Option<RuleError>)> =
            std::mem::take(&mut self.correlations)
                .into_iter()
                .map(|(o, c)| (o, c, None))
                .collect();
        loop {
            let before = unresolved.len();
            let mut still = Vec::new();
            for (origin, c, _) in unresolved {
                match resolve_correlation(&c, &rules, &correlations, origin.clone()) {
                    Ok(r) => correlations.push(r),
                    Err(e) => still.push((origin, c, Some(e))),
                }
            }
            unresolved = still;
            if unresolved.is_empty() || unresolved.len() == before {
                break;
            }
        }
        for (origin, c, e) in unresolved {
            let e = match e {
                Some(RuleError::UnknownReference(name)) => match self.failed_refs.get(&name) {
                    Some(reason) => RuleError::BrokenReference {
                        reference: name,
                        reason: reason.clone(),
                    },
                    None => RuleError::UnknownReference(name),
                },
                Some(e) => e,
                None => RuleError::UnknownReference(String::new()),
            };
            self.failures.push(LoadFailure {
                path: origin.path.to_string(),
                document: origin.document,
                id: c.meta.id.clone(),
                title: Some(c.meta.title.clone()),
                error: e,
            });
        }
        let ruleset = RuleSet::build(rules, correlations, &self.opts.category_parents);
        self.elapsed += started.elapsed();
        LoadReport {
            ruleset,
            failures: self.failures,
            warnings: self.warnings,
            files: self.files,
            documents: self.documents,
            elapsed: self.elapsed,
        }
    }
}
