"""Difficulty predictors: the protocol a submission implements, and the built-in baselines."""

from bench.predictors.base import (
    TARGET_KINDS,
    Predictor,
    TestView,
    TrainView,
    check_predictions,
)

__all__ = ["TARGET_KINDS", "Predictor", "TestView", "TrainView", "check_predictions"]
