"""hardbench: input-adaptive allocation of language-model computation, scored on cached sample banks.

The package is organised one concept per module (dependencies point downward):

- :mod:`bench.bank`        sample banks: load, validate, save (format ``hardbench-bank/1``)
- :mod:`bench.estimators`  exact expected rewards from cached samples (best-of-k, routing, targets)
- :mod:`bench.allocation`  allocators: online greedy, offline bins, routing, uniform
- :mod:`bench.bootstrap`   percentile bootstrap over queries (every number, the same replicates)
- :mod:`bench.reallocate`  bootstrap replicates that re-run the allocation
- :mod:`bench.metrics`     curve summaries (compute saved, APGR, ...) and intrinsic metrics
- :mod:`bench.scoring`     curves for every method from a bank and a submission's predictions
- :mod:`bench.results`     the result file (format ``hardbench-result/2``; reads /1)
- :mod:`bench.compare`     paired comparison of two results on the same resampled queries
- :mod:`bench.predictors`  the predictor protocol and the views a predictor sees
- :mod:`bench.runner`      ``bench run``: bank + submission -> result file
"""

__version__ = "0.2.0"
