# syntax=docker/dockerfile:1.7
# FreeSWITCH for esl_recorder, built from source by freeswitch/build.sh on Debian 12, with the
# modules the daemon needs (event socket, loopback, commands, dptools, XML dialplan, sndfile,
# native file, tone stream, shout for mp3, flite TTS) and nothing else: no SIP, no STUN.
# Build from the repository root:
#   docker build -f docker/freeswitch.Dockerfile -t esl_recorder-freeswitch .
# The sources come from the public repositories at the commits below (no vendor package token).
# To build from local tarballs instead (freeswitch-*.tar.xz, spandsp-*.tar.xz,
# sofia-sip-*.tar.xz, as freeswitch/build.sh takes them):
#   docker build --build-context fs-tarballs=/path/to/tarballs -f docker/freeswitch.Dockerfile .
# Run: ESL_PASSWORD (required) and ESL_ACL (the networks allowed to reach the event socket on
# port 8021; keep 127.0.0.0/8 in it for the health check) in the environment; see
# docker/docker-compose.yml and freeswitch/operator/autoload_configs/event_socket.conf.xml.

ARG DEBIAN_IMAGE=debian:bookworm-slim

# Replaced by DIR with --build-context fs-tarballs=DIR. By default it is the plain base image,
# whose root holds no tarballs, so fetch-sources.sh fetches the pinned commits.
FROM ${DEBIAN_IMAGE} AS fs-tarballs

FROM ${DEBIAN_IMAGE} AS sources
ARG FREESWITCH_REPO=https://github.com/signalwire/freeswitch.git
ARG FREESWITCH_COMMIT=cc93a683ca6e1f8f47c1d6e38bd2daf8fa6a7b1c
ARG SPANDSP_REPO=https://github.com/freeswitch/spandsp.git
ARG SPANDSP_COMMIT=0c7bcebef4f057b99832a338aafab7e379ef1395
ARG SOFIA_SIP_REPO=https://github.com/freeswitch/sofia-sip.git
ARG SOFIA_SIP_COMMIT=7333682a297f28130ff46d5ef0f9e2f72adca0e8
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates git xz-utils \
 && rm -rf /var/lib/apt/lists/*
COPY docker/freeswitch/fetch-sources.sh /usr/local/bin/fetch-sources.sh
RUN --mount=type=bind,from=fs-tarballs,target=/given \
    FREESWITCH_REPO="$FREESWITCH_REPO" FREESWITCH_COMMIT="$FREESWITCH_COMMIT" \
    SPANDSP_REPO="$SPANDSP_REPO" SPANDSP_COMMIT="$SPANDSP_COMMIT" \
    SOFIA_SIP_REPO="$SOFIA_SIP_REPO" SOFIA_SIP_COMMIT="$SOFIA_SIP_COMMIT" \
    fetch-sources.sh /given /tarballs

FROM ${DEBIAN_IMAGE} AS build
# build.sh installs into $ESL_RECORDER_CACHE/freeswitch-<key of the tarballs>; the binaries
# carry that path as their rpath, so the runtime image keeps it and links /opt/freeswitch to it.
ENV ESL_RECORDER_CACHE=/opt/esl_recorder
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends file
COPY freeswitch/ /build/freeswitch/
COPY docker/freeswitch/runtime-packages.sh /usr/local/bin/runtime-packages.sh
COPY --from=sources /tarballs/ /build/tarballs/
# build.sh apt-get installs the build dependencies it lists, then prints the prefix last.
RUN prefix="$(/build/freeswitch/build.sh /build/tarballs | tail -n 1)" \
 && test -x "$prefix/bin/freeswitch" \
 && printf '%s\n' "$prefix" > /opt/freeswitch-prefix \
 && rm -rf "$ESL_RECORDER_CACHE"/*.logs \
 && runtime-packages.sh "$prefix" > /opt/freeswitch-runtime-packages \
 && cat /opt/freeswitch-runtime-packages

FROM ${DEBIAN_IMAGE}
COPY --from=build /opt/freeswitch-prefix /opt/freeswitch-runtime-packages /opt/
RUN apt-get update \
 && xargs -a /opt/freeswitch-runtime-packages \
      env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/esl_recorder /opt/esl_recorder

# The same uid/gid as the daemon's image: both read and write the shared recordings volume.
RUN groupadd --system --gid 10001 freeswitch \
 && useradd --system --uid 10001 --gid freeswitch --home-dir /var/lib/freeswitch \
      --shell /usr/sbin/nologin freeswitch \
 && ln -s "$(cat /opt/freeswitch-prefix)" /opt/freeswitch \
 && mkdir -p /etc/freeswitch /var/lib/freeswitch/db /var/lib/freeswitch/certs \
      /var/log/freeswitch /run/freeswitch /var/lib/esl_recorder/recordings \
 && cp -R /opt/freeswitch/share/esl_recorder/conf/. /etc/freeswitch/ \
 && chown -R freeswitch:freeswitch /var/lib/freeswitch /var/log/freeswitch /run/freeswitch \
      /var/lib/esl_recorder
# The configuration is build.sh's template: freeswitch/conf with the operator files of
# freeswitch/operator (event socket, dialplan, directory). The operator's event socket reads
# its address, port, password and ACL from the environment: here it listens on every
# interface of the container and admits $ESL_ACL (loopback unless compose says more). The
# port is not published (see docker-compose.yml).
ENV PATH=/opt/freeswitch/bin:$PATH \
    ESL_LISTEN_IP=0.0.0.0 \
    ESL_PORT=8021 \
    ESL_ACL=127.0.0.0/8
VOLUME ["/var/lib/esl_recorder/recordings", "/var/log/freeswitch"]
EXPOSE 8021
USER freeswitch
WORKDIR /var/lib/freeswitch

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD fs_cli -H 127.0.0.1 -P "$ESL_PORT" -p "$ESL_PASSWORD" -x status | grep -q 'is ready'

# -nf -nc: in the foreground without a console (PID 1 gets SIGTERM from docker stop);
# -nonat -nonatmap: no UPnP/NAT-PMP probing; -np: no realtime priority (needs no capability).
ENTRYPOINT ["freeswitch", "-nf", "-nc", "-nonat", "-nonatmap", "-np", \
  "-conf", "/etc/freeswitch", "-log", "/var/log/freeswitch", "-run", "/run/freeswitch", \
  "-db", "/var/lib/freeswitch/db", "-certs", "/var/lib/freeswitch/certs", \
  "-recordings", "/var/lib/esl_recorder/recordings", "-temp", "/tmp"]
