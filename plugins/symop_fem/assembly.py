"""Batched finite-element kernels in PyTorch: every element at once.

Geometry, basis gradients and coefficients live in tensors with a leading
element axis E and a quadrature axis Q; element matrices are one ``einsum``
over them, scattered as COO triplets into a SciPy CSR matrix.  Affine
geometry (P1, or P2 without curved sides) computes the Jacobian once per
element (Q axis of size 1); isoparametric P2 evaluates it at every point.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sps
import torch

from .dofs import DofMap
from symop.discrete.elements import Lagrange, quadrature
from symop.threads import intra_op_threads

DTYPE = torch.float64


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(a), dtype=DTYPE)


def one_thread():
    """torch's intra-op threads set to 1 for the block and restored after.

    The chunked assembly and error norms run tens of small operations per chunk of cells, each an
    OpenMP parallel region when torch has more threads: on 2 busy cores the assembly at 10^6 P1
    unknowns took 11-13 s with two threads and 0.5-0.8 s with one (the worker waits for a time slice at
    every region).
    """
    return intra_op_threads(1)


def gather(a: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``a[index]`` along the first axis (shape ``index.shape + a.shape[1:]``) by ``index_select``: torch's
    advanced indexing takes 3-4x as long for the (E, nb) index of a mesh's cells."""
    return a.index_select(0, index.reshape(-1)).view(*index.shape, *a.shape[1:])


