"""One Gateway process of the shared-state tests.

    python state_worker.py SPEC.json

SPEC: ``config`` (a gateway config dict), ``requests`` (``[{"prompt", "model", "max_tokens"}]``),
``concurrency``, ``go`` (a file to wait for, so every worker starts at once), ``progress`` (a file this worker
appends a line to per finished request), ``out`` (its results: one entry per request, then its own spend).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from routerlab.live.gateway import Gateway
from routerlab.types import Request


async def main(spec: dict) -> None:
    gateway = Gateway.from_config(spec["config"])
    results: list[dict | None] = [None] * len(spec["requests"])
    queue = iter(enumerate(spec["requests"]))

    async def worker() -> None:
        for i, r in queue:
            request = Request.from_prompt(r["prompt"], max_tokens=r.get("max_tokens"))
            try:
                c = await gateway.complete(request, r["model"])
                results[i] = {"ok": True, "deployment": c.deployment, "cached": c.cached, "cost": c.cost}
            except Exception as exc:  # noqa: BLE001 - the test reads what the caller would see
                results[i] = {"ok": False, "error": type(exc).__name__, "message": str(exc),
                              "cost": float(getattr(exc, "cost", 0.0) or 0.0)}
            with open(spec["progress"], "a") as fh:
                fh.write("1\n")

    while not os.path.exists(spec["go"]):
        await asyncio.sleep(0.005)
    await asyncio.gather(*(worker() for _ in range(spec["concurrency"])))
    own = sum(r["cost"] for r in results if r is not None)
    await gateway.aclose()
    with open(spec["out"], "w") as fh:
        json.dump({"results": results, "own_spend": own, "end": time.time()}, fh)


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        asyncio.run(main(json.load(fh)))
