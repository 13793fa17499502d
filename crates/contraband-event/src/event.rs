use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock, Weak};

use serde::Serialize;
use serde_json::Value;

use crate::names::has_dot;
use crate::path::{
    first_leaf, split_head, visit_map, visit_path, visit_plain_member, visit_strings, AsJson,
    Object, Visitor,
};
use crate::{ContainerContext, Fields, LogSource, Timestamp, ValueRef};

/// Where an event came from, precisely enough to find it again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// A file path, `-` for stdin, or a live source such as `docker:unix:///var/run/docker.sock`.
    pub source: Arc<str>,
    /// 1-based line of the (first) record, for line-oriented input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Byte offset of the record in the (decompressed) input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// 0-based index within a document holding many records (a JSON array).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
}

/// One normalized event.
#[derive(Debug, Default)]
pub struct Event {
    pub logsource: LogSource,
    pub time: Timestamp,
    /// Shared: a stream repeats a few hosts, and a decoder hands the
    /// same text to each event from one.
    pub host: Option<Arc<str>>,
    /// Shared: a stream's events come from a few hundred containers, and
    /// a decoder that has parsed one hands the same context to each event
    /// from it. Enrichment copies it on write ([`Event::container_mut`]).
    pub container: Option<Arc<ContainerContext>>,
    /// The event's fields: always a JSON object, keyed by Sigma field names
    /// (flat) or by the source's own tree (nested, addressed with dots).
    pub fields: Fields,
    pub origin: Origin,
    /// The record as read, for output. Decoders keep the text they already
    /// hold rather than re-serializing, so this costs nothing extra.
    pub raw: Option<Arc<str>>,
    container_value: ContainerView,
}

/// Where an event's container view is kept: its own, or the one every event
/// sharing a [`SharedContainer`] reads.
#[derive(Debug)]
enum ContainerView {
    /// Boxed: most events never build it, and every event is moved
    /// several times between stages.
    Own(OnceLock<Box<Value>>),
    Shared(SharedView),
}

/// The container view events sharing a [`SharedContainer`] read, by
/// identity: a reader that derives something from a context (what the
/// prefilter's literals find in it) keeps it under [`SharedView::addr`],
/// with a [`ViewPlace`] so that no other view takes that address.
#[derive(Clone, Debug, Default)]
pub struct SharedView(Arc<OnceLock<Value>>);

impl SharedView {
    /// Where the view is: the same for events sharing it.
    #[inline]
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// A hold on the view's address that does not keep the view: once
    /// the events sharing it are gone its contents are freed, but no other
    /// view is placed at its address while this is kept.
    pub fn place(&self) -> ViewPlace {
        ViewPlace {
            _held: Arc::downgrade(&self.0),
        }
    }
}

/// See [`SharedView::place`].
#[derive(Clone, Debug)]
pub struct ViewPlace {
    _held: Weak<OnceLock<Value>>,
}

impl Default for ContainerView {
    fn default() -> ContainerView {
        ContainerView::Own(OnceLock::new())
    }
}

