#!/usr/bin/env python3
"""Build ``routerlab/data/lexicon.json.gz``, the word lists the semantic cache's meaning check reads.

Run from the repository root (Debian's ``wordnet-base`` package provides the database)::

    apt-get install -y wordnet-base
    python scripts/build_lexicon.py [--wordnet /usr/share/wordnet] [--out routerlab/data/lexicon.json.gz]

From Princeton WordNet 3.0 (``data.{noun,verb,adj,adv}``, ``{noun,verb,adj,adv}.exc``):

- ``antonyms``: every direct antonym pair (WordNet's lexical ``!`` pointer between two words), single
  words only, lower case: ``large``/``small``, ``increase``/``decrease``, ``before``/``after``...
- ``exceptions``: irregular inflections → base forms (``worse`` → ``bad``, ``ran`` → ``run``), from the
  ``.exc`` files; regular ones are undone at run time by WordNet's own suffix rules ("morphy").
- ``common``: single words that WordNet lists in lower case (``tell``, ``capital``; not ``paris``), plus
  scikit-learn's English stop words (the Glasgow IR group's list): a capitalised word at the start of a
  sentence is taken for a name unless it is one of these.
- ``stop``: those stop words alone.

WordNet 3.0 Copyright 2006 by Princeton University; its license (BSD-like, redistribution allowed with the
notice) is copied into the output's ``license`` field. The build is deterministic.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

POS = ("noun", "verb", "adj", "adv")
LICENSE = """WordNet Release 3.0. This software and database is being provided to you, the LICENSEE, by Princeton
University under the following license. By obtaining, using and/or copying this software and database, you
agree that you have read, understood, and will comply with these terms and conditions.: Permission to use,
copy, modify and distribute this software and database and its documentation for any purpose and without fee
or royalty is hereby granted, provided that you agree to comply with the following copyright notice and
statements, including the disclaimer, and that the same appear on ALL copies of the software, database and
documentation, including modifications that you make for internal use or for distribution. WordNet 3.0
Copyright 2006 by Princeton University. All rights reserved. THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS"
AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES, EXPRESS OR IMPLIED. BY WAY OF EXAMPLE, BUT
NOT LIMITATION, PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES OF MERCHANT- ABILITY OR FITNESS
FOR ANY PARTICULAR PURPOSE OR THAT THE USE OF THE LICENSED SOFTWARE, DATABASE OR DOCUMENTATION WILL NOT
INFRINGE ANY THIRD PARTY PATENTS, COPYRIGHTS, TRADEMARKS OR OTHER RIGHTS. The name of Princeton University
or Princeton may not be used in advertising or publicity pertaining to distribution of the software and/or
database. Title to copyright in this software, database and any associated documentation shall at all times
remain with Princeton University and LICENSEE agrees to preserve same."""
_WORD = re.compile(r"[a-z]+(?:['-][a-z]+)*")


def _synsets(path: Path) -> dict[str, tuple[list[str], list[tuple[str, str, str, str]]]]:
    """offset → (words as written, pointers (symbol, offset, pos, source/target))."""
    out = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):  # the license header
            continue
        fields = line.split(" | ")[0].split()
        n_words = int(fields[3], 16)
        words = [re.sub(r"\(.*\)$", "", fields[4 + 2 * i]) for i in range(n_words)]
        at = 4 + 2 * n_words
        n_ptrs = int(fields[at])
        ptrs = [tuple(fields[at + 1 + 4 * j: at + 5 + 4 * j]) for j in range(n_ptrs)]
        out[fields[0]] = (words, ptrs)
    return out


def build(wordnet: Path) -> dict[str, object]:
    pos_letter = {"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}
    data = {p: _synsets(wordnet / f"data.{p}") for p in POS}
    antonyms: set[tuple[str, str]] = set()
    lower: set[str] = set()
    for pos, synsets in data.items():
        for words, ptrs in synsets.values():
            lower.update(w for w in words if not w[:1].isupper())
            for symbol, offset, letter, st in ptrs:
                if symbol != "!":
                    continue
                src = words[int(st[:2], 16) - 1].lower()
                dst = data[pos_letter[letter]][offset][0][int(st[2:], 16) - 1].lower()
                if _WORD.fullmatch(src) and _WORD.fullmatch(dst) and src != dst:
                    antonyms.add((min(src, dst), max(src, dst)))
    exceptions: dict[str, set[str]] = {}
    for pos in POS:
        for line in (wordnet / f"{pos}.exc").read_text(encoding="latin-1").splitlines():
            form, *bases = line.split()
            if _WORD.fullmatch(form):
                exceptions.setdefault(form, set()).update(b for b in bases if _WORD.fullmatch(b) and b != form)
    common = {w for w in lower if _WORD.fullmatch(w)} | set(ENGLISH_STOP_WORDS)
    return {
        "source": "Princeton WordNet 3.0 (Debian package wordnet-base), built by scripts/build_lexicon.py; "
                  "stop words: scikit-learn's ENGLISH_STOP_WORDS",
        "license": LICENSE,
        "antonyms": sorted(antonyms),
        "exceptions": {k: sorted(v) for k, v in sorted(exceptions.items()) if v},
        "common": sorted(common),
        "stop": sorted(ENGLISH_STOP_WORDS),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--wordnet", default="/usr/share/wordnet", type=Path)
    ap.add_argument("--out", default=Path(__file__).resolve().parents[1] / "routerlab/data/lexicon.json.gz", type=Path)
    args = ap.parse_args()
    lexicon = build(args.wordnet)
    raw = json.dumps(lexicon, separators=(",", ":"), sort_keys=True).encode()
    with open(args.out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw)
    print(f"{args.out}: {len(lexicon['antonyms'])} antonym pairs, {len(lexicon['exceptions'])} irregular forms, "
          f"{len(lexicon['common'])} common words; {args.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
