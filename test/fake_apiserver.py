#!/usr/bin/env python3
"""A fake Kubernetes API server for flexplace's integration tests.

Python 3 standard library only.  Listens on 127.0.0.1 only, port 0 (or
--port).  Prints the API port on the first line of stdout and the control
port on the second, then serves until SIGTERM, a "shutdown" command, or
(with --exit-on-stdin-eof) stdin reaching EOF, so that it dies with the test
that spawned it.

API (what flexplace's informer and bind verb use):
  GET  /api/v1/nodes, /api/v1/pods, /api/v1/namespaces/NS/pods
       LIST: limit / continue pagination over one snapshot, metadata
       .resourceVersion, items without kind; fieldSelector (=, ==, != on
       dotted paths, comma = AND) and labelSelector (k=v, k!=v, k, !k).
       WATCH (?watch=1): chunked Transfer-Encoding, one JSON event + "\\n" per
       event, BOOKMARKs when allowWatchBookmarks=true, ends at timeoutSeconds.
       A watch with a selector turns an object that stops matching into
       DELETED and one that starts matching into ADDED, as the API server's
       watch cache does.
  GET  /api/v1/nodes/NAME, /api/v1/namespaces/NS/pods/NAME
  POST /apis/events.k8s.io/v1/namespaces/NS/events, /api/v1/namespaces/NS/events
       Records the Event (control "events") after the API server's create
       validation (events.k8s.io/v1: name, namespace, eventTime,
       reportingController a qualified name, reportingInstance/action/reason
       <= 128, note <= 1024, type Normal|Warning, regarding in the same
       namespace; core/v1: involvedObject in the same namespace, type);
       201, 422 Invalid, 409 AlreadyExists on a name taken.  Knob
       events_api "core": events.k8s.io/v1 answers 404 (an API server
       without it).
  POST /api/v1/namespaces/NS/pods/NAME/binding
       Records the binding; real semantics by default (201 and the pod gets
       spec.nodeName, 409 when already bound or the UID precondition fails,
       400 on a name mismatch) or scripted with bind_mode.

Objects are built from the real Node and Pod objects in
$FP_SHARED_DATA/kube-scheduler-captures/nodecache-false/filter-001.json when
that file exists, else from built-in synthetic objects of the same shape.

Control API: POST /_control on the control port (plain HTTP, loopback), body
{"cmd": NAME, ...}, reply {"ok": true, ...} or HTTP 400 {"ok": false,
"error": ...}.  Commands:
  add_node {name, gpus?, labels?, silent?}        modify_node {name, labels?,
  unschedulable?, gpus?, ready?, silent?}         delete_node {name, silent?}
  add_pod {name, ns?, node?, gpus?, phase?, uid?, silent?}
  modify_pod {name, ns?, node?, phase?, silent?}  delete_pod {name, ns?, silent?}
      (silent: change the object and the resourceVersion without a watch
      event, to model events a client missed)
  bookmark {kind}            BOOKMARK with the current resourceVersion
  expire {kind, mode}        compact history: watches from an older RV fail;
                             mode "event" (default): active watches get an
                             ERROR 410 event, new ones a 200 stream with it;
                             mode "http": active watches end, new ones get
                             HTTP 410
  error_event {kind, code, reason, message}   ERROR event, stream ends
  drop {kind}                active watches end cleanly (like timeoutSeconds);
                             kind "nodepools" too
  disconnect_midline {kind}  the next event is cut in half and the TCP
                             connection closed
  inject_raw {kind, line}    write a raw line to active watches
  inject_long {kind, bytes}  write a line of that many bytes
  set {...}                  knobs: chunk_size, chunk_delay_ms, list_delay_ms,
                             fail_lists, fail_watches, fail_status,
                             retry_after, expire_continue, bind_mode
                             (auto|conflict|error|timeout|commit_slow|
                             commit_drop|commit_headers), bind_delay_ms,
                             bind_fault_every, get_delay_ms
                             bind_mode: timeout waits bind_delay_ms, then
                             commits and answers (a late commit);
                             commit_slow commits at once and answers after
                             bind_delay_ms; commit_drop commits and closes the
                             connection without an answer; commit_headers
                             commits, sends the status line and headers,
                             and the body only after bind_delay_ms.  With
                             bind_fault_every N > 0 only every Nth binding
                             gets the mode (the others: auto); a list of
                             modes: the faulty bindings take them in turn.
                             get_delay_ms: a GET of one object waits that long;
                             bind_error_status / bind_error_reason: the
                             answer of bind_mode error (500 InternalError)
  set_token {token}          the bearer token required from now on
  bulk {nodes, pods}         synthetic objects served by LIST only
  stats                      request counters, active watches, bindings
  bindings                   recorded binding requests
  events                     recorded Events {api, ns, object}
  restart {phase: "down"}    the API port closes (connections refused) and
                             every API connection is cut (watches drop,
                             in-flight requests reset; a Binding not yet
                             committed never is); the state survives
  restart {phase: "up", rv_start}   the API port opens again with every
                             object's resourceVersion renumbered from
                             rv_start and no watch history: a watch from
                             an older RV gets HTTP 410 "too old resource
                             version", one from a newer RV waits
                             too_large_wait_ms (knob, 3000) and gets 504
                             Timeout "Too large resource version" (cause
                             ResourceVersionTooLarge), as a kube-apiserver
                             does after a restart onto a new etcd
  dump                       every pod {ns, name, uid, node, phase, gpus,
                             rv} and node {name, gpus, rv}
  set_nodepools {items}      serve these Karpenter NodePools at GET
                             /apis/karpenter.sh/v1/nodepools (LIST, and
                             WATCH: the difference from the last list as
                             ADDED / MODIFIED / DELETED events);
                             items null: the resource is absent (404), as
                             in a cluster without Karpenter (the default)
  shutdown
kind is "nodes", "pods" or "all".

--self-test checks these semantics against the fake itself and exits.
"""

import argparse
import bisect
import copy
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CAPTURE = "kube-scheduler-captures/nodecache-false/filter-001.json"
KINDS = ("nodes", "pods")
KIND_NAME = {"nodes": "Node", "pods": "Pod"}


def status_obj(code, reason, message, status="Failure"):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": status, "message": message, "reason": reason,
            "code": code}


# ---- object templates ---------------------------------------------------

