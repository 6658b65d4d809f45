# heat.pde: 2D heat equation with every boundary-condition kind and a known solution
problem heat "2D heat equation with a known solution"

space x, y
time t in [0, 0.5]

domain box(x: [0, 1], y: [0, 1])

param kappa = 0.1
let f = 0
field u

equation dt(u) = kappa*lap(u) + f
boundary left, right: u = 0
boundary bottom: dn(u) = -pi*exp(-2*pi^2*kappa*t)*sin(pi*x)
boundary top: dn(u) + 2*u = -pi*exp(-2*pi^2*kappa*t)*sin(pi*x)
initial u = sin(pi*x)*sin(pi*y)
exact u = exp(-2*pi^2*kappa*t)*sin(pi*x)*sin(pi*y)

solve fd(n: 32, scheme: crank-nicolson, dt: 0.005)
