import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { root } from '../bench/bot-process.js';

export interface ProxyReport {
  /** `CONNECT`, a forwarded request's method, or `SOCKS` (a relay to `target`, host:port). */
  /** `firstLine`: a SOCKS relay's first request line (a forward proxy's `CONNECT` is its tunnel). */
  seen: Array<{ method: string; target: string; auth: boolean; firstLine?: string | undefined }>;
  connections: number;
}

/** Start ./proxy-child.ts (an HTTP forward proxy, or a SOCKS5 relay); `stop()` ends it and returns what it carried. */
export async function startProxyProcess(credentials: string, kind: 'http' | 'socks'): Promise<{ url: string; stop(): Promise<ProxyReport> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test', 'chaos', 'proxy-child.ts'), credentials, kind], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('chaos: the proxy process exited before it listened');
  const { url } = JSON.parse(first.value) as { url: string };
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      const report = await lines.next();
      if (report.done) throw new Error('chaos: the proxy process exited without its report');
      return JSON.parse(report.value) as ProxyReport;
    },
  };
}