def synthetic_node():
    return {
        "metadata": {"name": "gpu-node-1", "uid": str(uuid.uuid4()),
                     "resourceVersion": "1",
                     "creationTimestamp": "2026-01-01T00:00:00Z",
                     "labels": {"kubernetes.io/arch": "amd64",
                                "kubernetes.io/hostname": "gpu-node-1",
                                "kubernetes.io/os": "linux"}},
        "spec": {},
        "status": {
            "capacity": {"cpu": "8", "memory": "32Gi",
                         "nvidia.com/gpu": "4", "pods": "110"},
            "allocatable": {"cpu": "8", "memory": "32Gi",
                            "nvidia.com/gpu": "4", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True",
                            "reason": "FakeNode",
                            "message": "fake node, no kubelet"}],
        },
    }


def synthetic_pod():
    return {
        "metadata": {"name": "gpu-pod", "namespace": "default",
                     "uid": str(uuid.uuid4()), "resourceVersion": "1",
                     "labels": {"app": "gpu-test"}},
        "spec": {
            "containers": [{
                "name": "cuda", "image": "example.invalid/gpu-test",
                "resources": {
                    "limits": {"nvidia.com/gpu": "1"},
                    "requests": {"cpu": "100m", "memory": "64Mi",
                                 "nvidia.com/gpu": "1"}}}],
            "restartPolicy": "Always", "schedulerName": "default-scheduler",
            "priority": 0,
        },
        "status": {"phase": "Pending", "qosClass": "Burstable"},
    }


def load_templates(shared):
    """Real objects from the shared data when present, else synthetic."""
    nodes, pod = None, None
    if shared:
        path = os.path.join(shared, CAPTURE)
        try:
            with open(path, encoding="utf-8") as f:
                cap = json.load(f)
            nodes = [n for n in (cap.get("Nodes") or {}).get("items") or []]
            pod = cap.get("Pod")
        except (OSError, ValueError):
            nodes, pod = None, None
    source = "shared"
    if not nodes or not pod:
        source = "synthetic"
        base = synthetic_node()
        nodes = []
        for i, gpus in enumerate((4, 2, 8), start=1):
            n = copy.deepcopy(base)
            name = "gpu-node-%d" % i
            n["metadata"]["name"] = name
            n["metadata"]["labels"]["kubernetes.io/hostname"] = name
            for k in ("capacity", "allocatable"):
                n["status"][k]["nvidia.com/gpu"] = str(gpus)
            nodes.append(n)
        pod = synthetic_pod()
    for n in nodes:
        n.get("metadata", {}).pop("managedFields", None)
    pod = copy.deepcopy(pod)
    pod.get("metadata", {}).pop("managedFields", None)
    return nodes, pod, source


# ---- selectors ------------------------------------------------------------

def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(text):
    reqs = []
    for clause in filter(None, (text or "").split(",")):
        for op in ("!=", "==", "="):
            if op in clause:
                key, val = clause.split(op, 1)
                reqs.append((key.strip(), "!=" if op == "!=" else "=",
                             val.strip()))
                break
        else:
            raise ValueError("invalid field selector clause %r" % clause)
    return reqs


def parse_label_selector(text):
    reqs = []
    for clause in filter(None, (text or "").split(",")):
        clause = clause.strip()
        if "!=" in clause:
            k, v = clause.split("!=", 1)
            reqs.append((k, "!=", v))
        elif "==" in clause or "=" in clause:
            k, v = clause.split("==" if "==" in clause else "=", 1)
            reqs.append((k, "=", v))
        elif clause.startswith("!"):
            reqs.append((clause[1:], "!exists", None))
        else:
            reqs.append((clause, "exists", None))
    return reqs


class Selector:
    def __init__(self, field_text, label_text):
        self.fields = parse_field_selector(field_text)
        self.labels = parse_label_selector(label_text)

    def matches(self, obj):
        if obj is None:
            return False
        for key, op, val in self.fields:
            have = field_value(obj, key)
            if (op == "=") != (have == val):
                return False
        labels = (obj.get("metadata") or {}).get("labels") or {}
        for key, op, val in self.labels:
            if op == "exists" and key not in labels:
                return False
            if op == "!exists" and key in labels:
                return False
            if op == "=" and labels.get(key) != val:
                return False
            if op == "!=" and labels.get(key) == val:
                return False
        return True


# ---- state ------------------------------------------------------------------

class Entry:
    """One watch-log entry: an object event or a control action."""
    __slots__ = ("rv", "kind", "type", "obj", "prev", "data")

    def __init__(self, rv, kind, etype, obj=None, prev=None, data=None):
        self.rv, self.kind, self.type = rv, kind, etype
        self.obj, self.prev, self.data = obj, prev, data


