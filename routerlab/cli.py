"""routerlab: find out which LLM should answer which prompt, prove it with numbers, ship it.

commands:
  routerlab run                  replay the bundled data across every built-in strategy (no key, no network)
  routerlab run --out results    ... and write results.parquet, summary.csv, summary.md, frontier.png
  routerlab run --server         the same through the local provider server and the real SDKs (no key)
  routerlab serve --port 8765    the local provider server (OpenAI / Anthropic / Groq wire formats)
  routerlab export ...           a routing table (or a run's results) to LiteLLM, Portkey, env, JSON

Each command has its own --help. Exit codes: 0 success, 1 unexpected error, 2 bad arguments or
configuration, 3 bad data set, 4 every call failed (live runs: check keys and endpoints).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from ._args import ArgumentParser, fail, fraction, names, positive_int, seed, writable_dir
from ._text import clip_sentences

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_DATA, EXIT_CALLS = 0, 1, 2, 3, 4


def _run_parser(sub: Any) -> ArgumentParser:
    p: ArgumentParser = sub.add_parser("run", help="replay a data set across routing strategies and print the trade-offs",
                       description="Replay a data set across routing strategies: quality (95% CI), cost, cost per "
                                   "correct answer and latency per strategy, the cost-quality Pareto frontier "
                                   "marked. Offline by default: the recorded answers are replayed, no key, no "
                                   "network.")
    p.add_argument("--dataset", default="zeroeval",
                   help="bundled name (zeroeval, routellm) or a path to a JSONL / CSV / Parquet file or folder "
                        "(default: zeroeval)")
    p.add_argument("--strategies", type=names("gpt-4o,task or learners"), help="comma-separated strategy names or groups to run: 'default' (the built-ins "
                   "that fit quickly, and every model), 'learners' (the routers that learn from prompt text and the "
                   "learned cascade), 'all' (default: default)")
    p.add_argument("--tasks", type=names("gsm,crux"), help="comma-separated tasks to keep (default: all)")
    p.add_argument("--test-size", type=fraction, default=0.5,
                   help="share of prompts held out for evaluation, strictly between 0 and 1; learned strategies "
                        "fit on the rest (default: 0.5)")
    p.add_argument("--seed", type=seed, default=0,
                   help="seed of the train/test split, the random router, the simulated judge and the simulated "
                        "latencies: the same seed gives the same table (default: 0)")
    p.add_argument("--store", help="results store (a SQLite file): a re-run computes only what is missing. Default: "
                                   "none offline; with --live or --server routerlab-runs/<data set>-<mode>-<config "
                                   "hash>.sqlite, so a paid call is never repeated and another config never reads "
                                   "these rows")
    p.add_argument("--retry-failed", action=argparse.BooleanOptionalAction, default=True,
                   help="call again the stored units that failed for reasons outside the prompt (missing key, auth, "
                        "unavailable, timeouts, 5xx); --no-retry-failed replays stored failures as they are, to "
                        "reproduce a run exactly (default: --retry-failed)")
    p.add_argument("--out", type=writable_dir, help="directory for results.parquet, summary.csv, summary.md and frontier.png")
    p.add_argument("--live", action="store_true", help="call real providers through the Gateway (needs --config)")
    p.add_argument("--config", help="Gateway YAML config for --live (see examples/gateway.yaml)")
    p.add_argument("--server", action="store_true",
                   help="start the local provider server and run live against it (no key, no network)")
    p.add_argument("--concurrency", type=positive_int, default=32, help="units in flight at once (default: 32)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--no-fast-path", action="store_true",
                   help="run every unit through the per-prompt path (for checks and benchmarks)")
    p.add_argument("--by-task", action="store_true", help="also print the per-task breakdown")
    return p


def build_strategies(train: Any, models: list[str], seed: int, evaluation: Any = None,
                     groups: tuple[str, ...] = ("default",), explicit: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every single model plus the built-in strategies of ``groups`` fitted on ``train`` (the oracle
    reads ``evaluation``'s outcomes); ``explicit``: names the user gave, never left out silently."""
    from .routers import FixedRouter
    from .routers.defaults import builtin_strategies

    strategies: dict[str, Any] = {m: FixedRouter(m) for m in models}
    strategies.update(builtin_strategies(train, seed=seed, evaluation=evaluation, groups=groups, explicit=explicit))
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


