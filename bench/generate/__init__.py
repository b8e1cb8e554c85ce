"""Bank generation: a task's prompts + a model -> a scored bank (``bench generate``).

- :mod:`bench.generate.models`    named models assembled from PyPI parts (sha256-checked), paths, hub ids
- :mod:`bench.generate.base`      decoding parameters, requests, completions, per-sample seeds
- :mod:`bench.generate.plan`      input checks -> a run plan (nothing written before they pass)
- :mod:`bench.generate.pipeline`  prompts, resumable generation, scoring, writing the bank
- :mod:`bench.generate.backends`  backend choice; engines in ``llamacpp``, ``openai_backend``,
                                  ``transformers_backend``, ``vllm_backend`` (imported lazily)
- :mod:`bench.generate.rescore`   ``bench verify --bank``: re-score stored responses

See docs/generate.md.
"""
