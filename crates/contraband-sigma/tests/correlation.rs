//! Correlation rules: parsing, validation and windowed evaluation.

use contraband_event::{Event, LogSource, Timestamp};
use contraband_sigma::{
    CorrelationEngine, CorrelationLimits, CorrelationMatch, LoadOptions, LoadReport, Loader,
    RuleError, RuleSet,
};
use serde_json::{json, Value};

const SEC: i64 = 1_000_000_000;

fn load(yaml: &str) -> LoadReport {
    let mut l = Loader::new(LoadOptions::default());
    l.add_source("corr.yml", yaml);
    l.finish()
}

fn ev(t: i64, fields: Value) -> Event {
    Event::new(
        LogSource::new(Some("test"), None, None),
        Timestamp(t * SEC),
        fields.as_object().unwrap().clone(),
    )
}

/// Run events through rule matching and the correlation engine.
fn run(set: &RuleSet, limits: CorrelationLimits, events: &[Event]) -> Vec<CorrelationMatch> {
    let mut engine = CorrelationEngine::new(set.correlations(), limits);
    let mut out = Vec::new();
    for e in events {
        for r in set.matches(e) {
            engine.feed(r as usize, e, &mut out);
        }
    }
    out
}

const BASE: &str = "title: failed login\nname: failed_login\nid: 11111111-0000-0000-0000-000000000001\nlogsource: {product: test}\n\
detection: {s: {action: fail}, condition: s}\n---\n\
title: success login\nname: ok_login\nlogsource: {product: test}\n\
detection: {s: {action: ok}, condition: s}\n";

#[test]
fn event_count_by_group_within_timespan() {
    let yaml = format!(
        "{BASE}---\ntitle: brute force\nid: c-1\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [user]\n  timespan: 10s\n  condition: {{gte: 3}}\n"
    );
    let r = load(&yaml);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let set = &r.ruleset;
    assert_eq!(set.correlations().len(), 1);
    assert!(!set.emits_alerts(0), "generate defaults to false");
    assert!(set.emits_alerts(1));
    let f = |t, u: &str| ev(t, json!({"action": "fail", "user": u}));
    // Two for alice, one for bob, then alice's third 5 s later: fires once.
    let out = run(
        set,
        CorrelationLimits::default(),
        &[f(0, "alice"), f(1, "alice"), f(2, "bob"), f(5, "alice")],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].group,
        vec![("user".to_string(), "alice".to_string())]
    );
    assert_eq!(out[0].value, 3.0);
    assert_eq!((out[0].first_time, out[0].last_time), (0, 5 * SEC));
    // Spread beyond the timespan: never three in 10 s.
    let out = run(
        set,
        CorrelationLimits::default(),
        &[f(0, "a"), f(8, "a"), f(19, "a"), f(30, "a")],
    );
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn value_count_distinct() {
    let yaml = format!(
        "{BASE}---\ntitle: spray\ncorrelation:\n  type: value_count\n  rules: [failed_login]\n  group-by: [src]\n  timespan: 1m\n  condition: {{gt: 2, field: user}}\n"
    );
    let r = load(&yaml);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let f = |t, u: &str| ev(t, json!({"action": "fail", "user": u, "src": "10.0.0.1"}));
    let out = run(
        &r.ruleset,
        CorrelationLimits::default(),
        &[f(0, "a"), f(1, "a"), f(2, "b"), f(3, "b")],
    );
    assert!(out.is_empty());
    let out = run(
        &r.ruleset,
        CorrelationLimits::default(),
        &[f(0, "a"), f(1, "b"), f(2, "a"), f(3, "c")],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].value, 3.0);
}

