#!/usr/bin/env python3
"""Reference peer for the CNN training benchmark: the same network in PyTorch on the CPU.

Usage:
  /usr/bin/python3 torch_mnist.py DATA_DIR bench 10,64,128   # training images/s per batch size
  /usr/bin/python3 torch_mnist.py DATA_DIR epoch 64 60000     # one timed epoch, then test accuracy

DATA_DIR holds the four MNIST IDX .gz files. Needs Debian's python3-torch and python3-numpy
(apt-get install -y python3-torch); run it with /usr/bin/python3. Threads: TORCH_THREADS (default 2).
Output lines start with RESULT or EPOCH and are key=value pairs; the last line gives peak RSS.

Provenance: copied unchanged (but for this paragraph) from the project's shared notes,
shared/bench/torch_mnist.py (md5 e0b03d0c53e23d1ae1539de454e092cb, 2026-12-01), the peer whose
figures shared/NOTES.md and bench/README.md report, so that a clone can reproduce them. The
network and optimiser are those of PyTorch's examples/mnist/main.py (conv 32, conv 64, max-pool,
dropout 0.25, fc 128, dropout 0.5, fc 10; Adadelta, lr 1.0), which the gahpo CNN implements.
bench/train/compare embeds this file and runs it unless -peer names another script.
"""
import gzip, os, resource, statistics, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def images(d, f):
    with gzip.open(os.path.join(d, f)) as fh:
        return np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)


def labels(d, f):
    with gzip.open(os.path.join(d, f)) as fh:
        return np.frombuffer(fh.read(), np.uint8, offset=8)


def normalise(x):
    return torch.from_numpy(((x / 255.0 - 0.1307) / 0.3081).astype(np.float32))


class Net(nn.Module):
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
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def main():
    d, mode = sys.argv[1], sys.argv[2]
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
    torch.manual_seed(1)
    xtr, ytr = normalise(images(d, "train-images-idx3-ubyte.gz")), torch.from_numpy(labels(d, "train-labels-idx1-ubyte.gz").astype(np.int64))
    model = Net()
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.9, eps=1e-6)
    model.train()
    perm, pos = torch.randperm(len(xtr)), [0]

    def step(bs):
        if pos[0] + bs > len(xtr):
            pos[0] = 0
        idx = perm[pos[0]:pos[0] + bs]
        pos[0] += bs
        opt.zero_grad()
        loss = F.nll_loss(model(xtr[idx]), ytr[idx])
        loss.backward()
        opt.step()
        return loss.item()

    if mode == "bench":
        for bs in [int(b) for b in sys.argv[3].split(",")]:
            for _ in range(10):
                step(bs)
            rates = []
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(20):
                    loss = step(bs)
                rates.append(20 * bs / (time.perf_counter() - t0))
            print(f"RESULT peer=pytorch version={torch.__version__} threads={torch.get_num_threads()} batch={bs} "
                  f"img_per_s={statistics.median(rates):.1f} min={min(rates):.1f} max={max(rates):.1f} loss={loss:.3f}", flush=True)
    else:
        bs, n = int(sys.argv[3]), int(sys.argv[4])
        t0 = time.perf_counter()
        for _ in range(n // bs):
            loss = step(bs)
        train_s = time.perf_counter() - t0
        xte, yte = normalise(images(d, "t10k-images-idx3-ubyte.gz")), torch.from_numpy(labels(d, "t10k-labels-idx1-ubyte.gz").astype(np.int64))
        model.eval()
        with torch.no_grad():
            correct = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item() for i in range(0, len(xte), 1000))
        print(f"EPOCH peer=pytorch batch={bs} images={n // bs * bs} train_s={train_s:.1f} img_per_s={n // bs * bs / train_s:.1f} "
              f"last_loss={loss:.3f} test_acc={100 * correct / len(xte):.2f}")
    print(f"maxrss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


main()
