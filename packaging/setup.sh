#!/usr/bin/env bash
# Set up DeepComposer Desktop from a clone: system libraries (apt, Debian/Ubuntu), a .venv, the package in it.
# Usage: bash packaging/setup.sh            (then: .venv/bin/deepcomposer-desktop)
# Env:   PYTHON=python3.11   which Python to build the venv from
#        TORCH_INDEX_URL=... a pip index holding CPU-only torch wheels (PyPI's default Linux wheel is the CUDA
#                            build, several GB); without it torch==2.13.0 comes from pip's configured sources.
#        SKIP_APT=1          do not touch system packages
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

APT_PACKAGES=(
  libfluidsynth3 fluid-soundfont-gm          # synth library + a GM soundfont (pulls timgm6mb-soundfont)
  libportaudio2 libasound2                   # sounddevice / python-rtmidi
  libgl1 libegl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0            # Qt, also offscreen
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0   # Qt on a real X display
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libx11-xcb1
)

if [[ -z "${SKIP_APT:-}" ]] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  "$PYTHON" -m venv --help >/dev/null 2>&1 || missing+=(python3-venv python3-pip)
  if ((${#missing[@]})); then
    echo "== installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "== system packages already installed"
  fi
elif [[ -z "${SKIP_APT:-}" ]]; then
  echo "== no apt-get: install FluidSynth, PortAudio and a GM soundfont yourself (see README)"
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "== creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
  "${PIP[@]}" "torch==2.13.0" --index-url "$TORCH_INDEX_URL"
else
  "${PIP[@]}" "torch==2.13.0"
fi
"${PIP[@]}" -e ".[test]"
.venv/bin/python - <<'PY'
import torch
if torch.version.cuda:
    print(f"!! torch {torch.__version__} is a CUDA build; the app only needs the CPU build (see README)")
else:
    print(f"== torch {torch.__version__} (CPU build)")
import PySide6
print(f"== PySide6 {PySide6.__version__}")
PY
echo "== ready: .venv/bin/deepcomposer-desktop   (tests: .venv/bin/python -m pytest)"
