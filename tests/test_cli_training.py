"""`deepcomposer train`: --resume never hides a shipped model nor starts afresh unsaid, resumes with the saved
recipe, Ctrl+C stops as Cancel does (the model so far is saved), --minutes reaches the Transformer."""
import os
import signal
import threading
import time

import pytest

torch = pytest.importorskip("torch")

from deepcomposer_desktop.cli import main  # noqa: E402
from tests.ml.gan_fixtures import write_synthetic_cache  # noqa: E402
from tests.ml.test_arcnn_train import fake_jsb_cache  # noqa: E402
from tests.ml.test_transformer_train import _cache as transformer_cache  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def models(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "models"))
    return tmp_path / "models"


def arcnn_cache(root):
    return fake_jsb_cache(root)[0]


def test_resume_needs_overwrite_to_hide_a_shipped_model_and_something_to_resume(tmp_path, models, capsys):
    synth = write_synthetic_cache(tmp_path / "synth.npz", n=12)
    gan = ["train", "gan", "--data", str(synth), "--preset", "tiny", "--device", "cpu", "--epochs", "1"]
    assert main(gan + ["--name", "pop", "--resume"]) == 2
    assert "'pop' ships with the app" in capsys.readouterr().err
    tcache = transformer_cache(tmp_path)
    tr = ["train", "transformer", "--data", str(tcache), "--preset", "tiny", "--device", "cpu", "--epochs", "1"]
    assert main(tr + ["--name", "extend", "--resume"]) == 2
    assert "'extend' ships with the app" in capsys.readouterr().err
    assert not models.exists() or not list(models.iterdir())
    # --resume with no earlier run says so rather than starting afresh
    for command in (gan + ["--name", "fresh", "--resume"], tr + ["--name", "fresh", "--resume"],
                    ["train", "arcnn", "--data", str(arcnn_cache(tmp_path / "jsb")), "--preset", "tiny", "--device",
                     "cpu", "--name", "fresh", "--resume"]):
        assert main(command) == 2
        assert "Nothing to resume" in capsys.readouterr().err
    assert not list(models.glob("*.pt"))


def test_gan_resume_keeps_the_saved_recipe(tmp_path, capsys):
    synth = write_synthetic_cache(tmp_path / "synth.npz", n=12)
    out = tmp_path / "out"
    base = ["train", "gan", "--name", "mine", "--data", str(synth), "--out", str(out), "--device", "cpu"]
    assert main(base + ["--preset", "tiny", "--epochs", "1", "--batch-size", "2", "--update-ratio", "2"]) == 0
    capsys.readouterr()
    assert main(base + ["--resume", "--epochs", "2"]) == 0          # no --preset, --batch-size, --update-ratio
    said = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Resuming with")]
    assert said == ["Resuming with the saved run's settings: lr 0.0002, update ratio 2, batch size 2, preset tiny "
                    "(give a flag again to change one)"]
    log = (out / "gan-mine.log").read_text().split("resumed mine")[1]
    assert "batch 2 x 1 rank(s), 2 critic steps" in log and "(2 epochs)" in log


def interrupt_when(ready, timeout=120.0):
    """Send this process SIGINT (Ctrl+C) once ``ready()`` is true, from a thread."""
    def run():
        end = time.time() + timeout
        while time.time() < end and not ready():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("technique", ["gan", "arcnn", "transformer"])
def test_ctrl_c_stops_training_as_cancel_does(technique, tmp_path, capsys):
    out = tmp_path / "out"
    name = "mine"
    if technique == "gan":
        data = write_synthetic_cache(tmp_path / "synth.npz", n=12)
        ready = (out / f"gan-{name}.state").exists             # the first checkpoint: the loop is running
        extra = ["--epochs", "100000"]
    elif technique == "arcnn":
        data = arcnn_cache(tmp_path / "jsb")
        ready = (out / f"arcnn-{name}-run").exists
        extra = ["--minutes", "10"]
    else:
        data = transformer_cache(tmp_path)
        ready = lambda: "device cpu" in ((out / f"transformer-{name}-run" / "train.log").read_text()  # noqa: E731
                                          if (out / f"transformer-{name}-run" / "train.log").exists() else "")
        extra = ["--minutes", "10"]
    before = signal.getsignal(signal.SIGINT)
    t = interrupt_when(ready)
    code = main(["train", technique, "--name", name, "--data", str(data), "--out", str(out), "--preset", "tiny",
                 "--device", "cpu", *extra])
    t.join()
    err = capsys.readouterr().err
    assert code == 2 and "Training stopped; the model so far is saved" in err and "(continue with --resume)" in err
    assert (out / f"{technique}-{name}.pt").is_file()
    assert signal.getsignal(signal.SIGINT) is before                # the old handler is back


def test_transformer_minutes_reach_the_training(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["train", "transformer", "--name", "quick", "--data", str(transformer_cache(tmp_path)), "--out",
                 str(out), "--preset", "tiny", "--device", "cpu", "--minutes", "0.004"]) == 0
    assert "budget 0.004 min" in (out / "transformer-quick-run" / "train.log").read_text()
