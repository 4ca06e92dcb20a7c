"""Low-rank form of the JAX training loop's big kernels (the ``"lowrank"``/``"auto"`` plans).

:mod:`radiogenomics.jax_loop` forms every kernel's dense gradient at every step (plan
``"dense"``, the executable reference). This module updates the kernels of the large
unconstrained layers without forming it, as the TensorFlow loop's low-rank form does
(:mod:`radiogenomics.sgd_loop`), inside the same vmapped, jitted ``lax.scan`` epoch.

At batch size b a kernel's gradient is ``G_k = A_kᵀ B_k`` with ``A_k`` the layer's input
(b × in, after dropout) and ``B_k = dL/dz`` (b × out). With ``c = mu / (1 - mu)`` the
look-ahead weights ``Z_t = W_t + c v_t`` follow plain SGD, ``Z_{t+1} = Z_t - lr_t / (1 - mu)
G_t``, and unrolling the momentum (v_0 = 0) gives exactly::

    W_t = Z_t + sum_{k<t} lr_k mu^(t-k) / (1 - mu) G_k

Each fold keeps one dense matrix ``D = Z`` at the last *flush* and the factors (A_k, B_k, lr_k,
k) of recent steps in a ring of R slots, so that::

    W_t = D + sum_slots lr_k / (1 - mu) (mu^(t-k) [t-k <= L] - [k pending]) A_kᵀ B_k

(pending: written since the last flush). A step computes ``h W_t = h D + ((h Aᵀ) * coef) B``
and, by automatic differentiation with D, A, B held fixed, ``delta W_tᵀ`` the same way; it
reads D twice and never forms a dense gradient. The epoch's batches run in chunks of at most
``flush_every`` (F) steps (an outer ``lax.scan`` over chunks, an inner one over steps, the
remainder chunk last); after each chunk its factors are flushed, ``D -= sum lr_k / (1 - mu)
A_kᵀ B_k`` (one rank-(F·b) product), so every epoch ends with nothing pending. The ring slot
of a step is its position in the fit (epoch × batches + batch) mod R, the same for every
fold, so the slot writes are in-place updates under ``vmap``; a fold's inactive (padding)
step writes lr_k = 0 and B_k = 0, so it changes nothing. The ring is large enough that a slot
is overwritten only after its entry was flushed and its age t - k exceeds L in every fold:
``R = max(F, L + 1 + P)``, P the most inactive steps of a fold in any R consecutive steps
(:func:`ring_size`).

*Span form* of the first layer (the autoencoder's): when it reads the rows of ``x`` directly
(no dropout before it) every gradient is ``x[idx_k]ᵀ B_k``, so its look-ahead weights stay
``Z = D0 - xᵀ C`` with D0 the initial kernel and C (rows of x × out) the flushed
``lr_k / (1 - mu) B_k`` rows added at their row indices. With ``x D0`` and the Gram matrix
``x xᵀ`` computed once per fit::

    x[idx] W_t = (x D0)[idx] - (x xᵀ)[idx] C + (((x xᵀ)[idx, ring rows]) * coef) B

and the step never reads the 12,042-row kernel. The trained kernel is written once at the end
(:func:`final_weights`): ``W = D + sum coef A_kᵀ B_k``, span ``W = D0 - xᵀ (C - S)`` with S the
ring's rows scattered at their row indices.

What the low-rank form drops: a gradient's momentum tail once ``mu^(t-k) < 2^-24``
(``t - k > L``, :func:`momentum_window`; L = 10 at mu = 0.2, 23 at mu = 0.5), below float32
rounding of that single update; otherwise it is the dense recurrence in another float32
summation order. Layers with non-negative weights need their dense weights after every step
for the projection and stay dense.

Plans (:func:`plan_layers`): ``"dense"`` every layer dense; ``"lowrank"`` every unconstrained
layer low-rank, the first in span form whenever it reads the rows directly; ``"auto"`` the
unconstrained layers whose ring holds at most half the kernel's numbers
(``2 R b (in + out) <= in out``), the first in span form when C and the ring's B hold at
most half of them (``2 (rows + R b) <= in``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import jax_loop as core
from .errors import RadiogenomicsError

#: plans of :func:`plan_layers` (the ``plan`` argument of ``jax_loop.fit_folds``)
PLANS = ("auto", "dense", "lowrank")
#: at most this many steps between flushes of the factors into the dense matrix (a chunk)
FLUSH_EVERY = 8
#: a momentum weight below this is dropped: float32 rounding of a single update (2^-24)
TAIL_CUTOFF = 2.0**-24


def momentum_window(momentum: float) -> int:
    """Steps L after which a gradient's momentum weight mu^(L+1) is below 2^-24 (as sgd_loop)."""
    if momentum <= 0:
        return 0
    return max(0, math.ceil(math.log(TAIL_CUTOFF) / math.log(momentum)) - 1)


