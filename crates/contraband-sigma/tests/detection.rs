//! Detection semantics: every modifier, wildcards, null/empty, keywords,
//! numbers, conditions, matched fields, logsource indexing, hostile input.

use std::collections::HashMap;

use contraband_event::{Event, LogSource, Timestamp, Value};
use contraband_sigma::{LoadOptions, LoadReport, Loader, RuleError, RuleSet};
use serde_json::json;

fn load_with(opts: LoadOptions, yaml: &str) -> LoadReport {
    let mut l = Loader::new(opts);
    l.add_source("test.yml", yaml);
    l.finish()
}

fn rule_yaml(detection: &str) -> String {
    let body: String = detection.lines().map(|l| format!("  {l}\n")).collect();
    format!("title: t\nid: 00000000-0000-0000-0000-000000000001\nlogsource: {{product: test}}\ndetection:\n{body}")
}

fn compile(detection: &str) -> RuleSet {
    let r = load_with(LoadOptions::default(), &rule_yaml(detection));
    assert!(
        r.failures.is_empty(),
        "load failed: {:?}",
        r.failures.iter().map(|f| f.to_string()).collect::<Vec<_>>()
    );
    r.ruleset
}

fn load_err(detection: &str) -> RuleError {
    let r = load_with(LoadOptions::default(), &rule_yaml(detection));
    assert_eq!(r.ruleset.len(), 0, "rule unexpectedly loaded");
    r.failures.into_iter().next().expect("a failure").error
}

fn event(fields: Value) -> Event {
    Event::new(
        LogSource::new(Some("test"), None, None),
        Timestamp(0),
        fields.as_object().unwrap().clone(),
    )
}

fn hits(set: &RuleSet, fields: Value) -> bool {
    !set.matches(&event(fields)).is_empty()
}

/// Assert which events match.
fn check(detection: &str, yes: &[Value], no: &[Value]) {
    let set = compile(detection);
    for y in yes {
        assert!(hits(&set, y.clone()), "should match {y}\n{detection}");
    }
    for n in no {
        assert!(!hits(&set, n.clone()), "should not match {n}\n{detection}");
    }
}

#[test]
fn maps_and_lists() {
    check(
        "sel: {a: x, b: y}\ncondition: sel",
        &[json!({"a": "x", "b": "y"})],
        &[json!({"a": "x"}), json!({"a": "x", "b": "z"})],
    );
    check(
        "sel:\n  - {a: x}\n  - {b: y}\ncondition: sel",
        &[json!({"a": "x"}), json!({"b": "y"})],
        &[json!({"a": "y", "b": "x"})],
    );
    check(
        "sel: {a: [x, y]}\ncondition: sel",
        &[json!({"a": "x"}), json!({"a": "Y"})],
        &[json!({"a": "z"})],
    );
}

#[test]
fn all_modifier() {
    check(
        "sel: {a|contains|all: [foo, bar]}\ncondition: sel",
        &[json!({"a": "foo and bar"})],
        &[json!({"a": "foo"}), json!({"a": "bar"})],
    );
    // Arrays fan out: each pattern may match a different element.
    check(
        "sel: {a|all: [x, y]}\ncondition: sel",
        &[json!({"a": ["x", "y"]})],
        &[json!({"a": ["x"]})],
    );
}

#[test]
fn keywords() {
    check(
        "kw: {'|startswith': foo}\ncondition: kw",
        &[json!({"a": "foox"})],
        &[json!({"a": "xfoo"})],
    );
    check(
        "kw: {'|re': '^f.o$'}\ncondition: kw",
        &[json!({"a": "foo"})],
        &[json!({"a": "xfoo"})],
    );
    check(
        "kw: [evil, bad]\ncondition: kw",
        &[json!({"m": "so EVIL"}), json!({"n": {"d": "bad"}})],
        &[json!({"m": "good"})],
    );
    check(
        "kw: evil\ncondition: kw",
        &[json!({"m": "evil.exe"})],
        &[json!({"m": "ev il"})],
    );
    check(
        "kw: {'|all': [foo, bar]}\ncondition: kw",
        &[json!({"a": "foo", "b": "bar"})],
        &[json!({"a": "foo"})],
    );
    let set = compile("kw: [evil]\ncondition: kw");
    let e = event(json!({"x": "good", "y": "evil!"}));
    let m = set.matched_fields(0, &e);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].field, "y");
}

