//! Live container engines: Docker Engine and Podman (through its
//! Docker-compatible API), one thread each.
//!
//! A session subscribes to `/events`, then lists and inspects the running
//! containers (each becomes an `Action: inspect` event, so a container
//! started before contraband is still judged), then decodes the event
//! stream. Every container is inspected on `create` and `start` and the
//! result goes to the pipeline's cache ahead of the event itself, so the
//! event and everything later attributed to the container carry its full
//! runtime configuration.
//!
//! When the stream breaks (daemon restart, socket gone) the thread
//! reconnects with back-off and asks for the events since the last one it
//! saw (`since`); events already seen at that same instant are skipped, so
//! nothing is lost within what the daemon still remembers and nothing is
//! judged twice.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use contraband_event::{ContainerContext, Event, Timestamp};
use contraband_sources::{container_context_from_inspect, Decoder, Format, Options};
use serde_json::{json, Map, Value};

use super::http::{self, Endpoint, HttpError, LineStream};
use super::{log, Backoff, Msg};

const TIMEOUT: Duration = Duration::from_secs(10);
/// Containers remembered as already announced (bounded).
const KNOWN_CAP: usize = 16_384;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Docker,
    Podman,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
        }
    }

    fn inspect_path(self, id: &str) -> String {
        match self {
            Runtime::Docker => format!("/containers/{id}/json"),
            // libpod's own inspect names the OCI runtime, so the context says podman
            Runtime::Podman => format!("/v4.0.0/libpod/containers/{id}/json"),
        }
    }
}

/// The last event seen, to resume without loss or repeats.
#[derive(Default)]
struct Resume {
    last_nano: i64,
    /// Hashes of the events seen at exactly `last_nano`.
    at_last: HashSet<u64>,
}

impl Resume {
    /// True when the event is new (and remember it).
    fn admit(&mut self, nano: i64, line: &str) -> bool {
        let mut h = DefaultHasher::new();
        line.hash(&mut h);
        let h = h.finish();
        if nano < self.last_nano {
            return false;
        }
        if nano > self.last_nano {
            self.last_nano = nano;
            self.at_last.clear();
        }
        self.at_last.insert(h)
    }

    fn since(&self) -> Option<String> {
        (self.last_nano > 0).then(|| {
            format!(
                "{}.{:09}",
                self.last_nano.div_euclid(1_000_000_000),
                self.last_nano.rem_euclid(1_000_000_000)
            )
        })
    }
}

/// Ids announced (inspected) in this run, bounded, oldest forgotten first.
#[derive(Default)]
struct Known {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Known {
    fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() >= KNOWN_CAP {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.set.insert(id.to_string());
        self.order.push_back(id.to_string());
        true
    }

    fn remove(&mut self, id: &str) {
        if self.set.remove(id) {
            self.order.retain(|k| k != id);
        }
    }
}

pub struct EngineSource {
    pub runtime: Runtime,
    pub endpoint: Endpoint,
    pub options: Options,
    pub tx: SyncSender<Msg>,
}

/// Why a session ended.
enum End {
    /// The pipeline is gone: stop the thread.
    Closed,
    /// The daemon went away or misbehaved: reconnect.
    Lost(String),
}

impl From<HttpError> for End {
    fn from(e: HttpError) -> End {
        End::Lost(e.to_string())
    }
}

impl EngineSource {
    fn name(&self) -> String {
        format!("{}:{}", self.runtime.name(), self.endpoint.url)
    }

    /// Check the socket can be used at all; permission problems are fatal.
    pub fn preflight(&self) -> Result<Option<String>, String> {
        match http::get_json(&self.endpoint, "/version", TIMEOUT) {
            Ok(v) => Ok(Some(format!(
                "{} {}, API {}",
                self.runtime.name(),
                v.get("Version").and_then(Value::as_str).unwrap_or("?"),
                v.get("ApiVersion").and_then(Value::as_str).unwrap_or("?")
            ))),
            Err(e @ HttpError::PermissionDenied(_)) => Err(e.to_string()),
            Err(e) => {
                log(
                    self.runtime.name(),
                    &format!(
                        "{} not reachable yet ({e}); will keep trying",
                        self.endpoint.url
                    ),
                );
                Ok(None)
            }
        }
    }

