#!/usr/bin/env bash
# Audio for CI: make sure PulseAudio (+ the ALSA pulse plugin, FluidSynth, PortAudio, a GM soundfont) is installed
# and that a PulseAudio server with a null sink ("null", 48 kHz, paced at real time) is running.
# Idempotent and quick when everything is already there. Prints what it did.
# Afterwards clients find the server through PULSE_SERVER (printed as an export line at the end) or through
# the fixed socket path that the audio tests also look for: ${DC_PULSE_DIR:-/tmp/deepcomposer-pulse}/pulse/native
set -u
DIR="${DC_PULSE_DIR:-/tmp/deepcomposer-pulse}"
SOCK="$DIR/pulse/native"

need=()
command -v pulseaudio >/dev/null 2>&1 || need+=(pulseaudio)
command -v pactl >/dev/null 2>&1 || need+=(pulseaudio-utils)
dpkg -s libasound2-plugins >/dev/null 2>&1 || need+=(libasound2-plugins)
ldconfig -p 2>/dev/null | grep -q 'libfluidsynth\.so\.3' || need+=(libfluidsynth3)
ldconfig -p 2>/dev/null | grep -q 'libportaudio\.so\.2' || need+=(libportaudio2)
[ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need+=(fluid-soundfont-gm)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "audio_setup: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; } \
      || echo "audio_setup: apt-get install failed for ${need[*]}"
  else
    echo "audio_setup: missing ${need[*]} and cannot apt-get install (not root or no apt)"
  fi
else
  echo "audio_setup: packages present"
fi

if ! command -v pulseaudio >/dev/null 2>&1; then
  echo "audio_setup: no pulseaudio binary; audio tests will fall back or skip"
  exit 0
fi

mkdir -p "$DIR"
chmod 700 "$DIR"
if XDG_RUNTIME_DIR="$DIR" PULSE_SERVER="unix:$SOCK" pactl info >/dev/null 2>&1; then
  echo "audio_setup: PulseAudio already running at $SOCK"
else
  rm -rf "$DIR/pulse"
  # -n: no default config; the null sink renders at real time (48 kHz, the engine's rate: no resampling)
  HOME="${HOME:-/root}" XDG_RUNTIME_DIR="$DIR" pulseaudio -D -n --exit-idle-time=-1 --disallow-exit \
    --load="module-null-sink sink_name=null rate=48000 sink_properties=device.description=Null" \
    --load="module-native-protocol-unix auth-anonymous=1 socket=$SOCK" \
    --log-target=file:"$DIR/pulseaudio.log" 2>/dev/null
  for _ in $(seq 1 50); do
    XDG_RUNTIME_DIR="$DIR" PULSE_SERVER="unix:$SOCK" pactl info >/dev/null 2>&1 && break
    sleep 0.1
  done
  if XDG_RUNTIME_DIR="$DIR" PULSE_SERVER="unix:$SOCK" pactl info >/dev/null 2>&1; then
    echo "audio_setup: started PulseAudio with a null sink at $SOCK"
  else
    echo "audio_setup: PulseAudio did not start (see $DIR/pulseaudio.log)"
    exit 0
  fi
fi
# the server's main thread moves client audio into the sink; on a crowded CI box give it real-time priority
PID="$(cat "$DIR/pulse/pid" 2>/dev/null)"
if [ -n "$PID" ] && command -v chrt >/dev/null 2>&1; then
  chrt -r -p 10 "$PID" >/dev/null 2>&1 && echo "audio_setup: PulseAudio main thread set to real-time (RR 10)"
fi
XDG_RUNTIME_DIR="$DIR" PULSE_SERVER="unix:$SOCK" pactl set-default-sink null >/dev/null 2>&1
XDG_RUNTIME_DIR="$DIR" PULSE_SERVER="unix:$SOCK" pactl set-default-source null.monitor >/dev/null 2>&1
echo "export PULSE_SERVER=unix:$SOCK"
