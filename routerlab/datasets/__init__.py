"""Datasets (prompts with references) and Outcomes (what each model answered), bundled or your own.

Example::

    >>> from routerlab import datasets
    >>> ds = datasets.load("zeroeval")          # the bundled default: 2,840 prompts x 9 models
    >>> ds.prompts.columns.tolist()[:4]
    ['prompt_id', 'task', 'prompt', 'reference']
    >>> ds.outcomes.models[:2]
    ['claude-3-haiku', 'claude-3-opus']

Your own data: ``datasets.load(path)`` reads a long-form table (one row per prompt x model:
``prompt_id, prompt, model`` plus ``task, reference, response, prediction, score, input_tokens,
output_tokens, cost, latency, sample``), the wide form RouterBench and RouteLLM use (one row per
prompt, columns per model), a directory of ``prompts.*`` and ``outcomes.*``, a DataFrame, and the
output of inspect-ai, lm-evaluation-harness, LLMRouterBench / OpenRouterBench and RouteLLM. Every
input goes through one validation path: a malformed row raises
:class:`~routerlab.errors.DatasetError` naming the file, the line (or row) and the field.

Recorded costs are used as recorded (catalog prices only fill gaps); models the catalog does not
know load and replay; empty cells are missing, never 0; each task is scored by the scorer the data
set names (exact match unless named).
"""

from __future__ import annotations

from ._costs import COST_SOURCES
from ._dataset import Dataset, Outcomes, bundled, data_dir
from ._load import FORMATS, from_frames, load
from ._scores import score_outcomes

__all__ = ["Dataset", "Outcomes", "load", "from_frames", "score_outcomes", "bundled", "data_dir", "FORMATS",
           "COST_SOURCES"]
