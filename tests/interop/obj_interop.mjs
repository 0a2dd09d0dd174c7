// The official NATS JavaScript object store client (@nats-io/obj), driven from the command
// line by tst_nats_object_store to check that it reads what NatsObjectStore writes and that
// NatsObjectStore reads what it writes.
//
//   node obj_interop.mjs put  <server> <bucket> <name> <file> [header=value ...]
//   node obj_interop.mjs get  <server> <bucket> <name> <file>
//   node obj_interop.mjs list <server> <bucket>
//   node obj_interop.mjs info <server> <bucket> <name>
//   node obj_interop.mjs link <server> <bucket> <name> <target>
//
// Prints one JSON document on stdout; exits 1 with the error on stderr when the client fails
// (a digest mismatch on get included).
import { createHash, webcrypto } from "node:crypto";
import { createReadStream, createWriteStream, statSync } from "node:fs";
import { Readable } from "node:stream";
import process from "node:process";

import { connect } from "@nats-io/transport-node";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { Objm } from "@nats-io/obj";

// Node 18 (Debian 12) has WebCrypto only as node:crypto's webcrypto, not as the global the
// client checks for before it creates a store; Node 19 and later have the global.
if (!globalThis.crypto) globalThis.crypto = webcrypto;

function infoJson(i) {
  return {
    name: i.name,
    bucket: i.bucket,
    nuid: i.nuid,
    size: i.size,
    chunks: i.chunks,
    digest: i.digest,
    mtime: i.mtime,
    deleted: i.deleted,
    options: i.options ?? null,
    headers: headersRecord(i.headers),
  };
}

// info() gives MsgHdrs, list() the stored record ({"Name": ["value"]}).
function headersRecord(h) {
  if (!h) return {};
  if (typeof h.keys === "function") return Object.fromEntries(h.keys().map((k) => [k, h.values(k)]));
  return h;
}

async function main() {
  const [cmd, server, bucket, ...rest] = process.argv.slice(2);
  if (!cmd || !server || !bucket) throw new Error("usage: obj_interop.mjs put|get|list|info|link <server> <bucket> ...");
  const nc = await connect({ servers: server, timeout: 5000 });
  try {
    const objm = new Objm(nc);
    switch (cmd) {
      case "put": {
        const [name, file, ...hdrs] = rest;
        const os = await objm.create(bucket);
        const h = natsHeaders();
        for (const kv of hdrs) {
          const at = kv.indexOf("=");
          h.append(kv.slice(0, at), kv.slice(at + 1));
        }
        const rs = Readable.toWeb(createReadStream(file));
        const info = await os.put({ name, headers: hdrs.length ? h : undefined }, rs);
        return { ...infoJson(info), fileSize: statSync(file).size };
      }
      case "get": {
        const [name, file] = rest;
        const os = await objm.open(bucket);
        const r = await os.get(name);
        if (r === null) throw new Error(`no object ${name}`);
        const sha = createHash("sha256");
        const out = createWriteStream(file);
        let size = 0;
        for await (const chunk of r.data) {
          sha.update(chunk);
          size += chunk.length;
          if (!out.write(chunk)) await new Promise((res) => out.once("drain", res));
        }
        await new Promise((res, rej) => out.end((err) => (err ? rej(err) : res())));
        const err = await r.error;
        if (err) throw err;
        return { ...infoJson(r.info), received: size, sha256: sha.digest("hex") };
      }
      case "list": {
        const os = await objm.open(bucket);
        return (await os.list()).map(infoJson);
      }
      case "info": {
        const os = await objm.open(bucket);
        const i = await os.info(rest[0]);
        return i ? infoJson(i) : null;
      }
      case "link": {
        const [name, target] = rest;
        const os = await objm.open(bucket);
        const t = await os.info(target);
        if (!t) throw new Error(`no object ${target}`);
        return infoJson(await os.link(name, t));
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
    process.stderr.write(`obj_interop: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
