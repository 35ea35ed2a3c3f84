"""Sizes shared by the reconstruction tests: small mapped images and networks keep the suite to minutes on 2 cores."""

IMAGE_SHAPE = 28
TINY = {"depth": 2, "width": 4, "head_units": 8}
