// The official NATS JavaScript key-value client (@nats-io/kv), driven from the command line by
// tst_schema_registry_nats to check that it reads the schema registry entries SchemaRegistry
// writes (and that SchemaRegistry reads an entry it writes, as a Go node would).
//
//   node kv_interop.mjs get    <server> <bucket> <key>
//   node kv_interop.mjs put    <server> <bucket> <key> <value>
//   node kv_interop.mjs status <server> <bucket>
//
// Prints one JSON document on stdout; exits 1 with the error on stderr when the client fails
// (a missing key or bucket included).
import process from "node:process";

import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";

async function main() {
  const [cmd, server, bucket, ...rest] = process.argv.slice(2);
  if (!cmd || !server || !bucket) throw new Error("usage: kv_interop.mjs get|put|status <server> <bucket> ...");
  const nc = await connect({ servers: server, timeout: 5000 });
  try {
    const kv = await new Kvm(nc).open(bucket);
    switch (cmd) {
      case "get": {
        const e = await kv.get(rest[0]);
        if (e === null) throw new Error(`no key ${rest[0]}`);
        const value = e.json();
        // How JavaScript reads updated_at (Date.parse takes RFC 3339 / ISO 8601).
        return {
          key: e.key,
          revision: e.revision,
          operation: e.operation,
          raw: e.string(),
          value,
          updatedAtMs: Date.parse(value.updated_at),
        };
      }
      case "put": {
        const [key, value] = rest;
        return { revision: await kv.put(key, value) };
      }
      case "status": {
        const s = await kv.status();
        return { bucket: s.bucket, values: s.values, history: s.history, ttl: s.ttl, storage: s.storage };
      }
      default:
        throw new Error(`unknown command ${cmd}`);
    }
  } finally {
    await nc.close();
  }
}

main().then(
  (result) => {
    process.stdout.write(JSON.stringify(result) + "\n");
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`kv_interop: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
