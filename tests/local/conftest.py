import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")


@pytest.fixture(scope="session")
def micro_model(tmp_path_factory):
    """A very small Llama (2 layers, hidden 32) with the embedded tokenizer; built in seconds."""
    from orchestrator.corpus import pretraining_texts
    from providers.local.tiny import build

    folder = tmp_path_factory.mktemp("models") / "micro"
    return build(folder, steps=20, hidden=32, layers=2, vocab=600, log=lambda *_: None, texts=pretraining_texts())


@pytest.fixture(scope="session")
def train_file(tmp_path_factory):
    from orchestrator.synth import SynthConfig, synthesize

    out = tmp_path_factory.mktemp("data")
    synthesize(SynthConfig(out=out, n=60, variants=2, languages=("en",), seed=1))
    return out / "train.jsonl"