#[test]
fn null_and_empty() {
    check(
        "sel: {a: null}\ncondition: sel",
        &[json!({}), json!({"a": null})],
        &[json!({"a": ""}), json!({"a": "x"})],
    );
    check(
        "sel: {a: ''}\ncondition: sel",
        &[json!({"a": ""})],
        &[json!({}), json!({"a": "x"}), json!({"a": null})],
    );
    check(
        "sel: {a: [null, '']}\ncondition: sel",
        &[json!({}), json!({"a": ""})],
        &[json!({"a": "x"})],
    );
    check(
        "sel: {a: '*'}\ncondition: sel",
        &[json!({"a": ""}), json!({"a": "x"})],
        &[json!({})],
    );
}

#[test]
fn wildcards_everywhere() {
    check(
        "sel: {a|contains: '/etc/*.conf'}\ncondition: sel",
        &[json!({"a": "cat /etc/x.conf now"})],
        &[json!({"a": "/etc/conf"}), json!({"a": "/etc/x.con"})],
    );
    check(
        "sel: {a|startswith: 'ab?d'}\ncondition: sel",
        &[json!({"a": "abXd-rest"})],
        &[json!({"a": "abd"})],
    );
    check(
        "sel: {a|endswith: '\\*'}\ncondition: sel",
        &[json!({"a": "x*"})],
        &[json!({"a": "xy"})],
    );
    check(
        "sel: {a: 'a\\?c'}\ncondition: sel",
        &[json!({"a": "a?c"})],
        &[json!({"a": "abc"})],
    );
    // `\*` is an escaped star (spec), `\x` stays a backslash.
    check(
        "sel: {a: 'C:\\Windows\\*'}\ncondition: sel",
        &[json!({"a": "c:\\windows*"})],
        &[json!({"a": "c:\\windows\\x"})],
    );
    check(
        "sel: {a: 'C:\\Windows\\x*'}\ncondition: sel",
        &[json!({"a": "c:\\windows\\xy"})],
        &[json!({"a": "c:\\win"})],
    );
    check(
        "sel: {a: 'C:\\\\*'}\ncondition: sel",
        &[json!({"a": "C:\\x"})],
        &[json!({"a": "C:x"})],
    );
}

#[test]
fn case_and_cased() {
    check(
        "sel: {a: CmD.exe}\ncondition: sel",
        &[json!({"a": "cmd.EXE"})],
        &[],
    );
    check(
        "sel: {a|cased: CmD.exe}\ncondition: sel",
        &[json!({"a": "CmD.exe"})],
        &[json!({"a": "cmd.exe"})],
    );
    check(
        "sel: {a|contains|cased: Foo}\ncondition: sel",
        &[json!({"a": "xFoo"})],
        &[json!({"a": "xfoo"})],
    );
    check(
        "sel: {a|contains|cased: [Foo, Bar]}\ncondition: sel",
        &[json!({"a": "xBar"})],
        &[json!({"a": "xbar"})],
    );
}

#[test]
fn numbers_and_booleans() {
    check(
        "sel: {EventID: 4688}\ncondition: sel",
        &[json!({"EventID": 4688}), json!({"EventID": "4688"})],
        &[json!({"EventID": 4689})],
    );
    check(
        "sel: {EventID: '4688'}\ncondition: sel",
        &[json!({"EventID": 4688})],
        &[],
    );
    check(
        "sel: {p: true}\ncondition: sel",
        &[json!({"p": true}), json!({"p": "true"})],
        &[json!({"p": false})],
    );
    check(
        "sel: {EventID: [1, 2]}\ncondition: sel",
        &[json!({"EventID": 2})],
        &[json!({"EventID": 12})],
    );
}

#[test]
fn contains_startswith_endswith() {
    check(
        "sel: {a|contains: mid}\ncondition: sel",
        &[json!({"a": "xMIDy"})],
        &[json!({"a": "mi d"})],
    );
    check(
        "sel: {a|startswith: pre}\ncondition: sel",
        &[json!({"a": "prefix"})],
        &[json!({"a": "xpre"})],
    );
    check(
        "sel: {a|endswith: fix}\ncondition: sel",
        &[json!({"a": "suffix"})],
        &[json!({"a": "fixx"})],
    );
    check(
        "sel: {a|contains: [one, two, three]}\ncondition: sel",
        &[json!({"a": "xxTWOxx"}), json!({"a": ["n", "three"]})],
        &[json!({"a": "four"})],
    );
}