def ring_size(window, flush_every, n_batches, gap):
    """Smallest R >= F with R - P(R) >= L + 1: P(R) the most inactive steps (the last ``gap``
    batches of each epoch of ``n_batches``) in any R consecutive steps."""
    pattern = np.r_[np.zeros(n_batches - gap, int), np.ones(gap, int)]
    r = max(flush_every, window + 1)
    while True:
        periodic = np.resize(pattern, n_batches + r)
        inactive = max(int(periodic[s:s + r].sum()) for s in range(n_batches))
        if r - inactive >= window + 1:
            return r
        r += 1


@dataclass(frozen=True)
class Plan:
    """Per Dense layer whether its kernel is low-rank; span form of layer 0; L, F, R."""

    lowrank: tuple
    span: bool
    window: int
    flush_every: int
    ring: int


def plan_layers(layers, shapes, *, momentum, batch_size, n_rows, n_batches, gap, plan="auto",
                flush_every=FLUSH_EVERY) -> Plan:
    """The :class:`Plan` of a fit (module docstring); ``shapes``: (in, out) per layer, ``n_rows``
    the rows of x, ``gap`` the most padding batches of a fold per epoch."""
    if plan not in PLANS:
        raise RadiogenomicsError(f"plan must be one of {PLANS}, got {plan!r}")
    window = momentum_window(momentum)
    ring = ring_size(window, flush_every, n_batches, gap)
    lowrank = tuple((not spec.nonneg) and (plan == "lowrank" or (
        plan == "auto" and 2 * ring * batch_size * (n_in + n_out) <= n_in * n_out))
        for spec, (n_in, n_out) in zip(layers, shapes))
    first = layers[0]
    span = (plan != "dense" and not first.nonneg and first.dropout == 0
            and (plan == "lowrank" or 2 * (n_rows + ring * batch_size) <= shapes[0][0]))
    if span:
        lowrank = (True,) + lowrank[1:]
    return Plan(lowrank, span, window, flush_every, ring)


# ---------------------------------------------------------------------------------
# State: params (D or D0, bias) per layer; vel (vk, vb) dense, (vb,) low-rank; the ring
# ---------------------------------------------------------------------------------
def initial_state(plan, params, n_folds, batch_size, n_rows):
    """Host arrays (params, vel, t, ring) with a leading fold axis; ``params`` as jax_loop's."""
    R, b = plan.ring, batch_size
    vel, a_ring, b_ring = [], [], []
    for i, (kernel, bias) in enumerate(params):
        n_in, n_out = kernel.shape[1:]
        if plan.lowrank[i]:
            vel.append((np.zeros_like(bias),))
            b_ring.append(np.zeros((n_folds, R, b, n_out), np.float32))
            if not (plan.span and i == 0):
                a_ring.append(np.zeros((n_folds, R, b, n_in), np.float32))
        else:
            vel.append((np.zeros_like(kernel), np.zeros_like(bias)))
    span_out = params[0][0].shape[2] if plan.span else 0
    ring = {"A": a_ring, "B": b_ring, "lr": np.zeros((n_folds, R), np.float32),
            "k": np.zeros((n_folds, R), np.int32),
            "idx": np.zeros((n_folds, R, b if plan.span else 0), np.int32),
            "C": np.zeros((n_folds, n_rows if plan.span else 0, span_out), np.float32),
            "xd0": np.zeros((n_folds, n_rows if plan.span else 0, span_out), np.float32)}
    return params, vel, np.zeros(n_folds, np.int32), ring


