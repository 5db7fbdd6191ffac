/**
 * The behaviour every platform adapter owes its users, written once: a platform passes or fails
 * it through its driver (driver.ts), it does not re-invent it. Each test gets a fresh world, so
 * no test sees another's conversations.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeKey, encodeKey } from '../../../src/core/conversation-key.js';
import { CLEARED_TEXT } from '../../../src/engine/index.js';
import { seen } from '../../helpers/harness.js';
import type { ContractWorld, PlatformDriver, Sent } from './driver.js';

const sentences = (n: number) => Array.from({ length: n }, (_, i) => `Sentence ${i} of a long answer goes on for a while.`).join(' ');
const squash = (s: string) => s.replace(/\s+/g, ' ').trim();
/** What the model was shown, without the system prompt. */
const turns = (w: ContractWorld) => seen(w.model).filter((l) => !l.startsWith('system:'));

export function adapterContract(driver: PlatformDriver): void {
  describe(`${driver.platform} adapter contract`, () => {
    let w: ContractWorld | undefined;
    const world = async () => (w = await driver.start());
    afterEach(async () => {
      await w?.close();
      w = undefined;
    });

    it('answers a DM with the model reply, and reports itself connected, its mode, the event and the send', async () => {
      const w = await world();
      expect(w.adapter.status()).toMatchObject({ platform: driver.platform, connected: true, mode: driver.mode, lastEventAt: null, sent: 0 });
      const dm = w.place('dm');
      await w.say(dm, 'hello there');
      await w.idle();
      expect(w.texts(dm)).toEqual(['Echo: hello there']);
      expect(turns(w)).toEqual(['user: hello there']);
      const status = w.adapter.status();
      expect(status.lastEventAt).not.toBeNull();
      expect(status.sent).toBeGreaterThanOrEqual(1);
      expect(status).toMatchObject({ inFlight: 0, rateLimited: 0, lastError: null });
      await w.adapter.stop();
      expect(w.adapter.status().connected).toBe(false);
    });

    it('in a group: ignores a message not addressed to it, answers a mention (mention stripped)', async () => {
      const w = await world();
      const group = w.place('group');
      await w.say(group, 'just chatting among ourselves', { addressed: false });
      await w.say(group, 'how are you?');
      await w.idle();
      expect(w.texts(group)).toEqual([`Echo: ${w.userName}: how are you?`]);
      expect(w.model.requests).toHaveLength(1);
      expect(turns(w).join('\n')).not.toContain('among ourselves');
    });

    it('keeps a thread as its own conversation and answers inside it', async () => {
      const w = await world();
      const group = w.place('group');
      const thread = w.place('thread');
      await w.say(group, 'the password is swordfish');
      await w.idle();
      const inThread = await w.say(thread, 'what is the password?');
      await w.idle();
      expect(w.texts(thread)).toEqual([`Echo: ${w.userName}: what is the password?`]);
      expect(turns(w)).toEqual([`user: ${w.userName}: what is the password?`]);
      expect(await w.conversation(encodeKey(w.keyOf(inThread)))).toMatchObject({ chatType: 'thread' });
    });

    it('/clear: the model no longer sees earlier turns', async () => {
      const w = await world();
      const dm = w.place('dm');
      await w.say(dm, 'remember the word swordfish');
      await w.idle();
      expect(await w.command(dm, 'clear')).toBe(CLEARED_TEXT);
      await w.say(dm, 'what was the word?');
      await w.idle();
      expect(turns(w)).toEqual(['user: what was the word?']);
    });

    it('answers an event the platform delivers twice only once', async () => {
      const w = await world();
      const dm = w.place('dm');
      const once = await w.say(dm, 'only once please');
      await w.idle();
      await w.redeliver(once);
      await w.idle();
      expect(w.texts(dm)).toEqual(['Echo: only once please']);
      expect(w.model.requests).toHaveLength(1);
    });

    it('waits out a 429 and still lands the whole reply, counting it in its status', async () => {
      const w = await world();
      const dm = w.place('dm');
      w.rateLimitNext();
      await w.say(dm, 'despite the limit');
      await w.idle();
      expect(w.texts(dm)).toEqual(['Echo: despite the limit']);
      expect(w.tooManyRequests).toBeGreaterThanOrEqual(1);
      expect(w.adapter.status().rateLimited).toBeGreaterThanOrEqual(1);
    });

    it('splits a reply longer than one message into several, holding the whole text', async () => {
      const w = await world();
      const dm = w.place('dm');
      let reply = sentences(200);
      reply = reply.slice(0, reply.lastIndexOf('.', Math.floor(w.maxMessageLength * 2.2)) + 1);
      w.model.respondWith(reply);
      await w.say(dm, 'tell me everything');
      await w.idle();
      const parts = w.texts(dm);
      expect(parts.length).toBeGreaterThanOrEqual(3);
      for (const p of parts) expect(p.length).toBeLessThanOrEqual(w.maxMessageLength);
      expect(squash(parts.join(' '))).toBe(squash(reply));
    });

    it('delivers a proactive message to a stored DM and thread conversation through the key codec', async () => {
      const w = await world();
      const dm = w.place('dm');
      const thread = w.place('thread');
      const inDm = await w.say(dm, 'hi');
      const inThread = await w.say(thread, 'hi all');
      await w.idle();
      for (const [sent, text] of [[inDm, 'Thinking of you.'], [inThread, 'News for the thread.']] as const) {
        const stored = await w.conversation(encodeKey(w.keyOf(sent)));
        expect(stored?.scopeKey).toBeDefined();
        await w.adapter.deliver({ key: decodeKey(stored!.scopeKey!), text, characterName: 'Aria' });
        expect(w.texts(sent.place).at(-1)).toBe(text);
      }
    });

    it('announces a proactive message right before its first call, in its turn in the chat’s budget, and sends nothing when refused', async () => {
      const w = await world();
      const dm = w.place('dm');
      const sent = await w.say(dm, 'hi');
      await w.idle();
      const key = decodeKey((await w.conversation(encodeKey(w.keyOf(sent))))!.scopeKey!);
      const shownAtCall: string[][] = [];
      const announce = async () => void shownAtCall.push(w.texts(dm));
      // Queued together: the second waits for the first's call in the chat's queue, and is announced only then.
      await Promise.all(['First thought.', 'Second thought.'].map((text) => w.adapter.deliver({ key, text, characterName: 'Aria', beforeFirstCall: announce })));
      expect(shownAtCall).toEqual([['Echo: hi'], ['Echo: hi', 'First thought.']]);
      const refused = w.adapter.deliver({ key, text: 'Never shown.', characterName: 'Aria', beforeFirstCall: () => Promise.reject(new Error('taken back')) });
      await expect(refused).rejects.toThrow('taken back');
      await w.idle();
      expect(w.texts(dm)).toEqual(['Echo: hi', 'First thought.', 'Second thought.']);
    });

    it('key codec: the key the engine stored for a DM, group and thread decodes to its target and encodes back unchanged', async () => {
      const w = await world();
      const sent: Sent[] = [];
      for (const kind of ['dm', 'group', 'thread'] as const) sent.push(await w.say(w.place(kind), `hello from a ${kind}`));
      await w.idle();
      const { keys } = w.adapter;
      for (const s of sent) {
        const key = encodeKey(w.keyOf(s));
        expect(await w.conversation(key), key).toBeDefined(); // the engine stored it under this key
        const target = keys.decode(decodeKey(key));
        expect(target, key).toEqual(w.targetOf(s));
        expect(encodeKey(keys.encode(target))).toBe(key);
        const perUser = { ...decodeKey(key), userId: 'U42' }; // per-user scope inside a shared chat
        expect(keys.encode(keys.decode(perUser))).toEqual(perUser);
      }
      expect(() => keys.decode({ platform: 'api', chatId: 'x' })).toThrow(/Cannot address conversation \(api x\)/);
    });
  });
}
