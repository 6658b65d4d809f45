# gray_scott.pde: a reaction-diffusion system of two fields on a periodic square
problem gray_scott "Gray-Scott pattern formation"

space x, y
time t in [0, 500]
domain box(x: [0, 2.5], y: [0, 2.5])
boundary periodic(x, y)

param Du = 2e-5, Dv = 1e-5, F = 0.04, k = 0.06
field u, v

equation dt(u) = Du*lap(u) - u*v^2 + F*(1 - u)
equation dt(v) = Dv*lap(v) + u*v^2 - (F + k)*v
initial u = 1 - 0.5*exp(-100*((x - 1.25)^2 + (y - 1.25)^2))
initial v = 0.25*exp(-100*((x - 1.25)^2 + (y - 1.25)^2))

solve fd(n: 128, split: strang)