/// The first value of a top-level field holding `v`: a list's first
/// element, as [`Event::get_ref`] reads it.
pub(crate) fn first_value(v: ValueRef<'_>) -> ValueRef<'_> {
    match v {
        ValueRef::Json(json) => ValueRef::Json(first_leaf(json)),
        ValueRef::Tree(tree) if tree.is_array() => tree.values().next().unwrap_or(v),
        other => other,
    }
}

/// A container context with its view as rules read it (`container.*`),
/// made once for all the events that share the context: a stream's events
/// come from a few hundred containers, and a view costs thousands of
/// instructions to build.
#[derive(Clone, Debug)]
pub struct SharedContainer {
    context: Arc<ContainerContext>,
    /// Built by the first event whose rules read it.
    view: SharedView,
    /// Whether `context` knows nothing, found once: asked for every event
    /// that shares it, by comparing with a default context.
    empty: bool,
}

impl SharedContainer {
    pub fn new(context: ContainerContext) -> SharedContainer {
        SharedContainer {
            empty: context.is_empty(),
            context: Arc::new(context),
            view: SharedView::default(),
        }
    }

    pub fn context(&self) -> &Arc<ContainerContext> {
        &self.context
    }

    /// [`ContainerContext::is_empty`] of the shared context.
    pub fn is_empty(&self) -> bool {
        self.empty
    }
}

/// The rule view of `container`: a JSON object of its fields.
fn view_of(container: &ContainerContext) -> Value {
    serde_json::to_value(container).unwrap_or(Value::Null)
}

impl Clone for Event {
    fn clone(&self) -> Event {
        Event {
            logsource: self.logsource.clone(),
            time: self.time,
            host: self.host.clone(),
            container: self.container.clone(),
            fields: self.fields.clone(),
            origin: self.origin.clone(),
            raw: self.raw.clone(),
            container_value: ContainerView::default(),
        }
    }
}

/// Field-name prefix under which rules reach the container context.
pub const CONTAINER_PREFIX: &str = "container.";

impl Event {
    pub fn new(logsource: LogSource, time: Timestamp, fields: impl Into<Fields>) -> Event {
        // Each member spelled out: `..Event::default()` built a default
        // field list only to drop it, a sixth of making an event.
        Event {
            logsource,
            time,
            host: None,
            container: None,
            fields: fields.into(),
            origin: Origin::default(),
            raw: None,
            container_value: ContainerView::default(),
        }
    }

    /// Attach (or replace) the container context.
    pub fn set_container(&mut self, container: ContainerContext) {
        self.set_shared_container(Arc::new(container));
    }

    /// Attach (or replace) the container context with one shared with other
    /// events.
    pub fn set_shared_container(&mut self, container: Arc<ContainerContext>) {
        self.container = Some(container);
        self.container_value = ContainerView::default();
    }

    /// Attach (or replace) a container context shared with other events,
    /// with its view.
    pub fn share_container(&mut self, shared: &SharedContainer) {
        self.container = Some(Arc::clone(&shared.context));
        self.container_value = ContainerView::Shared(shared.view.clone());
    }

    /// Mutable access to the container context, creating an empty one.
    /// Drops the cached rule view so the next lookup sees the change.
    pub fn container_mut(&mut self) -> &mut ContainerContext {
        self.container_value = ContainerView::default();
        Arc::make_mut(self.container.get_or_insert_with(Default::default))
    }

    /// Calls `f` on each value the Sigma field `name` has in this event,
    /// until `f` breaks. `container.*` names read the container context;
    /// every other name reads the fields.
    pub fn visit<'a>(&'a self, name: &str, f: &mut Visitor<'_, 'a>) -> ControlFlow<()> {
        self.visit_in(&self.fields, name, f)
    }

    /// [`Event::visit`] for a caller that continues longer paths from the
    /// values found: `None` where [`crate::visit_plain_below`] gives up, and for
    /// `container.*` names and fields with a dotted name.
    pub fn visit_plain<'a>(
        &'a self,
        name: &str,
        f: &mut Visitor<'_, 'a>,
    ) -> Option<ControlFlow<()>> {
        if name.starts_with(CONTAINER_PREFIX) || self.fields.has_dotted_key() {
            return None;
        }
        let (head, rest) = split_head(name);
        visit_plain_member(self.fields.get_ref(head), rest, f)
    }

    /// [`Event::visit`] with the fields read through `fields`.
    fn visit_in<'a, O: Object<'a>>(
        &'a self,
        fields: O,
        name: &str,
        f: &mut Visitor<'_, 'a>,
    ) -> ControlFlow<()> {
        if let Some(rest) = name.strip_prefix(CONTAINER_PREFIX) {
            if let Some(container) = self.container_view() {
                let mut found = false;
                let flow = visit_path(container, rest, &mut |v| {
                    found = true;
                    f(v)
                });
                if found {
                    return flow;
                }
            }
        }
        visit_map(fields, name, f)
    }

    /// The first value of field `name` as JSON, if it has any.
    pub fn get(&self, name: &str) -> Option<&Value> {
        if !has_dot(name.as_bytes()) {
            // A plain name: one lookup, no path walk.
            return self.fields.get(name).map(first_leaf);
        }
        let mut first = None;
        let _ = self.visit_in(AsJson(&self.fields), name, &mut |v| {
            first = v.as_json();
            ControlFlow::Break(())
        });
        first
    }

    /// The first value of field `name`, as it is held (see [`ValueRef`]).
    pub fn get_ref(&self, name: &str) -> Option<ValueRef<'_>> {
        if !has_dot(name.as_bytes()) {
            return self.fields.get_ref(name).map(first_value);
        }
        let mut first = None;
        let _ = self.visit(name, &mut |v| {
            first = Some(v);
            ControlFlow::Break(())
        });
        first
    }

    /// [`Event::get_ref`] of several plain (dotless) names in one pass over
    /// the fields rather than a lookup each.
    pub fn get_refs<const N: usize>(&self, names: [&str; N]) -> [Option<ValueRef<'_>>; N] {
        debug_assert!(names.iter().all(|n| !has_dot(n.as_bytes())));
        let mut found = [None; N];
        let mut left = N;
        for (name, v) in self.fields.refs() {
            if let Some(i) = names.iter().position(|&n| n == name) {
                if found[i].is_none() {
                    found[i] = Some(first_value(v));
                    left -= 1;
                    if left == 0 {
                        break;
                    }
                }
            }
        }
        found
    }

    /// The first value of field `name` as text (numbers and booleans are
    /// rendered; objects and arrays are not text).
    pub fn get_str(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.get_ref(name)?.to_text()
    }

    /// Calls `f` on every scalar in the event's fields, for keyword searches.
    pub fn for_each_scalar<'a>(&'a self, f: &mut Visitor<'_, 'a>) -> ControlFlow<()> {
        for v in self.fields.values() {
            visit_strings(v, f)?;
        }
        ControlFlow::Continue(())
    }

    /// The container context as rules see it, built on first use (or made
    /// once for a [`SharedContainer`]).
    pub fn container_view(&self) -> Option<&Value> {
        let container = self.container.as_deref()?;
        let view = || view_of(container);
        Some(match &self.container_value {
            ContainerView::Own(cell) => cell.get_or_init(|| Box::new(view())),
            ContainerView::Shared(shared) => shared.0.get_or_init(view),
        })
    }

    /// The container view this event shares with others
    /// ([`Event::share_container`]); `None` when its view is its own.
    #[inline]
    pub fn shared_view(&self) -> Option<&SharedView> {
        match &self.container_value {
            ContainerView::Shared(shared) if self.container.is_some() => Some(shared),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_stays_small_enough_to_move() {
        // Events move between the decoder, its queues and a worker about
        // six times; their size is what each move copies.
        let size = std::mem::size_of::<Event>();
        assert!(size <= 336, "an Event is {size} bytes");
    }

    #[test]
    fn a_shared_container_knows_whether_it_is_empty() {
        assert!(SharedContainer::new(ContainerContext::default()).is_empty());
        for context in [
            ContainerContext {
                id: Some("0123456789ab".into()),
                ..Default::default()
            },
            ContainerContext {
                privileged: Some(false),
                ..Default::default()
            },
            ContainerContext {
                labels: [("k".to_string(), "v".to_string())].into(),
                ..Default::default()
            },
        ] {
            assert!(!SharedContainer::new(context).is_empty());
        }
    }

    #[test]
    fn a_views_place_outlives_the_view_but_not_its_contents() {
        let shared = SharedContainer::new(ContainerContext {
            id: Some("0123456789ab".into()),
            ..Default::default()
        });
        let mut event = Event::default();
        event.share_container(&shared);
        let view = event.shared_view().expect("shared").clone();
        assert!(event.container_view().is_some(), "the view is built");
        let (place, addr) = (view.place(), view.addr());
        let other = Event::default();
        assert!(other.shared_view().is_none());
        drop((view, event, shared));
        assert!(place._held.upgrade().is_none(), "the view is freed");
        assert_eq!(place._held.as_ptr() as usize, addr, "its address is held");
    }

    #[test]
    fn container_fields_resolve_through_the_context() {
        let fields = json!({"Image": "/usr/bin/hashcat", "container.id": "from-fields"});
        let mut event = Event::new(
            LogSource::new(Some("linux"), Some("process_creation"), None),
            Timestamp(0),
            fields.as_object().unwrap().clone(),
        );
        assert_eq!(
            event.get_str("container.id").as_deref(),
            Some("from-fields")
        );
        event.set_container(ContainerContext {
            id: Some("abc".into()),
            privileged: Some(true),
            mounts: vec![crate::Mount {
                source: Some("/".into()),
                destination: Some("/mnt".into()),
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(event.get_str("container.id").as_deref(), Some("abc"));
        assert_eq!(event.get("container.privileged"), Some(&json!(true)));
        assert_eq!(
            event.get_str("container.mounts.source").as_deref(),
            Some("/")
        );
        assert_eq!(event.get_str("Image").as_deref(), Some("/usr/bin/hashcat"));
        event.container_mut().privileged = Some(false);
        assert_eq!(event.get("container.privileged"), Some(&json!(false)));
    }

    #[test]
    fn a_shared_container_lends_its_view_until_the_event_changes_it() {
        let shared = SharedContainer::new(ContainerContext {
            id: Some("abc".into()),
            image: Some("alpine:3".into()),
            ..Default::default()
        });
        let event = || {
            let mut e = Event::default();
            e.share_container(&shared);
            e
        };
        let (a, mut b) = (event(), event());
        let view = |e: &Event| e.container_view().unwrap() as *const Value;
        assert_eq!(view(&a), view(&b), "built once");
        assert_eq!(a.get_str("container.image").as_deref(), Some("alpine:3"));
        b.container_mut().image = Some("alpine:4".into());
        assert_ne!(view(&a), view(&b));
        assert_eq!(a.get_str("container.image").as_deref(), Some("alpine:3"));
        assert_eq!(b.get_str("container.image").as_deref(), Some("alpine:4"));
        assert_eq!(shared.context().image.as_deref(), Some("alpine:3"));
        // The view is what an unshared event builds for the same context.
        let mut own = Event::default();
        own.set_container((**shared.context()).clone());
        assert_eq!(own.container_view(), a.container_view());
    }

    #[test]
    fn get_refs_finds_what_get_ref_finds() {
        let event = Event::new(
            LogSource::default(),
            Timestamp(0),
            json!({"Image": "/bin/sh", "ProcessId": 7, "User": ["root", "x"], "a.b": "c",
                   "CommandLine": null, "Other": {"Image": "no"}})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        );
        let names = [
            "Image",
            "ProcessId",
            "User",
            "CommandLine",
            "Missing",
            "Other",
        ];
        let got = event.get_refs(names);
        for (name, got) in names.into_iter().zip(got) {
            let want = event.get_ref(name);
            assert_eq!(
                got.map(ValueRef::to_value),
                want.map(ValueRef::to_value),
                "{name}"
            );
        }
    }

    #[test]
    fn get_is_the_first_value_visit_reaches() {
        let fields = json!({
            "list": ["a", "b"], "empty": [], "null": null, "n": 7,
            "obj": {"inner": [{"x": 1}, {"x": 2}]}, "flat.name": "f",
        });
        let event = Event::new(
            LogSource::default(),
            Timestamp(0),
            fields.as_object().unwrap().clone(),
        );
        for name in [
            "list",
            "empty",
            "null",
            "n",
            "obj",
            "obj.inner",
            "obj.inner.x",
        ] {
            let mut first = None;
            let _ = event.visit(name, &mut |v| {
                first = Some(v.to_value());
                ControlFlow::Break(())
            });
            assert_eq!(event.get(name), first.as_ref(), "{name}");
            assert_eq!(event.get_ref(name).map(ValueRef::to_value), first, "{name}");
        }
        assert_eq!(event.get("list"), Some(&json!("a")));
        assert_eq!(event.get("empty"), Some(&json!([])));
        assert_eq!(event.get("obj.inner.x"), Some(&json!(1)));
        assert_eq!(event.get("flat.name"), Some(&json!("f")));
        assert_eq!(event.get("missing"), None);
    }
}