def _caller(args: argparse.Namespace, ds: Any) -> tuple[Any, Any, str]:
    """(caller, local server to close or None, mode): replay (None), the local server, or a live Gateway."""
    if args.live:
        from .live.gateway import Gateway

        return Gateway.from_config(args.config), None, "live"
    if args.server:
        from .harness.local import local_gateway

        caller, server = local_gateway(ds, models=ds.models)
        return caller, server, "server"
    return None, None, "replay"


def _check_modes(args: argparse.Namespace) -> None:
    """Flags that contradict each other or would be ignored, refused before any work (ConfigError)."""
    from .errors import ConfigError

    if args.live and args.server:
        raise ConfigError("--live and --server are exclusive: --server runs live against the local server")
    if args.config and not args.live:
        raise ConfigError(f"--config {args.config} is read only with --live"
                          + (": --server configures a gateway for the local server itself; drop --config, or use "
                             "--live --config FILE for real providers" if args.server else
                             "; add --live to call the providers it names, or drop --config to replay"))
    if args.live and not args.config:
        raise ConfigError("--live needs --config gateway.yaml (deployments, keys as env var names; "
                          "see examples/gateway.yaml)")
    if args.live and not Path(args.config).is_file():
        raise ConfigError(f"--config {args.config}: no such file (see examples/gateway.yaml for one)")


def _store(args: argparse.Namespace, ds: Any, caller: Any, mode: str) -> str | None:
    """The results store: ``--store``, or for live runs one per data set, mode and live configuration."""
    if args.store or caller is None:
        return args.store
    import hashlib
    import json

    from .harness.experiment import caller_fingerprint

    digest = hashlib.sha256(json.dumps(caller_fingerprint(caller), sort_keys=True).encode()).hexdigest()[:12]
    return f"routerlab-runs/{ds.name}-{mode}-{digest}.sqlite"


def _select(train: Any, test: Any, models: list[str], seed: int, named: list[str] | None) -> dict[str, Any]:
    """The strategies ``--strategies`` names: single strategies and groups (default, learners, all),
    built and fitted on ``train``. Raises ConfigError naming unknown names and what is available."""
    from .errors import ConfigError
    from .routers.defaults import GROUPS, expand_groups

    named = list(named or [])
    groups, wanted = expand_groups(named)
    build = [g for g in GROUPS if g in groups or set(GROUPS[g]) & set(wanted)] or ["default"]
    strategies = build_strategies(train, models, seed, evaluation=test, groups=tuple(build), explicit=tuple(named))
    if not named:
        return strategies
    if "default" in groups:  # the default group stands for its strategies and every single model
        wanted = list(dict.fromkeys([*models, *wanted]))
    wanted = [s for s in wanted if s in strategies or s in named]  # a group's members left out were logged
    unknown = [s for s in wanted if s not in strategies]
    if unknown:
        raise ConfigError(f"--strategies: unknown {', '.join(unknown)}; available: {', '.join(strategies)} "
                          "and the groups default, learners, all")
    return {k: strategies[k] for k in wanted}


