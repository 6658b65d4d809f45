# Helmholtz family on the square: lap(u) + u = f, u = 0 on the sides.
# The wave numbers a1, a2 are drawn per member; each member has the exact
# solution sin(a1*pi*x)*sin(a2*pi*y) (PINNacle's Helmholtz problem is a1 = 1, a2 = 4).
# Train:  symop train helmholtz.pde --method hypino --samples 256 -o helmholtz.pt --set fourier=32 --set sigma=1.5
#         (the generated PINN needs Fourier features for these oscillatory solutions)
# Solve:  symop run helmholtz.pde --method hypino --set model=helmholtz.pt --set refine=3
problem helmholtz "Helmholtz lap(u) + u = f on the square"
space x, y
domain box(x: [-1, 1], y: [-1, 1])
param a1 ~ choice(1, 2)
param a2 ~ choice(1, 2, 3, 4)
field u
exact u = sin(a1*pi*x)*sin(a2*pi*y)
equation lap(u) + u = lap(exact(u)) + exact(u)
boundary all: u = 0
solve fem(h: 0.05, degree: 2)
