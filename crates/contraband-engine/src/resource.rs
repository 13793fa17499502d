//! Resource hijacking (ATT&CK T1496): a stateful detector over periodic
//! resource samples of running containers (`docker stats`).
//!
//! A container is judged over a sliding window of event time. It raises an
//! alert when, over the whole window, its usage stays above an absolute
//! floor (default 0.8 of one core) *and* far above what is normal for it: the
//! window's mean must be at least `baseline_factor` times the larger of the
//! container's own baseline and its image's baseline. Baselines are slow
//! moving averages of the samples that have left the window, so an image
//! that has been seen running hot without raising an alert (a build or an
//! encoding job) learns to be hot, while a short-lived cracker or miner in a
//! fresh image (no baseline: low) is caught within one window. Samples of an
//! episode that raised an alert never feed a baseline, so the abuse cannot
//! teach the detector that it is normal.
//!
//! One alert per episode: the container re-arms when a sample drops below
//! the floor. When the image or the command points at a password cracker
//! (hashcat, John the Ripper ...), the alert also carries T1110.002.
//!
//! Memory stays bounded: at most `max_containers` tracks and `max_images`
//! baselines, least recently seen evicted first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value};

use contraband_event::{ContainerContext, Event, LogSource, Origin, Timestamp};

use crate::alert::{Alert, Attack, RuleInfo, StrategyInfo};
use crate::level::Level;
use crate::strategy::Strategy;

/// The detector's rule id: alerts carry it like a Sigma rule's.
pub const RESOURCE_RULE_ID: &str = "5f0c7a2e-3b8d-4e61-9c14-d2a6b7e9f031";
pub const RESOURCE_RULE_TITLE: &str = "Sustained Resource Hijacking in Container";

const NS: i64 = 1_000_000_000;

/// Names (of images or executables) of offline password crackers.
const CRACKERS: &[&str] = &[
    "hashcat",
    "oclhashcat",
    "cudahashcat",
    "john",
    "johntheripper",
    "john-the-ripper",
    "jtr",
    "ophcrack",
    "rcrack",
    "rainbowcrack",
    "aircrack-ng",
    "cowpatty",
    "pyrit",
];

#[derive(Clone, Debug)]
pub struct ResourceConfig {
    /// How long usage must stay high (event time).
    pub window_ns: i64,
    /// Absolute CPU floor in cores (1.0 = one core fully busy).
    pub cpu_floor: f64,
    /// Absolute memory floor in bytes; `None` leaves memory unjudged.
    pub memory_floor: Option<u64>,
    /// The window's mean must be at least this many times the baseline.
    pub baseline_factor: f64,
    /// Half-life of the baselines' moving average (event time).
    pub baseline_half_life_ns: i64,
    /// A gap between samples longer than this breaks the window (the
    /// container was not observed, so "sustained" cannot be claimed).
    pub max_gap_ns: i64,
    pub max_containers: usize,
    pub max_images: usize,
}

impl Default for ResourceConfig {
    fn default() -> ResourceConfig {
        ResourceConfig {
            window_ns: 30 * NS,
            cpu_floor: 0.8,
            memory_floor: Some(2 << 30),
            baseline_factor: 3.0,
            baseline_half_life_ns: 600 * NS,
            max_gap_ns: 20 * NS,
            max_containers: 4096,
            max_images: 1024,
        }
    }
}

/// One observation of one container.
#[derive(Clone, Debug, Default)]
pub struct ResourceSample {
    pub time: Timestamp,
    /// Who: at least `id`; the richer (inspected) the better, it goes into the alert.
    pub container: ContainerContext,
    /// The container's command (`hashcat -m 0 ...`), when known.
    pub command: Option<String>,
    /// CPU in cores since the previous sample of this container.
    pub cpu: f64,
    /// Memory in use, bytes.
    pub memory: u64,
    /// The live source, for the alert's origin (`docker-stats:unix:///...`).
    pub source: String,
    pub host: Option<String>,
}

