import type { AdminKey } from './admin-key.js';

/** What the start-up banner tells an operator. */
export interface BannerInfo {
  /** Where the HTTP server answers, e.g. http://localhost:3000. */
  url: string;
  adminKey: AdminKey;
  model: { label: string; offline: boolean };
  /** Each running platform adapter and how it receives. */
  platforms: Array<{ platform: string; mode: string }>;
  /** Variables set for charbridge that it ignores (a typo, most likely), each as one sentence. */
  ignored?: string[];
}

/** The settings a new operator most likely wants next, given what is running. */
export function nextSteps(info: BannerInfo): string[] {
  const steps: string[] = (info.ignored ?? []).map((line) => `Fix .env or the environment: ${line}`);
  if (info.model.offline) steps.push('Set OPENAI_API_KEY (or OPENAI_BASE_URL for Ollama, vLLM…) in .env for real replies.');
  if (!info.platforms.length) steps.push('Set TELEGRAM_BOT_TOKEN, DISCORD_TOKEN or SLACK_BOT_TOKEN to bring a character into a chat.');
  steps.push('Chat from this terminal: npm run cli -- chat');
  return steps;
}

/** Where the admin key is, in words; the key itself only on the start that created it. */
export function describeAdminKey(k: AdminKey): string {
  switch (k.origin) {
    case 'env':
      return 'from ADMIN_API_KEY';
    case 'memory':
      return `${k.key} (in memory only, like the :memory: database)`;
    case 'created':
      return `${k.key}\n                saved to ${k.file} (mode 0600); shown only this once`;
    case 'file':
      return `in ${k.file}`;
  }
}

/**
 * The short human banner printed when the server is ready: the console URL, where the admin key
 * is, which model and platforms are active, and what to set next. Only on the start that
 * generated the admin key does it contain the key.
 */
export function renderBanner(info: BannerInfo): string {
  const model = info.model.offline ? 'built-in OFFLINE model (it only echoes; no AI)' : info.model.label;
  const platforms = info.platforms.length ? info.platforms.map((p) => `${p.platform} (${p.mode})`).join(', ') : 'none — HTTP API and console only';
  const lines = [
    '',
    '  charbridge is ready',
    '',
    `  Console       ${info.url}/console/`,
    `  Admin key     ${describeAdminKey(info.adminKey)}`,
    `  Model         ${model}`,
    `  Platforms     ${platforms}`,
    '',
    '  Next:',
    ...nextSteps(info).map((s) => `    • ${s}`),
    '',
  ];
  return `${lines.join('\n')}\n`;
}

/** The banner's facts as log fields, for JSON logs: never the key. */
export function bannerFields(info: BannerInfo): Record<string, unknown> {
  return {
    console: `${info.url}/console/`,
    adminKey: info.adminKey.origin === 'env' ? 'ADMIN_API_KEY' : info.adminKey.origin === 'memory' ? 'memory' : info.adminKey.file,
    adminKeyCreated: info.adminKey.origin === 'created',
    model: info.model.offline ? 'offline' : info.model.label,
    platforms: info.platforms.map((p) => `${p.platform}:${p.mode}`),
    next: nextSteps(info),
  };
}
