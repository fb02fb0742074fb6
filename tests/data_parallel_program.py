"""A Keras user's data-parallel training script, run by tests/test_data_parallel.py under `mpirun -n N`
(and as one plain process, the reference). Usage: python data_parallel_program.py MODE OUT.npz

MODE: "train" (fit + evaluate, results written by rank 0), "raise" (rank 1 raises in epoch 2),
"die" (rank 1 is killed in epoch 2), "mismatch" (rank 1 builds another model); "backup-raise" and
"backup-resume": "raise" and then "train" with a BackupAndRestore in OUT.npz's folder; "short-stream":
fit on a PyDataset that has one batch fewer on rank 1 (the ranks must not wait for each other forever).
"""

import os
import signal
import sys

import numpy as np

import gpukeras as keras

mode, out = sys.argv[1], sys.argv[2]
# BUCKET_BYTES: small buckets make the gradient sums start one by one during the backward pass.
keras.distribution.initialize(bucket_bytes=int(os.environ.get("BUCKET_BYTES", 25 << 20)))
rank = keras.distribution.process_id()
keras.distribution.set_distribution(keras.distribution.DataParallel())

# Same data everywhere; rows 301 = 4 batches of 64 + one of 45, which splits unevenly among ranks.
data = np.random.default_rng(7)
x = data.normal(size=(301, 12)).astype("float32")
y = (x[:, :3].sum(axis=1) > 0).astype("int64") + (x[:, 3] > 1).astype("int64")

# Each rank draws different initial weights: fit must start every rank from rank 0's.
keras.utils.set_random_seed(1000 + rank)
width = 17 if mode == "mismatch" and rank == 1 else 16
model = keras.Sequential([
    keras.Input((12,)),
    keras.layers.Dense(width, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-3)),
    keras.layers.Dense(3, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])


class Fault(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2 and rank == 1:
            if mode.endswith("raise"):
                raise RuntimeError("injected failure on rank 1")
            if mode == "die":
                os.kill(os.getpid(), signal.SIGKILL)


if mode == "short-stream":
    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4 - rank  # rank 1 runs out one batch early

        def __getitem__(self, i):
            return x[i * 64:(i + 1) * 64], y[i * 64:(i + 1) * 64]

    model.fit(Batches(), epochs=2, verbose=0)
    if rank == 0:
        np.savez(out, steps=int(model.optimizer.iterations.numpy()))
    sys.exit(0)

callbacks = [Fault()]
if mode.startswith("backup"):
    callbacks.append(keras.callbacks.BackupAndRestore(os.path.join(os.path.dirname(out), "backup")))
history = model.fit(x, y, batch_size=64, epochs=4, shuffle=True, validation_split=0.2, verbose=0,
                    callbacks=callbacks)
evaluated = model.evaluate(x, y, batch_size=50, verbose=0, return_dict=True)
weights = model.get_weights()
if rank == 0:
    np.savez(out, *weights, loss=history.history["loss"], accuracy=history.history["accuracy"],
             val_loss=history.history["val_loss"], eval_loss=evaluated["loss"],
             eval_accuracy=evaluated["accuracy"], size=keras.distribution.num_processes())
