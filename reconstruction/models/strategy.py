"""tf.distribute strategies by name: the training loop is Keras' own, scaled out by TensorFlow."""

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")


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
    raise ValueError(f"unknown distribution strategy {name!r}; choose from {', '.join(STRATEGIES)}")
