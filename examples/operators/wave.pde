# Wave equation 0.5*u_tt - 2*u_xx = 0 (speed 2), time as the second variable
# (HyPINO's hyperbolic case; PINNacle's Wave1d-C).  The exact solution is a sum of
# two standing waves; the amplitude of the second varies.
problem wave1d "wave 0.5*u_tt - 2*u_xx = 0"
space x
time t in [0, 1]
domain interval(x: [0, 1])
param b in [0, 1]
field u
exact u = sin(pi*x)*cos(2*pi*t) + b*sin(4*pi*x)*cos(8*pi*t)
equation 0.5*dt(u, 2) - 2*d(u, x, 2) = 0
boundary left, right: u = 0
initial u = sin(pi*x) + b*sin(4*pi*x)
initial dt(u) = 0
solve fd(n: 256, dt: 1e-3)
