//! The enrich stage: give events the container context other telemetry knows.
//!
//! Two joins, both bounded:
//! - by container id: a Docker `create` event or an auditd record attributed
//!   by cgroup knows only the id; the inspected configuration (privileged,
//!   mounts, capabilities …) is filled in from [`ContainerIndex`].
//! - by process ancestry: auditd and other process telemetry rarely name the
//!   container. The container's init process id (`State.Pid` of an inspect
//!   result) seeds [`ProcessAttributor`], which then follows parent ids, so
//!   a cracker started by the container's entrypoint is attributed to it.
//!   Processes started by `docker exec` are children of the same runtime
//!   shim as the init process, so the shim's children are attributed too.
//! - by runtime plumbing: when the telemetry includes the runtime's own
//!   processes (runc, containerd shims, conmon), their command lines name
//!   the container id; `runc init` inherits it and the workload it execs is
//!   attributed. The plumbing itself is never attributed: it runs on the host.

use std::collections::VecDeque;
use std::sync::Arc;

use contraband_event::{ContainerContext, Event, FieldPlaces, SharedContainer, ValueRef};
// Seeded per process and per table, so colliding keys cannot be prepared
// in advance; every table here is bounded as well.
use foldhash::{HashMap, HashMapExt};

/// Known containers: context by id, and init process id → container id.
#[derive(Debug, Default, Clone)]
pub struct ContainerIndex {
    by_id: HashMap<String, Arc<ContainerContext>>,
    init_pids: HashMap<u64, String>,
}

/// Containers remembered at most; the index is built from inspect data,
/// which is small, but input is untrusted.
const MAX_CONTAINERS: usize = 100_000;

