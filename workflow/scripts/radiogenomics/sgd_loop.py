"""The fast training loop of :func:`radiogenomics.training.fit`: SGD with momentum, compiled.

One ``tf.function`` per epoch with the batch loop inside the graph (``tf.range`` loop; no
Python and no host synchronisation per step; one float read per epoch), traced once per
``fit``. It computes the update of :mod:`radiogenomics.training` (Keras' momentum SGD with
Keras-2 decay, stateless dropout masks, ``NonNeg`` projections) on the model's own
``tf.Variable`` objects, and updates each Dense layer in one of three forms, chosen by
:func:`plan_layers` (``"dense"``: every layer dense; ``"lowrank"``: every unconstrained layer
low-rank; ``"auto"``: the layers where the low-rank form saves memory traffic):

*dense*
    a dense momentum buffer, updated with TensorFlow's fused ``ResourceApplyKerasMomentum``
    after a dense weight gradient.

*low-rank*
    At batch size b the weight gradient of a Dense layer is ``G_k = A_kᵀ B_k`` with
    ``A_k`` the layer's input (b × in) and ``B_k = dL/dz`` (b × out). With
    ``c = mu / (1 - mu)`` the look-ahead weights ``Z_t = W_t + c v_t`` follow plain SGD,
    ``Z_{t+1} = Z_t - lr_t / (1 - mu) G_t``, and unrolling the momentum gives exactly::

        W_t = Z_t + sum_{k<t} lr_k mu^(t-k) / (1 - mu) G_k

    The loop keeps one dense matrix ``D = Z_f`` (Z at the last *flush* step f) and the
    factors (A_k, B_k, lr_k) of the recent steps in a ring buffer, so that::

        W_t = D + sum_k lr_k / (1 - mu) (mu^(t-k) [t-k <= L] - [k >= f]) A_kᵀ B_k

    The forward pass computes ``x W_t = x D + ((x Aᵀ) * coef) B`` and the backward pass
    ``delta W_tᵀ`` the same way, so a step reads the dense matrix twice plus small
    factors and never forms the dense gradient; every ``flush_every`` steps (F) the
    pending factors are flushed into D with one rank-(F·b) matrix product
    (``D -= sum lr_k/(1-mu) A_kᵀ B_k``), and at the end of training W is written back
    into the kernel (:meth:`Loop.finalize`). D is stored transposed (out × in) in blocks
    of output units of at most ``block_mb`` MiB: the forward product is then ``(Dᵀ xᵀ)ᵀ``, which Eigen runs
    about twice as fast as ``x D`` at batch 10, and a flush applies each block's product
    while it is still in the cache (a 96 MB flush delta in one piece runs at half the
    speed). The only departure from the dense recurrence is that a gradient's momentum
    tail is dropped once ``mu^(t-k) < 2^-24`` (kept for L = 10 steps at mu = 0.2, 23 at
    mu = 0.5): below float32 rounding of that single update. Layers named in ``nonneg``
    need their dense weights after every step for the projection, so they always use the
    dense form.

*span* (a low-rank form of the first layer, see :class:`Loop`; off with ``span=False``)
    When the first Dense layer reads the training rows X directly (autoencoder: no
    dropout before it) and ``2 n_train <= n_in``, its look-ahead weights stay
    ``D0 - Xᵀ C`` and a step uses the precomputed ``X D0`` and Gram matrix ``X Xᵀ``
    instead of reading the 12,042 × 2000 kernel at all.

All forms give the same numbers to float32 rounding (``tests/test_training.py``).

Loop settings (``flush_every``, ``span``, ``block_mb``, arguments of :class:`Loop`,
:func:`plan_layers` and :func:`radiogenomics.training.fit`): they change the float32
summation order, hence the last bits of every trained number, and the speed, nothing else.
The defaults below are the workflow's (config keys ``training.flush_every``,
``training.span``, ``training.block_mb``).
"""

from __future__ import annotations

import math

from . import backend
from .errors import RadiogenomicsError