#[test]
fn exists_and_neq() {
    check(
        "sel: {a|exists: true}\ncondition: sel",
        &[json!({"a": "x"}), json!({"a": ""})],
        &[json!({}), json!({"a": null})],
    );
    check(
        "sel: {a|exists: false}\ncondition: sel",
        &[json!({})],
        &[json!({"a": "x"})],
    );
    check(
        "sel: {a|neq: x}\ncondition: sel",
        &[json!({"a": "y"})],
        &[json!({"a": "X"})],
    );
}

#[test]
fn windash() {
    check(
        "sel: {c|windash|contains: ' -enc '}\ncondition: sel",
        &[
            json!({"c": "ps -enc x"}),
            json!({"c": "ps /enc x"}),
            json!({"c": "ps \u{2013}enc x"}),
            json!({"c": "ps \u{2014}enc x"}),
            json!({"c": "ps \u{2015}enc x"}),
        ],
        &[json!({"c": "ps enc x"}), json!({"c": "ps +enc x"})],
    );
}

#[test]
fn all_with_alternative_producing_modifiers() {
    check(
        "sel: {c|windash|contains|all: ['-a', '-b']}\ncondition: sel",
        &[json!({"c": "x /a \u{2013}b"}), json!({"c": "x -a -b"})],
        &[json!({"c": "x -a"})],
    );
    check(
        "sel: {c|base64offset|contains|all: [foo, bar]}\ncondition: sel",
        &[json!({"c": "Zm9vYmFy"})],
        &[json!({"c": "Zm9v"})],
    );
}

#[test]
fn regex() {
    check(
        "sel: {a|re: '^a.c$'}\ncondition: sel",
        &[json!({"a": "abc"})],
        &[json!({"a": "ABC"}), json!({"a": "abcd"})],
    );
    check(
        "sel: {a|re|i: '^a.c$'}\ncondition: sel",
        &[json!({"a": "ABC"})],
        &[],
    );
    check(
        "sel: {a|re|m: '^b$'}\ncondition: sel",
        &[json!({"a": "a\nb\nc"})],
        &[],
    );
    check(
        "sel: {a|re: '^b$'}\ncondition: sel",
        &[],
        &[json!({"a": "a\nb\nc"})],
    );
    check(
        "sel: {a|re|s: 'a.b'}\ncondition: sel",
        &[json!({"a": "a\nb"})],
        &[],
    );
    check(
        "sel: {a|re: 'a.b'}\ncondition: sel",
        &[],
        &[json!({"a": "a\nb"})],
    );
    check(
        "sel: {n|re: '^4[0-9]+'}\ncondition: sel",
        &[json!({"n": 4688})],
        &[json!({"n": 5})],
    );
    assert!(matches!(
        load_err("sel: {a|re: '(?<=x)y'}\ncondition: sel"),
        RuleError::Regex { .. }
    ));
    assert!(matches!(
        load_err("sel: {a|i: 'x'}\ncondition: sel"),
        RuleError::BadModifiers { .. }
    ));
}

#[test]
fn base64_and_utf16() {
    // "abc" → YWJj
    check(
        "sel: {a|base64: abc}\ncondition: sel",
        &[json!({"a": "YWJj"})],
        &[json!({"a": "ywjj"})],
    );
    check(
        "sel: {a|base64|contains: abc}\ncondition: sel",
        &[json!({"a": "xxYWJjxx"})],
        &[],
    );
    // "http://" at the three offsets, embedded in longer encodings.
    check(
        "sel: {a|base64offset|contains: 'http://'}\ncondition: sel",
        &[
            json!({"a": "aHR0cDovL2V4YW1wbGU="}),
            json!({"a": "eGh0dHA6Ly9l"}),
            json!({"a": "eHhodHRwOi8vZQ=="}),
        ],
        &[json!({"a": "aHR0cHM6"})],
    );
    // UTF-16LE "ab" → YQBiAA==, as in powershell -enc payloads.
    check(
        "sel: {a|wide|base64: ab}\ncondition: sel",
        &[json!({"a": "YQBiAA=="})],
        &[json!({"a": "YWI="})],
    );
    check(
        "sel: {a|utf16le|base64: ab}\ncondition: sel",
        &[json!({"a": "YQBiAA=="})],
        &[],
    );
    check(
        "sel: {a|utf16be|base64: ab}\ncondition: sel",
        &[json!({"a": "AGEAYg=="})],
        &[],
    );
    check(
        "sel: {a|utf16|base64: ab}\ncondition: sel",
        &[json!({"a": "//5hAGIA"})],
        &[],
    );
    check(
        "sel: {a|wide|base64offset|contains: 'ping'}\ncondition: sel",
        &[json!({"a": "powershell -enc cABpAG4AZwAgADEAMgA3AC4AMAAuADAALgAxAA=="})],
        &[json!({"a": "cABvAG4AZwA="})],
    );
    assert!(matches!(
        load_err("sel: {a|wide: ab}\ncondition: sel"),
        RuleError::BadModifiers { .. }
    ));
}

