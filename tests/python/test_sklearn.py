"""nnet.sklearn.NNetClassifier: every scikit-learn estimator check, and MLPClassifier's habits."""
import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="Debian python3-sklearn absent")
from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks  # noqa: E402

from nnet.sklearn import NNetClassifier  # noqa: E402

from mnist_data import PKL  # noqa: E402


# One pytest case per check scikit-learn has for a classifier (about 50 in 1.2).
@parametrize_with_checks([NNetClassifier()])
def test_sklearn_check(estimator, check):
    check(estimator)


def test_all_checks_were_generated():
    checks = list(check_estimator(NNetClassifier(), generate_only=True))
    names = {getattr(c, "func", c).__name__ for _, c in checks}
    assert len(checks) >= 40 and "check_classifiers_train" in names and \
        "check_estimators_pickle" in names and "check_fit_idempotent" in names


def blobs(n=300, features=5, centers=4, seed=0):
    X, y = make_blobs(n_samples=n, n_features=features, centers=centers, random_state=seed)
    return (X - X.mean(0)) / X.std(0), y


def test_arbitrary_labels_and_features():
    X, y = blobs(features=7, centers=3)
    names = np.array(["cat", "dog", "eel"])[y]
    clf = NNetClassifier(hidden_layer_sizes=(8, 6), max_iter=20, random_state=3).fit(X, names)
    assert list(clf.classes_) == ["cat", "dog", "eel"] and clf.n_features_in_ == 7
    assert [w.shape for w in clf.network_.weights] == [(8, 7), (6, 8), (3, 6)]
    assert (clf.predict(X) == names).mean() > 0.95
    p = clf.predict_proba(X)
    assert p.shape == (300, 3)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :6])


def test_loss_curve_n_iter_random_state_and_early_stop():
    X, y = blobs()
    a = NNetClassifier(max_iter=15, n_iter_no_change=100, random_state=5).fit(X, y)
    b = NNetClassifier(max_iter=15, n_iter_no_change=100, random_state=5).fit(X, y)
    c = NNetClassifier(max_iter=15, n_iter_no_change=100, random_state=6).fit(X, y)
    assert a.n_iter_ == 15 and len(a.loss_curve_) == 15 and a.t_ == 15 * 300
    assert a.loss_curve_ == b.loss_curve_ and a.loss_curve_ != c.loss_curve_
    assert a.loss_curve_[-1] < a.loss_curve_[0] and a.best_loss_ == min(a.loss_curve_)
    # MLPClassifier's rule: stop once more than n_iter_no_change epochs in a row have not
    # improved the best loss by tol (the first epoch always improves on infinity).
    d = NNetClassifier(max_iter=500, tol=1e9, n_iter_no_change=3, random_state=5).fit(X, y)
    assert d.n_iter_ == 5


def test_partial_fit_continues_and_pickles():
    X, y = blobs()
    clf = NNetClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:150], y[:150], classes=np.unique(y))
    w0 = np.array(clf.network_.weights[0])
    for _ in range(5):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 6 and len(clf.loss_curve_) == 6
    assert not np.array_equal(w0, clf.network_.weights[0])
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


def test_mnist_subset_learns():
    import nnet
    (X, y), _, (Xt, yt) = nnet.load_data(PKL)
    clf = NNetClassifier(max_iter=3, random_state=1).fit(X[:3000], y[:3000])
    assert clf.score(Xt[:1000], yt[:1000]) > 0.85