    pub fn run(self) {
        let src = self.runtime.name();
        let mut resume = Resume::default();
        let mut known = Known::default();
        let mut backoff = Backoff::new();
        let mut down_since: Option<Instant> = None;
        let mut attempts = 0u32;
        let mut last_report = Instant::now();
        loop {
            let mut connected = false;
            let end = self.session(&mut resume, &mut known, &mut down_since, &mut connected);
            let End::Lost(why) = end else { return };
            if connected {
                backoff.reset();
            }
            if down_since.is_none() {
                down_since = Some(Instant::now());
                attempts = 1;
                last_report = Instant::now();
                let resume_at = match resume.last_nano {
                    0 => "now".to_string(),
                    n => format!("after {}", Timestamp(n)),
                };
                let what = if connected { "lost" } else { "cannot reach" };
                log(
                    src,
                    &format!(
                        "{what} {} ({why}); reconnecting with back-off, will resume {resume_at}",
                        self.endpoint.url
                    ),
                );
            } else {
                attempts += 1;
                if last_report.elapsed() > Duration::from_secs(30) {
                    log(
                        src,
                        &format!(
                            "{} still unreachable after {attempts} attempts: {why}",
                            self.endpoint.url
                        ),
                    );
                    last_report = Instant::now();
                }
            }
            std::thread::sleep(backoff.next());
        }
    }

    fn send(&self, msg: Msg) -> Result<(), End> {
        self.tx.send(msg).map_err(|_| End::Closed)
    }

    fn session(
        &self,
        resume: &mut Resume,
        known: &mut Known,
        down_since: &mut Option<Instant>,
        connected: &mut bool,
    ) -> End {
        match self.session_inner(resume, known, down_since, connected) {
            Ok(()) => End::Lost("the daemon closed the event stream".into()),
            Err(e) => e,
        }
    }

    fn session_inner(
        &self,
        resume: &mut Resume,
        known: &mut Known,
        down_since: &mut Option<Instant>,
        connected: &mut bool,
    ) -> Result<(), End> {
        let src = self.runtime.name();
        let since = resume.since();
        let target = match &since {
            Some(s) => format!("/events?since={s}"),
            None => "/events".to_string(),
        };
        // subscribe first, so nothing happening while we list is missed
        let mut stream = LineStream::open(&self.endpoint, &target)?;
        *connected = true;
        let first = down_since.is_none() && since.is_none();
        let announced = self.announce_running(known)?;
        if let Some(t) = down_since.take() {
            log(
                src,
                &format!(
                    "reconnected to {} after {:.1}s; resuming from {} ({announced} containers newly inspected)",
                    self.endpoint.url,
                    t.elapsed().as_secs_f64(),
                    since
                        .as_deref()
                        .map(|_| Timestamp(resume.last_nano).to_string())
                        .unwrap_or_else(|| "now".into())
                ),
            );
        } else if first {
            log(
                src,
                &format!(
                    "watching {} ({announced} running containers inspected)",
                    self.endpoint.url
                ),
            );
        }
        let mut decoder = Decoder::new(self.format(), &self.name(), &self.options);
        // events up to now are the daemon's replay of what we missed
        let connected_at = now_nanos();
        let (mut replayed, mut skipped) = (0u64, 0u64);
        let mut reported = since.is_none();
        while let Some(line) = stream.next_line()? {
            let value: Option<Value> = serde_json::from_str(&line).ok();
            let nano = value.as_ref().and_then(event_nanos);
            if let Some(n) = nano {
                if !resume.admit(n, &line) {
                    skipped += 1;
                    continue;
                }
                if !reported {
                    if n <= connected_at {
                        replayed += 1;
                    } else {
                        reported = true;
                        log(
                            src,
                            &format!(
                                "replay done: {replayed} events missed while disconnected recovered, \
                                 {skipped} already seen skipped"
                            ),
                        );
                    }
                }
            }
            let text = match (&value, self.runtime) {
                (Some(v), Runtime::Podman) => podman_native(v).to_string(),
                _ => line.clone(),
            };
            for item in decoder.feed(&text, None, None) {
                match item {
                    Ok(mut event) => {
                        event.raw = Some(line.as_str().into());
                        self.on_event(&mut event, known)?;
                        self.send(Msg::Event(Box::new(event)))?;
                    }
                    Err(e) => self.send(Msg::DecodeError(e))?,
                }
            }
        }
        Ok(())
    }

