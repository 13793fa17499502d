//! `ads render`: a strategy as a Markdown or HTML report, with each rule's
//! logic in readable form and the current result of its tests.

use std::fmt::Write as _;

use yaml_serde::Value as Yaml;

use crate::strategy::Strategy;

/// What the report shows about one rule of the strategy.
#[derive(Clone, Debug)]
pub struct RuleSummary {
    pub id: String,
    pub title: String,
    pub level: String,
    pub status: String,
    pub description: String,
    pub logsource: String,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    /// The rule's `detection` block in readable lines (see [`readable_detection`]).
    pub logic: Vec<String>,
    pub tests: Option<TestSummary>,
}

#[derive(Clone, Debug, Default)]
pub struct TestSummary {
    pub passed: usize,
    pub total: usize,
    /// One line per failing case.
    pub failures: Vec<String>,
}

/// Turn a Sigma `detection` block into lines a reader can follow without
/// knowing Sigma: one line per search identifier, then the condition.
pub fn readable_detection(detection: &Yaml) -> Vec<String> {
    let Yaml::Mapping(map) = detection else {
        return vec![format!("(detection is not a map: {})", scalar(detection))];
    };
    let mut lines = Vec::new();
    let mut condition = Vec::new();
    for (key, value) in map {
        let name = scalar(key);
        if name == "condition" {
            match value {
                Yaml::Sequence(items) => condition.extend(items.iter().map(scalar)),
                v => condition.push(scalar(v)),
            }
        } else if name == "timeframe" {
            lines.push(format!("within {}", scalar(value)));
        } else {
            lines.push(format!("{name}: {}", readable_search(value)));
        }
    }
    for c in condition {
        lines.push(format!("condition: {c}"));
    }
    lines
}

fn readable_search(value: &Yaml) -> String {
    match value {
        Yaml::Mapping(map) => map
            .iter()
            .map(|(k, v)| readable_field(&scalar(k), v))
            .collect::<Vec<_>>()
            .join(" AND "),
        Yaml::Sequence(items) if items.iter().all(|i| matches!(i, Yaml::Mapping(_))) => items
            .iter()
            .map(|i| format!("({})", readable_search(i)))
            .collect::<Vec<_>>()
            .join(" OR "),
        Yaml::Sequence(items) => format!(
            "any keyword of {}",
            items.iter().map(quoted).collect::<Vec<_>>().join(", ")
        ),
        other => format!("keyword {}", quoted(other)),
    }
}

fn readable_field(key: &str, value: &Yaml) -> String {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default();
    let modifiers: Vec<&str> = parts.collect();
    let all = modifiers.contains(&"all");
    let op = modifiers
        .iter()
        .find(|m| **m != "all")
        .map(|m| match *m {
            "contains" => "contains",
            "startswith" => "starts with",
            "endswith" => "ends with",
            "re" => "matches regex",
            "exists" => "exists is",
            "cidr" => "is in network",
            "gt" => ">",
            "gte" => ">=",
            "lt" => "<",
            "lte" => "<=",
            "neq" => "is not",
            other => other,
        })
        .unwrap_or("is");
    let values = match value {
        Yaml::Sequence(items) => {
            let joiner = if all { " and " } else { " or " };
            items.iter().map(quoted).collect::<Vec<_>>().join(joiner)
        }
        Yaml::Null => "null (absent)".to_string(),
        v => quoted(v),
    };
    format!("{field} {op} {values}")
}

fn quoted(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => format!("'{s}'"),
        other => scalar(other),
    }
}

