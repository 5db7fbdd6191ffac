import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { ConflictError, StoreUnavailableError } from '../core/errors.js';
import { retriedInBackground } from '../core/retry.js';
import type { Logger } from '../log.js';
import type { Bus } from '../coord/index.js';
import type { PendingClaim, Store } from '../store/index.js';

/** A turn answered by the one request that may not come back: what its retry is told. */
export interface AnsweredTurn {
  sessionId: string;
  message: { id: string; content: string; sentAt: string };
  credits: { used: number; remaining: number | null };
}

/** What became of the API turn of a request whose instance died. */
export type OrphanedTurn = { state: 'running' } | { state: 'answered'; reply: AnsweredTurn } | { state: 'gone' };

/** How the gate learns whether a pending key's owner lives, and what became of its turn. */
export interface IdempotencyRunner {
  instanceId: string;
  deadAfterMs: number;
  /** A turn id for a new request. */
  newTurnId(): string;
  /** The turn a dead instance started for a pending key. */
  inspect(turnId: string): Promise<OrphanedTurn>;
}

interface Finish<T> {
  /** Store the successful response, to be replayed for 24 h. */
  complete(status: number, response: T): Promise<void>;
  /** The request failed: forget the key so a retry runs for real. */
  release(): Promise<void>;
}

