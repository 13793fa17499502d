#!/usr/bin/env python3
"""Keep only this recording's telemetry (used by scripts/record-fixtures).

The machine is shared: other sessions build and test while we record, and the audit execve
rule sees every process on it. Raw lines are never rewritten; whole lines (docker/podman
events) or whole audit events (all records of one msg=audit(...) serial) are kept or dropped.

auditd: an event is kept when
  * its ses is the recording script's audit session (the script sets its loginuid, so it and
    everything it starts -- docker/podman CLIs, podman's conmon and containers -- share it), or
  * it carries one of the recording's watch keys, or is a CONFIG_CHANGE / DAEMON_* record, or
  * its pid or ppid descends from dockerd/containerd, a container's init (State.Pid) or its
    shim, closed transitively over the execve events (docker's containers are started by
    containerd, outside our session), or
  * its exe is a container-runtime binary or the busybox of our images and its ses is unset
    (covers the build container of `docker build`, whose shim pid is never seen).
"""
import argparse
import collections
import json
import os
import re
import sys

OUR_KEYS = {"docker-config", "log-tamper", "cb-delete-demo"}
RUNTIME_EXES = {
    "/usr/sbin/runc", "/usr/bin/containerd-shim-runc-v2", "/usr/bin/containerd",
    "/usr/sbin/dockerd", "/usr/bin/docker-init", "/usr/bin/conmon", "/bin/busybox",
    "/usr/local/lib/contraband/bin/runc",
}
UNSET = "4294967295"
# container-runtime plumbing: left out of the filtered copy; the shipped sample (samples/auditd.log.gz)
# is the full recording, plumbing included, because hunt follows it to attribute processes

PLUMBING = {
    "/usr/sbin/runc", "/usr/bin/containerd-shim-runc-v2", "/usr/bin/conmon", "/usr/sbin/dockerd",
    "/usr/bin/containerd", "/usr/local/lib/contraband/bin/runc",
}
MSG = re.compile(r"msg=audit\((\d+)\.(\d+):(\d+)\)")
FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')

def audit_filter(stage, ses, roots, t0, t1):
    with open(os.path.join(stage, "audit.raw"), "rb") as f:
        lines = f.read().split(b"\n")
    events = collections.OrderedDict()
    for line in lines:
        if not line:
            continue
        text = line.decode("utf-8", "replace")
        m = MSG.search(text)
        if not m:
            continue
        eid = m.group(3)
        raw = text.split("\x1d", 1)[0]  # enriched format: interpreted fields after GS
        fields = dict(FIELD.findall(raw))
        ev = events.setdefault(eid, {"lines": [], "types": set(), "f": {}})
        ev["lines"].append(line)
        ev["types"].add(fields.get("type", ""))
        for k in ("pid", "ppid", "ses", "key", "exe", "comm"):
            if k in fields and k not in ev["f"]:
                ev["f"][k] = fields[k].strip('"')
    pids = set(r for r in roots if r and r != "0")
    keep = set()
    changed = True
    while changed:
        changed = False
        for eid, ev in events.items():
            if eid in keep:
                continue
            f = ev["f"]
            why = (
                f.get("ses") == ses
                or f.get("key") in OUR_KEYS
                or "CONFIG_CHANGE" in ev["types"]
                or any(t.startswith("DAEMON_") for t in ev["types"])
                or f.get("pid") in pids
                or f.get("ppid") in pids
                or (f.get("exe") in RUNTIME_EXES and f.get("ses", UNSET) == UNSET)
            )
            if why:
                keep.add(eid)
                changed = True
                if f.get("ses", UNSET) == UNSET and f.get("pid"):
                    pids.add(f["pid"])
    out = [l for eid, ev in events.items() if eid in keep for l in ev["lines"]]
    with open(os.path.join(stage, "auditd-full.log"), "wb") as f:
        f.write(b"\n".join(out) + b"\n")

    def plumbing(ev):
        f = ev["f"]
        return "SYSCALL" in ev["types"] and (
            f.get("exe") in PLUMBING or (f.get("exe") == "/usr/bin/bash" and f.get("comm") == "runc"))
    small = [l for eid, ev in events.items() if eid in keep and not plumbing(ev) for l in ev["lines"]]
    with open(os.path.join(stage, "auditd.log"), "wb") as f:
        f.write(b"\n".join(small) + b"\n")
    dropped = collections.Counter(ev["f"].get("exe", ev["f"].get("comm", "?"))
                                  for eid, ev in events.items() if eid not in keep)
    kept_unset = collections.Counter(ev["f"].get("exe", "?") for eid, ev in events.items()
                                     if eid in keep and ev["f"].get("ses") != ses)
    print(f"auditd: kept {len(keep)} of {len(events)} events ({len(out)} records)")
    print(f"  dropped (other processes on this machine), by exe: {dropped.most_common(12)}")
    print(f"  kept outside our session (container side), by exe: {kept_unset.most_common(12)}")

