"""adsft orchestrator: the pipeline steps and the command-line interface.

Importing the pipeline hands the providers what they need from it (the texts the embedded tiny model is
pre-trained on); the providers package imports nothing of this one.
"""

import providers


def _pretraining_texts() -> list[str]:
    from orchestrator.corpus import pretraining_texts

    return pretraining_texts()


providers.configure(pretraining_texts=_pretraining_texts)
