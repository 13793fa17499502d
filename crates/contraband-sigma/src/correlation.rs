//! Correlation rules (Sigma v2.1): parsing, reference resolution, and a
//! bounded, time-windowed evaluation engine.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use contraband_event::{Event, Value};
use yaml_serde::{Mapping, Value as Yaml};

use crate::error::RuleError;
use crate::rule::{opt_text, parse_meta, text_list, Rule, RuleMeta, RuleOrigin};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
}

impl CorrelationType {
    fn parse(s: &str) -> Option<CorrelationType> {
        Some(match s {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            "value_sum" => CorrelationType::ValueSum,
            "value_avg" => CorrelationType::ValueAvg,
            "value_percentile" => CorrelationType::ValuePercentile,
            _ => return None,
        })
    }
    fn needs_field(self) -> bool {
        matches!(
            self,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
        )
    }
}

/// Comparison in a correlation condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorrOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CorrelationCondition {
    pub op: CorrOp,
    pub value: f64,
    /// The field `value_*` correlations aggregate.
    pub field: Option<String>,
    /// For `value_percentile`: which percentile (0–100), default 50.
    pub percentile: Option<f64>,
}

impl CorrelationCondition {
    /// `lt`/`lte`: decidable only when a window closes.
    pub fn is_upper_bound(&self) -> bool {
        matches!(self.op, CorrOp::Lt | CorrOp::Lte)
    }

    pub fn holds(&self, x: f64) -> bool {
        match self.op {
            CorrOp::Gt => x > self.value,
            CorrOp::Gte => x >= self.value,
            CorrOp::Lt => x < self.value,
            CorrOp::Lte => x <= self.value,
            CorrOp::Eq => x == self.value,
            CorrOp::Neq => x != self.value,
        }
    }
}

/// A reference from a correlation to what it aggregates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleRef {
    /// Index into [`crate::RuleSet::rules`].
    Rule(usize),
    /// Index into [`crate::RuleSet::correlations`].
    Correlation(usize),
}

/// A resolved correlation rule.
#[derive(Clone, Debug)]
pub struct CorrelationRule {
    pub meta: RuleMeta,
    pub origin: RuleOrigin,
    pub kind: CorrelationType,
    pub rules: Vec<RuleRef>,
    /// The references as written.
    pub rule_names: Vec<String>,
    pub group_by: Vec<String>,
    /// Window length in nanoseconds.
    pub timespan_ns: i64,
    pub condition: CorrelationCondition,
    /// alias → (position in `rules` → that rule's field name).
    pub aliases: BTreeMap<String, BTreeMap<usize, String>>,
    pub generate: bool,
}

/// Parsed but not yet linked to rules.
#[derive(Clone, Debug)]
pub(crate) struct UnresolvedCorrelation {
    pub meta: RuleMeta,
    pub kind: CorrelationType,
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan_ns: i64,
    pub condition: CorrelationCondition,
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    pub generate: bool,
}

/// Parse `5m`, `30s`, `1h`, `2d`, `1w` into nanoseconds.
pub fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(secs)?
        .checked_mul(1_000_000_000)
        .filter(|&x| x > 0)
}

fn number(v: &Yaml, key: &str) -> Result<f64, RuleError> {
    match v {
        Yaml::Number(n) => n
            .as_f64()
            .ok_or_else(|| RuleError::invalid(key, "not a number")),
        Yaml::String(s) => s
            .trim()
            .parse()
            .map_err(|_| RuleError::invalid(key, format!("`{s}` is not a number"))),
        _ => Err(RuleError::invalid(key, "must be a number")),
    }
}