    fn format(&self) -> Format {
        match self.runtime {
            Runtime::Docker => Format::DockerEvents,
            Runtime::Podman => Format::PodmanEvents,
        }
    }

    /// Inspect on create/start so the cache is filled before the event is judged.
    fn on_event(&self, event: &mut Event, known: &mut Known) -> Result<(), End> {
        let is_container = event
            .get_str("Type")
            .is_some_and(|t| t.eq_ignore_ascii_case("container"));
        let Some(id) = event.container.as_ref().and_then(|c| c.id.clone()) else {
            return Ok(());
        };
        if !is_container {
            return Ok(());
        }
        let action = event.get_str("Action").map(|a| a.into_owned());
        match action.as_deref() {
            Some("create" | "start" | "rename" | "update") => {
                if let Some(ctx) = self.inspect(&id)? {
                    known.insert(&id);
                    event.container_mut().fill_from(&ctx);
                    self.send(Msg::Container(Box::new(ctx)))?;
                }
            }
            Some("destroy") => known.remove(&id),
            _ => {}
        }
        Ok(())
    }

    /// The container's inspected context; `None` when it is already gone.
    fn inspect(&self, id: &str) -> Result<Option<ContainerContext>, End> {
        Ok(self.inspect_raw(id)?.map(|v| {
            let mut ctx = container_context_from_inspect(&v);
            if self.runtime == Runtime::Podman {
                ctx.runtime = Some("podman".into());
            }
            ctx
        }))
    }

