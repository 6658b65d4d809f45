# heat3d.pde: a 3D box with front and back sides
problem heat3d "3D heat equation"

space x, y, z
time t in [0, 0.1]
domain box(x: [0, 1], y: [0, 1], z: [0, 1])
field u

equation dt(u) = lap(u)
boundary left, right, bottom, top: u = 0
boundary front, back: u = 0
initial u = sin(pi*x)*sin(pi*y)*sin(pi*z)
exact u = exp(-3*pi^2*t)*sin(pi*x)*sin(pi*y)*sin(pi*z)

solve fd(n: 16, scheme: crank-nicolson, dt: 0.002)
