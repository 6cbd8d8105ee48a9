"""Model files for sharing: export -> import round trip, and files that must be refused (code, damage, misfits)."""
from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deepcomposer_desktop.ml.checkpoint import save_checkpoint  # noqa: E402
from deepcomposer_desktop.ml.common import ModelError  # noqa: E402
from deepcomposer_desktop.model_files import ModelExists, export_model, import_model, read_model_file  # noqa: E402

TRACKS = [{"name": "Drums", "program": 0, "is_drum": True}, {"name": "Bass", "program": 33, "is_drum": False}]


def tiny_gan(path, name="mine", seed=0):
    from deepcomposer_desktop.ml.gan.config import ARCH_PRESETS, GanArch
    from deepcomposer_desktop.ml.gan.model import build_generator
    torch.set_num_threads(1)
    arch = GanArch(n_tracks=2, **ARCH_PRESETS["tiny"])
    torch.manual_seed(seed)
    gen = build_generator(arch)
    save_checkpoint(path, technique="gan", name=name, model_args=arch.to_dict(), state_dict=gen.state_dict(),
                    meta={"tracks": TRACKS, "genre": name})
    return arch


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(folder))
    return folder


def _melody():
    roll = np.zeros((128, 128), bool)
    for k in range(32):
        roll[k * 4:k * 4 + 3, 60 + (k * 2) % 12] = True
    return roll


def test_export_then_import_gives_the_same_model_and_card(user_models, tmp_path):
    from deepcomposer_desktop.ml.gan.generate import accompany_rolls, load_model
    from deepcomposer_desktop.ml.registry import list_models
    tiny_gan(user_models / "gan-mine.pt")
    (user_models / "gan-mine.md").write_text("# GAN accompaniment: mine\n\nMy band from my own songs.\n")
    shared = export_model("gan", "mine", tmp_path / "share" / "mine")
    assert shared.name == "mine.dcmodel" and shared.is_file()
    assert read_model_file(shared)["meta"]["card"].startswith("# GAN accompaniment: mine")

    other = tmp_path / "other-user"
    dest = import_model(shared, name="friends-band", folder=other)
    assert dest == other / "gan-friends-band.pt"
    assert dest.with_suffix(".md").read_text() == (user_models / "gan-mine.md").read_text()
    a, b = load_model(user_models / "gan-mine.pt"), load_model(dest)
    for k, v in a.generator.state_dict().items():
        assert torch.equal(v, b.generator.state_dict()[k]), k
    fa, oa = accompany_rolls(a, _melody(), seed=3)
    fb, ob = accompany_rolls(b, _melody(), seed=3)
    assert np.array_equal(fa, fb) and np.array_equal(oa, ob)

    with pytest.raises(ModelExists, match="already have"):
        import_model(shared, name="friends-band", folder=other)
    tiny_gan(tmp_path / "v2.pt", name="friends-band", seed=1)
    import_model(tmp_path / "v2.pt", overwrite=True, folder=other)          # a plain checkpoint imports too
    c = load_model(dest)
    assert not all(torch.equal(v, c.generator.state_dict()[k]) for k, v in a.generator.state_dict().items())
    # the default folder is the user's model folder, where the genre list finds it
    import_model(shared, name="mine-copy")
    assert ("gan", "mine-copy") in {(m.technique, m.name) for m in list_models() if m.user}


def test_importing_a_model_named_like_a_built_in_one_asks_first(user_models, tmp_path):
    from deepcomposer_desktop.ml.registry import find_model
    tiny_gan(tmp_path / "rock.pt", name="rock")
    with pytest.raises(ModelExists, match="'rock' is a built-in gan model"):   # it replaced the built-in Rock
        import_model(tmp_path / "rock.pt")
    assert not find_model("gan", "rock").user and not list(user_models.iterdir())
    assert import_model(tmp_path / "rock.pt", overwrite=True) == user_models / "gan-rock.pt"   # when asked to
    assert find_model("gan", "rock").user


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_model_file_carrying_code_is_refused_without_running_it(user_models, tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "nice-genre.dcmodel"
    torch.save({"format": "deepcomposer-desktop-model", "version": 1, "technique": "gan", "name": "nice-genre",
                "model_args": {}, "state_dict": {"w": Evil(marker)}, "meta": {}}, bad)
    with pytest.raises(ModelError, match="refused: it carries program code") as err:
        import_model(bad)
    assert "Nothing in it was run" in str(err.value)
    assert not marker.exists()
    assert not list(user_models.iterdir())                   # nothing was installed
    # control: the file really does run code when loaded the unsafe way (so the test above can fail)
    torch.load(bad, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0", "is a MIDI file, not a model"),
    (b"\x00" + np.random.default_rng(2000).bytes(2000), "not a model file"),
    (b"PK\x03\x04" + np.random.default_rng(2000).bytes(2000), "damaged or not a model file"),
    (b"\x80\x02" + np.random.default_rng(200).bytes(200), "damaged|refused"),
])
def test_bad_files_get_a_clear_message(user_models, tmp_path, content, message):
    p = tmp_path / "x.dcmodel"
    p.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        import_model(p)


