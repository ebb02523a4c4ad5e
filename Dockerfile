# DLS in a container. The boot plane needs the host's network (DHCP broadcasts on the boot interface, TFTP, iSCSI)
# and, for the zfs driver, the host's ZFS: run with `--network host --privileged -v /var/lib/dls:/var/lib/dls`
# (plus `--device /dev/zfs` for OpenZFS). Set DATABASE_URL to use an external PostgreSQL instead of the embedded one.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY native ./native
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      tgt ipxe qemu-utils iproute2 zfsutils-linux \
    && rm -rf /var/lib/apt/lists/* \
    || (apt-get install -y --no-install-recommends tgt ipxe qemu-utils iproute2 && rm -rf /var/lib/apt/lists/*)
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/build/Release/dls_net.node ./native/build/Release/dls_net.node
COPY package.json ./
ENV NODE_ENV=production DLS_DATA_DIR=/var/lib/dls
VOLUME ["/var/lib/dls"]
EXPOSE 3000 3260 69/udp 67/udp 4011/udp
CMD ["node", "dist/src/main.js"]
