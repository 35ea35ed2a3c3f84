"""Inputs for the bit-exact checks, and the comparison itself."""

import numpy as np

from .model import InputSpec

__all__ = ["check_inputs", "compare", "corner_cases"]


def corner_cases(spec: InputSpec) -> np.ndarray:
    """Rows that random counts rarely produce: all-zero, saturated, one input hot, alternating extremes.

    Saturation and single hot inputs exercise the widest intermediate values,
    which is where a wrong accumulator width would first show.
    """
    n, lo, hi = spec.n_inputs, spec.low, spec.high
    rows = [np.zeros(n), np.full(n, hi), np.full(n, lo)]
    hot = np.full((n, n), 0.0)
    np.fill_diagonal(hot, hi)
    alt = np.where(np.arange(n) % 2 == 0, hi, lo)
    rows = np.vstack(rows + [alt, hi + lo - alt])
    rows = np.vstack([rows, hot])
    if spec.signed:
        cold = np.full((n, n), 0.0)
        np.fill_diagonal(cold, lo)
        rows = np.vstack([rows, cold])
    return np.unique(rows, axis=0).astype(np.float32)


def check_inputs(spec: InputSpec, n_random: int, seed: int = 0, events=None) -> np.ndarray:
    """Corner cases, then ``events`` (validated), then ``n_random`` uniform random integer rows."""
    rng = np.random.default_rng(seed)
    parts = [corner_cases(spec)]
    if events is not None:
        parts.append(spec.validate(events, what="check events"))
    if n_random > 0:
        parts.append(rng.integers(spec.low, spec.high, size=(n_random, spec.n_inputs), endpoint=True).astype(np.float32))
    return np.vstack(parts)


def compare(reference, other) -> dict:
    """Per-event comparison; an event mismatches when any of its outputs differs in any bit."""
    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    other = np.asarray(other, dtype=np.float64).reshape(len(reference), -1)
    differs = np.any(reference != other, axis=1)
    result = {"events": len(reference), "mismatches": int(differs.sum())}
    if differs.any():
        result["first_mismatch"] = int(np.argmax(differs))
        result["max_abs_diff"] = float(np.max(np.abs(reference - other)))
    return result
