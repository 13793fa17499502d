#!/usr/bin/env python3
"""Write samples/k8s-audit.jsonl: Kubernetes API-server audit events (audit.k8s.io/v1, level
RequestResponse, stage ResponseComplete), one JSON object per line, as kube-apiserver writes
them with --audit-log-format=json.

No cluster runs on this machine, so these are AUTHORED, not recorded: the shapes follow the
audit.k8s.io/v1 Event type and what kube-apiserver 1.28 emits for these requests (kubectl
create/apply, pods/exec upgrades, 403 denials). Names match the docker/podman recording (cb-*)
so one table describes every sample. Deterministic: fixed ids and times; rerun to regenerate.

    python3 scripts/lib/make-k8s-audit.py > samples/k8s-audit.jsonl
"""
import json
import uuid

NS_UUID = uuid.UUID("6c6f6e67-6e61-6d65-2d63-6f6e74726162")
T0 = "2026-11-23T16:45:{s:02d}.{us:06d}Z"
KUBECTL = "kubectl/v1.28.2 (linux/amd64) kubernetes/89a4ea3"
ADMIN = {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
DEV = {"username": "dev@example.com", "groups": ["developers", "system:authenticated"]}
SA = {"username": "system:serviceaccount:ci:builder", "uid": "0b7d4a64-3c2e-4f35-9c55-2b9b0a1c7e11",
      "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]}


def ts(sec, us=0):
    return T0.format(s=sec, us=us)


def event(n, sec, verb, user, uri, ref, code, req=None, resp_status=None, ua=KUBECTL,
          decision="allow", reason="", level="RequestResponse"):
    e = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": level,
        "auditID": str(uuid.uuid5(NS_UUID, f"cb-{n}")),
        "stage": "ResponseComplete",
        "requestURI": uri,
        "verb": verb,
        "user": user,
        "sourceIPs": ["127.0.0.1"],
        "userAgent": ua,
        "objectRef": ref,
        "responseStatus": {"metadata": {}, "code": code},
    }
    if resp_status:
        e["responseStatus"].update(resp_status)
    if req is not None:
        e["requestObject"] = req
    e["requestReceivedTimestamp"] = ts(sec, 100000 + n)
    e["stageTimestamp"] = ts(sec, 180000 + n)
    e["annotations"] = {"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": reason}
    if code == 201 and ref.get("resource") == "pods" and not ref.get("subresource"):
        e["annotations"]["pod-security.kubernetes.io/enforce-policy"] = "privileged:latest"
    return e


def pod(name, ns, containers, **spec):
    s = {"containers": containers, "restartPolicy": "Never"}
    s.update(spec)
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name},
                         "creationTimestamp": None},
            "spec": s, "status": {}}


def ctr(name, image, command=None, args=None, mounts=None, sc=None):
    c = {"name": name, "image": image, "resources": {}}
    if command:
        c["command"] = command
    if args:
        c["args"] = args
    if mounts:
        c["volumeMounts"] = mounts
    if sc:
        c["securityContext"] = sc
    c["terminationMessagePath"] = "/dev/termination-log"
    c["terminationMessagePolicy"] = "File"
    c["imagePullPolicy"] = "IfNotPresent"
    return c


def pref(name, ns="default", sub=None):
    r = {"resource": "pods", "namespace": ns, "name": name, "apiVersion": "v1"}
    if sub:
        r["subresource"] = sub
    return r


def exec_uri(name, ns, cmd, container):
    q = "&".join(f"command={c}" for c in cmd)
    return f"/api/v1/namespaces/{ns}/pods/{name}/exec?{q}&container={container}&stdin=true&stdout=true&tty=true"


out = []
# 1. benign deployment from the approved registry
out.append(event(1, 0, "create", ADMIN, "/apis/apps/v1/namespaces/default/deployments?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
                 {"resource": "deployments", "namespace": "default", "name": "cb-benign-web", "apiGroup": "apps", "apiVersion": "v1"}, 201,
                 req={"kind": "Deployment", "apiVersion": "apps/v1",
                      "metadata": {"name": "cb-benign-web", "namespace": "default", "creationTimestamp": None},
                      "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "cb-benign-web"}},
                               "template": {"metadata": {"labels": {"app": "cb-benign-web"}, "creationTimestamp": None},
                                            "spec": {"containers": [ctr("web", "127.0.0.1:5000/apps/web:1.0")]}}}}))
# 2. benign read
out.append(event(2, 1, "list", DEV, "/api/v1/namespaces/default/pods?limit=500",
                 {"resource": "pods", "namespace": "default", "apiVersion": "v1"}, 200, level="Metadata"))
# 3. cracker pod from the unapproved registry (T1610, T1110.002)
out.append(event(3, 3, "create", DEV, "/api/v1/namespaces/default/pods?fieldManager=kubectl-run",
                 pref("cb-hashcat"), 201,
                 req=pod("cb-hashcat", "default",
                         [ctr("cb-hashcat", "127.0.0.1:5001/tools/hashcat:6.2.6",
                              command=["hashcat"], args=["-m", "0", "-a", "0", "/hashes/h.txt", "/hashes/words.txt"],
                              mounts=[{"name": "hashes", "mountPath": "/hashes", "readOnly": True}])],
                         volumes=[{"name": "hashes", "configMap": {"name": "cb-hashes"}}])))