@jax.jit
def span_products(x, kernels):
    """``x D0`` of every fold (folds × rows × out) and the Gram matrix ``x xᵀ``."""
    return jnp.einsum("ri,fio->fro", x, kernels), x @ x.T


def _coefficients(plan, mu, t, ring, start, pos, batch_size):
    """Per factor row: lr_k / (1 - mu) (mu^(t-k) [t-k <= L] - [k pending]); pending = the slots
    written at positions start .. pos - 1 of the current chunk."""
    age = t - ring["k"]
    tail = jnp.where(age <= plan.window, jnp.power(mu, age.astype(jnp.float32)), 0.0)
    slots = jnp.arange(plan.ring, dtype=jnp.int32)
    pending = (jnp.mod(slots - start, plan.ring) < pos - start).astype(jnp.float32)
    return jnp.repeat(ring["lr"] / (1.0 - mu) * (tail - pending), batch_size)


def _forward(layers, plan, params, ring, coef, h, rows, gram, uniform=None, probes=None):
    """Prediction for rows ``h`` (= x[rows]) with W_t in the factor form; ``params``: per layer
    (kernel, bias), the low-rank ones' kernel D (D0 for the span layer). Returns the
    prediction and the inputs of the non-span low-rank layers. ``probes`` (zeros, one per
    low-rank layer) are added to the pre-activations: their gradients are the B_k."""
    offset, inputs, j, ja = 0, [], 0, 0
    for i, (spec, (kernel, bias)) in enumerate(zip(layers, params)):
        if uniform is not None and spec.dropout > 0:
            keep = 1.0 - spec.dropout
            kept = uniform[:, offset:offset + h.shape[1]] < jnp.float32(keep)
            offset += h.shape[1]
            h = jnp.where(kept, h / jnp.float32(keep), jnp.float32(0))
        if not plan.lowrank[i]:
            z = jnp.dot(h, kernel)
        else:
            b_flat = ring["B"][j].reshape(-1, kernel.shape[1])
            if plan.span and i == 0:
                g_rows = gram[rows]
                z = (ring["xd0"][rows] - jnp.dot(g_rows, ring["C"])
                     + jnp.dot(g_rows[:, ring["idx"].reshape(-1)] * coef, b_flat))
            else:
                a_flat = ring["A"][ja].reshape(-1, kernel.shape[0])
                z = jnp.dot(h, kernel) + jnp.dot(jnp.dot(h, a_flat.T) * coef, b_flat)
                inputs.append(h)
                ja += 1
            if probes is not None:
                z = z + probes[j]
            j += 1
        if bias.shape[0]:
            z = z + bias
        h = core._ACT[spec.activation](z)
    return h, inputs


def _split(plan, params):
    """(trainable per layer: (kernel, bias) dense, (bias,) low-rank; fixed kernels or None)."""
    trainable = [(b,) if lr else (k, b) for lr, (k, b) in zip(plan.lowrank, params)]
    fixed = [k if lr else None for lr, (k, _) in zip(plan.lowrank, params)]
    return trainable, fixed


def _join(trainable, fixed):
    return [(f, p[0]) if f is not None else p for p, f in zip(trainable, fixed)]


def _flush(plan, mu, params, ring, start, length, batch_size):
    """D -= sum over the chunk's slots of lr_k / (1 - mu) A_kᵀ B_k (span: C += rows)."""
    slots = jnp.mod(start + jnp.arange(length, dtype=jnp.int32), plan.ring)
    scale = jnp.repeat(ring["lr"][slots] / (1.0 - mu), batch_size)[:, None]
    params, ring = list(params), dict(ring)
    j, ja = 0, 0
    for i, (kernel, bias) in enumerate(params):
        if not plan.lowrank[i]:
            continue
        b_rows = ring["B"][j][slots].reshape(-1, kernel.shape[1]) * scale
        if plan.span and i == 0:
            ring["C"] = ring["C"].at[ring["idx"][slots].reshape(-1)].add(b_rows)
        else:
            a_rows = ring["A"][ja][slots].reshape(-1, kernel.shape[0])
            params[i] = (kernel - jnp.dot(a_rows.T, b_rows), bias)
            ja += 1
        j += 1
    return params, ring