fn scalar(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => "null".into(),
        other => yaml_serde::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// The report as Markdown.
pub fn render_markdown(s: &Strategy, rules: &[RuleSummary]) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# {}: {}\n", s.id, s.title);
    section(w, "Goal", &s.goal);
    let _ = writeln!(w, "## Categorization\n");
    for t in &s.categorization.techniques {
        let _ = writeln!(
            w,
            "- **{}** {} — <https://attack.mitre.org/techniques/{}/>",
            t.id,
            t.name,
            t.id.replace('.', "/")
        );
    }
    let _ = writeln!(w, "- **Tactics:** {}", s.categorization.tactics.join(", "));
    let _ = writeln!(
        w,
        "- **Platforms:** {}\n",
        s.categorization.platforms.join(", ")
    );
    section(w, "Strategy Abstract", &s.strategy_abstract);
    section(w, "Technical Context", &s.technical_context);
    list(w, "Blind Spots", &s.blind_spots);
    list(w, "Assumptions", &s.assumptions);
    list(w, "False Positives", &s.false_positives);
    let _ = writeln!(
        w,
        "## Priority\n\n**{:?}**. {}\n",
        s.priority,
        s.priority_justification.trim()
    );
    let _ = writeln!(w, "## Validation\n");
    for v in &s.validation {
        let _ = writeln!(
            w,
            "### {} ({})\n\n{}\n",
            v.name,
            v.platform,
            v.description.trim()
        );
        if !v.commands.is_empty() {
            let _ = writeln!(w, "```sh\n{}\n```\n", v.commands.join("\n"));
        }
        if !v.expected_rules.is_empty() {
            let _ = writeln!(w, "Expected rules: {}\n", v.expected_rules.join(", "));
        }
    }
    list(w, "Response", &s.response);
    let _ = writeln!(w, "## Additional Resources\n");
    for r in &s.resources {
        let _ = writeln!(w, "- [{}]({})", r.title, r.url);
    }
    let _ = writeln!(w, "\n## Rules\n");
    for r in rules {
        let _ = writeln!(w, "### {} (`{}`)\n", r.title, r.id);
        let _ = writeln!(
            w,
            "- **Level:** {} · **Status:** {} · **Logsource:** {}",
            r.level, r.status, r.logsource
        );
        let _ = writeln!(w, "- **Tags:** {}", r.tags.join(", "));
        let _ = writeln!(w, "- **Tests:** {}\n", test_line(r.tests.as_ref()));
        if !r.description.is_empty() {
            let _ = writeln!(w, "{}\n", r.description.trim());
        }
        let _ = writeln!(w, "```\n{}\n```\n", r.logic.join("\n"));
        if !r.falsepositives.is_empty() {
            let _ = writeln!(w, "False positives: {}\n", r.falsepositives.join("; "));
        }
        if let Some(t) = &r.tests {
            for f in &t.failures {
                let _ = writeln!(w, "- FAILED: {f}");
            }
        }
    }
    out
}

fn test_line(t: Option<&TestSummary>) -> String {
    match t {
        None => "no tests".into(),
        Some(t) if t.passed == t.total => format!("{}/{} pass", t.passed, t.total),
        Some(t) => format!(
            "{}/{} pass — {} FAILING",
            t.passed,
            t.total,
            t.total - t.passed
        ),
    }
}

fn section(w: &mut String, title: &str, body: &str) {
    let _ = writeln!(w, "## {title}\n\n{}\n", body.trim());
}

fn list(w: &mut String, title: &str, items: &[String]) {
    let _ = writeln!(w, "## {title}\n");
    for i in items {
        let _ = writeln!(w, "- {}", i.trim());
    }
    let _ = writeln!(w);
}

/// Escape text for HTML element content and attribute values. Everything
/// in a report comes from files a user (or attacker) may control.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Only `http(s)` links become anchors; anything else (`javascript:`) is shown as text.
fn link(url: &str, title: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        format!(
            "<a href=\"{}\">{}</a>",
            escape_html(url),
            escape_html(title)
        )
    } else {
        format!("{} ({})", escape_html(title), escape_html(url))
    }
}

