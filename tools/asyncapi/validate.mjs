// Parses AsyncAPI documents with the AsyncAPI Initiative's parser (@asyncapi/parser, pinned in
// package-lock.json) and reports its diagnostics as JSON on stdout: one entry per document with
// its errors and warnings. Exit status 0 when no document has an error, 1 otherwise, 2 on bad usage.
//
//   node validate.mjs [--map URL=FILE ...] DOCUMENT...
//
// Remote `$ref`s are never fetched: a reference whose URL (without fragment) was given with --map is
// read from that local file, any other http(s) reference is an error naming it. So the check needs
// no network and cannot pass on a schema nobody looked at.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Parser, fromFile } from '@asyncapi/parser';

const SEVERITY = ['error', 'warning', 'info', 'hint'];

function usage(message) {
  process.stderr.write(`${message}\nusage: node validate.mjs [--map URL=FILE ...] DOCUMENT...\n`);
  process.exit(2);
}

const localCopies = new Map();
const documents = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--map') {
    const pair = args[i + 1] ?? '';
    const at = pair.indexOf('=');
    if (at <= 0) usage(`--map needs URL=FILE, got ${JSON.stringify(pair)}`);
    localCopies.set(pair.slice(0, at), resolve(pair.slice(at + 1)));
    i += 1;
  } else {
    documents.push(resolve(args[i]));
  }
}
if (documents.length === 0) usage('no document given');

const unmapped = new Set();

function remoteResolver(schema) {
  return {
    schema,
    order: 1,
    canRead: true,
    read: async (uri) => {
      const url = uri.clone().fragment('').toString();
      const file = localCopies.get(url);
      if (file === undefined) {
        unmapped.add(url);
        throw new Error(`remote reference ${url} has no local copy (give one with --map)`);
      }
      return readFile(file, 'utf8');
    },
  };
}

const parser = new Parser({
  __unstable: { resolver: { resolvers: [remoteResolver('https'), remoteResolver('http')] } },
});

const report = [];
for (const path of documents) {
  const { document, diagnostics } = await fromFile(parser, path).parse();
  const describe = (d) => ({
    code: String(d.code),
    message: d.message,
    path: (d.path ?? []).join('/'),
  });
  report.push({
    document: path,
    parsed: document !== undefined,
    version: document?.version() ?? null,
    errors: diagnostics.filter((d) => d.severity === 0).map(describe),
    warnings: diagnostics.filter((d) => d.severity === 1).map(describe),
  });
}
report.push({ unmappedRemoteReferences: [...unmapped] });
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(report.some((entry) => entry.errors?.length > 0 || entry.parsed === false) ? 1 : 0);
