//! The one event type every contraband stage works on.
//!
//! Decoders turn raw telemetry into [`Event`]s; the Sigma matcher reads them
//! through [`Event::visit`] and [`Event::for_each_scalar`], as
//! [`ValueRef`]s; sinks render them. No stage knows which source produced
//! an event.
//!
//! Field names follow the Sigma taxonomy for the event's [`LogSource`]
//! (`Image`, `CommandLine`, ...). Nested telemetry (Kubernetes audit) keeps its
//! own tree, read from the record's text in place ([`TreeBuilder`]), and is
//! addressed with dotted paths (`objectRef.resource`). The
//! container an event happened in is a typed [`ContainerContext`], reachable
//! by rules under the `container.` prefix.

mod container;
mod event;
mod fields;
pub mod json_writer;
mod logsource;
mod names;
mod path;
mod places;
mod shape;
mod spare;
mod text_hash;
mod time;
mod tree;
mod value_ref;

pub use container::{image_registry, ContainerContext, Mount};
pub use event::{Event, Origin, SharedContainer, SharedView, ViewPlace, CONTAINER_PREFIX};
pub use fields::{FieldName, Fields, IntoIter as FieldsIntoIter, Iter as FieldsIter};
pub use logsource::LogSource;
pub use names::short_eq;
pub use path::{
    visit_below, visit_leaf_ref, visit_map, visit_path, visit_plain_below, visit_strings, Object,
    Visitor,
};
pub use places::FieldPlaces;
pub use serde_json::{Map, Value};
pub use shape::{KeyCache, Shape};
pub use text_hash::text_hash;
pub use time::{parse_time, TimeError, Timestamp};
pub use tree::{TreeBuilder, TreeRef, TreeValue, TREE_MAX_KEYS};
pub use value_ref::{with_number_text, ValueRef};
