"""Application services: one `async def` per use case, written against `domain.ports`.

One signature for every use case: `use_case(ports, ...)` — first the frozen struct of
ports its module needs (`AuthPorts`, `SitePorts`, `JobPorts`, `CheckPorts`, `Delivery`),
built once at start-up, then the use case's own arguments; the time comes from the ports'
clock, never from the caller. Load helpers shared across modules (`get_site`, `get_job`,
`load_quota`) take the repository alone. A command returns what changed and the
notification id its events were written at, so that the API can wait for the read
models to pass it."""
