# poisson.pde: steady Poisson problem on the unit square with a manufactured solution
problem poisson "Poisson equation, Dirichlet sides"

space x, y
domain box(x: [0, 1], y: [0, 1])
field u

equation -lap(u) = 2*pi^2*sin(pi*x)*sin(pi*y)
boundary all: u = 0
exact u = sin(pi*x)*sin(pi*y)

solve fd(n: 64)