def cmd_run(args: argparse.Namespace) -> int:
    from . import datasets
    from .errors import ConfigError
    from .harness.experiment import Experiment

    t0 = time.perf_counter()
    _check_modes(args)
    ds = datasets.load(args.dataset)
    if args.tasks:
        wanted = args.tasks
        unknown = sorted(set(wanted) - set(ds.tasks))
        if unknown:
            raise ConfigError(f"--tasks: {', '.join(unknown)} not in data set {ds.name!r}; its tasks: "
                              f"{', '.join(ds.tasks)}")
        ds = ds.filter(tasks=wanted)
    if ds.outcomes is None and not (args.live or args.server):
        raise ConfigError(f"data set {ds.name!r} has no recorded outcomes to replay: use --server or --live")
    caller, server, mode = _caller(args, ds)
    try:
        train, test = ds.split(args.test_size, seed=args.seed)
        strategies = _select(train, test, ds.models, args.seed, args.strategies)
        meta = {"split_seed": args.seed, "test_size": args.test_size, "train_prompts": len(train),
                "test_prompts": len(test), "dataset": ds.name}
        exp = Experiment(test, strategies, caller=caller, seed=args.seed, store=_store(args, ds, caller, mode),
                         split="test", meta=meta, concurrency=args.concurrency, fast_path=not args.no_fast_path,
                         retry_failed=args.retry_failed)
        # replay is pure computation: a second core takes every other per-prompt strategy
        results = exp.run(progress=not args.no_progress, workers=2 if caller is None else 1)
    finally:
        if server is not None:
            server.close()
    if any(callable(getattr(s, "sweep", None)) for s in strategies.values()):
        results.with_curves(strategies, test, n_boot=200, seed=args.seed)
    _print_run(args, ds, test, strategies, results, time.perf_counter() - t0)
    if args.out:
        _write_out(results, Path(args.out))
    return _calls_status(results)


def _print_run(args: argparse.Namespace, ds: Any, test: Any, strategies: dict[str, Any], results: Any,
               elapsed: float) -> None:
    summary = results.summary()
    latency_note = _latency_note(results.df)
    print(f"\nrouterlab run: {ds.name}, {len(test)} held-out prompts of {len(ds)} "
          f"(seed {args.seed}), {len(strategies)} strategies, {elapsed:.1f} s{latency_note}")
    run = results.meta.get("run") or {}
    if run.get("reused") or run.get("retried"):
        print(f"store: reused {run['reused']:,} stored rows, retried {run['retried']:,} failed units"
              + ("" if args.retry_failed else " (--no-retry-failed: stored failures replayed as they are)"))
    print("* = on the cost-quality Pareto frontier of the realisable strategies; ^ = oracle: it reads the recorded\n"
          "answers, an upper bound never on the frontier. Quality with 95% CI; cost summed over the held-out prompts\n")
    print(_format_table(summary))
    if results.curves is not None:
        curves = results.curves
        print(f"\nwhole cost-quality curves on the held-out prompts (APGR / CPT between {curves.weak} and "
              f"{curves.strong}; CPT as a share of their cost gap; 95% bootstrap CIs):")
        print(_format_curves(curves.metrics))
    if args.by_task:
        print("\nper task:\n" + results.summary(by="task")[["n", "quality", "cost"]].to_string())


def _latency_note(df: Any) -> str:
    """The header's word on latency: simulated from catalog profiles, and unknown for the models that
    answered without a latency (recorded none, and the catalog has no profile: p50/p95 are NaN)."""
    unknown = sorted({str(m) for m in df.loc[df["latency"].isna() & ~df["error_type"].astype(bool), "final_model"]})
    notes = ["latency simulated from catalog profiles"] if df["simulated_latency"].any() else []
    if unknown:
        notes.append(f"latency unknown for {', '.join(unknown)}: no recorded latency and no catalog profile")
    return f" ({'; '.join(notes)})" if notes else ""


def _write_out(results: Any, out: Path) -> None:
    from .viz import save_frontier_png, summary_markdown

    out.mkdir(parents=True, exist_ok=True)
    results.to_parquet(out / "results.parquet")
    summary = results.summary()
    summary.to_csv(out / "summary.csv")
    (out / "summary.md").write_text(summary_markdown(results, summary), encoding="utf-8")
    save_frontier_png(results, out / "frontier.png")
    if results.curves is not None:
        results.curves.points.to_csv(out / "curves.csv", index=False)
        results.curves.metrics.to_csv(out / "curve_metrics.csv")
    print(f"\nwrote {out}/results.parquet, summary.csv, summary.md, frontier.png"
          + (", curves.csv, curve_metrics.csv" if results.curves is not None else ""))


def _format_curves(metrics: Any) -> str:
    import pandas as pd

    cols = {}
    for key, label in (("aiq", "AIQ"), ("apgr", "APGR"), ("cpt50", "CPT(50%)"), ("cpt80", "CPT(80%)")):
        cols[label] = [f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if v == v else "—"
                       for v, lo, hi in zip(metrics[key], metrics[f"{key}_lo"], metrics[f"{key}_hi"])]
    return pd.DataFrame(cols, index=metrics.index).to_string()


