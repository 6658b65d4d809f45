"""The ``hypino`` discretization: training over a family, and zero-shot solving with refinement.

``symop train FAMILY.pde --method hypino --samples N -o model.pt`` builds N
instances (:mod:`symop_hypino.dataset`), trains the hypernetwork on them
(:mod:`symop_hypino.fit`, under ``torchrun`` with DDP) and writes the model
file (:mod:`symop_hypino.store`).  ``symop run FILE --method hypino --set
model=model.pt [--set refine=K] [--set finetune=STEPS]`` encodes the problem,
generates its PINN, refines it K times with delta PINNs
(:mod:`symop_hypino.refine`), optionally fine-tunes the result with the
``pinn`` method's loss (:mod:`symop_hypino.finetune`), and reports it on
sample points like the ``pinn`` method.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from symop.errors import OptionError
from symop.plugins import Discretization, OnlyWith, Option, Program, Refinement, TrainingReport
from symop.training import get_optimizer, optimizer_names

if TYPE_CHECKING:  # pragma: no cover - the options are read without torch (`symop plugins`)
    from symop.solution import Solution
    from symop_hypino.encoding import Spec
    from symop_hypino.hypernet import Config

OPTIONS = (
    Option("model", str, "", "trained model file (from `symop train --method hypino`)", path=True),
    Option("refine", int, 0, "delta-PINN refinement steps after the zero-shot solution", minimum=0),
    Option("delta_steps", int, 0, "Adam steps training each generated delta PINN on its residual problem (0: none)",
           minimum=0),
    Option("delta_lr", float, 1e-3, "learning rate of delta training", minimum=0, exclusive=True,
           only_with=OnlyWith("delta_steps", (0,), exclude=True)),
    Option("finetune", int, 0, "Adam steps fine-tuning the generated solution with the pinn loss (0: none)", minimum=0),
    Option("finetune_lr", float, 1e-3, "learning rate of fine-tuning (adam, soap, lbfgs; engd and kfac find their own "
           "step)", minimum=0, exclusive=True,
           only_with=OnlyWith("finetune", (0,), exclude=True)),
    Option("finetune_optimizer", str, "adam", "optimizer of fine-tuning (engd: Gauss-Newton on the pinn residuals "
           "with a line search; kfac: with refine 0 and no Fourier features; see `symop plugins pinn` for what each "
           "costs)", optimizer_names(), only_with=OnlyWith("finetune", (0,), exclude=True)),
    Option("strict", bool, True, "refuse a model trained for another family (compared by structure, not name)"),
    Option("points", int, 512, "interior collocation points per instance", minimum=1),
    Option("boundary_points", int, 256, "boundary (and initial) collocation points per instance", minimum=1),
    Option("boundary_weight", float, 1.0, "weight of the boundary residual", minimum=0),
    Option("estimator", str, "autograd", "derivatives of generated PINNs: exact autograd or Taylor-mode jets",
           ("autograd", "stde")),
    Option("seed", int, 0, "seed of collocation and evaluation points"),
    Option("eval_points", int, 2000, "points where the solution is reported", minimum=1),
)

TRAIN_OPTIONS = (
    Option("steps", int, 500, "training steps", minimum=0),
    Option("batch", int, 8, "instances per step (a multiple of the number of processes)", minimum=1),
    Option("lr", float, 1e-3, "Adam learning rate (cosine decay to a tenth)", minimum=0, exclusive=True),
    Option("labelled", float, 0.5, "fraction of manufactured (labelled) instances", minimum=0, maximum=1),
    Option("data_weight", float, 1.0, "weight of the data loss on labelled instances", minimum=0),
    Option("physics_weight", float, 1.0, "weight of the physics loss", minimum=0),
    Option("mms_modes", int, 3, "terms of each random manufactured solution", minimum=1),
    Option("mms_frequency", int, 2, "largest wave number of the manufactured solutions", minimum=1),
    Option("grid", int, 32, "encoding grid nodes per axis", minimum=2),
    Option("patch", int, 4, "patch size of the hypernetwork's embedding", minimum=1),
    Option("dim", int, 64, "hypernetwork token width", minimum=1),
    Option("layers", int, 2, "transformer encoder layers", minimum=1),
    Option("heads", int, 4, "attention heads", minimum=1),
    Option("width", int, 32, "neurons per hidden layer of the generated PINN", minimum=1),
    Option("depth", int, 2, "hidden layers of the generated PINN", minimum=1),
    Option("activation", str, "tanh", "activation of the generated PINN", ("tanh", "sin")),
    Option("fourier", int, 0, "random Fourier features of the generated PINN (0: none)", minimum=0),
    Option("sigma", float, 1.0, "standard deviation of the Fourier frequencies", minimum=0, exclusive=True),
    Option("checkpoint_every", int, 50, "steps between checkpoints", minimum=0),
)


def spec_of(o: Mapping[str, Any]) -> Spec:
    from symop_hypino.encoding import Spec

    return Spec(grid=int(o["grid"]), points=int(o["points"]), boundary_points=int(o["boundary_points"]))


def config_of(o: Mapping[str, Any]) -> Config:
    from symop_hypino.hypernet import Config

    return Config(grid=int(o["grid"]), patch=int(o["patch"]), dim=int(o["dim"]), layers=int(o["layers"]),
                  heads=int(o["heads"]), width=int(o["width"]), depth=int(o["depth"]), activation=o["activation"],
                  fourier=int(o["fourier"]), sigma=float(o["sigma"]))


class HyPINOProgram(Program):
    """One problem solved by a trained hypernetwork (zero-shot, refined, fine-tuned)."""

    def __init__(self, problem, options: Mapping[str, Any]) -> None:
        from symop_hypino import store
        from symop_hypino.linear import linear_form

        self.problem, self.options = problem, dict(options)
        self.hyper, self.spec, self.data = store.load(self.options["model"])
        store.check(self.data, problem, self.options["model"], self.options["strict"])
        o = self.options
        lr_default = next(option.default for option in OPTIONS if option.name == "finetune_lr")
        if o["finetune"] > 0 and get_optimizer(o["finetune_optimizer"]).residuals and o["finetune_lr"] != lr_default:
            raise OptionError(f"`finetune_lr` is not used by {o['finetune_optimizer']}, which finds its own step "
                              "length: leave finetune_lr out.")
        if o["finetune"] > 0 and o["finetune_optimizer"] == "kfac":
            if o["refine"] > 0:
                raise OptionError("kfac takes Kronecker factors of one network, and with refine the generated "
                                  "solution is a sum of networks; fine-tune it with engd, or set refine to 0.")
            if int(self.hyper.config.fourier) > 0:
                raise OptionError("kfac does not take Kronecker factors through Fourier features, and this model "
                                  "generates networks with them; fine-tune with engd.")
        self.form = linear_form(problem)
        self.source = (f"# hypino: hypernetwork ({self.data['config']}) -> PINN weights\n"
                       + "\n".join(f"# c{k} = {c}" for k, c in enumerate(self.form.coefficients))
                       + f"\n# f = {self.form.source}\n")

    def run(self, device: str = "cpu", progress: bool = False) -> Solution:
        import numpy as np
        import torch

        from symop.nn import PhysicsLoss, make_engine
        from symop.solution import PointCloud, Solution
        from symop_hypino.encoding import Spec, encode
        from symop_hypino.finetune import as_module, finetune
        from symop_hypino.refine import refine, zero_shot

        o, p = self.options, self.problem
        start = time.perf_counter()
        spec = Spec(grid=self.spec.grid, points=o["points"], boundary_points=o["boundary_points"])
        inst = encode(p, spec, seed=o["seed"], form=self.form).to(device)
        hyper = self.hyper.to(device)
        engine = make_engine(o["estimator"], seed=o["seed"])
        ensemble = zero_shot(hyper, inst)
        zero_shot_time = time.perf_counter() - start
        history = refine(hyper, engine, inst, ensemble, o["refine"], delta_steps=o["delta_steps"],
                         delta_lr=o["delta_lr"], boundary_weight=o["boundary_weight"])
        model = as_module(ensemble)
        tuned = []
        if o["finetune"] > 0:
            loss = PhysicsLoss(p, make_engine(o["estimator"], seed=o["seed"]), points=o["points"],
                               boundary_points=o["boundary_points"], boundary_weight=o["boundary_weight"],
                               seed=o["seed"], device=device)
            tuned = finetune(model, loss, o["finetune"], o["finetune_lr"], progress=progress,
                             optimizer=o["finetune_optimizer"])
        pts = p.domain.sample_interior(o["eval_points"], seed=np.random.default_rng((o["seed"], 10**9)))
        X = pts if p.time is None else np.concatenate([pts, np.full((len(pts), 1), p.time.end)], axis=1)
        with torch.no_grad():
            values = model(torch.as_tensor(X, dtype=torch.float32, device=device))[:, 0].cpu().numpy().astype(np.float64)
        info = {"refinement": history, "final_residual": history[-1]["residual"], "finetune_losses": tuned[-20:],
                "zero_shot_time": zero_shot_time, "model": o["model"], "terms": len(ensemble.thetas)}
        sol = Solution(problem=p, method="hypino", options=o, geometry=PointCloud(pts, p.space.names),
                       fields={p.field_names[0]: values}, time=p.time.end if p.time else None, device=device,
                       info=info, wall_time=time.perf_counter() - start, network=model)
        return sol


class HyPINO(Discretization):
    name = "hypino"
    description = ("HyPINO neural operator: a transformer hypernetwork maps a PDE instance to PINN weights; "
                   "trained on manufactured solutions plus physics loss; delta-PINN refinement")
    options = OPTIONS
    train_options = TRAIN_OPTIONS
    trains = True
    #: no mesh: studies double the collocation points of refinement and fine-tuning; no declared order
    refinement = Refinement(budget=("points",))

    def accepts(self, problem) -> str | None:
        from symop_hypino.linear import reason

        return reason(problem)

    def lower(self, problem, options: Mapping[str, Any]) -> Program:
        return HyPINOProgram(problem, options)

    def train(self, problem, options: Mapping[str, Any], *, samples: int, output: Path, device: str = "cpu",
              progress: bool = False, resume: bool = False, seed: int = 0) -> TrainingReport:
        import torch

        from symop.nn import make_engine
        from symop_hypino import dataset, store
        from symop_hypino.fit import FitOptions, fit
        from symop_hypino.hypernet import HyperNetwork

        from symop import training

        o = dict(options)
        start = time.perf_counter()
        info = training.distributed(device)
        dev = training.device_for(device, info)
        spec = spec_of(o)
        instances = [i.to(dev) for i in dataset.build(problem, samples, seed, spec, labelled=o["labelled"],
                                                      modes=o["mms_modes"], frequency=o["mms_frequency"])]
        torch.manual_seed(seed)
        hyper = HyperNetwork(config_of(o)).to(dev)
        opts = FitOptions(steps=o["steps"], batch=o["batch"], lr=o["lr"], data_weight=o["data_weight"],
                          physics_weight=o["physics_weight"], boundary_weight=o["boundary_weight"], seed=seed,
                          checkpoint_every=o["checkpoint_every"])
        engine = make_engine(o["estimator"], seed=seed)
        output = Path(output)
        checkpoint = output.with_name(output.name + ".ckpt")
        losses = fit(hyper, instances, engine, opts, info=info, device=dev, checkpoint=checkpoint, resume=resume,
                     progress=progress)
        if info.is_main:
            store.save(output, hyper, spec, problem, {**o, "samples": samples, "seed": seed}, losses)
        return TrainingReport(path=output, losses=losses, wall_time=time.perf_counter() - start,
                              info={"samples": samples, "world": info.world,
                                    "parameters": sum(p.numel() for p in hyper.parameters()),
                                    "checkpoint": str(checkpoint), "config": asdict(hyper.config)})
