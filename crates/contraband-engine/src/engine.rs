//! The detect stage: compiled Sigma rules plus what an alert needs to know
//! about each rule (level, ATT&CK tags, strategy).
//!
//! [`Engine`] is shared by all workers (immutable but for its cache of
//! per-logsource rule selections); the stateful stage
//! (correlation) is a separate [`Correlator`] owned by whoever sees events
//! in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use contraband_event::{Event, LogSource, Timestamp};
use contraband_sigma::{
    CorrelationEngine, CorrelationLimits, CorrelationMatch, PrefilterScratch, RuleMeta, RuleRef,
    RuleSet, Selection, SelectionKey,
};

use crate::alert::{Alert, Attack, RuleInfo, StrategyInfo};
use crate::level::Level;
use crate::strategy::Strategy;

/// What an alert says about a rule, computed once at load and shared by
/// the rule's alerts.
#[derive(Debug, Clone)]
struct RuleCard {
    info: Arc<RuleInfo>,
    attack: Arc<Attack>,
    strategy: Option<Arc<StrategyInfo>>,
}

impl RuleCard {
    fn new(meta: &RuleMeta, strategy_of: &HashMap<&str, Arc<StrategyInfo>>) -> RuleCard {
        let id = meta
            .id
            .clone()
            .or_else(|| meta.name.clone())
            .unwrap_or_else(|| meta.title.clone());
        RuleCard {
            strategy: strategy_of.get(id.as_str()).cloned(),
            info: Arc::new(RuleInfo {
                level: rule_level(meta),
                title: meta.title.clone(),
                status: meta.status.clone(),
                description: meta.description.clone(),
                id,
            }),
            attack: Arc::new(Attack::from_tags(meta.tags.iter().map(String::as_str))),
        }
    }

    fn alert(&self, event: &Event, matched: Map<String, Value>) -> Alert {
        Alert::new(
            self.info.clone(),
            self.attack.clone(),
            self.strategy.clone(),
            event,
            matched,
        )
    }
}

/// A rule without a level is informational: it cannot claim urgency it did not state.
fn rule_level(meta: &RuleMeta) -> Level {
    meta.level
        .as_deref()
        .and_then(|l| l.parse().ok())
        .unwrap_or(Level::Informational)
}

/// Compiled rules ready to judge events.
pub struct Engine {
    rules: RuleSet,
    cards: Vec<RuleCard>,
    correlation_cards: Vec<RuleCard>,
    /// Rule index → true when some correlation counts its matches.
    feeds_correlation: Vec<bool>,
    strategies: Vec<Strategy>,
    /// The rules each kind of event can match, built on first sight of
    /// the kind: prefiltered when they are many enough that one pass over
    /// the event's text beats evaluating every candidate.
    selections: Mutex<HashMap<SelectionKey, Arc<Selection>>>,
}

/// Below this many candidate rules for a logsource the prefilter's pass
/// over every event costs more than it saves. Measured (user CPU, 100,000
/// events, one core): the 122 SigmaHQ linux/process_creation rules run 2.3x
/// faster with it (2.07 s → 0.83–0.96 s); the ~70 rules of the k8s scenario
/// (SigmaHQ kubernetes + pack) and the pack alone on Docker events gain
/// nothing (within noise, k8s ~2% slower). Re-measured with the direct DFA
/// walk (callgrind, 20,000 k8s events): 3.09 G instructions without, 3.14 G
/// with: nearly every audit event holds the common literals.
const PREFILTER_MIN_RULES: usize = 100;

/// Per-worker scratch space so matching allocates nothing per event.
#[derive(Default)]
pub struct Scratch {
    hits: Vec<u32>,
    prefilter: PrefilterScratch,
    /// The last event's logsource and its selection: events of one input
    /// mostly share a logsource, so the shared map is rarely consulted.
    last: Option<(LogSource, Arc<Selection>)>,
}

/// One rule firing on one event, before it becomes an alert.
pub struct Hit {
    pub rule: usize,
    pub alert: Option<Alert>,
}