/// A time-weighted moving average whose old samples fade with a half-life.
/// History not yet seen counts as zero: a baseline takes about one
/// half-life of observation to reach what is normal, so a few minutes of
/// heavy use cannot make heavy use look normal.
#[derive(Clone, Copy, Debug, Default)]
struct Ewma {
    /// Decayed sum of weight × value, and of weight (weights are ns observed).
    sum_wv: f64,
    sum_w: f64,
    last: Option<i64>,
}

impl Ewma {
    fn add(&mut self, t: i64, v: f64, weight_ns: i64, half_life: i64) {
        if let Some(last) = self.last {
            let dt = (t - last).max(0) as f64;
            let keep = 0.5f64.powf(dt / half_life.max(1) as f64);
            self.sum_wv *= keep;
            self.sum_w *= keep;
        }
        let w = weight_ns.max(0) as f64;
        self.sum_wv += w * v;
        self.sum_w += w;
        self.last = Some(t.max(self.last.unwrap_or(t)));
    }

    fn get(&self, half_life: i64) -> f64 {
        let denominator = self.sum_w.max(half_life.max(1) as f64);
        self.sum_wv / denominator
    }
}

#[derive(Clone, Copy, Debug)]
struct Point {
    t: i64,
    /// Time since the previous point of the container (what it stands for).
    dt: i64,
    cpu: f64,
    mem: f64,
    /// Part of an episode that raised an alert: never teaches a baseline.
    tainted: bool,
}

#[derive(Debug, Default)]
struct Baseline {
    cpu: Ewma,
    mem: Ewma,
    seen: u64,
}

#[derive(Debug, Default)]
struct Track {
    image: String,
    points: VecDeque<Point>,
    own: Baseline,
    cpu_alerted: bool,
    mem_alerted: bool,
    seen: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Metric {
    Cpu,
    Memory,
}

/// The stateful detector; feed it samples in (roughly) time order.
pub struct ResourceDetector {
    config: ResourceConfig,
    strategy: Option<Arc<StrategyInfo>>,
    tracks: HashMap<String, Track>,
    images: HashMap<String, Baseline>,
    tick: u64,
}

impl ResourceDetector {
    /// `strategies`: the loaded strategies; the alert carries the one that
    /// lists this detector's id, else the first covering T1496.
    pub fn new(config: ResourceConfig, strategies: &[Strategy]) -> ResourceDetector {
        let strategy = strategies
            .iter()
            .find(|s| s.rules.iter().any(|r| r == RESOURCE_RULE_ID))
            .or_else(|| {
                strategies.iter().find(|s| {
                    s.categorization
                        .techniques
                        .iter()
                        .any(|t| t.id.eq_ignore_ascii_case("T1496"))
                })
            })
            .map(|s| Arc::new(StrategyInfo::from(s)));
        ResourceDetector {
            config,
            strategy,
            tracks: HashMap::new(),
            images: HashMap::new(),
            tick: 0,
        }
    }

    pub fn config(&self) -> &ResourceConfig {
        &self.config
    }

    /// Containers currently tracked.
    pub fn tracked(&self) -> usize {
        self.tracks.len()
    }

    /// The container is gone: forget its track (its history has already
    /// taught the image baseline).
    pub fn forget(&mut self, container_id: &str) {
        if let Some(track) = self.tracks.remove(container_id) {
            let mut track = track;
            let points: Vec<Point> = track.points.drain(..).collect();
            for p in points {
                self.learn(&track.image, &mut track.own, p);
            }
        }
    }

