# plate_hole.pde: box minus a disk, the hole a named boundary part with a Robin condition
problem plate_hole "Helmholtz-type problem around a hole"

space x, y
domain box(x: [0, 1], y: [0, 1]) minus disk(center: (0.5, 0.5), radius: 0.2) as hole
field u

exact u = sin(x)*cos(y)
equation -lap(u) + u = 3*sin(x)*cos(y)
boundary left, right, bottom, top: u = exact(u)
boundary hole: dn(u) + u = -((x - 0.5)*cos(x)*cos(y) - (y - 0.5)*sin(x)*sin(y))/0.2 + exact(u)

solve fem(h: 0.05)   # fd needs a box; fem meshes the hole's circle
