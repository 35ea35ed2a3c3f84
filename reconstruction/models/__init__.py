"""Keras 3 networks for LST images: backbones, CBAM attention, task heads, stereo pooling."""

from .layers import CameraCoordinates, ChannelAttention, InputScaling, MaskedTelescopePooling, SpatialAttentionMap
from .networks import (
    TASK_OUTPUTS,
    NetworkSpec,
    build_backbone,
    build_mono_model,
    build_stereo_model,
    compile_model,
    get_backbone,
)
from .strategy import get_strategy

__all__ = [
    "TASK_OUTPUTS",
    "CameraCoordinates",
    "ChannelAttention",
    "InputScaling",
    "MaskedTelescopePooling",
    "NetworkSpec",
    "SpatialAttentionMap",
    "build_backbone",
    "build_mono_model",
    "build_stereo_model",
    "compile_model",
    "get_backbone",
    "get_strategy",
]
