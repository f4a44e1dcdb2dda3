#!/usr/bin/env bash
# Build FreeSWITCH for esl_recorder from source tarballs, into a cache keyed by their sha256.
#
#   freeswitch/build.sh [TARBALL_DIR]
# TARBALL_DIR defaults to $ESL_RECORDER_FS_SRC, else ../shared/freeswitch-src beside the clone.
#
# Builds spandsp, sofia-sip and FreeSWITCH (the module set of freeswitch/modules.conf) into
#   $ESL_RECORDER_CACHE/freeswitch-<first 12 hex of sha256 of the three tarballs' sha256s>/
# (ESL_RECORDER_CACHE defaults to ~/.cache/esl_recorder) and installs the project's runtime
# configuration (freeswitch/conf + freeswitch/dialplan, with the operator files of
# freeswitch/operator where an operator puts them) as $PREFIX/share/esl_recorder/conf, the
# template freeswitch/fsctl.py copies into each run's own directory. The vanilla sample
# configuration is moved to $PREFIX/etc/freeswitch.vanilla so nothing starts with it.
# A prefix that is complete (marker file .complete) is reused and only its configuration is
# refreshed. Prints one line per stage on stderr and the prefix on stdout (last line).
# Needs only freeswitch/ of the clone, so a Dockerfile can COPY freeswitch/ and run it.
# Environment: ESL_RECORDER_CACHE, FS_BUILD_JOBS (default nproc), FS_SKIP_APT=1 (no apt-get).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
default_src() {  # ../shared/freeswitch-src beside the clone (or beside its worktree parent)
  local d
  for d in "$HERE/../../shared/freeswitch-src" "$HERE/../../../shared/freeswitch-src"; do
    [[ -d "$d" ]] && { printf '%s\n' "$d"; return; }
  done
  printf '%s\n' "$HERE/../../shared/freeswitch-src"
}
SRC="${1:-${ESL_RECORDER_FS_SRC:-$(default_src)}}"
CACHE="${ESL_RECORDER_CACHE:-$HOME/.cache/esl_recorder}"
JOBS="${FS_BUILD_JOBS:-$(nproc)}"

APT_PACKAGES=(build-essential autoconf automake libtool libtool-bin pkg-config
  libssl-dev libcurl4-openssl-dev libpcre2-dev libspeexdsp-dev libspeex-dev libsqlite3-dev
  libedit-dev libtiff-dev libjpeg-dev libsndfile1-dev libldns-dev uuid-dev zlib1g-dev
  libmp3lame-dev libmpg123-dev libshout3-dev libopus-dev flite1-dev xz-utils python3)

