"""HyPINO: a hypernetwork that maps a PDE instance to the weights of a PINN, registered as ``hypino``."""
