"""What every training command shares: a wall-time limit and resuming from the last checkpoint."""
from __future__ import annotations

import time
from pathlib import Path

from medkg.files import file_sha256


def file_fingerprint(path: Path) -> str:
    """sha256 of a training file, recorded beside the weights so a run names exactly what it learned from."""
    return file_sha256(path)


def time_limit_callback(max_minutes: float):
    """A TrainerCallback that ends training cleanly (and saves) once `max_minutes` have passed."""
    from transformers import TrainerCallback

    class StopAfter(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.deadline = time.monotonic() + max_minutes * 60

        def on_step_end(self, args, state, control, **kwargs):
            if time.monotonic() >= self.deadline:
                control.should_training_stop = True
                control.should_save = True
            return control

    return StopAfter()


def last_checkpoint(checkpoints: Path) -> str | None:
    """The newest Trainer checkpoint under `checkpoints`, to resume an interrupted run."""
    if not checkpoints.is_dir():
        return None
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(checkpoints))


def train_resumable(trainer, checkpoints: Path, log) -> float:
    """Run `trainer`, resuming from the newest checkpoint under `checkpoints`; returns wall seconds."""
    resume = last_checkpoint(checkpoints)
    if resume:
        log(f"resuming from {resume}")
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=resume)
    return time.monotonic() - started


def loss_curve(trainer) -> list[tuple[int, float]]:
    return [(h["step"], h["loss"]) for h in trainer.state.log_history if "loss" in h]


def hardware_record(plan) -> dict:
    """Where a run happened, for the training record and the model card."""
    import os
    import platform

    import torch

    return {"device": plan.describe(), "cpu_count": os.cpu_count(), "machine": platform.machine(),
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if plan.device == "cuda" else None}