#[test]
fn temporal_and_ordered_with_aliases() {
    let yaml = format!(
        "{BASE}---\ntitle: fail then ok\ncorrelation:\n  type: temporal_ordered\n  rules: [failed_login, ok_login]\n  group-by: [who]\n  timespan: 1m\n  aliases:\n    who: {{failed_login: user, ok_login: account}}\n  generate: true\n"
    );
    let r = load(&yaml);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert!(r.ruleset.emits_alerts(0));
    assert!(r.ruleset.required_fields().contains("account"));
    let fail = |t| ev(t, json!({"action": "fail", "user": "alice"}));
    let ok = |t| ev(t, json!({"action": "ok", "account": "alice"}));
    let okbob = |t| ev(t, json!({"action": "ok", "account": "bob"}));
    assert!(
        run(&r.ruleset, CorrelationLimits::default(), &[ok(0), fail(1)]).is_empty(),
        "wrong order"
    );
    assert!(
        run(
            &r.ruleset,
            CorrelationLimits::default(),
            &[fail(0), okbob(1)]
        )
        .is_empty(),
        "other group"
    );
    assert!(
        run(
            &r.ruleset,
            CorrelationLimits::default(),
            &[fail(0), ok(120)]
        )
        .is_empty(),
        "too late"
    );
    let out = run(&r.ruleset, CorrelationLimits::default(), &[fail(0), ok(30)]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].group, vec![("who".to_string(), "alice".to_string())]);

    let unordered = yaml.replace("temporal_ordered", "temporal");
    let r = load(&unordered);
    assert_eq!(
        run(&r.ruleset, CorrelationLimits::default(), &[ok(0), fail(1)]).len(),
        1
    );
}

#[test]
fn value_sum_avg_percentile() {
    for (kind, cond, values, fires) in [
        ("value_sum", "{gt: 100, field: bytes}", vec![50, 40], false),
        (
            "value_sum",
            "{gt: 100, field: bytes}",
            vec![50, 40, 20],
            true,
        ),
        ("value_avg", "{gte: 50, field: bytes}", vec![40, 60], true),
        ("value_avg", "{gte: 50, field: bytes}", vec![40, 50], false),
        (
            "value_percentile",
            "{gte: 90, field: bytes, percentile: 95}",
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 95],
            true,
        ),
        (
            "value_percentile",
            "{gte: 90, field: bytes, percentile: 50}",
            vec![1, 2, 95],
            false,
        ),
    ] {
        let yaml = format!("{BASE}---\ntitle: v\ncorrelation:\n  type: {kind}\n  rules: [failed_login]\n  timespan: 1h\n  condition: {cond}\n");
        let r = load(&yaml);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        let evs: Vec<Event> = values
            .iter()
            .enumerate()
            .map(|(i, b)| ev(i as i64, json!({"action": "fail", "bytes": b})))
            .collect();
        let out = run(&r.ruleset, CorrelationLimits::default(), &evs);
        assert_eq!(!out.is_empty(), fires, "{kind} {cond} {values:?}: {out:?}");
    }
}

#[test]
fn chained_correlations() {
    let yaml = format!(
        "{BASE}---\ntitle: burst\nname: burst\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  timespan: 10s\n  condition: {{gte: 2}}\n\
         ---\ntitle: burst then ok\ncorrelation:\n  type: temporal_ordered\n  rules: [burst, ok_login]\n  timespan: 1m\n"
    );
    let r = load(&yaml);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let fail = |t| ev(t, json!({"action": "fail"}));
    let ok = |t| ev(t, json!({"action": "ok"}));
    let out = run(
        &r.ruleset,
        CorrelationLimits::default(),
        &[fail(0), fail(1), ok(2)],
    );
    let fired: Vec<usize> = out.iter().map(|m| m.correlation).collect();
    assert_eq!(fired, vec![0, 1]);
}

