"""Physics-informed neural operators (a Fourier neural operator with a physics loss on its grid), registered as ``pino``."""
