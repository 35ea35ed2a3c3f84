"""A small, briefly trained HGQ2 trigger model in the training code's format, for tests, docs and benchmarks.

It is not a physics model: the training data are random counts labelled by
their sum. The real models come from the trigger training (``trigger.nn``).
"""

import json
from pathlib import Path

import numpy as np

__all__ = ["write_example_model"]


def write_example_model(model_dir, hidden=(8,), n_inputs: int = 48, bits: int = 8, n_train: int = 512,
                        epochs: int = 2, seed: int = 0) -> Path:
    """Build, train for ``epochs`` and save ``model.keras`` + ``trigger.json`` into ``model_dir``."""
    import hgq  # noqa: F401
    import keras
    from hgq.config import QuantizerConfig
    from hgq.layers import QDense

    keras.utils.set_random_seed(seed)
    # The first layer's input quantizer is fixed to the hardware's integer
    # counts (unsigned, `bits` integer bits, no fraction, truncating): learned
    # input widths could otherwise drop bits the trigger needs.
    counts = QuantizerConfig("kif", "datalane", k0=0, i0=bits, f0=0, trainable=False,
                             round_mode="TRN", overflow_mode="SAT")
    inputs = keras.Input((n_inputs,))
    x = inputs
    for i, width in enumerate(hidden):
        x = QDense(width, activation="relu", iq_conf=counts if i == 0 else None, name=f"dense_{i}")(x)
    outputs = QDense(1, name="logit", iq_conf=counts if not hidden else None)(x)
    model = keras.Model(inputs, outputs, name="example_trigger")

    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 2**bits, size=(n_train, n_inputs)).astype(np.float32)
    y_train = (x_train.sum(axis=1) > x_train.sum(axis=1).mean()).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    model.save(model_dir / "model.keras")
    description = {"input": {"n_inputs": n_inputs, "bits": bits, "signed": False},
                   "note": "example model from trigger.hardware.example (random data, not a physics model)"}
    (model_dir / "trigger.json").write_text(json.dumps(description, indent=2) + "\n")
    return model_dir
