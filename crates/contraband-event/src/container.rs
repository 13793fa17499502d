use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What is known about the container an event happened in.
///
/// Filled from whatever the telemetry carries: a `docker inspect` result, an
/// event's actor attributes, a Kubernetes pod spec, a cgroup path. Every
/// field is optional because every source knows a different subset. Rules
/// reach it as `container.<field>`, with the serde names below (for example
/// `container.privileged`, `container.mounts.source`, `container.cap_add`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The image reference as the user gave it (`registry:5000/team/app:1.2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The registry host part of `image`; `docker.io` when the reference has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_registry: Option<String>,
    /// `sha256:...` of the image, when the telemetry carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// `docker`, `podman`, `containerd`, `cri-o`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// `seccomp=unconfined`, `apparmor=unconfined`, `no-new-privileges`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uts_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_driver: Option<String>,
    /// The user the container's main process runs as (`root`, `1000:1000`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s_pod: Option<String>,
}

/// One mount of a container, normalized across `-v`, `--mount`, `Binds`,
/// `Mounts` and Kubernetes `hostPath` volumes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// `bind`, `volume`, `tmpfs`, `hostPath`, ...
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The host path (or volume name) being mounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where it appears inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default = "default_true")]
    pub rw: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
}

fn default_true() -> bool {
    true
}

impl ContainerContext {
    /// True when nothing at all is known (so it need not be shown).
    pub fn is_empty(&self) -> bool {
        *self == ContainerContext::default()
    }

    /// Fill every field this context lacks from `other`; known fields win.
    /// Used when a process event is enriched with a cached inspect result.
    pub fn fill_from(&mut self, other: &ContainerContext) {
        fn opt<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        fn list<T: Clone>(mine: &mut Vec<T>, theirs: &[T]) {
            if mine.is_empty() {
                mine.extend_from_slice(theirs);
            }
        }
        opt(&mut self.id, &other.id);
        opt(&mut self.name, &other.name);
        opt(&mut self.image, &other.image);
        opt(&mut self.image_registry, &other.image_registry);
        opt(&mut self.image_digest, &other.image_digest);
        opt(&mut self.runtime, &other.runtime);
        opt(&mut self.privileged, &other.privileged);
        list(&mut self.mounts, &other.mounts);
        list(&mut self.cap_add, &other.cap_add);
        list(&mut self.cap_drop, &other.cap_drop);
        list(&mut self.security_opt, &other.security_opt);
        opt(&mut self.pid_mode, &other.pid_mode);
        opt(&mut self.network_mode, &other.network_mode);
        opt(&mut self.ipc_mode, &other.ipc_mode);
        opt(&mut self.uts_mode, &other.uts_mode);
        opt(&mut self.userns_mode, &other.userns_mode);
        opt(&mut self.log_driver, &other.log_driver);
        opt(&mut self.user, &other.user);
        list(&mut self.devices, &other.devices);
        for (k, v) in &other.labels {
            self.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        opt(&mut self.k8s_namespace, &other.k8s_namespace);
        opt(&mut self.k8s_pod, &other.k8s_pod);
    }
}

/// The registry host of an image reference, by Docker's rule: the first
/// path component is a registry when it contains `.` or `:` or is
/// `localhost`; otherwise the image lives on Docker Hub.
pub fn image_registry(reference: &str) -> &str {
    let reference = reference.split('@').next().unwrap_or(reference);
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_of_reference() {
        assert_eq!(image_registry("busybox"), "docker.io");
        assert_eq!(image_registry("library/busybox:1"), "docker.io");
        assert_eq!(image_registry("localhost:5000/hashcat"), "localhost:5000");
        assert_eq!(
            image_registry("ghcr.io/hashcat/hashcat@sha256:ab"),
            "ghcr.io"
        );
        assert_eq!(image_registry("localhost/x"), "localhost");
    }

    #[test]
    fn fill_keeps_known_fields() {
        let mut mine = ContainerContext {
            id: Some("abc".into()),
            ..Default::default()
        };
        let theirs = ContainerContext {
            id: Some("other".into()),
            privileged: Some(true),
            ..Default::default()
        };
        mine.fill_from(&theirs);
        assert_eq!(mine.id.as_deref(), Some("abc"));
        assert_eq!(mine.privileged, Some(true));
    }
}