#: the layer plans of :func:`plan_layers`
PLANS = ("auto", "dense", "lowrank")
#: flush the pending low-rank updates into the dense weights every this many steps: the
#: ring buffer then holds the momentum window plus this many steps of factors
FLUSH_EVERY = 8
#: low-rank kernels are kept transposed, in blocks of output units of at most this many MiB,
#: so that a flush's rank-(F·b) product of one block is still in the cache when it is applied
BLOCK_MB = 16.0
#: losses of the loop (and of the Keras reference)
LOSSES = ("mse", "mae")


def momentum_window(momentum: float) -> int:
    """Steps L after which a gradient's momentum weight mu^(L+1) is below 2^-24."""
    if momentum <= 0:
        return 0
    if momentum >= 1:
        raise RadiogenomicsError(f"momentum must be in [0, 1), got {momentum}")
    return max(0, math.ceil(24 * math.log(2) / -math.log(momentum)) - 1)


def loss_function(tf, loss):
    if loss == "mse":
        return lambda y, p: tf.reduce_mean(tf.square(y - p))
    if loss == "mae":
        return lambda y, p: tf.reduce_mean(tf.abs(y - p))
    raise RadiogenomicsError(f"loss must be one of {LOSSES}, got {loss!r}")


def _matmul_fn(tf, weight_grad):
    """``x @ w`` whose input gradient is computed as ``(w @ gᵀ)ᵀ``.

    TensorFlow's own gradient of ``x @ w`` with respect to ``x`` is ``g @ wᵀ``, which
    Eigen runs 3x slower than ``(w @ gᵀ)ᵀ`` when ``w`` is big and the batch small (it packs
    the big operand across its rows; ``w @ gᵀ`` reads each row of ``w`` contiguously): on
    the autoencoder's 2000 × 12,042 output kernel 66 ms vs 21 ms of CPU per step. The
    weight gradient (``xᵀ g``, dense layers only) is TensorFlow's usual one. Same value,
    another summation order.
    """

    @tf.custom_gradient
    def matmul(x, w):
        def grad(g):
            gx = tf.transpose(tf.matmul(w, g, transpose_b=True))
            return gx, (tf.matmul(x, g, transpose_a=True) if weight_grad else None)

        return tf.matmul(x, w), grad

    return matmul


def _matmul_t_fn(tf):
    """``x @ wtᵀ`` for a weight matrix stored transposed (``wt``: out × in).

    Computed as ``(wt @ xᵀ)ᵀ``, which reads each row of the big operand contiguously
    (Eigen: 3.7 ms vs 7.7 ms of CPU for ``x @ w`` on a 2000 × 2007 block at batch 10);
    the input gradient ``g @ wt`` is the usual product. No weight gradient (low-rank
    layers never form one).
    """

    @tf.custom_gradient
    def matmul_t(x, wt):
        def grad(g):
            return tf.matmul(g, wt), None

        return tf.transpose(tf.matmul(wt, x, transpose_b=True)), grad

    return matmul_t


class _Dense:
    def __init__(self, layer, constrained):
        self.name = layer.name
        self.kernel = layer.kernel.value  # the tf.Variable behind the Keras variable
        self.bias = layer.bias.value if layer.use_bias else None
        self.activation = layer.activation
        self.constrained = constrained
        self.n_in, self.n_out = (int(d) for d in self.kernel.shape)
        self.lowrank = False
        self.span = False  # first layer, weights kept as D0 - Xᵀ C (see Loop)
        self.A = self.B = None  # ring buffers (R, b, in) / (R, b, out) when low-rank
        self.blocks = None  # low-rank: Dᵀ as row blocks [(c0, c1, var (c1-c0, in))] (Loop)
        self.C = None  # (n_train, out) when span


