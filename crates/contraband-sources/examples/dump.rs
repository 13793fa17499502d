//! Print what the decoders make of files: `cargo run --example dump -- FILE...`
//! (`--format NAME` to force a format). One JSON line per event or error.

use contraband_sources::{open, Options};

fn main() {
    let mut opts = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--format" {
            match args.next().map(|f| f.parse()) {
                Some(Ok(f)) => opts.format = Some(f),
                _ => eprintln!("--format needs a valid format name"),
            }
            continue;
        }
        for item in open(&arg, &opts) {
            match item {
                Ok(ev) => {
                    let line = serde_json::json!({
                        "logsource": ev.logsource,
                        "time": ev.time,
                        "host": ev.host,
                        "origin": ev.origin,
                        "container": ev.container,
                        "fields": ev.fields,
                    });
                    println!("{line}");
                }
                Err(e) => println!("ERROR {e}"),
            }
        }
    }
}