# 4. pod mounting the node's root file system (T1611)
out.append(event(4, 5, "create", DEV, "/api/v1/namespaces/default/pods?fieldManager=kubectl-create",
                 pref("cb-hostroot"), 201,
                 req=pod("cb-hostroot", "default",
                         [ctr("cb-hostroot", "127.0.0.1:5000/base/busybox:1.35",
                              command=["sh", "-c", "chroot /host /bin/true; sleep 3600"],
                              mounts=[{"name": "host", "mountPath": "/host"}])],
                         volumes=[{"name": "host", "hostPath": {"path": "/", "type": ""}}])))
# 5. privileged pod sharing the host pid namespace, nsenter into pid 1 (T1611)
out.append(event(5, 7, "create", DEV, "/api/v1/namespaces/default/pods?fieldManager=kubectl-run",
                 pref("cb-nsenter"), 201,
                 req=pod("cb-nsenter", "default",
                         [ctr("cb-nsenter", "127.0.0.1:5000/base/busybox:1.35",
                              command=["nsenter", "-t", "1", "-m", "-u", "-i", "-n", "true"],
                              sc={"privileged": True})],
                         hostPID=True)))
# 6. privileged pod (T1611)
out.append(event(6, 9, "create", DEV, "/api/v1/namespaces/default/pods?fieldManager=kubectl-run",
                 pref("cb-privileged"), 201,
                 req=pod("cb-privileged", "default",
                         [ctr("cb-privileged", "127.0.0.1:5000/base/busybox:1.35",
                              command=["sleep", "3600"], sc={"privileged": True})])))
# 7. SYS_ADMIN + unconfined seccomp/apparmor (T1611, T1562.001)
unconf = pod("cb-unconfined", "default",
             [ctr("cb-unconfined", "127.0.0.1:5000/base/busybox:1.35", command=["sleep", "3600"],
                  sc={"capabilities": {"add": ["SYS_ADMIN"]}, "seccompProfile": {"type": "Unconfined"},
                      "appArmorProfile": {"type": "Unconfined"}})])
unconf["metadata"]["annotations"] = {"container.apparmor.security.beta.kubernetes.io/cb-unconfined": "unconfined"}
out.append(event(7, 11, "create", DEV, "/api/v1/namespaces/default/pods?fieldManager=kubectl-create",
                 pref("cb-unconfined"), 201, req=unconf))
# 8. docker socket mounted into a pod (T1611, T1610)
out.append(event(8, 13, "create", SA, "/api/v1/namespaces/ci/pods",
                 pref("cb-dockersock", "ci"), 201,
                 req=pod("cb-dockersock", "ci",
                         [ctr("cb-dockersock", "127.0.0.1:5000/base/busybox:1.35", command=["sleep", "3600"],
                              mounts=[{"name": "dockersock", "mountPath": "/var/run/docker.sock"}])],
                         volumes=[{"name": "dockersock", "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}}]),
                 ua="Go-http-client/2.0"))
# 9. interactive shell in a running pod (T1609)
out.append(event(9, 15, "create", DEV, exec_uri("cb-benign-web-5d8f7c9b4-x2x7q", "default", ["sh"], "web"),
                 pref("cb-benign-web-5d8f7c9b4-x2x7q", sub="exec"), 101, level="Metadata"))
# 10. exec of a one-shot command (T1609)
out.append(event(10, 16, "create", DEV, exec_uri("cb-exec", "default", ["sh", "-c", "id"], "cb-exec").replace("&stdin=true", "").replace("&tty=true", ""),
                 pref("cb-exec", sub="exec"), 101, level="Metadata"))
# 11. denied exec (near miss for "exec happened"; still an attempt)
out.append(event(11, 18, "create", {"username": "system:anonymous", "groups": ["system:unauthenticated"]},
                 exec_uri("cb-privileged", "default", ["sh"], "cb-privileged"),
                 pref("cb-privileged", sub="exec"), 403, level="Metadata", ua="curl/7.88.1",
                 decision="forbid", reason="",
                 resp_status={"status": "Failure", "reason": "Forbidden",
                              "message": "pods \"cb-privileged\" is forbidden: User \"system:anonymous\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"default\""}))
# 12. benign short pod (near miss for every pod rule)
out.append(event(12, 20, "create", DEV, "/api/v1/namespaces/default/pods?fieldManager=kubectl-run",
                 pref("cb-benign-short"), 201,
                 req=pod("cb-benign-short", "default",
                         [ctr("cb-benign-short", "127.0.0.1:5000/base/busybox:1.35", command=["sh", "-c", "date; uname -a"],
                              sc={"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 65534})])))
# 13. cleanup
for i, name in enumerate(["cb-hashcat", "cb-hostroot", "cb-nsenter", "cb-privileged", "cb-unconfined", "cb-benign-short"]):
    out.append(event(13 + i, 30 + i, "delete", DEV, f"/api/v1/namespaces/default/pods/{name}",
                     pref(name), 200, level="Metadata"))

for e in out:
    print(json.dumps(e, separators=(",", ":")))
