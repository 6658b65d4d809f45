"""Physics-informed neural operators (a Fourier neural operator with a physics loss on its grid), registered as ``pino``.

Modules, each with one job: :mod:`.fno` (the network), :mod:`.grid` (the box,
with time as one more axis), :mod:`.encoding` (family members as input
channels), :mod:`.physics` (residuals generated from the model, by finite
differences on the grid), :mod:`.reference` (data: exact or fd solutions),
:mod:`.train` (the training loop and fine-tuning), :mod:`.trainer` (one
``symop train`` run), :mod:`.store` (model files), :mod:`.program` (solving a
member; :func:`~.program.predict` from Python), :mod:`.options` and
:mod:`.method` (the ``pino`` discretization).
"""
