// The AWS SDK for JavaScript v3 against the gateway, driven by tests/e2e/test_js_sdk.py.
//
// Usage: node js_sdk.mjs '<json>' with {endpoint, key, secret, bucket, prefix, scenario}.
// Prints one JSON document: what each step did (lengths, sha256, the request headers the SDK
// sent for the uploads), so the Python side can check them against the backend. Exits 1 with
// the error on stderr when a step fails.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";

import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const cfg = JSON.parse(process.argv[2]);

/** Deterministic bytes: `n` bytes from a seed, so both sides can recompute them. */
function bytes(n, seed) {
  const out = Buffer.alloc(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");

/** A Readable of `buf` in `size`-byte pieces that knows no length (not a file, not a Buffer). */
function stream(buf, size = 16 * 1024) {
  let at = 0;
  return new Readable({
    read() {
      if (at >= buf.length) {
        this.push(null);
        return;
      }
      this.push(buf.subarray(at, at + size));
      at += size;
    },
  });
}

async function readAll(body) {
  const chunks = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}

const sent = [];
const client = new S3Client({
  endpoint: cfg.endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: cfg.key, secretAccessKey: cfg.secret },
  maxAttempts: 1,
});
// Records the headers of every upload as they went on the wire (after signing).
client.middlewareStack.add(
  (next, context) => async (args) => {
    const h = args.request?.headers ?? {};
    if (["PutObjectCommand", "UploadPartCommand"].includes(context.commandName)) {
      const lower = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
      sent.push({ command: context.commandName, headers: lower });
    }
    return next(args);
  },
  { step: "deserialize", priority: "low", name: "recordUploadHeaders" },
);

const { bucket, prefix } = cfg;
const out = { steps: {} };

async function step(name, fn) {
  const before = sent.length;
  try {
    const result = (await fn()) ?? {};
    result.sent = sent.slice(before);
    out.steps[name] = result;
  } catch (e) {
    const status = e.$metadata?.httpStatusCode;
    throw new Error(`${name}: ${e.name} (${status}): ${e.message}`);
  }
}

async function get(key) {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return readAll(r.Body);
}

async function full() {
  // 1. PutObject with a stream body: aws-chunked, Transfer-Encoding: chunked, CRC32 trailer,
  //    the length only in x-amz-decoded-content-length.
  const streamed = bytes(300_000, 1);
  await step("put_stream", async () => {
    const key = `${prefix}stream.bin`;
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: stream(streamed),
        ContentLength: streamed.length,
        ContentType: "application/x-test",
        Metadata: { origin: "js-sdk" },
      }),
    );
    return { key, length: streamed.length, sha256: sha256(streamed) };
  });
  // 2. An empty stream.
  await step("put_stream_empty", async () => {
    const key = `${prefix}empty.bin`;
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: stream(Buffer.alloc(0)), ContentLength: 0 }),
    );
    return { key, length: 0 };
  });
  // 3. PutObject with a Buffer (Content-Length, checksum header).
  const buffered = bytes(70_000, 2);
  await step("put_buffer", async () => {
    const key = `${prefix}buffer.bin`;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: buffered }));
    return { key, length: buffered.length, sha256: sha256(buffered) };
  });
  // 4. GetObject and HeadObject of both.
  await step("get", async () => {
    const a = await get(`${prefix}stream.bin`);
    const b = await get(`${prefix}buffer.bin`);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}stream.bin` }));
    return {
      stream_sha256: sha256(a),
      buffer_sha256: sha256(b),
      content_length: head.ContentLength,
      content_type: head.ContentType,
      content_encoding: head.ContentEncoding ?? null,
      metadata: head.Metadata,
    };
  });
  // 5. A multipart upload by lib-storage from a stream source (three parts).
  const big = bytes(12 * 1024 * 1024 + 12345, 3);
  await step("upload_multipart", async () => {
    const key = `${prefix}multipart.bin`;
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key: key, Body: stream(big, 64 * 1024) },
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
    });
    let parts = 0;
    upload.on("httpUploadProgress", (p) => {
      if (p.part) parts = Math.max(parts, p.part);
    });
    const r = await upload.done();
    return { key, length: big.length, sha256: sha256(big), parts, etag: r.ETag };
  });
  // 6. UploadPart with a stream body (aws-chunked, no Content-Length), completed.
  const partData = [bytes(5 * 1024 * 1024, 4), bytes(100_000, 5)];
  await step("upload_part_stream", async () => {
    const key = `${prefix}parts.bin`;
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const parts = [];
    for (const [i, data] of partData.entries()) {
      const r = await client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber: i + 1,
          Body: stream(data),
          ContentLength: data.length,
        }),
      );
      parts.push({ PartNumber: i + 1, ETag: r.ETag });
    }
    await client.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }),
    );
    const whole = Buffer.concat(partData);
    return { key, length: whole.length, sha256: sha256(whole) };
  });
  // 7. ListObjectsV2 under the prefix.
  await step("list", async () => {
    const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return { keys: (r.Contents ?? []).map((o) => [o.Key, o.Size]).sort() };
  });
  // 8. A presigned GET, fetched without the SDK.
  await step("presigned_get", async () => {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: `${prefix}buffer.bin` }), {
      expiresIn: 300,
    });
    const r = await fetch(url);
    const body = Buffer.from(await r.arrayBuffer());
    return { status: r.status, sha256: sha256(body) };
  });
  // 9. DeleteObject, then the key is gone.
  await step("delete", async () => {
    const key = `${prefix}buffer.bin`;
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    try {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { gone: false };
    } catch (e) {
      return { gone: e.$metadata?.httpStatusCode === 404 };
    }
  });
}

/** Only the stream uploads (PutObject and, optionally, a multipart via lib-storage): other backends. */
async function streams() {
  const streamed = bytes(200_000, 6);
  await step("put_stream", async () => {
    const key = `${prefix}stream.bin`;
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: stream(streamed), ContentLength: streamed.length }),
    );
    const back = await get(key);
    return { key, length: streamed.length, sha256: sha256(streamed), read_sha256: sha256(back) };
  });
}

/** A stream PutObject whose length the SDK does not know: no length at all reaches the gateway. */
async function noLength() {
  await step("put_stream_no_length", async () => {
    try {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}nolength.bin`, Body: stream(bytes(1000, 7)) }));
      return { ok: true };
    } catch (e) {
      return { ok: false, status: e.$metadata?.httpStatusCode ?? null, code: e.name, message: String(e.message) };
    }
  });
}

const scenarios = { full, streams, no_length: noLength };
try {
  await scenarios[cfg.scenario]();
  process.stdout.write(JSON.stringify(out));
} catch (e) {
  process.stderr.write(`${e.message}\n${JSON.stringify(out)}\n`);
  process.exit(1);
}
