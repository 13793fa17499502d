//! Each field's values in one event, found once for all the rules that
//! test it.
//!
//! The rules of one logsource test the same few fields over and over: in
//! the Kubernetes scenario an audit event has ~60 field paths walked, ~15
//! of them distinct (`verb` alone by a dozen rules). When a rule set is
//! built, every field it tests is numbered ([`number_fields`]); while the
//! set evaluates one event, the first rule to read a field walks its path
//! and the values found are kept for the rest.

use std::collections::HashMap;
use std::ops::ControlFlow;

use contraband_event::{Event, ValueRef};

use crate::compile::Node;

/// The number of a field no rule set numbered: always read from the event.
pub(crate) const UNNUMBERED: u32 = u32::MAX;

/// Numbers the fields the rules' detections test, the same name the same
/// number; returns how many there are.
pub(crate) fn number_fields<'n>(detections: impl Iterator<Item = &'n mut Node>) -> usize {
    let mut numbers: HashMap<Box<str>, u32> = HashMap::new();
    for node in detections {
        node.for_each_field_mut(&mut |test| {
            let next = numbers.len() as u32;
            test.number = *numbers.entry(test.field.clone()).or_insert(next);
        });
    }
    numbers.len()
}

/// Per worker: where each numbered field's values sit among the values of
/// the event being evaluated. Stamped with that event's turn, so a new
/// event costs no clearing.
#[derive(Clone, Debug, Default)]
pub struct FieldMemo {
    turn: u32,
    at: Vec<Stamp>,
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

#[derive(Clone, Copy, Debug, Default)]
struct Stamp {
    turn: u32,
    start: u32,
    len: u32,
}

/// How rule evaluation reads an event's field values: straight from the
/// event, or through a [`FieldMemo`].
pub(crate) struct FieldReader<'e, 'm> {
    pub event: &'e Event,
    memo: Option<&'m mut FieldMemo>,
    values: Vec<ValueRef<'e>>,
}

impl Drop for FieldReader<'_, '_> {
    fn drop(&mut self) {
        if let Some(memo) = self.memo.as_deref_mut() {
            memo.spare = recycle(std::mem::take(&mut self.values));
        }
    }
}

impl<'e, 'm> FieldReader<'e, 'm> {
    pub fn direct(event: &'e Event) -> FieldReader<'e, 'm> {
        FieldReader {
            event,
            memo: None,
            values: Vec::new(),
        }
    }

    /// A reader of `event` for a rule set with `fields` numbered fields.
    pub fn memoized(
        event: &'e Event,
        memo: &'m mut FieldMemo,
        fields: usize,
    ) -> FieldReader<'e, 'm> {
        memo.turn = memo.turn.wrapping_add(1);
        if memo.turn == 0 {
            // Wrapped: a stamp from four billion events ago would pass.
            memo.at.fill(Stamp::default());
            memo.turn = 1;
        }
        if memo.at.len() < fields {
            memo.at.resize(fields, Stamp::default());
        }
        let values = recycle(std::mem::take(&mut memo.spare));
        FieldReader {
            event,
            memo: Some(memo),
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
        let event = self.event;
        let Some(memo) = self.memo.as_deref_mut() else {
            return event.visit(name, &mut f);
        };
        let Some(stamp) = memo.at.get_mut(number as usize) else {
            return event.visit(name, &mut f);
        };
        if stamp.turn != memo.turn {
            let start = self.values.len();
            let values = &mut self.values;
            let _ = event.visit(name, &mut |v| {
                values.push(v);
                ControlFlow::Continue(())
            });
            *stamp = Stamp {
                turn: memo.turn,
                start: start as u32,
                len: (self.values.len() - start) as u32,
            };
        }
        let (start, len) = (stamp.start as usize, stamp.len as usize);
        for &v in &self.values[start..start + len] {
            f(v)?;
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contraband_event::{LogSource, Timestamp};
    use serde_json::json;

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
        let mut r = FieldReader::memoized(&first, &mut memo, 3);
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
        let mut r = FieldReader::memoized(&second, &mut memo, 3);
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
        let _ = values(&mut FieldReader::memoized(&event, &mut memo, 2), "list", 1);
        let room = memo.spare.capacity();
        assert!(room >= 5 && memo.spare.is_empty());
        let again = FieldReader::memoized(&event, &mut memo, 2);
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
        let _ = values(&mut FieldReader::memoized(&event, &mut memo, 1), "verb", 0);
        assert_eq!(memo.at[0].turn, u32::MAX);
        let mut r = FieldReader::memoized(&event, &mut memo, 1);
        assert_eq!(values(&mut r, "verb", 0), [json!("create")]);
        drop(r);
        assert_eq!(memo.turn, 1);
    }
}