pub(crate) fn parse_correlation(map: &Mapping) -> Result<UnresolvedCorrelation, RuleError> {
    let meta = parse_meta(map, false)?;
    let Some(Yaml::Mapping(c)) = map.get("correlation") else {
        return Err(RuleError::invalid("correlation", "must be a mapping"));
    };
    let kind_s = opt_text(c, "type")?.ok_or(RuleError::Missing("correlation.type"))?;
    let kind = CorrelationType::parse(&kind_s).ok_or_else(|| {
        RuleError::invalid(
            "correlation.type",
            format!("unknown correlation type `{kind_s}`"),
        )
    })?;
    let rules = text_list(c, "rules")?;
    if rules.is_empty() {
        return Err(RuleError::Missing("correlation.rules"));
    }
    let group_by = text_list(c, "group-by")?;
    let timespan_s = opt_text(c, "timespan")?
        .or(opt_text(c, "timeframe")?)
        .ok_or(RuleError::Missing("correlation.timespan"))?;
    let timespan_ns = parse_timespan(&timespan_s).ok_or_else(|| {
        RuleError::invalid(
            "correlation.timespan",
            format!("`{timespan_s}` is not a duration like 5m, 1h, 2d"),
        )
    })?;
    let temporal = matches!(
        kind,
        CorrelationType::Temporal | CorrelationType::TemporalOrdered
    );
    let condition = match c.get("condition") {
        Some(Yaml::Mapping(cm)) => {
            let mut op = None;
            let mut field = None;
            let mut percentile = None;
            for (k, v) in cm {
                let k = k.as_str().unwrap_or_default();
                let o = match k {
                    "gt" => CorrOp::Gt,
                    "gte" => CorrOp::Gte,
                    "lt" => CorrOp::Lt,
                    "lte" => CorrOp::Lte,
                    "eq" => CorrOp::Eq,
                    "neq" => CorrOp::Neq,
                    "field" => {
                        field = Some(match v {
                            Yaml::String(s) => s.clone(),
                            _ => {
                                return Err(RuleError::invalid(
                                    "correlation.condition.field",
                                    "must be a string",
                                ))
                            }
                        });
                        continue;
                    }
                    "percentile" => {
                        percentile = Some(number(v, "correlation.condition.percentile")?);
                        continue;
                    }
                    other => {
                        return Err(RuleError::invalid(
                            "correlation.condition",
                            format!("unknown key `{other}`"),
                        ));
                    }
                };
                if op.is_some() {
                    return Err(RuleError::Unsupported(
                        "correlation condition with more than one comparison".into(),
                    ));
                }
                op = Some((o, number(v, "correlation.condition")?));
            }
            let (op, value) = op.ok_or_else(|| {
                RuleError::invalid(
                    "correlation.condition",
                    "no comparison (gt/gte/lt/lte/eq/neq)",
                )
            })?;
            CorrelationCondition {
                op,
                value,
                field,
                percentile,
            }
        }
        None if temporal => CorrelationCondition {
            op: CorrOp::Gte,
            value: rules.len() as f64,
            field: None,
            percentile: None,
        },
        None => return Err(RuleError::Missing("correlation.condition")),
        Some(_) => {
            return Err(RuleError::invalid(
                "correlation.condition",
                "must be a mapping",
            ))
        }
    };
    if kind.needs_field() && condition.field.is_none() {
        return Err(RuleError::invalid(
            "correlation.condition",
            format!("`{kind_s}` needs `field`"),
        ));
    }
    let mut aliases = BTreeMap::new();
    match c.get("aliases") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Mapping(am)) => {
            for (alias, per) in am {
                let alias = alias.as_str().ok_or_else(|| {
                    RuleError::invalid("correlation.aliases", "alias names must be strings")
                })?;
                let Yaml::Mapping(per) = per else {
                    return Err(RuleError::invalid(
                        "correlation.aliases",
                        format!("`{alias}` must map rule names to fields"),
                    ));
                };
                let mut m = BTreeMap::new();
                for (r, f) in per {
                    match (r.as_str(), f.as_str()) {
                        (Some(r), Some(f)) => {
                            m.insert(r.to_string(), f.to_string());
                        }
                        _ => {
                            return Err(RuleError::invalid(
                                "correlation.aliases",
                                "entries must be strings",
                            ))
                        }
                    }
                }
                aliases.insert(alias.to_string(), m);
            }
        }
        Some(_) => {
            return Err(RuleError::invalid(
                "correlation.aliases",
                "must be a mapping",
            ))
        }
    }
    let generate = match c.get("generate").or(map.get("generate")) {
        None | Some(Yaml::Null) => false,
        Some(Yaml::Bool(b)) => *b,
        Some(_) => {
            return Err(RuleError::invalid(
                "correlation.generate",
                "must be true or false",
            ))
        }
    };
    Ok(UnresolvedCorrelation {
        meta,
        kind,
        rules,
        group_by,
        timespan_ns,
        condition,
        aliases,
        generate,
    })
}

