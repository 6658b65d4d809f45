"""Physics-informed networks with autograd and STDE derivative engines, registered as ``pinn``."""