def test_truncated_foreign_and_misfitting_files_are_refused(user_models, tmp_path):
    good = tmp_path / "good.pt"
    tiny_gan(good)
    cut = tmp_path / "cut.dcmodel"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelError, match="damaged"):
        import_model(cut)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelError, match="not a DeepComposer Desktop model"):
        import_model(foreign)
    odd = tmp_path / "odd.pt"
    save_checkpoint(odd, technique="vae", name="odd", model_args={}, state_dict={"w": torch.zeros(2)})
    with pytest.raises(ModelError, match="unknown kind"):
        import_model(odd)
    misfit = tmp_path / "misfit.pt"
    arch = tiny_gan(good)
    save_checkpoint(misfit, technique="gan", name="misfit", model_args=arch.to_dict(),
                    state_dict={"not.a.layer": torch.zeros(4)}, meta={"tracks": TRACKS})
    with pytest.raises(ModelError, match="does not fit"):
        import_model(misfit)
    bad_program = tmp_path / "program.pt"
    gen = torch.load(good, weights_only=True)["state_dict"]
    save_checkpoint(bad_program, technique="gan", name="program", model_args=arch.to_dict(), state_dict=gen,
                    meta={"tracks": [dict(TRACKS[0], program=500), TRACKS[1]]})
    with pytest.raises(ModelError, match=r"^program\.pt: a track of its card has no valid General MIDI program"):
        import_model(bad_program)
    assert not list(user_models.glob("*.pt")) and not list(user_models.glob("*.part"))
    with pytest.raises(ModelError, match="not installed|No gan model"):
        export_model("gan", "nothing-here", tmp_path / "x")


def test_remove_takes_away_a_model_of_yours_and_never_a_built_in_one(user_models):
    from deepcomposer_desktop.ml.registry import find_model, list_models
    from deepcomposer_desktop.model_files import remove_model
    tiny_gan(user_models / "gan-mine.pt")
    (user_models / "gan-mine.md").write_text("# mine\n")
    for extra in ("gan-mine.state", "gan-mine.log", "gan-mine-samples/epoch0001-1.mid"):
        (user_models / extra).parent.mkdir(exist_ok=True)
        (user_models / extra).write_text("x")
    tiny_gan(user_models / "gan-mine-too.pt")                 # another model whose name starts the same
    technique, name, removed = remove_model("gan/mine")
    assert (technique, name) == ("gan", "mine") and len(removed) == 5
    assert sorted(p.name for p in user_models.iterdir()) == ["gan-mine-too.pt"]
    assert remove_model("mine-too")[:2] == ("gan", "mine-too")                # the technique may be left out
    with pytest.raises(ModelError, match="ships with the app and cannot be removed"):
        remove_model("gan/rock")
    with pytest.raises(ModelError, match="ships with the app and cannot be removed"):
        remove_model("rock")
    assert find_model("gan", "rock").path.is_file()
    with pytest.raises(ModelError, match="no model called 'gone'"):
        remove_model("gone")
    # a model of yours that hides a built-in one: removed, the built-in one is back
    tiny_gan(user_models / "gan-pop.pt", name="pop")
    assert find_model("gan", "pop").user
    remove_model("gan/pop")
    assert not find_model("gan", "pop").user and ("gan", "pop") in {(m.technique, m.name) for m in list_models()}
    tiny_gan(user_models / "gan-twice.pt")
    (user_models / "arcnn-twice.pt").write_bytes((user_models / "gan-twice.pt").read_bytes())
    with pytest.raises(ModelError, match="several models called 'twice'"):
        remove_model("twice")
