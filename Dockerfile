# flexplace container image: the `flexplace` binary on Debian 12.
#
#   docker build -t registry.example.com/flexplace:0.1.0 .
#   docker push registry.example.com/flexplace:0.1.0
#
# then point manifests/kustomization.yaml (images:) at it.  The entrypoint is
# the `flexplace` binary and the default command is `serve` (the loopback
# sidecar of manifests/, with the pod's service account), so every command
# runs as `docker run IMAGE COMMAND ...`:
#
#   docker run --rm IMAGE version
#   docker run --rm -i IMAGE policy check - < manifests/policy-configmap.yaml
#   docker run --rm -p 8888:8888 IMAGE serve --demo --listen=:8888 --bind-verb=
#
# The last serves the bundled demo cluster on every interface; the bind verb
# is off because serve refuses an unauthenticated bind off loopback (demo
# binds would go nowhere anyway).  manifests/deployment.yaml sets its own
# command and arguments (test_manifests checks them against this file);
# manifests/README.md is the guide.

# ---- build ---------------------------------------------------------------
FROM debian:12-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
# The one list of build packages, shared with .ci/setup.
COPY .ci/packages.txt /tmp/packages.txt
RUN apt-get update \
 && grep -v '^#' /tmp/packages.txt | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Sources only (no local build folders).
COPY CMakeLists.txt ./
COPY scoring/ scoring/
COPY cache/ cache/
COPY policies/ policies/
COPY extender/ extender/
RUN cmake -S . -B /build -G Ninja -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /build \
 && cmake --install /build --prefix /usr/local --strip

# ---- runtime -------------------------------------------------------------
FROM debian:12-slim
ARG DEBIAN_FRONTEND=noninteractive
# Shared libraries the binary links (gnutls through libmicrohttpd's TLS) and
# CA certificates.  Probes and scrapes use flexplace's --metrics-listen port.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 libcurl4 libglib2.0-0 libyaml-0-2 libgnutls30 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/flexplace /usr/local/bin/flexplace
# Non-root; the same UID as runAsUser in manifests/deployment.yaml.
USER 65532:65532
EXPOSE 8888 9090
ENTRYPOINT ["flexplace"]
CMD ["serve"]
