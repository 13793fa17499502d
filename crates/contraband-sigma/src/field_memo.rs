//! Each field's values in one event, found once for all the rules that
//! test it.
//!
//! The rules of one logsource test the same few fields over and over: in
//! the Kubernetes scenario an audit event has ~60 field paths walked, ~15
//! of them distinct (`verb` alone by a dozen rules). When a rule set is
//! built, every field it tests is numbered ([`number_fields`]); while the
//! set evaluates one event, the first rule to read a field walks its path
//! and the values found are kept for the rest.
//!
//! Distinct paths still share their start: the pod rules name some thirty
//! paths under `requestObject.spec`, each walked from the top. So the
//! prefixes where paths branch are numbered too, and a path continues from
//! its prefix's kept values. That is the same walk only where no object on
//! the prefix's way has a dotted member name (`"spec.containers"` could
//! reach past the prefix's values); a prefix is found with a walk that
//! checks this, and where it fails, the paths below it are walked whole.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};

use contraband_event::{
    visit_below, visit_leaf_ref, visit_plain_below, Event, ValueRef, CONTAINER_PREFIX,
};

use crate::compile::Node;

/// The number of a field no rule set numbered: always read from the event.
pub(crate) const UNNUMBERED: u32 = u32::MAX;

/// Numbers the fields the rules' detections test, the same name the same
/// number, and the prefixes they share after them.
pub(crate) fn number_fields<'n>(detections: impl Iterator<Item = &'n mut Node>) -> FieldPaths {
    let mut numbers: HashMap<Box<str>, u32> = HashMap::new();
    let mut fields = Vec::new();
    for node in detections {
        node.for_each_field_mut(&mut |test| {
            test.number = *numbers.entry(test.field.clone()).or_insert_with(|| {
                fields.push(test.field.clone());
                (fields.len() - 1) as u32
            });
        });
    }
    FieldPaths::new(fields)
}

/// Most prefixes a path continues through. Events nest at most 128 deep
/// (serde_json's limit; trees stop at 64), so longer chains buy nothing.
const MAX_CHAIN: usize = 32;

/// The fields a rule set tests, by number, then the prefixes where their
/// paths branch.
#[derive(Clone, Debug, Default)]
pub(crate) struct FieldPaths {
    entries: Vec<PathEntry>,
    /// Process-unique (0 for none): a memo's places are by number, and
    /// another rule set numbers other fields.
    id: u64,
}

/// Where [`FieldPaths`] ids come from.
static NEXT_PATHS_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Clone, Debug)]
struct PathEntry {
    path: Box<str>,
    /// The longest numbered prefix of `path` it continues from, and where
    /// the rest of `path` starts.
    from: Option<(u32, u32)>,
    /// Some path continues from this one: it is walked checking for dotted
    /// names, so they can.
    shared: bool,
    /// A name without a dot: one top-level field (`container.*` has one).
    top: bool,
}

/// The places `path` can be continued from: each prefix ending before a
/// dot, with the rest after it, shortest first. None for paths the event
/// reads specially (`container.*`) or with empty segments, and none before
/// an array index (a prefix's values are an array's items, not the array).
fn split_points(path: &str) -> impl DoubleEndedIterator<Item = (&str, &str)> {
    let whole = !path.starts_with(CONTAINER_PREFIX) && !path.split('.').any(str::is_empty);
    path.match_indices('.')
        .filter(move |_| whole)
        .map(|(at, _)| (&path[..at], &path[at + 1..]))
        .filter(|(_, rest)| {
            rest.split('.')
                .next()
                .is_some_and(|s| s.parse::<usize>().is_err())
        })
}

