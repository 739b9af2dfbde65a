"""Datasets (prompts with references) and Outcomes (what each model answered), bundled or your own.

Example::

    >>> from routerlab import datasets
    >>> ds = datasets.load("zeroeval")          # the bundled default: 2,840 prompts x 9 models
    >>> ds.prompts.columns.tolist()[:4]
    ['prompt_id', 'task', 'prompt', 'reference']
    >>> ds.outcomes.models[:2]
    ['claude-3-haiku', 'claude-3-opus']

Your own data: ``datasets.load("my_runs.jsonl")`` reads JSONL, CSV or Parquet in long form (one row
per prompt x model: ``prompt_id, model, response`` and optionally ``prompt, task, reference, score,
input_tokens, output_tokens``) or in the wide form RouterBench and RouteLLM use (one row per prompt,
one column per model holding its score, optionally ``<model>_response`` columns). A malformed row
raises :class:`~routerlab.errors.DatasetError` naming the file, the line and the field.
"""

from __future__ import annotations

from ._dataset import Dataset, Outcomes, bundled, data_dir
from ._load import load, score_outcomes

__all__ = ["Dataset", "Outcomes", "load", "score_outcomes", "bundled", "data_dir"]
