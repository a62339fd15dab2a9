"""A scikit-learn classifier on nnet's engine, with MLPClassifier's habits where they fit.

    from nnet.sklearn import NNetClassifier
    clf = NNetClassifier(hidden_layer_sizes=(30,), learning_rate_init=0.5, batch_size=10,
                         max_iter=30, random_state=0).fit(X, y)
    clf.predict(X), clf.predict_proba(X), clf.loss_curve_, clf.n_iter_, clf.classes_

Any labels (mapped to 0..k-1 through `classes_`, at most 256 classes) and any number of
features. Training is nnet's mini-batch SGD (w -= eta/m * sum of gradients, fresh shuffle each
epoch); the output layer is softmax with log-likelihood (MLPClassifier's log-loss) unless
cost="cross-entropy" or "quadratic" (sigmoid outputs, predict_proba normalized per row).
"""
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted

from . import Network, _arrays

__all__ = ["NNetClassifier"]

_ACTIVATIONS = {"logistic": "sigmoid", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu",
                "identity": "linear", "linear": "linear"}


class NNetClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier trained by nnet's float32 SGD.

    Parameters (MLPClassifier's names where they exist):
      hidden_layer_sizes: tuple of hidden layer widths, default (30,) (the book's net).
      activation: 'logistic' (= 'sigmoid', default), 'tanh', 'relu' or 'identity'.
      cost: 'log-likelihood' (softmax outputs, default), 'cross-entropy' or 'quadratic'.
      alpha: L2 penalty, network2's lmbda (scaled by 1/n_samples as network2 does), default 0.
      batch_size: mini-batch size, default 10; 'auto' = min(200, n_samples) as MLPClassifier.
      learning_rate_init: eta, default 0.5.
      momentum: classical momentum, default 0 (plain SGD as the book).
      max_iter: epochs, default 200.
      tol, n_iter_no_change: stop when the training loss has not improved by tol for
        n_iter_no_change consecutive epochs (MLPClassifier's rule), defaults 1e-4 and 10.
      init: nnet's weight init, 'default' (network2's 1/sqrt(n_in), default) or 'large'.
      random_state: int, RandomState or None: seeds the init draws and the shuffles.
      verbose: print nnet's per-epoch lines.

    Attributes after fit: classes_, n_features_in_, loss_curve_ (training loss after each
    epoch, as network2's total_cost), best_loss_, n_iter_, t_ (samples seen), network_ (the
    nnet.Network, so network_.weights / .biases are numpy views).
    """

    def __init__(self, hidden_layer_sizes=(30,), activation="logistic", *, cost="log-likelihood",
                 alpha=0.0, batch_size=10, learning_rate_init=0.5, momentum=0.0, max_iter=200,
                 tol=1e-4, n_iter_no_change=10, init="default", random_state=None,
                 verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.cost = cost
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.init = init
        self.random_state = random_state
        self.verbose = verbose

    # --- fitting --------------------------------------------------------------------------
    def fit(self, X, y):
        """Trains a fresh network for up to max_iter epochs. Returns self."""
        X, y = self._validate_data(X, y, dtype=np.float32, order="C", reset=True)
        check_classification_targets(y)
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise ValueError("y has only one class (1 class): NNetClassifier needs at least 2 "
                             "classes to train")
        self._check_params()
        self._build(X.shape[1])
        self._train(X, self._encode(y), int(self.max_iter), stop_early=True)
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y) on the current network (a fresh one on the first call, which
        needs `classes`, every label fit will ever see). Returns self."""
        first = not hasattr(self, "network_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        X, y = self._validate_data(X, y, dtype=np.float32, order="C", reset=first)
        check_classification_targets(y)
        if first:
            self.classes_ = unique_labels(classes)
            if len(self.classes_) < 2:
                raise ValueError("classes has only one class (1 class): NNetClassifier needs "
                                 "at least 2")
            self._check_params()
            self._build(X.shape[1])
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(f"classes {unique_labels(classes)!r} differ from the classes of the "
                             f"first call, {self.classes_!r}")
        self._train(X, self._encode(y), 1, stop_early=False)
        return self

    def _check_params(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        sizes = list(sizes)
        if any(not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes: expected positive ints, found {sizes!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)}, found "
                             f"{self.activation!r}")
        if not (isinstance(self.max_iter, numbers.Integral) and self.max_iter >= 1):
            raise ValueError(f"max_iter: expected an int >= 1, found {self.max_iter!r}")
        if not (self.batch_size == "auto" or (isinstance(self.batch_size, numbers.Integral)
                                              and self.batch_size >= 1)):
            raise ValueError(f"batch_size: expected an int >= 1 or 'auto', found "
                             f"{self.batch_size!r}")
        if not self.learning_rate_init > 0:
            raise ValueError(f"learning_rate_init: expected > 0, found {self.learning_rate_init}")
        if len(self.classes_) > 256:
            raise ValueError(f"y: nnet takes at most 256 classes, found {len(self.classes_)}")
        self._hidden = sizes

    def _build(self, n_features):
        rng = check_random_state(self.random_state)
        self._seed = int(rng.randint(0, 2**31 - 1))
        self.network_ = Network([n_features, *self._hidden, len(self.classes_)], cost=self.cost,
                                activation=_ACTIVATIONS[self.activation], init=self.init,
                                seed=self._seed)
        self.loss_curve_ = []
        self.best_loss_ = np.inf
        self.n_iter_ = 0
        self.t_ = 0
        self._no_improvement = 0

    def _encode(self, y):
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[idx], y):
            bad = np.asarray(y)[self.classes_[idx] != y][0]
            raise ValueError(f"y: label {bad!r} is not in classes_ {self.classes_!r}")
        return idx.astype(np.int64)

    def _train(self, X, y, epochs, stop_early):
        n = X.shape[0]
        batch = min(200, n) if self.batch_size == "auto" else min(int(self.batch_size), n)

        def on_epoch(report):
            loss = float(report["training_cost"])
            self.loss_curve_.append(loss)
            self.n_iter_ += 1
            self.t_ += n
            if loss > self.best_loss_ - self.tol:
                self._no_improvement += 1
            else:
                self._no_improvement = 0
            self.best_loss_ = min(self.best_loss_, loss)
            return stop_early and self._no_improvement > self.n_iter_no_change

        data = _arrays(X, y)
        self.network_._net.train(
            data, None,
            dict(epochs=epochs, batch=batch, eta=float(self.learning_rate_init),
                 seed=(self._seed + self.n_iter_) % 2**31, lmbda=float(self.alpha),
                 momentum=float(self.momentum), monitor_training_cost=True,
                 monitor_evaluation_accuracy=False),
            _print if self.verbose else None, on_epoch)

    # --- predicting -----------------------------------------------------------------------
    def predict_proba(self, X):
        """(n_samples, n_classes) class probabilities, columns in classes_ order."""
        check_is_fitted(self, "network_")
        X = self._validate_data(X, dtype=np.float32, order="C", reset=False)
        p = self.network_._net.predict(X).astype(np.float64)
        if self.cost != "log-likelihood":
            p /= np.maximum(p.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)
        return p

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """(n_samples,) labels from classes_."""
        check_is_fitted(self, "network_")
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def _more_tags(self):
        return {"preserves_dtype": [], "poor_score": False}


def _print(s):
    import sys
    sys.stdout.write(s)
    sys.stdout.flush()
