//! Rules skipped by the value of one field.
//!
//! Below the prefilter's threshold, every rule of a logsource is evaluated
//! on each of its events. Most Kubernetes audit rules, though, require
//! `verb` to equal one of a few words (`create`, `update`, `patch`): a rule
//! whose words the event's verb is not cannot match, whatever else it
//! tests. A [`Gate`] reads that field once, through the field memo where
//! the rules would read it anyway, and lets through the rules whose words
//! it holds along with the rules that require no such thing.

use std::ops::ControlFlow;

use crate::compile::{Node, VTest};
use crate::field_memo::{FieldReader, UNNUMBERED};
use crate::pattern::StrMatcher;
use crate::scalar_text::with_text;
use crate::RuleSet;

/// Fewest rules a gate must screen to be worth reading its field first.
const GATE_MIN_RULES: usize = 2;

/// Most distinct words a gate compares a value with, one by one: past
/// this, evaluating the rules (each its own words) costs no more.
const GATE_MAX_WORDS: usize = 64;

/// The rules of a selection screened by the words one field must equal.
#[derive(Clone, Debug)]
pub(crate) struct Gate {
    field: Box<str>,
    number: u32,
    words: Box<[Word]>,
    /// The slots requiring no word, as bits.
    ungated: Box<[u64]>,
}

impl Gate {
    /// The gate over `rules` of `set` (slot `j` is `rules[j]`) by the field
    /// that screens the most of them; `None` when none screens enough.
    pub(crate) fn over(set: &RuleSet, rules: &[u32]) -> Option<Gate> {
        let required: Vec<Vec<Required<'_>>> = rules
            .iter()
            .map(|&rule| {
                let mut out = Vec::new();
                required_words(&set.rule(rule as usize).detection, &mut out);
                out
            })
            .collect();
        let mut screened: Vec<(u32, usize)> = Vec::new();
        for tests in &required {
            let mut numbers: Vec<u32> = tests.iter().map(|t| t.number).collect();
            numbers.sort_unstable();
            numbers.dedup();
            for number in numbers {
                match screened.iter_mut().find(|(n, _)| *n == number) {
                    Some((_, count)) => *count += 1,
                    None => screened.push((number, 1)),
                }
            }
        }
        // Most rules screened; of equals, the lowest number (stable).
        let (number, count) = screened
            .into_iter()
            .max_by_key(|&(n, count)| (count, std::cmp::Reverse(n)))?;
        if count < GATE_MIN_RULES {
            return None;
        }
        let bit_words = rules.len().div_ceil(64);
        let mut ungated = vec![0u64; bit_words];
        let mut words: Vec<Word> = Vec::new();
        let mut field = None;
        for (slot, tests) in required.iter().enumerate() {
            let bit = (slot / 64, 1u64 << (slot % 64));
            let Some(test) = tests.iter().find(|t| t.number == number) else {
                ungated[bit.0] |= bit.1;
                continue;
            };
            field = Some(test.field);
            for &word in &test.words {
                let at = match words.iter().position(|w| *w.text == *word) {
                    Some(at) => at,
                    None => {
                        words.push(Word {
                            text: word.into(),
                            slots: vec![0u64; bit_words].into(),
                        });
                        words.len() - 1
                    }
                };
                words[at].slots[bit.0] |= bit.1;
            }
        }
        if words.len() > GATE_MAX_WORDS {
            return None;
        }
        Some(Gate {
            field: field?.into(),
            number,
            words: words.into(),
            ungated: ungated.into(),
        })
    }

    /// Sets in `bits` the slots that may match the event `reader` reads.
    pub(crate) fn admit(&self, reader: &mut FieldReader<'_, '_>, bits: &mut Vec<u64>) {
        bits.clear();
        bits.extend_from_slice(&self.ungated);
        let _ = reader.each(&self.field, self.number, |v| {
            // The text rules compare: a number or boolean's too.
            let _ = with_text(v, |text| {
                for word in self.words.iter() {
                    let text_eq = word.text.len() == text.len()
                        && word.text.as_bytes().eq_ignore_ascii_case(text.as_bytes());
                    if text_eq {
                        bits.iter_mut()
                            .zip(word.slots.iter())
                            .for_each(|(b, s)| *b |= s);
                    }
                }
            });
            ControlFlow::Continue(())
        });
    }
}

/// A word the gate's field may equal, with the rules requiring it.
#[derive(Clone, Debug)]
struct Word {
    /// Lower-cased.
    text: Box<str>,
    /// The slots (rules) requiring it, as bits.
    slots: Box<[u64]>,
}

/// A field test a rule cannot match without: the field equals one of
/// `words` (lower-cased, compared with ASCII case folded, Sigma's default).
struct Required<'n> {
    field: &'n str,
    number: u32,
    words: Vec<&'n str>,
}

