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
}

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
        if self.shape != Some(shape) {
            self.places.clear();
            self.places
                .extend(self.names.iter().map(|n| fields.position_of(n)));
            self.shape = Some(shape);
        }
        fields.value_at(self.places[i]?)
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
        let streams: [&[(&str, Value)]; 4] = [
            &[("ProcessId", json!(7)), ("ParentProcessId", json!(1))],
            &[("ParentProcessId", json!([3, 4])), ("ProcessId", json!(8))],
            &[("a", json!({"b": "nested"})), ("ProcessId", json!("9"))],
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
