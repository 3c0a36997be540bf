"""The seed's own examples, run as written against the test server: the Quick Start's
three curl calls (login, add site, create job) and the JavaScript client example (only
`site_id`, `x-api-key`, a trailing slash). Only the placeholders are filled in: the
host, the credentials, the token and the ids."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

from tests.accounts import PASSWORD, create_key
from tests.core.client import Client
from tests.test_cli_users import backlynk

DEMO_CATALOGUE = Path(__file__).parents[2] / "adapters" / "demo" / "directories.json"

# verbatim from the seed (seed/000_9b1ecbfda2e001b2.txt, "Quick Start")
QUICK_START_LOGIN = """curl -X POST https://backlynk.io/api/v1/auth/login \\
-H "Content-Type: application/json" \\
-d '{"email":"[email protected]","password":"..."}'"""

QUICK_START_SITE = """curl -X POST https://backlynk.io/api/v1/sites \\
-H "Authorization: Bearer <token>" \\
-H "Content-Type: application/json" \\
-d '{"url":"https://yoursite.com","name":"Your Site","description":"..."}'"""

QUICK_START_JOB = """curl -X POST https://backlynk.io/api/v1/jobs \\
-H "Authorization: Bearer <token>" \\
-H "Content-Type: application/json" \\
-d '{"site_id":"<site_id>","directory_ids":[1,2,3,4,5]}'"""

# verbatim from the seed ("Client Examples")
JAVASCRIPT_EXAMPLE = """const res = await fetch('https://backlynk.io/api/v1/jobs/', {
method: 'POST',
headers: {
'Content-Type': 'application/json',
'x-api-key': process.env.BACKLYNK_API_KEY
},
body: JSON.stringify({ site_id: 'site_123' })
});
if (!res.ok) throw new Error(await res.text());
const job = await res.json();"""


async def run(*argv: str, env: dict[str, str] | None = None) -> str:
    """Run a client program without blocking the event loop the server runs on."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def curl(command: str, server, **fill: str) -> dict:
    text = command.replace("https://backlynk.io", server.url)
    for placeholder, value in fill.items():
        text = text.replace(placeholder, value)
    return json.loads(await run("bash", "-c", text + " --silent --show-error --fail-with-body"))


async def test_quick_start_runs_as_written(api, infra, settings, agency: Client):
    code, _, err = await backlynk(settings, "directories", "import", str(DEMO_CATALOGUE))
    assert code == 0, err

    tokens = await curl(
        QUICK_START_LOGIN,
        api,
        **{"[email protected]": agency.email, '"password":"..."': f'"password":"{PASSWORD}"'},
    )
    assert tokens["token_type"] == "Bearer"
    site = await curl(QUICK_START_SITE, api, **{"<token>": tokens["access_token"]})
    assert site["url"] == "https://yoursite.com/" and site["name"] == "Your Site"
    job = await curl(
        QUICK_START_JOB, api, **{"<token>": tokens["access_token"], "<site_id>": site["id"]}
    )
    assert [t["directory_id"] for t in job["tasks"]] == [1, 2, 3, 4, 5]
    assert job["status"] == "queued" and job["progress"]["pending"] == 5
    # "poll the job endpoint": it is there, and stays queued until a worker takes it
    polled = await agency.get(f"/api/v1/jobs/{job['id']}")
    assert polled.body["status"] == "queued"


async def test_javascript_example_runs_as_written(api, infra, agency: Client, catalogue, tmp_path):
    # `make test` installs it (.ci/tools); never skipped when it is missing
    assert shutil.which("node"), "node is missing: run `make tools` (Debian's nodejs)"
    site = await agency.add_site()
    key = await create_key(api, agency.tokens)
    script = tmp_path / "example.mjs"
    script.write_text(
        JAVASCRIPT_EXAMPLE.replace("https://backlynk.io", api.url).replace("site_123", site["id"])
        + "\nconsole.log(JSON.stringify(job));\n"
    )
    job = json.loads(await run("node", str(script), env={"BACKLYNK_API_KEY": key["key"]}))
    assert job["site_id"] == site["id"] and job["status"] == "queued"
    assert sorted(t["directory_id"] for t in job["tasks"]) == [1, 2, 3, 4, 6]
    assert (await agency.get(f"/api/v1/jobs/{job['id']}")).body == job
