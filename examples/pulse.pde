# pulse.pde: a Gaussian pulse carried around a periodic interval; insr keeps one small network per step
problem pulse "advected Gaussian pulse (INSR's 1D benchmark)"

space x
time t in [0, 12]
domain interval(x: [-2, 2])
boundary periodic(x)

param a = 0.25
field u

equation dt(u) + a*dx(u) = 0
initial u = exp(-(x + 1.5)^2/(2*0.1^2))
# the pulse stays 5 sigma from the ends up to t = 12, so its periodic images are below 4e-6
exact u = exp(-(x + 1.5 - a*t)^2/(2*0.1^2))

# this line reaches a relative L2 error of about 1.4e-2 at t = 12, in about 1.5 minutes on one CPU thread
solve insr(split: strang, advection: semi-lagrangian, width: 8, depth: 2, dt: 0.1, iterations: 10, initial_iterations: 300, dtype: float64)