/** The outcome of claiming an Idempotency-Key. */
export type IdempotencyClaim<T> =
  | { kind: 'replay'; status: number; response: T }
  /** Run the request (as API turn `turnId` when set), then `complete` or `release`. */
  | ({ kind: 'new'; turnId?: string } & Finish<T>)
  /**
   * The instance running the first request died after its turn was answered (another instance
   * finished it): the retry gets that answer, rendered and stored with `complete`.
   */
  | ({ kind: 'answered'; reply: AnsweredTurn } & Finish<T>);

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` hash the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Fingerprint of a request: the endpoint plus its canonical body. */
export function requestHash(endpoint: string, body: unknown): string {
  return createHash('sha256').update(`${endpoint}\n${canonical(body)}`).digest('hex');
}

/**
 * Idempotency-Key handling shared by every chat endpoint. The first request claims the key; a
 * repeat with the same body gets the stored response (no second model call, no second charge);
 * another body is a 409. A repeat that arrives while the first is still running in this process
 * waits for it and then replays. One running in another instance is waited for too when the
 * instances share a bus (they announce every finished key), for up to `waitMs`; without one, or
 * after that, it is a 409 until it finishes. When that instance died (`runner` knows how to
 * tell), its turn decides: answered (by the instance that recovered it) → that answer; still
 * being recovered → as if running; never started or failed → the key is taken over and the
 * request runs anew.
 */
export class IdempotencyGate {
  private readonly running = new Map<string, Promise<void>>();
  private readonly remoteWaiters = new Map<string, Set<() => void>>();

  private readonly shared: { bus: Bus; waitMs: number } | undefined;
  private readonly runner: IdempotencyRunner | undefined;
  private readonly track: ((p: Promise<unknown>) => void) | undefined;
  private readonly owe: ((key: string, write: () => Promise<unknown>) => void) | undefined;
  private readonly log: Logger | undefined;

  constructor(
    private store: Store,
    private clock: Clock,
    opts: {
      shared?: { bus: Bus; waitMs: number };
      runner?: IdempotencyRunner;
      /** Keeps writes that outlive their request (tried again after a dropped connection) until they land. */
      track?: (p: Promise<unknown>) => void;
      /** Takes a write still failing after its background tries, to try again until the database is back (`Engine.owe`). */
      owe?: (key: string, write: () => Promise<unknown>) => void;
      log?: Logger;
    } = {},
  ) {
    const shared = (this.shared = opts.shared);
    this.runner = opts.runner;
    this.track = opts.track;
    this.owe = opts.owe;
    this.log = opts.log;
    shared?.bus.subscribe('idempotency-done', (slot) => {
      for (const wake of this.remoteWaiters.get(slot) ?? []) wake();
    });
  }

  /** Wait until another instance announces `slot` finished, or `ms` pass; true when it did. */
  private waitRemote(slot: string, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const set = this.remoteWaiters.get(slot) ?? new Set<() => void>();
      this.remoteWaiters.set(slot, set);
      const finish = (v: boolean) => {
        clearTimeout(timer);
        set.delete(wake);
        if (!set.size) this.remoteWaiters.delete(slot);
        resolve(v);
      };
      const wake = () => finish(true);
      const timer = setTimeout(() => finish(false), ms);
      set.add(wake);
    });
  }

  /**
   * `write` tried again for about a minute and a half, then `after`. Still failing (a longer
   * outage), it is owed: tried again with every heartbeat until the database is back, since a
   * key left pending answers its retries with 409 until its lease runs out (10 minutes).
   */
  private inBackground(slot: string, write: () => Promise<void>, what: string, after: () => void): void {
    const failed = (err: unknown) =>
      this.log?.error({ err }, `could not ${what} an Idempotency-Key; ${this.owe ? 'trying again with each heartbeat (a retry with it gets 409 until then)' : 'a retry with it may get 409 for up to 10 minutes'}`);
    const p = retriedInBackground(write, failed)
      .then((landed) => void (landed || this.owe?.(`idempotency:${slot}`, write)))
      .finally(after);
    this.track ? this.track(p) : void p;
  }

  private announce(slot: string): void {
    this.shared?.bus.publish('idempotency-done', slot);
  }

  async claim<T>(ownerId: string, key: string, hash: string): Promise<IdempotencyClaim<T>> {
    const slot = `${ownerId}\n${key}`;
    const waitUntil = this.clock.now() + (this.shared?.waitMs ?? 0);
    for (;;) {
      const inProcess = this.running.get(slot);
      if (inProcess) {
        await inProcess;
        continue;
      }
      // Hold the slot before touching the store, so a concurrent repeat waits instead of racing.
      let settle!: () => void;
      this.running.set(slot, new Promise<void>((res) => (settle = res)));
      const done = () => {
        this.running.delete(slot);
        settle();
      };
      const runner = this.runner;
      const owner = runner && { instanceId: runner.instanceId, deadAfterMs: runner.deadAfterMs, turnId: runner.newTurnId() };
      const now = this.clock.now();
      /** The pending claim this request makes (by `begin` or `takeOver`), or answers for. */
      let mine: PendingClaim = { createdAt: now, turnId: owner?.turnId ?? null };
      let r: Awaited<ReturnType<Store['idempotency']['begin']>>;
      let taken = false;
      let answered: AnsweredTurn | undefined;
      try {
        r = await this.store.idempotency.begin(ownerId, key, hash, now, owner);
        if (r.state === 'orphaned' && runner && owner) {
          // Its instance died: what became of its turn decides.
          const turn = r.turnId ? await runner.inspect(r.turnId) : ({ state: 'gone' } as const);
          if (turn.state === 'answered') {
            answered = turn.reply;
            mine = { createdAt: r.createdAt, turnId: r.turnId };
          } else if (turn.state === 'gone') taken = await this.store.idempotency.takeOver(ownerId, key, r, owner, now);
          if (turn.state === 'running') r = { state: 'pending' };
        }
      } catch (err) {
        // The caller is told this failed, yet the connection may have dropped as the claim
        // committed: left, it would answer this key's retries with 409 for minutes.
        if (err instanceof StoreUnavailableError) this.inBackground(slot, () => this.store.idempotency.release(ownerId, key, mine), 'forget', done);
        else done();
        throw err;
      }
      // Neither fails the request: the response stands whether or not its record landed at once.
      // Until it lands, a repeat in this process waits for it (the slot stays held).
      const record = async (write: () => Promise<void>, what: string) => {
        try {
          await write();
          done();
        } catch {
          this.inBackground(slot, write, what, done);
        } finally {
          this.announce(slot);
        }
      };
      const finish: Finish<T> = {
        complete: (status, response) => record(() => this.store.idempotency.complete(ownerId, key, status, response), 'store the response of'),
        release: () => record(() => this.store.idempotency.release(ownerId, key, mine), 'forget'),
      };
      if (answered) return { kind: 'answered', reply: answered, ...finish };
      if (taken) return { kind: 'new', turnId: owner!.turnId, ...finish };
      if (r.state !== 'new') done();
      if (r.state === 'orphaned') continue; // another instance took it over first: look again
      if (r.state === 'mismatch') {
        throw new ConflictError('This Idempotency-Key was already used with a different request body', 'IDEMPOTENCY_KEY_REUSED');
      }
      if (r.state === 'pending') {
        const left = waitUntil - this.clock.now();
        // Re-asked at least every second: a finish announced just before we listened is not waited out.
        if (left > 0) {
          await this.waitRemote(slot, Math.min(left, 1000));
          continue;
        }
        throw new ConflictError('A request with this Idempotency-Key is still being processed; retry shortly', 'IDEMPOTENCY_KEY_IN_USE');
      }
      if (r.state === 'replay') return { kind: 'replay', status: r.status, response: r.response as T };
      return { kind: 'new', ...(owner ? { turnId: owner.turnId } : {}), ...finish };
    }
  }
}
