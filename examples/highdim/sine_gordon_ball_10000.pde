# sine_gordon_ball_10000.pde: Sine-Gordon lap(u) + sin(u) = f in 10000 dimensions on the unit ball (the STDE paper's problem, c_i = 1)
#   exact u = (1 - |x|^2) g,  g = sum_i sin(theta_i),  theta_i = x_i + cos(x_{i+1}) + x_{i+1} cos(x_i)
#   lap(u) = (1 - |x|^2) lap(g) - 4 x.grad(g) - 2 d g, written out so that the source costs O(d) per point.
#   u = 0 on the sphere, imposed exactly with `hard`; g is about 0.84 (d - 1), hence output_scale ~ d.
problem sine_gordon_ball_10000 "Sine-Gordon in d = 10000 dimensions on the unit ball (STDE paper)"

param d = 10000
space x[1..d]
domain ball(dim: d, radius: 1)
field u

let r2 = sum(i, 1, d, x[i]^2)
let g = sum(i, 1, d-1, sin(x[i] + cos(x[i+1]) + x[i+1]*cos(x[i])))
let lapg = sum(i, 1, d-1, cos(x[i] + cos(x[i+1]) + x[i+1]*cos(x[i]))*(-x[i+1]*cos(x[i]) - cos(x[i+1]))
                          - sin(x[i] + cos(x[i+1]) + x[i+1]*cos(x[i]))*((1 - x[i+1]*sin(x[i]))^2 + (cos(x[i]) - sin(x[i+1]))^2))
let xg = sum(i, 1, d-1, cos(x[i] + cos(x[i+1]) + x[i+1]*cos(x[i]))*(x[i]*(1 - x[i+1]*sin(x[i])) + x[i+1]*(cos(x[i]) - sin(x[i+1]))))
exact u = (1 - r2)*g
equation lap(u) + sin(u) = (1 - r2)*lapg - 4*xg - 2*d*g + sin((1 - r2)*g)
boundary all: u = 0

solve pinn(estimator: stde, hard: true, output_scale: 10000, width: 128, depth: 4, points: 100, steps: 4000, lr: 3e-3)
