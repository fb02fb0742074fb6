"""keras.io's vision, timeseries, structured-data and distillation programs (issue 12), written once
and run with either library.

Each function is the program as Keras 3's keras.io writes it (model, compile, fit, evaluate), with
`keras` passed in so the same source runs with `import keras` (the Keras 3 recorder,
tests/reference/record_keras3_vision_programs.py) and `import gpukeras as keras` (the tests). Only
the data differs from keras.io: local stand-ins of the same shape (keras_io_vision_data.py), passed
in as the loader keras.io calls returns them, and the epoch counts, which are parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _last_epoch(history: Any) -> dict[str, float]:
    return {key: float(values[-1]) for key, values in history.history.items()}


def denoising_autoencoder(keras: Any, train_data: np.ndarray, test_data: np.ndarray,
                          epochs: tuple[int, int] = (50, 100)) -> dict[str, float]:
    """keras.io/examples/vision/autoencoder: a convolutional autoencoder (Conv2D + MaxPooling2D
    encoder, Conv2DTranspose decoder) fit to reproduce digits, then to denoise them."""
    layers = keras.layers

    def preprocess(array):
        array = array.astype("float32") / 255.0
        array = np.reshape(array, (len(array), 28, 28, 1))
        return array

    def noise(array):
        noise_factor = 0.4
        noisy_array = array + noise_factor * np.random.normal(loc=0.0, scale=1.0, size=array.shape)
        return np.clip(noisy_array, 0.0, 1.0)

    train_data = preprocess(train_data)
    test_data = preprocess(test_data)
    noisy_train_data = noise(train_data)
    noisy_test_data = noise(test_data)

    input = layers.Input(shape=(28, 28, 1))
    # Encoder
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(input)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    # Decoder
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    autoencoder = keras.Model(input, x)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")

    reconstruction = autoencoder.fit(x=train_data, y=train_data, epochs=epochs[0], batch_size=128, shuffle=True,
                                     validation_data=(test_data, test_data), verbose=0)
    denoising = autoencoder.fit(x=noisy_train_data, y=train_data, epochs=epochs[1], batch_size=128, shuffle=True,
                                validation_data=(noisy_test_data, test_data), verbose=0)
    predictions = autoencoder.predict(noisy_test_data, verbose=0)
    return {"reconstruction_val_loss": float(reconstruction.history["val_loss"][-1]),
            "denoising_val_loss": float(denoising.history["val_loss"][-1]),
            "prediction_mae": float(np.mean(np.abs(predictions - test_data)))}


def toy_resnet(keras: Any, x_train: np.ndarray, y_train: np.ndarray, samples: int = 1000,
               epochs: int = 1) -> dict[str, float]:
    """keras.io/guides/functional_api, "A toy ResNet model": three residual blocks joined with
    `layers.add`, trained on CIFAR-10 with RMSprop and `validation_split=0.2`."""
    layers = keras.layers
    inputs = keras.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)

    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])

    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])

    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs, outputs, name="toy_resnet")

    x_train = x_train.astype("float32") / 255.0
    y_train = keras.utils.to_categorical(y_train, 10)
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["acc"])
    history = model.fit(x_train[:samples], y_train[:samples], batch_size=64, epochs=epochs, validation_split=0.2,
                        verbose=0)
    return _last_epoch(history)


def timeseries_fcn(keras: Any, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                   checkpoint_path: str, epochs: int = 500) -> dict[str, float]:
    """keras.io/examples/timeseries/timeseries_classification_from_scratch: a fully convolutional
    network (Conv1D + BatchNormalization + ReLU, GlobalAveragePooling1D) on FordA, with
    ModelCheckpoint, ReduceLROnPlateau and EarlyStopping, the best model reloaded for the test."""
    x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
    x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))
    num_classes = len(np.unique(y_train))
    idx = np.random.permutation(len(x_train))
    x_train = x_train[idx]
    y_train = y_train[idx]
    y_train[y_train == -1] = 0
    y_test[y_test == -1] = 0

    def make_model(input_shape):
        input_layer = keras.layers.Input(input_shape)
        conv1 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(input_layer)
        conv1 = keras.layers.BatchNormalization()(conv1)
        conv1 = keras.layers.ReLU()(conv1)
        conv2 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv1)
        conv2 = keras.layers.BatchNormalization()(conv2)
        conv2 = keras.layers.ReLU()(conv2)
        conv3 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv2)
        conv3 = keras.layers.BatchNormalization()(conv3)
        conv3 = keras.layers.ReLU()(conv3)
        gap = keras.layers.GlobalAveragePooling1D()(conv3)
        output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)
        return keras.models.Model(inputs=input_layer, outputs=output_layer)

    model = make_model(input_shape=x_train.shape[1:])
    batch_size = 32
    callbacks = [
        keras.callbacks.ModelCheckpoint(checkpoint_path, save_best_only=True, monitor="val_loss"),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=20, min_lr=0.0001),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=0),
    ]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, callbacks=callbacks,
                        validation_split=0.2, verbose=0)
    model = keras.models.load_model(checkpoint_path)
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    return {"test_loss": float(test_loss), "test_accuracy": float(test_acc),
            "best_val_loss": float(min(history.history["val_loss"]))}


def structured_data_classifier(keras: Any, dataframe: dict[str, np.ndarray], epochs: int = 50) -> dict[str, float]:
    """keras.io/examples/structured_data/structured_data_classification_from_scratch (its Keras 3,
    backend-agnostic version): IntegerLookup/StringLookup multi-hot encoding of the categorical
    columns, Normalization adapted on the numeric ones, a dict-input model whose Classifier layer
    concatenates its inputs.

    keras.io reads a pandas DataFrame and encodes through `tf.data`; here the DataFrame is a dict of
    NumPy columns, `dataframe.sample(frac=0.2, random_state=1337)` a seeded permutation, and the
    lookups map each column at once (one value per row, as the per-sample `tf.data` map does), with
    fit's own batching and shuffling in place of `Dataset.shuffle().batch(32)`. As in keras.io,
    the model is built from the *normalized* numeric tensors as inputs: Keras 3 then makes fresh
    inputs in their place, so the model is fed the raw numeric columns.
    """
    layers = keras.layers
    size = len(dataframe["target"])
    val_rows = np.sort(np.random.RandomState(1337).permutation(size)[:round(0.2 * size)])
    train_rows = np.setdiff1d(np.arange(size), val_rows)
    val_dataframe = {name: column[val_rows] for name, column in dataframe.items()}
    train_dataframe = {name: column[train_rows] for name, column in dataframe.items()}

    COLUMN_NAMES = ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak",
                    "slope", "ca", "thal", "target"]
    TARGET_FEATURE_NAME = "target"
    NUMERIC_FEATURE_NAMES = ["age", "trestbps", "thalach", "oldpeak", "slope", "chol"]
    CATEGORICAL_FEATURES_WITH_VOCABULARY = {
        feature_name: sorted([value if dataframe[feature_name].dtype == "int64" else str(value)
                              for value in list(np.unique(dataframe[feature_name]))])
        for feature_name in COLUMN_NAMES
        if feature_name not in list(NUMERIC_FEATURE_NAMES + [TARGET_FEATURE_NAME])
    }
    FEATURE_NAMES = NUMERIC_FEATURE_NAMES + list(CATEGORICAL_FEATURES_WITH_VOCABULARY.keys())

    def encode_categorical(features, target):
        for feature_name in features:
            if feature_name in CATEGORICAL_FEATURES_WITH_VOCABULARY:
                lookup_class = layers.StringLookup if features[feature_name].dtype.kind == "U" else layers.IntegerLookup
                vocabulary = CATEGORICAL_FEATURES_WITH_VOCABULARY[feature_name]
                index = lookup_class(vocabulary=vocabulary, mask_token=None, num_oov_indices=0, output_mode="binary")
                features[feature_name] = index(features[feature_name][:, None])
        return dict(features), target

    def encode_numerical_feature(feature, name, dataset):
        normalizer = layers.Normalization()
        normalizer.adapt(np.expand_dims(dataset[0][name], -1))
        return normalizer(feature)

    def dataframe_to_dataset(dataframe):
        dataframe = dict(dataframe)
        labels = dataframe.pop("target")
        return encode_categorical(dataframe, labels)

    train_ds = dataframe_to_dataset(train_dataframe)
    val_ds = dataframe_to_dataset(val_dataframe)

    def create_model_inputs():
        inputs = {}

        def create_input_helper(feature_name):
            num_categories = len(CATEGORICAL_FEATURES_WITH_VOCABULARY[feature_name])
            inputs[feature_name] = layers.Input(name=feature_name, shape=(num_categories,), dtype="int64")
            return inputs

        for feature_name in FEATURE_NAMES:
            if feature_name in CATEGORICAL_FEATURES_WITH_VOCABULARY:
                create_input_helper(feature_name)
            else:
                feature_input = layers.Input(name=feature_name, shape=(1,), dtype="float32")
                inputs[feature_name] = encode_numerical_feature(feature_input, feature_name, train_ds)
        return inputs

    class Classifier(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense_1 = layers.Dense(32, activation="relu")
            self.dropout = layers.Dropout(0.5)
            self.dense_2 = layers.Dense(1, activation="sigmoid")

        def call(self, inputs):
            all_features = layers.concatenate(list(inputs.values()))
            x = self.dense_1(all_features)
            x = self.dropout(x)
            return self.dense_2(x)

        def build(self, input_shape):
            self.built = True

    def create_model():
        all_inputs = create_model_inputs()
        output = Classifier()(all_inputs)
        return keras.Model(all_inputs, output)

    model = create_model()
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(*train_ds, batch_size=32, epochs=epochs, validation_data=val_ds, verbose=0)

    sample = {"age": 60, "sex": 1, "cp": 1, "trestbps": 145, "chol": 233, "fbs": 1, "restecg": 2, "thalach": 150,
              "exang": 0, "oldpeak": 2.3, "slope": 3, "ca": 0, "thal": "fixed"}

    def get_cat_encoding(cat, cat_value):
        encoding = [0] * len(cat)
        if cat_value in cat:
            encoding[cat.index(cat_value)] = 1
        return encoding

    for name, _value in sample.items():
        if name in CATEGORICAL_FEATURES_WITH_VOCABULARY:
            sample.update({name: get_cat_encoding(CATEGORICAL_FEATURES_WITH_VOCABULARY[name], sample[name])})
    input_dict = {name: keras.ops.convert_to_tensor([value]) for name, value in sample.items()}
    predictions = model.predict(input_dict, verbose=0)
    return {**_last_epoch(history), "sample_probability": float(np.asarray(predictions)[0][0])}


def knowledge_distillation(keras: Any, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                           y_test: np.ndarray, epochs: tuple[int, int] = (5, 3)) -> dict[str, float]:
    """keras.io/examples/vision/knowledge_distillation (its Keras 3 version): a Distiller model
    overriding compile, compute_loss and call distils a trained convolutional teacher into a
    student; a clone of the student (keras.models.clone_model) is trained from scratch beside it.

    keras.io's pre-Keras-3 version overrode train_step/test_step with `tf.GradientTape`; Keras 3's
    keras.io replaced them with compute_loss, which runs on every backend.
    """
    layers, ops = keras.layers, keras.ops

    class Distiller(keras.Model):
        def __init__(self, student, teacher):
            super().__init__()
            self.teacher = teacher
            self.student = student

        def compile(self, optimizer, metrics, student_loss_fn, distillation_loss_fn, alpha=0.1, temperature=3):
            super().compile(optimizer=optimizer, metrics=metrics)
            self.student_loss_fn = student_loss_fn
            self.distillation_loss_fn = distillation_loss_fn
            self.alpha = alpha
            self.temperature = temperature

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
            teacher_pred = self.teacher(x, training=False)
            student_loss = self.student_loss_fn(y, y_pred)
            distillation_loss = self.distillation_loss_fn(
                ops.softmax(teacher_pred / self.temperature, axis=1),
                ops.softmax(y_pred / self.temperature, axis=1),
            ) * (self.temperature**2)
            loss = self.alpha * student_loss + (1 - self.alpha) * distillation_loss
            return loss

        def call(self, x):
            return self.student(x)

    teacher = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(256, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
            layers.Conv2D(512, (3, 3), strides=(2, 2), padding="same"),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="teacher",
    )
    student = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(16, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
            layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="student",
    )
    student_scratch = keras.models.clone_model(student)

    x_train = x_train.astype("float32") / 255.0
    x_train = np.reshape(x_train, (-1, 28, 28, 1))
    x_test = x_test.astype("float32") / 255.0
    x_test = np.reshape(x_test, (-1, 28, 28, 1))

    teacher.compile(optimizer=keras.optimizers.Adam(),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=[keras.metrics.SparseCategoricalAccuracy()])
    teacher.fit(x_train, y_train, epochs=epochs[0], verbose=0)
    teacher_result = teacher.evaluate(x_test, y_test, verbose=0, return_dict=True)

    distiller = Distiller(student=student, teacher=teacher)
    distiller.compile(optimizer=keras.optimizers.Adam(), metrics=[keras.metrics.SparseCategoricalAccuracy()],
                      student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      distillation_loss_fn=keras.losses.KLDivergence(), alpha=0.1, temperature=10)
    distiller.fit(x_train, y_train, epochs=epochs[1], verbose=0)
    distilled_result = distiller.evaluate(x_test, y_test, verbose=0, return_dict=True)

    student_scratch.compile(optimizer=keras.optimizers.Adam(),
                            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                            metrics=[keras.metrics.SparseCategoricalAccuracy()])
    student_scratch.fit(x_train, y_train, epochs=epochs[1], verbose=0)
    scratch_result = student_scratch.evaluate(x_test, y_test, verbose=0, return_dict=True)
    return {f"{who}_{key}": float(value)
            for who, result in (("teacher", teacher_result), ("distilled", distilled_result),
                                ("scratch", scratch_result))
            for key, value in result.items()}


PROGRAMS = {"autoencoder": denoising_autoencoder, "toy_resnet": toy_resnet, "timeseries_fcn": timeseries_fcn,
            "structured_data": structured_data_classifier, "distillation": knowledge_distillation}
