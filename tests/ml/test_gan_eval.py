"""GAN evaluation tools: compact weights, recalibration, figures vs real data, the model card."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.ml.gan_fixtures import TRACKS, save_tiny_model, tiny_arch, write_synthetic_cache  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def cache(tmp_path):
    tracks = [dict(TRACKS[0], origin="rule: root of each chord"), dict(TRACKS[1], origin="real: test drums")]
    return write_synthetic_cache(tmp_path / "synth.npz", n=20, tracks=tracks,
                                 sources=[{"folder": "test", "licence": "CC0", "songs": 10}])


def test_quantize_round_trip_is_close_and_small():
    from deepcomposer_desktop.ml.gan.model import build_generator
    from deepcomposer_desktop.ml.gan.quant import dequantize, quantize
    g = build_generator(tiny_arch(channels=(16, 32, 32, 32)))
    sd = g.state_dict()
    q = quantize(sd)
    back = dequantize(q)
    assert set(back) == set(sd)
    for k, v in sd.items():
        if v.is_floating_point():
            assert torch.allclose(back[k], v.float(), atol=float(v.abs().max()) / 100 + 1e-3)
    nbytes = lambda d: sum(t.numel() * t.element_size() for t in d.values())  # noqa: E731
    assert nbytes(q) < 0.4 * nbytes(sd)


def test_recalibrate_and_evaluate(cache, tmp_path):
    from deepcomposer_desktop.ml import metrics as M
    from deepcomposer_desktop.ml.checkpoint import load_checkpoint
    from deepcomposer_desktop.ml.gan.data import load_training_data
    from deepcomposer_desktop.ml.gan.evaluate import generated_figures, held_out, markdown_table, real_figures, score
    from deepcomposer_desktop.ml.gan.generate import load_model
    from deepcomposer_desktop.ml.gan.recalibrate import recalibrate
    src = save_tiny_model(tmp_path / "gan-synth.pt")
    out = tmp_path / "gan-synth-rc.pt"
    params = recalibrate(src, cache, out, windows=8)
    assert params["max_poly"] == [1, 1] and load_checkpoint(out, "gan")["meta"]["decode"] == params
    data = load_training_data(cache)
    idx = held_out(data, 4)
    real = real_figures(data, idx)
    assert real["drum_pattern_rate"] == 1.0 and real["polyphony"] == 1.0
    fig = generated_figures(load_model(out), data, idx)
    assert set(fig) == set(M.FIGURES) and not math.isnan(fig["note_density"])
    ok, n, err = score(real, fig)
    assert 0 <= ok <= n and n >= 7
    table = markdown_table(real, {"tiny": fig})
    assert "| notes per bar |" in table and "tiny" in table
    assert load_checkpoint(out, "gan")["meta"]["decode_refined"] is False


def test_recalibrate_with_refine_fits_the_figures_no_worse(cache, tmp_path):
    from deepcomposer_desktop.ml.checkpoint import load_checkpoint
    from deepcomposer_desktop.ml.gan.recalibrate import recalibrate
    src = save_tiny_model(tmp_path / "gan-synth.pt")
    said = []
    recalibrate(src, cache, tmp_path / "plain.pt", windows=8)
    recalibrate(src, cache, tmp_path / "fit.pt", windows=8, refine_rounds=2, log=said.append)
    losses = [float(m.split("loss ")[1]) for m in said if m.startswith("refine round")]
    assert losses and losses == sorted(losses, reverse=True)         # the search never makes the fit worse
    meta = load_checkpoint(tmp_path / "fit.pt", "gan")["meta"]
    assert meta["decode_refined"] is True and len(meta["decode"]["threshold"]) == 2
    assert meta["decode_texture_terms"] is None                       # no texture terms asked for
    recalibrate(src, cache, tmp_path / "tex.pt", windows=8, refine_rounds=1, texture=0.5)
    from deepcomposer_desktop.ml.gan.decode_fit import TEXTURE_TERMS
    meta = load_checkpoint(tmp_path / "tex.pt", "gan")["meta"]
    assert meta["decode_texture"] == 0.5 and meta["decode_texture_terms"] == list(TEXTURE_TERMS)


def test_recalibrate_keep_goes_on_from_the_files_own_fit(cache, tmp_path):
    from deepcomposer_desktop.ml.checkpoint import load_checkpoint
    from deepcomposer_desktop.ml.gan.recalibrate import recalibrate
    src = save_tiny_model(tmp_path / "gan-synth.pt")
    first, again, fresh = [], [], []
    recalibrate(src, cache, tmp_path / "fit.pt", windows=8, refine_rounds=2, log=first.append)
    recalibrate(tmp_path / "fit.pt", cache, tmp_path / "more.pt", windows=8, refine_rounds=1, log=again.append,
                keep=True)
    recalibrate(tmp_path / "fit.pt", cache, tmp_path / "anew.pt", windows=8, refine_rounds=1, log=fresh.append)

    def losses(said):
        return [float(m.split("loss ")[1]) for m in said if m.startswith("refine round")]
    # same windows, same noise: the search starts where the last one ended, so it can only get closer
    assert losses(again)[0] <= losses(first)[-1]
    assert losses(fresh)[0] >= losses(first)[-1]         # a fresh calibration starts over: no closer after a round
    assert load_checkpoint(tmp_path / "more.pt", "gan")["meta"]["decode_refined"] is True


def test_reference_figures_come_from_training_songs_only(cache):
    from deepcomposer_desktop.ml.gan.data import load_training_data, split_by_song
    from deepcomposer_desktop.ml.gan.evaluate import real_figures, reference_figures
    data = load_training_data(cache)
    train, test = split_by_song(data)
    ref = reference_figures(data, n=len(data))                          # asks for more than there are: all of them
    assert ref == real_figures(data, np.sort(train))
    assert not set(data.song_id[train]) & set(data.song_id[test])


def test_card_names_rule_tracks_and_licences(cache, tmp_path):
    from deepcomposer_desktop.ml.gan.card import main
    from deepcomposer_desktop.ml.checkpoint import load_checkpoint, save_checkpoint
    src = save_tiny_model(tmp_path / "gan-synth.pt")
    ck = load_checkpoint(src, "gan")
    meta = dict(ck["meta"], genre="synth", sources=[{"folder": "test", "licence": "CC0", "songs": 10}],
                tracks=[dict(TRACKS[0], origin="rule: root of each chord"), dict(TRACKS[1], origin="real: drums")])
    save_checkpoint(src, technique="gan", name="synth", model_args=ck["model_args"], state_dict=ck["state_dict"],
                    meta=meta)
    card = tmp_path / "gan-synth.md"
    assert main(["--model", str(src), "--cache", str(cache), "--limit", "4", "--out", str(card),
                 "--command", "train it"]) == 0
    text = card.read_text()
    assert "**rule-derived**: root of each chord" in text and "licence CC0" in text
    assert "## Metrics on held-out melodies" in text and "`train it`" in text
    assert "coordinate search" not in text                           # this model's decoding was not refined
    assert "| figure | real data | this model | real training songs (reference) |" in text
    assert "- real training songs (reference): " in text
    from deepcomposer_desktop.ml.registry import card_summary
    assert card_summary(card).startswith("Synth accompaniment for a melody: bass, drums")


def test_card_update_re_measures_the_model_and_keeps_the_rest(cache, tmp_path):
    from deepcomposer_desktop.ml.gan.card import main, read_card
    src = save_tiny_model(tmp_path / "gan-synth.pt")
    card = tmp_path / "gan-synth.md"
    assert main(["--model", str(src), "--cache", str(cache), "--limit", "4", "--out", str(card),
                 "--command", "train it", "--note", "a note"]) == 0
    old = read_card(card)
    # an earlier card with a baseline column and a section of its own, then a re-measure after a decoding change
    base = {k: 0.5 for k in old["real"]}
    text = card.read_text().splitlines()
    text = [ln + (" 0.500 (x) |" if ln.startswith("| ") and not ln.startswith(("| figure", "|---")) else
                  " base |" if ln.startswith("| figure") else "---|" if ln.startswith("|---") else "")
            for ln in text] + ["", "## Against the baseline", "", "Measured elsewhere."]
    card.write_text("\n".join(text) + "\n")
    assert read_card(card)["columns"]["base"] == base
    again = tmp_path / "again.md"
    assert main(["--model", str(src), "--cache", str(cache), "--limit", "4", "--out", str(again),
                 "--update", str(card), "--command", "recalibrate --keep"]) == 0
    new = read_card(again)
    assert new["columns"]["base"] == base and new["real"] == old["real"] and new["notes"] == ["a note"]
    assert new["command"] == "train it; then recalibrate --keep"
    assert again.read_text().rstrip().endswith("## Against the baseline\n\nMeasured elsewhere.")
    other = tmp_path / "other.md"                              # a card of other windows is refused, not mixed in
    card.write_text(card.read_text().replace("| empty-bar rate | ", "| empty-bar rate | 9"))
    with pytest.raises(SystemExit, match="other windows"):
        main(["--model", str(src), "--cache", str(cache), "--limit", "4", "--out", str(other), "--update", str(card)])


def test_card_names_each_part_s_pitch_range():
    from deepcomposer_desktop.ml.gan.card import _ranges
    tracks = [{"name": "Bass"}, {"name": "Keys"}, {"name": "Drums", "is_drum": True}]
    text = _ranges({"decode": {"low": [26, 0, 0], "high": [66, 127, 127]}}, tracks)
    assert "bass 26–66." in text and "keys" not in text and "drums" not in text
    assert _ranges({}, tracks) == ""                                   # a model file from before ranges


def test_card_names_the_parts_that_re_attack_on_the_real_grid():
    from deepcomposer_desktop.ml.gan.card import _strike_parts
    tracks = [{"name": "Bass"}, {"name": "Keys"}, {"name": "Drums"}]
    text = _strike_parts({"decode": {"strike_weight": [0.8, 0.0, 0.0]}}, tracks)
    assert text.startswith(" For the bass the search chose") and "keys" not in text
    assert _strike_parts({"decode": {"strike_weight": [0.0, 0.0, 0.0]}}, tracks) == ""
    assert _strike_parts({}, tracks) == ""                             # a model file from before


def test_card_names_the_texture_terms_the_fit_held():
    from deepcomposer_desktop.ml.gan.card import _texture_terms
    from deepcomposer_desktop.ml.gan.decode_fit import TEXTURE_TERMS
    assert _texture_terms({"decode_texture_terms": list(TEXTURE_TERMS)}) == (
        "notes per bar, pitch classes per bar, polyphony and share of notes of 3 steps or more")
    assert _texture_terms({}) == "notes per bar, pitch classes per bar and polyphony"     # files from before
