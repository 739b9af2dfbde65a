#!/usr/bin/env python3
"""Build the labelled prompt pairs that the semantic cache's default threshold is measured on.

Run from the repository root (deterministic: the same inputs give the same file)::

    python benchmarks/semantic_pairs.py [--per-task 50] [--seed 12] [--out benchmarks/data/semantic_pairs.jsonl.gz]

**Source prompts**: the bundled real prompts (``datasets/routellm``: GSM8K, MMLU, MT-Bench first turns;
``datasets/zeroeval``: CRUXEval and MATH level 5, with ZeroEval's own prompt template), ``--per-task``
of each task drawn with a seeded RNG among prompts of 40-1,000 characters.

**Pairs** ``(query, cached)``, where ``cached`` is the real prompt and ``label`` says whether the cached
prompt's answer is a right answer to the query. Each rule is general (no table fitted to examples):

- ``paraphrase:<rules>`` (label True), one or two meaning-keeping rewrites: ``case`` (lower-case a prose
  prompt without quoted or code text), ``space`` (re-spacing), ``punct`` (drop or add the final ``?``/``.``),
  ``prefix`` (``Question:``, ``Please answer the following.`` ...), ``suffix`` (``Thanks!`` ...),
  ``contraction`` (``what is`` ↔ ``what's``, ``do not`` ↔ ``don't`` ...), ``verb`` (``Calculate`` ↔
  ``Compute``, ``Find`` ↔ ``Determine``), ``thousands`` (``1500`` ↔ ``1,500``), ``digits`` (``3 apples`` ↔
  ``three apples``).
- ``perturb:<rule>`` (label False), one meaning-changing edit: ``number`` (one number changed), ``negation``
  (``not`` added after the first auxiliary verb, or removed), ``antonym`` (a word swapped for a WordNet
  antonym), ``entity`` (a capitalised name swapped for another name from the corpus), ``operator`` (``+``
  ↔ ``-``, ``*`` ↔ ``/``, ``<`` ↔ ``>``), ``quote`` (one character of a quoted string changed), ``content``
  (one content word swapped for another word of the corpus: the change the meaning check cannot see).
- ``distinct`` (label False): for every second prompt of each split, the most similar *other* real prompt of the same
  task (hashing embedding): real near-duplicates, e.g. two MATH questions in the same template.

``split`` is ``tune`` or ``test`` by source prompt (alternating in draw order): the threshold is chosen
on ``tune`` and reported on ``test`` (``benchmarks/bench_semantic_cache.py``). Antonym and negation edits
use the same lexicon as the meaning check, so its catch rate on them is high by construction; the
``content`` and ``distinct`` pairs are what the similarity threshold alone must refuse.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from routerlab.embeddings import HashingEmbedder  # noqa: E402
from routerlab.live.meaning import Lexicon  # noqa: E402

TASKS = {"routellm": ("gsm8k", "mmlu", "mt-bench"), "zeroeval": ("crux", "math-l5")}
PROSE = ("gsm8k", "mmlu", "mt-bench")
LITERALS = re.compile(r"['\"`]|\bdef\b|\$|\\")
CONTRACTIONS = [("what is", "what's"), ("it is", "it's"), ("do not", "don't"), ("does not", "doesn't"),
                ("is not", "isn't"), ("cannot", "can't"), ("there is", "there's"), ("let us", "let's"),
                ("i am", "I'm"), ("that is", "that's"), ("are not", "aren't"), ("will not", "won't")]
VERBS = [("Calculate", "Compute"), ("calculate", "compute"), ("Find", "Determine"), ("find", "determine")]
PREFIXES = ["Question: ", "Please answer the following. ", "I have a question. ", "Help me with this:\n"]
SUFFIXES = [" Thanks!", "\nThank you.", " Please help."]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
AUX = re.compile(r"\b(is|are|was|were|can|could|will|would|should|does|do|did|has|have|must)\b(?! not)")
OPS = {"+": "-", "-": "+", "*": "/", "/": "*", "<": ">", ">": "<"}


def load_prompts(per_task: int, rng: random.Random) -> list[dict[str, str]]:
    out = []
    for name, tasks in TASKS.items():
        df = pd.read_parquet(ROOT / "datasets" / name / "prompts.parquet")
        for task in tasks:
            rows = df[(df.task == task) & df.prompt.str.len().between(40, 1000)]
            picks = rng.sample(range(len(rows)), min(per_task, len(rows)))
            out += [{"prompt_id": rows.prompt_id.iloc[i], "task": task, "prompt": rows.prompt.iloc[i]} for i in picks]
    return out


# --- meaning-keeping rewrites (None: does not apply) -------------------------------------------------
def _case(p: str, task: str, rng: random.Random) -> str | None:
    return p.lower() if task in PROSE and not LITERALS.search(p) else None


def _space(p: str, task: str, rng: random.Random) -> str | None:
    return re.sub(r"(?<=[.?!]) (?=\S)", "  ", p) if rng.random() < 0.5 and re.search(r"[.?!] \S", p) else \
        "  " + p.strip() + "\n"


def _punct(p: str, task: str, rng: random.Random) -> str | None:
    s = p.rstrip()
    if s.endswith(("?", ".")):
        return s[:-1]
    return s + ("?" if re.match(r"(?i)(what|how|which|who|why|when|where|is|are|do|does|can)\b", s) else ".")


def _prefix(p: str, task: str, rng: random.Random) -> str | None:
    return rng.choice(PREFIXES) + p


def _suffix(p: str, task: str, rng: random.Random) -> str | None:
    return p.rstrip() + rng.choice(SUFFIXES)


def _contraction(p: str, task: str, rng: random.Random) -> str | None:
    options = [(a, b) for a, b in CONTRACTIONS if re.search(rf"\b{re.escape(a)}\b", p, re.I)] + \
              [(b, a) for a, b in CONTRACTIONS if re.search(rf"\b{re.escape(b)}\b", p, re.I)]
    if not options:
        return None
    a, b = rng.choice(options)
    return re.sub(rf"\b{re.escape(a)}\b", lambda m: b[0].upper() + b[1:] if m.group()[0].isupper() else b, p, 1,
                  flags=re.I)


def _verb(p: str, task: str, rng: random.Random) -> str | None:
    options = [(a, b) for a, b in VERBS + [(b, a) for a, b in VERBS] if re.search(rf"\b{a}\b", p)]
    if not options:
        return None
    a, b = rng.choice(options)
    return re.sub(rf"\b{a}\b", b, p, 1)


def _thousands(p: str, task: str, rng: random.Random) -> str | None:
    if task not in PROSE:
        return None
    m = re.search(r"(?<![\d,.])\d{4,7}(?![\d,.])", p) or re.search(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?![\d,.])", p)
    if m is None:
        return None
    num = m.group()
    new = num.replace(",", "") if "," in num else f"{int(num):,}"
    return p[:m.start()] + new + p[m.end():]


def _digits(p: str, task: str, rng: random.Random) -> str | None:
    if task not in PROSE:
        return None
    m = re.search(r"(?<![\w.,$/-])(10|[0-9]) (?=[a-z]{3,})", p)
    if m is not None:
        return p[:m.start()] + NUMBER_WORDS[int(m.group(1))] + " " + p[m.end():]
    m = re.search(r"(?<![\w/-])(%s) (?=[a-z]{3,})" % "|".join(NUMBER_WORDS[2:]), p)
    return None if m is None else p[:m.start()] + str(NUMBER_WORDS.index(m.group(1))) + " " + p[m.end():]


PARAPHRASES: dict[str, Callable[[str, str, random.Random], str | None]] = {
    "case": _case, "space": _space, "punct": _punct, "prefix": _prefix, "suffix": _suffix,
    "contraction": _contraction, "verb": _verb, "thousands": _thousands, "digits": _digits}


# --- meaning-changing edits --------------------------------------------------------------------------
class Perturb:
    def __init__(self, prompts: list[dict[str, str]], lexicon: Lexicon, rng: random.Random) -> None:
        self.rng = rng
        self.antonyms: dict[str, list[str]] = {}
        for a, b in sorted(lexicon.antonyms):
            self.antonyms.setdefault(a, []).append(b)
        text = "\n".join(p["prompt"] for p in prompts)
        self.names = sorted({m.group(1) for m in re.finditer(r"(?<=[a-z,] )([A-Z][a-z]{2,})\b", text)})
        words = Counter(w for w in re.findall(r"\b[a-z]{5,}\b", text))
        self.vocab = sorted(w for w, n in words.items() if n >= 2 and w not in lexicon.stop)
        self._vocab = set(self.vocab)

    def number(self, p: str) -> str | None:
        spots = list(re.finditer(r"\d+", p))
        if not spots:
            return None
        m = self.rng.choice(spots)
        v = int(m.group())
        return p[:m.start()] + str(v + self.rng.randint(1, 9) if self.rng.random() < 0.7 else v * 2 + 1) + p[m.end():]

    def negation(self, p: str) -> str | None:
        m = re.search(r" not\b", p)
        if m is not None:
            return p[:m.start()] + p[m.end():]
        m = re.search(r"\b(\w+)n't\b", p)
        if m is not None:
            base = {"ca": "can", "wo": "will", "sha": "shall"}.get(m.group(1), m.group(1))
            return p[:m.start()] + base + p[m.end():]
        m = AUX.search(p)
        return None if m is None else p[:m.end()] + " not" + p[m.end():]

    def antonym(self, p: str) -> str | None:
        spots = [m for m in re.finditer(r"\b[A-Za-z]{3,}\b", p) if m.group().lower() in self.antonyms]
        if not spots:
            return None
        m = self.rng.choice(spots)
        new = self.rng.choice(self.antonyms[m.group().lower()])
        return p[:m.start()] + (new.capitalize() if m.group()[0].isupper() else new) + p[m.end():]

    def entity(self, p: str) -> str | None:
        spots = list(re.finditer(r"(?<=[a-z,] )([A-Z][a-z]{2,})\b", p))
        if not spots:
            return None
        m = self.rng.choice(spots)
        new = self.rng.choice([n for n in self.names if n != m.group()])
        return p[:m.start()] + new + p[m.end():]

    def operator(self, p: str) -> str | None:
        spots = list(re.finditer(r"(?<=[\w)] )[-+*/<>](?= [\w(])|(?<=\d)[-+*/<>](?=\d)", p))
        if not spots:
            return None
        m = self.rng.choice(spots)
        return p[:m.start()] + OPS[m.group()] + p[m.end():]

    def quote(self, p: str) -> str | None:
        spots = [m for m in re.finditer(r"(['\"])([A-Za-z]{2,40})\1", p)]
        if not spots:
            return None
        m = self.rng.choice(spots)
        inner = m.group(2)
        i = self.rng.randrange(len(inner))
        ch = inner[i]
        swapped = ch.lower() if ch.isupper() else ("a" if ch != "a" else "e")
        return p[:m.start(2)] + inner[:i] + swapped + inner[i + 1:] + p[m.end(2):]

    def content(self, p: str) -> str | None:
        spots = [m for m in re.finditer(r"\b[a-z]{5,}\b", p) if m.group() in self._vocab]
        if not spots:
            return None
        m = self.rng.choice(spots)
        new = self.rng.choice([w for w in self.vocab if w != m.group()])
        return p[:m.start()] + new + p[m.end():]


KINDS = ("number", "negation", "antonym", "entity", "operator", "quote", "content")


def build(per_task: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    prompts = load_prompts(per_task, rng)
    perturb = Perturb(prompts, Lexicon.default(), rng)
    used: Counter[str] = Counter()
    pairs: list[dict[str, object]] = []
    emb = HashingEmbedder()
    by_task: dict[str, pd.DataFrame] = {}
    for name, tasks in TASKS.items():
        df = pd.read_parquet(ROOT / "datasets" / name / "prompts.parquet")
        for task in tasks:
            by_task[task] = df[(df.task == task) & df.prompt.str.len().between(40, 1000)].reset_index(drop=True)
    vectors = {t: emb.embed(list(d.prompt)) for t, d in by_task.items()}
    for k, src in enumerate(prompts):
        p, task, split = src["prompt"], src["task"], ("tune" if k % 2 == 0 else "test")
        base = {"prompt_id": src["prompt_id"], "task": task, "split": split, "cached": p}
        names = rng.sample(sorted(PARAPHRASES), len(PARAPHRASES))
        q, applied, want = p, [], rng.choice((1, 2))
        for r in names:
            new = PARAPHRASES[r](q, task, rng)
            if new is not None and new != q:
                q, applied = new, applied + [r]
            if len(applied) == want:
                break
        pairs.append({**base, "kind": "paraphrase:" + "+".join(applied), "label": True, "query": q})
        for kind in sorted(KINDS, key=lambda x: (used[x], rng.random())):  # the least used kind that applies
            new = getattr(perturb, kind)(p)
            if new is not None and new != p:
                used[kind] += 1
                pairs.append({**base, "kind": f"perturb:{kind}", "label": False, "query": new})
                break
        if (k // 2) % 2 == 0:  # every second prompt of each split
            d = by_task[task]
            sims = vectors[task] @ emb.embed([p])[0]
            order = np.argsort(-sims, kind="stable")
            norm = " ".join(p.lower().split())
            other = next(d.prompt[i] for i in order if " ".join(d.prompt[i].lower().split()) != norm)
            pairs.append({**base, "kind": "distinct", "label": False, "query": other})
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--per-task", type=int, default=50)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "data" / "semantic_pairs.jsonl.gz")
    args = ap.parse_args()
    pairs = build(args.per_task, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    raw = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in pairs).encode()
    with open(args.out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw)
    kinds = Counter(str(r["kind"]).split(":")[0] + (":" + str(r["kind"]).split(":")[1] if str(r["kind"]).startswith(
        "perturb") else "") for r in pairs)
    print(f"{args.out}: {len(pairs)} pairs; {dict(sorted(kinds.items()))}")


if __name__ == "__main__":
    main()