/// The tests `node` requires through `and`s alone that are equality with
/// words: `field: [a, b]` without modifiers, negation or `|all`.
fn required_words<'n>(node: &'n Node, out: &mut Vec<Required<'n>>) {
    match node {
        Node::And(xs) => xs.iter().for_each(|x| required_words(x, out)),
        Node::Field(ft)
            if !ft.negate && !ft.all && ft.any_contains.is_none() && ft.number != UNNUMBERED =>
        {
            let words: Option<Vec<&str>> = ft
                .tests
                .iter()
                .map(|t| match t {
                    VTest::Str(StrMatcher::Exact(lit)) if lit.ci => Some(&*lit.text),
                    _ => None,
                })
                .collect();
            if let Some(words) = words.filter(|w| !w.is_empty()) {
                out.push(Required {
                    field: &ft.field,
                    number: ft.number,
                    words,
                });
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LoadOptions, Loader, PrefilterScratch};
    use contraband_event::{Event, LogSource, Timestamp};
    use serde_json::json;

    /// Rules for one logsource: two gated by `verb`, the rest not, each
    /// for its own reason.
    fn rules() -> RuleSet {
        let mut loader = Loader::new(LoadOptions::default());
        for (name, detection) in [
            ("create", "{sel: {verb: create, objectRef.resource: pods}, condition: sel}"),
            ("update", "{a: {verb: [update, Patch]}, b: {user.username|contains: admin}, condition: a and b}"),
            ("contains", "{sel: {verb|contains: lis}, condition: sel}"),
            ("negated", "{sel: {verb: create}, condition: not sel}"),
            ("either", "{a: {verb: delete}, b: {objectRef.resource: secrets}, condition: a or b}"),
            ("none", "{sel: {objectRef.resource: secrets}, condition: sel}"),
        ] {
            loader.add_source(
                &format!("{name}.yml"),
                &format!("title: {name}\nlogsource: {{product: kubernetes, service: audit}}\ndetection: {detection}\n"),
            );
        }
        let report = loader.finish();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        report.ruleset
    }

    fn event(fields: serde_json::Value) -> Event {
        let ls = LogSource::new(Some("kubernetes"), None, Some("audit"));
        Event::new(ls, Timestamp(0), fields.as_object().unwrap().clone())
    }

    /// The titles of the rules the gate lets through for `fields`.
    fn admitted(set: &RuleSet, gate: &Gate, fields: serde_json::Value) -> Vec<String> {
        let ev = event(fields);
        let mut memo = crate::field_memo::FieldMemo::default();
        let mut reader = set.reader(&ev, &mut memo);
        let mut bits = Vec::new();
        gate.admit(&mut reader, &mut bits);
        let mut out = Vec::new();
        crate::prefilter::for_each_set_bit(bits.into_iter(), |slot| {
            out.push(set.rule(slot).meta.title.clone())
        });
        out
    }

    #[test]
    fn only_rules_requiring_a_word_are_gated_and_by_the_words_they_require() {
        let set = rules();
        let all: Vec<u32> = (0..set.len() as u32).collect();
        let gate = Gate::over(&set, &all).expect("two rules require verb words");
        assert_eq!(&*gate.field, "verb");
        let ungated = ["contains", "negated", "either", "none"];
        let with = |extra: &[&str]| -> Vec<String> {
            let mut want: Vec<String> = extra
                .iter()
                .chain(&ungated)
                .map(|s| s.to_string())
                .collect();
            want.sort_by_key(|t| set.rules().iter().position(|r| &r.meta.title == t));
            want
        };
        // Words compare as Sigma compares them: ASCII case folded.
        assert_eq!(
            admitted(&set, &gate, json!({"verb": "CREATE"})),
            with(&["create"])
        );
        assert_eq!(
            admitted(&set, &gate, json!({"verb": "patch"})),
            with(&["update"])
        );
        assert_eq!(
            admitted(&set, &gate, json!({"verb": ["get", "update"]})),
            with(&["update"])
        );
        assert_eq!(admitted(&set, &gate, json!({"verb": "get"})), with(&[]));
        assert_eq!(admitted(&set, &gate, json!({"other": 1})), with(&[]));
        assert_eq!(admitted(&set, &gate, json!({"verb": "créate"})), with(&[]));
    }

    #[test]
    fn a_gated_selection_finds_what_evaluating_every_rule_finds() {
        let set = rules();
        let sel = set.select(&event(json!({})).logsource, usize::MAX);
        assert!(!sel.is_prefiltered() && Gate::over(&set, sel.rules()).is_some());
        let mut scratch = PrefilterScratch::default();
        for fields in [
            json!({"verb": "Create", "objectRef": {"resource": "pods"}}),
            json!({"verb": "update", "user": {"username": "cluster-admin"}}),
            json!({"verb": ["list", "patch"], "user": {"username": "admin"}}),
            json!({"verb": "delete", "objectRef": {"resource": "secrets"}}),
            json!({"verb": 7, "objectRef": {"resource": "pods"}}),
            json!({"objectRef": {"resource": "secrets"}}),
        ] {
            let ev = event(fields.clone());
            let mut selected = Vec::new();
            set.matches_selection(&sel, &ev, &mut scratch, &mut selected);
            assert_eq!(selected, set.matches(&ev), "{fields}");
        }
    }

    #[test]
    fn no_gate_past_the_words_it_compares_one_by_one() {
        // Two rules of `n` words each.
        let rules = |n: usize| {
            let mut loader = Loader::new(LoadOptions::default());
            for rule in 0..2 {
                let words: Vec<String> = (0..n).map(|w| format!("w{rule}x{w}")).collect();
                loader.add_source(
                    &format!("r{rule}.yml"),
                    &format!(
                        "title: r{rule}\nlogsource: {{product: kubernetes}}\n\
                         detection: {{sel: {{verb: [{}]}}, condition: sel}}\n",
                        words.join(", ")
                    ),
                );
            }
            loader.finish().ruleset
        };
        assert!(Gate::over(&rules(GATE_MAX_WORDS / 2), &[0, 1]).is_some());
        assert!(Gate::over(&rules(GATE_MAX_WORDS / 2 + 1), &[0, 1]).is_none());
    }

    #[test]
    fn no_gate_without_enough_rules_to_screen() {
        let mut loader = Loader::new(LoadOptions::default());
        loader.add_source(
            "one.yml",
            "title: one\nlogsource: {product: kubernetes}\ndetection: {sel: {verb: create}, condition: sel}\n",
        );
        let set = loader.finish().ruleset;
        assert!(Gate::over(&set, &[0]).is_none());
    }
}
