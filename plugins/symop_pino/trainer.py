"""One training run of ``pino``: grid, members, references, network, loop, model file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

import torch

from symop.plugins import TrainingReport

from . import store
from .encoding import Encoder
from .fno import FNO, FNOConfig
from .grid import build
from .options import DEFAULT_CELLS, dtype_of, weights_of
from .physics import GridPhysics
from .reference import attach
from .train import Schedule, fit, term_scales


def train_family(problem, options: Mapping[str, Any], *, samples: int, output: Path, device: str = "cpu",
                 progress: bool = False, resume: bool = False, seed: int = 0) -> TrainingReport:
    """Train an FNO on ``samples`` members of ``problem`` and save it to ``output`` (see :mod:`symop_pino.train`)."""
    from symop.model.family import members
    from symop.training import device_for, distributed, save_checkpoint, wrap

    o = dict(options)
    start = time.perf_counter()
    info = distributed(device)
    dev = device_for(device, info)
    dtype = dtype_of(o.get("dtype", "float32"))
    n = o.get("n") or DEFAULT_CELLS
    grid = build(problem, n, o.get("nt") or None)
    encoder = Encoder(problem, grid)
    physics = GridPhysics(problem, grid, o.get("order", 2), dtype, dev)
    drawn = members(problem, samples, seed)
    encoded = encoder.encode([v for v, _ in drawn], dtype, dev)
    used = attach(o.get("data", "auto"), encoded, physics, [m for _, m in drawn], o.get("order", 2), info)
    scales = term_scales(physics, encoded) if o.get("normalize", True) else {}
    limit = min(s // 2 for s in grid.shape)
    modes = max(1, min(int(o.get("modes", 12)), limit))
    config = FNOConfig(inputs=len(encoder.channels), outputs=len(problem.fields), dimension=grid.dimension,
                       width=int(o.get("width", 32)), modes=modes, layers=int(o.get("layers", 4)),
                       padding=float(o.get("padding", 0.125)),
                       periodic=grid.periodic)
    torch.manual_seed(int(seed))
    net = FNO(config).to(device=dev, dtype=dtype)
    model = wrap(net, info)
    output = Path(output)
    record = {"format": store.FORMAT, "family": store.family_record(problem), "grid": grid.describe(),
              "config": config.to_dict(), "channels": encoder.channels, "distributions": encoder.describe(), "data": used, "samples": int(samples),
              "seed": int(seed), "scales": scales, "options": {k: v for k, v in o.items() if k not in ("model", "finetune")}}
    schedule = Schedule(steps=int(o.get("steps", 500)), batch=int(o.get("batch", 8)), lr=float(o.get("lr", 1e-3)),
                        seed=int(seed), every=int(o.get("checkpoint_every", 0)))
    checkpoint = output.with_name(output.name + ".ckpt")
    if resume and checkpoint.exists():
        previous = store.load_checkpoint(checkpoint, dev).get("family_hash")
        if previous != record["family"]["hash"]:
            raise store.ModelFileError(f"the checkpoint `{checkpoint}` belongs to another family; "
                                       "delete it or train without `--resume`.")
    history = fit(model, physics, encoded, weights_of(o, scales), schedule, info=info, checkpoint=checkpoint, resume=resume,
                  progress=progress, extra={"family_hash": record["family"]["hash"]})
    save_checkpoint(output, {**record, "model": net.state_dict(), "losses": history.losses}, info)
    summary = {"data": used, "grid": list(grid.shape), "channels": encoder.channels, "parameters": net.parameter_count(),
               "start_step": history.start_step, "world": info.world, "modes": modes, "checkpoint": str(checkpoint)}
    return TrainingReport(path=output, losses=history.losses, wall_time=time.perf_counter() - start, info=summary)
