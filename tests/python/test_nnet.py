"""The Python module on the notebook's data format, on real MNIST (mnist_data.py)."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import nnet
from mnist_data import PKL, ROOT


def test_sgd_prints_the_cli_lines(capsys):
    (X, y), _, (Xt, yt) = nnet.load_data(PKL)
    net = nnet.Network([784, 30, 10])
    net.SGD(nnet.notebook_format(X, y), 2, 10, 3.0,
            test_data=nnet.notebook_format(Xt, yt, one_hot=False))
    out = capsys.readouterr().out
    cli = subprocess.run([os.environ.get("NNET_BINARY", os.path.join(ROOT, "build", "nnet")),
                          "train", "--data", PKL, "--eta", "3.0", "--epochs", "2", "-q"],
                         capture_output=True, text=True, check=True).stdout
    assert out == cli and out.startswith("Epoch 0: ")


def test_load_data_and_fit_copy_nothing():
    (X, y), _, _ = nnet.load_data(PKL)
    assert X.dtype == np.float32 and X.shape[1] == 784 and not X.flags.writeable
    net = nnet.Network([784, 30, 10])
    net.fit(X[:1000], y[:1000], epochs=1)
    data = nnet._arrays(X, y)
    assert np.shares_memory(data.images(), X)


def test_weights_are_views_and_assignable():
    net = nnet.Network([4, 3, 2])
    assert [w.shape for w in net.weights] == [(3, 4), (2, 3)]
    assert [b.shape for b in net.biases] == [(3, 1), (2, 1)]
    ws = [np.random.randn(3, 4), np.random.randn(2, 3)]
    net.weights = ws
    np.testing.assert_allclose(net.weights[1], ws[1].astype(np.float32))
    with pytest.raises(ValueError, match="expected shape"):
        net.weights = [np.zeros((4, 3)), np.zeros((2, 3))]


def test_bad_input_raises():
    with pytest.raises(FileNotFoundError):
        nnet.load_data("/nonexistent/mnist.pkl.gz")
    with pytest.raises(ValueError):
        nnet.Network([784, 30, 10], cost="nope")
    net = nnet.Network([4, 3, 2])
    with pytest.raises(ValueError, match="data item 1"):
        net.SGD([(np.zeros((4, 1)), 0), (np.zeros((3, 1)), 1)], 1, 1, 1.0)


def test_save_load_round_trip(tmp_path):
    net = nnet.Network([4, 3, 2], seed=7)
    p = tmp_path / "m.json"
    net.save(p)
    back = nnet.load(p)
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        np.testing.assert_array_equal(a, b)


def test_sigint_raises_keyboard_interrupt_mid_training():
    code = r"""
import os, signal, sys, threading, numpy as np, nnet
X = np.random.rand(20000, 784).astype(np.float32); y = np.random.randint(0, 10, 20000)
net = nnet.Network([784, 30, 10])
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    net.fit(X, y, epochs=2000)
except KeyboardInterrupt:
    print("interrupted", np.isfinite(net.weights[0]).all()); sys.exit(0)
print("finished"); sys.exit(1)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "interrupted True" in r.stdout, r.stdout + r.stderr


def cli(*args):
    return subprocess.run([os.environ.get("NNET_BINARY", os.path.join(ROOT, "build", "nnet")),
                           "train", "--data", PKL, *args, "-q"],
                          capture_output=True, text=True, check=True).stdout


def test_reference_prints_the_cli_reference_lines(capsys):
    (X, y), (Xt, yt), _ = nnet.load_data(PKL)  # evaluate on validation
    net = nnet.Network([784, 30, 10], seed=3)
    net.SGD(nnet.notebook_format(X[:1000], y[:1000]), 2, 10, 3.0,
            test_data=nnet.notebook_format(Xt, yt, one_hot=False), reference=True)
    out = capsys.readouterr().out
    assert out == cli("--reference", "--seed", "3", "--epochs", "2", "--eta", "3.0",
                      "--train-size", "1000", "--eval", "validation")
    assert out.startswith("Epoch 0: ") and out.count("\n") == 2
    # The float weights get the float64 result, rounded: the same accuracy within a few images.
    assert abs(net.evaluate(nnet.notebook_format(Xt, yt, one_hot=False)) -
               int(out.splitlines()[-1].split()[2])) <= 5