def _fold_epoch(layers, plan, loss, hyper, x, y, gram, g0, params, vel, t, ring, seed, idx, mask,
                vidx, vmask):
    """One epoch of one fold in the low-rank form: chunks of steps, a flush after each."""
    lr0, decay, mu = hyper
    key = jax.random.key(seed)
    width = core._dropout_width(layers, params)
    b = idx.shape[1]
    n_lowrank = sum(plan.lowrank)

    def batch_loss(trainable, probes, fixed, ring, coef, bidx, m, uniform):
        pred, inputs = _forward(layers, plan, _join(trainable, fixed), ring, coef, x[bidx], bidx,
                                gram, uniform, probes)
        value, _ = core._masked_loss(loss, y[bidx], pred, m)
        return value, inputs

    grad_fn = jax.value_and_grad(batch_loss, argnums=(0, 1), has_aux=True)

    def chunk(state, xs):
        params, vel, t, ring, total = state
        cidx, cmask, start = xs
        trainable, fixed = _split(plan, params)
        const = {"C": ring["C"], "xd0": ring["xd0"]}  # fixed within a chunk
        moving = {k: ring[k] for k in ("A", "B", "lr", "k", "idx")}

        def step(carry, sx):
            trainable, vel, t, moving, total = carry
            bidx, m, pos = sx
            ring_now = {**moving, **const}
            coef = _coefficients(plan, mu, t, ring_now, start, pos, b)
            uniform = None
            if width:  # the dense loop's draw: one per step, keyed by (seed, t)
                uniform = jax.random.uniform(jax.random.fold_in(key, t), (b, width))
            probes = [jnp.zeros((b, k.shape[1]), jnp.float32) for k in fixed if k is not None]
            (value, inputs), (grads, deltas) = grad_fn(trainable, probes, fixed, ring_now, coef,
                                                       bidx, m, uniform)
            lr_t = lr0 / (1.0 + decay * t.astype(jnp.float32))
            active = jnp.sum(m) > 0
            trainable, vel = core._update(layers, trainable, vel, grads, active, lr_t, mu)
            s = jnp.mod(pos, plan.ring)
            put = lambda buf, val: jax.lax.dynamic_update_index_in_dim(buf, val, s, 0)  # noqa: E731
            moving = {"A": [put(a, h) for a, h in zip(moving["A"], inputs)],
                      "B": [put(bb, d) for bb, d in zip(moving["B"], deltas)],
                      "lr": put(moving["lr"], jnp.where(active, lr_t, 0.0)),
                      "k": put(moving["k"], t),
                      "idx": put(moving["idx"], bidx) if plan.span else moving["idx"]}
            return (trainable, vel, t + active.astype(t.dtype), moving, total + value * jnp.sum(m)), None

        positions = start + jnp.arange(cidx.shape[0], dtype=jnp.int32)
        (trainable, vel, t, moving, total), _ = jax.lax.scan(
            step, (trainable, vel, t, moving, total), (cidx, cmask, positions))
        params, ring = _flush(plan, mu, _join(trainable, fixed), {**moving, **const}, start,
                              cidx.shape[0], b)
        return (params, vel, t, ring, total), None

    assert n_lowrank == len(ring["B"])
    n, F = idx.shape[0], plan.flush_every
    q, r = divmod(n, F)
    state = (params, vel, t, ring, jnp.float32(0))
    if q:
        starts = g0 + F * jnp.arange(q, dtype=jnp.int32)
        state, _ = jax.lax.scan(chunk, state, (idx[:q * F].reshape(q, F, b),
                                               mask[:q * F].reshape(q, F, b), starts))
    if r:
        state, _ = chunk(state, (idx[q * F:], mask[q * F:], g0 + q * F))
    params, vel, t, ring, total = state
    train_loss = total / jnp.sum(mask)
    if vidx.shape[0]:
        coef = _coefficients(plan, mu, t, ring, 0, 0, b)
        pred, _ = _forward(layers, plan, params, ring, coef, x[vidx], vidx, gram)
        val_loss, rows = core._masked_loss(loss, y[vidx], pred, vmask)
        val_loss = jnp.where(rows > 0, val_loss, jnp.float32(jnp.nan))
    else:
        pred = jnp.zeros((0, y.shape[1]), jnp.float32)
        val_loss = jnp.float32(jnp.nan)
    return params, vel, t, ring, train_loss, val_loss, pred


