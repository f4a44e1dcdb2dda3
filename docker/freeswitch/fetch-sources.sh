#!/usr/bin/env bash
# The three source tarballs freeswitch/build.sh takes, in OUT_DIR:
#   fetch-sources.sh GIVEN_DIR OUT_DIR
# If GIVEN_DIR holds freeswitch-*.tar.xz, spandsp-*.tar.xz and sofia-sip-*.tar.xz they are used
# as they are; otherwise each project is fetched from its public repository at the commit in
# FREESWITCH_COMMIT, SPANDSP_COMMIT, SOFIA_SIP_COMMIT (repositories: *_REPO) and packed the way
# build.sh expects: <name>-<commit[:10]>.tar.xz unpacking to a directory of the same name.
set -euo pipefail

given="$1" out="$2"
mkdir -p "$out"
say() { printf 'fetch-sources.sh: %s\n' "$*" >&2; }

have_all=1
for pattern in 'freeswitch-*.tar.xz' 'spandsp-*.tar.xz' 'sofia-sip-*.tar.xz'; do
  compgen -G "$given/$pattern" >/dev/null || have_all=0
done
if [[ $have_all == 1 ]]; then
  say "using the tarballs in the build context fs-tarballs"
  cp "$given"/freeswitch-*.tar.xz "$given"/spandsp-*.tar.xz "$given"/sofia-sip-*.tar.xz "$out/"
  exit 0
fi

fetch() {  # fetch NAME REPO COMMIT: a shallow fetch of exactly COMMIT, packed without .git
  local name="$1" repo="$2" commit="$3"
  [[ $commit =~ ^[0-9a-f]{40}$ ]] || { say "error: $name commit must be 40 hex digits"; exit 1; }
  local dir="$name-${commit:0:10}" work
  work="$(mktemp -d)"
  say "$name: $repo at $commit"
  git -C "$work" init --quiet "$dir"
  git -C "$work/$dir" fetch --quiet --depth 1 "$repo" "$commit"
  git -C "$work/$dir" -c advice.detachedHead=false checkout --quiet FETCH_HEAD
  [[ "$(git -C "$work/$dir" rev-parse HEAD)" == "$commit" ]] || { say "error: $name is not at $commit"; exit 1; }
  tar -C "$work" --exclude=.git -cJf "$out/$dir.tar.xz" "$dir"
  rm -rf "$work"
}
fetch freeswitch "${FREESWITCH_REPO:?}" "${FREESWITCH_COMMIT:?}"
fetch spandsp "${SPANDSP_REPO:?}" "${SPANDSP_COMMIT:?}"
fetch sofia-sip "${SOFIA_SIP_REPO:?}" "${SOFIA_SIP_COMMIT:?}"
