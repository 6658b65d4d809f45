# Heat equation in one space dimension with bump initial data; time plays the role
# of the second variable (HyPINO's parabolic case).  Diffusivity and bump centre vary.
problem heat1d "1D heat with a bump"
space x
time t in [0, 1]
domain interval(x: [-1, 1])
param kappa in [0.01, 0.1]
param c in [-0.3, 0.3]
field u
equation dt(u) = kappa*d(u, x, 2)
boundary left, right: u = 0
initial u = exp(-20*(x - c)^2)
solve fd(n: 128, dt: 1e-3)
