"""Audio outputs: listing devices (through sounddevice/PortAudio) and mapping a chosen device onto one of
FluidSynth's own audio drivers, so that the real-time rendering runs on FluidSynth's C thread.

``plan_outputs(device)`` returns the drivers to try, best first; the engine falls back to a null output (FluidSynth's
``file`` driver writing to the null device, paced at real time) when none opens.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class OutputPlan:
    driver: str              # FluidSynth audio driver name
    device: str | None      # driver-specific device name, None for its default
    label: str              # what to show the user


NULL_OUTPUT = OutputPlan("file", None, "no audio output (silent)")


def list_output_devices() -> list[dict]:
    """Output devices PortAudio sees: dicts with index, name, hostapi, channels. Empty when sounddevice or
    PortAudio is missing or there is no device."""
    try:
        import sounddevice as sd
        devices = sd.query_devices()
        apis = sd.query_hostapis()
    except Exception:          # OSError (no PortAudio), sounddevice.PortAudioError, ImportError
        return []
    out = []
    for d in devices:
        if d.get("max_output_channels", 0) > 0:
            out.append({"index": d["index"], "name": d["name"], "hostapi": apis[d["hostapi"]]["name"],
                        "channels": d["max_output_channels"]})
    return out


def portaudio_problem() -> str:
    try:
        import sounddevice  # noqa: F401
    except OSError:
        return ("PortAudio is missing, so audio devices cannot be listed: install it "
                "(Debian/Ubuntu: `sudo apt install libportaudio2`).")
    except ImportError:
        return "The sounddevice package is missing (pip install sounddevice)."
    return ""


def pulse_socket() -> str | None:
    """The PulseAudio (or PipeWire-pulse) socket if a server seems to be running."""
    server = os.environ.get("PULSE_SERVER", "")
    if server.startswith("unix:") and os.path.exists(server[5:]):
        return server[5:]
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}" if hasattr(os, "getuid") else ""
    sock = os.path.join(runtime, "pulse", "native") if runtime else ""
    return sock if sock and os.path.exists(sock) else None


def _device_record(device) -> dict | None:
    for d in list_output_devices():
        if d["index"] == device or d["name"] == device:
            return d
    return None


def plan_outputs(device=None) -> list[OutputPlan]:
    """FluidSynth drivers to try for ``device`` (None: the system default; a sounddevice index or name; or
    "null"), best first."""
    if device == "null":
        return [NULL_OUTPUT]
    plans: list[OutputPlan] = []
    rec = _device_record(device) if device is not None else None
    if sys.platform.startswith("linux"):
        if rec is not None:
            m = re.search(r"\((hw:\d+,\d+)\)", rec["name"])
            if m:
                plans.append(OutputPlan("alsa", "plug" + m.group(1), rec["name"]))
            elif rec["name"] == "pulse" or "pulse" in rec["hostapi"].lower():
                plans.append(OutputPlan("pulseaudio", None, "PulseAudio"))
            else:
                plans.append(OutputPlan("alsa", rec["name"], rec["name"]))
        if pulse_socket() or rec is None:
            plans.append(OutputPlan("pulseaudio", None, "PulseAudio (system default)"))
        plans.append(OutputPlan("alsa", "default", "ALSA default"))
    elif sys.platform == "darwin":
        plans.append(OutputPlan("coreaudio", rec["name"] if rec else None, rec["name"] if rec else "Core Audio"))
    elif sys.platform == "win32":
        name = rec["name"] if rec else None
        plans.append(OutputPlan("wasapi", name, name or "WASAPI default"))
        plans.append(OutputPlan("dsound", name, name or "DirectSound default"))
    else:
        plans.append(OutputPlan("oss", None, "OSS"))
    seen, unique = set(), []
    for p in plans:
        if (p.driver, p.device) not in seen:
            seen.add((p.driver, p.device))
            unique.append(p)
    return unique
