# advection_diffusion.pde: 1D advection-diffusion, periodic, terms on both sides of `=`
problem advection_diffusion "travelling, decaying wave"

space x
time t in [0, 1]
domain interval(x: [0, 1])
boundary periodic(x)

param a = 1, nu = 0.01
field c

equation dt(c) + a*dx(c) = nu*d(c, x, 2)
initial c = sin(2*pi*x)
exact c = exp(-4*pi^2*nu*t)*sin(2*pi*(x - a*t))

solve fd(n: 128, scheme: rk4)