def test_network2_monitors_return_the_cli_figures(capsys):
    (X, y), (Xt, yt), _ = nnet.load_data(PKL)  # evaluate on validation
    for reference in (False, True):
        net = nnet.Network([784, 30, 10], cost="cross-entropy")
        lists = net.SGD((X[:1000], y[:1000]), 2, 10, 0.5, lmbda=5.0,
                        evaluation_data=(Xt, yt), monitor_evaluation_cost=True,
                        monitor_evaluation_accuracy=True, monitor_training_cost=True,
                        monitor_training_accuracy=True, reference=reference)
        out = capsys.readouterr().out
        flags = ["--reference"] if reference else []
        text = cli(*flags, "--cost", "cross-entropy", "--lambda", "5", "--eta", "0.5", "--epochs",
                   "2", "--monitor", "all", "--train-size", "1000",
                   "--eval", "validation")
        assert out == text

        def figures(prefix, kind):
            return [kind(l.split(": ")[1].split(" / ")[0]) for l in text.splitlines()
                    if l.startswith(prefix)]
        ec, ea, tc, ta = lists
        assert ec == figures("Cost on evaluation", float) and len(ec) == 2
        assert ea == figures("Accuracy on evaluation", int)
        assert tc == figures("Cost on training", float)
        assert ta == figures("Accuracy on training", int) and ta[1] > 500


def test_callback_stops_training():
    X = np.random.RandomState(0).rand(50, 4).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(int)
    seen = []
    net = nnet.Network([4, 3, 2])
    net.fit(X, y, epochs=10, callback=lambda r: seen.append(r["epoch"]) or r["epoch"] == 2)
    assert seen == [0, 1, 2] and len(net.history_) == 3
    seen.clear()
    net.SGD(list(zip(X.reshape(50, 4, 1), y)), 10, 5, 1.0, reference=True, verbose=False,
            callback=lambda r: seen.append(r["epoch"]) or r["epoch"] == 1)
    assert seen == [0, 1]


def test_pictures_inline_and_as_arrays():
    X = np.random.RandomState(1).rand(3, 784).astype(np.float32)
    pic = nnet.show(X, [1, 2, 3], predictions=[1, 2, 4], columns=3)
    png = pic._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert pic.array.dtype == np.uint8 and pic.array.shape[:2] == (h, w) and w >= 3 * 28


def test_conv_stack_prints_the_cli_lines_and_predicts(capsys):
    (X, y), (Xv, yv), _ = nnet.load_data(PKL)
    spec = "conv:6:5,maxpool:2,fc:20,softmax:10"
    net = nnet.Network(layers=spec, activation="relu", seed=2)
    assert net.layers == spec and net.input_shape == (1, 28, 28)
    assert [w.shape for w in net.weights] == [(6, 25), (20, 864), (10, 20)]
    net.SGD((X[:1000], y[:1000]), 2, 10, 0.1, test_data=(Xv, yv))
    out = capsys.readouterr().out
    assert out == cli("--layers", spec, "--activation", "relu", "--seed", "2", "--epochs", "2",
                      "--eta", "0.1", "--train-size", "1000", "--eval", "validation")
    correct = int(out.splitlines()[-1].split()[2])
    assert correct > 700 and (net.predict(Xv) == yv).sum() == correct
    back = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(back.predict_proba(Xv[:50]), net.predict_proba(Xv[:50]))
    with pytest.raises(ValueError, match="layers"):
        nnet.Network(layers="conv:6:50,softmax:10")


def test_conv_threads_default_gives_the_bits_of_any_count():
    # The default (0: all cores, as `nnet train`) against 1 and 2 threads: the same weights.
    rs = np.random.RandomState(4)
    X = rs.rand(100, 784).astype(np.float32)
    y = rs.randint(0, 10, 100)
    spec = "conv:8:5,maxpool:2,conv:8:3,fc:20,softmax:10"  # both convs large enough to share
    nets = [nnet.Network(layers=spec, activation="relu", seed=3) for _ in range(3)]
    nets[0].fit(X, y, epochs=1, batch_size=10, eta=0.1)
    for net, t in zip(nets[1:], (1, 2)):
        net.fit(X, y, epochs=1, batch_size=10, eta=0.1, conv_threads=t, threads=t)
        for a, b in zip(nets[0].weights, net.weights):
            np.testing.assert_array_equal(a, b)
    assert any(np.any(w != w0) for w, w0 in zip(nets[0].weights, nnet.Network(
        layers=spec, activation="relu", seed=3).weights))  # it trained