/// Link references to rules (by id or name) and earlier correlations.
/// `Err(UnknownReference(name))` when a name is not (yet) known.
pub(crate) fn resolve_correlation(
    c: &UnresolvedCorrelation,
    rules: &[Rule],
    correlations: &[CorrelationRule],
    origin: RuleOrigin,
) -> Result<CorrelationRule, RuleError> {
    let mut refs = Vec::new();
    for name in &c.rules {
        let r = rules
            .iter()
            .position(|r| {
                r.meta.id.as_deref() == Some(name) || r.meta.name.as_deref() == Some(name)
            })
            .map(RuleRef::Rule)
            .or_else(|| {
                correlations
                    .iter()
                    .position(|r| {
                        r.meta.id.as_deref() == Some(name) || r.meta.name.as_deref() == Some(name)
                    })
                    .map(RuleRef::Correlation)
            })
            .ok_or_else(|| RuleError::UnknownReference(name.clone()))?;
        refs.push(r);
    }
    let mut aliases = BTreeMap::new();
    for (alias, per) in &c.aliases {
        let mut m = BTreeMap::new();
        for (rname, field) in per {
            let pos = c.rules.iter().position(|n| n == rname).ok_or_else(|| {
                RuleError::invalid(
                    "correlation.aliases",
                    format!("`{rname}` is not in `rules`"),
                )
            })?;
            m.insert(pos, field.clone());
        }
        aliases.insert(alias.clone(), m);
    }
    Ok(CorrelationRule {
        meta: c.meta.clone(),
        origin,
        kind: c.kind,
        rules: refs,
        rule_names: c.rules.clone(),
        group_by: c.group_by.clone(),
        timespan_ns: c.timespan_ns,
        condition: c.condition.clone(),
        aliases,
        generate: c.generate,
    })
}

// ---------------------------------------------------------------------------
// Engine

/// Bounds on correlation state.
#[derive(Clone, Debug)]
pub struct CorrelationLimits {
    /// Groups kept per correlation; the least recently seen is evicted.
    pub max_groups: usize,
    /// Events kept per group; the oldest is dropped.
    pub max_events_per_group: usize,
}

impl Default for CorrelationLimits {
    fn default() -> Self {
        CorrelationLimits {
            max_groups: 100_000,
            max_events_per_group: 10_000,
        }
    }
}

/// A correlation that fired.
#[derive(Clone, Debug, PartialEq)]
pub struct CorrelationMatch {
    /// Index into [`crate::RuleSet::correlations`].
    pub correlation: usize,
    /// The group-by fields and their values.
    pub group: Vec<(String, String)>,
    /// The aggregate that met the condition (count, distinct values, sum …).
    pub value: f64,
    /// Events in the window when it fired.
    pub events: usize,
    pub first_time: i64,
    pub last_time: i64,
}

#[derive(Clone, Debug)]
struct Entry {
    time: i64,
    pos: usize,
    value: Option<String>,
}

#[derive(Default, Debug)]
struct Group {
    /// For upper-bound conditions (`lt`/`lte`): start of the open window.
    window_start: Option<i64>,
    last_seen: i64,
    entries: VecDeque<Entry>,
}

/// Feeds on (rule match, event) pairs and emits correlation matches.
#[derive(Debug)]
pub struct CorrelationEngine {
    correlations: Vec<CorrelationRule>,
    /// What each reference feeds: (correlation, position in its rules).
    feeds: HashMap<RuleRef, Vec<(usize, usize)>>,
    state: Vec<HashMap<Vec<String>, Group>>,
    limits: CorrelationLimits,
    evicted: u64,
}

impl CorrelationEngine {
    pub fn new(correlations: &[CorrelationRule], limits: CorrelationLimits) -> CorrelationEngine {
        let mut feeds: HashMap<RuleRef, Vec<(usize, usize)>> = HashMap::new();
        for (ci, c) in correlations.iter().enumerate() {
            for (pos, r) in c.rules.iter().enumerate() {
                feeds.entry(*r).or_default().push((ci, pos));
            }
        }
        CorrelationEngine {
            correlations: correlations.to_vec(),
            feeds,
            state: correlations.iter().map(|_| HashMap::new()).collect(),
            limits,
            evicted: 0,
        }
    }

    /// True when no correlation consumes matches of `rule`.
    pub fn is_idle_for(&self, rule: usize) -> bool {
        !self.feeds.contains_key(&RuleRef::Rule(rule))
    }