#[test]
fn comparisons() {
    check(
        "sel: {n|gt: 5}\ncondition: sel",
        &[json!({"n": 6}), json!({"n": "7"})],
        &[json!({"n": 5}), json!({"n": "x"})],
    );
    check(
        "sel: {n|gte: 5}\ncondition: sel",
        &[json!({"n": 5})],
        &[json!({"n": 4.9})],
    );
    check(
        "sel: {n|lt: 5}\ncondition: sel",
        &[json!({"n": 4})],
        &[json!({"n": 5})],
    );
    check(
        "sel: {n|lte: 5}\ncondition: sel",
        &[json!({"n": 5})],
        &[json!({"n": 6})],
    );
    assert!(matches!(
        load_err("sel: {n|lt: abc}\ncondition: sel"),
        RuleError::Invalid { .. }
    ));
}

#[test]
fn cidr() {
    check(
        "sel: {ip|cidr: [10.0.0.0/8, '192.168.1.0/24']}\ncondition: sel",
        &[json!({"ip": "10.1.2.3"}), json!({"ip": "192.168.1.200"})],
        &[
            json!({"ip": "11.0.0.1"}),
            json!({"ip": "192.168.2.1"}),
            json!({"ip": "nope"}),
        ],
    );
    check(
        "sel: {ip|cidr: 'fe80::/10'}\ncondition: sel",
        &[json!({"ip": "fe80::1"})],
        &[json!({"ip": "2001:db8::1"})],
    );
    assert!(matches!(
        load_err("sel: {ip|cidr: 10.0.0.0/99}\ncondition: sel"),
        RuleError::Invalid { .. }
    ));
}

#[test]
fn expand_placeholders() {
    let mut opts = LoadOptions::default();
    opts.placeholders
        .insert("admins".into(), vec!["root".into(), "alice".into()]);
    let r = load_with(
        opts,
        &rule_yaml("sel: {user|expand: '%admins%'}\ncondition: sel"),
    );
    assert!(r.failures.is_empty());
    assert!(hits(&r.ruleset, json!({"user": "alice"})));
    assert!(!hits(&r.ruleset, json!({"user": "bob"})));
    match load_err("sel: {user|expand: '%nobody%'}\ncondition: sel") {
        RuleError::Placeholder(p) => assert_eq!(p, "nobody"),
        e => panic!("{e}"),
    }
}

#[test]
fn fieldref() {
    check(
        "sel: {a|fieldref: b}\ncondition: sel",
        &[json!({"a": "x", "b": "X"}), json!({"a": 1, "b": "1"})],
        &[json!({"a": "x", "b": "y"}), json!({"a": "x"})],
    );
    check(
        "sel: {a|fieldref|startswith: b}\ncondition: sel",
        &[json!({"a": "xyz", "b": "xy"})],
        &[json!({"a": "xyz", "b": "yz"})],
    );
    check(
        "sel: {a|fieldref|endswith: b}\ncondition: sel",
        &[json!({"a": "xyz", "b": "yz"})],
        &[json!({"a": "xyz", "b": "xy"})],
    );
    check(
        "sel: {a|fieldref|contains: b}\ncondition: sel",
        &[json!({"a": "xyz", "b": "y"})],
        &[json!({"a": "xyz", "b": "q"})],
    );
}

