//! The `contraband` command line: parses arguments, wires sources → engine →
//! sinks, and reports errors once. Libraries never print or exit.

mod ads;
mod cli;
mod emulate;
mod hunt;
mod input_order;
mod outbox;
mod pipeline;
mod progress;
mod rules;
mod summary;
mod watch;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let status = match run(cli) {
        Ok(status) => status,
        Err(err) => {
            eprintln!("contraband: error: {err:#}");
            2
        }
    };
    std::process::exit(status);
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Hunt(args) => hunt::run(*args),
        Command::Watch(args) => watch::run(*args),
        Command::Emulate(args) => emulate::run(args),
        Command::Rules(cmd) => rules::run(cmd),
        Command::Ads(cmd) => ads::run(cmd),
    }
}
