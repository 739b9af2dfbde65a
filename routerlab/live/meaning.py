"""Do two near-identical prompts ask the same thing? The cheap check a semantic cache makes before serving.

An embedding puts "What is the capital of France?" and "What is the capital of Spain?" (or "Is X safe?"
and "Is X not safe?", "17 × 23" and "17 × 24") close together; their answers differ. Before a cached
answer is served for a similar prompt, :class:`MeaningGuard` compares the two texts token by token and
refuses the match when any of these differ:

- **numbers**, in order: digits (``1,000`` = ``1000``, ``2.50`` = ``2.5``, the ``4`` of ``gpt-4``) and
  number words (``twenty-five`` = ``25``, ``first`` = ``1``);
- **negation**: how many of *not, no, never, none, nothing, nobody, nowhere, neither, nor, without,
  cannot, -n't* each text has;
- **antonyms**: a word of one text and a word of the other that WordNet 3.0 lists as direct antonyms
  (``large``/``small``, ``increase``/``decrease``, ``win``/``lose``; inflections undone with WordNet's
  own rules: ``largest``, ``worse``), or that differ by a negating prefix (``likely``/``unlikely``);
- **names**, in order: capitalised words (at a sentence start only when the word is not a common
  lower-case English word), single-letter variables, identifiers with digits or underscores: every name
  of either text must appear, in the same order, in the other (case aside);
- **quoted strings** (``'...'``, ``"..."``, `````...`````), exactly, in order;
- **operators** between operands (``+ - * / ^ = < > %``), in order;
- **every other word** (``strict=True``, the default), in order, apart from the words that only frame a
  request (:data:`FRAMING`: articles, *is/are*, *I/you*, *please, thanks, could you tell me, what, the
  following question*...). So "capital" → "population" is refused, and so is a reworded question: a miss
  costs one call, a wrong answer served costs more. Measured on labelled pairs
  (``benchmarks/bench_semantic_cache.py``), the category checks alone let 19 of 20 content-word swaps
  through; with this rule none.

The word lists are ``routerlab/data/lexicon.json.gz``, built from Princeton WordNet 3.0 and scikit-learn's
English stop words by ``scripts/build_lexicon.py`` (WordNet's license is inside the file). For prompts of
a few hundred characters, a text's features (:meth:`MeaningGuard.features`) take ~0.3 ms to compute and
two feature sets ~50 µs to compare (2-core machine under load); a cache computes an entry's once.

What it does not see: a change of meaning made only with framing words ("the answer" vs "an answer"),
a synonym of different sense; what it refuses although the meaning is kept: synonyms ("calculate" →
"compute"), reworded questions, number words it does not know ("a pair"). With ``strict=False`` only the
categories above are checked, for an embedder that already separates other changes of meaning.

Example::

    >>> g = MeaningGuard()
    >>> g.difference("What is the capital of France?", "what is the capital of france") is None
    True
    >>> g.difference("What is the capital of France?", "What is the capital of Spain?")
    "names differ: ['france'] vs ['spain']"
    >>> g.difference("Is the bridge safe?", "Is the bridge not safe?")
    'negation differs: 0 vs 1 negating words'
    >>> g.difference("Name the largest planet", "Name the smallest planet")
    "antonyms: 'largest' vs 'smallest'"
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources

__all__ = ["FRAMING", "Lexicon", "MeaningGuard", "TextFeatures"]

_NEGATIONS = frozenset({"not", "no", "never", "none", "nothing", "nobody", "nowhere", "neither", "nor", "without",
                        "noone", "nope"})
# Words that frame a request without changing what it asks: articles, the present copula, the asker and the
# assistant, politeness, and request verbs/nouns ("Could you please tell me what the answer to the following
# question is? Thanks!"). In strict mode every other word must be the same, in the same order.
FRAMING = frozenset({
    "a", "an", "the", "is", "are", "am", "be", "i", "me", "my", "you", "your", "we", "us", "our", "please", "kindly",
    "thanks", "thank", "hi", "hello", "hey", "can", "could", "would", "tell", "know", "help", "question", "answer",
    "following", "what", "do", "does"})
_CONTRACTED = {"n't": "not", "'ll": "will", "'re": "are", "'ve": "have", "'d": "would", "'m": "am"}
_CONTRACTION = re.compile(r"(n't|'ll|'re|'ve|'d|'m|'s)$")
_NEG_PREFIXES = ("un", "in", "im", "il", "ir", "non", "dis")
_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i > 1}
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_ORDINALS = {w: i + 1 for i, w in enumerate(  # not "second": far more often the unit of time
    "first _ third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split()) if w != "_"}
_OTHER_NUMBERS = {"dozen": "12", "half": "0.5", "twice": "2", "hundredth": "100", "thousandth": "1000"}
_VALUES: dict[str, Decimal] = {w: Decimal(v) for table in (_UNITS, _TENS, _ORDINALS) for w, v in table.items()}
_VALUES.update((w, Decimal(v)) for w, v in _OTHER_NUMBERS.items())
_NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TENS) | frozenset(_SCALES) | {"hundred"} | frozenset(_ORDINALS) | \
    frozenset(_OTHER_NUMBERS)
# WordNet's "morphy" suffix rules (noun, verb, adjective), tried when a form is not an irregular exception
_SUFFIXES = (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
             ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""), ("er", ""),
             ("est", ""), ("er", "e"), ("est", "e"))

_TOKENS = re.compile(r"""
    (?P<quote>(?<![\w'])'[^'\n]{1,200}'(?![\w'])|"[^"\n]{1,200}"|“[^”\n]{1,200}”|`[^`\n]{1,200}`)
  | (?P<num>\d+(?:[.,]\d+)*)
  | (?P<word>[^\W\d_]+(?:['’][^\W\d_]+)*(?:_\w*)?)
  | (?P<op>\*\*|[=!<>]=|[+*^=<>×÷≤≥≠]|(?<=[\d\s)])[-/](?=[\s\d(])|(?<=\d)%)
""", re.VERBOSE)
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_OPENERS = frozenset(" \t\r\"'([*#>-“‘")
_ENDS = frozenset(".!?:;\n")


@dataclass(frozen=True)
class Lexicon:
    """Word lists for the meaning check: direct antonym pairs, irregular forms, common lower-case words
    (``stop``: the function words among them).

    :meth:`default` loads the packaged ``lexicon.json.gz`` (WordNet 3.0, see ``scripts/build_lexicon.py``).

    Example::

        >>> lx = Lexicon.default()
        >>> lx.antonymous("bigger", "smaller"), lx.antonymous("big", "large"), lx.is_common("tell")
        (True, False, True)
    """

    antonyms: frozenset[tuple[str, str]]
    exceptions: dict[str, tuple[str, ...]]
    common: frozenset[str]
    stop: frozenset[str] = frozenset()

    @classmethod
    @functools.cache
    def default(cls) -> Lexicon:
        with resources.files("routerlab").joinpath("data/lexicon.json.gz").open("rb") as f:
            raw = json.loads(gzip.decompress(f.read()))
        pairs = frozenset((a, b) for a, b in raw["antonyms"]) | frozenset((b, a) for a, b in raw["antonyms"])
        return cls(pairs, {k: tuple(v) for k, v in raw["exceptions"].items()}, frozenset(raw["common"]),
                   frozenset(raw["stop"]))

    @functools.cached_property
    def _known(self) -> frozenset[str]:
        return self.common | {a for a, _ in self.antonyms}

    def lemmas(self, word: str) -> set[str]:
        """``word`` (lower case) and the base forms WordNet's rules give for it: ``largest`` → {largest, large}."""
        out = {word, *self.exceptions.get(word, ())}
        for suffix, repl in _SUFFIXES:
            if word.endswith(suffix) and len(word) > len(suffix) + 1:
                base = word[: len(word) - len(suffix)] + repl
                if base in self._known:
                    out.add(base)
        return out

    def antonymous(self, a: str, b: str) -> bool:
        """Whether words ``a`` and ``b`` (lower case) are antonyms, or one is the other with a negating prefix."""
        la, lb = self.lemmas(a), self.lemmas(b)
        if any((x, y) in self.antonyms for x in la for y in lb):
            return True
        return any(len(x) >= 4 and y == p + x or len(y) >= 4 and x == p + y
                   for x in la for y in lb for p in _NEG_PREFIXES)

    def is_common(self, word: str) -> bool:
        """Whether ``word`` (lower case), or its base form, is a common lower-case English word."""
        return any(w in self.common for w in self.lemmas(word))


@dataclass(frozen=True)
class TextFeatures:
    """What the meaning check compares, computed once per text (see :meth:`MeaningGuard.features`)."""

    words: tuple[str, ...]  # lower case, possessive 's and -n't removed
    names: frozenset[str]
    numbers: tuple[str, ...]
    negations: int
    quotes: tuple[str, ...]
    operators: tuple[str, ...]
    core: tuple[str, ...]  # the words in order, without FRAMING words and number words


class MeaningGuard:
    """Refuses a match between two similar texts whose meaning differs (see the module docstring).

    ``lexicon`` defaults to the packaged WordNet lists; ``strict`` (default) also requires every word but
    the :data:`FRAMING` ones to be the same, in order. :meth:`difference` returns why two texts differ
    (None when no check finds a difference); :meth:`same` is its boolean.

    Example::

        >>> MeaningGuard().same("What is 17 * 23?", "what's 17*23")
        True
        >>> MeaningGuard().difference("What is 17 * 23?", "What is 17 * 24?")
        "numbers differ: ['17', '23'] vs ['17', '24']"
    """

    def __init__(self, lexicon: Lexicon | None = None, *, strict: bool = True) -> None:
        self._lexicon = lexicon
        self.strict = bool(strict)

    @property
    def lexicon(self) -> Lexicon:
        if self._lexicon is None:
            self._lexicon = Lexicon.default()
        return self._lexicon

    def features(self, text: str) -> TextFeatures:
        """The tokens of ``text`` that carry its meaning: words, names, numbers, negations, quotes, operators."""
        words: list[str] = []
        names: set[str] = set()
        numbers: list[tuple[int, str]] = []
        quotes, operators = [], []
        negations = 0
        spelled = False
        for m in _TOKENS.finditer(text):
            kind, tok = m.lastgroup, m.group()
            if kind == "quote":
                quotes.append(tok[1:-1])
            elif kind == "num":
                numbers.append((m.start(), _normal_number(tok)))
            elif kind == "op":
                operators.append({"×": "*", "÷": "/", "**": "^"}.get(tok, tok))
            else:
                parts = _base_words(tok)
                negations += sum(w in _NEGATIONS for w in parts)
                words.extend(parts)
                spelled = spelled or parts[0] in _NUMBER_WORDS
                if parts[0] not in FRAMING and self._is_name(tok, parts[0], text, m.start()):
                    names.add(parts[0])
        if spelled:
            numbers.extend(_number_words(text))
        core = tuple(w for w in words if w not in FRAMING and w not in _NUMBER_WORDS)
        return TextFeatures(tuple(words), frozenset(names), tuple(v for _, v in sorted(numbers)), negations,
                            tuple(quotes), tuple(operators), core)

    def _is_name(self, tok: str, word: str, text: str, start: int) -> bool:
        if len(tok) == 1:
            return tok not in "aAiI"  # a single-letter variable (x, y, n, B)
        if "_" in tok:
            return True  # snake_case
        if tok.islower():
            return False
        rest = tok[1:]
        if not rest.islower():  # camelCase, iPhone, NASA (not I'm, I'll)
            return word not in ("i'm", "i'll", "i've", "i'd")
        if not tok[0].isupper():
            return False
        if not _starts_sentence(text, start):
            return True  # capitalised inside a sentence
        return not (word in _NUMBER_WORDS or self.lexicon.is_common(word))

    def difference(self, a: str | TextFeatures, b: str | TextFeatures) -> str | None:
        """Why ``a`` and ``b`` (texts, or their :meth:`features`) differ in meaning; None when no check finds it."""
        fa = a if isinstance(a, TextFeatures) else self.features(a)
        fb = b if isinstance(b, TextFeatures) else self.features(b)
        if fa.numbers != fb.numbers:
            return f"numbers differ: {list(fa.numbers)} vs {list(fb.numbers)}"
        if fa.negations != fb.negations:
            return f"negation differs: {fa.negations} vs {fb.negations} negating words"
        if fa.quotes != fb.quotes:
            return f"quoted strings differ: {list(fa.quotes)} vs {list(fb.quotes)}"
        if fa.operators != fb.operators:
            return f"operators differ: {list(fa.operators)} vs {list(fb.operators)}"
        names = fa.names | fb.names
        seq_a, seq_b = [w for w in fa.words if w in names], [w for w in fb.words if w in names]
        if seq_a != seq_b:
            return f"names differ: {seq_a} vs {seq_b}"
        why = self._antonyms(fa.words, fb.words)
        if why is None and self.strict and fa.core != fb.core:
            ca, cb = Counter(fa.core), Counter(fb.core)
            extra_a, extra_b = sorted((ca - cb).elements()), sorted((cb - ca).elements())
            return f"words differ: {extra_a} vs {extra_b}" if extra_a or extra_b else "word order differs"
        return why

    def _antonyms(self, a: Iterable[str], b: Iterable[str]) -> str | None:
        ca, cb = Counter(a), Counter(b)  # counts: "question this question" vs "answer this question"
        only_a, only_b = sorted(ca - cb)[:64], sorted(cb - ca)[:64]
        for x in only_a:
            for y in only_b:
                if self.lexicon.antonymous(x, y):
                    return f"antonyms: {x!r} vs {y!r}"
        return None

    def same(self, a: str | TextFeatures, b: str | TextFeatures) -> bool:
        """True when :meth:`difference` finds nothing."""
        return self.difference(a, b) is None

    def __repr__(self) -> str:
        return f"MeaningGuard(strict={self.strict})"


def _starts_sentence(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in _OPENERS:
        i -= 1
    return i < 0 or text[i] in _ENDS


def _fmt(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _base_words(tok: str) -> list[str]:
    """Lower case; a contraction split into its words (``don't`` → do not, ``I'll`` → i will, ``cannot`` →
    can not); a possessive or ambiguous ``'s`` dropped (``France's`` → france, ``what's`` → what)."""
    w = tok.lower().replace("’", "'")
    if w == "cannot":
        return ["can", "not"]
    m = _CONTRACTION.search(w)
    if m is None:
        return [w]
    head = w[: m.start()]
    if m.group() == "n't":
        head = {"ca": "can", "wo": "will", "sha": "shall"}.get(head, head)
    rest = _CONTRACTED.get(m.group())
    return [head, rest] if rest else [head]


def _normal_number(tok: str) -> str:
    if _THOUSANDS.fullmatch(tok):
        tok = tok.replace(",", "")
    try:
        return _fmt(Decimal(tok)) if "," not in tok else tok
    except InvalidOperation:
        return tok


_NUMBER_RUN = re.compile(r"\b(?:%s)(?:(?:[\s-]+|\s+and\s+)(?:%s))*\b" % (("|".join(sorted(_NUMBER_WORDS)),) * 2),
                         re.IGNORECASE)


def _number_words(text: str) -> list[tuple[int, str]]:
    """(position, value) of each run of number words: ``twenty-five`` → 25, ``three hundred and two`` → 302."""
    out = []
    for m in _NUMBER_RUN.finditer(text):
        total = current = Decimal(0)
        for w in re.split(r"[\s-]+", m.group().lower()):
            if w in _VALUES:
                current += _VALUES[w]
            elif w == "hundred":
                current = max(current, Decimal(1)) * 100
            elif w in _SCALES:
                total += max(current, Decimal(1)) * _SCALES[w]
                current = Decimal(0)
        out.append((m.start(), _fmt(total + current)))
    return out