#[test]
fn time_parts() {
    // 2023-11-14T22:13:20Z is a Tuesday in ISO week 46.
    let t = || json!({"t": "2023-11-14T22:13:20Z"});
    check(
        "sel: {t|hour: 22}\ncondition: sel",
        &[t()],
        &[json!({"t": "2023-11-14T21:00:00Z"})],
    );
    check("sel: {t|minute: 13}\ncondition: sel", &[t()], &[]);
    check("sel: {t|day: 14}\ncondition: sel", &[t()], &[]);
    check("sel: {t|week: 46}\ncondition: sel", &[t()], &[]);
    check("sel: {t|month: 11}\ncondition: sel", &[t()], &[]);
    check(
        "sel: {t|year: 2023}\ncondition: sel",
        &[t()],
        &[json!({"t": "garbage"})],
    );
    check(
        "sel: {t|hour|gte: 20}\ncondition: sel",
        &[t()],
        &[json!({"t": "2023-11-14T08:00:00Z"})],
    );
}

#[test]
fn unknown_modifier_is_a_load_error() {
    match load_err("sel: {a|bogus: x}\ncondition: sel") {
        RuleError::UnknownModifier { modifier, .. } => assert_eq!(modifier, "bogus"),
        e => panic!("{e}"),
    }
    assert!(matches!(
        load_err("sel: {a|contains|startswith: x}\ncondition: sel"),
        RuleError::BadModifiers { .. }
    ));
}

#[test]
fn condition_precedence_and_quantifiers() {
    let det = "a: {x: 1}\nb: {y: 1}\nc: {z: 1}\ncondition: a or b and c";
    check(
        det,
        &[json!({"x": 1}), json!({"y": 1, "z": 1})],
        &[json!({"y": 1}), json!({"z": 1})],
    );
    let det = "a: {x: 1}\nb: {y: 1}\ncondition: not a and b";
    check(det, &[json!({"y": 1})], &[json!({"x": 1, "y": 1})]);
    let det = "a: {x: 1}\nb: {y: 1}\nc: {z: 1}\ncondition: (a or b) and not c";
    check(det, &[json!({"x": 1})], &[json!({"x": 1, "z": 1})]);
    let det = "sel_a: {x: 1}\nsel_b: {y: 1}\nfilter: {z: 1}\ncondition: 1 of sel_* and not filter";
    check(
        det,
        &[json!({"y": 1})],
        &[json!({"y": 1, "z": 1}), json!({"z": 1})],
    );
    let det = "sel_a: {x: 1}\nsel_b: {y: 1}\ncondition: all of sel_*";
    check(det, &[json!({"x": 1, "y": 1})], &[json!({"x": 1})]);
    let det = "a: {x: 1}\n_b: {y: 1}\ncondition: all of them";
    check(det, &[json!({"x": 1})], &[json!({"y": 1})]);
    let det = "a: {x: 1}\nb: {y: 1}\ncondition: 1 of them";
    check(det, &[json!({"y": 1})], &[json!({"z": 1})]);
    assert!(matches!(
        load_err("a: {x: 1}\ncondition: a and missing"),
        RuleError::Condition(_)
    ));
    assert!(matches!(
        load_err("a: {x: 1}\ncondition: 1 of nomatch*"),
        RuleError::Condition(_)
    ));
    assert!(matches!(
        load_err("a: {x: 1}\ncondition: a | count() > 5"),
        RuleError::Condition(_)
    ));
}

#[test]
fn matched_fields_report_the_values() {
    let set = compile("sel: {Image|endswith: /hashcat, CommandLine|contains: '-m 0'}\nf: {User: root}\ncondition: sel and not f");
    let e =
        event(json!({"Image": "/usr/bin/hashcat", "CommandLine": "hashcat -m 0 x", "User": "bob"}));
    assert_eq!(set.matches(&e), vec![0]);
    let m = set.matched_fields(0, &e);
    let pairs: Vec<(String, Value)> = m.into_iter().map(|f| (f.field, f.value)).collect();
    assert_eq!(
        pairs,
        vec![
            ("Image".to_string(), json!("/usr/bin/hashcat")),
            ("CommandLine".to_string(), json!("hashcat -m 0 x"))
        ]
    );
    assert!(set.required_fields().contains("User"));
}