    fn inspect_raw(&self, id: &str) -> Result<Option<Value>, End> {
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Ok(None); // never put odd bytes in a request line
        }
        match http::get_json(&self.endpoint, &self.runtime.inspect_path(id), TIMEOUT) {
            Ok(v) => Ok(Some(v)),
            // gone already (podman answers 500 "no such container")
            Err(HttpError::Status(404, _)) => Ok(None),
            Err(HttpError::Status(_, m)) if m.contains("no such container") => Ok(None),
            Err(HttpError::Status(code, m)) => {
                log(
                    self.runtime.name(),
                    &format!("cannot inspect container {id}: HTTP {code} {m}"),
                );
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// List the running containers and announce each one not yet announced
    /// as an `inspect` event. Returns how many were announced.
    fn announce_running(&self, known: &mut Known) -> Result<usize, End> {
        let list = http::get_json(&self.endpoint, "/containers/json", TIMEOUT)?;
        let mut decoder = Decoder::new(
            Format::DockerInspect,
            &format!("{}-inspect:{}", self.runtime.name(), self.endpoint.url),
            &self.options,
        );
        let mut n = 0;
        for item in list.as_array().map(Vec::as_slice).unwrap_or_default() {
            let Some(id) = item.get("Id").and_then(Value::as_str) else {
                continue;
            };
            if known.set.contains(id) {
                continue;
            }
            let Some(raw) = self.inspect_raw(id)? else {
                continue;
            };
            let mut ctx = container_context_from_inspect(&raw);
            if self.runtime == Runtime::Podman {
                ctx.runtime = Some("podman".into());
            }
            self.send(Msg::Container(Box::new(ctx)))?;
            known.insert(id);
            n += 1;
            let text = raw.to_string();
            for item in decoder.feed(&text, None, None) {
                match item {
                    Ok(mut event) => {
                        // judged now: the container is running now
                        event.time = Timestamp(now_nanos());
                        self.send(Msg::Event(Box::new(event)))?;
                    }
                    Err(e) => self.send(Msg::DecodeError(e))?,
                }
            }
        }
        Ok(n)
    }
}

fn event_nanos(v: &Value) -> Option<i64> {
    v.get("timeNano").and_then(Value::as_i64).or_else(|| {
        v.get("time")
            .and_then(Value::as_i64)
            .map(|s| s * 1_000_000_000)
    })
}

pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Podman's compatible API sends Docker-shaped events with Podman's own
/// verbs (`died`, `remove`) and attributes (`podId`, `containerExitCode`);
/// reshape them as `podman events --format json` writes them, so the Podman
/// decoder (and its verb table) reads them.
fn podman_native(v: &Value) -> Value {
    let actor = v.get("Actor");
    let attrs: Map<String, Value> = actor
        .and_then(|a| a.get("Attributes"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut out = Map::new();
    if let Some(id) = text(actor.and_then(|a| a.get("ID"))).or_else(|| text(v.get("id"))) {
        out.insert("ID".into(), id.into());
    }
    if let Some(image) = text(attrs.get("image")).or_else(|| text(v.get("from"))) {
        out.insert("Image".into(), image.into());
    }
    if let Some(name) = text(attrs.get("name")) {
        out.insert("Name".into(), name.into());
    }
    if let Some(status) = text(v.get("Action")).or_else(|| text(v.get("status"))) {
        out.insert("Status".into(), status.into());
    }
    out.insert(
        "Type".into(),
        text(v.get("Type"))
            .unwrap_or_else(|| "container".into())
            .into(),
    );
    if let Some(n) = v.get("timeNano") {
        out.insert("timeNano".into(), n.clone());
    }
    if let Some(t) = v.get("time") {
        out.insert("time".into(), t.clone());
    }
    out.insert("Attributes".into(), Value::Object(attrs));
    json!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_skips_what_was_seen() {
        let mut r = Resume::default();
        assert!(r.admit(10, "a"));
        assert!(r.admit(20, "b"));
        assert!(r.admit(20, "c"));
        assert_eq!(r.since().as_deref(), Some("0.000000020"));
        // replay from 20: b and c are repeats, a is older, d is new
        assert!(!r.admit(10, "a"));
        assert!(!r.admit(20, "b"));
        assert!(!r.admit(20, "c"));
        assert!(r.admit(20, "d"));
        assert!(r.admit(30, "e"));
        let r = Resume {
            last_nano: 1_795_452_111_956_250_729,
            ..Resume::default()
        };
        assert_eq!(r.since().as_deref(), Some("1795452111.956250729"));
    }

    #[test]
    fn podman_events_reshaped() {
        let compat: Value = serde_json::from_str(r#"{"status":"died","id":"11598b","from":"localhost/contraband/busybox:latest","Type":"container","Action":"died","Actor":{"ID":"11598b","Attributes":{"containerExitCode":"0","image":"localhost/contraband/busybox:latest","name":"elated","podId":""}},"scope":"local","time":1795452111,"timeNano":1795452111375076131}"#).unwrap();
        let native = podman_native(&compat);
        assert_eq!(native["ID"], "11598b");
        assert_eq!(native["Status"], "died");
        assert_eq!(native["Name"], "elated");
        let mut d = Decoder::new(Format::PodmanEvents, "t", &Options::default());
        let ev = d.feed(&native.to_string(), None, None).remove(0).unwrap();
        assert_eq!(ev.get_str("Action").as_deref(), Some("die"));
        assert_eq!(ev.logsource.product.as_deref(), Some("podman"));
        assert_eq!(
            ev.container.as_ref().unwrap().name.as_deref(),
            Some("elated")
        );
        assert_eq!(ev.time, Timestamp(1795452111375076131));
    }

    #[test]
    fn known_is_bounded() {
        let mut k = Known::default();
        for i in 0..(KNOWN_CAP + 10) {
            k.insert(&i.to_string());
        }
        assert_eq!(k.set.len(), KNOWN_CAP);
        assert!(!k.set.contains("0"));
    }
}