    /// Judge one sample; alerts (zero, one for CPU, one for memory) go to `out`.
    pub fn feed(&mut self, sample: &ResourceSample, out: &mut Vec<Alert>) {
        let Some(id) = sample.container.id.clone() else {
            return;
        };
        self.tick += 1;
        let tick = self.tick;
        if !self.tracks.contains_key(&id) && self.tracks.len() >= self.config.max_containers {
            if let Some(oldest) = self
                .tracks
                .iter()
                .min_by_key(|(_, t)| t.seen)
                .map(|(k, _)| k.clone())
            {
                self.forget(&oldest);
            }
        }
        let image = sample.container.image.clone().unwrap_or_default();
        let mut track = self.tracks.remove(&id).unwrap_or_default();
        track.image = image.clone();
        track.seen = tick;
        let t = sample.time.nanos();
        if let Some(last) = track.points.back() {
            if t <= last.t {
                self.tracks.insert(id, track);
                return; // a repeat or out of order: ignore
            }
            if t - last.t > self.config.max_gap_ns {
                // unobserved gap: the old points teach the baselines, the window restarts
                let old: Vec<Point> = track.points.drain(..).collect();
                for p in old {
                    self.learn(&image, &mut track.own, p);
                }
            }
        }
        let dt = track
            .points
            .back()
            .map_or(0, |p| (t - p.t).min(self.config.max_gap_ns));
        let point = Point {
            t,
            dt,
            cpu: sample.cpu.max(0.0),
            mem: sample.memory as f64,
            tainted: track.cpu_alerted || track.mem_alerted,
        };
        track.points.push_back(point);
        // keep exactly one point at or before the window's start, to know it is covered
        let start = t - self.config.window_ns;
        while track.points.len() >= 2 && track.points[1].t <= start {
            if let Some(p) = track.points.pop_front() {
                self.learn(&image, &mut track.own, p);
            }
        }

        let cpu_floor = self.config.cpu_floor;
        if let Some(alert) = self.judge(&mut track, Metric::Cpu, cpu_floor, sample) {
            out.push(alert);
        }
        if let Some(floor) = self.config.memory_floor {
            if let Some(alert) = self.judge(&mut track, Metric::Memory, floor as f64, sample) {
                out.push(alert);
            }
        }
        self.tracks.insert(id, track);
    }

    fn learn(&mut self, image: &str, own: &mut Baseline, p: Point) {
        if p.tainted {
            return;
        }
        let hl = self.config.baseline_half_life_ns;
        own.cpu.add(p.t, p.cpu, p.dt, hl);
        own.mem.add(p.t, p.mem, p.dt, hl);
        own.seen += 1;
        if image.is_empty() {
            return;
        }
        if !self.images.contains_key(image) && self.images.len() >= self.config.max_images {
            if let Some(oldest) = self
                .images
                .iter()
                .min_by_key(|(_, b)| b.cpu.last.unwrap_or(i64::MIN))
                .map(|(k, _)| k.clone())
            {
                self.images.remove(&oldest);
            }
        }
        let b = self.images.entry(image.to_string()).or_default();
        b.cpu.add(p.t, p.cpu, p.dt, hl);
        b.mem.add(p.t, p.mem, p.dt, hl);
        b.seen += 1;
    }

    fn judge(
        &self,
        track: &mut Track,
        metric: Metric,
        floor: f64,
        sample: &ResourceSample,
    ) -> Option<Alert> {
        let value = |p: &Point| match metric {
            Metric::Cpu => p.cpu,
            Metric::Memory => p.mem,
        };
        let alerted = match metric {
            Metric::Cpu => &mut track.cpu_alerted,
            Metric::Memory => &mut track.mem_alerted,
        };
        let newest = *track.points.back()?;
        if value(&newest) < floor {
            *alerted = false; // the episode is over: re-arm
            return None;
        }
        if *alerted {
            return None;
        }
        // the points after the first cover the window: (first.t, newest.t]
        let first = *track.points.front()?;
        if newest.t - first.t < self.config.window_ns || track.points.len() < 2 {
            return None;
        }
        let window: Vec<f64> = track.points.iter().skip(1).map(value).collect();
        if window.iter().any(|v| *v < floor) {
            return None;
        }
        let mean = window.iter().sum::<f64>() / window.len() as f64;
        let hl = self.config.baseline_half_life_ns;
        let pick = |b: &Baseline| match metric {
            Metric::Cpu => b.cpu.get(hl),
            Metric::Memory => b.mem.get(hl),
        };
        let own = pick(&track.own);
        let image = self.images.get(&track.image).map_or(0.0, pick);
        let baseline = own.max(image);
        if mean < self.config.baseline_factor * baseline {
            return None;
        }
        *alerted = true;
        // the whole episode is abuse: none of it may teach a baseline
        for p in track.points.iter_mut() {
            p.tainted = true;
        }
        let peak = window.iter().cloned().fold(f64::MIN, f64::max);
        let low = window.iter().cloned().fold(f64::MAX, f64::min);
        Some(self.alert(
            sample,
            metric,
            Stats {
                mean,
                peak,
                low,
                floor,
                own,
                image,
                samples: window.len(),
                seconds: (newest.t - first.t) as f64 / NS as f64,
            },
        ))
    }

