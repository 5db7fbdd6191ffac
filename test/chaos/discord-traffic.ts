/**
 * The chaos run's Discord traffic: DMs from a few users to the bot, sent whether or not a
 * process is connected. Discord dispatches a message over the gateway only to the processes
 * connected when it is sent and never again, so what arrives while the bot restarts is answered
 * only if the next start reads it back or has Discord replay the last session. Half the DM users
 * write first before the kills begin; the others' first DM may come while no process listens,
 * which only the replay finds (no REST call lists a bot's DMs). A third of the messages mention
 * the bot in server channels it has not talked in when the traffic starts (each its own server,
 * made before charbridge first connects): a channel's first message may come while no process
 * listens. The reply to `message dc12` reads `re: dc12`.
 */
import type { FakeDiscord } from '../fakes/discord.js';
import { overtakesIn, type Answered, type Overtake } from './order.js';

export interface DiscordTurn {
  token: string;
  channel: string;
  /** Where it was sent: a server channel, a DM, or the first message of a DM. */
  where: 'server' | 'DM' | 'first DM';
  /** When it was sent (ms since the epoch). */
  at: number;
  /** Discord's id of the message: what charbridge's logs name it by. */
  messageId: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class DiscordTraffic {
  readonly turns: DiscordTurn[] = [];
  private readonly channels = new Set<string>();
  private readonly serverChannels: string[];
  /** Users added by `firstDm`, and the messages it sent (beside the traffic's count). */
  private newcomers = 0;
  extra = 0;

  /** Call before charbridge first connects, so its servers are listed to it. */
  constructor(
    private readonly fake: FakeDiscord,
    private readonly users: number,
    servers: number,
  ) {
    this.serverChannels = Array.from({ length: servers }, () => fake.addGuild().channelId);
  }

  /** One message in each of the first half of the DMs, each answered, before the traffic starts. */
  async open(timeoutMs = 60_000): Promise<void> {
    for (let n = 0; n < Math.ceil(this.users / 2); n++) {
      const m = this.fake.userMessage({ author: user(n), content: `message dcopen${n}` });
      this.channels.add(m.channel_id as string);
    }
    const deadline = Date.now() + timeoutMs;
    while (![...this.channels].every((c) => this.fake.channelMessages(c).length > 0)) {
      if (Date.now() > deadline) throw new Error('chaos: the Discord DMs were not answered before the traffic started');
      await sleep(100);
    }
  }

  send(rnd: () => number, i: number): DiscordTurn {
    const n = Math.floor(rnd() * this.users);
    const server = rnd() < 1 / 3 ? this.serverChannels[Math.floor(rnd() * this.serverChannels.length)] : undefined;
    const m = server
      ? this.fake.userMessage({ author: user(n), channelId: server, content: `message dc${i}`, mentionsBot: true })
      : this.fake.userMessage({ author: user(n), content: `message dc${i}` });
    const channel = m.channel_id as string;
    const where = server ? 'server' : this.channels.has(channel) ? 'DM' : 'first DM';
    if (!server) this.channels.add(channel);
    const turn = { token: `dc${i}`, channel, where, at: Date.now(), messageId: String(m.id) } as const;
    this.turns.push(turn);
    return turn;
  }

  /**
   * A DM from someone who never wrote before (`--all-down`: sent while no process listens, so
   * only a replayed gateway session finds it), then `again` from the same user: the two must be
   * answered in order. Tokens from 900000 up, apart from the traffic's.
   */
  firstDm(again = false, n = this.users + this.newcomers++): { user: number; turn: DiscordTurn } {
    const token = `dc${900_000 + this.extra++}`;
    const m = this.fake.userMessage({ author: user(n), content: `message ${token}` });
    const channel = m.channel_id as string;
    const turn = { token, channel, where: this.channels.has(channel) || again ? 'DM' : 'first DM', at: Date.now(), messageId: String(m.id) } as const;
    this.channels.add(channel);
    this.turns.push(turn);
    return { user: n, turn };
  }

  /** The bot's messages so far (for the quiet period). */
  replies(): number {
    return [...this.channels, ...this.serverChannels].reduce((n, c) => n + this.fake.channelMessages(c).length, 0);
  }

  /** Every message sent counts: lost when no bot message answers it (named with where it was sent), duplicated when more than one does. */
  findings(): { lost: string[]; lostTurns: DiscordTurn[]; duplicated: string[]; order: Overtake[] } {
    const answers = new Map<string, number>();
    // Each channel's messages in the order they were sent, with the position of the first bot
    // message that answers each among the channel's bot messages.
    const chats = new Map<string, Answered[]>();
    for (const c of [...this.channels, ...this.serverChannels]) {
      const position = new Map<string, number>();
      this.fake.channelMessages(c).forEach((m, i) => {
        const token = /re: (dc\d+)/.exec(m.content ?? '')?.[1];
        if (!token) return;
        answers.set(token, (answers.get(token) ?? 0) + 1);
        if (!position.has(token)) position.set(token, i);
      });
      chats.set(c, this.turns.filter((t) => t.channel === c && position.has(t.token)).map((t) => ({ token: t.token, shown: position.get(t.token)! })));
    }
    return {
      order: overtakesIn(chats),
      lost: this.turns.filter((t) => !answers.has(t.token)).map((t) => `${t.token} (${t.where})`),
      lostTurns: this.turns.filter((t) => !answers.has(t.token)),
      duplicated: [...answers].filter(([, n]) => n > 1).map(([t]) => t),
    };
  }
}

function user(n: number) {
  return { id: `7${String(n).padStart(17, '0')}`, username: `chaos${n}` };
}
