#!/usr/bin/env python3
"""PyTorch's side of TestPyTorchArraysLoadInPyTorch: a model exported as .npz.

Usage: torch_npz.py DATA_DIR MODEL.npz N

Loads MODEL.npz (`gahpo export --weights model.npz`) into
examples/pytorch-mnist/train.py's own network with load_state_dict(strict=True), as a
user would, and prints the mean NLL and the accuracy of the first N test
images in evaluation mode (dropout off): "loss=... accuracy=...".
Needs Debian's python3-torch and python3-numpy.
"""
import gzip, importlib.util, os, sys

import numpy as np
import torch
import torch.nn.functional as F


def example_net():
    """examples/pytorch-mnist/train.py's network, imported from the example
    itself: the one a user of that example loads the model into."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "..", "examples", "pytorch-mnist", "train.py")
    spec = importlib.util.spec_from_file_location("pytorch_mnist_train", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Net()


def main():
    d, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(1)
    with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz")) as fh:
        x = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    with gzip.open(os.path.join(d, "t10k-labels-idx1-ubyte.gz")) as fh:
        y = np.frombuffer(fh.read(), np.uint8, offset=8)[:n]
    x = torch.from_numpy(((x / 255.0 - 0.1307) / 0.3081).astype(np.float32))
    y = torch.from_numpy(y.astype(np.int64))
    model = example_net()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(path).items()})
    model.eval()
    with torch.no_grad():
        out = model(x)
        loss = F.nll_loss(out, y).item()
        acc = (out.argmax(1) == y).float().mean().item()
    print("loss=%.9g accuracy=%.9g" % (loss, acc))


main()