impl ContainerIndex {
    pub fn new() -> ContainerIndex {
        ContainerIndex::default()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Learn from an event that describes a container (an inspect result or
    /// an engine event with attributes). Richer contexts win field by field.
    pub fn learn(&mut self, event: &Event) {
        let Some(ctx) = event.container.as_deref() else {
            return;
        };
        let Some(id) = ctx.id.clone() else {
            return;
        };
        if let Some(pid) = event
            .get("State.Pid")
            .and_then(|v| v.as_u64())
            .filter(|p| *p > 0)
        {
            if self.init_pids.len() < MAX_CONTAINERS {
                self.init_pids.insert(pid, id.clone());
            }
        }
        let full = self.by_id.len() >= MAX_CONTAINERS;
        match self.by_id.get_mut(&id) {
            Some(known) => {
                let mut merged = ctx.clone();
                merged.fill_from(known);
                *known = Arc::new(merged);
            }
            None if !full => {
                self.by_id.insert(id, Arc::new(ctx.clone()));
            }
            None => {}
        }
    }

    /// The context known for a container id (full id or a 12+ digit prefix).
    pub fn get(&self, id: &str) -> Option<&Arc<ContainerContext>> {
        if let Some(c) = self.by_id.get(id) {
            return Some(c);
        }
        if id.len() < 12 {
            return None;
        }
        self.by_id
            .iter()
            .find(|(k, _)| k.starts_with(id) || id.starts_with(k.as_str()))
            .map(|(_, v)| v)
    }

    fn container_of_init(&self, pid: u64) -> Option<&str> {
        self.init_pids.get(&pid).map(String::as_str)
    }
}

/// Follows process ancestry within one stream of events (one file, one live
/// source). Memory is capped: the oldest pids are forgotten first.
#[derive(Debug)]
pub struct ProcessAttributor {
    index: Arc<ContainerIndex>,
    /// pid → container id slot, for processes known to run in a container.
    /// An entry is 8 bytes: a full table is probed at random two or three
    /// times an event, and at 24 bytes an entry (a shared id) it was 3.3 MB,
    /// past the core's cache.
    pids: HashMap<u32, u32>,
    /// Runtime shim pid → container id slot: its children are in the
    /// container.
    shims: HashMap<u32, u32>,
    /// The container ids the tables name.
    slots: IdSlots,
    /// The id slot of contexts met lately, found by the context's address:
    /// events of one container share its context, and hashing and
    /// comparing its 64-digit id cost more than the rest of enrichment.
    /// Each entry holds its context, so no other takes its address. A map,
    /// not a direct-mapped table: two workers' decoders each share a
    /// context per container, and ~600 containers' 1,200 addresses in
    /// 1,024 places collided for a third of the events.
    recent: HashMap<usize, RecentContext>,
    order: VecDeque<u32>,
    capacity: usize,
    /// Where [`PROCESS_FIELDS`] are in the stream's events.
    places: FieldPlaces,
}

/// A context met lately, its id's slot and the slot's generation then.
type RecentContext = (Arc<ContainerContext>, u32, u32);

/// Contexts whose id slot is kept by address (then the map starts over):
/// as many as four decoders keep parsed contexts.
const RECENT_CONTEXTS: usize = 4096;

/// The fields a process is known by: its id and its parent's, and the
/// command line that may name the container runtime.
const PROCESS_FIELDS: [&str; 3] = ["ProcessId", "ParentProcessId", "CommandLine"];

/// Container ids, each kept once under a slot number that the pid tables
/// hold: a full table names a few containers tens of thousands of times.
/// A slot no table entry names is freed when the ids reach their bound.
#[derive(Debug, Default)]
struct IdSlots {
    /// Slot → id; `None` when free.
    ids: Vec<Option<Arc<str>>>,
    /// Slot → table entries naming it.
    uses: Vec<u32>,
    /// Slot → times it was freed: a slot kept with an older count (see
    /// `recent`) names an id that is gone.
    generation: Vec<u32>,
    /// Slot → what the index knows of its container and the context an
    /// event attributed to it gets; made on first use.
    contexts: Vec<Option<SlotContext>>,
    by_id: HashMap<Arc<str>, u32>,
    free: Vec<u32>,
}

/// A container id's contexts, looked up and made once for all its events.
#[derive(Debug)]
struct SlotContext {
    /// The inspected configuration, if the index has the id.
    known: Option<Arc<ContainerContext>>,
    /// The id with the inspected configuration, shared by every event
    /// attributed by ancestry: its view is built once and its text scanned
    /// once by a prefilter, not per event as an event's own copy would be.
    attributed: SharedContainer,
}

impl IdSlots {
    /// The slot of `id`, made if new: first freeing every slot no table
    /// names when `bound` ids are kept.
    fn intern(&mut self, id: &str, bound: usize) -> u32 {
        if let Some(&slot) = self.by_id.get(id) {
            return slot;
        }
        if self.by_id.len() >= bound {
            for slot in 0..self.ids.len() {
                if self.uses[slot] == 0 && self.ids[slot].is_some() {
                    self.release_slot(slot);
                }
            }
        }
        let id: Arc<str> = Arc::from(id);
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.ids.push(None);
                self.uses.push(0);
                self.generation.push(0);
                self.contexts.push(None);
                (self.ids.len() - 1) as u32
            }
        };
        self.ids[slot as usize] = Some(Arc::clone(&id));
        self.by_id.insert(id, slot);
        slot
    }

    fn release_slot(&mut self, slot: usize) {
        if let Some(id) = self.ids[slot].take() {
            self.contexts[slot] = None;
            self.by_id.remove(&id);
            self.generation[slot] = self.generation[slot].wrapping_add(1);
            self.free.push(slot as u32);
        }
    }

    /// A table entry names `slot` from now on.
    fn hold(&mut self, slot: u32) {
        self.uses[slot as usize] += 1;
    }

    /// A table entry naming `slot` is gone.
    fn release(&mut self, slot: u32) {
        let uses = &mut self.uses[slot as usize];
        *uses = uses.saturating_sub(1);
    }

    #[cfg(test)]
    fn id(&self, slot: u32) -> Option<&Arc<str>> {
        self.ids.get(slot as usize)?.as_ref()
    }

    /// The contexts of `slot`'s container, made on first use from what
    /// `index` knows; `None` for a free slot.
    fn context(&mut self, slot: u32, index: &ContainerIndex) -> Option<&SlotContext> {
        let slot = slot as usize;
        let id = self.ids.get(slot)?.as_ref()?;
        Some(self.contexts[slot].get_or_insert_with(|| {
            let known = index.get(id).cloned();
            let mut attributed = ContainerContext {
                id: Some(id.to_string()),
                ..ContainerContext::default()
            };
            if let Some(known) = &known {
                attributed.fill_from(known);
            }
            SlotContext {
                known,
                attributed: SharedContainer::new(attributed),
            }
        }))
    }

