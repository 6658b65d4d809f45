# variable_coefficient.pde: divergence form, a space-dependent coefficient, source from exact(u)
problem variable_coefficient "-div((1 + a*x)*grad(u)) = f"

space x, y
domain box(x: [0, 1], y: [0, 1])
param a = 2
field u

let k = 1 + a*x
exact u = x*(1 - x)*sin(pi*y)
equation -div(k*grad(u)) = -div(k*grad(exact(u)))
boundary all: u = exact(u)

solve fd(n: 64)