impl FieldPaths {
    fn new(fields: Vec<Box<str>>) -> FieldPaths {
        // The segments that follow each prefix, over every path.
        let mut next: HashMap<&str, HashSet<&str>> = HashMap::new();
        for path in &fields {
            for (prefix, rest) in split_points(path) {
                let segment = rest.split('.').next().unwrap_or(rest);
                next.entry(prefix).or_default().insert(segment);
            }
        }
        let mut numbers: HashMap<&str, u32> = HashMap::new();
        for (i, path) in fields.iter().enumerate() {
            numbers.insert(path, i as u32);
        }
        // A prefix is worth keeping where paths branch; a field that other
        // paths continue is kept anyway.
        let mut branches: Vec<&str> = next
            .iter()
            .filter(|(prefix, segments)| segments.len() > 1 && !numbers.contains_key(*prefix))
            .map(|(prefix, _)| *prefix)
            .collect();
        branches.sort_unstable();
        let mut entries: Vec<PathEntry> = fields
            .iter()
            .map(|p| &**p)
            .chain(branches.iter().copied())
            .map(|path| PathEntry {
                path: path.into(),
                from: None,
                shared: false,
                top: !path.contains('.'),
            })
            .collect();
        for (i, prefix) in branches.iter().enumerate() {
            numbers.insert(prefix, (fields.len() + i) as u32);
        }
        // Shorter paths first: a path's prefixes have their links by then.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by_key(|&i| entries[i].path.len());
        let mut depth = vec![0usize; entries.len()];
        for i in order {
            let path = entries[i].path.clone();
            let from = split_points(&path)
                .rev()
                .find_map(|(prefix, rest)| Some((*numbers.get(prefix)?, path.len() - rest.len())));
            // Reading a path resolves its prefixes first, one call each: a
            // chain as deep as a hostile rule set makes it must not take the
            // stack. Past the bound a path is walked from the top.
            let Some((parent, rest)) = from.filter(|&(p, _)| depth[p as usize] < MAX_CHAIN) else {
                continue;
            };
            depth[i] = depth[parent as usize] + 1;
            entries[i].from = Some((parent, rest as u32));
            entries[parent as usize].shared = true;
        }
        FieldPaths {
            entries,
            id: NEXT_PATHS_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Per worker: where each numbered field's values sit among the values of
/// the event being evaluated. Stamped with that event's turn, so a new
/// event costs no clearing.
#[derive(Clone, Debug, Default)]
pub struct FieldMemo {
    turn: u32,
    at: Vec<Stamp>,
    /// Per numbered top-level field, where events of one shape hold it;
    /// numbered by the [`FieldPaths`] of id `places_for`.
    places: Vec<Place>,
    places_for: u64,
    /// The last event's list of values, emptied, kept for its room: it
    /// grew from nothing for every event.
    spare: Vec<ValueRef<'static>>,
}

/// An empty list of values with `list`'s room, for values of any lifetime.
fn recycle<'a, 'b>(mut list: Vec<ValueRef<'a>>) -> Vec<ValueRef<'b>> {
    list.clear();
    // Same size and alignment: the standard library collects in place,
    // keeping the allocation.
    list.into_iter().map(|_| unreachable!("empty")).collect()
}

/// Where events of shape `shape` (a [`contraband_event::Shape`] id; 0 for
/// none yet) hold a top-level field: a read of it is then an index, not a
/// lookup by name.
#[derive(Clone, Copy, Debug, Default)]
struct Place {
    shape: u64,
    at: Option<u32>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Stamp {
    turn: u32,
    start: u32,
    len: u32,
    /// Found by a walk that met no dotted name: longer paths can continue
    /// from these values.
    plain: bool,
}

/// How rule evaluation reads an event's field values: straight from the
/// event, or through a [`FieldMemo`].
pub(crate) struct FieldReader<'e, 'm> {
    pub event: &'e Event,
    /// The event's [`contraband_event::Shape`] id, if it has one.
    shape: Option<u64>,
    memo: Option<&'m mut FieldMemo>,
    paths: &'m FieldPaths,
    values: Vec<ValueRef<'e>>,
}

impl Drop for FieldReader<'_, '_> {
    fn drop(&mut self) {
        if let Some(memo) = self.memo.as_deref_mut() {
            memo.spare = recycle(std::mem::take(&mut self.values));
        }
    }
}

/// The paths of a reader without a memo.
static NO_PATHS: FieldPaths = FieldPaths {
    entries: Vec::new(),
    id: 0,
};

impl<'e, 'm> FieldReader<'e, 'm> {
    pub fn direct(event: &'e Event) -> FieldReader<'e, 'm> {
        FieldReader {
            event,
            shape: None,
            memo: None,
            paths: &NO_PATHS,
            values: Vec::new(),
        }
    }

    /// A reader of `event` for a rule set whose fields are `paths`.
    pub fn memoized(
        event: &'e Event,
        memo: &'m mut FieldMemo,
        paths: &'m FieldPaths,
    ) -> FieldReader<'e, 'm> {
        memo.turn = memo.turn.wrapping_add(1);
        if memo.turn == 0 {
            // Wrapped: a stamp from four billion events ago would pass.
            memo.at.fill(Stamp::default());
            memo.turn = 1;
        }
        if memo.at.len() < paths.len() {
            memo.at.resize(paths.len(), Stamp::default());
        }
        if memo.places_for != paths.id {
            memo.places.clear();
            memo.places_for = paths.id;
        }
        if memo.places.len() < paths.len() {
            memo.places.resize(paths.len(), Place::default());
        }
        let values = recycle(std::mem::take(&mut memo.spare));
        FieldReader {
            event,
            shape: event.fields.shape_id(),
            memo: Some(memo),
            paths,
            values,
        }
    }

    /// Calls `f` on each value field `name` (numbered `number`) has in the
    /// event, until `f` breaks: the values [`Event::visit`] reaches, in
    /// its order.
    pub fn each(
        &mut self,
        name: &str,
        number: u32,
        mut f: impl FnMut(ValueRef<'e>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let (turn, kept) = match self.memo.as_deref() {
            Some(memo) if (number as usize) < self.paths.len() => {
                (memo.turn, memo.at[number as usize])
            }
            _ => return self.event.visit(name, &mut f),
        };
        // Most reads are of a field an earlier rule read: no call for them.
        let stamp = if kept.turn == turn {
            kept
        } else {
            self.resolve(number)
        };
        let (start, len) = (stamp.start as usize, stamp.len as usize);
        for &v in &self.values[start..start + len] {
            f(v)?;
        }
        ControlFlow::Continue(())
    }

    /// Where the values of path `number` (a field or prefix) sit among
    /// `self.values`, found now unless this event's are kept.
    fn resolve(&mut self, number: u32) -> Stamp {
        let Some(memo) = self.memo.as_deref() else {
            unreachable!("only a memoized reader resolves numbers");
        };
        let (turn, stamp) = (memo.turn, memo.at[number as usize]);
        if stamp.turn == turn {
            return stamp;
        }
        let paths = self.paths;
        let entry = &paths.entries[number as usize];
        // The prefix's values first: a path's own values must sit together.
        let from = entry
            .from
            .map(|(parent, rest)| (self.resolve(parent), &entry.path[rest as usize..]));
        let start = self.values.len();
        // Nothing to continue from (an audit event without a
        // `requestObject`, for the thirty paths below it).
        let plain = match from {
            Some((prefix, _)) if prefix.plain && prefix.len == 0 => true,
            _ => entry.shared && self.walk_plain(&entry.path, from),
        };
        if !plain {
            self.values.truncate(start);
            self.walk(number, &entry.path, from);
        }
        let stamp = Stamp {
            turn,
            start: start as u32,
            len: (self.values.len() - start) as u32,
            plain,
        };
        if let Some(memo) = self.memo.as_deref_mut() {
            memo.at[number as usize] = stamp;
        }
        stamp
    }

    /// Pushes the values `path` reaches, from its prefix's values (`from`)
    /// where those were found plainly. False when a dotted name was met.
    fn walk_plain(&mut self, path: &str, from: Option<(Stamp, &str)>) -> bool {
        let event = self.event;
        let Some((prefix, rest)) = from else {
            let values = &mut self.values;
            return event.visit_plain(path, &mut push_to(values)).is_some();
        };
        prefix.plain
            && (prefix.start..prefix.start + prefix.len).all(|i| {
                let v = self.values[i as usize];
                visit_plain_below(v, rest, &mut push_to(&mut self.values)).is_some()
            })
    }

    /// Pushes the values `path` (numbered `number`) reaches: from its
    /// prefix's values (`from`) where those were found plainly, else from
    /// the top.
    fn walk(&mut self, number: u32, path: &str, from: Option<(Stamp, &str)>) {
        match from {
            Some((prefix, rest)) if prefix.plain => {
                for i in prefix.start..prefix.start + prefix.len {
                    let v = self.values[i as usize];
                    let _ = visit_below(v, rest, &mut push_to(&mut self.values));
                }
            }
            _ => {
                let push = &mut push_to(&mut self.values);
                let top = self.paths.entries[number as usize].top;
                let (Some(shape), Some(memo), true) = (self.shape, self.memo.as_deref_mut(), top)
                else {
                    let _ = self.event.visit(path, push);
                    return;
                };
                let fields = &self.event.fields;
                let place = &mut memo.places[number as usize];
                if place.shape != shape {
                    let at = fields.position_of(path).map(|i| i as u32);
                    *place = Place { shape, at };
                }
                if let Some(v) = place.at.and_then(|i| fields.value_at(i as usize)) {
                    let _ = visit_leaf_ref(v, push);
                }
            }
        }
    }
}

/// A visitor that keeps every value in `values`.
fn push_to<'v, 'e>(
    values: &'v mut Vec<ValueRef<'e>>,
) -> impl FnMut(ValueRef<'e>) -> ControlFlow<()> + 'v {
    move |v| {
        values.push(v);
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::decoded_stream;
    use contraband_event::{LogSource, Timestamp};
    use serde_json::json;

    fn paths(names: &[&str]) -> FieldPaths {
        FieldPaths::new(names.iter().map(|&n| n.into()).collect())
    }

    fn values(r: &mut FieldReader<'_, '_>, name: &str, number: u32) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let _ = r.each(name, number, |v| {
            out.push(v.to_value());
            ControlFlow::Continue(())
        });
        out
    }

    #[test]
    fn a_memoized_read_is_what_the_event_holds_and_stays_with_its_event() {
        let event = |verb: &str| {
            let fields = json!({"verb": verb, "list": ["a", "b"], "o": {"k": 1}});
            Event::new(
                LogSource::default(),
                Timestamp(0),
                fields.as_object().unwrap().clone(),
            )
        };
        let (first, second) = (event("create"), event("get"));
        let mut memo = FieldMemo::default();
        let fields = paths(&["verb", "list", "o.k"]);
        let mut r = FieldReader::memoized(&first, &mut memo, &fields);
        assert_eq!(values(&mut r, "verb", 0), [json!("create")]);
        assert_eq!(values(&mut r, "verb", 0), [json!("create")], "kept");
        assert_eq!(values(&mut r, "list", 1), [json!("a"), json!("b")]);
        assert_eq!(values(&mut r, "o.k", 2), [json!(1)]);
        assert_eq!(
            values(&mut r, "missing", UNNUMBERED),
            Vec::<serde_json::Value>::new()
        );
        // Breaking early stops the walk over kept values too.
        let mut seen = 0;
        let flow = r.each("list", 1, |_| {
            seen += 1;
            ControlFlow::Break(())
        });
        assert!(flow.is_break());
        assert_eq!(seen, 1);
        drop(r);
        let mut r = FieldReader::memoized(&second, &mut memo, &fields);
        assert_eq!(
            values(&mut r, "verb", 0),
            [json!("get")],
            "not the last event's"
        );
        let mut direct = FieldReader::direct(&second);
        assert_eq!(values(&mut direct, "list", 1), [json!("a"), json!("b")]);
    }

    #[test]
    fn the_list_of_values_keeps_its_room_from_event_to_event() {
        let fields = json!({"verb": "create", "list": [1, 2, 3, 4, 5]});
        let event = Event::new(
            LogSource::default(),
            Timestamp(0),
            fields.as_object().unwrap().clone(),
        );
        let mut memo = FieldMemo::default();
        let fields = paths(&["verb", "list"]);
        let _ = values(
            &mut FieldReader::memoized(&event, &mut memo, &fields),
            "list",
            1,
        );
        let room = memo.spare.capacity();
        assert!(room >= 5 && memo.spare.is_empty());
        let again = FieldReader::memoized(&event, &mut memo, &fields);
        assert_eq!(again.values.capacity(), room);
    }

    #[test]
    fn a_wrapped_turn_forgets_every_stamp() {
        let fields = json!({"verb": "create"});
        let event = Event::new(
            LogSource::default(),
            Timestamp(0),
            fields.as_object().unwrap().clone(),
        );
        let mut memo = FieldMemo {
            turn: u32::MAX - 1,
            ..FieldMemo::default()
        };
        let fields = paths(&["verb"]);
        let _ = values(
            &mut FieldReader::memoized(&event, &mut memo, &fields),
            "verb",
            0,
        );
        assert_eq!(memo.at[0].turn, u32::MAX);
        let mut r = FieldReader::memoized(&event, &mut memo, &fields);
        assert_eq!(values(&mut r, "verb", 0), [json!("create")]);
        drop(r);
        assert_eq!(memo.turn, 1);
    }

    /// Every path's values through a memo, read in `order`, against a
    /// walk from the top.
    fn agree(event: &Event, names: &[String], order: impl Iterator<Item = usize>) {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        read_through(
            event,
            &mut FieldMemo::default(),
            &paths(&names),
            &names,
            order,
        );
    }

    /// The values of `names` (numbered as `paths` numbers them) read
    /// through `memo` in `order`, against a walk from the top.
    fn read_through(
        event: &Event,
        memo: &mut FieldMemo,
        paths: &FieldPaths,
        names: &[&str],
        order: impl Iterator<Item = usize>,
    ) {
        let mut r = FieldReader::memoized(event, memo, paths);
        for i in order {
            let mut walked = Vec::new();
            let _ = event.visit(names[i], &mut |v| {
                walked.push(v.to_value());
                ControlFlow::Continue(())
            });
            assert_eq!(values(&mut r, names[i], i as u32), walked, "{}", names[i]);
        }
    }

    fn event_of(fields: serde_json::Value) -> Event {
        Event::new(
            LogSource::default(),
            Timestamp(0),
            fields.as_object().unwrap().clone(),
        )
    }

    /// The record read by the JSON decoder: strings as text, nested values
    /// as a tree over it.
    fn decoded(record: &serde_json::Value) -> Event {
        let event = decoded_stream(std::slice::from_ref(record))
            .pop()
            .expect("one event");
        assert_eq!(
            serde_json::to_value(&event.fields).unwrap(),
            *record,
            "the decoder kept the record's fields"
        );
        event
    }

    #[test]
    fn paths_sharing_a_prefix_continue_from_its_values() {
        let names: Vec<String> = [
            "requestObject.spec.containers.image",
            "requestObject.spec.containers.securityContext.privileged",
            "requestObject.spec.hostPID",
            "requestObject.spec",
            "requestObject.spec.containers.1.image",
            "verb",
        ]
        .map(String::from)
        .into();
        let fields = FieldPaths::new(names.iter().map(|n| n.as_str().into()).collect());
        // `requestObject.spec` is a field other paths continue; the
        // containers branch is numbered after the fields; an index is never
        // continued from a prefix's values (they are the array's items).
        let entry = |path: &str| {
            let at = fields
                .entries
                .iter()
                .position(|e| &*e.path == path)
                .unwrap();
            let e = &fields.entries[at];
            (
                at,
                e.from
                    .map(|(p, rest)| (&*fields.entries[p as usize].path, &e.path[rest as usize..])),
                e.shared,
            )
        };
        assert_eq!(entry("requestObject.spec"), (3, None, true));
        assert_eq!(
            entry("requestObject.spec.containers"),
            (6, Some(("requestObject.spec", "containers")), true)
        );
        assert_eq!(
            entry("requestObject.spec.containers.securityContext.privileged").1,
            Some((
                "requestObject.spec.containers",
                "securityContext.privileged"
            ))
        );
        assert_eq!(
            entry("requestObject.spec.containers.1.image").1,
            Some(("requestObject.spec", "containers.1.image"))
        );
        assert_eq!(entry("verb"), (5, None, false));
        assert_eq!(fields.len(), 7);

        let plain = json!({"verb": "create", "requestObject": {"spec": {"hostPID": true, "containers": [
            {"image": "a", "securityContext": {"privileged": true}},
            {"image": "b", "securityContext": {"privileged": false}}
        ]}}});
        // A dotted name on the way: the flat `spec.containers` is reached
        // too, which continuing from `requestObject.spec` would miss.
        let dotted = json!({"verb": "create", "requestObject": {
            "spec.containers": [{"image": "flat"}],
            "spec": {"containers": {"image": "nested"}}
        }});
        // At the top, and in a prefix's value: what continues from there is
        // walked whole.
        let top =
            json!({"requestObject.spec.hostPID": 1, "requestObject": {"spec": {"hostPID": 2}}});
        let end = json!({"requestObject": {"spec": {"containers.image": "x", "containers": []}}});
        for record in [plain, dotted, top, end] {
            for event in [event_of(record.clone()), decoded(&record)] {
                agree(&event, &names, 0..names.len());
                agree(&event, &names, (0..names.len()).rev());
            }
        }
        let mut memo = FieldMemo::default();
        let event = event_of(json!({"requestObject": {
            "spec.containers": [{"image": "flat"}],
            "spec": {"containers": {"image": "nested"}}
        }}));
        let mut r = FieldReader::memoized(&event, &mut memo, &fields);
        assert_eq!(
            values(&mut r, &names[0], 0),
            [json!("nested"), json!("flat")]
        );
    }

    #[test]
    fn a_chain_of_prefixes_stays_within_its_bound() {
        // `a.x`, `a.a.x`, `a.a.a.x`...: every `a.a…` branches, so each path
        // would continue from the one before it.
        let names: Vec<String> = (1..=200).map(|n| format!("{}x", "a.".repeat(n))).collect();
        let fields = FieldPaths::new(names.iter().map(|n| n.as_str().into()).collect());
        let chain = |mut at: usize| {
            let mut links = 0;
            while let Some((parent, _)) = fields.entries[at].from {
                at = parent as usize;
                links += 1;
            }
            links
        };
        let longest = (0..fields.len()).map(chain).max().unwrap();
        assert_eq!(longest, MAX_CHAIN);
        // Forty levels down, `a.`×40 + `x` reaches a value, past the chain's
        // bound: read the same either way.
        let deep = format!("{}{{\"x\":1}}{}", "{\"a\":".repeat(40), "}".repeat(40));
        let event = event_of(serde_json::from_str(&deep).unwrap());
        let mut found = Vec::new();
        let _ = event.visit(&names[39], &mut |v| {
            found.push(v.to_value());
            ControlFlow::Continue(())
        });
        assert_eq!(found, [json!(1)]);
        agree(&event, &names, (0..names.len()).rev());
        agree(&event, &names, 0..names.len());
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;

        /// Objects whose names are path segments, dotted names and array
        /// indices among them.
        fn record() -> impl Strategy<Value = serde_json::Value> {
            let name = prop_oneof![Just("a"), Just("b"), Just("a.b"), Just("0"), Just("b.a")];
            let leaf = prop_oneof![
                Just(json!("x")),
                Just(json!(1)),
                Just(json!(null)),
                Just(json!([])),
                Just(json!({}))
            ];
            let value = leaf.prop_recursive(4, 24, 3, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 1..3).prop_map(serde_json::Value::from),
                    prop::collection::btree_map(name.clone(), inner, 1..4).prop_map(|m| {
                        serde_json::Value::Object(
                            m.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                        )
                    }),
                ]
            });
            prop::collection::btree_map(prop_oneof![Just("a"), Just("b"), Just("a.b")], value, 1..3)
                .prop_map(|m| {
                    serde_json::Value::Object(
                        m.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                    )
                })
        }

        fn names() -> impl Strategy<Value = Vec<String>> {
            prop::collection::btree_set("(a|b|0)(\\.(a|b|0)){0,3}", 1..12)
                .prop_map(|set| set.into_iter().collect())
        }

        /// Records of one stream: top-level names from a small pool, in
        /// any order, some left out, each record twice in a row (the
        /// decoder keeps the shape of a record met again).
        fn stream() -> impl Strategy<Value = Vec<serde_json::Value>> {
            let record = prop::collection::vec(
                (
                    prop_oneof![Just("a"), Just("b"), Just("c"), Just("d.e")],
                    prop_oneof![Just(json!("x")), Just(json!(7)), Just(json!(["y", 2]))],
                ),
                0..5,
            )
            .prop_map(crate::test_support::object);
            prop::collection::vec(record, 1..8)
                .prop_map(|rs| rs.into_iter().flat_map(|r| [r.clone(), r]).collect())
        }

        proptest! {
            /// One memo over a stream whose shapes change: a top-level
            /// field read by place is the field read by name, wherever
            /// each shape holds it, and a field a shape lacks is read as
            /// missing.
            #[test]
            fn top_level_reads_follow_the_shapes_of_a_stream(records in stream()) {
                let names = ["a", "b", "c", "d.e", "missing"];
                let fields = paths(&names);
                let mut memo = FieldMemo::default();
                let mut shaped = 0;
                for event in &decoded_stream(&records) {
                    shaped += usize::from(event.fields.shape_id().is_some());
                    read_through(event, &mut memo, &fields, &names, 0..names.len());
                }
                prop_assert!(shaped > 0 || records.iter().all(|r| r.as_object().unwrap().is_empty()));
            }

            /// Two rule sets numbering the same fields differently, taking
            /// turns with one memo over one stream: a place kept for one
            /// set's field is never read for the other's.
            #[test]
            fn rule_sets_sharing_a_memo_keep_their_own_places(records in stream()) {
                let sets = [["a", "b", "c"], ["c", "b", "a"]].map(|names| (names, paths(&names)));
                let mut memo = FieldMemo::default();
                for event in &decoded_stream(&records) {
                    for (names, fields) in &sets {
                        read_through(event, &mut memo, fields, names, 0..names.len());
                    }
                }
            }

            #[test]
            fn memoized_reads_are_the_walks_in_any_order(record in record(), names in names()) {
                for event in [event_of(record.clone()), decoded(&record)] {
                    agree(&event, &names, 0..names.len());
                    agree(&event, &names, (0..names.len()).rev());
                }
            }
        }
    }
}