#[test]
fn logsource_index_skips_other_sources() {
    let yaml = "title: a\nlogsource: {product: linux, category: process_creation}\ndetection: {s: {x: 1}, condition: s}\n---\n\
                title: b\nlogsource: {product: windows}\ndetection: {s: {x: 1}, condition: s}\n---\n\
                title: c\nlogsource: {category: process_creation}\ndetection: {s: {x: 1}, condition: s}\n---\n\
                title: d\nlogsource: {product: linux, service: auditd}\ndetection: {s: {x: 1}, condition: s}\n";
    let r = load_with(LoadOptions::default(), yaml);
    assert_eq!(r.ruleset.len(), 4);
    let mut e = event(json!({"x": 1}));
    e.logsource = LogSource::new(Some("Linux"), Some("process_creation"), Some("auditd"));
    assert_eq!(r.ruleset.matches(&e), vec![0, 2, 3]);
    e.logsource = LogSource::new(Some("windows"), None, None);
    assert_eq!(r.ruleset.matches(&e), vec![1]);
    assert_eq!(r.ruleset.candidates(&e.logsource), vec![1]);
    let (fields, all) = r.ruleset.required_fields_for(&e.logsource);
    assert_eq!(
        fields.into_iter().collect::<Vec<_>>(),
        vec!["x".to_string()]
    );
    assert!(!all);
}

#[test]
fn legacy_global_collections() {
    let yaml = "action: global\ntitle: g\nlogsource: {product: test}\ndetection:\n  f: {u: root}\n  condition: s and not f\n---\n\
                detection: {s: {x: 1}}\n---\n\
                logsource: {product: test}\ndetection: {s: {x: 2}}\n";
    let r = load_with(LoadOptions::default(), yaml);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(r.ruleset.len(), 2);
    assert_eq!(r.ruleset.matches(&event(json!({"x": 2}))), vec![1]);
    assert!(r
        .ruleset
        .matches(&event(json!({"x": 1, "u": "root"})))
        .is_empty());
}

#[test]
fn legacy_repeat_and_reset_collections() {
    // `repeat` takes the document before it (itself a repeat here) with
    // changes; `reset` forgets both the global and that document.
    let yaml = "title: a\nlogsource: {product: test}\ndetection: {s: {x: 1}, condition: s}\n---\n\
                action: repeat\ntitle: b\ndetection: {s: {x: 2}}\n---\n\
                action: repeat\ntitle: c\ndetection: {s: {y: 3}}\n---\n\
                action: reset\n---\n\
                action: repeat\ntitle: d\n";
    let r = load_with(LoadOptions::default(), yaml);
    let titles: Vec<&str> = r
        .ruleset
        .rules()
        .iter()
        .map(|rule| rule.meta.title.as_str())
        .collect();
    assert_eq!(titles, ["a", "b", "c"]);
    assert_eq!(r.ruleset.matches(&event(json!({"x": 2}))), vec![1]);
    // the second repeat merged into the first: `s` keeps x: 2 and adds y: 3
    assert_eq!(
        r.ruleset.matches(&event(json!({"x": 2, "y": 3}))),
        vec![1, 2]
    );
    assert_eq!(r.failures.len(), 1, "{:?}", r.failures);
    assert_eq!(r.failures[0].document, 4);
    assert!(
        r.failures[0]
            .error
            .to_string()
            .contains("`repeat` without a previous document"),
        "{}",
        r.failures[0].error
    );
}

#[test]
fn metadata_is_parsed() {
    let yaml = "title: T\nid: abc\nname: nm\nstatus: test\nlevel: high\ndescription: d\nauthor: me\ndate: 2024-01-02\n\
                modified: 2024/02/03\ntaxonomy: sigma\nscope: [server]\nreferences: [r1]\ntags: [attack.t1610]\nfalsepositives: [none]\nfields: [Image]\n\
                related: [{id: x, type: derived}]\n\
                logsource: {product: linux, category: process_creation, definition: 'needs auditd'}\n\
                detection: {s: {x: 1}, condition: s}\n";
    let r = load_with(LoadOptions::default(), yaml);
    let m = &r.ruleset.rule(0).meta;
    assert_eq!(m.title, "T");
    assert_eq!(m.name.as_deref(), Some("nm"));
    assert_eq!(m.level.as_deref(), Some("high"));
    assert_eq!(m.date.as_deref(), Some("2024-01-02"));
    assert_eq!(m.tags, vec!["attack.t1610"]);
    assert_eq!(m.taxonomy.as_deref(), Some("sigma"));
    assert_eq!(m.scope, vec!["server"]);
    assert_eq!(m.related[0].kind, "derived");
    assert_eq!(m.logsource.definition.as_deref(), Some("needs auditd"));
}