impl Engine {
    pub fn new(rules: RuleSet, strategies: Vec<Strategy>) -> Engine {
        let mut strategy_of: HashMap<&str, Arc<StrategyInfo>> = HashMap::new();
        for s in &strategies {
            let info = Arc::new(StrategyInfo::from(s));
            for rule in &s.rules {
                strategy_of
                    .entry(rule.as_str())
                    .or_insert_with(|| info.clone());
            }
        }
        let cards = rules
            .rules()
            .iter()
            .map(|r| RuleCard::new(&r.meta, &strategy_of))
            .collect();
        let correlation_cards = rules
            .correlations()
            .iter()
            .map(|c| RuleCard::new(&c.meta, &strategy_of))
            .collect();
        let mut feeds_correlation = vec![false; rules.len()];
        for c in rules.correlations() {
            for r in &c.rules {
                if let RuleRef::Rule(i) = r {
                    feeds_correlation[*i] = true;
                }
            }
        }
        Engine {
            selections: Mutex::new(HashMap::new()),
            rules,
            cards,
            correlation_cards,
            feeds_correlation,
            strategies,
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn strategies(&self) -> &[Strategy] {
        &self.strategies
    }

    pub fn has_correlations(&self) -> bool {
        !self.rules.correlations().is_empty()
    }

    /// Judge one event. Each rule that fires yields a [`Hit`]: with an alert
    /// unless the rule only feeds a correlation, and flagged for the
    /// correlator when one counts it.
    pub fn detect(&self, event: &Event, scratch: &mut Scratch, out: &mut Vec<Hit>) {
        scratch.hits.clear();
        if !matches!(&scratch.last, Some((ls, _)) if *ls == event.logsource) {
            let sel = self.selection(&event.logsource);
            scratch.last = Some((event.logsource.clone(), sel));
        }
        // Borrowed, not cloned: every worker holds this `Arc`, and its count
        // would be one cache line they all write for every event.
        let Some((_, selection)) = &scratch.last else {
            unreachable!("set above");
        };
        self.rules
            .matches_selection(selection, event, &mut scratch.prefilter, &mut scratch.hits);
        for &rule in &scratch.hits {
            let rule = rule as usize;
            let alert = self.rules.emits_alerts(rule).then(|| {
                let matched = self.matched(rule, event);
                self.cards[rule].alert(event, matched)
            });
            if alert.is_some() || self.feeds_correlation[rule] {
                out.push(Hit { rule, alert });
            }
        }
    }

    /// The selection for events of logsource `ls`, built on first use.
    fn selection(&self, ls: &LogSource) -> Arc<Selection> {
        let key = self.rules.selection_key(ls);
        let mut selections = self.selections.lock().unwrap_or_else(|e| e.into_inner());
        let sel = selections
            .entry(key)
            .or_insert_with(|| Arc::new(self.rules.select(ls, PREFILTER_MIN_RULES)));
        Arc::clone(sel)
    }

    /// True when rule `index` is counted by some correlation.
    pub fn feeds_correlation(&self, index: usize) -> bool {
        self.feeds_correlation[index]
    }

    /// The fields that made rule `index` match `event`.
    pub fn matched(&self, index: usize, event: &Event) -> Map<String, Value> {
        let mut matched = Map::new();
        for m in self.rules.matched_fields(index, event) {
            matched.entry(m.field).or_insert(m.value);
        }
        matched
    }

    /// Every rule (by id) that fires on `event` with its matched fields,
    /// silenced or not: what rule tests check.
    pub fn fired(&self, event: &Event) -> crate::rule_tests::Fired {
        self.rules
            .matches(event)
            .into_iter()
            .map(|i| {
                let i = i as usize;
                (self.cards[i].info.id.clone(), self.matched(i, event))
            })
            .collect()
    }

    /// A fresh correlation state for this engine's correlation rules.
    pub fn correlator(&self) -> Correlator<'_> {
        Correlator {
            engine: self,
            state: CorrelationEngine::new(self.rules.correlations(), CorrelationLimits::default()),
            matches: Vec::new(),
        }
    }
}

/// Correlation state over the stream of rule matches, in event-time order.
pub struct Correlator<'e> {
    engine: &'e Engine,
    state: CorrelationEngine,
    matches: Vec<CorrelationMatch>,
}

impl Correlator<'_> {
    /// Count a match of `rule` on `event`; alerts for correlations it
    /// completes go to `out`.
    pub fn feed(&mut self, rule: usize, event: &Event, out: &mut Vec<Alert>) {
        self.matches.clear();
        self.state.feed(rule, event, &mut self.matches);
        for m in self.matches.drain(..) {
            let card = &self.engine.correlation_cards[m.correlation];
            let mut matched = Map::new();
            for (field, value) in &m.group {
                matched.insert(field.clone(), Value::String(value.clone()));
            }
            matched.insert("correlation.value".into(), m.value.into());
            matched.insert("correlation.events".into(), m.events.into());
            matched.insert(
                "correlation.first_time".into(),
                Timestamp(m.first_time).to_rfc3339().into(),
            );
            let mut alert = card.alert(event, matched);
            alert.time = Timestamp(m.last_time);
            out.push(alert);
        }
    }

    /// Correlation groups dropped to keep memory bounded.
    pub fn evicted(&self) -> u64 {
        self.state.evicted()
    }
}
