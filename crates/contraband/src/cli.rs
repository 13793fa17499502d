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
    /// Files or directories of telemetry; `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub rules: RuleSourceArgs,
    /// Output format. Default: table on a terminal, jsonl otherwise.
    #[arg(long, value_parser = ["table", "jsonl", "json", "csv", "ocsf", "falco"])]
    pub format: Option<String>,
    /// Write alerts to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Report only alerts at or above this level.
    #[arg(long, value_name = "LEVEL", default_value = "informational")]
    pub min_level: String,
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