/// The report as a standalone HTML page.
pub fn render_html(s: &Strategy, rules: &[RuleSummary]) -> String {
    let e = escape_html;
    let mut out = String::new();
    let w = &mut out;
    let _ = write!(
        w,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>{}: {}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         pre{{background:#f4f4f4;padding:.75rem;overflow-x:auto}}.fail{{color:#b00}}.pass{{color:#070}}\
         </style></head><body>\n",
        e(&s.id),
        e(&s.title)
    );
    let _ = writeln!(w, "<h1>{}: {}</h1>", e(&s.id), e(&s.title));
    html_section(w, "Goal", &s.goal);
    let _ = writeln!(w, "<h2>Categorization</h2><ul>");
    for t in &s.categorization.techniques {
        let url = format!(
            "https://attack.mitre.org/techniques/{}/",
            t.id.replace('.', "/")
        );
        let _ = writeln!(
            w,
            "<li><strong>{}</strong> {}</li>",
            e(&t.id),
            link(&url, &t.name)
        );
    }
    let _ = writeln!(
        w,
        "<li><strong>Tactics:</strong> {}</li><li><strong>Platforms:</strong> {}</li></ul>",
        e(&s.categorization.tactics.join(", ")),
        e(&s.categorization.platforms.join(", "))
    );
    html_section(w, "Strategy Abstract", &s.strategy_abstract);
    html_section(w, "Technical Context", &s.technical_context);
    html_list(w, "Blind Spots", &s.blind_spots);
    html_list(w, "Assumptions", &s.assumptions);
    html_list(w, "False Positives", &s.false_positives);
    let _ = writeln!(
        w,
        "<h2>Priority</h2><p><strong>{:?}</strong>. {}</p>",
        s.priority,
        e(s.priority_justification.trim())
    );
    let _ = writeln!(w, "<h2>Validation</h2>");
    for v in &s.validation {
        let _ = writeln!(
            w,
            "<h3>{} ({})</h3><p>{}</p>",
            e(&v.name),
            e(&v.platform),
            e(v.description.trim())
        );
        if !v.commands.is_empty() {
            let _ = writeln!(w, "<pre>{}</pre>", e(&v.commands.join("\n")));
        }
        if !v.expected_rules.is_empty() {
            let _ = writeln!(
                w,
                "<p>Expected rules: {}</p>",
                e(&v.expected_rules.join(", "))
            );
        }
    }
    html_list(w, "Response", &s.response);
    let _ = writeln!(w, "<h2>Additional Resources</h2><ul>");
    for r in &s.resources {
        let _ = writeln!(w, "<li>{}</li>", link(&r.url, &r.title));
    }
    let _ = writeln!(w, "</ul><h2>Rules</h2>");
    for r in rules {
        let class = match &r.tests {
            Some(t) if t.passed == t.total => "pass",
            _ => "fail",
        };
        let _ = writeln!(
            w,
            "<h3>{} (<code>{}</code>)</h3><p><strong>Level:</strong> {} · <strong>Status:</strong> {} · \
             <strong>Logsource:</strong> {}<br><strong>Tags:</strong> {}<br>\
             <strong>Tests:</strong> <span class=\"{class}\">{}</span></p><p>{}</p><pre>{}</pre>",
            e(&r.title),
            e(&r.id),
            e(&r.level),
            e(&r.status),
            e(&r.logsource),
            e(&r.tags.join(", ")),
            e(&test_line(r.tests.as_ref())),
            e(r.description.trim()),
            e(&r.logic.join("\n")),
        );
        if !r.falsepositives.is_empty() {
            let _ = writeln!(
                w,
                "<p>False positives: {}</p>",
                e(&r.falsepositives.join("; "))
            );
        }
        if let Some(t) = &r.tests {
            for f in &t.failures {
                let _ = writeln!(w, "<p class=\"fail\">FAILED: {}</p>", e(f));
            }
        }
    }
    let _ = writeln!(w, "</body></html>");
    out
}

fn html_section(w: &mut String, title: &str, body: &str) {
    let _ = writeln!(w, "<h2>{}</h2>", escape_html(title));
    for para in body.trim().split("\n\n") {
        let _ = writeln!(w, "<p>{}</p>", escape_html(para.trim()));
    }
}

fn html_list(w: &mut String, title: &str, items: &[String]) {
    let _ = writeln!(w, "<h2>{}</h2><ul>", escape_html(title));
    for i in items {
        let _ = writeln!(w, "<li>{}</li>", escape_html(i.trim()));
    }
    let _ = writeln!(w, "</ul>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_reads_as_sentences() {
        let detection: Yaml = yaml_serde::from_str(
            "selection:\n  Image|endswith: ['/hashcat', '/john']\n  CommandLine|contains|all: [' -m ', ' -a ']\n\
             filter:\n  User: null\ncondition: selection and not filter\n",
        )
        .unwrap();
        assert_eq!(
            readable_detection(&detection),
            vec![
                "selection: Image ends with '/hashcat' or '/john' AND CommandLine contains ' -m ' and ' -a '",
                "filter: User is null (absent)",
                "condition: selection and not filter",
            ]
        );
    }

    #[test]
    fn html_escapes_hostile_text_and_links() {
        assert_eq!(
            escape_html("<script>\"x\"&'"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;"
        );
        assert_eq!(link("javascript:alert(1)", "x"), "x (javascript:alert(1))");
        assert!(link("https://a.b/?q=<x>", "t").contains("q=&lt;x&gt;"));
    }
}
