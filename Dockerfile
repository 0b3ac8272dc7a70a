# The in-cluster job image (charts/harvester-hygiene runs it): one static binary on an empty
# base, user 65532, no shell, no package manager.
#   docker build -t ghcr.io/harvester-hygiene/harvester-hygiene:v0.1.0 .
#   buildah bud -t ghcr.io/harvester-hygiene/harvester-hygiene:v0.1.0 .
# The final stage is FROM scratch: everything in it is the tree scripts/image-rootfs.sh makes
# (binary, passwd/group with 65532, CA bundle, nsswitch.conf, LICENSE). tests/packaging.rs builds
# the same static binary and tree and, with buildah, this final stage from them, and inspects
# the image (user, entrypoint, no shell, size).
FROM docker.io/library/rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
RUN RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu --bin harvester-hygiene-job \
 && scripts/image-rootfs.sh /out/rootfs target/x86_64-unknown-linux-gnu/release/harvester-hygiene-job

FROM scratch
COPY --from=build /out/rootfs/ /
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/harvester-hygiene-job"]