def test_tuple_formats_and_non_finite_input():
    rs = np.random.RandomState(2)
    X = rs.rand(6, 4)
    lab = [0, 1, 1, 0, 1, 0]
    one_hot = [np.eye(2)[k].reshape(2, 1) for k in lab]
    forms = [list(zip(X.reshape(6, 4, 1), lab)),                     # float64 columns, ints
             list(zip(X.astype(np.float32), np.array(lab))),         # float32 rows, numpy ints
             list(zip(X.tolist(), one_hot)),                         # lists, one-hot columns
             [(X[i, ::-1][::-1], np.float32(one_hot[i])) for i in range(6)]]  # strided views
    for f in forms:
        d = nnet._to_data(f, "training_data")
        np.testing.assert_array_equal(d.images(), X.astype(np.float32))
        np.testing.assert_array_equal(d.labels(), lab)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"X: expected finite values.*\[3, 2\]"):
        nnet._arrays(bad, lab)
    with pytest.raises(ValueError, match="item 3.*not finite"):
        nnet._to_data(list(zip(bad, lab)), "training_data")


def test_curves_picture_from_monitored_training():
    rs = np.random.RandomState(3)
    X = rs.rand(200, 4).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    net = nnet.Network([4, 5, 2], cost="cross-entropy")
    net.SGD((X, y), 3, 10, 0.5, evaluation_data=(X[:50], y[:50]), monitor_training_cost=True,
            monitor_evaluation_accuracy=True, verbose=False)
    pic = nnet.curves(net, labels=["small"])
    png = pic._repr_png_()
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert png.startswith(b"\x89PNG") and pic.array.shape[:2] == (h, w)
    assert pic.array.std() > 0  # something drawn
    with pytest.raises(ValueError, match="nothing to plot"):
        nnet.curves(nnet.Network([4, 5, 2]).fit(X, y, epochs=1))


