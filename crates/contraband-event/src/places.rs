//! Where a reader's fields sit among the fields of events of one shape.
//!
//! A reader that takes the same few fields from every event (enrichment
//! reads `ProcessId` and `ParentProcessId`) looks each up by name: a tag,
//! a bucket, a comparison. Events of one [`crate::Shape`] hold their
//! fields at the same positions, so the positions can be found once per
//! shape and each read is then an index.

use crate::event::first_value;
use crate::names::has_dot;
use crate::{Event, ValueRef};

/// The places of a fixed list of field names among the fields of the
/// events read, found again whenever the events' shape changes. Events
/// without a shape are read by name, and so are names with a dot as paths
/// ([`FieldPlaces::get`]). Either way a read gives what reading by name
/// gives.
#[derive(Clone, Debug)]
pub struct FieldPlaces {
    names: Box<[Box<str>]>,
    /// Per name, whether it holds a dot: [`FieldPlaces::get`] reads it as
    /// a path.
    dotted: Box<[bool]>,
    /// The shape `places` are for.
    shape: Option<u64>,
    places: Vec<Option<usize>>,
    /// Per position of the shape `owners_of`, the index of the name held
    /// there, or [`NO_NAME`]: built on the first [`FieldPlaces::name_at`]
    /// of a shape (most readers never ask).
    owners_of: Option<u64>,
    owners: Vec<u32>,
}

/// In `owners`: no name of the list is at this position.
const NO_NAME: u32 = u32::MAX;

impl FieldPlaces {
    pub fn new<S: AsRef<str>>(names: &[S]) -> FieldPlaces {
        FieldPlaces {
            names: names.iter().map(|n| Box::from(n.as_ref())).collect(),
            dotted: names
                .iter()
                .map(|n| has_dot(n.as_ref().as_bytes()))
                .collect(),
            shape: None,
            places: Vec::new(),
            owners_of: None,
            owners: Vec::new(),
        }
    }

    /// [`Event::get_ref`] of the `i`th name (`None` past the list).
    /// Always inlined: a call cost about as much as the read (enrich
    /// reads three fields an event).
    #[inline(always)]
    pub fn get<'e>(&mut self, event: &'e Event, i: usize) -> Option<ValueRef<'e>> {
        if *self.dotted.get(i)? {
            return event.get_ref(&self.names[i]);
        }
        self.field(event, i).map(first_value)
    }

    /// [`crate::Fields::get_ref`] of the `i`th name: the top-level field
    /// of that name, whole (`None` past the list).
    #[inline(always)]
    pub fn field<'e>(&mut self, event: &'e Event, i: usize) -> Option<ValueRef<'e>> {
        let name = self.names.get(i)?;
        let fields = &event.fields;
        let Some(shape) = fields.shape_id() else {
            return fields.get_ref(name);
        };
        self.find_places(fields, shape);
        fields.value_at(self.places[i]?)
    }

    /// Which name of the list, by index, the top-level field at `position`
    /// of `event` has (`key` is that field's name): [`FieldPlaces::field`]
    /// the other way round, for a reader walking an event's fields in
    /// order. `None` when it has none of them.
    #[inline]
    pub fn name_at(&mut self, event: &Event, position: usize, key: &str) -> Option<usize> {
        let fields = &event.fields;
        let Some(shape) = fields.shape_id() else {
            return self.names.iter().position(|n| **n == *key);
        };
        if self.owners_of != Some(shape) {
            self.find_places(fields, shape);
            self.owners.clear();
            self.owners.resize(fields.len(), NO_NAME);
            for (i, place) in self.places.iter().enumerate() {
                if let Some(p) = *place {
                    self.owners[p] = i as u32;
                }
            }
            self.owners_of = Some(shape);
        }
        match *self.owners.get(position)? {
            NO_NAME => None,
            i => Some(i as usize),
        }
    }

    /// Makes `places` those of `shape`, the shape of `fields`.
    #[inline(always)]
    fn find_places(&mut self, fields: &crate::Fields, shape: u64) {
        if self.shape != Some(shape) {
            self.places.clear();
            self.places
                .extend(self.names.iter().map(|n| fields.position_of(n)));
            self.shape = Some(shape);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldName, Fields, KeyCache, LogSource, Timestamp};
    use serde_json::{json, Value};

    /// An event of `pairs`, read through `keys` as a decoder reads it.
    fn read(keys: &mut KeyCache, pairs: &[(&str, Value)]) -> Event {
        let mut fields = Fields::new();
        for (p, (name, value)) in pairs.iter().enumerate() {
            let name = keys.name(p, name);
            let name: FieldName<'_> = keys.name_next(&mut fields, &name);
            fields.set_json(name, value.clone()).unwrap();
        }
        keys.record_read(&fields);
        Event::new(LogSource::default(), Timestamp(0), fields)
    }

    #[test]
    fn reads_what_get_ref_reads_across_shapes() {
        let mut keys = KeyCache::default();
        let mut places = FieldPlaces::new(&["ProcessId", "ParentProcessId", "a.b", "Missing"]);
        let streams: [&[(&str, Value)]; 5] = [
            &[("ProcessId", json!(7)), ("ParentProcessId", json!(1))],
            &[("ParentProcessId", json!([3, 4])), ("ProcessId", json!(8))],
            &[("a", json!({"b": "nested"})), ("ProcessId", json!("9"))],
            &[
                ("x", json!(0)),
                ("a.b", json!("flat")),
                ("ProcessId", json!(11)),
            ],
            &[("ProcessId", json!(10)), ("ParentProcessId", json!(2))],
        ];
        let mut shaped = 0;
        // Each list twice in a row (its second record has a kept shape),
        // then the lists again, interleaved: the places must follow.
        for pairs in streams.iter().flat_map(|p| [p, p]).chain(&streams) {
            let event = read(&mut keys, pairs);
            shaped += usize::from(event.fields.shape_id().is_some());
            for (i, name) in ["ProcessId", "ParentProcessId", "a.b", "Missing"]
                .iter()
                .enumerate()
            {
                assert_eq!(
                    places.get(&event, i),
                    event.get_ref(name),
                    "{name} of {pairs:?}"
                );
            }
            // And the other way round: whose place each field is.
            for (at, key) in event.fields.keys().enumerate() {
                let named = ["ProcessId", "ParentProcessId", "a.b", "Missing"]
                    .iter()
                    .position(|n| *n == key);
                assert_eq!(places.name_at(&event, at, key), named, "{key} of {pairs:?}");
            }
        }
        assert!(shaped >= 4, "read by place: {shaped}");
        let plain = Event::new(
            LogSource::default(),
            Timestamp(0),
            json!({"ProcessId": 5}).as_object().unwrap().clone(),
        );
        assert_eq!(places.get(&plain, 0), Some(ValueRef::Json(&json!(5))));
        assert_eq!(places.get(&plain, 9), None);
    }
}