def det_inv(J: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Determinants and inverses of a batch of small matrices (closed forms for d <= 3)."""
    d = J.shape[-1]
    if d == 1:
        det = J[..., 0, 0]
        return det, (1.0 / det)[..., None, None]
    if d == 2:
        a, b, c, e = J[..., 0, 0], J[..., 0, 1], J[..., 1, 0], J[..., 1, 1]
        det = a * e - b * c
        inv = torch.stack([torch.stack([e, -b], -1), torch.stack([-c, a], -1)], -2) / det[..., None, None]
        return det, inv
    if d == 3:
        c0 = torch.linalg.cross(J[..., :, 1], J[..., :, 2], dim=-1)
        c1 = torch.linalg.cross(J[..., :, 2], J[..., :, 0], dim=-1)
        c2 = torch.linalg.cross(J[..., :, 0], J[..., :, 1], dim=-1)
        det = (J[..., :, 0] * c0).sum(-1)
        inv = torch.stack([c0, c1, c2], -2) / det[..., None, None]
        return det, inv
    return torch.linalg.det(J), torch.linalg.inv(J)


def index_dtype(n: int, count: int) -> torch.dtype:
    """int32 for the COO indices of an ``n x n`` matrix with ``count`` triplets when SciPy keeps them
    as int32 (both below 2^31): half the memory of int64 and no conversion on the way to CSR."""
    return torch.int32 if max(n, count) < 2**31 - 1 else torch.int64


def triplets(cells: torch.Tensor | np.ndarray, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column index of every entry of the element matrices of ``cells`` (E, nb) in an ``n x n``
    matrix: (E, nb, nb) each, views of one copy of ``cells`` in :func:`index_dtype`."""
    cells = torch.as_tensor(cells)
    E, nb = cells.shape
    cells = cells.to(index_dtype(n, E * nb * nb))
    return cells[:, :, None].expand(-1, -1, nb), cells[:, None, :].expand(-1, nb, -1)


def max_cell_size(points: np.ndarray, cells: np.ndarray, chunk: int = 1 << 16) -> float:
    """The mesh size ``h = max_K max_{i<j} |p_i - p_j|`` (the longest edge of any simplex), the value of
    :meth:`symop.model.mesh.Mesh.max_size`, computed chunk by chunk of cells so that the edge vectors
    stay small (the whole mesh's take ~100 MB at 2 million triangles)."""
    k = cells.shape[1]
    h2 = 0.0
    for start in range(0, cells.shape[0], chunk):
        part = cells[start:start + chunk]
        p = [np.take(points, part[:, i], axis=0) for i in range(k)]  # contiguous (C, d) per vertex
        for i in range(k):
            for j in range(i + 1, k):
                e = p[i] - p[j]
                h2 = max(h2, float(np.einsum("md,md->m", e, e).max()))
    return float(np.sqrt(h2))


class ElementScatter:
    """An ``n x n`` CSR matrix summed from element matrices that arrive chunk by chunk of cells.

    The diagonal entries are summed into one length-``n`` vector as they arrive and the off-diagonal
    ones are written, chunk by chunk, into one array of COO triplets (with their row and column
    indices, made once at the end); the CSR matrix comes from those and the diagonal: ``n + E nb (nb-1)``
    triplets instead of the ``E nb^2`` of the element matrices (13 against 18 million for P1 at 2
    million triangles), and no copy of the element matrices or of their indices.
    """

    def __init__(self, cells: np.ndarray, n: int) -> None:
        E, nb = cells.shape
        self.n = n
        self.cells = cells
        pairs = [i * nb + j for i in range(nb) for j in range(nb) if i != j]
        self._off = torch.tensor(pairs, dtype=torch.int64)  # positions in a flattened element matrix
        self._k = len(pairs)
        size = E * self._k + n
        self._itype = np.int32 if index_dtype(n, size) == torch.int32 else np.int64
        self.vals = np.empty(size)
        self._written = np.zeros(E, dtype=bool)
        self.diagonal = torch.zeros(n, dtype=DTYPE)

    def add(self, start: int, cells: torch.Tensor, Ke: torch.Tensor) -> None:
        """Add the element matrices ``Ke`` (C, nb, nb) of the cells ``start .. start + C`` (their dofs
        ``cells`` (C, nb))."""
        C, nb = cells.shape
        self.diagonal.index_add_(0, cells.reshape(-1), torch.diagonal(Ke, dim1=1, dim2=2).reshape(-1))
        out = torch.from_numpy(self.vals[start * self._k:(start + C) * self._k]).view(C, self._k)
        torch.index_select(Ke.reshape(C, nb * nb), 1, self._off, out=out)
        self._written[start:start + C] = True

    def tocsr(self, chunk: int = 1 << 16) -> sps.csr_matrix:
        """The summed matrix, exact zeros (cancellations, and the pairs no cell couples) removed."""
        E, nb = self.cells.shape
        n, k = self.n, self._k
        vals = self.vals.reshape(-1)
        vals[: E * k].reshape(E, k)[~self._written] = 0.0  # cells no chunk gave a matrix to
        vals[E * k:] = self.diagonal.numpy()
        rows = np.empty(E * k + n, dtype=self._itype)
        cols = np.empty(E * k + n, dtype=self._itype)
        i = self._off.numpy() // nb
        j = self._off.numpy() % nb
        for s in range(0, E, chunk):  # the off-diagonal entries' indices, in cache-sized pieces
            part = self.cells[s:s + chunk]
            rows[s * k:(s + len(part)) * k].reshape(-1, k)[:] = part[:, i]
            cols[s * k:(s + len(part)) * k].reshape(-1, k)[:] = part[:, j]
        rows[E * k:] = np.arange(n)
        cols[E * k:] = np.arange(n)
        A = sps.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
        del rows, cols
        self.vals = None
        A.sum_duplicates()
        A.eliminate_zeros()
        return A


def to_csr(rows: torch.Tensor, cols: torch.Tensor, vals: torch.Tensor, n: int) -> sps.csr_matrix:
    """Sum COO triplets into an ``n x n`` CSR matrix (indices of :func:`index_dtype` are used as given)."""
    A = sps.coo_matrix(
        (vals.reshape(-1).numpy(), (rows.reshape(-1).numpy(), cols.reshape(-1).numpy())), shape=(n, n)
    ).tocsr()
    A.sum_duplicates()
    A.eliminate_zeros()  # exact cancellations (e.g. the diagonal edge of right triangles)
    return A


class CellSpace:
    """Geometry and basis functions of the cells of a mesh at quadrature points.

    ``phi`` (Q, nb); ``grad`` (E, Q or 1, nb, d) physical gradients;
    ``wdet`` (E, Q) quadrature weight times |det J|; ``xq`` (E, Q, d) points.
    """

    def __init__(self, dofs: DofMap, dim: int, qdegree: int, geometry: "CellSpace | None" = None) -> None:
        """The cells of ``dofs`` with a rule exact for degree ``qdegree``; ``geometry``: a space on the
        same cells whose affine Jacobians (inverses and determinants) are reused instead of recomputed."""
        self.dofs = dofs
        self.dim = dim
        self.element = Lagrange(dim, dofs.degree)
        xi, w = quadrature(dim, qdegree)
        phi, dphi = self.element.eval(xi)
        self.phi = _t(phi)
        self.n = dofs.size
        self._rows = None
        if dofs.curved:  # isoparametric: geometry in the P2 basis
            self.cells = torch.as_tensor(dofs.cells)
            Xe = gather(_t(dofs.coords), self.cells)  # (E, nb, d)
            J = torch.einsum("eka,qkb->eqab", Xe, _t(dphi))
            self.xq = torch.einsum("eka,qk->eqa", Xe, self.phi)
            dref = _t(dphi)  # (Q, nb, d)
            det, inv = det_inv(J)  # (E, Q, d, d)
        else:  # affine: J from the vertices, once per cell
            if geometry is not None and not geometry.dofs.curved:
                self.cells, self._verts, det, inv = geometry.cells, geometry._verts, geometry._det, geometry._inv
            else:
                self.cells = torch.as_tensor(dofs.cells)
                self._verts = gather(_t(dofs.coords), self.cells[:, : dim + 1])  # (E, d+1, d)
                J = (self._verts[:, 1:, :] - self._verts[:, :1, :]).transpose(1, 2)  # (E, d, d)
                det, inv = det_inv(J)
                self._det, self._inv = det, inv
            lam, _ = Lagrange(dim, 1).eval(xi)
            # einsum, not a batched matmul: one GEMM instead of E tiny ones (4x faster at 32768 cells); the
            # result is a point-major view, which element-wise coefficient functions take as fast
            self.xq = torch.einsum("qk,eka->eqa", _t(lam), self._verts)  # (E, Q, d)
            dref = _t(dphi)
            if dofs.degree == 1:
                dref = dref[:1]  # P1 gradients are constant on a cell
            det, inv = det[:, None], inv[:, None]  # (E, 1), (E, 1, d, d)
        if inv.shape[1] != dref.shape[0]:
            inv = inv.expand(-1, dref.shape[0], -1, -1)
        self._dref, self._ginv, self._grad = dref, inv, None
        self.wdet = _t(w)[None, :] * det.abs()  # (E, Q) (broadcast when Qg = 1)
        if self.wdet.shape[1] != len(w):
            self.wdet = self.wdet.expand(-1, len(w)).contiguous()

    @property
    def grad(self) -> torch.Tensor:
        """The physical gradients ``grad_x phi_k = J^{-T} grad_xi phi_k`` (E, Q or 1, nb, d), made on first use
        (the error norms' L2 part never uses them)."""
        if self._grad is None:
            self._grad = torch.einsum("qkj,eqjb->eqkb", self._dref, self._ginv)
        return self._grad

    @property
    def num_cells(self) -> int:
        return int(self.cells.shape[0])

    def triplets(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Row and column index of every entry of the element matrices, (E, nb, nb) each (views)."""
        if self._rows is None:
            self._rows, self._cols = triplets(self.cells, self.n)
        return self._rows, self._cols

    # ----------------------------------------------------------- evaluation
    def values(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """u_h (E, Q) and grad u_h (E, Q, d) at the quadrature points."""
        ue = gather(u, self.cells)  # (E, nb)
        uq = ue @ self.phi.T
        gq = torch.einsum("ek,egka->ega", ue, self.grad)
        if gq.shape[1] != uq.shape[1]:
            gq = gq.expand(-1, uq.shape[1], -1)
        return uq, gq

    # ----------------------------------------------------------- assembly
    def matrix(self, A=None, b=None, c=None, m=None) -> sps.csr_matrix:
        """The matrix of ``sum_q w |J| [grad phi_i . A grad phi_j + (grad phi_i . b) phi_j
        + phi_i (c . grad phi_j) + m phi_i phi_j]``.

        Each coefficient is None, a float / (d, d) array (constant), or a tensor
        broadcastable to (E, Q, [d[, d]]).
        """
        Ke = self.element_matrices(A, b, c, m)
        if Ke is None:
            return sps.csr_matrix((self.n, self.n))
        r, cidx = self.triplets()
        return to_csr(r, cidx, Ke, self.n)

    def element_matrices(self, A=None, b=None, c=None, m=None) -> torch.Tensor | None:
        """The element matrices (E, nb, nb) of :meth:`matrix` (None when every coefficient is None)."""
        E, Q = self.wdet.shape
        G = self.grad
        Ke = None

        def add(x):
            nonlocal Ke
            Ke = x if Ke is None else Ke + x

        if A is not None:
            if isinstance(A, np.ndarray) or isinstance(A, (float, int)):
                Acon = np.asarray(A, dtype=np.float64)
                if G.shape[1] == 1:
                    vol = self.wdet.sum(1)
                    if Acon.ndim == 0 or np.allclose(Acon, Acon[0, 0] * np.eye(self.dim)):
                        a = float(Acon if Acon.ndim == 0 else Acon[0, 0])
                        g = G[:, 0]
                        add(torch.einsum("eid,ejd->eij", g, g) * (a * vol)[:, None, None])
                    else:
                        g = G[:, 0]
                        add(torch.einsum("eia,ab,ejb->eij", g, _t(Acon), g) * vol[:, None, None])
                else:
                    Aq = _t(Acon if Acon.ndim == 2 else Acon * np.eye(self.dim))
                    add(torch.einsum("eqia,ab,eqjb,eq->eij", G, Aq, G, self.wdet))
            else:
                Gq = G.expand(E, Q, -1, -1)
                add(torch.einsum("eqia,eqab,eqjb,eq->eij", Gq, A.expand(E, Q, self.dim, self.dim), Gq, self.wdet))
        if b is not None:
            bq = _t(np.broadcast_to(b, (self.dim,))) if isinstance(b, np.ndarray) else b
            bq = bq.expand(E, Q, self.dim)
            add(torch.einsum("eqia,eqa,qj,eq->eij", G.expand(E, Q, -1, -1), bq, self.phi, self.wdet))
        if c is not None:
            cq = _t(np.broadcast_to(c, (self.dim,))) if isinstance(c, np.ndarray) else c
            cq = cq.expand(E, Q, self.dim)
            add(torch.einsum("qi,eqa,eqja,eq->eij", self.phi, cq, G.expand(E, Q, -1, -1), self.wdet))
        if m is not None:
            mq = m if isinstance(m, torch.Tensor) else torch.full((1, 1), float(m), dtype=DTYPE)
            add(torch.einsum("qi,qj,eq->eij", self.phi, self.phi, self.wdet * mq.expand(E, Q)))
        return Ke

    def vector(self, f=None, flux=None) -> np.ndarray:
        """The vector ``sum_q w |J| [f phi_i + flux . grad phi_i]`` (f (E, Q), flux (E, Q, d))."""
        Fe = self.element_vectors(f, flux)
        return np.bincount(self.cells.reshape(-1).numpy(), weights=Fe.reshape(-1).numpy(), minlength=self.n)

    def element_vectors(self, f=None, flux=None) -> torch.Tensor:
        """The element vectors (E, nb) of :meth:`vector`."""
        E, Q = self.wdet.shape
        Fe = torch.zeros(E, self.cells.shape[1], dtype=DTYPE)
        if f is not None:
            fq = f if isinstance(f, torch.Tensor) else torch.full((1, 1), float(f), dtype=DTYPE)
            Fe = Fe + (self.wdet * fq.expand(E, Q)) @ self.phi
        if flux is not None:
            if self.grad.shape[1] == 1:  # affine cells: the gradients are constant, integrate the flux first
                fw = torch.einsum("eqa,eq->ea", flux.expand(E, Q, self.dim), self.wdet)
                Fe = Fe + torch.einsum("ea,eka->ek", fw, self.grad[:, 0])
            else:
                Fe = Fe + torch.einsum("eqa,eqka,eq->ek", flux.expand(E, Q, self.dim), self.grad, self.wdet)
        return Fe


class FacetSpace:
    """Basis functions and surface measure on the boundary facets of some sides."""

    def __init__(self, dofs: DofMap, dim: int, sides, qdegree: int) -> None:
        arrays = [dofs.facets[s] for s in sides if s in dofs.facets]
        fd = dim - 1
        nbf = Lagrange(fd, dofs.degree).num_nodes if fd > 0 else 1
        facets = np.concatenate(arrays, axis=0) if arrays else np.zeros((0, nbf), dtype=np.int64)
        self.facets = torch.as_tensor(facets)
        self.n = dofs.size
        coords = _t(dofs.coords)
        if fd == 0:
            self.phi = torch.ones(1, 1, dtype=DTYPE)
            self.wdet = torch.ones(facets.shape[0], 1, dtype=DTYPE)
            self.xq = coords[self.facets[:, :1]]  # (K, 1, d)
            return
        el = Lagrange(fd, dofs.degree)
        xi, w = quadrature(fd, qdegree)
        phi, dphi = el.eval(xi)
        self.phi = _t(phi)
        Xe = coords[self.facets]  # (K, nbf, d)
        if not dofs.curved:
            lam, dlam = Lagrange(fd, 1).eval(xi)
            Xe = Xe[:, : fd + 1]
            phi_g, dphi_g = _t(lam), _t(dlam)
        else:
            phi_g, dphi_g = self.phi, _t(dphi)
        J = torch.einsum("kna,qnb->kqab", Xe, dphi_g)  # (K, Q, d, fd)
        gram = torch.einsum("kqab,kqac->kqbc", J, J)
        self.wdet = _t(w)[None, :] * torch.sqrt(torch.linalg.det(gram))
        self.xq = torch.einsum("kna,qn->kqa", Xe, phi_g)

    def values(self, u: torch.Tensor) -> torch.Tensor:
        return u[self.facets] @ self.phi.T

    def matrix(self, m) -> sps.csr_matrix:
        K, Q = self.wdet.shape
        if K == 0:
            return sps.csr_matrix((self.n, self.n))
        mq = m if isinstance(m, torch.Tensor) else torch.full((1, 1), float(m), dtype=DTYPE)
        Ke = torch.einsum("qi,qj,kq->kij", self.phi, self.phi, self.wdet * mq.expand(K, Q))
        nb = self.facets.shape[1]
        facets = self.facets.to(index_dtype(self.n, K * nb * nb))
        r = facets[:, :, None].expand(-1, -1, nb)
        c = facets[:, None, :].expand(-1, nb, -1)
        return to_csr(r, c, Ke, self.n)

    def vector(self, f) -> np.ndarray:
        K, Q = self.wdet.shape
        if K == 0:
            return np.zeros(self.n)
        fq = f if isinstance(f, torch.Tensor) else torch.full((1, 1), float(f), dtype=DTYPE)
        Fe = (self.wdet * fq.expand(K, Q)) @ self.phi
        return np.bincount(self.facets.reshape(-1).numpy(), weights=Fe.reshape(-1).numpy(), minlength=self.n)
