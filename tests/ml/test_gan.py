"""GAN generation: shapes, save -> load, accompany() on songs of any length and key, takes, cancel, errors."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from deepcomposer_desktop.core.song import Note, Track  # noqa: E402
from deepcomposer_desktop.ml import registry  # noqa: E402
from deepcomposer_desktop.ml.common import Cancelled, ModelError  # noqa: E402
from deepcomposer_desktop.ml.gan import generate as G  # noqa: E402
from deepcomposer_desktop.ml.gan.config import GanArch, deepcomposer_arch  # noqa: E402
from deepcomposer_desktop.ml.gan.model import build_critic, build_generator  # noqa: E402

from tests.ml.gan_fixtures import TRACKS, melody_song, save_tiny_model, tiny_arch  # noqa: E402

ODE = [64, 64, 65, 67, 67, 65, 64, 62, 60, 60, 62, 64, 64, 62, 62, None] * 2      # 8 bars of quarter notes


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def genre(tmp_path, monkeypatch):
    shipped = tmp_path / "models"
    shipped.mkdir()
    monkeypatch.setattr(registry, "SHIPPED_DIR", shipped)
    monkeypatch.setenv("DEEPCOMPOSER_MODELS", str(tmp_path / "user"))
    save_tiny_model(shipped / "gan-tiny.pt")
    return "tiny"


def test_network_shapes():
    arch = tiny_arch()
    g = build_generator(arch)
    d = build_critic(arch, g)
    fr = torch.zeros(3, 128, 128)
    out = g(fr, fr, g.sample_z(3))
    assert out.shape == (3, 2, 2, 128, 128)
    assert d(g.fake_for_critic(out), fr, fr).shape == (3,)
    base = deepcomposer_arch(3)
    gb = build_generator(base)
    fr = torch.zeros(2, 32, 128)
    outb = gb(fr, fr, gb.sample_z(2))
    assert outb.shape == (2, 4, 32, 128) and outb.abs().max() <= 1.0          # tanh, melody + 3 voices
    assert build_critic(base, gb)(gb.fake_for_critic(outb), fr, fr).shape == (2,)
    with pytest.raises(ValueError):
        GanArch(steps=100)


def test_inference_upsampling_matches_the_training_path():
    """Without grad the decoder's upsample + 3x3 conv runs as four 2x2 convs on the small map: same numbers."""
    import torch.nn.functional as F
    from deepcomposer_desktop.ml.gan.model import _Up
    torch.manual_seed(0)
    up = _Up(6, 3, 5).eval()
    x, skip = torch.randn(2, 6, 4, 8), torch.randn(2, 3, 8, 16)
    slow = F.relu(up.norm(up.conv(torch.cat([F.interpolate(x, scale_factor=2, mode="nearest"), skip], dim=1))))
    with torch.no_grad():
        fast = up(x, skip)
    assert torch.allclose(fast, slow, atol=1e-5)
    with torch.no_grad():                       # a changed weight is picked up (the split kernels are rebuilt)
        up.conv.weight.mul_(2.0)
        slow2 = F.relu(up.norm(up.conv(torch.cat([F.interpolate(x, scale_factor=2, mode="nearest"), skip], 1))))
        assert torch.allclose(up(x, skip), slow2, atol=1e-5)
    gen = build_generator(GanArch(n_tracks=3)).eval()        # the shipped size, whole network
    fr = (torch.rand(1, 128, 128) > 0.95).float()
    z = gen.sample_z(1)
    train_path = gen(fr, fr, z)                 # grad enabled: the plain path
    with torch.inference_mode():
        assert torch.allclose(gen(fr, fr, z), train_path, atol=1e-3, rtol=1e-4)
        assert torch.equal(gen.decode(gen.encode(fr, fr), z), gen(fr, fr, z))


def test_arch_round_trips_through_dict():
    arch = tiny_arch()
    assert GanArch.from_dict(arch.to_dict()) == arch