    /// Groups evicted so far because of [`CorrelationLimits`].
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Groups currently held (all correlations).
    pub fn groups(&self) -> usize {
        self.state.iter().map(HashMap::len).sum()
    }

    /// Event time has reached `now` (ns): judge the `lt`/`lte` windows that
    /// closed by then. Call periodically in live mode. Correlations that
    /// fire here are not fed on to chained correlations.
    pub fn advance(&mut self, now: i64, out: &mut Vec<CorrelationMatch>) {
        self.close_windows(Some(now), out);
    }

    /// End of input: judge every open `lt`/`lte` window.
    pub fn flush(&mut self, out: &mut Vec<CorrelationMatch>) {
        self.close_windows(None, out);
    }

    fn close_windows(&mut self, now: Option<i64>, out: &mut Vec<CorrelationMatch>) {
        for (ci, c) in self.correlations.iter().enumerate() {
            if !c.condition.is_upper_bound() {
                continue;
            }
            let span = c.timespan_ns;
            let groups = &mut self.state[ci];
            let mut closed: Vec<Vec<String>> = groups
                .iter()
                .filter(|(_, g)| match (g.window_start, now) {
                    (Some(start), Some(now)) => now >= start.saturating_add(span),
                    (Some(_), None) => true,
                    (None, _) => false,
                })
                .map(|(k, _)| k.clone())
                .collect();
            closed.sort();
            for key in closed {
                if let Some(g) = groups.remove(&key) {
                    out.extend(judge(
                        ci,
                        &c.group_by,
                        &key,
                        &g.entries,
                        c.kind,
                        c.rules.len(),
                        &c.condition,
                    ));
                }
            }
        }
    }

    /// Record that rule `rule` matched `event`; push correlations that fire.
    pub fn feed(&mut self, rule: usize, event: &Event, out: &mut Vec<CorrelationMatch>) {
        self.feed_ref(RuleRef::Rule(rule), event, out, 0);
    }

