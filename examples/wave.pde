# wave.pde: second order in time, so two initial lines
problem wave "1D wave equation"

space x
time t in [0, 1]
domain interval(x: [0, 1])

param c = 1
field u

equation dt(u, 2) = c^2*d(u, x, 2)
boundary left, right: u = 0
initial u = sin(pi*x)
initial dt(u) = 0
exact u = cos(pi*c*t)*sin(pi*x)

solve fd(n: 64)
