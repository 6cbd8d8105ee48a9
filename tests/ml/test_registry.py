"""ml.registry: shipped + user model folders, card summaries, precedence and clear errors."""
import pytest

from deepcomposer_desktop.ml import registry
from deepcomposer_desktop.ml.common import ModelError


@pytest.fixture
def folders(tmp_path, monkeypatch):
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    shipped.mkdir()
    monkeypatch.setattr(registry, "SHIPPED_DIR", shipped)
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(user))
    return shipped, user


def test_lists_shipped_and_user_models_with_summaries(folders):
    shipped, user = folders
    (shipped / "gan-rock.pt").write_bytes(b"x")
    (shipped / "gan-rock.md").write_text("# GAN rock\n\n**Rock band** accompaniment: drums, bass.\n\nMore.\n")
    (shipped / "arcnn-bach.pt").write_bytes(b"x")
    (shipped / "notes.txt").write_text("ignored")
    (shipped / "weird.pt").write_bytes(b"x")                   # no technique prefix: ignored
    user.mkdir()
    (user / "gan-my-genre.pt").write_bytes(b"x")
    models = registry.list_models()
    assert [(m.technique, m.name) for m in models] == [("arcnn", "bach"), ("gan", "my-genre"), ("gan", "rock")]
    rock = registry.find_model("gan", "rock")
    assert rock.summary == "Rock band accompaniment: drums, bass."
    assert rock.path == shipped / "gan-rock.pt" and not rock.user
    assert registry.find_model("gan", "my-genre").user
    assert registry.find_model("arcnn", "bach").summary == "(no model card)"
    assert [m.name for m in registry.list_models("gan")] == ["my-genre", "rock"]


def test_user_model_overrides_shipped(folders):
    shipped, user = folders
    user.mkdir()
    for d in (shipped, user):
        (d / "gan-pop.pt").write_bytes(b"x")
    assert registry.find_model("gan", "pop").path == user / "gan-pop.pt"


def test_missing_model_names_what_is_installed(folders):
    shipped, _ = folders
    (shipped / "gan-jazz.pt").write_bytes(b"x")
    with pytest.raises(ModelError, match="jazz"):
        registry.find_model("gan", "polka")


def test_default_user_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("DEEPCOMPOSER_MODELS", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert registry.user_models_dir() == tmp_path / "deepcomposer-desktop" / "models"


def test_models_command_prints_list(folders, capsys):
    from deepcomposer_desktop.cli import main
    shipped, _ = folders
    (shipped / "gan-folk.pt").write_bytes(b"x")
    (shipped / "gan-folk.md").write_text("# x\nFolk tunes with fiddle and guitar.\n")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "gan" in out and "folk" in out and "Folk tunes with fiddle" in out