    fn field_for(&self, ci: usize, pos: usize, name: &str) -> String {
        self.correlations[ci]
            .aliases
            .get(name)
            .and_then(|m| m.get(&pos))
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    fn feed_ref(
        &mut self,
        r: RuleRef,
        event: &Event,
        out: &mut Vec<CorrelationMatch>,
        depth: usize,
    ) {
        if depth > self.correlations.len() {
            return;
        }
        let Some(targets) = self.feeds.get(&r).cloned() else {
            return;
        };
        let now = event.time.0;
        for (ci, pos) in targets {
            let c = &self.correlations[ci];
            let group_fields = c.group_by.clone();
            let key: Vec<String> = group_fields
                .iter()
                .map(|g| {
                    let f = self.field_for(ci, pos, g);
                    event
                        .get_str(&f)
                        .map(|s| s.into_owned())
                        .unwrap_or_default()
                })
                .collect();
            let value = c.condition.field.as_ref().map(|f| {
                let f = self.field_for(ci, pos, f);
                event.get_str(&f).map(|s| s.into_owned())
            });
            let span = c.timespan_ns;
            let kind = c.kind;
            let cond = c.condition.clone();
            let nrules = c.rules.len();
            let groups = &mut self.state[ci];
            if !groups.contains_key(&key) && groups.len() >= self.limits.max_groups {
                // Drop expired groups, then the least recently seen.
                groups.retain(|_, g| g.last_seen >= now.saturating_sub(span));
                if groups.len() >= self.limits.max_groups {
                    if let Some(oldest) = groups
                        .iter()
                        .min_by_key(|(_, g)| g.last_seen)
                        .map(|(k, _)| k.clone())
                    {
                        groups.remove(&oldest);
                    }
                }
                self.evicted += 1;
            }
            let g = groups.entry(key.clone()).or_default();
            if cond.is_upper_bound() {
                // "Fewer than N": only decidable once the window has closed.
                // Windows start at the group's first event and are judged
                // when a later event (or `advance`/`flush`) passes their end.
                if let Some(start) = g.window_start {
                    if now >= start.saturating_add(span) {
                        let closed = std::mem::take(&mut g.entries);
                        g.window_start = None;
                        out.extend(judge(ci, &group_fields, &key, &closed, kind, nrules, &cond));
                    }
                }
                if kind.needs_field() && matches!(value, Some(None)) {
                    continue;
                }
                g.window_start.get_or_insert(now);
                g.last_seen = g.last_seen.max(now);
                g.entries.push_back(Entry {
                    time: now,
                    pos,
                    value: value.flatten(),
                });
                while g.entries.len() > self.limits.max_events_per_group {
                    g.entries.pop_front();
                }
                continue;
            }
            g.last_seen = g.last_seen.max(now);
            let horizon = g.last_seen.saturating_sub(span);
            g.entries.retain(|e| e.time >= horizon);
            if let Some(None) = value {
                // The aggregated field is absent: nothing to add for value_*.
                if kind.needs_field() {
                    continue;
                }
            }
            g.entries.push_back(Entry {
                time: now,
                pos,
                value: value.flatten(),
            });
            while g.entries.len() > self.limits.max_events_per_group {
                g.entries.pop_front();
            }
            let agg = aggregate(kind, &g.entries, nrules, cond.percentile);
            if let Some(x) = agg {
                if cond.holds(x) {
                    let first = g.entries.iter().map(|e| e.time).min().unwrap_or(now);
                    let last = g.entries.iter().map(|e| e.time).max().unwrap_or(now);
                    let events = g.entries.len();
                    g.entries.clear();
                    out.push(CorrelationMatch {
                        correlation: ci,
                        group: group_fields.into_iter().zip(key).collect(),
                        value: x,
                        events,
                        first_time: first,
                        last_time: last,
                    });
                    self.feed_ref(RuleRef::Correlation(ci), event, out, depth + 1);
                }
            }
        }
    }
}

/// Judge a closed window of an upper-bound correlation.
fn judge(
    ci: usize,
    group_fields: &[String],
    key: &[String],
    entries: &VecDeque<Entry>,
    kind: CorrelationType,
    nrules: usize,
    cond: &CorrelationCondition,
) -> Option<CorrelationMatch> {
    let x = aggregate(kind, entries, nrules, cond.percentile)?;
    if !cond.holds(x) {
        return None;
    }
    Some(CorrelationMatch {
        correlation: ci,
        group: group_fields
            .iter()
            .cloned()
            .zip(key.iter().cloned())
            .collect(),
        value: x,
        events: entries.len(),
        first_time: entries.iter().map(|e| e.time).min().unwrap_or(0),
        last_time: entries.iter().map(|e| e.time).max().unwrap_or(0),
    })
}

fn aggregate(
    kind: CorrelationType,
    entries: &VecDeque<Entry>,
    nrules: usize,
    percentile: Option<f64>,
) -> Option<f64> {
    let nums = || {
        entries
            .iter()
            .filter_map(|e| e.value.as_deref()?.trim().parse::<f64>().ok())
    };
    Some(match kind {
        CorrelationType::EventCount => entries.len() as f64,
        CorrelationType::ValueCount => entries
            .iter()
            .filter_map(|e| e.value.as_deref())
            .collect::<HashSet<_>>()
            .len() as f64,
        CorrelationType::Temporal => {
            entries.iter().map(|e| e.pos).collect::<HashSet<_>>().len() as f64
        }
        CorrelationType::TemporalOrdered => {
            // Greedy: earliest occurrence of rule 0, then rule 1 after it, …
            let mut sorted: Vec<&Entry> = entries.iter().collect();
            sorted.sort_by_key(|e| e.time);
            let mut want = 0;
            for e in sorted {
                if e.pos == want {
                    want += 1;
                    if want == nrules {
                        break;
                    }
                }
            }
            want as f64
        }
        CorrelationType::ValueSum => nums().sum(),
        CorrelationType::ValueAvg => {
            let v: Vec<f64> = nums().collect();
            if v.is_empty() {
                return None;
            }
            v.iter().sum::<f64>() / v.len() as f64
        }
        CorrelationType::ValuePercentile => {
            let mut v: Vec<f64> = nums().collect();
            if v.is_empty() {
                return None;
            }
            v.sort_by(|a, b| a.total_cmp(b));
            let p = percentile.unwrap_or(50.0).clamp(0.0, 100.0) / 100.0;
            // Nearest-rank percentile.
            let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
            v[rank - 1]
        }
    })
}

#[allow(dead_code)]
fn _value_is_used(_: &Value) {}
