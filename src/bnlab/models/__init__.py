"""Model families; importing this package registers every model in ``MODELS``."""

from bnlab.models import cnn84, lenet, mlp, resnet, softmax_regression, vgg  # noqa: F401  (registration side effect)
from bnlab.models.common import build_model, count_parameters

__all__ = ["build_model", "count_parameters"]
