# -lap(u) = 1 on the L-shape, u = 0 on the boundary (a corner singularity at the origin).
# One problem rather than a family: HyPINO trains on manufactured solutions on this
# geometry (`symop train lshape.pde --method hypino ...`) and solves it zero-shot.
problem lshape "-lap(u) = 1 on the L-shape"
space x, y
domain polygon((-1, -1), (1, -1), (1, 0), (0, 0), (0, 1), (-1, 1))
field u
equation -lap(u) = 1
boundary all: u = 0
solve fem(h: 0.05, degree: 2)