#[test]
fn failures_name_file_rule_and_reason() {
    let yaml = "title: ok\nlogsource: {product: test}\ndetection: {s: {x: 1}, condition: s}\n---\n\
                title: broken\nid: bad-1\nlogsource: {product: test}\ndetection: {s: {x|nope: 1}, condition: s}\n---\n\
                title: nodet\nlogsource: {product: test}\n";
    let r = load_with(LoadOptions::default(), yaml);
    assert_eq!(r.loaded(), 1);
    assert_eq!(r.failed(), 2);
    let f = &r.failures[0];
    assert_eq!(
        (
            f.path.as_str(),
            f.document,
            f.id.as_deref(),
            f.title.as_deref()
        ),
        ("test.yml", 1, Some("bad-1"), Some("broken"))
    );
    assert!(f.to_string().contains("unknown modifier `nope`"), "{f}");
    assert!(matches!(
        r.failures[1].error,
        RuleError::Missing("detection")
    ));
    assert_eq!(r.failures_by_kind().len(), 2);
}

#[test]
fn hostile_rules_are_rejected_not_fatal() {
    // Deep condition nesting.
    let deep = format!(
        "s: {{x: 1}}\ncondition: {}s{}",
        "(".repeat(500),
        ")".repeat(500)
    );
    assert!(matches!(load_err(&deep), RuleError::Condition(_)));
    // A regex whose compiled form is huge.
    assert!(matches!(
        load_err("s: {x|re: '(\\w{1,1000}){1,1000}'}\ncondition: s"),
        RuleError::Regex { .. }
    ));
    // YAML alias bombs ("billion laughs").
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb.push_str(
        "title: bomb\nlogsource: {product: test}\ndetection: {s: {x: *a11}, condition: s}\n",
    );
    let r = load_with(LoadOptions::default(), &bomb);
    assert_eq!(r.loaded(), 0);
    assert_eq!(r.failed(), 1);
    // Huge value lists.
    let many: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
    let big = format!("s: {{x: [{}]}}\ncondition: s", many.join(","));
    assert!(matches!(load_err(&big), RuleError::Limit(_)));
    // A big search referenced thousands of times.
    let vals: Vec<String> = (0..5_000).map(|i| format!("v{i}")).collect();
    let cond = vec!["s"; 5_000].join(" or ");
    let copies = format!("s: {{x: [{}]}}\ncondition: {cond}", vals.join(","));
    assert!(matches!(load_err(&copies), RuleError::Limit(_)));
    // Garbage.
    let r = load_with(LoadOptions::default(), "::: [ {");
    assert_eq!(r.failed(), 1);
    assert!(matches!(r.failures[0].error, RuleError::Yaml(_)));
}

#[test]
fn filters_narrow_named_rules() {
    let yaml = "title: base\nid: base-1\nlogsource: {product: test}\ndetection: {s: {x: 1}, condition: s}\n---\n\
                title: quiet root\nlogsource: {product: test}\nfilter:\n  rules: [base-1]\n  sel: {u: root}\n  condition: not sel\n";
    let r = load_with(LoadOptions::default(), yaml);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(
        r.ruleset.matches(&event(json!({"x": 1, "u": "bob"}))),
        vec![0]
    );
    assert!(r
        .ruleset
        .matches(&event(json!({"x": 1, "u": "root"})))
        .is_empty());
}

#[test]
fn placeholders_map_is_optional() {
    let _unused: HashMap<String, Vec<String>> = HashMap::new();
}

