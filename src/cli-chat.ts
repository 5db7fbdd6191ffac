import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import type { Config } from './config.js';
import { systemClock } from './core/clock.js';
import { encodeKey } from './core/conversation-key.js';
import { createNetwork } from './core/network.js';
import type { InboundMessage } from './core/types.js';
import { chatKeyFor, conversationKeyFor } from './engine/index.js';
import { setUpEngine } from './engine-setup.js';
import { createLogger } from './log.js';

/** Where the terminal chat reads and writes; tests pass streams, a pseudo terminal sets `terminal`. */
export interface ChatIO {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Show prompts and edit lines (a person at a terminal); default: whether `output` is a TTY. */
  terminal?: boolean;
}

const EXIT = new Set(['/exit', '/quit']);

/** The operator's own DM chat: one per OS user, so it continues where it left off. */
function operatorChat(): { chatId: string; userName: string } {
  let name = 'operator';
  try {
    name = userInfo().username || name;
  } catch {
    // no passwd entry (some containers)
  }
  return { chatId: `cli/${name}`, userName: name };
}

/**
 * `npm run cli -- chat [character]`: talk to a character from the terminal through the same
 * engine the platforms use — the same prompt, context window, memory and commands (`/clear`,
 * `/character`, `/help`, `/status`) — with the reply printed as it streams in. The chat is a DM
 * of the operator (an admin), kept in the database like any conversation (platform `api`,
 * visible to the admin key). Works with the offline model and with a configured one.
 */
export async function runChat(config: Config, args: string[], io: ChatIO): Promise<number> {
  const write = (text: string) => void io.output.write(text);
  const terminal = io.terminal ?? (io.output as { isTTY?: boolean }).isTTY === true;
  const log = createLogger({ level: 'error', format: 'pretty', destination: process.stderr });
  const network = await createNetwork(config.proxy);
  const { store, engine, model, memory } = await setUpEngine(config, { log, clock: systemClock, network });
  try {
    const wanted = args.join(' ').trim();
    if (wanted && !(await store.characters.findByName(wanted))) {
      const names = (await store.characters.listShared(50)).map((c) => c.slug).join(', ');
      write(`No character called "${wanted}". Try one of: ${names}\n`);
      return 64;
    }
    const { chatId, userName } = operatorChat();
    let seq = 0;
    const message = (text: string): InboundMessage => ({
      platform: 'api', eventId: `cli-${randomUUID()}`, chatId, chatType: 'dm', userId: chatId, userName, messageId: String(++seq),
      text, imageUrls: [], mentioned: true, repliedToBot: false, senderIsAdmin: true,
    });
    const send = async (text: string) => {
      let streamed = false;
      for await (const e of engine.handle(message(text))) {
        if (e.type === 'start') write(`${e.characterName} › `);
        else if (e.type === 'delta') {
          streamed = true;
          write(e.text);
        } else if (e.type === 'done') write(streamed ? '\n' : `${e.message.content}\n`);
        else if (e.type === 'notice') write(`${e.text}\n`);
        else if (e.type === 'error') write(`${streamed ? '\n' : ''}${e.text}\n`);
      }
    };

    if (wanted) await send(`/character ${wanted}`);
    const probe = message('');
    const conv = await store.conversations.getOrCreateByScope(encodeKey(conversationKeyFor(probe, await store.settings.getChat(chatKeyFor(probe)))), { platform: 'api', chatType: 'dm' });
    const character = await engine.characterOf(conv);
    write(`Chatting with ${character.name}. `);
    write(model.offline ? 'Model: the built-in OFFLINE model — it only echoes; set OPENAI_API_KEY or OPENAI_BASE_URL for real replies.\n' : `Model: ${model.label}.\n`);
    write('Commands: /help, /clear, /character [name], /status; /exit or Ctrl-D to leave.\n');

    const rl = createInterface({ input: io.input, ...(terminal ? { output: io.output } : {}), terminal, prompt: 'you › ' });
    rl.on('SIGINT', () => rl.close());
    if (terminal) rl.prompt();
    for await (const raw of rl) {
      const line = raw.trim();
      if (EXIT.has(line.toLowerCase())) break;
      if (line) await send(line);
      if (terminal) rl.prompt();
    }
    rl.close();
    return 0;
  } finally {
    await engine.drain(5000);
    await memory.stop(5000);
    await store.close();
    await network.close();
  }
}