class Net:
    """The model's layers as plain ops on its tf.Variables (shared by the training loops)."""

    def __init__(self, model, nonneg):
        keras = backend.keras()
        self.layers = []  # _Dense | float (dropout rate)
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dense):
                constraints = [c for c in (layer.kernel_constraint, layer.bias_constraint)
                               if c is not None]
                if any(not isinstance(c, keras.constraints.NonNeg) for c in constraints):
                    raise RadiogenomicsError(
                        f"layer {layer.name!r}: only NonNeg weight constraints are supported "
                        f"(got {[type(c).__name__ for c in constraints]})"
                    )
                # a NonNeg constraint on the layer counts as if the layer were named in nonneg
                self.layers.append(_Dense(layer, layer.name in set(nonneg) or bool(constraints)))
            elif isinstance(layer, keras.layers.Dropout):
                self.layers.append(float(layer.rate))
            elif isinstance(layer, keras.layers.InputLayer):
                continue
            else:
                raise RadiogenomicsError(
                    f"training.fit supports Dense and Dropout layers only, got {layer.name!r} "
                    f"({type(layer).__name__})"
                )
        self.dense = [spec for spec in self.layers if isinstance(spec, _Dense)]
        names = [d.name for d in self.dense]
        unknown = sorted(set(nonneg) - set(names))
        if unknown:
            raise RadiogenomicsError(
                f"nonneg names Dense layers that the model lacks: {unknown} (layers: {names})"
            )
        self.n_dropout = sum(1 for spec in self.layers if not isinstance(spec, _Dense))

    @staticmethod
    def _product(tf, spec, h, coef_rows, span_in, mm_w, mm, mm_t):
        """``h W`` of one Dense layer (dense, low-rank or span form), without the bias."""
        if spec.span:
            xd0, gram, ring_idx = span_in
            z = xd0 - tf.matmul(gram, spec.C)
            b = tf.reshape(spec.B, [-1, spec.n_out])
            return z + tf.matmul(tf.gather(gram, ring_idx, axis=1) * coef_rows, b)
        if not spec.lowrank:
            return mm_w(h, spec.kernel)
        z = tf.concat([mm_t(h, var) for _, _, var in spec.blocks], axis=1)
        a = tf.reshape(spec.A, [-1, spec.n_in])
        b = tf.reshape(spec.B, [-1, spec.n_out])
        with tf.name_scope("factors"):
            return z + mm(tf.matmul(h, a, transpose_b=True) * coef_rows, b)

    def forward(self, tf, x, training, seed=None, step=None, coef_rows=None, span_in=None):
        """Forward pass -> (prediction, [(input, pre-activation) of each low-rank layer]).

        Dropout masks are keyed by (seed, step * n_dropout + i) when training; low-rank
        layers add the factor correction ``((h Aᵀ) * coef_rows) B`` to ``h D``. A span
        layer gets ``span_in = (x D0, x Xᵀ, ring sample indices)`` instead of reading D.
        """
        h = x
        i = 0
        saved = []
        mm_w = _matmul_fn(tf, weight_grad=True)  # dense layers: kernel gradient too
        mm = _matmul_fn(tf, weight_grad=False)
        mm_t = _matmul_t_fn(tf)
        for spec in self.layers:
            if isinstance(spec, _Dense):
                with tf.name_scope(spec.name):
                    z = self._product(tf, spec, h, coef_rows, span_in, mm_w, mm, mm_t)
                if spec.bias is not None:
                    z = z + spec.bias
                if spec.lowrank:
                    saved.append((h, z))
                h = spec.activation(z)
            else:
                if training and spec > 0:
                    key = tf.stack([seed, step * self.n_dropout + i])
                    h = tf.nn.experimental.stateless_dropout(h, rate=spec, seed=key)
                i += 1
        return h, saved


def plan_layers(net, momentum, batch_size, method="auto", flush_every=FLUSH_EVERY, n_train=None,
                span=True):
    """Choose the low-rank layers: not constrained, and ring buffer <= half the kernel.

    The first layer becomes a *span* layer when ``span`` is true, it reads the training rows
    directly (no dropout before it), is unconstrained and ``2 * n_train <= n_in`` (see
    :class:`Loop`). Returns the names of the low-rank layers.
    """
    if method not in PLANS:
        raise RadiogenomicsError(f"method must be one of {PLANS}, got {method!r}")
    ring = momentum_window(momentum) + _positive_int(flush_every, "flush_every")
    for d in net.dense:
        factor_size = ring * batch_size * (d.n_in + d.n_out)
        d.lowrank = (not d.constrained) and (
            method == "lowrank" or (method == "auto" and 2 * factor_size <= d.n_in * d.n_out)
        )
        d.span = False
    first = net.layers[0] if net.layers else None
    if (span and method != "dense" and isinstance(first, _Dense) and not first.constrained
            and n_train is not None and 2 * n_train <= first.n_in):
        first.lowrank = first.span = True
    return [d.name for d in net.dense if d.lowrank]


