# poisson_ball.pde: a Poisson-type problem in 100 dimensions on the unit ball (mesh-free methods)
problem poisson_ball "semilinear Poisson in d dimensions (STDE paper)"

param d = 100
space x[1..d]
domain ball(dim: d, radius: 1)
field u

let g = sum(i, 1, d-1, sin(x[i] + cos(x[i+1]) + x[i+1]*cos(x[i])))
exact u = (1 - sum(i, 1, d, x[i]^2)) * g
equation lap(u) + sin(u) = lap(exact(u)) + sin(exact(u))
boundary all: u = exact(u)

solve pinn(estimator: stde)
