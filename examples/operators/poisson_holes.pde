# Poisson on the square minus disks (PINNacle's Poisson2d-C in spirit): -lap(u) = s,
# u = 0 on the outer sides, u = g on the holes' edges.  Source s and hole value g vary.
problem poisson_holes "Poisson on the square minus disks"
space x, y
domain box(x: [-0.5, 0.5], y: [-0.5, 0.5]) minus disk(center: (-0.25, -0.25), radius: 0.1) as hole1 minus disk(center: (0.25, -0.25), radius: 0.1) as hole2 minus disk(center: (-0.25, 0.25), radius: 0.1) as hole3 minus disk(center: (0.25, 0.25), radius: 0.1) as hole4
param s in [0, 2]
param g in [0.5, 1]
field u
equation -lap(u) = s
boundary left, right, bottom, top: u = 0
boundary hole1, hole2, hole3, hole4: u = g
solve fem(h: 0.03, degree: 2)
