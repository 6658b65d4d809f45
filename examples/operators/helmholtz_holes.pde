# Helmholtz lap(u) + u = f on the square with four circular holes (chained `minus`),
# u given on every side and hole; each member has the exact solution
# sin(a1*pi*x)*sin(a2*pi*y).
problem helmholtz_holes "Helmholtz on the square with four holes"
space x, y
domain box(x: [-1, 1], y: [-1, 1]) minus disk(center: (-0.5, -0.5), radius: 0.2) as hole1 minus disk(center: (0.5, -0.5), radius: 0.2) as hole2 minus disk(center: (-0.5, 0.5), radius: 0.2) as hole3 minus disk(center: (0.5, 0.5), radius: 0.2) as hole4
param a1 ~ choice(1, 2)
param a2 ~ choice(1, 2, 3, 4)
field u
exact u = sin(a1*pi*x)*sin(a2*pi*y)
equation lap(u) + u = lap(exact(u)) + exact(u)
boundary all: u = exact(u)
solve fem(h: 0.05, degree: 2)