    fn alert(&self, sample: &ResourceSample, metric: Metric, s: Stats) -> Alert {
        let cracker = cracker_hint(sample.container.image.as_deref(), sample.command.as_deref());
        let (what, unit) = match metric {
            Metric::Cpu => ("cpu", "cores"),
            Metric::Memory => ("memory", "bytes"),
        };
        let round = |v: f64| match metric {
            Metric::Cpu => Value::from((v * 1000.0).round() / 1000.0),
            Metric::Memory => Value::from(v.round() as u64),
        };
        let mut fields = Map::new();
        let c = &sample.container;
        if let Some(id) = &c.id {
            fields.insert("ContainerId".into(), id.clone().into());
        }
        if let Some(n) = &c.name {
            fields.insert("ContainerName".into(), n.clone().into());
        }
        if let Some(i) = &c.image {
            fields.insert("ImageRef".into(), i.clone().into());
        }
        if let Some(cmd) = &sample.command {
            fields.insert("Command".into(), cmd.clone().into());
        }
        fields.insert("Metric".into(), what.into());
        fields.insert("Unit".into(), unit.into());
        fields.insert("Mean".into(), round(s.mean));
        fields.insert("Peak".into(), round(s.peak));
        fields.insert("Low".into(), round(s.low));
        fields.insert("Floor".into(), round(s.floor));
        fields.insert("ContainerBaseline".into(), round(s.own));
        fields.insert("ImageBaseline".into(), round(s.image));
        fields.insert("Samples".into(), s.samples.into());
        fields.insert(
            "WindowSeconds".into(),
            ((s.seconds * 10.0).round() / 10.0).into(),
        );
        if let Some(name) = &cracker {
            fields.insert("Cracker".into(), name.clone().into());
        }
        let mut matched = Map::new();
        for k in [
            "Metric",
            "Mean",
            "Floor",
            "ContainerBaseline",
            "ImageBaseline",
            "WindowSeconds",
        ] {
            if let Some(v) = fields.get(k) {
                matched.insert(k.to_string(), v.clone());
            }
        }
        if let Some(name) = &cracker {
            matched.insert("Cracker".into(), name.clone().into());
        }
        let raw = Value::Object(fields.clone()).to_string();
        let mut event = Event::new(
            LogSource::new(Some("docker"), Some("resource_usage"), Some("stats")),
            sample.time,
            fields,
        );
        event.host = sample.host.as_deref().map(std::sync::Arc::from);
        event.set_container(sample.container.clone());
        event.origin = Origin {
            source: sample.source.as_str().into(),
            ..Origin::default()
        };
        event.raw = Some(raw.into());
        let mut tags = vec!["attack.t1496", "attack.impact"];
        if cracker.is_some() {
            tags.extend(["attack.t1110.002", "attack.credential-access"]);
        }
        let description = format!(
            "{what} stayed above {} {unit} for {:.0} s (mean {}, baseline {}){}",
            round(s.floor),
            s.seconds,
            round(s.mean),
            round(s.own.max(s.image)),
            cracker
                .as_deref()
                .map(|c| format!("; the image or command names the password cracker {c}"))
                .unwrap_or_default()
        );
        Alert::new(
            Arc::new(RuleInfo {
                id: RESOURCE_RULE_ID.into(),
                title: RESOURCE_RULE_TITLE.into(),
                level: Level::High,
                status: Some("experimental".into()),
                description: Some(description),
            }),
            Arc::new(Attack::from_tags(tags)),
            self.strategy.clone(),
            &event,
            matched,
        )
    }
}

struct Stats {
    mean: f64,
    peak: f64,
    low: f64,
    floor: f64,
    own: f64,
    image: f64,
    samples: usize,
    seconds: f64,
}

/// The cracker an image reference or command line names, if any: a whole
/// path component or word equal to a known cracker's name.
pub fn cracker_hint(image: Option<&str>, command: Option<&str>) -> Option<String> {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| c.is_whitespace() || matches!(c, '/' | ':' | '@' | '=' | '"' | '\''))
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let mut all = Vec::new();
    if let Some(i) = image {
        all.extend(words(i));
    }
    if let Some(c) = command {
        all.extend(words(c));
    }
    all.into_iter().find_map(|w| {
        let stem = w.trim_end_matches(".bin").trim_end_matches(".exe");
        CRACKERS.iter().find(|c| **c == stem).map(|c| c.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str, image: &str, t_secs: i64, cpu: f64) -> ResourceSample {
        ResourceSample {
            time: Timestamp(t_secs * NS),
            container: ContainerContext {
                id: Some(id.into()),
                name: Some(format!("name-{id}")),
                image: Some(image.into()),
                ..Default::default()
            },
            command: None,
            cpu,
            memory: 10 << 20,
            source: "docker-stats:test".into(),
            host: None,
        }
    }

    fn run(d: &mut ResourceDetector, samples: &[ResourceSample]) -> Vec<Alert> {
        let mut out = Vec::new();
        for s in samples {
            d.feed(s, &mut out);
        }
        out
    }

    fn series(
        id: &str,
        image: &str,
        from: i64,
        to: i64,
        step: i64,
        cpu: f64,
    ) -> Vec<ResourceSample> {
        (from..=to)
            .step_by(step as usize)
            .map(|t| sample(id, image, t, cpu))
            .collect()
    }

    #[test]
    fn fresh_image_burning_a_core_for_the_window_alerts_once() {
        let mut d = ResourceDetector::new(ResourceConfig::default(), &[]);
        // 5 s samples, 0.95 cores from t=0 to t=60
        let alerts = run(&mut d, &series("c1", "miner:1", 0, 60, 5, 0.95));
        assert_eq!(alerts.len(), 1, "one alert per episode");
        let a = &alerts[0];
        assert_eq!(a.rule.id, RESOURCE_RULE_ID);
        assert_eq!(a.rule.level, Level::High);
        assert_eq!(a.attack.techniques, vec!["T1496"]);
        // fired as soon as 30 s were covered, not before
        assert_eq!(a.time, Timestamp(30 * NS));
        assert_eq!(a.container.as_ref().unwrap().id.as_deref(), Some("c1"));
        assert_eq!(a.matched["Metric"], "cpu");
    }

    #[test]
    fn shorter_than_the_window_or_below_the_floor_is_quiet() {
        let mut d = ResourceDetector::new(ResourceConfig::default(), &[]);
        assert!(run(&mut d, &series("c1", "app", 0, 25, 5, 1.5)).is_empty());
        let mut d = ResourceDetector::new(ResourceConfig::default(), &[]);
        assert!(run(&mut d, &series("c2", "app", 0, 120, 5, 0.7)).is_empty());
        // one dip below the floor inside the window breaks "sustained"
        let mut d = ResourceDetector::new(ResourceConfig::default(), &[]);
        let mut s = series("c3", "app", 0, 25, 5, 1.0);
        s.push(sample("c3", "app", 30, 0.1));
        s.extend(series("c3", "app", 35, 60, 5, 1.0));
        let alerts = run(&mut d, &s);
        assert_eq!(alerts.len(), 1);
        // a sample is the usage since the previous one: (30, 60] is the first full window
        assert_eq!(alerts[0].time, Timestamp(60 * NS));
    }

    #[test]
    fn rearms_after_the_episode_ends() {
        let mut d = ResourceDetector::new(ResourceConfig::default(), &[]);
        let mut s = series("c1", "x", 0, 40, 5, 1.0);
        s.extend(series("c1", "x", 45, 60, 5, 0.0));
        s.extend(series("c1", "x", 65, 110, 5, 1.0));
        assert_eq!(run(&mut d, &s).len(), 2);
    }

    #[test]
    fn a_container_that_is_normally_busy_learns_its_baseline() {
        let cfg = ResourceConfig {
            cpu_floor: 0.5,
            ..ResourceConfig::default()
        };
        let mut d = ResourceDetector::new(cfg, &[]);
        // an hour at 0.4 cores (below the floor: no alert, and it is learned)
        let mut s = series("c1", "encoder", 0, 3600, 5, 0.4);
        // then 0.9 for a minute: above the floor but not 3x its own baseline
        s.extend(series("c1", "encoder", 3605, 3665, 5, 0.9));
        assert!(run(&mut d, &s).is_empty());
        // another container of the same image inherits the image's baseline
        assert!(run(&mut d, &series("c2", "encoder", 3700, 3800, 5, 0.9)).is_empty());
        // a container of a never-seen image doing the same is reported
        assert_eq!(
            run(&mut d, &series("c3", "other", 3700, 3800, 5, 0.9)).len(),
            1
        );
    }

    #[test]
    fn abuse_does_not_teach_the_baseline() {
        let mut d = ResourceDetector::new(ResourceConfig::default(), &[]);
        assert_eq!(
            run(&mut d, &series("c1", "hashcat:6", 0, 600, 5, 1.0)).len(),
            1
        );
        d.forget("c1");
        // the next container of the same image is still judged against a low baseline
        assert_eq!(
            run(&mut d, &series("c2", "hashcat:6", 700, 760, 5, 1.0)).len(),
            1
        );
    }

    #[test]
    fn gaps_restart_the_window() {
        let mut d = ResourceDetector::new(ResourceConfig::default(), &[]);
        let mut s = series("c1", "x", 0, 20, 5, 1.0);
        s.extend(series("c1", "x", 60, 80, 5, 1.0));
        assert!(run(&mut d, &s).is_empty());
    }

    #[test]
    fn memory_floor() {
        let cfg = ResourceConfig {
            memory_floor: Some(1 << 30),
            ..ResourceConfig::default()
        };
        let mut d = ResourceDetector::new(cfg, &[]);
        let mut s = series("c1", "x", 0, 40, 5, 0.0);
        for x in &mut s {
            x.memory = 3 << 30;
        }
        let alerts = run(&mut d, &s);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].matched["Metric"], "memory");
    }

