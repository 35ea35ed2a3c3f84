"""Transfer learning: start from a trained model's backbone, frozen or free, for one or more epochs."""

from __future__ import annotations

from pathlib import Path

from .train import TrainResult, load_model, train

__all__ = ["transfer"]


def transfer(source_model, files, output_dir, freeze_backbone=True, epochs=1, data=None, network=None, **kwargs) -> TrainResult:
    """Retrain the model in ``source_model`` (a folder written by :func:`reconstruction.train.train`) on ``files``.

    The input description and architecture default to the source model's, so
    the backbone weights fit; ``network`` may change the heads (e.g. other
    tasks). With ``freeze_backbone`` only the heads learn, which is what makes
    transfer cheap.
    """
    source_model = Path(source_model)
    _, meta = load_model(source_model)
    data = {**meta["data"], **(data or {})}
    network = {**meta["network"], **(network or {})}
    return train(
        files,
        output_dir,
        data=data,
        network=network,
        epochs=epochs,
        initial_model=source_model,
        freeze_backbone=freeze_backbone,
        **kwargs,
    )
