"""Early stopping whose state travels with the training checkpoint.

MONAI's :class:`monai.handlers.EarlyStopHandler` keeps Ignite's ``EarlyStopping`` counter and best score in
memory only: a resumed run starts counting afresh, and re-running a run that had already stopped early trains
on. This subclass exposes ``state_dict``/``load_state_dict`` (so :class:`~monai_genmed.handlers.TrainingCheckpointer`
saves it with the networks), and a run resumed from a checkpoint written after the stop ends at once, with a
log line that says so and how to train further.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from monai.handlers import EarlyStopHandler

__all__ = ["ResumableEarlyStopHandler"]

logger = logging.getLogger(__name__)


class ResumableEarlyStopHandler(EarlyStopHandler):
    """:class:`monai.handlers.EarlyStopHandler` with a checkpointable state (patience counter, best score).

    Takes the same arguments. Put it in the checkpointer's ``extra_objects``; ``set_trainer`` must have been
    called before the checkpoint is loaded (bundles do it in ``initialize``).

    When the loaded counter has already reached ``patience`` (the saved run stopped early) the trainer is
    terminated before its next epoch. Raise ``patience`` to continue such a run: the counter is kept, so a
    larger patience grants exactly the extra epochs without improvement.
    """

    def _require_trainer(self) -> None:
        if self._handler is None:
            raise RuntimeError(
                "ResumableEarlyStopHandler has no trainer yet: call set_trainer(trainer) (e.g. in the bundle's "
                "'initialize' list) before the checkpoint is saved or loaded."
            )

    def state_dict(self) -> dict[str, Any]:
        self._require_trainer()
        return dict(self._handler.state_dict())

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self._require_trainer()
        self._handler.load_state_dict(state_dict)
        counter = int(self._handler.counter)
        if counter >= self.patience:
            trainer = self._handler.trainer
            logger.warning(
                f"the resumed run had stopped early ({counter} validations without improvement, patience "
                f"{self.patience}); not training further. Raise the patience to continue it, or delete the "
                "checkpoints to start afresh."
            )
            trainer.terminate()