def in_windows(ns, windows):
    return any(a <= ns <= b for a, b in windows)

def docker_filter(stage, manifest, t0, t1):
    build = [(m["start_ns"], m["end_ns"]) for m in manifest if m["name"] in ("build-demo", "cleanup")]
    ours_img = re.compile(r"(contraband/|127\.0\.0\.1:500[01]/|^sha256:)")
    kept, dropped, ids = [], collections.Counter(), set()
    rows = []
    with open(os.path.join(stage, "docker-events.raw")) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append((line, json.loads(line)))
    for line, e in rows:
        ns = e.get("timeNano", 0)
        attrs = (e.get("Actor") or {}).get("Attributes") or {}
        if not (t0 <= ns <= t1):
            dropped["outside window"] += 1
            continue
        typ = e.get("Type")
        ok = False
        if typ == "container":
            ok = attrs.get("name", "").startswith("cb-") or in_windows(ns, build)
            if ok:
                ids.add((e.get("Actor") or {}).get("ID"))
        elif typ == "image":
            ok = bool(ours_img.search((e.get("Actor") or {}).get("ID", "")) or
                      ours_img.search(attrs.get("name", ""))) or in_windows(ns, build)
        elif typ == "network":
            ok = attrs.get("container") in ids or in_windows(ns, build)
        else:
            ok = True
        if ok:
            kept.append(line)
        else:
            dropped[f"{typ} {attrs.get('name', '')}"] += 1
    # network connect precedes the container's start: second pass for those
    kept2 = []
    for line, e in rows:
        attrs = (e.get("Actor") or {}).get("Attributes") or {}
        if line in kept or (e.get("Type") == "network" and attrs.get("container") in ids
                            and t0 <= e.get("timeNano", 0) <= t1):
            kept2.append(line)
    with open(os.path.join(stage, "docker-events.jsonl"), "w") as f:
        f.write("\n".join(kept2) + "\n")
    print(f"docker events: kept {len(kept2)} of {len(rows)}; dropped {dict(dropped)}")

def rfc3339_ns(t):
    """2026-11-23T16:27:24.67734403Z -> ns since the epoch (UTC only, as podman writes it)."""
    import calendar
    import time
    base, _, frac = t.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1_000_000_000 + int((frac + "000000000")[:9])

def podman_filter(stage, pt0, pt1):
    kept, dropped = [], collections.Counter()
    ours = re.compile(r"(contraband/|127\.0\.0\.1:500[01]/)")
    n = 0
    with open(os.path.join(stage, "podman-events.raw")) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            n += 1
            e = json.loads(line)
            name, img = e.get("Name", ""), e.get("Image", "")
            if not (pt0 <= rfc3339_ns(e["Time"]) <= pt1):
                dropped["outside window"] += 1
                continue
            if e.get("Type") == "container":
                ok = name.startswith("cb-")
            elif e.get("Type") == "image":
                ok = bool(ours.search(name) or ours.search(img))
            else:
                ok = False
            if ok:
                kept.append(line)
            else:
                dropped[f"{e.get('Type')} {e.get('Status')} {name}"] += 1
    with open(os.path.join(stage, "podman-events.jsonl"), "w") as f:
        f.write("\n".join(kept) + "\n")
    print(f"podman events: kept {len(kept)} of {n}; dropped {dict(dropped)}")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", required=True)
    ap.add_argument("--ses", required=True)
    ap.add_argument("--t0", type=int, required=True)
    ap.add_argument("--t1", type=int, required=True)
    ap.add_argument("--pt0", type=int, required=True)
    ap.add_argument("--pt1", type=int, required=True)
    ap.add_argument("--roots", default="")
    a = ap.parse_args()
    manifest = json.load(open(os.path.join(a.stage, "manifest.json")))
    roots = a.roots.split()
    for m in manifest:
        roots += [m.get("host_pid", ""), m.get("parent_pid", "")]
    docker_filter(a.stage, manifest, a.t0, a.t1)
    podman_filter(a.stage, a.pt0, a.pt1)
    audit_filter(a.stage, a.ses, roots, a.t0, a.t1)

if __name__ == "__main__":
    sys.exit(main())
