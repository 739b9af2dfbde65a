"""One worker process of the shared-store tests: runs an Experiment live against a local provider server.

    python lease_worker.py SPEC.json

SPEC: ``store``, ``models`` (model -> {name, base_url} of its deployment on the server), ``prompts`` (how many
GSM8K prompts), ``concurrency``, ``lease_seconds``, ``go`` (a file to wait for, so every worker starts at
once), ``done`` (a file this worker appends its computed-row count to as it goes), ``out`` (its results).
"""

from __future__ import annotations

import json
import os
import sys
import time

from routerlab import datasets
from routerlab.catalog import Catalog
from routerlab.harness.executors import LocalExecutor
from routerlab.harness.experiment import Experiment
from routerlab.live.gateway import Gateway
from routerlab.routers import FixedRouter


def main(path: str) -> None:
    with open(path) as fh:
        spec = json.load(fh)
    ds = datasets.load("zeroeval")
    ds = ds.filter(prompt_ids=ds.prompts.loc[ds.prompts["task"] == "gsm", "prompt_id"].iloc[:spec["prompts"]])
    catalog = Catalog.default()
    os.environ.setdefault("LEASE_TEST_KEY", "local-server-needs-no-key")
    models = {m: {"deployments": [{"name": d["name"], "provider": catalog[m].provider, "model": m,
                                   "api_key_env": "LEASE_TEST_KEY", "base_url": d["base_url"]}]}
              for m, d in spec["models"].items()}
    gateway = Gateway.from_config({"models": models, "retry": {"attempts": 1, "timeout": 30.0}}, catalog=catalog)
    exp = Experiment(ds, {m: FixedRouter(m) for m in spec["models"]}, caller=gateway, store=spec["store"],
                     concurrency=spec["concurrency"])
    mine = {"rows": 0}

    def computed(name, rows):
        mine["rows"] += len(rows)
        with open(spec["done"], "a") as fh:
            fh.write(f"{len(rows)}\n")

    while not os.path.exists(spec["go"]):
        time.sleep(0.01)
    res = exp.run(progress=False, on_rows=computed, executor=LocalExecutor(lease_seconds=spec["lease_seconds"]))
    with open(spec["out"], "w") as fh:
        json.dump({"computed": mine["rows"], "rows": len(res.df), "errors": int((res.df["error_type"] != "").sum())}, fh)


if __name__ == "__main__":
    main(sys.argv[1])
