"""Generic multimodal contrastive learning, and the CleanCLIP recipe on image-text data.

Losses take L2-normalised embeddings and the logit scale, not models, so the
same code trains CLIP (image/text) and CROMA-style (radar/optical) pairs;
models implement :class:`DualEncoder`. Image-caption recipes work on any
:class:`ImageTextModel`: the built-in :class:`SmallCLIP` or any open_clip
architecture through :class:`OpenClipModel` (open_clip is imported only
when one is built).

::

    from geomm.contrastive import (DIGIT_CLASSES, DIGIT_TEMPLATES, TrainConfig, create_model,
                                   evaluate, make_digits, train)
    from geomm.contrastive.backdoor import make_trigger, poison_csv

    digits = make_digits("work/digits")
    trigger = make_trigger("badnet", size=6)
    bad = poison_csv(digits.train, "work/poisoned", target="zero", trigger=trigger, count=45)
    model = create_model("small-clip", seed=0)
    train(model, bad.csv_path, "work/pretrain", TrainConfig(recipe="clip", epochs=30, lr=1e-3))
    train(model, digits.finetune, "work/cleanclip", TrainConfig(recipe="cleanclip", lr=5e-4))
    evaluate(model, digits.test, classes=DIGIT_CLASSES, templates=DIGIT_TEMPLATES,
             target="zero", trigger=trigger)          # EvalResult(ca=..., asr=...)

``make_textures`` writes a second bundled set in the same layout: ten procedural
texture classes (``TEXTURE_CLASSES``, zero-shot ``TEXTURE_TEMPLATES``) with
captions naming texture and colours.

``run_study`` runs the whole small-scale study (``geomm cleanclip reproduce``).

The names below load on first use (PEP 562), so ``import geomm.contrastive``
and the ``geomm cleanclip`` command group cost no torch, open_clip,
matplotlib or scikit-learn import until a command or model needs it; type
checkers read them from the ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geomm._lazy import lazy_names

if TYPE_CHECKING:
    from geomm.contrastive._captionset import CaptionSet
    from geomm.contrastive._data import CaptionTable, ImageStore, read_caption_csv, resolve_labels
    from geomm.contrastive._digits import DIGIT_CLASSES, DIGIT_TEMPLATES, DigitsSet, make_digits
    from geomm.contrastive._eda import EdaConfig, clean_text, eda, eda_many
    from geomm.contrastive._encoders import (
        DualEncoder,
        HashTokenizer,
        ImageTextModel,
        SmallCLIP,
        SmallClipConfig,
    )
    from geomm.contrastive._errors import (
        CaptionCsvError,
        CheckpointError,
        ContrastiveConfigError,
        ContrastiveError,
        ImageOutsideRootError,
        MissingImagesError,
        UnknownLabelError,
        check_seed,
    )
    from geomm.contrastive._evaluate import (
        EvalResult,
        attack_success_rate,
        clean_accuracy,
        evaluate,
        predict,
    )
    from geomm.contrastive._loss import (
        LOGIT_SCALE_MAX,
        LossTerms,
        clip_loss,
        contrastive_loss,
        info_nce,
        inmodal_loss,
    )
    from geomm.contrastive._models import (
        build_model,
        create_model,
        load_checkpoint,
        load_model,
        save_checkpoint,
    )
    from geomm.contrastive._openclip import OpenClipModel
    from geomm.contrastive._optim import clamp_logit_scale, cosine_lr, make_optimizer, param_groups
    from geomm.contrastive._reproduce import (
        StudyConfig,
        StudyResult,
        quick_study,
        run_study,
        write_report,
    )
    from geomm.contrastive._synonyms import (
        SynonymSource,
        TableSynonyms,
        WordNetSynonyms,
        bundled_synonyms,
    )
    from geomm.contrastive._templates import IMAGENET_TEMPLATES, check_templates, read_lines
    from geomm.contrastive._textures import TEXTURE_CLASSES, TEXTURE_TEMPLATES, make_textures
    from geomm.contrastive._train import RECIPES, TrainConfig, TrainResult, class_vectors, train

_EXPORTS = {
    "CaptionSet": "geomm.contrastive._captionset",
    "CaptionTable": "geomm.contrastive._data",
    "ImageStore": "geomm.contrastive._data",
    "read_caption_csv": "geomm.contrastive._data",
    "resolve_labels": "geomm.contrastive._data",
    "DIGIT_CLASSES": "geomm.contrastive._digits",
    "DIGIT_TEMPLATES": "geomm.contrastive._digits",
    "DigitsSet": "geomm.contrastive._digits",
    "make_digits": "geomm.contrastive._digits",
    "EdaConfig": "geomm.contrastive._eda",
    "clean_text": "geomm.contrastive._eda",
    "eda": "geomm.contrastive._eda",
    "eda_many": "geomm.contrastive._eda",
    "DualEncoder": "geomm.contrastive._encoders",
    "HashTokenizer": "geomm.contrastive._encoders",
    "ImageTextModel": "geomm.contrastive._encoders",
    "SmallCLIP": "geomm.contrastive._encoders",
    "SmallClipConfig": "geomm.contrastive._encoders",
    "CaptionCsvError": "geomm.contrastive._errors",
    "CheckpointError": "geomm.contrastive._errors",
    "ContrastiveConfigError": "geomm.contrastive._errors",
    "ContrastiveError": "geomm.contrastive._errors",
    "ImageOutsideRootError": "geomm.contrastive._errors",
    "MissingImagesError": "geomm.contrastive._errors",
    "check_seed": "geomm.contrastive._errors",
    "UnknownLabelError": "geomm.contrastive._errors",
    "EvalResult": "geomm.contrastive._evaluate",
    "attack_success_rate": "geomm.contrastive._evaluate",
    "clean_accuracy": "geomm.contrastive._evaluate",
    "evaluate": "geomm.contrastive._evaluate",
    "predict": "geomm.contrastive._evaluate",
    "LOGIT_SCALE_MAX": "geomm.contrastive._loss",
    "LossTerms": "geomm.contrastive._loss",
    "clip_loss": "geomm.contrastive._loss",
    "contrastive_loss": "geomm.contrastive._loss",
    "info_nce": "geomm.contrastive._loss",
    "inmodal_loss": "geomm.contrastive._loss",
    "build_model": "geomm.contrastive._models",
    "create_model": "geomm.contrastive._models",
    "load_checkpoint": "geomm.contrastive._models",
    "load_model": "geomm.contrastive._models",
    "save_checkpoint": "geomm.contrastive._models",
    "OpenClipModel": "geomm.contrastive._openclip",
    "clamp_logit_scale": "geomm.contrastive._optim",
    "cosine_lr": "geomm.contrastive._optim",
    "make_optimizer": "geomm.contrastive._optim",
    "param_groups": "geomm.contrastive._optim",
    "StudyConfig": "geomm.contrastive._reproduce",
    "StudyResult": "geomm.contrastive._reproduce",
    "quick_study": "geomm.contrastive._reproduce",
    "run_study": "geomm.contrastive._reproduce",
    "write_report": "geomm.contrastive._reproduce",
    "SynonymSource": "geomm.contrastive._synonyms",
    "TableSynonyms": "geomm.contrastive._synonyms",
    "WordNetSynonyms": "geomm.contrastive._synonyms",
    "bundled_synonyms": "geomm.contrastive._synonyms",
    "IMAGENET_TEMPLATES": "geomm.contrastive._templates",
    "check_templates": "geomm.contrastive._templates",
    "read_lines": "geomm.contrastive._templates",
    "TEXTURE_CLASSES": "geomm.contrastive._textures",
    "TEXTURE_TEMPLATES": "geomm.contrastive._textures",
    "make_textures": "geomm.contrastive._textures",
    "RECIPES": "geomm.contrastive._train",
    "TrainConfig": "geomm.contrastive._train",
    "TrainResult": "geomm.contrastive._train",
    "class_vectors": "geomm.contrastive._train",
    "train": "geomm.contrastive._train",
}
"""Public name -> the private module that defines it."""

__all__ = [
    "CaptionCsvError",
    "CaptionSet",
    "CaptionTable",
    "CheckpointError",
    "ContrastiveConfigError",
    "ContrastiveError",
    "DIGIT_CLASSES",
    "DIGIT_TEMPLATES",
    "DigitsSet",
    "DualEncoder",
    "EdaConfig",
    "EvalResult",
    "HashTokenizer",
    "IMAGENET_TEMPLATES",
    "ImageOutsideRootError",
    "ImageStore",
    "ImageTextModel",
    "LOGIT_SCALE_MAX",
    "LossTerms",
    "MissingImagesError",
    "OpenClipModel",
    "RECIPES",
    "SmallCLIP",
    "SmallClipConfig",
    "StudyConfig",
    "StudyResult",
    "SynonymSource",
    "TEXTURE_CLASSES",
    "TEXTURE_TEMPLATES",
    "TableSynonyms",
    "TrainConfig",
    "TrainResult",
    "UnknownLabelError",
    "WordNetSynonyms",
    "attack_success_rate",
    "build_model",
    "bundled_synonyms",
    "check_seed",
    "check_templates",
    "clamp_logit_scale",
    "class_vectors",
    "clean_accuracy",
    "clean_text",
    "clip_loss",
    "contrastive_loss",
    "cosine_lr",
    "create_model",
    "eda",
    "eda_many",
    "evaluate",
    "info_nce",
    "inmodal_loss",
    "load_checkpoint",
    "load_model",
    "make_digits",
    "make_optimizer",
    "make_textures",
    "param_groups",
    "predict",
    "quick_study",
    "read_caption_csv",
    "read_lines",
    "resolve_labels",
    "run_study",
    "save_checkpoint",
    "train",
    "write_report",
]


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS, __all__)
