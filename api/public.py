"""The public pages' figures (no sign-in): delivery examples and quality tiers, as JSON
under `/api/v1/public/…` and as the pages of `api.public_pages`. Aggregates and anonymised
evidence only: nothing here names a directory, its URL or a customer (`domain.showcase`,
`domain.public_figures`)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from domain import ids
from domain.showcase import PublicExample, anonymise, shown
from projections.showcase import PostgresExampleChoices

#: the most examples the page and the JSON show (the newest choices)
MAX_EXAMPLES = 12
CACHE = {"Cache-Control": "public, max-age=60"}


class DeliveryExamples(msgspec.Struct):
    examples: list[PublicExample]


async def read_examples(request: Request) -> DeliveryExamples:
    facts = await PostgresExampleChoices(request.app.state.infra.read_pool).facts()
    return DeliveryExamples(
        [anonymise(f, ids.encode("ex", f.choice.id)) for f in shown(facts)][:MAX_EXAMPLES]
    )


async def examples_json(request: Request) -> Response:
    return Response(
        msgspec.json.encode(await read_examples(request)),
        media_type="application/json",
        headers=CACHE,
    )
