# Poisson family with Gaussian-bump sources: -lap(u) = A*exp(-|x - c|^2 / w) on the
# square, u = 0 on the sides.  The bump's centre, width and height are drawn per member.
# Train:  symop train poisson_bumps.pde --method hypino --samples 256 -o bumps.pt
# Solve:  symop run poisson_bumps.pde --method hypino --set model=bumps.pt --set refine=3
problem poisson_bumps "Poisson with Gaussian-bump sources"
space x, y
domain box(x: [-1, 1], y: [-1, 1])
param cx in [-0.5, 0.5]
param cy in [-0.5, 0.5]
param w ~ loguniform(0.05, 0.2)
param A in [5, 20]
field u
equation -lap(u) = A*exp(-((x - cx)^2 + (y - cy)^2)/w)
boundary all: u = 0
solve fem(h: 0.05, degree: 2)
