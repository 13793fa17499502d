//! Command-line arguments. Parsing only; each command lives in its own module.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Detect adversaries who hide in containers and virtual machines.
///
/// contraband evaluates Sigma rules over Docker, Podman, Kubernetes audit,
/// auditd, Tetragon and Windows telemetry and raises alerts that carry their
/// Alerting & Detection Strategy.
#[derive(Debug, Parser)]
#[command(name = "contraband", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Hunt through telemetry files (offline). Directories are walked;
    /// `-` reads standard input; gzip is decompressed transparently.
    Hunt(Box<HuntArgs>),
    /// Watch live telemetry: container engines, auditd, the Kubernetes audit
    /// webhook. Runs until interrupted (SIGINT/SIGTERM), then prints a summary.
    Watch(Box<WatchArgs>),
    /// Run attack scenarios (the strategies' validations, made safe) and
    /// benign ones against the local Docker engine and host, judged by a
    /// `watch` alongside: which rules fired and how fast, or that nothing
    /// at medium or above did. Exit 1 on a miss or a benign alert.
    Emulate(EmulateArgs),
    /// Inspect, lint and test rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Alerting & Detection Strategy documents.
    #[command(subcommand)]
    Ads(AdsCommand),
}

/// Where rules come from: the built-in pack, plus directories.
#[derive(Debug, Args, Clone, Default)]
pub struct RuleSourceArgs {
    /// Load Sigma rules from this file or directory (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Do not load the built-in rule pack.
    #[arg(long)]
    pub no_builtin: bool,
    /// YAML file of placeholder values for `|expand` (name: [values]);
    /// overrides the pack's `placeholders.yml` entry by entry.
    #[arg(long, value_name = "FILE")]
    pub placeholders: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HuntArgs {
    /// Files or directories of telemetry; `-` for standard input. Alerts
    /// are handed to the output in batches: on a pipe that pauses, an
    /// alert can wait for the next event (at most 100 ms once it comes)
    /// or the end of input. For live telemetry use `watch`.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub rules: RuleSourceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Exit with status 1 when an alert at or above this level is raised.
    #[arg(long, value_name = "LEVEL")]
    pub fail_on: Option<String>,
    /// Skip events before this time (RFC 3339, a date, or epoch seconds).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Skip events after this time.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Treat any decode error as fatal (exit 2).
    #[arg(long)]
    pub strict: bool,
    /// Read every input as this format instead of detecting it per file.
    #[arg(long = "input-format", value_name = "FORMAT")]
    pub input_format: Option<String>,
    /// Logsource for generic JSON input, e.g. `product=linux,category=process_creation`.
    #[arg(long, value_name = "K=V,...")]
    pub logsource: Option<String>,
    /// Directory of field-mapping files overriding the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub mapping: Option<PathBuf>,
    /// Worker threads for decoding and matching (default: all cores).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Docker Engine API socket: stream its events, inspect its containers,
    /// sample their resource use.
    #[arg(long, value_name = "SOCKET", num_args = 0..=1,
          default_missing_value = "unix:///var/run/docker.sock")]
    pub docker: Option<String>,
    /// Podman API socket (`podman system service`): stream its events,
    /// inspect its containers.
    #[arg(long, value_name = "SOCKET", num_args = 0..=1,
          default_missing_value = "unix:///run/podman/podman.sock")]
    pub podman: Option<String>,
    /// Follow this auditd log (across rotation), from its end.
    #[arg(long, value_name = "LOG", num_args = 0..=1,
          default_missing_value = "/var/log/audit/audit.log")]
    pub auditd: Option<PathBuf>,
    /// Read the auditd log from its start instead of its end.
    #[arg(long, requires = "auditd")]
    pub auditd_from_start: bool,
    /// Serve the Kubernetes audit webhook on this address (loopback by
    /// default: `9765` means 127.0.0.1:9765). See docs/watch.md.
    #[arg(long = "k8s-audit-webhook", value_name = "ADDR:PORT")]
    pub k8s_audit_webhook: Option<String>,
    /// File holding the webhook's bearer token (else env CONTRABAND_TOKEN).
    #[arg(long, value_name = "FILE", requires = "k8s_audit_webhook")]
    pub token_file: Option<PathBuf>,
    /// Allow the webhook to listen beyond loopback (it speaks plain HTTP).
    #[arg(long, requires = "k8s_audit_webhook")]
    pub k8s_audit_allow_remote: bool,
    /// Largest webhook request body accepted (413 beyond).
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    pub k8s_audit_max_body: usize,
    /// Webhook requests waiting for the pipeline at most (429 beyond).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub k8s_audit_queue: usize,
    /// Do not sample Docker container resource use.
    #[arg(long)]
    pub no_stats: bool,
    /// Seconds between resource samples of each running container.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub stats_interval: f64,
    /// Resource abuse: seconds usage must stay high before an alert.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub resource_window: f64,
    /// Resource abuse: CPU floor, in cores (0.8 = 80% of one core).
    #[arg(long, value_name = "CORES", default_value_t = 0.8)]
    pub resource_cpu: f64,
    /// Resource abuse: memory floor in MiB (0: do not judge memory).
    #[arg(long, value_name = "MIB", default_value_t = 2048)]
    pub resource_memory: u64,
    /// Inspected containers kept in the enrichment cache at most.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub cache_size: usize,
    /// Directory of field-mapping files overriding the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub mapping: Option<PathBuf>,
    #[command(flatten)]
    pub rules: RuleSourceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Scenario ids (`chroot-host`, see --list); all when none is given.
    pub ids: Vec<String>,
    /// List the scenarios and the rules each one emulates.
    #[arg(long)]
    pub list: bool,
    /// Docker Engine API socket.
    #[arg(
        long,
        value_name = "SOCKET",
        default_value = "unix:///var/run/docker.sock"
    )]
    pub docker: String,
    /// Also follow auditd, with a temporary execve audit rule, so process
    /// rules can fire (root; the rule is removed afterwards).
    #[arg(long)]
    pub with_auditd: bool,
    /// The auditd log followed with --with-auditd.
    #[arg(long, value_name = "LOG", default_value = "/var/log/audit/audit.log")]
    pub audit_log: String,
    /// Seconds to wait for a scenario's rules.
    #[arg(long, value_name = "SECONDS", default_value_t = 15.0)]
    pub timeout: f64,
    /// Local image the scenarios run.
    #[arg(
        long,
        value_name = "IMAGE",
        default_value = "contraband/busybox:latest"
    )]
    pub image: String,
    /// Local password-cracker stand-in image.
    #[arg(
        long,
        value_name = "IMAGE",
        default_value = "127.0.0.1:5001/tools/hashcat:6.2.6"
    )]
    pub cracker_image: String,
    /// Ordinary web image (approved registry) the benign web scenario runs.
    #[arg(
        long,
        value_name = "IMAGE",
        default_value = "127.0.0.1:5000/apps/web:1.0"
    )]
    pub web_image: String,
    /// Seconds a benign scenario is watched after its steps.
    #[arg(long, value_name = "SECONDS", default_value_t = 4.0)]
    pub settle: f64,
    /// The watch's --stats-interval (watch's default: 5).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub stats_interval: f64,
    /// The watch's --resource-window, shortened so the resource scenarios
    /// take seconds (watch's default: 30).
    #[arg(long, value_name = "SECONDS", default_value_t = 6.0)]
    pub resource_window: f64,
    /// The watch's --resource-cpu (watch's default: 0.8 cores); lower
    /// because a shell busy loop on a shared 2-core machine gets less.
    #[arg(long, value_name = "CORES", default_value_t = 0.3)]
    pub resource_cpu: f64,
}