def _calls_status(results: Any) -> int:
    """Exit 4, with the reason, when every call failed (a live run without keys, a dead endpoint)."""
    df = results.df
    if not len(df) or (df["error_type"] == "").any():
        return EXIT_OK
    kinds = df["error_type"].value_counts()
    first = df.loc[df["error_type"] == kinds.index[0], "error"].iloc[0]
    print(f"routerlab: every call failed ({len(df):,} rows; {', '.join(f'{k}: {v:,}' for k, v in kinds.items())}). "
          f"First {kinds.index[0]}: {_sentence(clip_sentences(str(first)))} Fix the keys or endpoints and run again: the failed "
          "units are retried (--no-retry-failed keeps them)", file=sys.stderr)
    return EXIT_CALLS


def _parser() -> tuple[ArgumentParser, ArgumentParser]:
    """The top-level parser and its ``run`` subparser (``serve`` and ``export`` parse their own flags)."""
    doc = __doc__ or ""
    parser = ArgumentParser(prog="routerlab", description=doc.split("\n\n")[0], epilog=doc.split("\n\n", 1)[-1],
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"routerlab {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    run = _run_parser(sub)
    sub.add_parser("serve", help="start the local provider server (see 'routerlab serve --help')", add_help=False)
    sub.add_parser("export", help="export a routing table to production configs (see 'routerlab export --help')",
                   add_help=False)
    return parser, run


def _sentence(text: str) -> str:
    """``text`` ending as a sentence, so the next one can follow."""
    return text if text.endswith((".", "!", "?")) else text + "."


def main(argv: list[str] | None = None) -> int:
    """The ``routerlab`` command; returns the exit code (see the module doc)."""
    parser, run = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    warnings.formatwarning = _one_line_warning  # a warning is a line for the user, not a source location
    if argv[:1] == ["serve"]:
        from .server.serve import serve_main

        return int(serve_main(argv[1:]) or 0)
    if argv[:1] == ["export"]:
        from .export import export_main

        return int(export_main(argv[1:]) or 0)
    args, extra = parser.parse_known_args(argv)
    if extra:  # name the subcommand whose options were wrong, not the top level
        (run if args.command == "run" else parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return EXIT_CONFIG
    return _guarded(args)


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      line: str | None = None) -> str:
    return f"routerlab: warning: {message}\n"


def _guarded(args: argparse.Namespace) -> int:
    """``cmd_run`` with every expected error as one line and its exit code, never a traceback."""
    from .errors import ConfigError, DatasetError, RouterlabError, StoreError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("once")
            return cmd_run(args)
    except DatasetError as exc:
        return fail("routerlab run", f"data set error: {exc}", EXIT_DATA)
    except ConfigError as exc:
        return fail("routerlab run", str(exc), EXIT_CONFIG)
    except StoreError as exc:  # the file --store (or the live default) names: the user's argument
        return fail("routerlab run", f"{exc} (--store PATH chooses the file)", EXIT_CONFIG)
    except RouterlabError as exc:
        return fail("routerlab run", f"{type(exc).__name__}: {exc}", EXIT_CALLS)
    except OSError as exc:
        return fail("routerlab run", f"{exc.filename or 'file'}: {exc.strerror or exc}", EXIT_CONFIG)
    except KeyboardInterrupt:
        return fail("routerlab run", "interrupted; finished units are kept in the store (--store) for a re-run", 130)
    except Exception as exc:  # noqa: BLE001 - a bug: one line and where to look, the traceback only on request
        if os.environ.get("ROUTERLAB_DEBUG"):
            raise
        return fail("routerlab run", f"unexpected {type(exc).__name__}: {exc} (a bug; ROUTERLAB_DEBUG=1 shows "
                    "the traceback)", EXIT_ERROR)


def _version() -> str:
    from ._version import __version__

    return __version__


if __name__ == "__main__":
    raise SystemExit(main())