say() { printf 'freeswitch/build.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# stage NAME LOG CMD...: run CMD with its output in LOG, print one line with the time taken.
stage() {
  local name="$1" log="$2" t0=$SECONDS
  shift 2
  if ! "$@" >>"$log" 2>&1; then
    say "$name FAILED after $((SECONDS - t0)) s; last lines of $log:"
    tail -n 25 "$log" >&2
    die "$name failed (log: $log)"
  fi
  say "$name: $((SECONDS - t0)) s"
}

tarball() {  # tarball PATTERN -> the one file in $SRC matching it
  local matches=("$SRC"/$1)
  [[ ${#matches[@]} -eq 1 && -f "${matches[0]}" ]] \
    || die "expected one $1 in $SRC (found: ${matches[*]})"
  printf '%s\n' "${matches[0]}"
}

[[ -d "$SRC" ]] || die "no tarball directory $SRC (give it as the first argument)"
SRC="$(cd "$SRC" && pwd)"
FS_TAR="$(tarball 'freeswitch-*.tar.xz')"
SPANDSP_TAR="$(tarball 'spandsp-*.tar.xz')"
SOFIA_TAR="$(tarball 'sofia-sip-*.tar.xz')"
KEY="$(sha256sum "$SPANDSP_TAR" "$SOFIA_TAR" "$FS_TAR" | awk '{print $1}' | sha256sum | cut -c1-12)"
PREFIX="$CACHE/freeswitch-$KEY"

install_config() {  # the project's runtime configuration, refreshed on every call
  local dest="$PREFIX/share/esl_recorder/conf" op="$HERE/operator"
  rm -rf "$dest.new"
  mkdir -p "$dest.new/dialplan/public" "$dest.new/directory/default"
  cp -R "$HERE/conf/." "$dest.new/"
  cp "$HERE/dialplan/rectest.xml" "$dest.new/dialplan/"
  # the operator files, where operator/README.md says to put them (its modules.conf.xml is a
  # list to merge: conf/autoload_configs/modules.conf.xml loads all of it and more)
  cp "$op/autoload_configs/event_socket.conf.xml" "$dest.new/autoload_configs/"
  cp "$op/dialplan/esl_recorder.xml" "$dest.new/dialplan/"
  cp "$op/dialplan/public/esl_recorder.xml" "$dest.new/dialplan/public/"
  cp "$op/directory/default/esl_recorder.xml" "$dest.new/directory/default/"
  cp "$HERE/fsctl.py" "$PREFIX/bin/esl-recorder-fsctl"
  chmod 755 "$PREFIX/bin/esl-recorder-fsctl"
  rm -rf "$dest" && mv "$dest.new" "$dest"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/freeswitch-$KEY.lock"
flock 9  # one build per key at a time: a second CI run on the machine waits, then reuses it

if [[ -f "$PREFIX/.complete" && -x "$PREFIX/bin/freeswitch" ]]; then
  install_config
  say "reusing FreeSWITCH build at $PREFIX"
  printf '%s\n' "$PREFIX"
  exit 0
fi

T_ALL=$SECONDS
WORK="$CACHE/build-$KEY"
LOGS="$CACHE/freeswitch-$KEY.logs"
rm -rf "$WORK" "$PREFIX" "$LOGS"
mkdir -p "$WORK" "$LOGS" "$PREFIX"
say "building FreeSWITCH into $PREFIX (logs in $LOGS, make -j$JOBS)"

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ "${FS_SKIP_APT:-}" == 1 ]] && die "missing Debian packages: ${missing[*]}"
  SUDO=()
  [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
  stage "apt-get install (${#missing[@]} packages)" "$LOGS/apt.log" \
    env DEBIAN_FRONTEND=noninteractive bash -c \
    "${SUDO[*]} apt-get update && ${SUDO[*]} apt-get install -y --no-install-recommends ${missing[*]}"
fi

unpack() { for t in "$SPANDSP_TAR" "$SOFIA_TAR" "$FS_TAR"; do tar -C "$WORK" -xJf "$t" || return 1; done; }
stage "unpack 3 tarballs" "$LOGS/unpack.log" unpack
tree() { local t; t="$(basename "$1")"; printf '%s\n' "$WORK/${t%.tar.xz}"; }

export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
export CPPFLAGS="-I$PREFIX/include"
export LDFLAGS="-L$PREFIX/lib -Wl,-rpath,$PREFIX/lib"
export LD_LIBRARY_PATH="$PREFIX/lib"

autotools() {  # autotools DIR BOOTSTRAP_ARGS CONFIGURE_ARGS...
  local dir="$1" boot="$2"
  shift 2
  (cd "$dir" && ./bootstrap.sh $boot && ./configure --prefix="$PREFIX" "$@" \
    && make -j"$JOBS" && make install)
}
stage "spandsp" "$LOGS/spandsp.log" autotools "$(tree "$SPANDSP_TAR")" ""
stage "sofia-sip" "$LOGS/sofia-sip.log" \
  autotools "$(tree "$SOFIA_TAR")" "" --without-glib --without-doxygen

FS_TREE="$(tree "$FS_TAR")"
# This commit's configure.ac asks for spandsp 3.1.1 / sofia-sip 1.13.18; the tarballs carry
# 3.0.0 / 1.13.17 and the bumps changed version numbers only (see shared/freeswitch-src).
sed -i -e 's/\[spandsp >= 3\.1\.1/[spandsp >= 3.0.0/' \
  -e 's/\[sofia-sip-ua >= 1\.13\.18/[sofia-sip-ua >= 1.13.17/' "$FS_TREE/configure.ac"
grep -q '\[spandsp >= 3.0.0' "$FS_TREE/configure.ac" || die "spandsp version check not lowered"
cp "$HERE/modules.conf" "$FS_TREE/modules.conf"
stage "FreeSWITCH" "$LOGS/freeswitch.log" autotools "$FS_TREE" "-j" \
  --disable-libvpx --disable-libyuv --without-python3 --disable-dependency-tracking

# The vanilla sample configuration resolves STUN at start and opens ESL on every interface.
mv "$PREFIX/etc/freeswitch" "$PREFIX/etc/freeswitch.vanilla"
install_config
rm -rf "$WORK"
touch "$PREFIX/.complete"
say "built FreeSWITCH in $((SECONDS - T_ALL)) s: $PREFIX"
printf '%s\n' "$PREFIX"
