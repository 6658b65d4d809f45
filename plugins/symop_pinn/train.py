"""Training: Adam with fresh collocation points every step, then optional L-BFGS.

Seeded (network initialisation, point draws, STDE directions), with a ``rich``
progress bar showing the loss, and checkpoints that a later run resumes from.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from symop.training import load_checkpoint, save_checkpoint


def _save(path: str, model, optimizer, step: int, history: list) -> None:
    save_checkpoint(path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                           "history": history})


def train(model, loss, *, steps: int = 2000, lr: float = 1e-3, lr_decay: float = 0.1, lbfgs: int = 0, checkpoint: str = "",
          progress: bool = False, log_every: int = 50) -> dict[str, Any]:
    """Minimise ``loss(model, batch)``; returns the history and timings."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    # decay the learning rate exponentially to lr * lr_decay over the run
    gamma = lr_decay ** (1.0 / max(steps, 1))
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)
    history: list[tuple[int, float]] = []
    start_step = 0
    if checkpoint and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, next(model.parameters()).device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_step = int(state["step"])
        history = list(state.get("history", []))
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)
        for group in optimizer.param_groups:
            group["lr"] = lr * gamma ** start_step
    engine = loss.engine
    bar = None
    if progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        bar = Progress(TextColumn("[bold]pinn[/]"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                       TextColumn("loss {task.fields[loss]:.3e}"), TimeElapsedColumn(), TimeRemainingColumn(),
                       transient=False)
        bar.start()
        task = bar.add_task("train", total=steps + lbfgs, completed=start_step, loss=float("nan"))
    t0 = time.perf_counter()
    value = float("nan")
    every = max(1, steps // 10)
    try:
        for step in range(start_step, steps):
            if getattr(engine, "stochastic", False):
                engine.reseed(loss.seed * 1_000_003 + step, loss.device)
            batch = loss.sample(step)
            optimizer.zero_grad(set_to_none=True)
            total, parts = loss(model, batch)
            total.backward()
            optimizer.step()
            scheduler.step()
            value = float(total.detach())
            if not math.isfinite(value):
                raise FloatingPointError(f"the loss became {value} at step {step}; lower lr.")
            if step % log_every == 0 or step == steps - 1:
                history.append((step, value))
            if bar is not None:
                bar.update(task, advance=1, loss=value)
            if checkpoint and ((step + 1) % every == 0 or step == steps - 1):
                _save(checkpoint, model, optimizer, step + 1, history)
        adam_time = time.perf_counter() - t0
        if lbfgs > 0:
            batch = loss.sample(steps)
            opt = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=lbfgs, history_size=50,
                                    tolerance_grad=1e-12, tolerance_change=1e-15, line_search_fn="strong_wolfe")
            count = [0]

            def closure():
                if getattr(engine, "stochastic", False):
                    engine.reseed(loss.seed * 1_000_003 + steps, loss.device)  # fixed directions
                opt.zero_grad(set_to_none=True)
                total, _ = loss(model, batch)
                total.backward()
                count[0] += 1
                if bar is not None:
                    bar.update(task, completed=min(steps + count[0], steps + lbfgs), loss=float(total.detach()))
                return total

            opt.step(closure)
            total, _ = loss(model, batch)
            value = float(total.detach())
            history.append((steps + count[0], value))
    finally:
        if bar is not None:
            bar.stop()
    return {"history": history, "final_loss": value, "train_time": time.perf_counter() - t0,
            "adam_time": adam_time if steps > start_step else 0.0, "start_step": start_step}
