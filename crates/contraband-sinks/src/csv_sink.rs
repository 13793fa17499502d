use std::io::{self, Write};

use contraband_engine::Alert;

use crate::Sink;

const HEADER: [&str; 17] = [
    "time",
    "id",
    "level",
    "rule_id",
    "rule_title",
    "strategy",
    "techniques",
    "tactics",
    "host",
    "container_id",
    "container_name",
    "container_image",
    "process_image",
    "command_line",
    "matched",
    "source",
    "line",
];

pub struct CsvSink {
    out: csv::Writer<Box<dyn Write + Send>>,
    header_written: bool,
}

impl CsvSink {
    pub fn new(out: Box<dyn Write + Send>) -> CsvSink {
        CsvSink {
            out: csv::Writer::from_writer(out),
            header_written: false,
        }
    }

    fn header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.out.write_record(HEADER)?;
            self.header_written = true;
        }
        Ok(())
    }
}

impl Sink for CsvSink {
    fn write(&mut self, a: &Alert) -> io::Result<()> {
        self.header()?;
        let container = a.container.as_ref();
        let process = a.process.as_ref();
        let text = |v: Option<&String>| v.cloned().unwrap_or_default();
        let record = [
            a.time.to_rfc3339(),
            a.id.clone(),
            a.rule.level.to_string(),
            a.rule.id.clone(),
            a.rule.title.clone(),
            a.strategy
                .as_ref()
                .map(|s| s.id.clone())
                .unwrap_or_default(),
            a.attack.techniques.join(" "),
            a.attack.tactics.join(" "),
            a.host.as_deref().unwrap_or_default().to_string(),
            text(container.and_then(|c| c.id.as_ref())),
            text(container.and_then(|c| c.name.as_ref())),
            text(container.and_then(|c| c.image.as_ref())),
            text(process.and_then(|p| p.image.as_ref())),
            text(process.and_then(|p| p.command_line.as_ref())),
            serde_json::to_string(&a.matched)?,
            a.source.source.to_string(),
            a.source.line.map(|l| l.to_string()).unwrap_or_default(),
        ];
        self.out.write_record(&record)?;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        // An empty run still gets a header, so the file is valid CSV.
        self.header()?;
        self.out.flush()
    }
}
