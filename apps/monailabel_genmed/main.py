"""MONAI Label sample app of monai_genmed: synthetic CT from MR, CS-MRI reconstruction and samples of the VAE/GAN,
served as images.

    monailabel start_server --app apps/monailabel_genmed --studies /path/to/studies --host 127.0.0.1 --port 8000

The tasks load the bundles of this repository (found from this file, or ``--conf genmed_repo /path/to/repo``) and
their shipped weights. A bad input (a CT sent to the synthetic-CT task, a 4D image, k-space whose mask has another
size, an empty series folder) is answered with HTTP 422 and the reason in ``detail``; the server keeps serving.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fastapi import HTTPException
from monailabel.interfaces.app import MONAILabelApp
from monailabel.interfaces.exception import MONAILabelException

from monai_genmed.apps.monailabel import GenerativeSampleTask, ReconstructionTask, SyntheticCTTask

logger = logging.getLogger(__name__)


class GenMedApp(MONAILabelApp):
    def __init__(self, app_dir, studies, conf):
        self.repo = Path(
            conf.get("genmed_repo") or os.environ.get("MONAI_GENMED_REPO") or Path(__file__).resolve().parents[2]
        )
        super().__init__(app_dir=app_dir, studies=studies, conf=conf, name="monai_genmed", version="0.1.0",
                         description="Synthetic CT from MR, CS-MRI reconstruction, VAE/GAN samples "
                                     "(images, not label maps)")  # fmt: skip

    def init_infers(self):
        bundles = self.repo / "bundles"
        tasks = {
            "synthetic_ct": SyntheticCTTask(bundles / "cyclegan_mr2ct"),
            "reconstruction": ReconstructionTask(bundles / "cascade_csmri"),
            # listed in /info once the bundle's models/model.pt exists; until then a call says what is missing
            "sample_vae": GenerativeSampleTask(self.repo, "vae_mri"),
            "sample_gan": GenerativeSampleTask(self.repo, "gan_mri"),
        }
        for name, task in tasks.items():
            if not task.is_valid():
                logger.warning(
                    f"{name}: weights {task.path} are missing; the task answers with an error until they are there."
                )
        return tasks

    def infer(self, request, datastore=None):
        try:
            return super().infer(request, datastore)
        except (ValueError, FileNotFoundError, MONAILabelException) as error:  # the user's input: say what to fix
            message = getattr(error, "msg", None) or str(error)
            raise HTTPException(status_code=422, detail=f"{request.get('model')}: {message}") from error
        except Exception as error:  # a fault of the app: the reason still goes to the client, not only the log
            logger.exception("infer failed")
            raise HTTPException(
                status_code=500, detail=f"{request.get('model')}: {type(error).__name__}: {error}"
            ) from error