def test_save_then_load_gives_identical_output(tmp_path):
    arch = tiny_arch()
    torch.manual_seed(3)
    gen = build_generator(arch).eval()
    from deepcomposer_desktop.ml.checkpoint import save_checkpoint
    from deepcomposer_desktop.ml.gan.decode import DecodeParams
    dec = DecodeParams((0.4, 0.4), (0.6, 0.6), (2, 1))
    save_checkpoint(tmp_path / "gan-x.pt", technique="gan", name="x", model_args=arch.to_dict(),
                    state_dict=gen.state_dict(), meta={"tracks": TRACKS, "decode": dec.to_dict()})
    in_memory = G.GanModel("x", arch, gen, dec, TRACKS, {})
    loaded = G.load_model(tmp_path / "gan-x.pt")
    mel = np.zeros((128, 128), bool)
    mel[::4, 60] = True
    a = G.accompany_rolls(in_memory, mel, seed=7)
    b = G.accompany_rolls(loaded, mel, seed=7)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_accompany_keeps_melody_and_adds_tracks(genre):
    song = melody_song(ODE)
    assert G.available_genres() == ["tiny"]
    out, = G.accompany(song, genre)
    assert out.tracks[:1] == song.tracks and out.melody_index == 0
    new = out.tracks[1:]
    assert [(t.name, t.program, t.is_drum) for t in new] == [("Bass", 33, False), ("Drums", 0, True)]
    assert new[1].channel == 9
    assert all(t.notes for t in new)
    assert max(n.end_tick for t in new for n in t.notes) <= 8 * 4 * 480
    assert song.tracks == (song.tracks[0],)                                       # input untouched


def test_a_part_with_sections_is_played_by_the_instrument_of_each_note_s_register():
    sections = [{"name": "Low", "program": 70, "from": 0}, {"name": "Mid", "program": 71, "from": 55},
                {"name": "High", "program": 73, "from": 72}]
    info = dict(TRACKS[0], sections=sections)
    part = Track("Winds", 73, notes=tuple(Note.make(p, i * 120, 240) for i, p in enumerate((40, 54, 55, 71, 72, 90))))
    high, mid, low = G.split_sections(part, info)
    assert [(t.name, t.program) for t in (high, mid, low)] == [("High", 73), ("Mid", 71), ("Low", 70)]
    assert [[n.pitch for n in t.notes] for t in (high, mid, low)] == [[72, 90], [55, 71], [40, 54]]
    assert sorted(n for t in (high, mid, low) for n in t.notes) == sorted(part.notes)      # nothing lost or moved
    high, mid, low = G.split_sections(part.with_notes([Note.make(60, 0, 240)]), info)
    assert (len(high.notes), len(mid.notes), len(low.notes)) == (0, 1, 0)        # a section stays, even empty
    assert G.split_sections(part, TRACKS[0]) == (part,)


@pytest.mark.parametrize("sections", [[{"name": "Low", "program": 70, "from": 12}],
                                      [{"name": "Low", "program": 70, "from": 0}, {"name": "Hi", "program": 73,
                                                                                   "from": 0}],
                                      [{"name": "Low", "program": 128, "from": 0}], ["Low"], "Low"])
def test_a_model_file_with_malformed_sections_is_refused(tmp_path, sections):
    from deepcomposer_desktop.ml.checkpoint import save_checkpoint
    arch = tiny_arch()
    save_checkpoint(tmp_path / "gan-x.pt", technique="gan", name="x", model_args=arch.to_dict(),
                    state_dict=build_generator(arch).state_dict(),
                    meta={"tracks": [dict(TRACKS[0], sections=sections), TRACKS[1]]})
    with pytest.raises(ModelError, match="section"):
        G.load_model(tmp_path / "gan-x.pt")


def test_a_band_track_named_like_one_of_the_song_s_own_says_its_genre(genre):
    song = melody_song(ODE, extra_tracks=(Track("Bass", 32, False, (Note.make(36, 0, 480),)),))
    out, = G.accompany(song, genre)
    assert [t.name for t in out.tracks] == ["Melody", "Bass", "Bass (tiny)", "Drums"]


def test_takes_are_reproducible_from_their_seed(genre):
    song = melody_song(ODE)
    takes = G.accompany(song, genre, takes=3, seed=10)
    again = G.accompany(song, genre, takes=1, seed=12)[0]
    assert takes[2] == again
    assert takes[0].tracks[1].notes != takes[1].tracks[1].notes


