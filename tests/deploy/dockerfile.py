"""A small Dockerfile reader, so the container smoke test follows the Dockerfile.

It reads instructions (joining ``\\`` continuations, skipping comments) into
stages, and resolves a stage's ``ENV`` (with ``$VAR`` expansion), ``WORKDIR``,
``USER``, ``EXPOSE``, ``VOLUME``, ``COPY``, ``RUN``, exec-form ``ENTRYPOINT``,
``CMD`` and ``HEALTHCHECK CMD``. Only what this project's Dockerfile uses.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, keyword: str) -> list[str]:
        return [arg for key, arg in self.instructions if key == keyword]

    def env(self, inherited: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(inherited or {})
        for arg in self.values("ENV"):
            for pair in shlex.split(arg):
                key, _, value = pair.partition("=")
                env[key] = _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)
        return env

    def exec_form(self, keyword: str) -> list[str]:
        values = self.values(keyword)
        if not values:
            return []
        parsed = json.loads(values[-1])
        if not (isinstance(parsed, list) and all(isinstance(p, str) for p in parsed)):
            raise ValueError(f"{keyword} is not in exec form")
        return parsed

    def healthcheck(self) -> list[str]:
        arg = self.values("HEALTHCHECK")[-1]
        _, _, command = arg.partition(" CMD ")
        parsed = json.loads(command.strip())
        assert isinstance(parsed, list)
        return [str(p) for p in parsed]

    def copies(self) -> list[tuple[list[str], str]]:
        """(sources, destination) of each ``COPY`` without ``--from``."""
        out = []
        for arg in self.values("COPY"):
            parts = shlex.split(arg)
            if any(p.startswith("--from") for p in parts):
                continue
            out.append(([p for p in parts[:-1] if not p.startswith("--")], parts[-1]))
        return out


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def parse_dockerfile(path: Path) -> dict[str, Stage]:
    """Stages by name (``AS`` name, else their index); the last one is under ``"final"``."""
    stages: dict[str, Stage] = {}
    stage: Stage | None = None
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, arg = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = arg.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(stages))
            stage = Stage(name=name, base=parts[0])
            stages[name] = stage
        elif stage is not None:
            stage.instructions.append((keyword, arg.strip()))
    if stage is None:
        raise ValueError(f"{path} has no FROM")
    stages["final"] = stage
    return stages


def inherited_env(stages: dict[str, Stage], stage: Stage) -> dict[str, str]:
    """The stage's ENV including its parent stages' (``FROM base AS x``)."""
    chain = []
    current: Stage | None = stage
    while current is not None:
        chain.append(current)
        current = stages.get(current.base)
    env: dict[str, str] = {}
    for item in reversed(chain):
        env = item.env(env)
    return env


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """One ``.dockerignore`` pattern as a regex over a relative posix path.

    As Docker (Go ``filepath.Match`` plus ``**``): ``*`` and ``?`` stay within
    one path element, ``**/`` is any number of leading directories (none too).
    """
    pattern = pattern.strip("/")
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _excluded(relpath: str, rules: list[tuple[re.Pattern[str], bool]]) -> bool:
    """The last rule matching the path or one of its parent directories decides."""
    parts = relpath.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for regex, negated in rules:
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def build_context(root: Path, dockerignore: Path) -> list[str]:
    """The files ``docker build`` would send from ``root``: every file ``.dockerignore``
    does not exclude (relative posix paths, sorted). Git, virtual environments and
    node_modules are skipped as never part of a sensible context."""
    rules = []
    for line in dockerignore.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((_ignore_regex(line.removeprefix("!").strip()), negated))
    skipped = {".git", ".venv", "node_modules"}
    files = []
    for path in root.rglob("*"):
        relpath = path.relative_to(root).as_posix()
        if skipped.intersection(relpath.split("/")) or not path.is_file():
            continue
        if not _excluded(relpath, rules):
            files.append(relpath)
    return sorted(files)
