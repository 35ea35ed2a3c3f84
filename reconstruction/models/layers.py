"""Custom Keras layers: input scaling, CBAM-style attention and pooling over telescopes.

All are registered with Keras so that saved models load without extra code.
"""

import keras
from keras import layers, ops

PACKAGE = "reconstruction"


@keras.saving.register_keras_serializable(package=PACKAGE)
class InputScaling(layers.Layer):
    """Brings charges (0 to 10^4 p.e.) and times (ns) to order one inside the model.

    Kept in the network rather than in the data pipeline so that a saved model
    carries its own preprocessing. Charges: sign(x) log(1 + |x|); times: x / 10 ns.
    """

    def __init__(self, kinds, time_scale=10.0, **kwargs):
        super().__init__(**kwargs)
        self.kinds = list(kinds)
        self.time_scale = float(time_scale)

    def call(self, x):
        is_time = ops.convert_to_tensor([k == "time" for k in self.kinds], dtype=x.dtype)
        charge = ops.sign(x) * ops.log1p(ops.abs(x))
        return is_time * (x / self.time_scale) + (1.0 - is_time) * charge

    def get_config(self):
        return {**super().get_config(), "kinds": self.kinds, "time_scale": self.time_scale}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CameraCoordinates(layers.Layer):
    """Appends two channels holding each grid cell's camera x and y, in -1 ... 1 (CoordConv).

    Convolutions and global pooling are blind to where a feature sits, yet the
    image position in the camera is most of what gives the arrival direction
    (and, with the image size, the impact distance and so the energy). Without
    these channels a small CNN only sees the position through the zero padding
    at the border and does not learn the direction at all.
    """

    def call(self, x):
        shape = ops.shape(x)
        height, width = x.shape[1], x.shape[2]
        rows = ops.linspace(-1.0, 1.0, height)
        cols = ops.linspace(-1.0, 1.0, width)
        grid_y = ops.broadcast_to(ops.reshape(rows, (1, height, 1, 1)), (shape[0], height, width, 1))
        grid_x = ops.broadcast_to(ops.reshape(cols, (1, 1, width, 1)), (shape[0], height, width, 1))
        return ops.concatenate([x, ops.cast(grid_x, x.dtype), ops.cast(grid_y, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 2)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelAttention(layers.Layer):
    """CBAM channel attention: a shared MLP on the average- and max-pooled channels gates each channel."""

    def __init__(self, ratio=4, **kwargs):
        super().__init__(**kwargs)
        self.ratio = int(ratio)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        hidden = max(1, channels // self.ratio)
        self.hidden = layers.Dense(hidden, activation="relu", name="mlp_hidden")
        self.out = layers.Dense(channels, name="mlp_out")
        self.hidden.build((None, channels))
        self.out.build((None, hidden))

    def call(self, x):
        avg = ops.mean(x, axis=(1, 2))
        mx = ops.max(x, axis=(1, 2))
        gate = ops.sigmoid(self.out(self.hidden(avg)) + self.out(self.hidden(mx)))
        return x * gate[:, None, None, :]

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpatialAttentionMap(layers.Layer):
    """CBAM spatial attention map in (0, 1): a k x k convolution of the channel-wise mean and max.

    It returns the map itself (not the gated features) so that explanation code
    can read it from the layer output; a Multiply layer applies it.
    """

    def __init__(self, kernel_size=7, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = int(kernel_size)

    def build(self, input_shape):
        self.conv = layers.Conv2D(1, self.kernel_size, padding="same", activation="sigmoid", name="conv")
        self.conv.build((*input_shape[:-1], 2))

    def call(self, x):
        pooled = ops.concatenate([ops.mean(x, axis=-1, keepdims=True), ops.max(x, axis=-1, keepdims=True)], axis=-1)
        return self.conv(pooled)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedTelescopePooling(layers.Layer):
    """Mean and max of per-telescope features over the telescopes present in an event.

    Inputs: features (batch, n_tel, F) and mask (batch, n_tel) with 1 for a
    telescope with an image. Absent telescopes do not contribute, so the result
    does not depend on how many LSTs (2-4) saw the shower or in which slots.
    The multiplicity (number present / n_tel) is appended as one feature.
    """

    def call(self, features, mask):
        m = ops.expand_dims(ops.cast(mask, features.dtype), -1)
        n = ops.maximum(ops.sum(m, axis=1), 1.0)
        mean = ops.sum(features * m, axis=1) / n
        very_negative = ops.convert_to_tensor(-1e9, dtype=features.dtype)
        mx = ops.max(ops.where(m > 0, features, very_negative), axis=1)
        mx = ops.where(ops.sum(m, axis=1) > 0, mx, ops.zeros_like(mx))
        multiplicity = ops.sum(m, axis=1) / ops.cast(ops.shape(m)[1], features.dtype)
        return ops.concatenate([mean, mx, multiplicity], axis=-1)
