#!/usr/bin/env bash
# Records what a device's sensors and tools print, for benchfarm's parser fixtures and for
# checking a new device: nvidia-smi (power, energy counter), RAPL powercap, thermal zones,
# cpufreq, throttle counters, device tree, L4T, tegrastats / vcgencmd when present.
# Usage: scripts/capture-device-facts.sh OUT_DIR   (reads only; changes nothing)
set -uo pipefail
out=${1:?usage: capture-device-facts.sh OUT_DIR}
mkdir -p "$out"
run() { local name=$1; shift; { echo "\$ $*"; "$@"; echo "[exit $?]"; } >"$out/$name.txt" 2>&1; }
uname -a >"$out/uname.txt"; cat /etc/os-release >"$out/os-release.txt" 2>&1
grep -m1 'model name' /proc/cpuinfo >"$out/cpuinfo-model.txt" 2>&1; nproc >>"$out/cpuinfo-model.txt"
for f in /proc/device-tree/model /etc/nv_tegra_release; do [ -e "$f" ] && tr -d '\0' <"$f" >"$out/$(basename "$f").txt"; done
if command -v nvidia-smi >/dev/null; then
  run nvidia-smi-help-query-gpu nvidia-smi --help-query-gpu
  run nvidia-smi-name-driver nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  run nvidia-smi-power nvidia-smi --query-gpu=index,name,power.draw --format=csv,noheader,nounits
  for i in 1 2 3; do run "nvidia-smi-energy-$i" nvidia-smi --query-gpu=index,name,power.draw,total_energy_consumption --format=csv,noheader,nounits; sleep 1; done
  run nvidia-smi-clocks nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,temperature.gpu,clocks_throttle_reasons.active --format=csv,noheader,nounits
fi
{
  ls -la /sys/class/powercap/ 2>&1
  for z in /sys/class/powercap/intel-rapl:*; do
    [ -e "$z/name" ] || continue
    echo "== $z name=$(cat "$z/name") max=$(cat "$z/max_energy_range_uj" 2>&1)"; ls -l "$z/energy_uj"
    a=$(cat "$z/energy_uj" 2>&1); sleep 1; b=$(cat "$z/energy_uj" 2>&1); echo "energy_uj: $a then $b (1 s apart)"
  done
} >"$out/powercap.txt" 2>&1
{
  for z in /sys/class/thermal/thermal_zone*; do [ -e "$z/type" ] && echo "$z $(cat "$z/type") $(cat "$z/temp" 2>&1) trips: $(cat "$z"/trip_point_*_type 2>/dev/null | tr '\n' ' ')"; done
  ls /sys/devices/system/cpu/cpu0/cpufreq/ 2>&1; cat /sys/devices/system/cpu/cpu0/cpufreq/{scaling_governor,scaling_cur_freq,scaling_max_freq} 2>&1
  cat /sys/devices/system/cpu/cpu0/thermal_throttle/{core,package}_throttle_count 2>&1
  ls /sys/bus/i2c/drivers/ 2>&1 | tr '\n' ' '; echo
  ls -d /sys/class/drm/card*/device/hwmon/hwmon* 2>&1
} >"$out/sysfs.txt" 2>&1
command -v tegrastats >/dev/null && run tegrastats timeout 3 tegrastats --interval 1000
command -v vcgencmd >/dev/null && { run vcgencmd-pmic vcgencmd pmic_read_adc; run vcgencmd-throttled vcgencmd get_throttled; }
command -v nvpmodel >/dev/null && run nvpmodel nvpmodel -q
for t in trtexec benchmark_app benchmark_model node; do echo "$t: $(command -v $t || echo absent)"; done >"$out/tools.txt"
ls "$out"
