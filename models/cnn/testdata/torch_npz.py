#!/usr/bin/env python3
"""PyTorch's side of TestPyTorchArraysLoadInPyTorch: a model exported as .npz.

Usage: torch_npz.py DATA_DIR MODEL.npz N

Loads MODEL.npz (`gahpo export --weights model.npz`) into
examples/pytorch-mnist's network with load_state_dict(strict=True), as a
user would, and prints the mean NLL and the accuracy of the first N test
images in evaluation mode (dropout off): "loss=... accuracy=...".
Needs Debian's python3-torch and python3-numpy.
"""
import gzip, os, sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):  # examples/pytorch-mnist/train.py's, pytorch/examples' mnist
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def main():
    d, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(1)
    with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz")) as fh:
        x = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    with gzip.open(os.path.join(d, "t10k-labels-idx1-ubyte.gz")) as fh:
        y = np.frombuffer(fh.read(), np.uint8, offset=8)[:n]
    x = torch.from_numpy(((x / 255.0 - 0.1307) / 0.3081).astype(np.float32))
    y = torch.from_numpy(y.astype(np.int64))
    model = Net()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(path).items()})
    model.eval()
    with torch.no_grad():
        out = model(x)
        loss = F.nll_loss(out, y).item()
        acc = (out.argmax(1) == y).float().mean().item()
    print("loss=%.9g accuracy=%.9g" % (loss, acc))


main()
