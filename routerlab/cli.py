"""The ``routerlab`` command.

    routerlab run                 replay the bundled data across every built-in strategy (no key, no network)
    routerlab run --out results   ... and write results.parquet, summary.csv, summary.md, frontier.png
    routerlab serve --port 8765   the local provider server (OpenAI / Anthropic / Groq wire formats)
    routerlab export ...          routing tables to production configs

Exit codes: 0 success, 1 unexpected error, 2 bad arguments or configuration, 3 bad data set,
4 every call failed (live runs: check keys and endpoints).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_DATA, EXIT_CALLS = 0, 1, 2, 3, 4


def _run_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="replay a data set across routing strategies and print the trade-offs",
                       description="Replay a data set across routing strategies: quality, cost, cost per "
                                   "correct answer and latency per strategy, Pareto-optimal ones marked.")
    p.add_argument("--dataset", default="zeroeval", help="bundled name (zeroeval, routellm) or a path (default: zeroeval)")
    p.add_argument("--strategies", help="comma-separated strategy names or groups to run: 'default' (the built-ins "
                   "that fit quickly, and every model), 'learners' (the routers that learn from prompt text and the "
                   "learned cascade), 'all' (default: default)")
    p.add_argument("--tasks", help="comma-separated tasks to keep (default: all)")
    p.add_argument("--test-size", type=float, default=0.5,
                   help="share of prompts held out for evaluation; learned strategies fit on the rest (default 0.5)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, random router and simulated latency")
    p.add_argument("--store", help="results store path (SQLite): re-runs compute only what is missing")
    p.add_argument("--out", help="directory for results.parquet, summary.csv, summary.md and frontier.png")
    p.add_argument("--live", action="store_true", help="call real providers through the Gateway (needs --config)")
    p.add_argument("--config", help="Gateway YAML config for --live")
    p.add_argument("--server", action="store_true",
                   help="start the local provider server and run live against it (no key, no network)")
    p.add_argument("--concurrency", type=int, default=32, help="units in flight at once (default 32)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--no-fast-path", action="store_true",
                   help="run every unit through the per-prompt path (for checks and benchmarks)")
    p.add_argument("--by-task", action="store_true", help="also print the per-task breakdown")


def build_strategies(train: Any, models: list[str], seed: int, evaluation: Any = None,
                     groups: tuple[str, ...] = ("default",)) -> dict[str, Any]:
    """Every single model plus the built-in strategies of ``groups`` fitted on ``train`` (the oracle
    reads ``evaluation``'s outcomes)."""
    from .routers import FixedRouter
    from .routers.defaults import builtin_strategies

    strategies: dict[str, Any] = {m: FixedRouter(m) for m in models}
    strategies.update(builtin_strategies(train, seed=seed, evaluation=evaluation, groups=groups))
    return strategies


def _format_table(summary: Any) -> str:
    import pandas as pd

    s = summary.reset_index()
    table = pd.DataFrame({
        "": ["^" if o else "*" if p else "" for o, p in zip(s["oracle"], s["pareto"])],
        "strategy": s["strategy"],
        "quality": [f"{q:.3f} [{lo:.3f}, {hi:.3f}]" for q, lo, hi in zip(s["quality"], s["quality_lo"], s["quality_hi"])],
        "cost $": [f"{c:.4f}" for c in s["cost"]],
        "$/correct": [f"{c:.6f}" if c == c else "—" for c in s["cost_per_correct"]],
        "p50 s": [f"{v:.2f}" for v in s["latency_p50"]],
        "p95 s": [f"{v:.2f}" for v in s["latency_p95"]],
        "errors": [f"{e:.1%}" for e in s["error_rate"]],
    })
    return table.to_string(index=False)


def cmd_run(args: argparse.Namespace) -> int:
    from . import datasets
    from .errors import ConfigError
    from .harness.experiment import Experiment

    t0 = time.perf_counter()
    ds = datasets.load(args.dataset)
    if args.tasks:
        ds = ds.filter(tasks=[t.strip() for t in args.tasks.split(",") if t.strip()])
    if ds.outcomes is None and not (args.live or args.server):
        raise ConfigError(f"data set {ds.name!r} has no recorded outcomes to replay: use --server or --live")
    train, test = ds.split(args.test_size, seed=args.seed)
    from .routers.defaults import expand_groups

    named = [s.strip() for s in (args.strategies or "").split(",") if s.strip()]
    groups, wanted = expand_groups(named)
    from .routers.defaults import GROUPS

    build = [g for g in GROUPS if g in groups or set(GROUPS[g]) & set(wanted)] or ["default"]
    strategies = build_strategies(train, ds.models, args.seed, evaluation=test, groups=tuple(build))
    if named:
        if "default" in groups:  # the default group stands for its strategies and every single model
            wanted = list(dict.fromkeys([*ds.models, *wanted]))
        unknown = [s for s in wanted if s not in strategies]
        if unknown:
            raise ConfigError(f"unknown strategies {unknown}; available: {', '.join(strategies)} "
                              "and the groups default, learners, all")
        strategies = {k: strategies[k] for k in wanted}

    caller, server = None, None
    if args.live and args.server:
        raise ConfigError("--live and --server are exclusive: --server runs live against the local server")
    if args.live:
        if not args.config:
            raise ConfigError("--live needs --config gateway.yaml (deployments, keys as env var names)")
        from .live.gateway import Gateway

        caller = Gateway.from_config(args.config)
    elif args.server:
        from .harness.local import local_gateway

        caller, server = local_gateway(ds, models=ds.models)
    store = args.store or (f"routerlab-runs/{ds.name}-live.sqlite" if caller is not None else None)
    meta = {"split_seed": args.seed, "test_size": args.test_size, "train_prompts": len(train),
            "test_prompts": len(test), "dataset": ds.name}
    try:
        exp = Experiment(test, strategies, caller=caller, seed=args.seed, store=store, split="test",
                         meta=meta, concurrency=args.concurrency, fast_path=not args.no_fast_path)
        # replay is pure computation: a second core takes every other per-prompt strategy
        results = exp.run(progress=not args.no_progress, workers=2 if caller is None else 1)
    finally:
        if server is not None:
            server.close()
    summary = results.summary()
    elapsed = time.perf_counter() - t0
    latency_note = " (latency simulated from catalog profiles)" if results.df["simulated_latency"].any() else ""
    print(f"\nrouterlab run: {ds.name}, {len(test)} held-out prompts of {len(ds)} "
          f"(seed {args.seed}), {len(strategies)} strategies, {elapsed:.1f} s{latency_note}")
    print("* = on the cost-quality Pareto frontier of the realisable strategies; ^ = oracle: it reads the recorded\n"
          "answers, an upper bound never on the frontier. Quality with 95% CI; cost summed over the held-out prompts\n")
    print(_format_table(summary))
    if args.by_task:
        print("\nper task:\n" + results.summary(by="task")[["n", "quality", "cost"]].to_string())
    if any(callable(getattr(s, "sweep", None)) for s in strategies.values()):
        curves = results.with_curves(strategies, test, n_boot=200, seed=args.seed).curves
        print(f"\nwhole cost-quality curves on the held-out prompts (APGR / CPT between {curves.weak} and "
              f"{curves.strong}; CPT as a share of their cost gap; 95% bootstrap CIs):")
        print(_format_curves(curves.metrics))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        results.to_parquet(out / "results.parquet")
        summary.to_csv(out / "summary.csv")
        (out / "summary.md").write_text(summary.reset_index().to_markdown(index=False, floatfmt=".4g")
                                        if _has_tabulate() else summary.to_string())
        from .viz import save_frontier_png

        save_frontier_png(results, out / "frontier.png")
        if results.curves is not None:
            results.curves.points.to_csv(out / "curves.csv", index=False)
            results.curves.metrics.to_csv(out / "curve_metrics.csv")
        print(f"\nwrote {out}/results.parquet, summary.csv, summary.md, frontier.png"
              + (", curves.csv, curve_metrics.csv" if results.curves is not None else ""))
    if len(results.df) and (results.df["error_type"] != "").all():
        return EXIT_CALLS
    return EXIT_OK


def _format_curves(metrics: Any) -> str:
    import pandas as pd

    cols = {}
    for key, label in (("aiq", "AIQ"), ("apgr", "APGR"), ("cpt50", "CPT(50%)"), ("cpt80", "CPT(80%)")):
        cols[label] = [f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if v == v else "—"
                       for v, lo, hi in zip(metrics[key], metrics[f"{key}_lo"], metrics[f"{key}_hi"])]
    return pd.DataFrame(cols, index=metrics.index).to_string()


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="routerlab", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[-1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"routerlab {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _run_parser(sub)
    sub.add_parser("serve", help="start the local provider server", add_help=False)
    sub.add_parser("export", help="export a routing table to production configs", add_help=False)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        from .server.app import serve_main

        return int(serve_main(argv[1:]) or 0)
    if argv[:1] == ["export"]:
        from .export import export_main

        return int(export_main(argv[1:]) or 0)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_CONFIG
    from .errors import ConfigError, DatasetError, RouterlabError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("once")
            return cmd_run(args)
    except DatasetError as exc:
        print(f"routerlab: data set error: {exc}", file=sys.stderr)
        return EXIT_DATA
    except ConfigError as exc:
        print(f"routerlab: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except RouterlabError as exc:
        print(f"routerlab: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_CALLS
    except KeyboardInterrupt:
        print("routerlab: interrupted; finished units are kept in the store (--store) for a re-run",
              file=sys.stderr)
        return 130


def _version() -> str:
    from ._version import __version__

    return __version__


if __name__ == "__main__":
    raise SystemExit(main())
