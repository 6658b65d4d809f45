"""The shared training loop: non-finite losses, exact resuming, progress with terms, optimizers by name."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from symop.errors import OptionError, SymopError
from symop.training import (OPTIMIZERS, Checkpoint, CheckpointError, NonFiniteLoss, OptimizerSpec, Phase, Schedule,
                            load_checkpoint, optimize, save_checkpoint)


def _model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()


def _batch(step: int) -> torch.Tensor:
    """Points of step ``step``, drawn from a generator seeded by the step alone."""
    return torch.rand(16, 2, generator=torch.Generator().manual_seed(1000 + step), dtype=torch.float64)


def _loss(model):
    def loss(x: torch.Tensor):
        u = model(x)[:, 0]
        fit = ((u - torch.sin(3 * x[:, 0]) * x[:, 1]) ** 2).mean()
        small = 1e-2 * (u ** 2).mean()
        return fit + small, {"fit": fit, "small": small}
    return loss


PHASES = [Phase(6, "adam", 0.05, Schedule("exponential", 0.1)), Phase(3, "lbfgs", 1.0, options={"max_iter": 4})]


def test_a_non_finite_loss_names_the_step_and_every_term():
    model = _model()
    seen = []

    def loss(step: int):
        u = model(_batch(step))
        fit = (u ** 2).mean()
        bad = fit * (math.nan if step == 3 else 1.0)
        return {"fit": fit, "bad": bad}

    with pytest.raises(NonFiniteLoss) as caught:
        optimize(model, loss, [Phase(10, "adam", 1e-2)], label="toy", hint="lower `lr`",
                 callbacks=[lambda r: seen.append({k: v.clone() for k, v in r.model.state_dict().items()})])
    err = caught.value
    assert isinstance(err, SymopError)
    assert err.step == 4 and math.isnan(err.terms["bad"]) and math.isfinite(err.terms["fit"])
    message = str(err)
    assert "the toy loss became nan at step 4" in message
    assert f"fit = {err.terms['fit']:.3e}" in message and "bad = nan" in message and "Lower `lr`." in message
    # the optimizer never moved on the non-finite step: the weights are those after step 3
    assert len(seen) == 3
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in seen[-1].items())


@pytest.mark.parametrize("stop", [5, 6, 8])
def test_resume_continues_exactly_where_an_uninterrupted_run_goes(tmp_path: Path, stop: int):
    whole = _model()
    full = optimize(whole, _loss(whole), PHASES, batch=_batch)
    assert len(full.losses) == 9 and full.start_step == 0

    class Stop(Exception):
        pass

    def halt(record):
        if record.step == stop:
            raise Stop

    path = tmp_path / "run.ckpt"
    broken = _model()
    with pytest.raises(Stop):
        optimize(broken, _loss(broken), PHASES, batch=_batch, checkpoint=Checkpoint(path, every=2), callbacks=[halt])
    state = load_checkpoint(path)
    assert state["step"] == stop - stop % 2
    resumed = _model(seed=123)  # another start: everything must come from the checkpoint
    again = optimize(resumed, _loss(resumed), PHASES, batch=_batch, checkpoint=Checkpoint(path, every=2, resume=True))
    assert again.start_step == state["step"]
    np.testing.assert_array_equal(again.losses, full.losses)
    assert [t.keys() for t in again.terms] == [t.keys() for t in full.terms]
    for k, v in whole.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_callbacks_see_every_term_the_rate_and_the_phase():
    model = _model()
    records = []
    optimize(model, _loss(model), PHASES, batch=_batch, callbacks=[records.append])
    assert [r.step for r in records] == list(range(1, 10))
    assert all(set(r.terms) == {"fit", "small"} for r in records)
    for r in records:
        assert r.loss == pytest.approx(r.terms["fit"] + r.terms["small"], rel=1e-12)
    assert [r.phase.optimizer for r in records] == ["adam"] * 6 + ["lbfgs"] * 3
    assert [r.lr for r in records[:6]] == [0.05 * 0.1 ** (k / 6) for k in range(6)]


def test_the_progress_bar_shows_the_loss_terms(capsys):
    model = _model()
    optimize(model, _loss(model), [Phase(3, "adam", 1e-2)], batch=_batch, progress=True, label="toy")
    out = capsys.readouterr().out
    assert "toy" in out and "3/3" in out and "fit " in out and "small " in out


def test_a_registered_optimizer_is_chosen_by_name(monkeypatch):
    made = []

    def sgd(setup):
        made.append(setup)
        return torch.optim.SGD(setup.params, lr=setup.lr, **setup.options)

    monkeypatch.setitem(OPTIMIZERS, "plain-sgd", OptimizerSpec("plain-sgd", sgd, description="gradient descent"))
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    x = _batch(0)
    loss = _loss(model)
    total, _ = loss(x)
    grads = torch.autograd.grad(total, list(model.parameters()))
    optimize(model, loss, [Phase(1, "plain-sgd", 0.1, options={"momentum": 0.0})], batch=_batch)
    assert len(made) == 1 and made[0].model is model and made[0].options == {"momentum": 0.0}
    for p, p0, g in zip(model.parameters(), before, grads):
        torch.testing.assert_close(p.detach(), p0 - 0.1 * g, rtol=0, atol=1e-15)
    with pytest.raises(OptionError, match="no optimizer `plain-sdg` \\(did you mean `plain-sgd`\\?\\)"):
        optimize(model, loss, [Phase(1, "plain-sdg")], batch=_batch)
    with pytest.raises(OptionError, match="does not take the options"):
        optimize(model, loss, [Phase(1, "adam", options={"mass": 2})], batch=_batch)


def test_a_checkpoint_of_other_training_is_refused(tmp_path: Path):
    model = _model()
    path = tmp_path / "run.ckpt"
    optimize(model, _loss(model), [Phase(2, "adam")], batch=_batch, checkpoint=Checkpoint(path))
    with pytest.raises(CheckpointError, match="written while training with `adam`, but this run trains with `lbfgs`"):
        optimize(model, _loss(model), [Phase(4, "lbfgs")], batch=_batch, checkpoint=Checkpoint(path, resume=True))
    save_checkpoint(path, {"model": model.state_dict(), "step": 2, "history": [1.0, 0.5]})
    with pytest.raises(CheckpointError, match="delete it to train from the start"):
        optimize(model, _loss(model), [Phase(4)], batch=_batch, checkpoint=Checkpoint(path, resume=True))


def test_a_checkpoint_of_another_network_is_refused_with_a_sentence(tmp_path: Path):
    path = tmp_path / "run.ckpt"
    model = _model()
    optimize(model, _loss(model), [Phase(2, "adam")], batch=_batch, checkpoint=Checkpoint(path))
    torch.manual_seed(0)
    wider = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).double()
    with pytest.raises(CheckpointError, match="`0.weight` is 8 x 2 there and 16 x 2 here.*delete it, or run"):
        optimize(wider, _loss(wider), [Phase(4, "adam")], batch=_batch, checkpoint=Checkpoint(path, resume=True))
    deeper = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
                                 torch.nn.Linear(8, 1)).double()
    with pytest.raises(CheckpointError, match="parameters `4.weight` missing, `4.bias` missing"):
        optimize(deeper, _loss(deeper), [Phase(4, "adam")], batch=_batch, checkpoint=Checkpoint(path, resume=True))
    # fewer steps than the checkpoint holds: a network trained longer than asked is refused, not returned
    with pytest.raises(CheckpointError, match="saved after 2 steps, more than the 1 this run trains"):
        optimize(model, _loss(model), [Phase(1, "adam")], batch=_batch, checkpoint=Checkpoint(path, resume=True))


def test_schedules_are_closed_forms():
    assert Schedule().factor(5, 10) == 1.0
    assert Schedule("exponential", 0.1).factor(10, 10) == pytest.approx(0.1)
    cosine = Schedule("cosine", 0.1)
    assert cosine.factor(0, 8) == 1.0 and cosine.factor(8, 8) == pytest.approx(0.1)
    assert cosine.factor(4, 8) == pytest.approx(0.55)
    with pytest.raises(OptionError, match="no learning-rate schedule `linear`"):
        Schedule("linear")
