"""Embedding models: a plugin registry, with CROMA built in.

Models take chips as numpy arrays in geomm's canonical radiometry (S1 gamma0
dB float32 with NaN nodata, S2 reflectance x 10000 uint16 with 0 nodata) and
return named float32 embeddings; they know nothing of STAC or cubes.

::

    from geomm.models import list_models, load_model

    [m.name for m in list_models()]          # ['croma-base', 'croma-large', 'croma-tiny']
    model = load_model("croma-base")         # published weights (torch hub cache)
    out = model.embed(s1, s2)                # {"sar": (N, 768), "optical": ..., "joint": ...}
    model.weights_id, model.precision        # recorded next to the embeddings

Importing this package and calling :func:`list_models` or :func:`model_info`
do not import torch; :func:`load_model` does.

Writing a plugin
----------------
A plugin is any object with an ``info`` attribute (a :class:`ModelInfo`) and
a ``load(weights, *, precision, normalization, device, seed, download)``
method returning an :class:`EmbeddingModel`. Register it under the
``geomm.models`` entry-point group; the entry-point name must equal
``info.name``. Keep the module that defines the object light (import torch
inside ``load``), since listing models imports it::

    # pyproject.toml of the third-party package
    [project.entry-points."geomm.models"]
    my-model = "my_package.geomm_plugin:MY_MODEL"

    # my_package/geomm_plugin.py
    from geomm.models import EmbeddingModel, ModelInfo

    class MyPlugin:
        info = ModelInfo(
            name="my-model", description="...", modalities=("s2",),
            bands={"s2": ("B02", "B03", "B04", "B08")}, chip_multiple=16,
            default_chip_size=224, embeddings={"optical": 384},
            default_embedding="optical", normalizations=("my-stats",), weights=None,
        )

        def load(self, weights, *, precision, normalization, device, seed, download):
            from my_package._model import MyModel  # torch imported here
            return MyModel(self.info, weights, precision=precision, device=device)

    MY_MODEL = MyPlugin()

The :class:`ModelInfo` is all that :mod:`geomm.embed` knows of a model: the
inputs and bands it reads, its normalizations (the first is the default),
the chip sizes it takes (``chip_multiple``, ``chip_sizes``), which inputs
each embedding needs (``requires``) and which cube variables its chips come
from (``cube_variables``). A cube whose chips do not fit is refused before
any work.

``MyModel`` subclasses :class:`EmbeddingModel`: it sets ``info``,
``weights_id``, ``precision``, ``normalization`` and ``device`` and
implements ``embed`` (``check_inputs`` validates arrays against ``info``).
Raise :class:`WeightsError` for weights that are missing or do not fit, and
:class:`geomm.errors.ModelInputError` for arrays or options the model cannot
take.
"""

from geomm.errors import ModelInputError, ModelNotFoundError, ModelPluginError, WeightsError
from geomm.models._embedding import EmbeddingModel, check_inputs
from geomm.models._registry import (
    DEFAULT_MODEL,
    ENTRY_POINT_GROUP,
    ModelInfo,
    ModelPlugin,
    WeightsSource,
    hub_checkpoints_dir,
    list_models,
    load_model,
    model_info,
)
from geomm.models._weights import save_checkpoint

__all__ = [
    "DEFAULT_MODEL",
    "ENTRY_POINT_GROUP",
    "EmbeddingModel",
    "ModelInfo",
    "ModelInputError",
    "ModelNotFoundError",
    "ModelPluginError",
    "ModelPlugin",
    "WeightsError",
    "WeightsSource",
    "check_inputs",
    "hub_checkpoints_dir",
    "list_models",
    "load_model",
    "model_info",
    "save_checkpoint",
]
