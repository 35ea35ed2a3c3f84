"""The neural-network trigger: a quantized network behind a low-threshold analog-sum gate."""
