# disk_poisson.pde: Poisson on a disk (finite elements or a PINN; not finite differences)
problem disk_poisson "-lap(u) = 4 on the unit disk"

space x, y
domain disk(center: (0, 0), radius: 1)
field u

equation -lap(u) = 4
boundary boundary: u = 0
exact u = 1 - x^2 - y^2

solve fem(h: 0.1)
