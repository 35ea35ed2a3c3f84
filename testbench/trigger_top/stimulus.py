"""Synthetic trigger-input windows for the trigger top's testbenches (cocotb and the soak run on the simulated board)."""

import numpy as np

from trigger.instrument import N_MODULES


def synthetic_events(rng, n, n_samples=40, n_modules=N_MODULES):
    """Saturated, all-zero, NSB-like noise, bright pulses and step events (every group rising at once)."""
    events, labels = [], []
    kinds = ["zero", "saturated", "noise", "pulses", "pulses", "pulses", "step", "uniform"]
    for i in range(n):
        kind = kinds[i % len(kinds)] if i < len(kinds) else kinds[int(rng.integers(len(kinds)))]
        if kind == "zero":
            c = np.zeros((n_modules, n_samples))
        elif kind == "saturated":
            c = np.full((n_modules, n_samples), 255)
        elif kind == "uniform":
            c = rng.integers(0, 256, size=(n_modules, n_samples))
        else:
            c = 16 + rng.normal(0, 4, size=(n_modules, n_samples))
            if kind == "pulses":
                for _ in range(int(rng.integers(1, 12))):
                    m = int(rng.integers(0, n_modules))
                    t = int(rng.integers(0, n_samples))
                    amp = rng.uniform(5, 400)
                    shape = np.exp(-0.5 * ((np.arange(n_samples) - t) / rng.uniform(1, 3)) ** 2)
                    c[max(0, m - 20) : m + 20] += amp * rng.uniform(0, 1, size=(len(c[max(0, m - 20) : m + 20]), 1)) * shape
            elif kind == "step":
                c[:, int(rng.integers(12, n_samples - 8)) :] += 240
        events.append(np.clip(np.floor(c), 0, 255).astype(np.uint8))
        labels.append(kind)
    return np.stack(events), labels
