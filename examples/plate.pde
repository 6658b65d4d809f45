# plate.pde: a fourth-order (biharmonic) equation takes two conditions per side
problem plate "clamped plate"

space x, y
domain box(x: [0, 1], y: [0, 1])
field w

exact w = (x*(1 - x)*y*(1 - y))^2
equation biharm(w) = biharm(exact(w))
boundary all: w = 0
boundary all: dn(w) = 0

solve fd(n: 32)   # fem takes second-order equations only; fd and pinn solve this one