@pytest.mark.parametrize("ext", ["json", "h5"])
def test_conv_model_save_load_and_cli_eval(tmp_path, ext):
    (X, y), (Xv, yv), _ = nnet.load_data(PKL)
    spec = "conv:4:5,maxpool:2,fc:20,softmax:10"
    net = nnet.Network(layers=spec, activation="relu", seed=2)
    net.fit(X[:500], y[:500], epochs=1, eta=0.1)
    p = tmp_path / f"conv.{ext}"
    net.save(p)
    back = nnet.load(p)
    assert back.layers == spec and back.input_shape == (1, 28, 28)
    np.testing.assert_array_equal(back.predict_proba(Xv), net.predict_proba(Xv))
    correct = int((net.predict(Xv) == yv).sum())
    out = subprocess.run([os.environ.get("NNET_BINARY", os.path.join(ROOT, "build", "nnet")),
                          "eval", "--model", str(p), "--data", PKL, "--split", "validation"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith(f"{correct} / 1000\n")
    again = pickle.loads(pickle.dumps(back))
    np.testing.assert_array_equal(again.predict_proba(Xv[:20]), net.predict_proba(Xv[:20]))


def cli_hints(*args):
    """The hint lines `nnet train ARGS` prints on standard error."""
    err = subprocess.run([os.environ.get("NNET_BINARY", os.path.join(ROOT, "build", "nnet")),
                          "train", "--data", PKL, *args],
                         capture_output=True, text=True, check=True).stderr
    return [line for line in err.splitlines() if line.startswith("hint: ")]


def test_sgd_names_the_pitfall_like_the_cli_and_trains_the_same(capsys):
    # #15's example: the notebook's [784, 300, 10] at eta 0.1 gets every image in one class.
    (X, y), _, (Xt, yt) = nnet.load_data(PKL)
    train, test = nnet.notebook_format(X, y), nnet.notebook_format(Xt, yt, one_hot=False)
    net = nnet.Network([784, 300, 10])
    net.SGD(train, 2, 10, 0.1, test_data=test)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert lines == cli_hints("--sizes", "784,300,10", "--eta", "0.1", "--epochs", "2")
    assert [(h["kind"], h["epoch"]) for h in net.hints_] == [("saturated-outputs", 1)]
    assert "learning slowdown of chapter 3" in lines[0] and lines[0] == net.hints_[0]["message"]
    health = net.history_[-1]["health"]
    # The probe reads every stride-th mini-batch of 10, about 100 a epoch (src/health.cc): 1000
    # of the shared folder's 9,000 images; 1003 of the npm digits' 8,003 (the last batch is 3).
    batches = -(-len(y) // 10)
    sample = sum(min(10, len(y) - 10 * b) for b in range(0, batches, max(1, batches // 100)))
    assert health["sample"] == sample and health["top_class_share"] == 1.0
    assert len(health["bias_grad_norm"]) == 2 and health["dead_share"] == [None]
    # hints=False: no line, no probe, the same notebook lines and weights bit for bit.
    quiet = nnet.Network([784, 300, 10])
    quiet.SGD(train, 2, 10, 0.1, test_data=test, hints=False)
    out_off, err_off = capsys.readouterr()
    assert out_off == out and err_off == "" and quiet.hints_ == []
    assert "health" not in quiet.history_[-1]
    for a, b in zip(net.weights + net.biases, quiet.weights + quiet.biases):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="hints"):
        quiet.SGD(train, 1, 10, 0.1, hints="yes")


def test_fit_keeps_hints_quietly_and_stacks_are_watched(capsys):
    (X, y), _, _ = nnet.load_data(PKL)
    # Four sigmoid fc layers: the vanishing gradient of chapter 5, on a layer stack.
    net = nnet.Network(layers="fc:30,fc:30,fc:30,fc:30,softmax:10", activation="sigmoid",
                       init="default")
    net.fit(X, y, epochs=3, eta=0.1)
    assert capsys.readouterr().err == ""  # verbose=False: kept, not printed
    assert [h["kind"] for h in net.hints_] == ["vanishing-gradient"]
    assert net.hints_[0]["message"] in cli_hints(
        "--layers", "fc:30,fc:30,fc:30,fc:30,softmax:10", "--activation", "sigmoid", "--init",
        "default", "--eta", "0.1", "--epochs", "3", "--eval", "none")
    norms = net.history_[-1]["health"]["bias_grad_norm"]
    assert len(norms) == 5 and norms[0] < norms[-1] / 100
    net.fit(X[:100], y[:100], epochs=1, hints=True)  # 100 images for ~26,000 parameters
    assert [h["kind"] for h in net.hints_] == ["data-too-small"] and net.hints_[0]["epoch"] == -1
    assert capsys.readouterr().err.startswith("hint: data: 100 training images")


def test_expand_is_the_clis_expand(capsys):
    (X, y), _, (Xt, yt) = nnet.load_data(PKL)
    X5, y5 = nnet.expand(X[:100], y[:100], shuffle=False)
    assert X5.shape == (500, 784) and list(y5[:10]) == [y[0]] * 5 + [y[1]] * 5
    down = np.roll(X[0].reshape(28, 28), 1, axis=0)
    down[0, :] = 0  # expand_mnist.py zeroes the row that wrapped around
    np.testing.assert_array_equal(X5[0], X[0])
    np.testing.assert_array_equal(X5[1].reshape(28, 28), down)
    # Shuffled (the default): the data `nnet train --expand` trains on, so the same epoch lines.
    net = nnet.Network([784, 30, 10])
    net.SGD(nnet.expand(X[:100], y[:100]), 2, 10, 3.0, test_data=(Xt, yt), hints=False)
    assert capsys.readouterr().out == cli("--expand", "--train-size", "100", "--epochs", "2",
                                          "--eta", "3.0")
    with pytest.raises(ValueError, match="2x2"):
        nnet.expand(np.zeros((3, 10), np.float32), [0, 1, 2])


def test_weights_pictures_like_show_weights(tmp_path):
    dense = nnet.Network([784, 30, 10])
    pic = nnet.weights(dense)  # 30 tiles of 28x28
    assert pic.png.startswith(b"\x89PNG") and pic.array.shape[2] == 3 and pic.array.shape[1] >= 28 * 6
    with pytest.raises(ValueError, match="weight layer 2: expected a conv layer .* found 30 inputs"):
        nnet.weights(dense, layer=2)
    with pytest.raises(ValueError, match="weight layer 3: expected 1..2"):
        nnet.weights(dense, layer=3)
    conv = nnet.Network(layers="conv:2:5,maxpool:2,conv:3:3,fc:25,softmax:10", activation="relu")
    second = nnet.weights(conv, layer=2).array  # 3 filters x 2 channels: 3 rows of 2 tiles
    assert second.shape[0] > second.shape[1] >= 2 * 60
    # The CLI draws the same picture from the saved model.
    conv.save(str(tmp_path / "c.json"))
    subprocess.run([os.environ.get("NNET_BINARY", os.path.join(ROOT, "build", "nnet")), "show",
                    "--model", str(tmp_path / "c.json"), "--weights", "--layer", "2", "-o",
                    str(tmp_path / "c.png")], check=True, capture_output=True)
    png = (tmp_path / "c.png").read_bytes()
    assert int.from_bytes(png[20:24], "big") == second.shape[0]  # same layout, same height


def test_training_keywords_are_the_option_tables(capsys):
    """SGD and fit take every training option of nnet.options() (nnet's one table) by its keyword,
    as `nnet train` takes its flag."""
    train = {o["keyword"]: o for o in nnet.options() if o["train"]}
    assert {"lmbda", "schedule", "step_epochs", "grad_chunk", "shuffle", "hints"} <= set(train)
    assert "lambda" not in train and train["lmbda"]["flag"] == "--lambda"
    assert train["shuffle"]["flag"] == "--no-shuffle" and train["shuffle"]["default"] is True
    network = {o["keyword"] for o in nnet.options() if o["network"]}
    assert {"sizes", "layers", "activation", "cost", "init", "input_shape"} <= network
    (X, y), _, (Xt, yt) = nnet.load_data(PKL)
    X, y = X[:500], y[:500]
    base = nnet.Network([784, 10, 10]).fit(X, y, epochs=2)
    own = {"epochs", "batch", "eta", "seed", "monitor_evaluation_accuracy", "hints", "device"}
    for k, o in train.items():  # every other option, given its default, changes nothing
        if k in own:
            continue
        net = nnet.Network([784, 10, 10]).fit(X, y, epochs=2, **{k: o["default"]})
        for a, b in zip(base.weights + base.biases, net.weights + net.biases):
            np.testing.assert_array_equal(a, b, err_msg=k)
    # A schedule with recorded gradients: nnet train's lines, and --history's gradient norms.
    net = nnet.Network([784, 30, 10])
    net.SGD((X, y), 3, 10, 3.0, test_data=(Xt, yt), schedule="step", step_epochs=1,
            step_gamma=0.5, record_gradients=True, hints=False)
    assert capsys.readouterr().out == cli("--train-size", "500", "--epochs", "3", "--eta", "3.0",
                                          "--schedule", "step", "--step-epochs", "1",
                                          "--step-gamma", "0.5", "--record-gradients")
    assert [h["eta"] for h in net.history_] == [3.0, 1.5, 0.75]
    assert len(net.history_[0]["bias_grad_norm"]) == 2
    with pytest.raises(ValueError, match=r"^step_gamma: expected a number in \(0, 1\]"):
        net.fit(X, y, epochs=1, step_gamma=2.0)
    with pytest.raises(ValueError, match="^lmbda: "):
        net.fit(X, y, epochs=1, lmbda=-1.0)


def test_device_cuda_without_a_gpu_is_one_clear_error():
    with pytest.raises(ValueError, match="device: expected 'cpu' or 'cuda', found 'tpu'"):
        nnet.Network([784, 30, 10], device="tpu")
    net = nnet.Network([784, 30, 10], device="cuda")
    (X, y), _, _ = nnet.load_data(PKL)
    probe = subprocess.run([os.environ.get("NNET_BINARY", os.path.join(ROOT, "build", "nnet")),
                            "train", "--device", "cuda", "--epochs", "1", "--data", PKL, "-q"],
                           capture_output=True, text=True)
    if probe.returncode == 0:
        pytest.skip("a usable GPU is present: device='cuda' trains (tests/cuda_test.cc)")
    w0 = net.weights[0].copy()
    with pytest.raises(RuntimeError, match="device cuda: ") as e:
        net.fit(X[:100], y[:100], epochs=1)
    assert "\n" not in str(e.value) and str(e.value) in probe.stderr
    np.testing.assert_array_equal(net.weights[0], w0)  # nothing trained