    fn generation(&self, slot: u32) -> u32 {
        self.generation[slot as usize]
    }

    /// Ids kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_id.len()
    }
}

impl ProcessAttributor {
    pub fn new(index: Arc<ContainerIndex>, capacity: usize) -> ProcessAttributor {
        ProcessAttributor {
            index,
            pids: HashMap::new(),
            shims: HashMap::new(),
            slots: IdSlots::default(),
            recent: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(16),
            places: FieldPlaces::new(&PROCESS_FIELDS),
        }
    }

    /// Enrich `event` in place: fill a known container's context by id, or
    /// attribute a process to its container by ancestry.
    pub fn enrich(&mut self, event: &mut Event) {
        let known_slot = event.container.as_ref().and_then(|c| self.context_slot(c));
        let pid = process_id(self.places.get(event, 0));
        let ppid = process_id(self.places.get(event, 1));
        if known_slot.is_none() {
            if let Some(call) = self
                .places
                .get(event, 2)
                .and_then(|c| c.to_text())
                .and_then(|c| runtime_invocation(&c))
            {
                // Plumbing: remember whose it is, never attribute it.
                let named = call
                    .container
                    .map(|id| self.slots.intern(&id, self.capacity));
                if let (true, Some(slot), Some(ppid)) = (call.spawns, named, ppid) {
                    // runc create/exec run under the container's supervisor
                    // (shim or conmon), which reaps the workload it starts.
                    self.set_shim(ppid, slot);
                }
                let slot = named.or_else(|| self.attribute(pid, ppid));
                if let (Some(pid), Some(slot)) = (pid, slot) {
                    self.remember(pid, slot);
                }
                return;
            }
        }
        let has_id = known_slot.is_some();
        let Some(slot) = known_slot.or_else(|| self.attribute(pid, ppid)) else {
            return;
        };
        if let Some(pid) = pid {
            self.remember(pid, slot);
        }
        let Some(context) = self.slots.context(slot, &self.index) else {
            return;
        };
        if has_id && context.known.is_none() {
            return; // nothing to add: leave a shared context shared
        }
        if event.container.is_none() {
            event.share_container(&context.attributed);
            return;
        }
        let known = context.known.clone();
        let id = context.attributed.context().id.clone();
        let container = event.container_mut();
        if container.id.is_none() {
            container.id = id;
        }
        if let Some(ctx) = known {
            container.fill_from(&ctx);
        }
    }

    fn attribute(&mut self, pid: Option<u32>, ppid: Option<u32>) -> Option<u32> {
        if let Some(pid) = pid {
            if let Some(id) = self.index.container_of_init(u64::from(pid)) {
                let slot = self.slots.intern(id, self.capacity);
                // The init process's parent is the runtime shim of this container.
                if let Some(ppid) = ppid {
                    self.set_shim(ppid, slot);
                }
                return Some(slot);
            }
            if let Some(&slot) = self.pids.get(&pid) {
                return Some(slot);
            }
        }
        let ppid = ppid?;
        self.pids
            .get(&ppid)
            .or_else(|| self.shims.get(&ppid))
            .copied()
    }

    /// The slot of `context`'s id, if it has one.
    fn context_slot(&mut self, context: &Arc<ContainerContext>) -> Option<u32> {
        // A context only this event holds (an engine event's own) is met
        // once: keeping it would cost more than it saves.
        if Arc::strong_count(context) == 1 {
            return Some(self.slots.intern(context.id.as_deref()?, self.capacity));
        }
        let at = Arc::as_ptr(context) as usize;
        if let Some((_, slot, generation)) = self.recent.get(&at) {
            // The entry holds its context: the address is still its.
            if self.slots.generation(*slot) == *generation {
                return Some(*slot);
            }
        }
        let slot = self.slots.intern(context.id.as_deref()?, self.capacity);
        if self.recent.len() >= RECENT_CONTEXTS {
            self.recent.clear();
        }
        let kept = (Arc::clone(context), slot, self.slots.generation(slot));
        self.recent.insert(at, kept);
        Some(slot)
    }