    #[test]
    fn crackers_add_password_cracking() {
        let mut d = ResourceDetector::new(ResourceConfig::default(), &[]);
        let alerts = run(
            &mut d,
            &series("c1", "127.0.0.1:5001/tools/hashcat:6.2.6", 0, 30, 5, 1.0),
        );
        assert_eq!(alerts[0].attack.techniques, vec!["T1496", "T1110.002"]);
        assert_eq!(alerts[0].matched["Cracker"], "hashcat");
        // by command, in a neutral image
        let mut d = ResourceDetector::new(ResourceConfig::default(), &[]);
        let mut s = series("c2", "busybox", 0, 30, 5, 1.0);
        for x in &mut s {
            x.command = Some("/usr/bin/john --wordlist=rockyou.txt hashes".into());
        }
        assert_eq!(run(&mut d, &s)[0].attack.techniques[1], "T1110.002");
        assert_eq!(
            cracker_hint(Some("johnny/web:1"), Some("nginx -g daemon")),
            None
        );
        assert_eq!(
            cracker_hint(None, Some("./hashcat.bin -m 1000 h w")).as_deref(),
            Some("hashcat")
        );
    }

    #[test]
    fn memory_is_bounded() {
        let cfg = ResourceConfig {
            max_containers: 10,
            max_images: 5,
            ..ResourceConfig::default()
        };
        let mut d = ResourceDetector::new(cfg, &[]);
        let mut out = Vec::new();
        for i in 0..200 {
            for t in 0..3 {
                d.feed(
                    &sample(&format!("c{i}"), &format!("img{i}"), t * 5, 0.1),
                    &mut out,
                );
            }
        }
        assert!(d.tracked() <= 10);
        assert!(d.images.len() <= 5);
    }

    #[test]
    fn strategy_is_the_one_covering_t1496() {
        let (strategies, _) = crate::builtin_strategies();
        let d = ResourceDetector::new(ResourceConfig::default(), &strategies);
        let s = d.strategy.as_ref().expect("a pack strategy covers T1496");
        assert_eq!(s.id, "ADS-0001");
    }
}