def test_windowing_of_a_20_bar_melody(genre):
    song = melody_song((ODE * 3)[:80])                                             # 20 bars
    out, = G.accompany(song, genre)
    bass = out.tracks[1].notes
    bar = 4 * 480
    assert max(n.end_tick for n in bass) <= 20 * bar
    for b in range(20):                                                           # no bar left unplayed
        assert any(n.start_tick < (b + 1) * bar and n.end_tick > b * bar for n in bass)
    assert G._window_starts(320, 128, 64) == [0, 64, 128, 192]


class _ConstantWindows(torch.nn.Module):
    """Test double for a generator: window k predicts probability 0.2 + 0.2 k at pitch 60 of track 0."""

    arch = tiny_arch(key_normalise=False)

    def __init__(self):
        super().__init__()
        self.seen = []

    def sample_z(self, batch, generator=None, device=None):
        return torch.arange(batch, dtype=torch.float32).reshape(batch, 1, 1, 1)

    def forward(self, frames, onsets, z):
        self.seen.append(frames.clone())
        out = torch.zeros(frames.shape[0], 2, 2, frames.shape[1], 128)
        out[:, 0, 0, :, 60] = 0.2 + 0.2 * z.reshape(-1, 1)
        return out

    def probabilities(self, out):
        return out[:, :, 0], out[:, :, 1]


def test_seams_are_cross_faded():
    from deepcomposer_desktop.ml.gan.decode import DecodeParams
    net = _ConstantWindows()
    model = G.GanModel("c", net.arch, net, DecodeParams((0.3, 0.9), (0.9, 0.9), (1, 1)), TRACKS, {})
    mel = np.zeros((192, 128), bool)
    mel[::4, 72] = True
    frames, onsets = G.accompany_rolls(model, mel, variation=0.0)
    # window 0 (p=0.2) alone would be silent, window 1 (p=0.4) alone sounds: the blend rises smoothly across
    # the overlap, so the note starts inside it and then holds without a break to the end
    col = frames[0, :, 60]
    first = int(np.argmax(col))
    assert 64 < first < 128 and col[first:].all() and onsets[0, :, 60].sum() == 1


def test_any_key_is_moved_to_c_and_back():
    from deepcomposer_desktop.ml.gan.decode import DecodeParams
    net = _ConstantWindows()
    net.arch = tiny_arch(key_normalise=True)
    model = G.GanModel("c", net.arch, net, DecodeParams((0.1, 0.9), (0.9, 0.9), (1, 1)), TRACKS, {})
    d_major = [62, 64, 66, 67, 69, 71, 73, 74, 62, 66, 69, 62, 74, 73, 71, 69] * 2
    mel = np.zeros((128, 128), bool)
    for i, p in enumerate(d_major):
        mel[i * 4:i * 4 + 3, p] = True
    frames, _ = G.accompany_rolls(model, mel, variation=0.0)
    from deepcomposer_desktop.ml.metrics import estimate_key
    assert estimate_key(net.seen[0][0].numpy()) == (0, False)                     # the network saw C major
    assert frames[0, :, 62].all() and not frames[0, :, 60].any()                  # its C came back as D


def test_drums_are_not_transposed(genre):
    song = melody_song([p + 3 if p else None for p in ODE])                        # Eb major
    out, = G.accompany(song, genre)
    assert out.tracks[2].is_drum and out.tracks[2].notes


def test_cancel_raises_cancelled(genre):
    with pytest.raises(Cancelled):
        G.accompany(melody_song(ODE), genre, should_stop=lambda: True)


def test_clear_errors(genre):
    with pytest.raises(ModelError, match="no notes"):
        G.accompany(melody_song([None, None]), genre)
    with pytest.raises(ModelError, match="polka"):
        G.accompany(melody_song(ODE), "polka")
    with pytest.raises(ModelError, match="takes"):
        G.accompany(melody_song(ODE), genre, takes=0)
    with pytest.raises(ValueError):
        G.accompany_rolls(G.model_for_genre(genre), np.zeros((16, 12)))


