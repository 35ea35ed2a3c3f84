"""The LST camera's fixed sizes, at the bottom of the import graph.

:mod:`trigger.instrument` checks them against the camera files when it reads
them; the board driver and its packing (:mod:`trigger.deploy`, numpy only on a
board) read them here, without ctapipe.
"""

__all__ = ["N_GROUPS", "N_MODULES", "N_PIXELS"]

N_PIXELS = 1855  # camera pixels
N_MODULES = 265  # seven-pixel modules ("drawers"): the channels of the trigger input
N_GROUPS = 474   # analog-sum trigger groups of three adjacent modules
