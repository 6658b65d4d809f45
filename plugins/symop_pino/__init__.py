"""Physics-informed neural operators (a Fourier neural operator with a physics loss on its grid), registered as ``pino``.

Modules: :mod:`.fno` (the network), :mod:`.grid` (the box as a space-time
grid), :mod:`.encoding` (members as input channels), :mod:`.physics` (the
residuals generated from the model), :mod:`.reference` (data: exact or fd),
:mod:`.train` (family training, fine-tuning), :mod:`.store` (model files),
:mod:`.method` (the ``pino`` discretization and :func:`~.method.predict`).
"""
