#!/usr/bin/env python3
"""PyTorch's side of TestAgainstPyTorch: the paper's network on given weights.

Usage: torch_check.py DATA_DIR WEIGHTS IN_INDICES OUT_DIR LR WEIGHT_DECAY

Loads WEIGHTS (gahpo's CNN format, version 1), computes the mean NLL of the
training images whose indices are listed (comma-separated) with dropout off,
its gradients, then one Adadelta step (rho 0.9, eps 1e-6). Writes
OUT_DIR/grads.bin and OUT_DIR/after.bin in the same format and prints the loss.
Needs Debian's python3-torch and python3-numpy; run it with /usr/bin/python3.
"""
import gzip, os, struct, sys, zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MAGIC = b"GAHPOCNN"


def read_weights(path):
    b = open(path, "rb").read()
    body, crc = b[:-4], struct.unpack("<I", b[-4:])[0]
    assert zlib.crc32(body) == crc, "checksum"
    assert body[:8] == MAGIC and struct.unpack("<H", body[8:10])[0] == 1
    n, off, out = struct.unpack("<H", body[10:12])[0], 12, []
    for _ in range(n):
        ln = body[off]; off += 1
        name = body[off:off + ln].decode(); off += ln
        rank = body[off]; off += 1
        dims = struct.unpack("<%dI" % rank, body[off:off + 4 * rank]); off += 4 * rank
        cnt = int(np.prod(dims))
        out.append((name, np.frombuffer(body, "<f4", cnt, off).reshape(dims).copy())); off += 4 * cnt
    assert off == len(body)
    return out


def write_weights(path, tensors):
    b = bytearray(MAGIC) + struct.pack("<HH", 1, len(tensors))
    for name, a in tensors:
        b += bytes([len(name)]) + name.encode() + bytes([a.ndim]) + struct.pack("<%dI" % a.ndim, *a.shape)
        b += np.ascontiguousarray(a, "<f4").tobytes()
    b += struct.pack("<I", zlib.crc32(bytes(b)))
    open(path, "wb").write(bytes(b))


class Net(nn.Module):  # shared/bench/torch_mnist.py's network
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)  # dropout off
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)


def to_torch(name, a):  # gahpo layout -> PyTorch's
    if name.endswith(".bias"):
        return a.reshape(-1)
    return a.T if name.startswith("fc") else a


def from_torch(name, t, shape):  # PyTorch's layout -> gahpo's
    a = t.detach().numpy()
    return (a.T if name.startswith("fc") and name.endswith(".weight") else a).reshape(shape)


def main():
    d, wpath, idx, out, lr, wd = sys.argv[1:7]
    torch.set_num_threads(1)
    idx = [int(i) for i in idx.split(",")]
    with gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz")) as fh:
        x = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[idx]
    with gzip.open(os.path.join(d, "train-labels-idx1-ubyte.gz")) as fh:
        y = np.frombuffer(fh.read(), np.uint8, offset=8)[idx]
    x = torch.from_numpy(((x / 255.0 - 0.1307) / 0.3081).astype(np.float32))
    y = torch.from_numpy(y.astype(np.int64))

    weights = read_weights(wpath)
    model = Net()
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, a in weights:
            params[name].copy_(torch.from_numpy(np.ascontiguousarray(to_torch(name, a))))
    opt = torch.optim.Adadelta(model.parameters(), lr=float(lr), rho=0.9, eps=1e-6, weight_decay=float(wd))
    opt.zero_grad()
    loss = F.nll_loss(model(x), y)
    loss.backward()
    write_weights(os.path.join(out, "grads.bin"), [(n, from_torch(n, params[n].grad, a.shape)) for n, a in weights])
    opt.step()
    write_weights(os.path.join(out, "after.bin"), [(n, from_torch(n, params[n], a.shape)) for n, a in weights])
    print("loss=%.9g" % loss.item())


main()
