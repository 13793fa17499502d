use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Sigma's logsource triple. `None` means "not stated".
///
/// An event may state all three: an auditd execve record is
/// `product: linux, category: process_creation, service: auditd`, so it is
/// judged by both process-creation rules and auditd rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Arc<str>>,
}

impl LogSource {
    pub fn new(product: Option<&str>, category: Option<&str>, service: Option<&str>) -> LogSource {
        LogSource {
            product: product.map(Arc::from),
            category: category.map(Arc::from),
            service: service.map(Arc::from),
        }
    }

    /// True when every key the rule states equals the event's (ASCII case
    /// insensitive). A key the rule leaves out matches anything; a key the
    /// rule states but the event lacks does not match.
    pub fn admits(&self, event: &LogSource) -> bool {
        fn key(rule: &Option<Arc<str>>, event: &Option<Arc<str>>) -> bool {
            match (rule, event) {
                (None, _) => true,
                (Some(r), Some(e)) => r.eq_ignore_ascii_case(e),
                (Some(_), None) => false,
            }
        }
        key(&self.product, &event.product)
            && key(&self.category, &event.category)
            && key(&self.service, &event.service)
    }
}

impl fmt::Display for LogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            ("product", &self.product),
            ("category", &self.category),
            ("service", &self.service),
        ];
        let mut first = true;
        for (name, value) in parts {
            if let Some(v) = value {
                if !first {
                    f.write_str(", ")?;
                }
                write!(f, "{name}: {v}")?;
                first = false;
            }
        }
        if first {
            f.write_str("any")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_keys_must_all_match() {
        let event = LogSource::new(Some("linux"), Some("process_creation"), Some("auditd"));
        assert!(LogSource::new(Some("linux"), Some("process_creation"), None).admits(&event));
        assert!(LogSource::new(Some("Linux"), None, Some("auditd")).admits(&event));
        assert!(!LogSource::new(Some("windows"), Some("process_creation"), None).admits(&event));
        let bare = LogSource::new(Some("linux"), None, None);
        assert!(!LogSource::new(None, Some("process_creation"), None).admits(&bare));
    }
}