#[test]
fn warnings_for_ignored_constructs() {
    let yaml = "title: w\nstatus: deprecated\nlogsource: {}\ndetection: {s: {x: 1}, timeframe: 5m, condition: s}\n";
    let r = load_with(LoadOptions::default(), yaml);
    assert_eq!(r.loaded(), 1);
    let msgs: Vec<&str> = r.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert!(msgs[0].contains("timeframe"));
    assert!(msgs[1].contains("every event"));
    assert!(msgs[2].contains("deprecated"));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> String {
        serde_json::to_string(s).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Arbitrary keys, modifiers, values and conditions load or fail
        /// with an error, and whatever loads can be evaluated, never panicking.
        #[test]
        fn random_rules_never_panic(
            field in "[A-Za-z.]{0,6}",
            mods in prop::collection::vec(prop::sample::select(vec![
                "contains", "startswith", "endswith", "all", "re", "i", "m", "s", "base64", "base64offset",
                "wide", "utf16be", "windash", "cidr", "lt", "gte", "exists", "neq", "cased", "fieldref",
                "hour", "expand", "bogus",
            ]), 0..4),
            values in prop::collection::vec("\\PC{0,12}", 1..4),
            cond in "(s|not s|s and t|1 of s*|all of them|\\(s or t\\)|[a-z ()|]{0,12})",
            probe in "\\PC{0,20}",
        ) {
            let key = std::iter::once(field.clone()).chain(mods.iter().map(|m| m.to_string())).collect::<Vec<_>>().join("|");
            let vals = values.iter().map(|v| q(v)).collect::<Vec<_>>().join(", ");
            let yaml = format!(
                "title: fuzz\nlogsource: {{product: test}}\ndetection:\n  s:\n    {}: [{vals}]\n  t: [{}]\n  condition: {}\n",
                q(&key), q(&probe), q(&cond)
            );
            let r = load_with(LoadOptions::default(), &yaml);
            prop_assert_eq!(r.loaded() + r.failed(), 1);
            if r.loaded() == 1 {
                let name = if field.is_empty() { "x".to_string() } else { field.clone() };
                let mut m = serde_json::Map::new();
                m.insert(name, Value::String(probe.clone()));
                m.insert("n".into(), json!(5));
                let e = Event::new(LogSource::new(Some("test"), None, None), Timestamp(0), m);
                let hits = r.ruleset.matches(&e);
                if !hits.is_empty() {
                    let _ = r.ruleset.matched_fields(0, &e);
                }
            }
        }
    }
}

#[test]
fn container_context_and_nested_paths() {
    let set = compile(
        "sel:\n  container.privileged: true\n  container.mounts.source: /\n  requestObject.spec.containers.image|contains: hashcat\ncondition: sel",
    );
    let mut e = event(
        json!({"requestObject": {"spec": {"containers": [{"image": "alpine"}, {"image": "x/HASHCAT:6"}]}}}),
    );
    assert!(set.matches(&e).is_empty(), "no container context yet");
    e.set_container(contraband_event::ContainerContext {
        privileged: Some(true),
        mounts: vec![contraband_event::Mount {
            source: Some("/".into()),
            destination: Some("/host".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    assert_eq!(set.matches(&e), vec![0]);
    let fields: Vec<String> = set
        .matched_fields(0, &e)
        .into_iter()
        .map(|f| f.field)
        .collect();
    assert!(
        fields.contains(&"container.privileged".to_string()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"requestObject.spec.containers.image".to_string()),
        "{fields:?}"
    );
}

#[test]
fn deep_flow_nesting_is_refused_before_parsing() {
    // The YAML parser's work grows with depth x tokens before its own
    // depth limit applies: 50,000 nested `[` took 17 s to reject.
    let deep = format!(
        "title: d\nlogsource: {{product: test}}\ndetection:\n  s: {{x: {}{}}}\n  condition: s\n",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let started = std::time::Instant::now();
    let r = load_with(LoadOptions::default(), &deep);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(r.failed(), 1);
    assert!(matches!(r.failures[0].error, RuleError::Limit(_)));
    assert!(
        r.failures[0].to_string().contains("line 4"),
        "{}",
        r.failures[0]
    );
    // Brackets in quoted scalars and comments do not count ...
    let quoted = format!(
        "title: q\nlogsource: {{product: test}}\ndetection:\n  s: {{x|re: '{}', y: \"{}\"}} # {}\n  condition: s\n",
        "\\[".repeat(300),
        "[".repeat(300),
        "{".repeat(300)
    );
    assert_eq!(load_with(LoadOptions::default(), &quoted).loaded(), 1);
    // ... but a quote inside a plain scalar cannot hide real nesting.
    let hidden = format!("title: it's\nx: {}\n", "[".repeat(300));
    assert!(contraband_sigma::check_yaml_nesting(&hidden).is_err());
}
