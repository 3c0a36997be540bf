"""The README runs top to bottom: its ```sh blocks, pasted in order into one shell against
the service as `make run` starts it, succeed — and again on a second run against the same
service.

Conventions (for whoever writes README examples):

* Only ```sh blocks run; they run in order in one `bash` (so variables carry over), under
  `set -euo pipefail`, in one working directory (files such as tokens.json stay between
  blocks and between the two runs). Use ```text for output and illustrations.
* `http://127.0.0.1:8000` (and the sandbox's `127.0.0.1:8001`) are rewritten to the ports
  of the test's own service; the catalogue is imported for the test's sandbox port.
* `curl` is wrapped: every answer's status is recorded (with `-D`, so the block's own
  `-w`/`-o` still work). Any 4xx or 5xx fails the test, and so does a call that gets no
  answer, unless its block announces that status with a comment line `# expect: 409`
  (several: `# expect: 401, 409`). An announced status must then occur in that block, so
  a block that shows a refusal proves it.
* Loops that poll must be bounded (`for i in $(seq 60)`): the whole script has a time limit.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.live_service import ROOT, LiveService

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\S*)\s*$")
EXPECT = re.compile(r"^\s*#\s*expect:\s*(\d{3}(?:\s*,\s*\d{3})*)\s*$")
SCRIPT_TIMEOUT = 240  # seconds for one run of every block

PRELUDE = r"""set -euo pipefail
__readme_block=0
curl() {
  local head rc=0 status
  head=$(mktemp "$README_TEST_DIR/head.XXXXXX")
  command curl -D "$head" "$@" || rc=$?
  status=$(awk '/^HTTP\//{s=$2} END{print s}' "$head")
  rm -f "$head"
  local args="$*"
  printf "%s\t%s\t%s\t%s\n" "$__readme_block" "${BASH_LINENO[0]}" "${status:--}" \
    "${args//$'\n'/ }" >> "$README_TEST_DIR/calls.tsv"
  return $rc
}
"""


@dataclass
class Block:
    number: int
    line: int  # 1-based line of the README where the block's code starts
    code: str
    expected: set[int] = field(default_factory=set)


def sh_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    inside: str | None = None
    start, body = 0, []
    for index, line in enumerate(lines, start=1):
        fence = FENCE.match(line)
        if inside is None and fence:
            inside, start, body = fence.group(1), index + 1, []
        elif inside is not None and line.strip() == "```":
            if inside == "sh":
                block = Block(len(blocks) + 1, start, "\n".join(body))
                for code_line in body:
                    if m := EXPECT.match(code_line):
                        block.expected |= {int(s) for s in m.group(1).split(",")}
                blocks.append(block)
            inside = None
        elif inside is not None:
            body.append(line)
    assert inside is None, "README.md has an unclosed code fence"
    return blocks


def build_script(blocks: list[Block], service: LiveService) -> tuple[str, dict[int, int]]:
    """The blocks as one script, and script line -> README line (for messages)."""
    lines = PRELUDE.splitlines()
    readme_line: dict[int, int] = {}
    for block in blocks:
        lines.append(f"__readme_block={block.number}")
        for offset, code in enumerate(block.code.splitlines()):
            code = code.replace("http://127.0.0.1:8000", service.url)
            code = code.replace("127.0.0.1:8001", f"127.0.0.1:{service.sandbox_port}")
            lines.append(code)
            readme_line[len(lines)] = block.line + offset
    return "\n".join(lines) + "\n", readme_line


@dataclass
class Call:
    block: int
    readme_line: int
    status: int | None
    args: str


def run_readme(blocks: list[Block], service: LiveService, workdir: Path, run: int) -> None:
    script, readme_line = build_script(blocks, service)
    path = workdir / "readme.sh"
    path.write_text(script)
    calls_file = workdir / "calls.tsv"
    calls_file.write_text("")
    env = {**service.env, "README_TEST_DIR": str(workdir)}
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", str(path)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    calls = []
    for row in calls_file.read_text().splitlines():
        block, line, status, args = row.split("\t", 3)
        calls.append(
            Call(
                int(block),
                readme_line.get(int(line), 0),
                int(status) if status.isdigit() else None,
                args[:200],
            )
        )
    context = (
        f"run {run}; README calls so far:\n"
        + "\n".join(f"  README.md:{c.readme_line} -> {c.status}  curl {c.args}" for c in calls)
        + f"\nstdout (tail):\n{done.stdout[-3000:]}\nstderr (tail):\n{done.stderr[-3000:]}"
    )
    assert done.returncode == 0, f"the README's script exited {done.returncode}; {context}"
    problems = []
    for block in blocks:
        mine = [c for c in calls if c.block == block.number]
        for c in mine:
            if c.status is None:
                problems.append(f"README.md:{c.readme_line}: no answer to curl {c.args}")
            elif c.status >= 400 and c.status not in block.expected:
                problems.append(
                    f"README.md:{c.readme_line}: {c.status} not announced (curl {c.args})"
                )
        seen = {c.status for c in mine}
        for status in sorted(block.expected - seen):
            problems.append(
                f"README.md:{block.line}: block {block.number} announces {status}, never answered"
            )
    assert not problems, "\n".join(problems) + "\n" + context
    assert calls, "the README's sh blocks made no call at all"


def test_sh_blocks_are_found_with_their_announced_statuses():
    text = "\n".join(
        [
            "```text",
            "curl not-run",
            "```",
            "```sh",
            "curl a",
            "# expect: 401, 409",
            "```",
            "```python",
            "x = 1",
            "```",
            "```sh",
            "curl b",
            "```",
        ]
    )
    blocks = sh_blocks(text)
    assert [(b.number, b.line, b.code, b.expected) for b in blocks] == [
        (1, 5, "curl a\n# expect: 401, 409", {401, 409}),
        (2, 12, "curl b", set()),
    ]


@pytest.mark.timeout(600)
@pytest.mark.xdist_group("heavy")
def test_readme_runs_top_to_bottom_twice(tmp_path: Path):
    blocks = sh_blocks(README.read_text())
    assert blocks, "README.md has no sh block"
    workdir = tmp_path / "newcomer"
    workdir.mkdir()
    with LiveService(tmp_path, name="readme") as service:
        service.migrate()
        service.load_demo()
        service.start_all()
        service.wait_ready()
        for run in (1, 2):
            try:
                run_readme(blocks, service, workdir, run)
            except AssertionError as failure:
                raise AssertionError(f"{failure}\n{service.tails()}") from None
