/**
 * A cluster of one in-process survivor and one victim instance in a process of its own, for
 * tests that kill -9 an instance mid-turn: while the victim lives, its model calls for messages
 * `parks` picks never answer; once it is killed, every call answers `re: <the user's text>`.
 */
import { contentText } from '../fakes/openai.js';
import { startCluster, type Cluster } from './cluster-world.js';
import { startChildInstance, type ChildInstance } from './child-instance.js';

export interface Victim {
  c: Cluster;
  /** The victim's process (the cluster's instance 0 is the survivor). */
  child: ChildInstance;
  /** Model calls parked on the victim so far. */
  parked(): number;
  /** SIGKILL the victim; from now on every model call answers. */
  kill(): Promise<void>;
  close(): Promise<void>;
}

export async function startVictim(parks: (text: string) => boolean, env: Record<string, string> = {}): Promise<Victim> {
  const c = await startCluster(1, env);
  let dead = false;
  let parked = 0;
  c.openai.respondWith(async ({ messages }) => {
    const last = contentText(messages.filter((m: any) => m.role === 'user').at(-1)?.content ?? '');
    if (parks(last) && !dead) {
      parked++;
      await new Promise(() => undefined);
    }
    return `re: ${last}`;
  });
  let child: ChildInstance;
  try {
    child = await startChildInstance(c.env);
  } catch (err) {
    await c.close();
    throw err;
  }
  return {
    c,
    child,
    parked: () => parked,
    kill: async () => {
      dead = true;
      await child.kill();
    },
    close: async () => {
      await child.kill();
      await c.close();
    },
  };
}
