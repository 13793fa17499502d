//! Word lists and `{placeholder}` expansion shared by the generators.
//!
//! Unknown placeholders are left as written, so literal braces in command lines
//! (`awk '{print $2}'`, `curl -w %{http_code}`) survive expansion.

use crate::rng::Rng;

pub const USERS: &[&str] = &[
    "root",
    "www-data",
    "app",
    "deploy",
    "postgres",
    "redis",
    "nginx",
    "nobody",
    "ubuntu",
    "ec2-user",
    "jenkins",
    "gitlab-runner",
    "backup",
    "svc-etl",
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "mallory",
    "node",
    "prometheus",
    "grafana",
    "elastic",
    "kafka",
    "zookeeper",
    "mysql",
    "systemd-network",
];

pub const HUMANS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
];

pub const WORDS: &[&str] = &[
    "billing",
    "orders",
    "invoices",
    "checkout",
    "inventory",
    "catalog",
    "search",
    "payments",
    "users",
    "sessions",
    "reports",
    "metrics",
    "ledger",
    "shipping",
    "notifications",
    "audit",
    "profile",
    "recommendations",
    "pricing",
    "cart",
    "auth",
    "gateway",
    "scheduler",
    "exporter",
    "ingest",
    "thumbnails",
    "media",
    "analytics",
    "feature-flags",
    "webhooks",
    "emails",
    "quotas",
    "tenants",
];

pub const REPOS: &[&str] = &[
    "storefront",
    "api-server",
    "billing-service",
    "data-pipeline",
    "infra-live",
    "web-frontend",
    "mobile-backend",
    "ml-models",
    "auth-proxy",
    "docs-site",
    "etl-jobs",
    "platform-tools",
];

pub const BRANCHES: &[&str] = &[
    "main",
    "develop",
    "release/2026.11",
    "feature/cart-v2",
    "hotfix/timeout",
    "renovate/lodash-4.x",
];

pub const SERVICES: &[&str] = &[
    "nginx",
    "postgresql",
    "redis-server",
    "docker",
    "containerd",
    "kubelet",
    "ssh",
    "cron",
    "rsyslog",
    "node_exporter",
    "chronyd",
    "systemd-journald",
    "unattended-upgrades",
    "fluent-bit",
    "haproxy",
];

pub const PACKAGES: &[&str] = &[
    "libssl3",
    "ca-certificates",
    "tzdata",
    "openssl",
    "libc6",
    "python3-yaml",
    "git",
    "jq",
    "unzip",
    "build-essential",
    "libpq-dev",
    "gnupg",
    "lsb-release",
    "software-properties-common",
    "htop",
    "zstd",
    "rsync",
    "postgresql-client",
    "redis-tools",
    "libxml2",
    "zlib1g",
    "vim-tiny",
];

pub const PY_PACKAGES: &[&str] = &[
    "requests",
    "boto3",
    "django",
    "flask",
    "celery",
    "numpy",
    "pandas",
    "pydantic",
    "sqlalchemy",
    "uvicorn",
];

pub const PY_SCRIPTS: &[&str] = &[
    "worker.py",
    "manage.py",
    "sync_accounts.py",
    "export_report.py",
    "consumer.py",
    "rebuild_index.py",
    "cleanup.py",
];

pub const DOMAINS: &[&str] = &[
    "api.internal.example.com",
    "registry.example.com",
    "pypi.org",
    "files.pythonhosted.org",
    "objects.githubusercontent.com",
    "deb.debian.org",
    "security.ubuntu.com",
    "s3.eu-west-1.amazonaws.com",
    "hooks.slack.com",
    "sentry.example.com",
    "auth.example.com",
    "cdn.example.net",
];

pub const BAD_HOSTS: &[&str] = &[
    "185.220.101.34",
    "45.137.21.9",
    "193.32.162.77",
    "91.92.109.126",
    "203.0.113.66",
    "198.51.100.23",
];

pub const NAMESPACES: &[&str] = &[
    "default",
    "shop",
    "payments",
    "data",
    "monitoring",
    "logging",
    "ingress-nginx",
    "cert-manager",
    "ci",
    "staging",
    "kube-system",
    "argocd",
];

pub const IMAGES: &[&str] = &[
    "registry.example.com/shop/storefront:2.14.3",
    "registry.example.com/shop/api-server:1.9.0",
    "registry.example.com/payments/billing:5.2.1",
    "docker.io/library/nginx:1.27-alpine",
    "docker.io/library/postgres:16.4",
    "docker.io/library/redis:7.4",
    "docker.io/library/python:3.12-slim",
    "docker.io/library/node:22-bookworm-slim",
    "quay.io/prometheus/node-exporter:v1.8.2",
    "ghcr.io/fluent/fluent-bit:3.1",
    "registry.k8s.io/ingress-nginx/controller:v1.11.2",
    "registry.example.com/data/etl-jobs:2026.11.20",
    "registry.example.com/ci/runner:17.4",
    "docker.io/grafana/grafana:11.2.0",
    "docker.io/bitnami/kafka:3.8",
];

