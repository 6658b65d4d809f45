# burgers.pde: a nonlinear advection term, a conditional initial profile
problem burgers "viscous Burgers equation"

space x
time t in [0, 0.5]
domain interval(x: [-1, 1])

param nu = 0.01/pi
field u

equation dt(u) + u*dx(u) = nu*d(u, x, 2)
boundary left, right: u = 0
initial u = if(abs(x) < 0.5, -sin(pi*x), -sin(pi*x)*exp(-10*(abs(x) - 0.5)^2))

# the front that forms at x = 0 is a few nu wide: central differences need n = 512 here
# (at n = 256 they overshoot to max |u| = 1.16, above the initial maximum 1)
solve fd(n: 512)
