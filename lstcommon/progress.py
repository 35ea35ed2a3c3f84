"""A progress line for work made of a few long steps (rates, training, calibration) rather than many items."""

import logging

from tqdm.auto import tqdm

__all__ = ["Steps"]


class Steps:
    """``with Steps(n, "evaluate", enabled) as steps: steps.start("rates"); ...; steps.done()``.

    Shows ``evaluate: rates 1/4 00:12`` on stderr (tqdm) while a step runs,
    and logs each step at INFO for runs whose progress is off.
    """

    def __init__(self, total, name, enabled=True, log=None):
        self.name = name
        self.log = log or logging.getLogger(__name__)
        self.bar = tqdm(total=total, disable=not enabled, desc=name, bar_format="{desc} {n_fmt}/{total_fmt} {elapsed}")

    def start(self, step):
        self.bar.set_description_str(f"{self.name}: {step}")
        self.log.info("%s: %s", self.name, step)

    def done(self):
        self.bar.update()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()
