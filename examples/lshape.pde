# lshape.pde: an L-shaped polygon with Neumann and Dirichlet sides
problem lshape "Poisson on an L-shaped domain"

space x, y
domain polygon((0,0), (2,0), (2,1), (1,1),
               (1,2), (0,2))
field u

exact u = cos(x)*exp(y)
equation -lap(u) = 0
boundary side1, side2, side3: u = exact(u)
boundary side4, side5: u = exact(u)
boundary side6: dn(u) = -dx(exact(u))

solve fem(h: 0.1)
