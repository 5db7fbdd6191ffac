import type { StartupWait } from '../../src/core/startup-wait.js';

/** A start-up wait of `waitMs` whose log lines are kept: `lines` in order, `warnings` their warn-level messages. */
export function recordingWait(waitMs: number, pauseMs?: number): StartupWait & { lines: Array<{ level: 'warn' | 'info'; message: string }>; warnings: string[] } {
  const lines: Array<{ level: 'warn' | 'info'; message: string }> = [];
  const warnings: string[] = [];
  return {
    waitMs,
    ...(pauseMs !== undefined ? { pauseMs } : {}),
    lines,
    warnings,
    log: {
      warn: (_details, message) => {
        lines.push({ level: 'warn', message });
        warnings.push(message);
      },
      info: (_details, message) => void lines.push({ level: 'info', message }),
    },
  };
}
