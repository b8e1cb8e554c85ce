"""Verifiers: turn a model's sample into a reward (math equivalence, code tests, chat rewards)."""
