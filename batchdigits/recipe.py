"""The training recipe of the shipped model.

``batchdigits train`` with no flags reproduces the model in
``batchdigits/models``. These live in a module of their own, free of heavy
imports, so the command line can show them as defaults and still start
instantly.
"""

DEFAULT_EPOCHS = 10
DEFAULT_DISTORTED_COPIES = 2
DEFAULT_BROKEN_STROKES = 0.3
DEFAULT_FONT_SAMPLES = 40
DEFAULT_STROKE_SAMPLES = 1500
DEFAULT_TRAIN_SEED = 2
#: The teacher the shipped network learnt from (see train.distillation_targets):
#: the v1 ensemble of three networks, shipped beside it for this alone.
TEACHER_FILENAME = "teacher.keras"
DEFAULT_TEACHER_WEIGHT = 0.5
#: The trained network consults its teacher where its calibrated confidence
#: is under this, mixing in the teacher's probabilities at this weight
#: (chosen by benchmarks/second_opinion.py: a heavier teacher overrules the
#: styles only the network learnt).
SECOND_OPINION_BELOW = 0.99
SECOND_OPINION_WEIGHT = 0.25
