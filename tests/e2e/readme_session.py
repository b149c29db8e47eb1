"""README's console sessions, read and run as a newcomer would (issue 16): every ```console block,
command by command, in one bash session (so `ID=...` carries over), against a fresh service, and
what README shows under a command compared with what it printed.

What README shows is compared by the fields that matter, not byte for byte:

- `"key": value` pairs (strings, numbers, booleans) must appear in the output with that value, in
  pretty or compact JSON, at any depth; the values of keys that differ on every run (times, event
  ids, offsets) only need to be there;
- ids README made up (UUIDs and `BK-` references) are matched to the ones the run made, the first
  time they appear under a command, and are replaced by those in every later command and output;
- any other line must appear in the output, `...` standing for anything and runs of blanks for any
  blanks;
- a trailing `# -> ...` comment on a command is an expectation too (its pairs and its words
  `HTTP 409`, `ERROR`);
- a block after `<!-- readme: skip (reason) -->` is not run (a TLS setup with certificates README
  cannot ship, a tool the machine lacks); a command that starts the service README's first command
  runs (`.venv/bin/booking-service serve` with nothing before it) is the service the session runs
  against, already started by the test.

The ports README uses (gRPC 50051, REST 8002, sandbox 8003) are replaced by free ones.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```console\n(.*?)^```", re.M | re.S)
DIRECTIVE = re.compile(r"<!-- readme: (\w+)(?: \((.*?)\))? -->\s*$")
PAIR = re.compile(r'"(\w+)"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)')
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
REFERENCE = re.compile(r"\bBK-[0-9A-Z]{8}\b", re.I)
# Values that differ on every run: only their presence is compared.
VOLATILE = frozenset(
    {
        "create_time",
        "update_time",
        "expire_time",
        "confirm_time",
        "cancel_time",
        "change_time",
        "request_time",
        "settle_time",
        "event_time",
        "erase_time",
        "event_id",
        "ce_id",
        "ce_time",
        "offset",
        "partition",
        "request_id",
        "payment_intent_id",
        "inventory_reservation_id",
        "refund_id",
        "saga_id",
        "bootstrap_servers",
        "pid",
        "position",
    }
)
SERVICE_ITSELF = re.compile(r"^(\.venv/bin/)?booking-service serve\s*(#.*)?$")


@dataclass
class Step:
    """One command of a console block, what README shows under it, and where it is."""

    line: int
    command: str
    expected: list[str] = field(default_factory=list)

    @property
    def comment(self) -> str:
        """The `# -> ...` expectation at the end of the command, if any."""
        last = self.command.rstrip().splitlines()[-1]
        found = re.search(r"#\s*->\s*(.*)$", last)
        return found.group(1) if found else ""


@dataclass
class Block:
    line: int
    steps: list[Step]
    skip: str | None  # why it is not run, or None


def blocks(readme: str) -> list[Block]:
    """Every ```console block of README, split into commands (a command goes on while a quote is
    open or a line ends in a backslash) and the lines README shows under each."""
    found: list[Block] = []
    for match in FENCE.finditer(readme):
        start_line = readme.count("\n", 0, match.start()) + 1
        before = readme[: match.start()].rstrip("\n").splitlines()
        directive = DIRECTIVE.search(before[-1]) if before else None
        skip = (directive.group(2) or directive.group(1)) if directive else None
        steps: list[Step] = []
        lines = match.group(1).splitlines()
        index = 0
        while index < len(lines):
            text = lines[index]
            if text.startswith("$ "):
                command = text[2:]
                first = start_line + 1 + index
                while _open(command) and index + 1 < len(lines):
                    index += 1
                    command += "\n" + lines[index]
                steps.append(Step(first, command))
            elif steps:
                steps[-1].expected.append(text)
            index += 1
        found.append(Block(start_line, steps, skip))
    return found


def _open(command: str) -> bool:
    """Whether bash would read another line: an open quote, or a trailing backslash."""
    if command.endswith("\\"):
        return True
    quote = ""
    escaped = False
    for char in command:
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#":
            break  # a comment: the rest of the line is not bash's
    return bool(quote)


class BashSession:
    """One bash process that runs the commands in turn; its output, with stderr, per command."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self._process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def run(self, command: str, timeout: float = 90) -> tuple[int, str]:
        """(exit status, output) of one command."""
        sentinel = f"__readme_done_{uuid.uuid4().hex}__"
        assert self._process.stdin is not None
        self._process.stdin.write(f"{command}\n__readme_status=$?; echo; echo {sentinel}$__readme_status\n")
        self._process.stdin.flush()
        output: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                printed = "".join(output)
                raise AssertionError(f"no answer within {timeout} s to:\n{command}\n{printed}") from None
            if line is None:
                raise AssertionError(f"bash ended during:\n{command}\n{''.join(output)}")
            if line.startswith(sentinel):
                text = "".join(output)
                return int(line[len(sentinel) :].strip()), text[:-1] if text.endswith("\n") else text
            output.append(line)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()


@dataclass
class Ids:
    """README's made-up ids and the run's real ones."""

    real: dict[str, str] = field(default_factory=dict)

    def apply(self, text: str) -> str:
        """`text` with the run's ids for README's, whole or shortened as README shortens a UUID
        (`d84a52a6-...`)."""
        for made_up, real in self.real.items():
            text = re.sub(re.escape(made_up), real, text, flags=re.I)
            if UUID.fullmatch(made_up):
                text = text.replace(made_up[:9] + "...", real[:9] + "...")
        return text

    def learn(self, expected: list[str], output: str) -> None:
        """For each id README shows as the value of a key, the run's value of that key."""
        for line in expected:
            for key, value in PAIR.findall(line):
                made_up = value.strip('"')
                if (UUID.fullmatch(made_up) or REFERENCE.fullmatch(made_up)) and made_up not in self.real:
                    actual = re.search(rf'"{key}"\s*:\s*"([^"]*)"', output)
                    if actual:
                        self.real[made_up] = actual.group(1)


def problems(step: Step, expected: list[str], output: str) -> Iterator[str]:
    """What README shows under (and beside) the command that the output lacks."""
    for line in [*expected, step.comment]:
        pairs = PAIR.findall(line)
        for key, value in pairs:
            value_pattern = "" if key in VOLATILE else r"\s*" + _value_pattern(value)
            pattern = rf'"{key}"\s*:' + value_pattern
            if not re.search(pattern, output):
                yield f"{key}: {value}"
        if pairs or not line.strip() or line is step.comment:
            continue
        pattern = _line_pattern(line)
        if pattern and not re.search(pattern, output, flags=re.M):
            yield line.strip()
    status = re.search(r"\bHTTP (\d{3})\b", step.comment)
    if status and not re.search(rf"^HTTP/[\d.]+ {status.group(1)}\b", output, flags=re.M):
        yield f"HTTP {status.group(1)}"


def _value_pattern(value: str) -> str:
    if value.startswith('"'):
        inner = value[1:-1]
        parts = [re.escape(part) for part in inner.split("...")]
        return '"' + '[^"]*'.join(parts) + '"'
    return re.escape(value) + r"\b"


def _line_pattern(line: str) -> str:
    text = line.strip()
    if text in ("...", "{...}"):
        return ""
    pieces = [r"\s+".join(re.escape(word) for word in part.split()) for part in text.split("...")]
    return ".*?".join(pieces)


def port_map(grpc: int, http: int, sandbox: int) -> dict[str, str]:
    return {
        "localhost:50051": f"localhost:{grpc}",
        "localhost:8002": f"localhost:{http}",
        "localhost:8003": f"localhost:{sandbox}",
    }


def with_ports(text: str, ports: dict[str, str]) -> str:
    for readme_port, real in ports.items():
        text = text.replace(readme_port, real)
    return text


def is_the_service_itself(step: Step) -> bool:
    return bool(SERVICE_ITSELF.match(step.command.strip()))


def session_environment(home: Path) -> dict[str, str]:
    """A newcomer's shell: the machine's PATH, a HOME of the test's own, none of the test's settings."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "PIP_FIND_LINKS")
    env = {k: v for k, v in os.environ.items() if k in keep}
    return {**env, "HOME": str(home)}
