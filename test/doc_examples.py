#!/usr/bin/env python3
"""Run every shell example the docs show, against the built binary.

Also checks that every relative link of the docs (and its #anchor) resolves.

Usage: doc_examples.py --source DIR --build DIR [--list]

Every Markdown file of the source tree (build folders and .git aside) is
read.  A fenced block tagged `sh`, `bash`, `shell` or `console` is a shell
example, and is run unless it is marked as not run.  A block with no tag
whose first line starts with "$ " is an error (tag it `console`), so an
example cannot escape the test by its formatting.

  ```sh        the block is one bash script (set -euo pipefail); it must
               exit 0.  Nothing it prints is compared.
  ```console   "$ COMMAND" lines (a line ending in "\\", or with a quote
               still open, continues on the next); the lines up to the next
               "$ " are the output shown, compared with what the command
               prints (stdout and stderr together).  A line
               "..." in the shown output stands for any number of lines.
               A command with no output shown is run, its output ignored.

A marker on the line before the fence changes how a block runs:

  <!-- doc-test: skip: REASON -->   not run (needs a cluster, a network, a
                                    container engine, ...); the reason is
                                    required and printed with the count.
                                    The whole marker is the reason.
  <!-- doc-test: exit=N -->         the block's last command exits N (the
                                    others 0).
  <!-- doc-test: files=DIR -->      DIR's files (repository-relative) are
                                    copied into the working folder first.
  <!-- doc-test: server=ARGS -->    `flexplace serve ARGS` runs on a free
                                    loopback port while the block runs;
                                    "localhost:8888" in the block means it.
  <!-- doc-test: serves -->         the block's one command is a server: it
                                    runs on a free port (every "8888" in it
                                    is rewritten) until /readyz answers 200,
                                    then gets SIGTERM and must exit 0.
  <!-- doc-test: docker -->         `docker run [--rm -i -t -p X] IMAGE
                                    [ARGS]` runs what the image would: the
                                    Dockerfile's ENTRYPOINT, then ARGS or
                                    its CMD, with the built binary.
  <!-- doc-test: continues -->      runs in the folder of the block before
                                    it in the same file (files it made).
  <!-- doc-test: json-subset -->    the output shown is part of the JSON
                                    printed: every key shown must be there
                                    with that value, arrays in order (a
                                    subsequence), "..." matches any value and
                                    a number matches to the digits shown.

  <!-- doc-test: flags=COMMAND -->  before a table: its first column lists
                                    exactly the long options of `flexplace
                                    COMMAND --help`; before a usage synopsis
                                    (an untagged block): every option it
                                    names is one of them.
  <!-- doc-test: metrics -->        before a table: every metric family that
                                    `flexplace serve --demo` exports is in
                                    its first column.

Directives combine with ";".  Each block runs in a fresh folder holding
links to the repository's top-level entries and a build/ holding only the
built binary, which is first on PATH, so `./build/flexplace`, `flexplace`
and paths such as manifests/... resolve.  KUBECONFIG and
KUBERNETES_SERVICE_HOST are unset, HOME is a fresh folder, and a command
still running after COMMAND_TIMEOUT seconds is killed with its process
group, so an example cannot touch the tree under test or a real cluster.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SHELL_TAGS = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(.*?)\s*-->\s*$")
COMMAND_TIMEOUT = 120
SERVER_READY_TIMEOUT = 30


class DocError(Exception):
    pass


class Block:
    def __init__(self, path, line, tag, lines, marker):
        self.path = path  # relative to the source folder
        self.line = line  # 1-based line of the opening fence
        self.tag = tag
        self.lines = lines
        self.directives = parse_directives(marker, f"{path}:{line}") if marker else {}

    def where(self):
        return f"{self.path}:{self.line}"


def parse_directives(text, where):
    if text.startswith("skip"):
        reason = text[4:].lstrip(" :").strip()
        if not reason:
            raise DocError(f"{where}: 'skip' needs a reason (skip: WHY)")
        return {"skip": reason}
    out = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        if "=" in part:
            key, value = (s.strip() for s in part.split("=", 1))
            if key not in ("exit", "files", "server", "flags"):
                raise DocError(f"{where}: unknown doc-test directive {key!r}")
            out[key] = value
        elif part in ("serves", "docker", "json-subset", "continues", "metrics"):
            out[part] = True
        else:
            raise DocError(f"{where}: unknown doc-test directive {part!r}")
    return out


def doc_files(source):
    for root, dirs, files in os.walk(source):
        rel = os.path.relpath(root, source)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(("build", "."))
            and os.path.normpath(os.path.join(rel, d)) not in ("test/fuzz/corpus", "test/fuzz/regressions")
        )
        for f in sorted(files):
            if f.endswith(".md"):
                yield os.path.normpath(os.path.join(rel, f))


def blocks_of(source, rel):
    """The fenced blocks of one Markdown file that are shell examples."""
    text = open(os.path.join(source, rel), encoding="utf-8").read().split("\n")
    i = 0
    prev = ""  # the last non-blank line before the current one
    while i < len(text):
        m = FENCE.match(text[i])
        if not m and text[i].lstrip().startswith("|") and MARKER.match(prev):
            start, rows = i, []
            while i < len(text) and text[i].lstrip().startswith("|"):
                rows.append(text[i].strip())
                i += 1
            yield usage_block(rel, start + 1, "table", rows, MARKER.match(prev).group(1))
            prev = ""
            continue
        if not m:
            if text[i].strip():
                prev = text[i]
            i += 1
            continue
        indent, fence, tag = len(m.group(1)), m.group(2), m.group(3)
        start = i
        body = []
        i += 1
        while i < len(text) and not (
            text[i].strip().startswith(fence[0] * len(fence)) and not text[i].strip().strip(fence[0])
        ):
            line = text[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            i += 1
        i += 1  # the closing fence
        marker = MARKER.match(prev)
        prev = ""
        first = next((b for b in body if b.strip()), "")
        if tag in SHELL_TAGS:
            yield Block(rel, start + 1, tag, body, marker.group(1) if marker else None)
        elif tag == "" and first.startswith("$ "):
            raise DocError(f"{rel}:{start + 1}: a block with '$ ' prompts must be tagged console")
        elif marker:
            yield usage_block(rel, start + 1, "usage", body, marker.group(1))


def usage_block(rel, line, kind, lines, marker):
    """A flags table or a usage synopsis, checked against --help."""
    b = Block(rel, line, kind, lines, marker)
    if set(b.directives) not in ({"flags"}, {"metrics"}) or ("metrics" in b.directives and kind != "table"):
        raise DocError(
            f"{b.where()}: only 'flags=COMMAND' (or 'metrics' on a table) marks a table or a block "
            "that is not a shell example"
        )
    return b


def check_metrics(env, block):
    """Every metric family `serve --demo` exports is in the table's first column."""
    shown = set()
    for row in block.lines[2:]:
        shown |= set(re.findall(r"`([a-z_][a-z0-9_]*)`", row.strip("|").split("|")[0]))
    cwd = env.workdir(block)
    port = free_port()
    server = Server(f"flexplace serve --demo --listen=127.0.0.1:{port}", port, cwd, env.environ(cwd), block.where())
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode("utf-8", "replace")
    finally:
        server.stop()
    served = {line.split()[2] for line in text.split("\n") if line.startswith("# TYPE ")}
    if not served:
        raise DocError(f"{block.where()}: /metrics listed no metric family")
    missing = served - shown
    if missing:
        raise DocError(f"{block.where()}: metrics served but not in the table: {', '.join(sorted(missing))}")
    return len(served)


