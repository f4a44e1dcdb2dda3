#!/usr/bin/env bash
# The Debian packages that hold every shared library the ELF files under DIR link to
# (outside DIR itself), one per line: what the runtime image must install.
#   runtime-packages.sh DIR
# Fails if a library belongs to no installed package.
set -euo pipefail

dir="$1"
owner() {  # owner LIB: the package shipping LIB, under its /lib or /usr/lib spelling
  local lib="$1" path
  for path in "$lib" "$(readlink -f "$lib")" "/usr${lib#/usr}" "${lib#/usr}"; do
    dpkg-query -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1 && return 0
  done
  printf 'runtime-packages.sh: no package ships %s\n' "$lib" >&2
  return 1
}

mapfile -t libs < <(
  find "$dir" -type f \( -perm -u+x -o -name '*.so*' \) -print0 \
    | xargs -0 -r file -N -F ' ' | awk '$2 == "ELF" {print $1}' \
    | xargs -r ldd 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}' \
    | grep -v "^$(readlink -f "$dir")/" | sort -u)
for lib in "${libs[@]}"; do
  owner "$lib"
done | sort -u
