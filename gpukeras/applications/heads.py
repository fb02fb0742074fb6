"""The ends of an application: Keras 3's ImageNet classifier on pooled features, or the bare features
(optionally pooled) for feature extraction; and the checks of the arguments that shape them."""

from __future__ import annotations

from typing import Any

from gpukeras import activations, layers

POOLINGS = (None, "avg", "max")


def pooled(x: Any, pooling: str | None, avg_name: str | None = "avg_pool", max_name: str | None = "max_pool") -> Any:
    """Feature maps as they are (pooling None), averaged ("avg") or maxed ("max") over space."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x


def classifier(x: Any, classes: int, classifier_activation: Any, **dense_kwargs: Any) -> Any:
    """The "predictions" Dense layer."""
    return layers.Dense(classes, activation=classifier_activation, name="predictions", **dense_kwargs)(x)


def averaged_top(x: Any, include_top: bool, classes: int, classifier_activation: Any, pooling: str | None) -> Any:
    """ResNet's and DenseNet's end: global average pooling + the classifier, or the features `pooled`."""
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return classifier(x, classes, classifier_activation)
    return pooled(x, pooling)


def check_head(include_top: bool, classes: Any, pooling: Any, classifier_activation: Any, weights: Any) -> None:
    """Refuse, before anything is built or downloaded, a head the arguments cannot make: `classes` not a
    positive integer, an unknown `pooling` (Keras 3 ignores it silently), or, for a top loaded with weights,
    a classifier activation other than softmax or None (the weights were trained for a softmax)."""
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"`classes` must be a positive integer. Received: classes={classes!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"`pooling` must be None, 'avg' or 'max'. Received: pooling={pooling!r}")
    if include_top and weights is not None:
        chosen = activations.get(classifier_activation)
        if chosen not in (activations.get("softmax"), activations.get(None)):
            raise ValueError("With pretrained weights (weights='imagenet' or a file) and include_top=True, the "
                             "top layer's `classifier_activation` must be 'softmax' or None (the weights were "
                             f"trained for it). Received: classifier_activation={classifier_activation!r}")