class State:
    def __init__(self, args):
        self.cond = threading.Condition()
        self.rv = args.rv_start
        self.nodepools = None  # Karpenter absent until set_nodepools
        self.nodepool_events = []  # (rv, type, object) for NodePool watches
        self.nodepool_epoch = 0    # +1 when the resource goes away
        # a fresh server has no history before its first resourceVersion:
        # watches from older ones (a client that saw the previous server)
        # are too old, as after a real API server's restart
        self.min_rv = {k: args.rv_start for k in KINDS}
        self.expire_mode = {k: "event" for k in KINDS}
        self.objects = {"nodes": {}, "pods": {}}
        self.log = []       # Entry, rv non-decreasing
        self.log_rvs = []   # parallel list of rv for bisect
        self.continues = {}  # token -> dict
        self.bindings = []
        self.counters = {"list_nodes": 0, "list_pods": 0, "watch_nodes": 0,
                         "watch_pods": 0, "unauthorized": 0,
                         "continue_expired": 0, "requests": 0}
        self.active = {k: 0 for k in KINDS}
        self.knobs = {"chunk_size": 0, "chunk_delay_ms": 0.0,
                      "list_delay_ms": 0, "fail_lists": 0, "fail_watches": 0,
                      "fail_status": 500, "retry_after": None,
                      "expire_continue": 0, "bind_mode": "auto",
                      "bind_delay_ms": 0, "bind_fault_every": 0,
                      "get_delay_ms": 0, "too_large_wait_ms": 3000,
                      "bind_error_status": 500, "bind_error_reason": None,
                      "events_api": "v1"}
        self.events = []
        self.binding_seq = 0
        # restart: the API port closes and every API connection is cut
        # ("down"), then it reopens with renumbered resourceVersions ("up")
        self.epoch = 0          # +1 per restart: old handlers must not commit
        self.down = False
        self.conns = set()      # open API connections (sockets)
        self.api_server = None  # set by main()
        self.make_api_server = None
        self.token = None
        self.token_file = args.token_file
        self.bulk = {"nodes": 0, "pods": 0}
        self.last_paths = []
        self.node_tmpl_list, self.pod_tmpl, self.source = load_templates(
            args.shared_data)
        self.node_tmpl = self.node_tmpl_list[0]
        if not args.empty:
            for n in self.node_tmpl_list:
                self._put("nodes", n["metadata"]["name"], copy.deepcopy(n),
                          silent=True)
            names = [n["metadata"]["name"] for n in self.node_tmpl_list]
            self.add_pod({"name": "seed-a", "node": names[0], "gpus": 1,
                          "phase": "Running", "silent": True})
            self.add_pod({"name": "seed-b", "node": names[-1], "gpus": 2,
                          "phase": "Running", "silent": True})
            self.add_pod({"name": "seed-pending", "gpus": 1,
                          "phase": "Pending", "silent": True})

    # -- helpers (caller holds self.cond) --
    def expected_token(self):
        if self.token is not None:
            return self.token
        if self.token_file:
            try:
                with open(self.token_file, encoding="utf-8") as f:
                    return f.read().strip()
            except OSError:
                return "\0unreadable"
        return None

    def bump(self):
        self.rv += 1
        return self.rv

    def append(self, entry):
        self.log.append(entry)
        self.log_rvs.append(entry.rv)
        self.cond.notify_all()

    def _put(self, kind, key, obj, silent=False, etype=None):
        prev = self.objects[kind].get(key)
        rv = self.bump()
        obj["metadata"]["resourceVersion"] = str(rv)
        self.objects[kind][key] = obj
        if not silent:
            self.append(Entry(rv, kind, etype or ("MODIFIED" if prev else "ADDED"),
                              copy.deepcopy(obj), copy.deepcopy(prev)))
        return obj

    def _delete(self, kind, key, silent=False):
        prev = self.objects[kind].pop(key, None)
        if prev is None:
            raise KeyError("%s %s not found" % (kind, key))
        rv = self.bump()
        last = copy.deepcopy(prev)
        last["metadata"]["resourceVersion"] = str(rv)
        if not silent:
            self.append(Entry(rv, kind, "DELETED", last, copy.deepcopy(prev)))

    def marker(self, kind, etype, data=None):
        for k in (KINDS if kind == "all" else (kind,)):
            if k not in KINDS:
                raise ValueError("unknown kind %r" % kind)
            self.append(Entry(self.rv, k, etype, data=data))

    # -- object commands --
    def add_node(self, c):
        n = copy.deepcopy(self.node_tmpl)
        name = c["name"]
        n["metadata"]["name"] = name
        n["metadata"]["uid"] = str(uuid.uuid4())
        n["metadata"].setdefault("labels", {})["kubernetes.io/hostname"] = name
        n["metadata"]["labels"].update(c.get("labels") or {})
        if "gpus" in c:
            for k in ("capacity", "allocatable"):
                n["status"][k]["nvidia.com/gpu"] = str(c["gpus"])
        if name in self.objects["nodes"]:
            raise ValueError("node %s exists" % name)
        return self._put("nodes", name, n, c.get("silent", False))

    def modify_node(self, c):
        n = copy.deepcopy(self.objects["nodes"][c["name"]])
        labels = n["metadata"].setdefault("labels", {})
        for k, v in (c.get("labels") or {}).items():
            if v is None:
                labels.pop(k, None)
            else:
                labels[k] = v
        if "unschedulable" in c:
            if c["unschedulable"]:
                n["spec"]["unschedulable"] = True
            else:
                n["spec"].pop("unschedulable", None)
        if "gpus" in c:
            for k in ("capacity", "allocatable"):
                n["status"][k]["nvidia.com/gpu"] = str(c["gpus"])
        if "ready" in c:
            for cond in n["status"].get("conditions") or []:
                if cond.get("type") == "Ready":
                    cond["status"] = "True" if c["ready"] else "False"
        return self._put("nodes", c["name"], n, c.get("silent", False))

    def delete_node(self, c):
        self._delete("nodes", c["name"], c.get("silent", False))

    def add_pod(self, c):
        p = copy.deepcopy(self.pod_tmpl)
        ns = c.get("ns", "default")
        key = "%s/%s" % (ns, c["name"])
        if key in self.objects["pods"]:
            raise ValueError("pod %s exists" % key)
        p["metadata"].update({"name": c["name"], "namespace": ns,
                              "uid": c.get("uid") or str(uuid.uuid4())})
        gpus = str(c.get("gpus", 1))
        res = p["spec"]["containers"][0].setdefault("resources", {})
        res.setdefault("requests", {})["nvidia.com/gpu"] = gpus
        res.setdefault("limits", {})["nvidia.com/gpu"] = gpus
        if c.get("node"):
            p["spec"]["nodeName"] = c["node"]
        p.setdefault("status", {})["phase"] = c.get("phase", "Pending")
        return self._put("pods", key, p, c.get("silent", False))

    def modify_pod(self, c):
        key = "%s/%s" % (c.get("ns", "default"), c["name"])
        p = copy.deepcopy(self.objects["pods"][key])
        if "node" in c:
            if c["node"]:
                p["spec"]["nodeName"] = c["node"]
            else:
                p["spec"].pop("nodeName", None)
        if "phase" in c:
            p.setdefault("status", {})["phase"] = c["phase"]
        return self._put("pods", key, p, c.get("silent", False))

    def delete_pod(self, c):
        self._delete("pods", "%s/%s" % (c.get("ns", "default"), c["name"]),
                     c.get("silent", False))

    # -- bulk (virtual) objects, served by LIST only --
    def bulk_node(self, i):
        n = copy.deepcopy(self.node_tmpl)
        name = "bulk-node-%05d" % i
        n["metadata"].update({"name": name,
                              "uid": "10000000-0000-4000-8000-%012d" % i,
                              "resourceVersion": str(self.rv)})
        labels = n["metadata"].setdefault("labels", {})
        labels.update({"kubernetes.io/hostname": name,
                       "nvidia.com/gpu.product": "NVIDIA-L4",
                       "nvidia.com/gpu.memory": "23034",
                       "flexplace.io/pool": "bulk-%d" % (i % 10)})
        for k in ("capacity", "allocatable"):
            n["status"][k]["nvidia.com/gpu"] = "8"
        return n

    def bulk_pod(self, i):
        nodes = max(self.bulk["nodes"], 1)
        # pods go round-robin over the nodes; the first six rounds use a GPU,
        # so with 10 pods a node every bulk node has 6 of its 8 GPUs in use
        gpus = "1" if (i // nodes) < 6 else "0"
        return {
            "metadata": {"name": "bulk-pod-%06d" % i, "namespace": "bulk",
                         "uid": "20000000-0000-4000-8000-%012d" % i,
                         "resourceVersion": str(self.rv),
                         "ownerReferences": [{
                             "apiVersion": "apps/v1", "kind": "ReplicaSet",
                             "name": "bulk-rs-%d" % (i % 100),
                             "uid": "30000000-0000-4000-8000-%012d" % (i % 100),
                             "controller": True}]},
            "spec": {"nodeName": "bulk-node-%05d" % (i % nodes),
                     "containers": [{
                         "name": "main", "image": "example.invalid/infer",
                         "resources": {
                             "requests": {"cpu": "500m", "memory": "1Gi",
                                          "nvidia.com/gpu": gpus},
                             "limits": {"nvidia.com/gpu": gpus}}}]},
            "status": {"phase": "Running"},
        }


# ---- HTTP ---------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver/1"
    state = None      # set on the class
    control_only = False

    def log_message(self, fmt, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if not self.control_only and self.state is not None:
            with self.state.cond:
                self.state.conns.add(self.connection)
                self.epoch = self.state.epoch

    def finish(self):
        if not self.control_only and self.state is not None:
            with self.state.cond:
                self.state.conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def alive(self):
        """False once the server restarted after this connection opened
        (caller holds state.cond)."""
        return not self.state.down and self.state.epoch == self.epoch

    # -- replies --
    def send_json(self, code, obj, headers=None):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_status(self, code, reason, message, headers=None):
        self.send_json(code, status_obj(code, reason, message), headers)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 16 * 1024 * 1024:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    # -- dispatch --
    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        st = self.state
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        parts = [p for p in url.path.split("/") if p]
        if url.path == "/_control":
            return self.control(method)
        if self.control_only:
            return self.send_status(404, "NotFound", "control port")
        with st.cond:
            st.counters["requests"] += 1
            st.last_paths = (st.last_paths + [self.path])[-50:]
            want = st.expected_token()
        if want is not None:
            if self.headers.get("Authorization") != "Bearer " + want:
                with st.cond:
                    st.counters["unauthorized"] += 1
                return self.send_status(401, "Unauthorized", "Unauthorized")
        if (parts == ["apis", "karpenter.sh", "v1", "nodepools"] and method == "GET"
                and q.get("watch") in ("1", "true")):
            return self.watch_nodepools(q)
        if parts == ["apis", "karpenter.sh", "v1", "nodepools"] and method == "GET":
            with st.cond:
                st.counters["list_nodepools"] = st.counters.get("list_nodepools", 0) + 1
                items = st.nodepools
            if items is None:
                return self.send_status(404, "NotFound", "the server could not find the "
                                        "requested resource")
            return self.send_json(200, {"apiVersion": "karpenter.sh/v1", "kind": "NodePoolList",
                                        "metadata": {"resourceVersion": str(st.rv)},
                                        "items": items})
        if (method == "POST" and len(parts) == 6 and parts[:3] == ["apis", "events.k8s.io", "v1"]
                and parts[3] == "namespaces" and parts[5] == "events"):
            with st.cond:
                absent = st.knobs["events_api"] == "core"
            if absent:
                self.read_body()  # the connection stays usable (keep-alive)
                return self.send_status(404, "NotFound", "the server could not find the "
                                        "requested resource")
            return self.create_event("events.k8s.io/v1", parts[4])
        if (method == "POST" and len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"]
                and parts[4] == "events"):
            return self.create_event("v1", parts[3])
        # /api/v1/nodes, /api/v1/pods, /api/v1/namespaces/NS/pods[/NAME[/binding]]
        if parts[:2] != ["api", "v1"]:
            return self.send_status(404, "NotFound", "no such path")
        rest = parts[2:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns = rest[1]
            rest = rest[2:]
        if not rest or rest[0] not in KINDS or (ns and rest[0] != "pods"):
            return self.send_status(404, "NotFound", "no such resource")
        kind = rest[0]
        if method == "POST":
            if kind == "pods" and ns and len(rest) == 3 and rest[2] == "binding":
                return self.binding(ns, rest[1])
            return self.send_status(405, "MethodNotAllowed", "not supported")
        if len(rest) == 2:
            key = rest[1] if kind == "nodes" else "%s/%s" % (ns or "default",
                                                             rest[1])
            with st.cond:
                get_delay = st.knobs["get_delay_ms"]
            if get_delay:
                time.sleep(get_delay / 1000.0)
            with st.cond:
                obj = copy.deepcopy(st.objects[kind].get(key))
            if obj is None:
                return self.send_status(404, "NotFound", '%s "%s" not found'
                                        % (kind, rest[1]))
            obj["kind"], obj["apiVersion"] = KIND_NAME[kind], "v1"
            return self.send_json(200, obj)
        try:
            sel = Selector(q.get("fieldSelector"), q.get("labelSelector"))
        except ValueError as e:
            return self.send_status(400, "BadRequest", str(e))
        if q.get("watch") in ("1", "true"):
            return self.watch(kind, ns, sel, q)
        return self.list(kind, ns, sel, q)

    # -- LIST --
    def list(self, kind, ns, sel, q):
        st = self.state
        with st.cond:
            st.counters["list_" + kind] += 1
            delay = st.knobs["list_delay_ms"]
            fail = st.knobs["fail_lists"] > 0
            if fail:
                st.knobs["fail_lists"] -= 1
                code, ra = st.knobs["fail_status"], st.knobs["retry_after"]
        if delay:
            time.sleep(delay / 1000.0)
        if fail:
            hdr = {"Retry-After": str(ra)} if ra is not None else None
            return self.send_status(code, "TooManyRequests" if code == 429
                                    else "InternalError", "injected failure", hdr)
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            return self.send_status(400, "BadRequest", "invalid limit")
        token = q.get("continue")
        with st.cond:
            if token:
                snap = st.continues.get(token)
                if snap is None or snap["kind"] != kind:
                    return self.send_status(400, "BadRequest",
                                            "invalid continue token")
                if st.knobs["expire_continue"] > 0:
                    st.knobs["expire_continue"] -= 1
                    st.counters["continue_expired"] += 1
                    st.continues.pop(token, None)
                    return self.send_status(
                        410, "Expired",
                        "The provided continue parameter is too old to display "
                        "a consistent list result. You can start a new list "
                        "without the continue parameter.")
            else:
                real = [copy.deepcopy(o) for _, o in
                        sorted(st.objects[kind].items())
                        if (ns is None or o["metadata"].get("namespace") == ns)
                        and sel.matches(o)]
                snap = {"kind": kind, "real": real, "virtual": st.bulk[kind],
                        "rv": str(st.rv), "offset": 0}
            total = len(snap["real"]) + snap["virtual"]
            start = snap["offset"]
            end = total if limit <= 0 else min(total, start + limit)
            items = []
            for i in range(start, end):
                if i < len(snap["real"]):
                    items.append(snap["real"][i])
                elif kind == "nodes":
                    items.append(st.bulk_node(i - len(snap["real"])))
                else:
                    items.append(st.bulk_pod(i - len(snap["real"])))
            meta = {"resourceVersion": snap["rv"]}
            if end < total:
                new_token = uuid.uuid4().hex
                st.continues.pop(token, None)
                st.continues[new_token] = dict(snap, offset=end)
                meta["continue"] = new_token
                meta["remainingItemCount"] = total - end
            elif token:
                st.continues.pop(token, None)
        body = {"kind": KIND_NAME[kind] + "List", "apiVersion": "v1",
                "metadata": meta, "items": items}
        self.send_json(200, body)

    # -- WATCH --
    def write_chunk(self, data):
        if not data:
            return
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def write_event(self, data, knobs):
        size = knobs["chunk_size"]
        delay = knobs["chunk_delay_ms"] / 1000.0
        if size <= 0:
            self.write_chunk(data)
            return
        for i in range(0, len(data), size):
            self.write_chunk(data[i:i + size])
            if delay:
                time.sleep(delay)

    def event_line(self, etype, obj, kind):
        obj = dict(obj)
        obj["kind"], obj["apiVersion"] = KIND_NAME[kind], "v1"
        return json.dumps({"type": etype, "object": obj},
                          separators=(",", ":")).encode() + b"\n"

    def watch(self, kind, ns, sel, q):
        st = self.state
        try:
            start_rv = int(q.get("resourceVersion") or "0")
        except ValueError:
            return self.send_status(400, "BadRequest",
                                    "invalid resourceVersion %r"
                                    % q.get("resourceVersion"))
        try:
            timeout = float(q.get("timeoutSeconds") or 1800)
        except ValueError:
            timeout = 1800
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        with st.cond:
            st.counters["watch_" + kind] += 1
            fail = st.knobs["fail_watches"] > 0
            if fail:
                st.knobs["fail_watches"] -= 1
                code, ra = st.knobs["fail_status"], st.knobs["retry_after"]
            expired = start_rv < st.min_rv[kind]
            mode = st.expire_mode[kind]
            idx = bisect.bisect_right(st.log_rvs, start_rv)
        if fail:
            hdr = {"Retry-After": str(ra)} if ra is not None else None
            return self.send_status(code, "TooManyRequests" if code == 429
                                    else "InternalError", "injected failure", hdr)
        too_old = "too old resource version: %d (%d)" % (start_rv,
                                                         st.min_rv[kind])
        if expired and mode == "http":
            return self.send_status(410, "Expired", too_old)
        if self.too_large(start_rv):
            return None
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if expired:
            self.write_chunk(self.event_line(
                "ERROR", status_obj(410, "Expired", too_old), kind))
            self.wfile.write(b"0\r\n\r\n")
            return
        deadline = time.monotonic() + timeout
        with st.cond:
            st.active[kind] += 1
        try:
            self.watch_loop(kind, ns, sel, bookmarks, idx, deadline)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            with st.cond:
                st.active[kind] -= 1

    def too_large(self, start_rv):
        """A watch from a resourceVersion the server has not reached (a
        client of the server before a restart with lower RVs): like the
        API server's watch cache, wait a little for it, then answer 504
        Timeout "Too large resource version".  True when answered."""
        st = self.state
        with st.cond:
            end = time.monotonic() + st.knobs["too_large_wait_ms"] / 1000.0
            while start_rv > st.rv and time.monotonic() < end:
                st.cond.wait(max(0.0, min(end - time.monotonic(), 0.5)))
            if start_rv <= st.rv:
                return False
            current = st.rv
        body = status_obj(504, "Timeout",
                          "Too large resource version: %d, current: %d"
                          % (start_rv, current))
        body["details"] = {"causes": [{"reason": "ResourceVersionTooLarge",
                                       "message": "Too large resource version"}],
                           "retryAfterSeconds": 1}
        self.send_json(504, body, {"Retry-After": "1"})
        return True

    def watch_loop(self, kind, ns, sel, bookmarks, idx, deadline):
        st = self.state
        midline = False
        while True:
            with st.cond:
                while idx >= len(st.log) and self.alive():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    st.cond.wait(min(left, 0.5))
                if not self.alive():
                    raise ConnectionResetError("the server restarted")
                entries = st.log[idx:]
                idx = len(st.log)
                knobs = dict(st.knobs)
            if not entries and time.monotonic() >= deadline:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return
            for e in entries:
                if e.kind != kind:
                    continue
                if e.type == "DROP":
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
                if e.type == "MIDLINE":
                    midline = True
                    continue
                if e.type == "EXPIRE":
                    self.write_chunk(self.event_line(
                        "ERROR", status_obj(410, "Expired",
                                            "too old resource version"), kind))
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
                if e.type == "ERROR":
                    self.write_chunk(self.event_line("ERROR", e.data, kind))
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
                if e.type == "RAW":
                    self.write_event(e.data, knobs)
                    continue
                if e.type == "BOOKMARK":
                    if bookmarks:
                        self.write_event(self.event_line(
                            "BOOKMARK",
                            {"metadata": {"resourceVersion": str(e.rv)}},
                            kind), knobs)
                    continue
                line = self.translate(e, kind, ns, sel)
                if line is None:
                    continue
                if midline:
                    half = line[:max(1, len(line) // 2)]
                    self.write_chunk(half)
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    raise ConnectionResetError("midline disconnect")
                self.write_event(line, knobs)

    def translate(self, e, kind, ns, sel):
        """Apply the watch cache's selector rules to one object event."""
        def visible(o):
            return o is not None and sel.matches(o) and (
                ns is None or o["metadata"].get("namespace") == ns)
        now, before = visible(e.obj), visible(e.prev)
        if e.type == "ADDED":
            return self.event_line("ADDED", e.obj, kind) if now else None
        if e.type == "DELETED":
            return self.event_line("DELETED", e.obj, kind) if before else None
        if now and before:
            return self.event_line("MODIFIED", e.obj, kind)
        if now:
            return self.event_line("ADDED", e.obj, kind)
        if before:
            last = copy.deepcopy(e.prev)
            last["metadata"]["resourceVersion"] = str(e.rv)
            return self.event_line("DELETED", last, kind)
        return None

    # -- NodePools: LIST above, WATCH here --
    def watch_nodepools(self, q):
        st = self.state
        try:
            start_rv = int(q.get("resourceVersion") or "0")
            timeout = float(q.get("timeoutSeconds") or 1800)
        except ValueError:
            return self.send_status(400, "BadRequest", "invalid resourceVersion")
        with st.cond:
            st.counters["watch_nodepools"] = st.counters.get("watch_nodepools", 0) + 1
            absent = st.nodepools is None
        if absent:
            return self.send_status(404, "NotFound", "the server could not find the "
                                    "requested resource")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        deadline = time.monotonic() + timeout
        sent = start_rv
        epoch = st.nodepool_epoch
        try:
            while True:
                with st.cond:
                    while (st.nodepool_epoch == epoch and st.nodepools is not None
                           and not any(rv > sent for rv, _, _ in st.nodepool_events)):
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        st.cond.wait(min(left, 0.5))
                    gone = st.nodepools is None or st.nodepool_epoch != epoch
                    todo = [e for e in st.nodepool_events if e[0] > sent]
                for rv, etype, obj in todo:
                    line = json.dumps({"type": etype, "object": obj},
                                      separators=(",", ":")).encode() + b"\n"
                    self.write_chunk(line)
                    sent = rv
                if gone or time.monotonic() >= deadline:
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass
        return None

    # -- events --
    def event_problems(self, api, ns, ev):
        bad = []
        meta = ev.get("metadata") or {}
        if not meta.get("name"):
            bad.append("metadata.name: Required value")
        if meta.get("namespace") not in (None, "", ns):
            bad.append("metadata.namespace: does not match the request")
        if ev.get("type") not in ("Normal", "Warning"):
            bad.append("type: Unsupported value")
        if api == "events.k8s.io/v1":
            ctl = ev.get("reportingController") or ""
            if not ctl:
                bad.append("reportingController: Required value")
            elif not all(c.isalnum() or c in "-_./" for c in ctl) or len(ctl) > 316:
                bad.append("reportingController: Invalid value")
            if not ev.get("eventTime"):
                bad.append("eventTime: Required value")
            for key in ("reportingInstance", "action", "reason"):
                if not ev.get(key):
                    bad.append("%s: Required value" % key)
                elif len(ev[key]) > 128:
                    bad.append("%s: Too long" % key)
            if len((ev.get("note") or "").encode()) > 1024:
                bad.append("note: Too long: may not be longer than 1024")
            ref = ev.get("regarding") or {}
        else:
            ref = ev.get("involvedObject") or {}
        if ref.get("namespace") not in (None, "", ns):
            bad.append("regarding.namespace: does not match event.namespace")
        return bad

    def create_event(self, api, ns):
        st = self.state
        try:
            ev = json.loads(self.read_body() or b"null")
        except ValueError:
            return self.send_status(400, "BadRequest", "body is not JSON")
        if not isinstance(ev, dict):
            return self.send_status(400, "BadRequest", "body is not an object")
        bad = self.event_problems(api, ns, ev)
        if bad:
            return self.send_status(422, "Invalid", "Event is invalid: " + "; ".join(bad))
        name = ev["metadata"]["name"]
        with st.cond:
            if any(e["ns"] == ns and e["object"]["metadata"]["name"] == name
                   for e in st.events):
                taken = True
            else:
                taken = False
                st.events.append({"api": api, "ns": ns, "object": ev})
                st.counters["events"] = st.counters.get("events", 0) + 1
        if taken:
            return self.send_status(409, "AlreadyExists",
                                    'events "%s" already exists' % name)
        return self.send_json(201, ev)

    # -- binding --
    def binding(self, ns, name):
        st = self.state
        try:
            body = json.loads(self.read_body() or b"null")
        except ValueError as e:
            return self.send_status(400, "BadRequest", "invalid JSON: %s" % e)
        if not isinstance(body, dict):
            return self.send_status(400, "BadRequest", "body must be an object")
        meta = body.get("metadata") or {}
        target = body.get("target") or {}
        rec = {"ns": ns, "name": name, "uid": meta.get("uid"),
               "node": target.get("name"),
               "annotations": meta.get("annotations") or {}}
        with st.cond:
            mode = st.knobs["bind_mode"]
            delay = st.knobs["bind_delay_ms"]
            every = st.knobs["bind_fault_every"]
            st.binding_seq += 1
            if every and st.binding_seq % every:
                mode = "auto"
            elif isinstance(mode, list):  # the faulty ones take turns
                mode = mode[(st.binding_seq // max(every, 1)) % len(mode)]
            rec["mode"] = mode
        if mode == "timeout" and delay:
            time.sleep(delay / 1000.0)
        with st.cond:
            if not self.alive():
                # the server restarted while this request was in flight:
                # the old process would not have committed it
                self.close_connection = True
                return None
            st.bindings.append(rec)
            if mode == "conflict":
                rec["status"] = 409
                return self.send_status(409, "Conflict",
                                        "Operation cannot be fulfilled on "
                                        'pods/binding "%s": injected' % name)
            if mode == "error":
                code = int(st.knobs["bind_error_status"])
                rec["status"] = code
                return self.send_status(code, st.knobs["bind_error_reason"] or (
                    "InternalError" if code >= 500 else "BadRequest"),
                    "injected error")
            if meta.get("name") != name:
                rec["status"] = 400
                return self.send_status(400, "BadRequest",
                                        "name in URL does not match body")
            if not target.get("name") or target.get("kind") not in (None, "",
                                                                    "Node"):
                rec["status"] = 422
                return self.send_status(422, "Invalid",
                                        "target.name: Required value")
            key = "%s/%s" % (ns, name)
            pod = st.objects["pods"].get(key)
            if pod is None:
                rec["status"] = 404
                return self.send_status(404, "NotFound",
                                        'pods "%s" not found' % name)
            if meta.get("uid") and meta["uid"] != pod["metadata"].get("uid"):
                rec["status"] = 409
                return self.send_status(
                    409, "Conflict",
                    "Operation cannot be fulfilled on pods/binding \"%s\": "
                    "Precondition failed: UID in precondition: %s, UID in "
                    "object meta: %s" % (name, meta["uid"],
                                         pod["metadata"].get("uid")))
            if pod["spec"].get("nodeName"):
                rec["status"] = 409
                return self.send_status(
                    409, "Conflict",
                    "Operation cannot be fulfilled on pods/binding \"%s\": pod "
                    "%s is already assigned to node \"%s\""
                    % (name, name, pod["spec"]["nodeName"]))
            p = copy.deepcopy(pod)
            p["spec"]["nodeName"] = target["name"]
            ann = p["metadata"].setdefault("annotations", {})
            ann.update(rec["annotations"])
            p.setdefault("status", {}).setdefault("conditions", []).append(
                {"type": "PodScheduled", "status": "True"})
            st._put("pods", key, p)
            rec["status"] = 201
        if mode == "commit_drop":
            # committed, but the client never hears: the connection closes
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        if mode == "commit_slow" and delay:
            time.sleep(delay / 1000.0)
        if mode == "commit_headers":
            # committed and the status line sent; the body comes late
            body = json.dumps(status_obj(201, "", "", status="Success"),
                              separators=(",", ":")).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            time.sleep(delay / 1000.0)
            self.wfile.write(body)
            return None
        self.send_json(201, status_obj(201, "", "", status="Success"))

    # -- control --
    def control(self, method):
        if method != "POST":
            return self.send_json(405, {"ok": False, "error": "POST only"})
        try:
            c = json.loads(self.read_body() or b"{}")
            reply = dispatch(self.state, c)
        except (KeyError, ValueError, TypeError) as e:
            return self.send_json(400, {"ok": False, "error": "%s: %s" % (
                type(e).__name__, e)})
        reply["ok"] = True
        self.send_json(200, reply)
        if c.get("cmd") == "shutdown":
            threading.Thread(target=lambda: os._exit(0), daemon=True).start()


def restart(st, c):
    """restart {phase: down}: close the API port and cut every API
    connection; restart {phase: up, rv_start}: renumber every object's
    resourceVersion from rv_start, forget the watch history (a watch from an
    older RV gets 410, from a newer one 504 "Too large resource version")
    and open the API port again."""
    phase = c.get("phase")
    if phase == "down":
        with st.cond:
            if st.down:
                raise ValueError("already down")
            st.down = True
            st.epoch += 1
            conns = list(st.conns)
            st.cond.notify_all()
        st.api_server.shutdown()
        st.api_server.server_close()
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return {"cut": len(conns)}
    if phase == "up":
        rv = int(c["rv_start"])
        if rv < 1:
            raise ValueError("rv_start must be positive")
        with st.cond:
            if not st.down:
                raise ValueError("not down")
            for kind in KINDS:
                for key in sorted(st.objects[kind]):
                    rv += 1
                    st.objects[kind][key]["metadata"]["resourceVersion"] = str(rv)
            st.rv = rv
            st.log, st.log_rvs, st.continues = [], [], {}
            for kind in KINDS:
                st.min_rv[kind] = st.rv
                st.expire_mode[kind] = "http"
            st.down = False
        st.api_server = st.make_api_server()
        return {"rv": st.rv}
    raise ValueError("phase must be down or up")


def set_nodepools(st, items):
    """Install a NodePool list; watchers see ADDED / MODIFIED / DELETED for
    the difference (each object stamped with its resourceVersion).  None:
    the resource is gone (watches end, LIST and WATCH answer 404)."""
    old = {o["metadata"]["name"]: o for o in (st.nodepools or [])}
    if items is None:
        st.nodepools = None
        st.nodepool_events = []
        st.nodepool_epoch += 1
        st.cond.notify_all()
        return
    new = {}
    for o in items:
        o = copy.deepcopy(o)
        name = (o.get("metadata") or {}).get("name")
        if not name:
            raise ValueError("a NodePool needs metadata.name")
        new[name] = o
    for name, o in new.items():
        if name not in old or old[name] != o:
            rv = st.bump()
            stamped = copy.deepcopy(o)
            stamped.setdefault("metadata", {})["resourceVersion"] = str(rv)
            st.nodepool_events.append((rv, "MODIFIED" if name in old else "ADDED", stamped))
    for name, o in old.items():
        if name not in new:
            rv = st.bump()
            stamped = copy.deepcopy(o)
            stamped["metadata"]["resourceVersion"] = str(rv)
            st.nodepool_events.append((rv, "DELETED", stamped))
    st.nodepools = list(new.values())
    st.cond.notify_all()


def dump(st):
    """Every object's identity, node and GPUs (caller holds st.cond)."""
    pods = []
    for p in st.objects["pods"].values():
        res = p["spec"]["containers"][0].get("resources") or {}
        gpus = (res.get("requests") or {}).get("nvidia.com/gpu", "0")
        pods.append({"ns": p["metadata"].get("namespace"),
                     "name": p["metadata"]["name"],
                     "uid": p["metadata"].get("uid"),
                     "node": p["spec"].get("nodeName"),
                     "phase": (p.get("status") or {}).get("phase"),
                     "gpus": int(gpus),
                     "rv": p["metadata"].get("resourceVersion")})
    nodes = [{"name": n["metadata"]["name"],
              "gpus": int(n["status"]["allocatable"].get("nvidia.com/gpu", "0")),
              "rv": n["metadata"].get("resourceVersion")}
             for n in st.objects["nodes"].values()]
    return {"pods": pods, "nodes": nodes, "rv": st.rv}


def dispatch(st, c):
    cmd = c.get("cmd")
    kind = c.get("kind", "all")
    if cmd == "restart":
        return restart(st, c)
    with st.cond:
        if cmd == "dump":
            return dump(st)
        if cmd in ("add_node", "modify_node", "add_pod", "modify_pod"):
            obj = getattr(st, cmd)(c)
            return {"rv": st.rv, "uid": obj["metadata"].get("uid")}
        if cmd in ("delete_node", "delete_pod"):
            getattr(st, cmd)(c)
            return {"rv": st.rv}
        if cmd == "bookmark":
            st.bump()
            st.marker(kind, "BOOKMARK")
            return {"rv": st.rv}
        if cmd == "expire":
            mode = c.get("mode", "event")
            if mode not in ("event", "http"):
                raise ValueError("mode must be event or http")
            st.bump()
            for k in (KINDS if kind == "all" else (kind,)):
                st.min_rv[k] = st.rv
                st.expire_mode[k] = mode
            st.marker(kind, "EXPIRE" if mode == "event" else "DROP")
            return {"rv": st.rv}
        if cmd == "error_event":
            st.marker(kind, "ERROR", status_obj(
                int(c.get("code", 500)), c.get("reason", "InternalError"),
                c.get("message", "injected watch error")))
            return {}
        if cmd == "drop" and kind == "nodepools":
            st.nodepool_epoch += 1  # NodePool watches end cleanly
            st.cond.notify_all()
            return {}
        if cmd == "drop":
            st.marker(kind, "DROP")
            return {}
        if cmd == "disconnect_midline":
            st.marker(kind, "MIDLINE")
            return {}
        if cmd == "inject_raw":
            st.marker(kind, "RAW", c["line"].encode() + b"\n")
            return {}
        if cmd == "inject_long":
            n = int(c["bytes"])
            if n < 40 or n > 256 * 1024 * 1024:
                raise ValueError("bytes out of range")
            pad = n - len('{"type":"ADDED","object":{"x":""}}')
            line = b'{"type":"ADDED","object":{"x":"' + b"x" * pad + b'"}}'
            st.marker(kind, "RAW", line + b"\n")
            return {}
        if cmd == "set":
            for k, v in c.items():
                if k == "cmd":
                    continue
                if k not in st.knobs:
                    raise ValueError("unknown knob %r" % k)
                st.knobs[k] = v
            return {}
        if cmd == "set_token":
            st.token = c.get("token")
            return {}
        if cmd == "bulk":
            st.bulk["nodes"] = int(c.get("nodes", 0))
            st.bulk["pods"] = int(c.get("pods", 0))
            st.bump()
            return {"rv": st.rv}
        if cmd == "stats":
            return {"counters": dict(st.counters), "active": dict(st.active),
                    "rv": st.rv, "source": st.source,
                    "objects": {k: len(v) for k, v in st.objects.items()},
                    "bindings": len(st.bindings),
                    "last_paths": list(st.last_paths)}
        if cmd == "bindings":
            return {"bindings": list(st.bindings)}
        if cmd == "events":
            return {"events": list(st.events)}
        if cmd == "set_nodepools":
            items = c.get("items")
            if items is not None and not isinstance(items, list):
                raise ValueError("items must be a list or null")
            set_nodepools(st, items)
            return {}
        if cmd == "shutdown":
            return {}
    raise ValueError("unknown command %r" % cmd)


class TLSServer(ThreadingHTTPServer):
    """Handshakes in the connection's thread, not in accept()."""
    daemon_threads = True
    ssl_context = None

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass  # clients that vanish are part of the tests


def self_test(args):
    """Check the fake's own Kubernetes semantics (run by ctest)."""
    import http.client
    args.empty = False
    Handler.state = st = State(args)
    srv = TLSServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]

    def get(path):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()

    def post(path, body):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", path, json.dumps(body),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, json.loads(r.read())

    def check(cond, what):
        if not cond:
            raise AssertionError(what)

    sel = "fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed"
    code, body = get("/api/v1/nodes?limit=2")
    page = json.loads(body)
    check(code == 200 and len(page["items"]) == 2, "first page of 2")
    check("kind" not in page["items"][0], "list items carry no kind")
    check(page["metadata"]["remainingItemCount"] == 1, "remainingItemCount")
    rv = page["metadata"]["resourceVersion"]
    code, body = get("/api/v1/nodes?limit=2&continue=" +
                     page["metadata"]["continue"])
    last = json.loads(body)
    check(len(last["items"]) == 1 and "continue" not in last["metadata"],
          "last page")
    check(last["metadata"]["resourceVersion"] == rv, "one RV for all pages")

    with st.cond:
        dispatch(st, {"cmd": "set", "expire_continue": 1})
    code, body = get("/api/v1/nodes?limit=1")
    token = json.loads(body)["metadata"]["continue"]
    code, body = get("/api/v1/nodes?limit=1&continue=" + token)
    check(code == 410 and json.loads(body)["reason"] == "Expired",
          "expired continue -> 410")

    code, body = get("/api/v1/pods?" + sel)
    pods = json.loads(body)
    check(len(pods["items"]) == 3, "three seed pods")
    prv = pods["metadata"]["resourceVersion"]
    dispatch(st, {"cmd": "modify_pod", "name": "seed-a", "phase": "Succeeded"})
    dispatch(st, {"cmd": "bookmark", "kind": "pods"})
    code, body = get("/api/v1/pods?watch=1&timeoutSeconds=1&"
                     "allowWatchBookmarks=true&resourceVersion=%s&%s" % (prv, sel))
    events = [json.loads(x) for x in body.splitlines() if x]
    check([e["type"] for e in events] == ["DELETED", "BOOKMARK"],
          "a pod leaving the selector arrives as DELETED: %r"
          % [e["type"] for e in events])
    check(events[0]["object"]["status"]["phase"] == "Running",
          "DELETED carries the last matching state")

    dispatch(st, {"cmd": "expire", "kind": "pods", "mode": "http"})
    code, body = get("/api/v1/pods?watch=1&timeoutSeconds=1&resourceVersion="
                     + prv)
    check(code == 410, "watch from a compacted RV -> HTTP 410")

    uid = dispatch(st, {"cmd": "add_pod", "name": "b", "gpus": 1})["uid"]
    binding = {"apiVersion": "v1", "kind": "Binding",
               "metadata": {"name": "b", "namespace": "default", "uid": uid},
               "target": {"kind": "Node", "name": "gpu-node-1"}}
    path = "/api/v1/namespaces/default/pods/b/binding"
    code, reply = post(path, binding)
    check(code == 201 and reply["status"] == "Success", "bind -> 201")
    code, reply = post(path, binding)
    check(code == 409 and "already assigned" in reply["message"],
          "second bind -> 409")
    binding["metadata"]["name"] = "other"
    code, reply = post(path, binding)
    check(code == 400, "name mismatch -> 400")
    print("fake_apiserver self-test passed (objects from %s)" % st.source)
    srv.shutdown()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--client-ca",
                    help="require client certificates signed by this CA")
    ap.add_argument("--token-file",
                    help="require 'Authorization: Bearer <file contents>'")
    ap.add_argument("--shared-data", default=os.environ.get("FP_SHARED_DATA"))
    ap.add_argument("--rv-start", type=int, default=1000)
    ap.add_argument("--empty", action="store_true",
                    help="start without nodes and pods")
    ap.add_argument("--exit-on-stdin-eof", action="store_true",
                    help="exit when stdin closes (the spawning test died)")
    ap.add_argument("--self-test", action="store_true",
                    help="check the fake's own API semantics and exit")
    args = ap.parse_args()
    if args.self_test:
        try:
            sys.exit(self_test(args))
        except AssertionError as e:
            print("fake_apiserver self-test FAILED: %s" % e, file=sys.stderr)
            sys.exit(1)

    st = Handler.state = State(args)
    api = TLSServer(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        api.ssl_context = ctx

        class TLSHandler(Handler):
            def setup(self):
                self.request.settimeout(10)
                try:
                    self.request.do_handshake()
                finally:
                    self.request.settimeout(None)
                super().setup()
        api.RequestHandlerClass = TLSHandler
    port = api.server_address[1]

    def reopen():
        """The API port again, as before (restart phase up)."""
        srv = TLSServer(("127.0.0.1", port), api.RequestHandlerClass)
        srv.ssl_context = api.ssl_context
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv
    st.api_server, st.make_api_server = api, reopen

    class ControlHandler(Handler):
        control_only = True
    control = TLSServer(("127.0.0.1", 0), ControlHandler)

    for srv in (api, control):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(api.server_address[1], flush=True)
    print(control.server_address[1], flush=True)

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.exit_on_stdin_eof:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        os._exit(0)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