/// Where alerts go and which are written: shared by `hunt` and `watch`.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Output format. Default: table on a terminal, jsonl otherwise.
    #[arg(long, value_parser = ["table", "jsonl", "json", "csv", "ocsf", "falco"])]
    pub format: Option<String>,
    /// Write alerts to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Report only alerts at or above this level.
    #[arg(long, value_name = "LEVEL", default_value = "informational")]
    pub min_level: String,
    /// Do not fold repeats of the same finding (same rule, container and matched values).
    #[arg(long)]
    pub no_dedup: bool,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load rules and report every one that cannot be loaded, with the reason.
    Lint {
        #[command(flatten)]
        rules: RuleSourceArgs,
        /// Print each failure's reason in full (default: grouped counts plus each file).
        #[arg(long)]
        verbose: bool,
    },
    /// Run every rule's test events (`NAME.tests.yml`): each `match` event
    /// must fire the rule, each `nomatch` event must not.
    Test {
        #[command(flatten)]
        rules: RuleSourceArgs,
    },
    /// List loaded rules.
    List {
        #[command(flatten)]
        rules: RuleSourceArgs,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportFormat {
    Md,
    Html,
}

#[derive(Debug, Subcommand)]
pub enum AdsCommand {
    /// List the strategies.
    List,
    /// Write the full ADS report for one strategy, or all when no ID is given.
    Render {
        /// Strategy id, e.g. ADS-0001.
        id: Option<String>,
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
        /// Write to this file (one strategy) or directory (all); default: standard output.
        #[arg(long, short, value_name = "PATH")]
        output: Option<PathBuf>,
    },
}