def test_drum_melodies_odd_meters_and_endless_songs_are_refused(genre):
    from dataclasses import replace
    from deepcomposer_desktop.core.song import TimeSignature
    song = melody_song(ODE)
    with pytest.raises(ModelError, match="drum track"):
        G.accompany(song.replace_track(0, replace(song.melody, is_drum=True)), genre)
    for num, den in ((3, 4), (6, 8), (7, 8), (5, 4)):
        with pytest.raises(ModelError, match=f"4/4 time .* {num}/{den}"):
            G.accompany(song.replace(time_signatures=(TimeSignature(0, num, den),)), genre)
    for num, den in ((2, 4), (2, 2), (4, 4)):                   # bars that fill 4/4's grid
        assert G.accompany(song.replace(time_signatures=(TimeSignature(0, num, den),)), genre)
    far = song.replace_track(0, song.melody.with_notes(song.melody.notes + (Note.make(60, 1925 * 1920, 480),)))
    with pytest.raises(ModelError, match="1,926 bars long"):
        G.accompany(far, genre)
    with pytest.raises(ModelError, match="bar at bar 3 in 5/4"):                 # longer than a model bar
        G.accompany(song.replace(time_signatures=(TimeSignature(0, 4, 4), TimeSignature(3840, 5, 4),
                                                  TimeSignature(3840 + 2400, 4, 4))), genre)


@pytest.mark.parametrize("num, den", [(3, 4), (1, 8), (3, 8), (1, 4), (2, 4)])
def test_a_pickup_or_a_bar_of_another_metre_up_to_a_4_4_bar_is_played(genre, num, den):
    from dataclasses import replace
    from deepcomposer_desktop.core.song import TimeSignature
    pickup = num * 4 * 480 // den
    song = melody_song([None] * 4 + ODE)
    song = song.replace_track(0, song.melody.with_notes(replace(n, start_tick=n.start_tick - 1920 + pickup)
                                                          for n in song.melody.notes))
    song = song.replace(time_signatures=(TimeSignature(0, num, den), TimeSignature(pickup, 4, 4)))
    assert song.meter_index == 1
    out, = G.accompany(song, genre)
    assert all(t.notes for t in out.tracks[1:])
    inside = song.replace(time_signatures=(TimeSignature(0, 4, 4), TimeSignature(3840, num, den),
                                           TimeSignature(3840 + pickup, 4, 4)))
    assert G.accompany(inside, genre)                       # one bar in another metre inside 4/4
    long = song.replace_track(0, song.melody.with_notes(song.melody.notes + (Note.make(60, 300 * 1920, 480),)))
    assert G.accompany(long, genre)                # 302 bars with the pickup: not counted in pickup-sized bars


def test_melody_on_another_track_and_odd_ppq(genre):
    drums = Track("Beat", 0, True, (Note.make(36, 0, 30),))
    song = melody_song(ODE, ppq=96, extra_tracks=(drums,))
    song = song.replace(tracks=(drums, song.tracks[0]), melody_index=1)
    out, = G.accompany(song, genre)
    assert out.tracks[:2] == song.tracks and out.melody_index == 1 and out.ppq == 96
    assert len(out.tracks) == 4


def test_cli_generate_writes_takes(genre, tmp_path):
    from deepcomposer_desktop.cli import main
    from deepcomposer_desktop.midi.io import read_midi, write_midi
    src = tmp_path / "in.mid"
    write_midi(melody_song(ODE), src)
    assert main(["generate", "-t", "gan", "--genre", genre, "-i", str(src), "-o", str(tmp_path / "o.mid"),
                 "--takes", "2", "--seed", "4"]) == 0
    for k in (1, 2):
        assert len(read_midi(tmp_path / f"o-{k}.mid").tracks) == 3
    assert main(["generate", "-t", "gan", "--genre", "nope", "-i", str(src), "-o", str(tmp_path / "p.mid")]) != 0


def test_a_pickup_bar_in_a_metre_of_its_own_keeps_the_band_on_the_bar_lines(genre):
    # the same melody twice: once as a one-beat pickup written as a 1/4 bar before the 4/4, once in 4/4 from the
    # start with three beats of rest before the pickup note: the model hears the same bars, so the band is the
    # same, one 4/4 bar minus a beat earlier
    from dataclasses import replace

    from deepcomposer_desktop.core.song import TimeSignature
    beat = 480
    rested = melody_song([None, None, None] + ODE[:29])
    pickup = rested.replace_track(0, rested.melody.with_notes(tuple(
        replace(n, start_tick=n.start_tick - 3 * beat) for n in rested.melody.notes)))
    pickup = pickup.replace(time_signatures=(TimeSignature(0, 1, 4), TimeSignature(beat, 4, 4)))
    assert G.bar_grid(pickup, 480, 20)[:6].tolist() == [12, 13, 14, 15, 16, 17]           # the pickup: a bar's end
    assert G.bar_grid(rested, 480, 20).tolist() == list(range(32))
    a, = G.accompany(rested, genre, seed=4)
    b, = G.accompany(pickup, genre, seed=4)
    for ta, tb in zip(a.tracks[1:], b.tracks[1:]):
        cut = 3 * beat                                 # notes held over the rest's end begin there
        moved = sorted((n.pitch, max(0, n.start_tick - cut), n.end_tick - max(n.start_tick, cut))
                       for n in ta.notes if n.end_tick > cut)
        assert moved and sorted((n.pitch, n.start_tick, n.duration_tick) for n in tb.notes) == moved