@functools.lru_cache(maxsize=16)
def epoch_function(layers, plan, loss, n_folds):
    """The jitted low-rank epoch of all folds (vmapped; ``g0``, the ring position of the epoch's
    first step, is shared). Cached by (layers, plan, loss, fold count)."""

    def epoch(hyper, x, y, gram, g0, state, seeds_, idx, mask, vidx, vmask):
        params, vel, t, ring = state
        fold = lambda *a: _fold_epoch(layers, plan, loss, hyper, x, y, gram, g0, *a)  # noqa: E731
        if n_folds == 1:
            sq = lambda tree: jax.tree_util.tree_map(lambda a: a[0], tree)  # noqa: E731
            out = fold(*sq((params, vel, t, ring, seeds_, idx, mask, vidx, vmask)))
            out = jax.tree_util.tree_map(lambda a: a[None], out)
        else:
            out = jax.vmap(fold)(params, vel, t, ring, seeds_, idx, mask, vidx, vmask)
        params, vel, t, ring, loss_, val_loss, pred = out
        return (params, vel, t, ring), loss_, val_loss, pred

    return jax.jit(epoch, donate_argnums=(5,))


@functools.partial(jax.jit, static_argnums=(0, 1))
def final_weights(plan, batch_size, hyper, x, state):
    """Every fold's trained (kernel, bias) pairs: W = D + sum coef A_kᵀ B_k (span: D0 - xᵀ (C -
    S)); between epochs nothing is pending."""
    params, _, t, ring = state
    mu = hyper[2]

    def fold(params, t, ring):
        coef = _coefficients(plan, mu, t, ring, 0, 0, batch_size)[:, None]
        out, j, ja = list(params), 0, 0
        for i, (kernel, bias) in enumerate(params):
            if not plan.lowrank[i]:
                continue
            b_rows = ring["B"][j].reshape(-1, kernel.shape[1]) * coef
            if plan.span and i == 0:
                window = jnp.zeros_like(ring["C"]).at[ring["idx"].reshape(-1)].add(b_rows)
                out[i] = (kernel - jnp.dot(x.T, ring["C"] - window), bias)
            else:
                a_rows = ring["A"][ja].reshape(-1, kernel.shape[0])
                out[i] = (kernel + jnp.dot(a_rows.T, b_rows), bias)
                ja += 1
            j += 1
        return out

    return jax.vmap(fold)(params, t, ring)


class LowRankFit:
    """The low-rank side of a ``jax_loop.Trainer``: its :class:`Plan` and, when a layer is
    low-rank, the compiled epoch (``epoch_fn``; None otherwise), the device state (params,
    vel, t, ring) and the Gram matrix ``x xᵀ`` of the span form."""

    def __init__(self, layers, params, loss, x, *, momentum, batch_size, plan, train_sizes):
        n_batches = [-(-n // batch_size) for n in train_sizes]
        self.batch_size, self.n_folds, self.x = batch_size, len(train_sizes), x
        self.plan = plan_layers(layers, [k.shape[1:] for k, _ in params], momentum=momentum,
                                batch_size=batch_size, n_rows=x.shape[0], n_batches=max(n_batches),
                                gap=max(n_batches) - min(n_batches), plan=plan)
        self.epoch_fn = self.state = None
        self.gram = jnp.zeros((0, 0), jnp.float32)
        if not any(self.plan.lowrank):
            return
        self.epoch_fn = epoch_function(tuple(layers), self.plan, loss, self.n_folds)
        self.state = jax.device_put(initial_state(self.plan, params, self.n_folds, batch_size,
                                                  x.shape[0]))
        if self.plan.span:  # x D0 of every fold and x xᵀ, once per fit
            self.state[3]["xd0"], self.gram = span_products(x, self.state[0][0][0])

    def extra_args(self, step):
        """The epoch function's arguments after ``y``: the Gram matrix and the ring position of
        the epoch's first step (its position ``step`` in the fit, mod R)."""
        return self.gram, np.int32(step % self.plan.ring)

    def weights(self, hyper, state):
        return final_weights(self.plan, self.batch_size, hyper, self.x, state)
