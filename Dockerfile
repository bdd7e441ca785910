# Portrait Bridge container image.
#   docker build -t portrait-bridge:0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#   bash tests/image/run.sh     # builds it with podman from a locally bootstrapped base and runs it (README)
# Two stages: a Debian 12 build with the -dev packages, and a Debian 12 slim runtime with only the
# shared-library packages the binary links. The runtime list lives in ONE place (RUNTIME_PACKAGES
# below); tests/helm/dockerfile_runtime_test.sh checks it against `ldd` of the built binary.
# No "# syntax=" line: BuildKit would pull a frontend image for it, which fails air-gapped.

# Base images pinned by digest (the multi-arch index of debian:12-slim as of November 2025; the build stage
# starts from it too, since it installs everything it needs). Override both to build from a locally imported
# base, as tests/image/run.sh does with a debootstrap minbase (the same recipe the official images use).
ARG BUILD_BASE=docker.io/library/debian:12-slim@sha256:b4aa902587c2e61ce789849cb54c332b0400fe27b1ee33af4669e1f7e7c3e22f
ARG RUNTIME_BASE=docker.io/library/debian:12-slim@sha256:b4aa902587c2e61ce789849cb54c332b0400fe27b1ee33af4669e1f7e7c3e22f

FROM ${BUILD_BASE} AS build
ARG BUILD_PACKAGES="build-essential cmake pkg-config \
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto \
  libabsl-dev libcurl4-openssl-dev nlohmann-json3-dev libssl-dev zlib1g-dev \
  libcpp-httplib-dev prometheus-cpp-dev libhiredis-dev"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${BUILD_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DPORTRAIT_BRIDGE_BUILD_TESTS=OFF \
 && cmake --build build -j2 --target portrait-bridge
# Stage the binary plus every shared library it resolves inside the build tree (the project's own
# shared libraries, e.g. the generated proto library); everything else comes from RUNTIME_PACKAGES.
RUN set -eu; mkdir -p /out/bin /out/lib; \
    install -m 0755 -s build/bridge/portrait-bridge /out/bin/portrait-bridge; \
    ldd build/bridge/portrait-bridge | awk '$3 ~ "^/src/build/" { print $3 }' \
      | while read -r lib; do install -m 0644 -s "$lib" /out/lib/; done; \
    ls -l /out/bin /out/lib

FROM ${RUNTIME_BASE}
# Runtime library packages, one per directly linked library family (apt brings their own dependencies).
# libc6, libstdc++6 and libgcc-s1 are in every minbase Debian (apt needs them), so in debian:12-slim and in
# the bootstrapped base alike; ca-certificates is for the HTTPS upstream.
ARG RUNTIME_PACKAGES="ca-certificates libabsl20220623 libcpp-httplib0.11 libcurl4 libgrpc++1.51 libgrpc29 libhiredis0.14 libprometheus-cpp-core1.0 libprotobuf32 libssl3 zlib1g"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 portrait \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin portrait
COPY --from=build /out/lib/ /usr/local/lib/
COPY --from=build /out/bin/portrait-bridge /usr/local/bin/portrait-bridge
# /usr/local/lib is on the default loader path; fail the build if any library is still missing.
RUN ldconfig && ! ldd /usr/local/bin/portrait-bridge | grep 'not found'
# OCI labels. VERSION follows CMakeLists.txt's project version; REVISION is the commit (the build context has
# no .git); SOURCE is the repository URL, set where the image is published; LICENSES is SPDX, NOASSERTION while
# the repository states no license.
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.title="portrait-bridge" \
      org.opencontainers.image.description="gRPC bridge to Tencent Cloud Chat v4/profile/portrait_get" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="${LICENSES}"
# Numeric UID:GID (matches the Helm chart's podSecurity) so runAsNonRoot can verify it.
USER 10001:10001
# gRPC (listen_address) and Prometheus metrics (metrics_address).
EXPOSE 50051 9464
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/portrait-bridge"]
