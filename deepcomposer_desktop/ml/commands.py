"""CLI sub-commands `generate`, `train` and `models`. Cheap to import: each technique loads on use."""
from __future__ import annotations

import importlib

TECHNIQUES = {"gan": "accompaniment in a genre", "arcnn": "enhance: add and remove notes (Bach AR-CNN)",
              "transformer": "extend: continue the input"}


def _technique_module(technique: str, part: str):
    from ..cli import CliError
    try:
        return importlib.import_module(f"deepcomposer_desktop.ml.{technique}.{part}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"deepcomposer_desktop.ml.{technique}"):
            raise CliError(f"The {technique} technique is not available in this build") from None
        raise


def cmd_generate(args) -> int:
    return _technique_module(args.technique, "generate").cli_generate(args)


def cmd_train(args) -> int:
    return _technique_module(args.technique, "train").cli_train(args)


def cmd_models(args) -> int:
    from ..cli import CliError
    from .common import ModelError
    try:
        from .registry import list_models
    except ModuleNotFoundError:
        raise CliError("No model registry in this build") from None
    if args.action in ("export", "import", "remove"):
        from ..model_files import ModelExists, export_model, import_model, remove_model
        try:
            if args.action == "remove":
                if len(args.args) != 1:
                    raise CliError("usage: deepcomposer models remove NAME (or TECHNIQUE/NAME, e.g. gan/mygenre)")
                technique, name, _ = remove_model(args.args[0])
                print(f"Removed {technique}/{name}")
            elif args.action == "export":
                if len(args.args) != 2 or "/" not in args.args[0]:
                    raise CliError("usage: deepcomposer models export TECHNIQUE/NAME FILE (e.g. gan/rock rock.dcmodel)")
                technique, name = args.args[0].split("/", 1)
                print(f"Wrote {export_model(technique, name, args.args[1])}")
            else:
                if len(args.args) != 1:
                    raise CliError("usage: deepcomposer models import FILE [--name NAME] [--overwrite]")
                print(f"Installed {import_model(args.args[0], name=args.name, overwrite=args.overwrite)}")
        except ModelExists as exc:
            raise CliError(f"{exc} (--overwrite replaces it; --name NAME imports it under another name)") from None
        except ModelError as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(f"{exc.filename or ''}: {exc.strerror or exc}") from None
        return 0
    models = list_models()
    if not models:
        print("No models installed.")
    for m in models:
        print(f"{m.technique:<12} {m.name:<16} {m.summary}")
    return 0


def register(sub) -> None:
    from ..cli import positive, whole
    p = sub.add_parser("generate", help="run a generative technique on a melody (gan / arcnn / transformer)")
    p.add_argument("--technique", "-t", choices=sorted(TECHNIQUES), required=True)
    p.add_argument("--input", "-i", required=True, help="a .mid file, project, or built-in sample name")
    p.add_argument("--out", "-o", required=True, help="MIDI file to write (with --takes N: NAME-1.mid ...)")
    p.add_argument("--seed", type=whole(0, 2**31 - 1), default=0, help="random seed (each take uses seed + take number)")
    p.add_argument("--takes", type=whole(1, 16), default=1, help="number of variations (1-16)")
    p.add_argument("--wav", help="also render the result to this WAV file")
    p.add_argument("--track", type=int, default=None, help="input track number (1-based; default: the melody)")
    p.add_argument("--model", default=None, metavar="NAME",
                   help="arcnn / transformer: the installed model to use, e.g. one you trained (default: bach / "
                        "extend; see `deepcomposer models`)")
    g = p.add_argument_group("gan")
    g.add_argument("--genre", default="rock", help="genre model to use (see `deepcomposer models`)")
    g = p.add_argument_group("arcnn")
    g.add_argument("--max-add", type=float, default=50.0,
                   help="most notes to add, %% of the input's sounding 16th-note cells (0-1000)")
    g.add_argument("--max-remove", type=float, default=20.0,
                   help="most notes to remove, %% of the input's sounding 16th-note cells (0-100)")
    g.add_argument("--iterations", type=int, default=100, help="sampling iterations")
    g.add_argument("--temperature", type=positive(100.0), default=1.0, help="creative risk (sampling temperature)")
    g = p.add_argument_group("transformer")
    g.add_argument("--seconds", type=positive(600.0), default=30.0, help="how long to extend by")
    g.add_argument("--bars", type=int, default=None, help="extend by this many bars instead of seconds")
    g.add_argument("--context-bars", type=int, default=8, help="how many bars of the input to condition on")
    g.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest tokens (0: off)")
    g.add_argument("--top-p", type=positive(1.0), default=0.95, help="nucleus sampling threshold (1.0: off)")
    g.add_argument("--tracks", choices=("melody", "all"), default="melody", help="extend the melody or every track")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("train", help="train a model (e.g. a custom GAN genre from a folder of MIDI files)")
    p.add_argument("technique", choices=sorted(TECHNIQUES))
    p.add_argument("--name", help="model name (e.g. my-genre); gan needs one, arcnn defaults to my-bach and "
                                  "transformer to my-extend (never the shipped bach / extend)")
    p.add_argument("--data", help="gan: a folder of MIDI files or a built .npz cache; arcnn, transformer: the "
                                  "cache their data module builds (default: the project's cache/ folder)")
    p.add_argument("--out", help="output folder (default: the user's model folder)")
    p.add_argument("--epochs", type=whole(1, 100_000), default=None)
    p.add_argument("--lr", type=positive(1.0), default=None, help="learning rate")
    p.add_argument("--update-ratio", type=whole(0, 100), default=None, help="critic steps per generator step (GAN)")
    p.add_argument("--batch-size", type=whole(1, 4096), default=None)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.add_argument("--overwrite", action="store_true",
                   help="train in place of an installed model of that name (also needed to replace a shipped one)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--preset", default=None, help="a named training configuration (see the model cards)")
    p.add_argument("--melody-track", default=None,
                   help="the melody track in every file, by name or 1-based number (default: found automatically)")
    p.add_argument("--minutes", type=positive(), default=None, help="stop training after this many minutes (GAN)")
    p.add_argument("--start-from", default=None, metavar="GENRE",
                   help="GAN: start from an installed genre's model instead of from scratch (much faster on a CPU)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("models", help="list installed models (one line from each card); export or import one")
    p.add_argument("action", nargs="?", choices=("list", "export", "import", "remove"), default="list")
    p.add_argument("args", nargs="*", help="export: TECHNIQUE/NAME FILE; import: FILE; remove: [TECHNIQUE/]NAME "
                                           "(a model of yours; a built-in one cannot be removed)")
    p.add_argument("--name", help="import under this name")
    p.add_argument("--overwrite", action="store_true", help="import over an installed model of that name")
    p.set_defaults(func=cmd_models)