    fn set_shim(&mut self, ppid: u32, slot: u32) {
        self.slots.hold(slot);
        if let Some(old) = self.shims.insert(ppid, slot) {
            self.slots.release(old);
        }
    }

    fn remember(&mut self, pid: u32, slot: u32) {
        self.slots.hold(slot);
        match self.pids.insert(pid, slot) {
            Some(old) => self.slots.release(old),
            None => self.order.push_back(pid),
        }
        while self.pids.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    if let Some(gone) = self.pids.remove(&old) {
                        self.slots.release(gone);
                    }
                }
                None => break,
            }
        }
        if self.shims.len() > self.capacity {
            for (_, gone) in self.shims.drain() {
                self.slots.release(gone);
            }
        }
    }

    /// The container id remembered for process `pid` (for tests).
    #[cfg(test)]
    fn container_of_pid(&self, pid: u32) -> Option<&str> {
        self.slots.id(*self.pids.get(&pid)?).map(|id| &**id)
    }
}

/// Programs of the container runtime itself.
const RUNTIME_PROGRAMS: [&str; 5] = ["runc", "crun", "conmon", "containerd-shim", "podman"];
const SHELLS: [&str; 4] = ["sh", "bash", "dash", "env"];

/// A run of a container runtime program.
#[derive(Debug, PartialEq)]
struct RuntimeCall {
    /// The container it names, if any.
    container: Option<String>,
    /// `runc create|run|exec`: starts a process of the container.
    spawns: bool,
}

