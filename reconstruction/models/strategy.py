"""tf.distribute strategies by name: the training loop is Keras' own, scaled out by TensorFlow."""

from ..errors import SettingError
from ..settings import STRATEGIES

__all__ = ["STRATEGIES", "get_strategy"]


def get_strategy(name="default"):
    """``default`` (one device), ``mirrored`` (all local GPUs) or ``multi_worker_mirrored`` (TF_CONFIG cluster).

    Build and compile the model inside ``strategy.scope()``.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise SettingError(f"unknown distribution strategy {name!r}; choose from {', '.join(STRATEGIES)}")