def _positive_int(value, what):
    if int(value) != value or int(value) < 1:
        raise RadiogenomicsError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _block_bytes(block_mb):
    if not float(block_mb) > 0:
        raise RadiogenomicsError(f"block_mb must be positive, got {block_mb!r}")
    return int(float(block_mb) * 2**20)


class Loop:
    """The compiled per-epoch loop (dense and low-rank layers), its state and finalisation.

    Span layer (the first Dense layer when it reads the training rows X directly): every
    gradient of that layer is ``X[idx_k]ᵀ B_k``, so its look-ahead weights stay
    ``Z = D0 - Xᵀ C`` with D0 the kernel at the start and C (n_train × out) the
    accumulated ``lr_k / (1 - mu) B_k`` rows of each sample. Then ``X[idx] Z = (X D0)[idx]
    - (X Xᵀ)[idx] C``: with ``X D0`` and the Gram matrix computed once, a step never reads
    the big kernel; flushes add one-hot(idx)ᵀ B into C, and :meth:`finalize` writes
    ``D0 - Xᵀ (C - S)`` (S: the momentum window) into the kernel. Exact in real arithmetic.
    """

    def __init__(self, tf, net, loss_fn, learning_rate, decay, momentum, batch_size, n_batches,
                 dropout_seed, flush_every=FLUSH_EVERY, x=None, block_mb=BLOCK_MB):
        self.tf = tf
        self.net = net
        self.mu = float(momentum)
        self.bs = batch_size
        self.flush_every = _positive_int(flush_every, "flush_every")
        block_bytes = _block_bytes(block_mb)
        self.window = momentum_window(momentum)
        self.ring = self.window + self.flush_every
        self.lowrank = [d for d in net.dense if d.lowrank]
        # dense updates: every variable except the kernels of low-rank layers
        self.dense_vars = []
        for d in net.dense:
            if not d.lowrank:
                self.dense_vars.append((d.kernel, d.constrained))
            if d.bias is not None:
                self.dense_vars.append((d.bias, d.constrained))
        self.slots = [tf.Variable(tf.zeros_like(v), trainable=False) for v, _ in self.dense_vars]
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.span = next((d for d in self.lowrank if d.span), None)
        if self.lowrank:
            R = self.ring
            for d in self.lowrank:
                if not d.span:
                    d.A = tf.Variable(tf.zeros([R, batch_size, d.n_in]), trainable=False)
                    nb = max(1, -(-4 * d.n_in * d.n_out // block_bytes))
                    cols = [d.n_out * j // nb for j in range(nb + 1)]
                    d.blocks = [(c0, c1, tf.Variable(tf.transpose(d.kernel[:, c0:c1]),
                                                     trainable=False))
                                for c0, c1 in zip(cols[:-1], cols[1:])]
                d.B = tf.Variable(tf.zeros([R, batch_size, d.n_out]), trainable=False)
            self.ring_idx = tf.Variable(tf.zeros([R, batch_size], tf.int32), trainable=False)
            if self.span is not None:
                d = self.span
                self.x = x
                self.n_train = int(x.shape[0])
                d.C = tf.Variable(tf.zeros([self.n_train, d.n_out]), trainable=False)
                self.xd0 = tf.matmul(x, d.kernel)
                self.gram = tf.matmul(x, x, transpose_b=True)
                self._val_cache = {}
            self.flushed_at = tf.Variable(0, dtype=tf.int64, trainable=False)
            self.ring_lr = tf.Variable(tf.zeros([R]), trainable=False)
            self.ring_step = tf.Variable(tf.fill([R], tf.constant(-(2**40), tf.int64)),
                                         trainable=False)
        self.lr0 = tf.constant(learning_rate, tf.float32)
        self.decay = tf.constant(decay, tf.float32)
        self.mu_t = tf.constant(momentum, tf.float32)
        self.seed = tf.constant(dropout_seed, tf.int64)
        self.n_batches = n_batches
        self.loss_fn = loss_fn
        self.epoch = tf.function(self._epoch, reduce_retracing=True)
        self._evaluate_fn = tf.function(self._evaluate, reduce_retracing=True)
        self._finalize = tf.function(self._finalize_fn) if self.lowrank else None

    # -- low-rank bookkeeping ------------------------------------------------------------
    def _coef_rows(self):
        """Per factor row: lr_k/(1-mu) (mu^(t-k) [t-k <= L] - [k >= f])."""
        tf = self.tf
        t = self.step.read_value()
        age = t - self.ring_step.read_value()
        tail = tf.where(age <= self.window,
                        tf.pow(self.mu_t, tf.cast(age, tf.float32)), tf.zeros([self.ring]))
        pending = tf.cast(self.ring_step.read_value() >= self.flushed_at.read_value(), tf.float32)
        coef = self.ring_lr.read_value() / (1.0 - self.mu_t) * (tail - pending)
        return tf.repeat(coef, self.bs)

    def _flush(self):
        """D -= sum over the F pending steps of lr_k/(1-mu) A_kᵀ B_k; f <- t."""
        tf = self.tf
        f = self.flushed_at.read_value()
        idx = tf.math.floormod(f + tf.range(self.flush_every, dtype=tf.int64), self.ring)
        scale = tf.repeat(tf.gather(self.ring_lr, idx) / (1.0 - self.mu_t), self.bs)
        for d in self.lowrank:
            with tf.name_scope("flush_" + d.name):
                self._flush_layer(d, idx, scale)
        self.flushed_at.assign(self.step.read_value())

    def _flush_layer(self, d, idx, scale):
        tf = self.tf
        b = tf.reshape(tf.gather(d.B, idx), [-1, d.n_out])
        if d.span:
            rows = tf.one_hot(tf.reshape(tf.gather(self.ring_idx, idx), [-1]), self.n_train)
            d.C.assign_add(tf.matmul(rows * scale[:, None], b, transpose_a=True))
            return
        a = tf.reshape(tf.gather(d.A, idx), [-1, d.n_in]) * scale[:, None]
        for c0, c1, var in d.blocks:  # block by block: the product is applied from cache
            tf.raw_ops.ResourceApplyGradientDescent(
                var=var.handle, alpha=tf.constant(1.0),
                delta=tf.matmul(b[:, c0:c1], a, transpose_a=True))

    def _finalize_fn(self):
        """Write W_t = D + sum coef_k A_kᵀ B_k into the kernels; empty the ring."""
        tf = self.tf
        coef = self._coef_rows()
        for d in self.lowrank:
            b = tf.reshape(d.B, [-1, d.n_out])
            if d.span:
                rows = tf.one_hot(tf.reshape(self.ring_idx, [-1]), self.n_train)
                window = tf.matmul(rows * coef[:, None], b, transpose_a=True)
                d.kernel.assign_sub(tf.matmul(self.x, d.C - window, transpose_a=True))
                d.C.assign(tf.zeros_like(d.C))
            else:
                a = tf.reshape(d.A, [-1, d.n_in]) * coef[:, None]
                dense = tf.transpose(tf.concat([var for _, _, var in d.blocks], axis=0))
                w = dense + tf.matmul(a, b, transpose_a=True)
                d.kernel.assign(w)
                for c0, c1, var in d.blocks:
                    var.assign(tf.transpose(w[:, c0:c1]))
                d.A.assign(tf.zeros_like(d.A))
            d.B.assign(tf.zeros_like(d.B))
        self.ring_lr.assign(tf.zeros_like(self.ring_lr))
        self.ring_step.assign(tf.fill([self.ring], tf.constant(-(2**40), tf.int64)))
        self.flushed_at.assign(self.step.read_value())
        return tf.constant(0)

    def finalize(self):
        if self._finalize is not None:
            self._finalize()

    # -- the step and the epoch ----------------------------------------------------------
    def _train_step(self, xb, yb, idx):
        tf = self.tf
        coef_rows = span_in = None
        if self.lowrank:
            tf.cond(self.step.read_value() - self.flushed_at.read_value() >= self.flush_every,
                    lambda: (self._flush(), tf.constant(0))[1], lambda: tf.constant(0))
            coef_rows = self._coef_rows()
            if self.span is not None:
                span_in = (tf.gather(self.xd0, idx), tf.gather(self.gram, idx),
                           tf.reshape(self.ring_idx, [-1]))
        t = self.step.read_value()
        watched = [v for v, _ in self.dense_vars]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(watched)
            pred, saved = self.net.forward(tf, xb, True, self.seed, t, coef_rows, span_in)
            batch_loss = self.loss_fn(yb, pred)
        zs = [z for _, z in saved]
        grads = tape.gradient(batch_loss, watched + zs)
        lr_t = self.lr0 / (1.0 + self.decay * tf.cast(t, tf.float32))
        for (var, constrained), slot, grad in zip(self.dense_vars, self.slots, grads):
            tf.raw_ops.ResourceApplyKerasMomentum(
                var=var.handle, accum=slot.handle, lr=lr_t, grad=grad, momentum=self.mu_t,
                use_locking=False, use_nesterov=False)
            if constrained:
                var.assign(var * tf.cast(var >= 0, var.dtype))
        if self.lowrank:
            s = tf.math.floormod(t, self.ring)
            pad = [[0, self.bs - tf.shape(xb)[0]], [0, 0]]
            # (a slice assignment switches a variable to copy-on-read for good: every read
            # of a ring buffer copies it, ~5 % of an AE step; loop-carried tensors copy too)
            for d, (h, _), delta in zip(self.lowrank, saved, grads[len(watched):]):
                if not d.span:
                    d.A[s].assign(tf.pad(h, pad))
                d.B[s].assign(tf.pad(delta, pad))
            self.ring_idx[s].assign(tf.pad(idx, pad[:1]))
            self.ring_lr[s].assign(lr_t)
            self.ring_step[s].assign(t)
        self.step.assign_add(1)
        return batch_loss

    def _epoch(self, x, y, perm):
        tf = self.tf
        n = tf.shape(perm)[0]
        bs = tf.constant(self.bs, tf.int32)
        total = tf.constant(0.0, tf.float32)
        for b in tf.range(self.n_batches):
            start = b * bs
            idx = perm[start:tf.minimum(start + bs, n)]
            batch_loss = self._train_step(tf.gather(x, idx), tf.gather(y, idx), idx)
            total += batch_loss * tf.cast(tf.shape(idx)[0], tf.float32)
        return total / tf.cast(n, tf.float32)

    def _evaluate(self, x, y, xd0, gram):
        coef_rows = self._coef_rows() if self.lowrank else None
        span_in = None
        if self.span is not None:
            span_in = (xd0, gram, self.tf.reshape(self.ring_idx, [-1]))
        pred, _ = self.net.forward(self.tf, x, False, coef_rows=coef_rows, span_in=span_in)
        return self.loss_fn(y, pred), pred

    def evaluate(self, x, y):
        """Loss on (x, y) and the predictions, in inference mode with the current weights W_t."""
        tf = self.tf
        if self.span is None:
            return self._evaluate_fn(x, y, tf.zeros([0]), tf.zeros([0]))
        key = id(x)
        if key not in self._val_cache:  # X_val D0 and X_val Xᵀ: D0 stays fixed during fit
            self._val_cache[key] = (x, tf.matmul(x, self.span.kernel),
                                    tf.matmul(x, self.x, transpose_b=True))
        _, xd0, gram = self._val_cache[key]
        return self._evaluate_fn(x, y, xd0, gram)
