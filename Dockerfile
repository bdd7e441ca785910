# syntax=docker/dockerfile:1
# Portrait Bridge container image.
#   docker build -t portrait-bridge:0.1.0 .
# Two stages: a Debian 12 build with the -dev packages, and a debian:12-slim runtime with only the
# shared-library packages the binary links. The runtime list lives in ONE place (RUNTIME_PACKAGES
# below); tests/helm/dockerfile_runtime_test.sh checks it against `ldd` of the built binary.

FROM debian:12 AS build
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

FROM debian:12-slim
# Runtime library packages, one per directly linked library family (apt brings their own dependencies).
# libc6, libstdc++6 and libgcc-s1 are already in debian:12-slim; ca-certificates is for the HTTPS upstream.
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
LABEL org.opencontainers.image.title="portrait-bridge" \
      org.opencontainers.image.description="gRPC bridge to Tencent Cloud Chat v4/profile/portrait_get"
# Numeric UID:GID (matches the Helm chart's podSecurity) so runAsNonRoot can verify it.
USER 10001:10001
# gRPC (listen_address) and Prometheus metrics (metrics_address).
EXPOSE 50051 9464
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/portrait-bridge"]