#[test]
fn validation_errors() {
    let bad_ref = format!("{BASE}---\ntitle: x\ncorrelation: {{type: event_count, rules: [nope], timespan: 5m, condition: {{gte: 1}}}}\n");
    let r = load(&bad_ref);
    assert_eq!(r.failed(), 1);
    assert!(
        matches!(&r.failures[0].error, RuleError::UnknownReference(n) if n == "nope"),
        "{}",
        r.failures[0]
    );

    let broken = "title: base\nname: b\nlogsource: {product: test}\ndetection: {s: {x|zzz: 1}, condition: s}\n---\n\
                  title: x\ncorrelation: {type: event_count, rules: [b], timespan: 5m, condition: {gte: 1}}\n";
    let r = load(broken);
    assert_eq!(r.failed(), 2);
    assert!(
        matches!(r.failures[1].error, RuleError::BrokenReference { .. }),
        "{}",
        r.failures[1]
    );

    for (c, why) in [
        (
            "{type: bogus, rules: [failed_login], timespan: 5m, condition: {gte: 1}}",
            "type",
        ),
        (
            "{type: event_count, rules: [failed_login], timespan: 5 parsecs, condition: {gte: 1}}",
            "timespan",
        ),
        (
            "{type: event_count, rules: [failed_login], timespan: 5m}",
            "condition",
        ),
        (
            "{type: value_count, rules: [failed_login], timespan: 5m, condition: {gte: 1}}",
            "field",
        ),
        (
            "{type: event_count, rules: [failed_login], timespan: 5m, condition: {about: 1}}",
            "about",
        ),
    ] {
        let r = load(&format!("{BASE}---\ntitle: x\ncorrelation: {c}\n"));
        assert_eq!(r.failed(), 1, "{c}");
        assert!(r.failures[0].to_string().contains(why), "{}", r.failures[0]);
    }
}

#[test]
fn state_is_bounded() {
    let yaml = format!(
        "{BASE}---\ntitle: c\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [user]\n  timespan: 1h\n  condition: {{gte: 1000000}}\n"
    );
    let r = load(&yaml);
    let limits = CorrelationLimits {
        max_groups: 100,
        max_events_per_group: 50,
    };
    let mut engine = CorrelationEngine::new(r.ruleset.correlations(), limits);
    let mut out = Vec::new();
    for i in 0..5_000i64 {
        let e = ev(
            i,
            json!({"action": "fail", "user": format!("u{}", i % 1000)}),
        );
        engine.feed(0, &e, &mut out);
        assert!(engine.groups() <= 100);
    }
    assert!(engine.evicted() > 0);
    assert!(out.is_empty());
}

#[test]
fn fewer_than_is_judged_when_the_window_closes() {
    let yaml = format!(
        "{BASE}---\ntitle: too quiet\ncorrelation:\n  type: event_count\n  rules: [ok_login]\n  group-by: [host]\n  timespan: 10s\n  condition: {{lt: 3}}\n"
    );
    let r = load(&yaml);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    let ok = |t, h: &str| ev(t, json!({"action": "ok", "host": h}));
    let mut engine = CorrelationEngine::new(r.ruleset.correlations(), CorrelationLimits::default());
    let mut out = Vec::new();
    // Busy host (3 in 10 s) and quiet host (1): nothing decided yet.
    for e in [ok(0, "busy"), ok(1, "quiet"), ok(2, "busy"), ok(3, "busy")] {
        for rule in r.ruleset.matches(&e) {
            engine.feed(rule as usize, &e, &mut out);
        }
    }
    assert!(out.is_empty(), "{out:?}");
    engine.advance(5 * SEC, &mut out);
    assert!(out.is_empty(), "windows still open");
    engine.advance(11 * SEC, &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        out[0].group,
        vec![("host".to_string(), "quiet".to_string())]
    );
    assert_eq!(out[0].value, 1.0);
    // A later event closes the busy host's next window too.
    out.clear();
    let e = ok(20, "busy");
    engine.feed(1, &e, &mut out);
    engine.flush(&mut out);
    assert_eq!(out.len(), 1, "flush judges the open window: {out:?}");
}