LONG_OPTION = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
SHORT_OPTION = re.compile(r"(?<![\w-])-([a-zA-Z])(?![\w-])")


def check_flags(env, block):
    """The long options a table or synopsis shows against COMMAND --help:
    a table lists exactly the command's options, a synopsis only real ones."""
    command = block.directives["flags"].split()
    p = subprocess.run([env.binary, *command, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    helped, short = set(), set()
    for line in p.stdout.decode("utf-8", "replace").split("\n"):
        m = re.match(r"^\s+(?:-(\w), )?--([a-z][a-z0-9-]*)", line)
        if m:
            helped.add(m.group(2))
            short.add(m.group(1))
    helped -= {"help", "help-all"}
    helped_short = {"-" + s for s in short if s}
    if p.returncode != 0 or not helped:
        raise DocError(f"{block.where()}: 'flexplace {' '.join(command)} --help' listed no options")
    if block.tag == "table":
        text = "\n".join(row.strip("|").split("|")[0] for row in block.lines[2:])
    else:
        text = "\n".join(block.lines)
    shown = set(LONG_OPTION.findall(text))
    shown_short = {"-" + s for s in SHORT_OPTION.findall(text)}
    unknown = {"--" + f for f in shown - helped} | (shown_short - helped_short)
    missing = helped - shown if block.tag == "table" else set()
    if unknown or missing:
        raise DocError(
            f"{block.where()}: the options shown differ from 'flexplace {' '.join(command)} --help': "
            + "; ".join(
                s
                for s in (
                    f"not options of the command: {', '.join(sorted(unknown))}" if unknown else "",
                    f"options the table lacks: {', '.join('--' + f for f in sorted(missing))}" if missing else "",
                )
                if s
            )
        )
    return len(shown) + len(shown_short)


# ---- links -----------------------------------------------------------------


def heading_anchors(path):
    """GitHub's anchors of a Markdown file's headings (fenced blocks aside)."""
    out, fence = set(), None
    for line in open(path, encoding="utf-8"):
        m = FENCE.match(line)
        if m:
            fence = None if fence and line.strip().startswith(fence) else (fence or m.group(2))
            continue
        h = re.match(r"#{1,6} (.*)", line) if not fence else None
        if h:
            out.add(re.sub(r"[^\w\- ]", "", h.group(1).strip().lower()).replace(" ", "-"))
    return out


def check_links(source, files):
    """Relative links and their #anchors resolve; the list of problems and the count checked."""
    problems, n = [], 0
    for rel in files:
        text, fence = [], None
        for line in open(os.path.join(source, rel), encoding="utf-8"):
            m = FENCE.match(line)
            if m:
                fence = None if fence and line.strip().startswith(fence) else (fence or m.group(2))
            elif not fence:
                text.append(line)
        for link in re.findall(r"\]\(([^)\s]+)\)", "".join(text)):
            if re.match(r"[a-z]+:", link):
                continue
            n += 1
            target, _, anchor = link.partition("#")
            path = os.path.normpath(os.path.join(source, os.path.dirname(rel), target)) if target else os.path.join(source, rel)
            if not os.path.exists(path):
                problems.append(f"{rel}: link to a missing file: {link}")
            elif anchor and path.endswith(".md") and anchor not in heading_anchors(path):
                problems.append(f"{rel}: link to a missing heading: {link}")
    return problems, n


# ---- console blocks ---------------------------------------------------------


def console_steps(block):
    """[(command, shown output lines)] of a console block."""
    steps = []
    lines = list(block.lines)
    while lines and not lines[-1].strip():
        lines.pop()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise DocError(f"{block.where()}: output before the first '$ ' command")
        cmd = lines[i][2:]
        while (cmd.endswith("\\") or not quotes_closed(cmd)) and i + 1 < len(lines):
            i += 1
            cmd += "\n" + lines[i]
        i += 1
        out = []
        while i < len(lines) and not lines[i].startswith("$ "):
            out.append(lines[i])
            i += 1
        steps.append((cmd, out))
    return steps


def quotes_closed(cmd):
    """Whether @cmd's quotes are balanced (a quoted argument may span lines)."""
    try:
        shlex.split(cmd, comments=True)
        return True
    except ValueError:
        return False


def lines_match(shown, actual):
    """Shown lines against actual ones; a "..." line matches any run."""
    shown = [s.rstrip() for s in shown]
    actual = [a.rstrip() for a in actual]
    while shown and not shown[-1]:
        shown.pop()
    while actual and not actual[-1]:
        actual.pop()

    memo = {}

    def m(i, j):
        if (i, j) in memo:
            return memo[(i, j)]
        if i == len(shown):
            r = j == len(actual)
        elif shown[i] == "...":
            r = any(m(i + 1, k) for k in range(j, len(actual) + 1))
        else:
            r = j < len(actual) and shown[i] == actual[j] and m(i + 1, j + 1)
        memo[(i, j)] = r
        return r

    return m(0, 0)


def json_subset(shown, actual, path="$"):
    """None when @shown is part of @actual, else where they differ."""
    if shown == "...":
        return None
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return f"{path}: an object was shown, got {json.dumps(actual)[:80]}"
        for k, v in shown.items():
            if k not in actual:
                return f"{path}: no key {k!r}"
            d = json_subset(v, actual[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(shown, list):
        if not isinstance(actual, list):
            return f"{path}: an array was shown, got {json.dumps(actual)[:80]}"
        j = 0
        for n, v in enumerate(shown):
            first = j
            while j < len(actual) and json_subset(v, actual[j], f"{path}[{j}]"):
                j += 1
            if j == len(actual):
                why = json_subset(v, actual[first], f"{path}[{first}]") if first < len(actual) else "the array ends"
                return f"{path}: element {n} shown is not in the array, in order ({why})"
            j += 1
        return None
    if isinstance(shown, bool) or shown is None or isinstance(shown, str):
        return None if shown == actual else f"{path}: shown {json.dumps(shown)}, got {json.dumps(actual)}"
    if isinstance(shown, (int, float)):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return f"{path}: shown {shown}, got {json.dumps(actual)}"
        return None if abs(actual - shown) <= shown_precision(shown) else f"{path}: shown {shown}, got {actual}"
    return f"{path}: cannot compare {shown!r}"


def shown_precision(x):
    text = repr(x)
    if "." not in text or "e" in text:
        return 0
    return 0.5 * 10 ** -len(text.split(".")[1])


# ---- running ---------------------------------------------------------------


class Env:
    def __init__(self, source, build):
        self.source = os.path.abspath(source)
        self.build = os.path.abspath(build)
        self.binary = os.path.join(self.build, "flexplace")
        if not os.access(self.binary, os.X_OK):
            raise DocError(f"no flexplace binary at {self.binary}")
        self.entrypoint, self.cmd = dockerfile_command(os.path.join(self.source, "Dockerfile"))
        self.dirs = []  # every work folder, removed at the end
        self.last_dir = self.last_file = None

    def cleanup(self):
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)

    def workdir(self, block):
        if block.directives.get("continues"):
            if self.last_dir is None or self.last_file != block.path:
                raise DocError(f"{block.where()}: 'continues' needs an earlier block run in the same file")
            return self.last_dir
        d = tempfile.mkdtemp(prefix="fp-doc-")
        self.dirs.append(d)
        self.last_dir, self.last_file = d, block.path
        for name in os.listdir(self.source):
            if not name.startswith(".") and not name.startswith("build"):
                os.symlink(os.path.join(self.source, name), os.path.join(d, name))
        # Not the build folder itself: an example that runs cmake or writes
        # into build/ must not touch the tree under test.
        os.mkdir(os.path.join(d, "build"))
        os.symlink(self.binary, os.path.join(d, "build", "flexplace"))
        os.mkdir(os.path.join(d, "home"))
        if "files" in block.directives:
            src = os.path.join(self.source, block.directives["files"])
            if not os.path.isdir(src):
                raise DocError(f"{block.where()}: files={block.directives['files']} is not a folder")
            for f in os.listdir(src):
                dst = os.path.join(d, f)
                if os.path.lexists(dst):
                    os.unlink(dst)
                shutil.copy(os.path.join(src, f), dst)
        return d

    def environ(self, cwd):
        e = dict(os.environ)
        for k in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
            e.pop(k, None)
        # No ~/.kube/config, no ~/.docker: nothing an example runs reaches a
        # real cluster or registry.
        e["HOME"] = os.path.join(cwd, "home")
        e["PATH"] = os.path.join(cwd, "build") + os.pathsep + e.get("PATH", "/usr/bin:/bin")
        e.setdefault("LANG", "C.UTF-8")
        return e


def dockerfile_command(path):
    """ENTRYPOINT and CMD (JSON form) of the Dockerfile's last stage."""
    entry, cmd = None, None
    if not os.path.exists(path):
        return None, None
    for line in open(path, encoding="utf-8"):
        words = line.strip().split(None, 1)
        if not words:
            continue
        op = words[0].upper()
        if op == "FROM":
            entry, cmd = None, None
        elif op in ("ENTRYPOINT", "CMD"):
            value = json.loads(words[1])
            if op == "ENTRYPOINT":
                entry = value
            else:
                cmd = value
    return entry, cmd


DOCKER_RUN = re.compile(
    r"docker run((?:\s+(?:--rm|-i|-t|-it|-ti|--init|(?:-p|--publish)\s+\S+|--publish=\S+|--read-only))*)\s+(\S+)(.*)",
    re.S,
)


def docker_to_local(env, cmd, where):
    """`docker run ... IMAGE ARGS` -> the image's ENTRYPOINT + (ARGS or CMD)."""
    m = DOCKER_RUN.search(cmd)
    if not m:
        raise DocError(f"{where}: a docker block needs 'docker run [--rm -i -t -p X] IMAGE ...': {cmd}")
    if env.entrypoint is None:
        raise DocError(f"{where}: the Dockerfile has no JSON-form ENTRYPOINT")
    rest = m.group(3)
    args_end = re.search(r"\s[<>|&;]|\s\d?>|$", rest)
    args, tail = rest[: args_end.start()], rest[args_end.start():]
    words = env.entrypoint + (args.split() if args.strip() else (env.cmd or []))
    local = " ".join(shell_quote(w) for w in words)
    return cmd[: m.start()] + local + tail


def shell_quote(word):
    return word if re.fullmatch(r"[\w@%+=:,./-]+", word) else "'" + word.replace("'", "'\\''") + "'"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, cwd, env, where):
    """Exit status and output (stdout and stderr together) of one command."""
    with subprocess.Popen(
        ["bash", "-c", cmd], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,
    ) as p:
        try:
            out, _ = p.communicate(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise DocError(f"{where}: still running after {COMMAND_TIMEOUT} s (mark it skip?): {cmd}")
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # anything it left in the background
            except ProcessLookupError:
                pass
    return p.returncode, out.decode("utf-8", "replace")


class Server:
    """A server command in its own process group, until /readyz says 200."""

    def __init__(self, cmd, port, cwd, env, where):
        self.where = where
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            ["bash", "-c", "exec " + cmd], cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + SERVER_READY_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise DocError(f"{where}: the server exited {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise DocError(f"{where}: the server was not ready within {SERVER_READY_TIMEOUT} s")
            time.sleep(0.1)

    def output(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self):
        """SIGTERM; the exit status."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


def run_block(env, block):
    """Run one block; raises DocError on a mismatch.  Returns (commands,
    outputs compared, a note for the report)."""
    d = block.directives
    if "metrics" in d:
        return 0, 0, f"{check_metrics(env, block)} metric families served, each in the table"
    if block.tag in ("table", "usage"):
        return 0, 0, f"{check_flags(env, block)} option(s) checked against --help"
    cwd = env.workdir(block)
    server = None
    try:
        commands = console_steps(block) if block.tag == "console" else [("\n".join(block.lines), None)]
        if d.get("docker"):
            commands = [(docker_to_local(env, c, block.where()), o) for c, o in commands]
        if d.get("serves"):
            if len(commands) != 1:
                raise DocError(f"{block.where()}: 'serves' takes a block of one command")
            port = free_port()
            cmd = commands[0][0].replace("8888", str(port))
            s = Server(cmd, port, cwd, env.environ(cwd), block.where())
            code = s.stop()
            if code != 0:
                raise DocError(f"{block.where()}: the server exited {code} on SIGTERM:\n{s.output()}")
            return 1, 0, "1 server, ready, then stopped"
        if "server" in d:
            port = free_port()
            server = Server(
                f"flexplace serve {d['server']} --listen=127.0.0.1:{port}", port, cwd, env.environ(cwd), block.where()
            )
            commands = [(c.replace("localhost:8888", f"127.0.0.1:{port}"), o) for c, o in commands]
        want_exit = int(d.get("exit", 0))
        compared = 0
        for n, (cmd, shown) in enumerate(commands):
            script = cmd if block.tag == "console" else "set -euo pipefail\n" + cmd
            code, out = run(script, cwd, env.environ(cwd), block.where())
            want = want_exit if n == len(commands) - 1 else 0
            if code != want:
                raise DocError(f"{block.where()}: exit status {code}, want {want}: {cmd}\n{out}")
            if shown and any(s.strip() for s in shown):
                compared += 1
                compare(block, cmd, shown, out)
        if server:
            code = server.stop()
            if code != 0:
                raise DocError(f"{block.where()}: the server exited {code} on SIGTERM:\n{server.output()}")
            server = None
        return len(commands), compared, f"{len(commands)} command(s), {compared} output(s) compared"
    finally:
        if server:
            server.stop()


def compare(block, cmd, shown, out):
    if block.directives.get("json-subset"):
        text = "\n".join(shown)
        try:
            want = json.loads(re.sub(r"(?<![\w\"])\.\.\.(?![\w\"])", '"..."', text))
        except ValueError as e:
            raise DocError(f"{block.where()}: the JSON shown does not parse: {e}")
        try:
            got = json.loads(out)
        except ValueError as e:
            raise DocError(f"{block.where()}: the command did not print JSON ({e}): {cmd}\n{out}")
        diff = json_subset(want, got)
        if diff:
            raise DocError(f"{block.where()}: the JSON shown is not what {cmd!r} prints: {diff}")
        return
    if not lines_match(shown, out.split("\n")):
        import difflib

        d = "\n".join(difflib.unified_diff(shown, out.rstrip("\n").split("\n"), "shown", "printed", lineterm=""))
        raise DocError(f"{block.where()}: the output shown differs from what {cmd!r} prints:\n{d}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--list", action="store_true", help="list the examples, run nothing")
    a = ap.parse_args()
    try:
        env = Env(a.source, a.build)
        files = list(doc_files(env.source))
        blocks = [b for f in files for b in blocks_of(env.source, f)]
    except DocError as e:
        print(f"FAIL: {e}")
        return 1
    ran = commands = compared = 0
    skipped, failed = [], []
    link_problems, links = check_links(env.source, files)
    for p in link_problems:
        print(f"FAIL {p}")
    failed += link_problems
    for b in blocks:
        if "skip" in b.directives:
            skipped.append(b)
            continue
        if a.list:
            print(f"run  {b.where()} ({b.tag})")
            continue
        try:
            c, k, note = run_block(env, b)
            ran += 1
            commands += c
            compared += k
            print(f"ok   {b.where()}: {note}")
        except DocError as e:
            failed.append(b)
            print(f"FAIL {e}")
    env.cleanup()
    for b in skipped:
        print(f"skip {b.where()}: {b.directives['skip']}")
    print(
        f"doc examples: {ran} block(s) run ({commands} command(s), {compared} output(s) compared), "
        f"{len(skipped)} not run (each with its reason above), {links} link(s) checked, {len(failed)} failed"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
