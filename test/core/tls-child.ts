/**
 * Run by outbound-tls.test.ts as a process of its own, because Node reads NODE_EXTRA_CA_CERTS
 * (the test's certificate authority) only as a process starts. Builds the network and the model
 * as `npm start` does from the environment it was given (the proxy variables), asks the model
 * once, fetches one file through the dispatcher the platforms' downloads use, and prints what
 * came back as one JSON line.
 */
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { causeChain } from '../../src/core/errors.js';
import { createNetwork } from '../../src/core/network.js';
import { createModel } from '../../src/llm/index.js';
import { createLogger } from '../../src/log.js';

const [baseURL, fileUrl, apiKey] = process.argv.slice(2) as [string, string, string];
const config = loadConfig({ ...process.env, OPENAI_BASE_URL: baseURL, OPENAI_API_KEY: apiKey, OPENAI_MODEL: 'fake-model', MODEL_MAX_RETRIES: '0' });
const network = await createNetwork(config.proxy);
const model = createModel(config.model, createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) }), network);
/** The error and its causes' messages: the certificate's verdict sits a few causes down. */
const why = (err: unknown) => causeChain(err, 6).map((e) => (e instanceof Error ? e.message : String(e))).join(' <- ');
const out: Record<string, string> = {};
try {
  out.model = (await model.completeJson({ messages: [{ role: 'user', content: 'over TLS' }] })).text;
} catch (err) {
  out.modelError = why(err);
}
try {
  const res = await fetch(fileUrl, { dispatcher: network.dispatcher } as RequestInit);
  out.file = `${res.status} ${(await res.text()).slice(0, 40)}`;
} catch (err) {
  out.fileError = why(err);
}
await network.close();
process.stdout.write(`${JSON.stringify(out)}\n`);
