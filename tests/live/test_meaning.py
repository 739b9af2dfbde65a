"""The semantic cache's meaning check: near-identical prompts whose meaning differs are refused, with why."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from routerlab.embeddings import HashingEmbedder
from routerlab.live.cache import DEFAULT_THRESHOLD
from routerlab.live.meaning import FRAMING, Lexicon, MeaningGuard

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
GUARD = MeaningGuard()

REFUSED = [  # (a, b, the check that must say why)
    # negation, in its forms
    ("Is the bridge safe to cross?", "Is the bridge not safe to cross?", "negation"),
    ("Does aspirin thin the blood?", "Doesn't aspirin thin the blood?", "negation"),
    ("Which planets have rings?", "Which planets have no rings?", "negation"),
    ("Summarise the report with the tables", "Summarise the report without the tables", "negation"),
    ("Has a woman ever been elected president of France?", "Has a woman never been elected president of France?",
     "negation"),
    # numbers: digits, decimals, number words, numbers inside names
    ("What is 17 * 23?", "What is 17 * 24?", "numbers"),
    ("Convert 2.5 miles to kilometres", "Convert 25 miles to kilometres", "numbers"),
    ("Name three prime numbers", "Name four prime numbers", "numbers"),
    ("Who won the 2018 World Cup?", "Who won the 2014 World Cup?", "numbers"),
    ("Summarise the GPT-4 paper", "Summarise the GPT-3 paper", "numbers"),
    ("What is twenty-five squared?", "What is twenty-six squared?", "numbers"),
    ("Who was the first president of the United States?", "Who was the third president of the United States?",
     "numbers"),
    # antonyms (WordNet), inflected, and negating prefixes
    ("Name the largest planet in the solar system", "Name the smallest planet in the solar system", "antonyms"),
    ("Is coffee good for your heart?", "Is coffee bad for your heart?", "antonyms"),
    ("Why do interest rates increase in a recession?", "Why do interest rates decrease in a recession?", "antonyms"),
    ("Sort the list in ascending order", "Sort the list in descending order", "antonyms"),
    ("Is a recession likely next year?", "Is a recession unlikely next year?", "antonyms"),
    ("Which is heavier, a litre of oil or a litre of water?", "Which is lighter, a litre of oil or a litre of water?",
     "antonyms"),
    ("What is the maximum value of the function?", "What is the minimum value of the function?", "antonyms"),
    # names: mid-sentence, at the start of a sentence, order, code identifiers, variables
    ("What is the capital of France?", "What is the capital of Spain?", "names"),
    ("Who wrote Hamlet?", "Who wrote Macbeth?", "names"),
    ("Paris is the capital of which country?", "Lisbon is the capital of which country?", "names"),
    ("Is Paris bigger than London?", "Is London bigger than Paris?", "names"),
    ("What does df.groupby return in pandas?", "What does df.merge return in pandas?", "words"),
    ("Explain what my_function does", "Explain what your_function does", "names"),
    ("Solve for x: x + 2 = 7", "Solve for y: y + 2 = 7", "names"),
    # quoted strings and operators
    ("Translate 'good morning' into German", "Translate 'good evening' into German", "quoted"),
    ("What does f('Hello') return?", "What does f('hello') return?", "quoted"),
    ("Simplify (a + b)^2", "Simplify (a - b)^2", "operators"),
    ("Is 7 < 9?", "Is 7 > 9?", "operators"),
    # every other word (strict): content words, order
    ("What is the capital of France?", "What is the population of France?", "words"),
    ("How many legs does a spider have?", "How many eyes does a spider have?", "words"),
    ("Did the dog bite the man?", "Did the man bite the dog?", "order"),
    ("Who is the president of Brazil?", "Who was the president of Brazil?", "words"),
]

KEPT = [  # paraphrases that keep the meaning
    ("What is the capital of France?", "what is the capital of france"),
    ("What is the capital of France?", "Could you please tell me what the capital of France is? Thanks!"),
    ("What's 17 * 23?", "What is 17*23"),
    ("Don't use commas in the answer.", "Do not use commas in the answer"),
    ("I can't find the bug", "I cannot find the bug"),
    ("The company sold 1,500 units", "The company sold 1500 units."),
    ("Price: 2.50 dollars", "Price: 2.5 dollars"),
    ("She has 3 apples and buys twenty-five more", "She has three apples and buys 25 more"),
    ("Translate 'cat' to German", "Question: Translate 'cat' to German"),
    ("WHAT IS THE BOILING POINT OF WATER", "What is the boiling point of water?"),
    ("Explain how photosynthesis works.", "  Explain how photosynthesis works\n"),
]


@pytest.mark.parametrize(("a", "b", "check"), REFUSED)
def test_refused_with_the_check_that_saw_it(a: str, b: str, check: str) -> None:
    why = GUARD.difference(a, b)
    assert why is not None and why.startswith(check if check != "order" else "word order"), why
    assert GUARD.difference(b, a) is not None  # symmetric


@pytest.mark.parametrize(("a", "b"), KEPT)
def test_paraphrases_are_kept(a: str, b: str) -> None:
    assert GUARD.difference(a, b) is None


def test_these_pairs_are_similar_enough_that_the_threshold_alone_would_serve_them() -> None:
    """The check matters: half of these short pairs sit above the default threshold of the default embedder
    (for prompts of a few hundred characters, nearly all such pairs do: benchmarks/bench_semantic_cache.py)."""
    e = HashingEmbedder()
    sims = [float(e.embed([a])[0] @ e.embed([b])[0]) for a, b, _ in REFUSED]
    assert sum(s >= DEFAULT_THRESHOLD for s in sims) >= len(REFUSED) / 2


def test_category_checks_alone_let_content_words_through() -> None:
    loose = MeaningGuard(strict=False)
    assert loose.same("What is the capital of France?", "What is the population of France?")
    assert loose.difference("What is the capital of France?", "What is the capital of Spain?") is not None
    assert loose.difference("Is it hot?", "Is it cold?") == "antonyms: 'hot' vs 'cold'"


def test_features_are_computed_once_and_compared_many_times() -> None:
    f = GUARD.features("Janet's ducks lay 16 eggs per day; she eats three and doesn't sell 'brown' ones at x + 2.")
    assert f.numbers == ("16", "3", "2") and f.negations == 1 and f.quotes == ("brown",)
    assert f.operators == ("+",) and "janet" in f.names and "x" in f.names
    assert "not" in f.words and "janet" in f.core and not set(f.core) & FRAMING
    assert GUARD.difference(f, GUARD.features("Janet's ducks lay 16 eggs per day; she eats three and doesn't sell "
                                              "'brown' ones at x + 2.")) is None


def test_lexicon_is_wordnet() -> None:
    lx = Lexicon.default()
    assert len(lx.antonyms) > 6000 and ("increase", "decrease") in lx.antonyms
    assert lx.lemmas("worse") >= {"bad"} and lx.lemmas("largest") >= {"large"}
    assert lx.antonymous("better", "worse") and not lx.antonymous("big", "large")
    assert lx.is_common("calculating") and not lx.is_common("paris") and "the" in lx.stop


@pytest.mark.skipif(not Path("/usr/share/wordnet/data.adj").exists(), reason="apt-get install wordnet-base")
def test_the_packaged_lexicon_is_what_the_build_script_makes(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    out = tmp_path / "lexicon.json.gz"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_lexicon.py"), "--out", str(out)], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert json.loads(gzip.decompress(out.read_bytes())) == json.loads(
        gzip.decompress((ROOT / "routerlab" / "data" / "lexicon.json.gz").read_bytes()))


def test_docstring_examples_run() -> None:
    import doctest

    from routerlab.live import cache, meaning

    for module in (meaning, cache):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 5, module.__name__