pub const BAD_IMAGES: &[&str] = &[
    "docker.io/dizcza/docker-hashcat:cuda",
    "docker.io/kalilinux/kali-rolling:latest",
    "docker.io/alpine:latest",
    "docker.io/busybox:latest",
    "45.137.21.9:5000/miner/xmrig:6.21",
    "docker.io/metasploitframework/metasploit-framework:6.4",
];

pub const NODES: &[&str] = &[
    "ip-10-0-1-17",
    "ip-10-0-1-45",
    "ip-10-0-2-8",
    "ip-10-0-2-91",
    "ip-10-0-3-120",
    "ip-10-0-3-201",
    "build-01",
    "build-02",
    "db-primary",
    "db-replica-1",
    "edge-01",
    "edge-02",
];

pub const RUNTIMES: &[&str] = &[
    "containerd",
    "containerd",
    "containerd",
    "docker",
    "cri-o",
    "podman",
];

pub fn ip(rng: &mut Rng) -> String {
    format!(
        "10.{}.{}.{}",
        rng.below(4),
        rng.below(255),
        rng.range(1, 255)
    )
}

/// `2026-11-20` style date fragments for file names.
pub fn date(rng: &mut Rng) -> String {
    format!("2026-{:02}-{:02}", rng.range(9, 12), rng.range(1, 29))
}

/// Expand `{name}` placeholders with values drawn from `rng`.
pub fn expand(tpl: &str, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(tpl.len() + 32);
    let mut rest = tpl;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                let name = &after[..close];
                if !fill(name, rng, &mut out) {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 12
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn fill(name: &str, rng: &mut Rng, out: &mut String) -> bool {
    use std::fmt::Write;
    match name {
        "n" => write!(out, "{}", rng.range(1, 64)).unwrap(),
        "nn" => write!(out, "{}", rng.range(100, 10000)).unwrap(),
        "pid" => write!(out, "{}", rng.range(300, 4_000_000)).unwrap(),
        "port" => write!(
            out,
            "{}",
            rng.pick(&[80, 443, 3000, 5000, 5432, 6379, 8000, 8080, 8443, 9090, 9100, 9200])
        )
        .unwrap(),
        "ip" => out.push_str(&ip(rng)),
        "bad" => out.push_str(rng.pick(BAD_HOSTS)),
        "word" => out.push_str(rng.pick(WORDS)),
        "word2" => out.push_str(rng.pick(WORDS)),
        "repo" => out.push_str(rng.pick(REPOS)),
        "branch" => out.push_str(rng.pick(BRANCHES)),
        "svc" => out.push_str(rng.pick(SERVICES)),
        "pkg" => out.push_str(rng.pick(PACKAGES)),
        "pypkg" => out.push_str(rng.pick(PY_PACKAGES)),
        "py" => out.push_str(rng.pick(PY_SCRIPTS)),
        "user" => out.push_str(rng.pick(USERS)),
        "human" => out.push_str(rng.pick(HUMANS)),
        "domain" => out.push_str(rng.pick(DOMAINS)),
        "ns" => out.push_str(rng.pick(NAMESPACES)),
        "image" => out.push_str(rng.pick(IMAGES)),
        "node" => out.push_str(rng.pick(NODES)),
        "date" => out.push_str(&date(rng)),
        "ver" => write!(
            out,
            "{}.{}.{}",
            rng.range(0, 6),
            rng.range(0, 30),
            rng.range(0, 20)
        )
        .unwrap(),
        "hex8" => out.push_str(&rng.hex(8)),
        "hex12" => out.push_str(&rng.hex(12)),
        "hex40" => out.push_str(&rng.hex(40)),
        "hex64" => out.push_str(&rng.hex(64)),
        "uuid" => out.push_str(&rng.uuid()),
        "rand5" => out.push_str(&rng.alnum_lower(5)),
        "b64" => {
            const B: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let n = rng.range(40, 160) as usize;
            for _ in 0..n {
                out.push(B[rng.below(64) as usize] as char);
            }
            out.push_str("==");
        }
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_braces_survive() {
        let mut r = Rng::new(1);
        assert_eq!(expand("awk '{print $2}' x", &mut r), "awk '{print $2}' x");
        assert_eq!(
            expand("curl -w %{http_code}", &mut r),
            "curl -w %{http_code}"
        );
        assert_eq!(expand("a {", &mut r), "a {");
        let s = expand("git -C /srv/{repo} pull", &mut r);
        assert!(!s.contains('{'), "{s}");
    }
}
