# The in-cluster job image (fleet/base/cronjob.yaml): one static binary, non-root, no shell.
#   docker build -t ghcr.io/harvester-hygiene/harvester-hygiene:v0.1.0 .
# CI cannot run Docker; tests/packaging.rs builds the same static binary with the same flags and
# checks that it has no dynamic loader and runs.
FROM docker.io/library/rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
RUN RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu --bin harvester-hygiene-job \
 && install -D -m 0755 target/x86_64-unknown-linux-gnu/release/harvester-hygiene-job /out/harvester-hygiene-job

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/harvester-hygiene-job /usr/local/bin/harvester-hygiene-job
COPY LICENSE /usr/share/doc/harvester-hygiene/LICENSE
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/harvester-hygiene-job"]