/// If `command_line` runs a container runtime program (directly, or as a
/// script through a shell), what it is: the container id it names, if any
/// (`-id ID` for containerd shims, `-c ID`/`--cid ID` for conmon, the last
/// argument of `runc create|run|exec|start`) and whether it spawns.
fn runtime_invocation(command_line: &str) -> Option<RuntimeCall> {
    fn base(path: &str) -> &str {
        // A byte search: `rsplit` walks the path a char at a time.
        path.rfind('/').map_or(path, |slash| &path[slash + 1..])
    }
    let is_runtime = |a: &str| {
        let b = base(a);
        RUNTIME_PROGRAMS
            .iter()
            .any(|r| b == *r || (*r == "containerd-shim" && b.starts_with(r)))
    };
    // The program itself, or a script run by a shell (a runc wrapper
    // script). Decided on the first two words: most command lines are
    // neither, and they are not split any further.
    let mut words = command_line.split_whitespace();
    let program = match (words.next(), words.next()) {
        (Some(first), _) if is_runtime(first) => 0,
        (Some(shell), Some(second)) if SHELLS.contains(&base(shell)) && is_runtime(second) => 1,
        _ => return None,
    };
    let args: Vec<&str> = command_line.split_whitespace().collect();
    let rest = &args[program + 1..];
    if base(args[program]) == "podman" {
        // conmon runs `podman ... container cleanup ID` when a container exits.
        return rest.contains(&"cleanup").then(|| RuntimeCall {
            container: rest
                .last()
                .filter(|id| is_container_id(id))
                .map(|id| id.to_string()),
            spawns: false,
        });
    }
    let flagged = rest
        .windows(2)
        .find(|w| matches!(w[0], "-id" | "--id" | "-c" | "--cid"))
        .map(|w| w[1]);
    let spawns = rest.iter().any(|a| matches!(*a, "create" | "run" | "exec"));
    let names_last = spawns || rest.contains(&"start");
    let last = rest.last().copied().filter(|_| names_last);
    let container = flagged
        .or(last)
        .filter(|id| is_container_id(id))
        .map(str::to_string);
    Some(RuntimeCall { container, spawns })
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A process id. One past 32 bits is no process's (Linux, Windows and
/// macOS ids are 32-bit): it is not followed.
fn process_id(value: Option<ValueRef<'_>>) -> Option<u32> {
    number(value).and_then(|n| u32::try_from(n).ok())
}

/// A process id as a field holds it: a number, or its text.
fn number(value: Option<ValueRef<'_>>) -> Option<u64> {
    let value = value?;
    match value.as_str() {
        Some(s) => s.parse().ok(),
        None => value.as_json()?.as_u64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contraband_event::{LogSource, SharedContainer, Timestamp};
    use serde_json::json;

    fn event(fields: serde_json::Value) -> Event {
        Event::new(
            LogSource::default(),
            Timestamp(0),
            fields.as_object().unwrap().clone(),
        )
    }

    fn index() -> Arc<ContainerIndex> {
        let mut inspect = event(json!({"State": {"Pid": 100}}));
        inspect.set_container(ContainerContext {
            id: Some("81f19d35188f0123456789abcdef".into()),
            name: Some("cb-hashcat".into()),
            privileged: Some(true),
            ..Default::default()
        });
        let mut index = ContainerIndex::new();
        index.learn(&inspect);
        Arc::new(index)
    }

    #[test]
    fn container_ids_are_shared_and_stay_bounded() {
        let mut a = ProcessAttributor::new(index(), 16);
        for i in 0..1_000u64 {
            // four processes per container, each container named by the event
            let mut ev = event(json!({"ProcessId": 1_000 + i, "ParentProcessId": 1}));
            ev.set_container(ContainerContext {
                id: Some(format!("{:064x}", i / 4)),
                ..Default::default()
            });
            a.enrich(&mut ev);
            assert!(a.pids.len() <= 16 && a.slots.len() <= 17, "{i}");
            // Its child is attributed to it, by a slot that other ids
            // held before: the context made for the slot is this id's.
            let mut child = event(json!({"ProcessId": 100_000 + i, "ParentProcessId": 1_000 + i}));
            a.enrich(&mut child);
            assert_eq!(
                child.container.as_ref().and_then(|c| c.id.clone()),
                Some(format!("{:064x}", i / 4)),
                "{i}"
            );
        }
        // the last container's four processes share one copy of its id
        let last = a.pids.get(&1_999).unwrap();
        assert_eq!(Some(last), a.pids.get(&1_996));
        // a child of a remembered process inherits the same copy
        let mut child = event(json!({"ProcessId": 5_000, "ParentProcessId": 1_999}));
        a.enrich(&mut child);
        assert_eq!(
            child.container.unwrap().id.as_deref(),
            Some(&*format!("{:064x}", 249))
        );
        assert_eq!(a.pids.get(&5_000), a.pids.get(&1_999));
        assert_eq!(a.container_of_pid(5_000), Some(&*format!("{:064x}", 249)));
    }

    #[test]
    fn events_sharing_a_context_are_remembered_under_its_id() {
        // More contexts than are kept by address: slots are taken over.
        let contexts: Vec<SharedContainer> = (0..3 * RECENT_CONTEXTS)
            .map(|i| {
                SharedContainer::new(ContainerContext {
                    id: Some(format!("{i:064x}")),
                    ..Default::default()
                })
            })
            .collect();
        let mut a = ProcessAttributor::new(Arc::new(ContainerIndex::new()), 100_000);
        let mut pid = 10u32;
        for round in 0..2 {
            for (i, shared) in contexts.iter().enumerate() {
                let mut ev = event(json!({"ProcessId": pid, "ParentProcessId": 1}));
                ev.share_container(shared);
                a.enrich(&mut ev);
                let id = a.container_of_pid(pid);
                assert_eq!(
                    id,
                    Some(&*format!("{i:064x}")),
                    "context {i}, round {round}"
                );
                assert!(a.recent.len() <= RECENT_CONTEXTS);
                pid += 1;
            }
        }
        assert_eq!(a.slots.len(), contexts.len(), "one shared copy of each id");
    }

    #[test]
    fn a_context_met_again_after_its_id_was_freed_keeps_its_own_id() {
        let mut a = ProcessAttributor::new(Arc::new(ContainerIndex::new()), 16);
        let first = SharedContainer::new(ContainerContext {
            id: Some("a".repeat(64)),
            ..Default::default()
        });
        // No pid: its id is kept, but no table names it.
        let mut ev = event(json!({}));
        ev.share_container(&first);
        a.enrich(&mut ev);
        // Other containers' processes: the ids reach their bound, and the
        // freed slots are given to other ids.
        for i in 0..40u32 {
            let mut ev = event(json!({"ProcessId": 100 + i}));
            ev.set_container(ContainerContext {
                id: Some(format!("{i:064x}")),
                ..Default::default()
            });
            a.enrich(&mut ev);
            assert!(a.slots.len() <= 17, "{i}");
        }
        let mut ev = event(json!({"ProcessId": 7}));
        ev.share_container(&first);
        a.enrich(&mut ev);
        assert_eq!(a.container_of_pid(7), Some(&*"a".repeat(64)));
    }

    #[test]
    fn init_children_and_exec_siblings_are_attributed() {
        let mut a = ProcessAttributor::new(index(), 1000);
        let mut init = event(json!({"ProcessId": "100", "ParentProcessId": "90"}));
        a.enrich(&mut init);
        assert_eq!(
            init.get_str("container.name").as_deref(),
            Some("cb-hashcat")
        );
        let mut child = event(json!({"ProcessId": 101, "ParentProcessId": 100}));
        a.enrich(&mut child);
        assert_eq!(child.get("container.privileged"), Some(&json!(true)));
        let mut grandchild = event(json!({"ProcessId": 102, "ParentProcessId": 101}));
        a.enrich(&mut grandchild);
        assert!(grandchild.container.is_some());
        // One context, and one view, for every event of the container.
        for other in [&child, &grandchild] {
            assert!(Arc::ptr_eq(
                init.container.as_ref().unwrap(),
                other.container.as_ref().unwrap()
            ));
            assert_eq!(
                init.shared_view().map(|v| v.addr()),
                other.shared_view().map(|v| v.addr())
            );
        }
        assert!(init.shared_view().is_some());
        // `docker exec`: a sibling of init under the same shim.
        let mut exec = event(json!({"ProcessId": 200, "ParentProcessId": 90}));
        a.enrich(&mut exec);
        assert_eq!(
            exec.get_str("container.name").as_deref(),
            Some("cb-hashcat")
        );
        // A host process is left alone.
        let mut host = event(json!({"ProcessId": 300, "ParentProcessId": 1}));
        a.enrich(&mut host);
        assert!(host.container.is_none());
    }

    #[test]
    fn a_shared_context_with_nothing_to_add_is_not_copied() {
        let mut a = ProcessAttributor::new(index(), 1000);
        let shared = Arc::new(ContainerContext {
            id: Some("0123456789ab".into()),
            image: Some("alpine".into()),
            ..Default::default()
        });
        let mut ev = event(json!({"ProcessId": 7, "ParentProcessId": 1}));
        ev.set_shared_container(Arc::clone(&shared));
        a.enrich(&mut ev);
        assert!(Arc::ptr_eq(ev.container.as_ref().unwrap(), &shared));
        // The process is still remembered for its children.
        let mut child = event(json!({"ProcessId": 8, "ParentProcessId": 7}));
        a.enrich(&mut child);
        assert_eq!(
            child.get_str("container.id").as_deref(),
            Some("0123456789ab")
        );
        // A known container's inspected configuration is added to a copy.
        let mut known = event(json!({}));
        let before = Arc::new(ContainerContext {
            id: Some("81f19d35188f".into()),
            ..Default::default()
        });
        known.set_shared_container(Arc::clone(&before));
        a.enrich(&mut known);
        assert_eq!(known.get("container.privileged"), Some(&json!(true)));
        assert_eq!(before.privileged, None, "the shared original is untouched");
    }

    #[test]
    fn known_ids_get_the_inspected_configuration() {
        let mut a = ProcessAttributor::new(index(), 1000);
        let mut create = event(json!({"Action": "create"}));
        create.set_container(ContainerContext {
            id: Some("81f19d35188f0123456789abcdef".into()),
            ..Default::default()
        });
        a.enrich(&mut create);
        assert_eq!(create.get("container.privileged"), Some(&json!(true)));
        // A 12-digit short id resolves too.
        let mut short = event(json!({}));
        short.set_container(ContainerContext {
            id: Some("81f19d35188f".into()),
            ..Default::default()
        });
        a.enrich(&mut short);
        assert_eq!(
            short.get_str("container.name").as_deref(),
            Some("cb-hashcat")
        );
    }

    #[test]
    fn runtime_plumbing_names_the_container_but_is_not_in_it() {
        let id = "310e221133c2de8e59f5dfc53ef4e81b3af0e2e0e7c7976502402282ee884a70";
        let mut a = ProcessAttributor::new(Arc::new(ContainerIndex::new()), 1000);
        let mut runc = event(json!({"ProcessId": 10, "ParentProcessId": 5,
            "CommandLine": format!("/usr/sbin/runc --root /r --log /x/{id}/log.json create --bundle /b {id}")}));
        a.enrich(&mut runc);
        assert!(runc.container.is_none(), "runc runs on the host");
        let mut init = event(
            json!({"ProcessId": 11, "ParentProcessId": 10, "CommandLine": "/usr/sbin/runc init"}),
        );
        a.enrich(&mut init);
        assert!(init.container.is_none());
        // runc init execs the workload: same pid, now the container's process.
        let mut workload = event(
            json!({"ProcessId": 11, "ParentProcessId": 10, "CommandLine": "/bin/sh /usr/bin/hashcat -m 0"}),
        );
        a.enrich(&mut workload);
        assert_eq!(workload.get_str("container.id").as_deref(), Some(id));
        // conmon names it with -c; a wrapper script named runc counts too.
        let named = |spawns| {
            Some(RuntimeCall {
                container: Some(id.to_string()),
                spawns,
            })
        };
        assert_eq!(
            runtime_invocation(&format!("/usr/bin/conmon --api-version 1 -c {id} -u {id}")),
            named(false)
        );
        assert_eq!(
            runtime_invocation(&format!("/bin/bash /usr/local/bin/runc exec --detach {id}")),
            named(true)
        );
        assert_eq!(
            runtime_invocation(&format!("/usr/bin/runc start {id}")),
            named(false)
        );
        assert_eq!(
            runtime_invocation("/usr/bin/conmon --version"),
            Some(RuntimeCall {
                container: None,
                spawns: false
            })
        );
        assert_eq!(runtime_invocation("/usr/bin/hashcat -m 0"), None);
        assert_eq!(
            runtime_invocation(&format!("/usr/bin/podman --root /s container cleanup {id}")),
            named(false)
        );
        assert_eq!(
            runtime_invocation("podman ps"),
            None,
            "podman itself is tooling, not plumbing"
        );
        assert_eq!(runtime_invocation("grep runc /var/log/x"), None);
    }

    #[test]
    fn workload_reaped_by_the_supervisor_is_attributed() {
        // podman: conmon forks (no exec), the fork runs runc create and
        // becomes the parent of the workload once runc exits.
        let id = "cafe1f5a1d024ebdf599e740be84800afa7f83aa1113bfa5c889a3a2c8b7539c";
        let mut a = ProcessAttributor::new(Arc::new(ContainerIndex::new()), 1000);
        let mut runc = event(json!({"ProcessId": 29607, "ParentProcessId": 29606,
            "CommandLine": format!("/usr/bin/runc --log-format=json create --bundle /b --pid-file /p {id}")}));
        a.enrich(&mut runc);
        let mut workload = event(
            json!({"ProcessId": 29616, "ParentProcessId": 29606, "CommandLine": "/bin/sh /usr/bin/hashcat"}),
        );
        a.enrich(&mut workload);
        assert_eq!(workload.get_str("container.id").as_deref(), Some(id));
        // `runc start` run by the podman CLI does not make the CLI a supervisor.
        let mut start = event(
            json!({"ProcessId": 29621, "ParentProcessId": 29596, "CommandLine": format!("/usr/bin/runc start {id}")}),
        );
        a.enrich(&mut start);
        let mut sibling = event(
            json!({"ProcessId": 29700, "ParentProcessId": 29596, "CommandLine": "/usr/bin/netavark setup"}),
        );
        a.enrich(&mut sibling);
        assert!(sibling.container.is_none());
    }

    #[test]
    fn pid_memory_is_capped() {
        let mut a = ProcessAttributor::new(index(), 16);
        let mut init = event(json!({"ProcessId": 100, "ParentProcessId": 90}));
        a.enrich(&mut init);
        for pid in 101..10_000u64 {
            let mut e = event(json!({"ProcessId": pid, "ParentProcessId": pid - 1}));
            a.enrich(&mut e);
        }
        assert!(a.pids.len() <= 16 && a.order.len() <= 16);
    }
}