def test_the_band_accents_the_bar_and_the_beats(genre):
    out, = G.accompany(melody_song(ODE), genre, seed=1)
    heard = 0
    for track in out.tracks[1:]:
        by_pos = {}                                                     # (pitch, sixteenth of the bar) -> velocities
        for n in track.notes:
            by_pos.setdefault((n.pitch, n.start_tick // 120 % 16), set()).add(n.velocity)
        for pitch in {p for p, _ in by_pos}:
            one = by_pos.get((pitch, 0), set())
            between = set().union(*(v for (p, pos), v in by_pos.items() if p == pitch and pos % 2))
            if one and between:
                assert min(one) > max(between)                          # each drum or pitch: bar line over 16ths
                heard += 1
    assert heard and len({n.velocity for t in out.tracks[1:] for n in t.notes}) > 2
    # the accents follow the song's bar lines: a one-beat pickup bar moves them
    notes = G.accented([Note.make(60, 0, 120), Note.make(60, 480, 120)], 120, np.arange(12, 44), False)
    assert [n.velocity for n in notes] == [83, 90]                      # beat 4 of the model's bar, then its 1
    hats = G.accented([Note.make(42, 0, 60), Note.make(36, 0, 60)], 120, np.arange(16), True)
    assert hats[0].velocity < hats[1].velocity


def test_a_melody_far_from_the_models_register_is_heard_where_its_melodies_sit():
    from dataclasses import replace

    from deepcomposer_desktop.ml.gan.decode import DecodeParams
    net = _ConstantWindows()
    net.arch = tiny_arch(key_normalise=True)
    model = G.GanModel("c", net.arch, net, DecodeParams((0.1, 0.9), (0.9, 0.9), (1, 1)), TRACKS,
                       {"melody_median": 72})
    low = np.zeros((64, 128), bool)
    low[:, 36] = low[::2, 40] = True                               # two octaves and more below
    assert model.octave_for(low) == 36 and model.octave_for(np.zeros((64, 128), bool)) == 0
    assert replace(model, meta={}).octave_for(low) == 0            # a file without the figure: as before
    G.accompany_rolls(model, low, variation=0.0)
    heard = net.seen[0][0].numpy()                                 # the first window the model was given
    assert heard.any(axis=0).nonzero()[0].tolist() == [72, 76]     # two octaves up: C5 and E5


def test_a_two_four_bar_in_the_middle_keeps_the_bars_after_it_on_the_model_s_bar_lines(genre):
    from deepcomposer_desktop.core.song import TimeSignature
    bar = 1920
    song = melody_song(ODE).replace(time_signatures=(TimeSignature(0, 4, 4), TimeSignature(bar, 2, 4),
                                                     TimeSignature(bar + 960, 4, 4)))
    where = G.bar_grid(song, 480, 48)
    assert where[16:24].tolist() == list(range(16, 24))               # the 2/4 bar: the start of a model bar
    assert where[24] == 32                                            # the next 4/4 bar: a model downbeat
    out, = G.accompany(song, genre, seed=1)
    after = bar + 960                                                 # the first 4/4 bar after the 2/4 bar
    on_one = {n.velocity for t in out.tracks[1:] for n in t.notes if n.start_tick == after}
    on_three = {n.velocity for t in out.tracks[1:] for n in t.notes if n.start_tick == after + 960}
    assert on_one <= {90, 106, 88} and on_three <= {86, 102, 84} and on_one | on_three   # accents on its bar
    assert all(n.start_tick < after + 7 * bar for t in out.tracks[1:] for n in t.notes)
