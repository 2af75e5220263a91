#!/usr/bin/env python3
"""A toy trainer for gahpo, standard library only.

It follows gahpo's protocol for a training command:
  - reads the genome from the JSON file named by GAHPO_PARAMS (the optimizer
    also comes as an argument, to show the {name} placeholders);
  - trains up to GAHPO_EPOCHS epochs, resuming from the state it left in
    GAHPO_CHECKPOINT_DIR (empty at a genome's first rung);
  - prints one JSON line of metrics per epoch on standard output; other
    lines are only kept in the genome's record;
  - writes its model, in a format of its own, to GAHPO_WEIGHTS_FILE when
    gahpo sets it (a final or top-rung training: the history keeps it).

The "model" is one weight w pulled towards 1 by a step of lr (scaled by the
optimizer) for `steps` steps per epoch; the validation loss is
(x - 0.5)^2 + (w - 1)^2 plus a little noise drawn from the seed and the
epoch, so that resuming from a checkpoint gives the numbers of training
straight through.
"""
import argparse
import json
import os
import random
import sys

GAIN = {"sgd": 1.0, "momentum": 1.8, "adam": 2.5}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--optimizer", choices=sorted(GAIN), required=True)
    args = ap.parse_args()
    with open(os.environ["GAHPO_PARAMS"]) as f:
        p = json.load(f)
    if p["optimizer"] != args.optimizer:
        sys.exit("the params file and the arguments disagree")
    epochs = int(os.environ.get("GAHPO_EPOCHS") or 3)
    seed = int(os.environ.get("GAHPO_SEED") or 0)
    ckpt = os.environ.get("GAHPO_CHECKPOINT_DIR")
    if not ckpt:
        sys.exit("train.py: GAHPO_CHECKPOINT_DIR is not set (gahpo sets it; by hand, give an empty directory)")
    state_file = os.path.join(ckpt, "state.json")

    state = {"epoch": 0, "w": 0.0}
    if os.path.exists(state_file):
        with open(state_file) as f:
            state = json.load(f)
        print("resuming at epoch %d" % state["epoch"])

    step = min(p["lr"] * GAIN[args.optimizer], 1.9)  # above 2 it would diverge
    for epoch in range(state["epoch"] + 1, epochs + 1):
        w = state["w"]
        for _ in range(int(p["steps"])):
            w += step * (1.0 - w)
        noise = random.Random(seed * 1000003 + epoch).gauss(0, 0.001)
        val_loss = (p["x"] - 0.5) ** 2 + (w - 1.0) ** 2 + abs(noise)
        state = {"epoch": epoch, "w": w}
        # Save, then report: a report always has its checkpoint.
        tmp = state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, state_file)
        print(json.dumps({"epoch": epoch, "val_loss": val_loss, "w": w}))
        print("epoch %d done" % epoch)
    weights = os.environ.get("GAHPO_WEIGHTS_FILE")
    if weights:
        with open(weights, "w") as f:
            json.dump({"w": state["w"], "optimizer": args.optimizer}, f)


if __name__ == "__main__":
    main()
