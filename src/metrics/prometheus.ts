import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AdapterStatus } from '../core/adapter.js';
import type { TurnFinishedEvent } from '../engine/index.js';
import type { ModelCallEvent } from '../llm/observed.js';
import type { ProactiveDeliveryEvent } from '../scheduler/index.js';
import type { WebhookOutcome } from '../services/webhooks.js';

/** What is read when Prometheus scrapes, rather than counted as it happens. */
export interface MetricsSources {
  /** The running adapters' live states (connection, 429s, sends, the outbound line). */
  adapters(): readonly AdapterStatus[];
  /** Platform events claimed and not finished (the inbox backlog). */
  inboxBacklog(): Promise<number>;
  /** Turns in flight and model calls running and waiting. */
  engine(): { inFlight: number; modelActive: number; modelQueued: number };
}

const LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120];
const FIRST_TOKEN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30];
/**
 * Distinct `model` label values kept before new ones are counted as `other`: characters may name
 * any model (tenants' too), and every label value is a time series Prometheus keeps.
 */
const MAX_MODEL_LABELS = 32;
/** Outcomes whose turn reached the model: their duration is a turn's latency. */
const MODEL_TURNS = new Set(['replied', 'discarded', 'model_error']);

/**
 * charbridge's metrics in Prometheus' text format, over prom-client (the only file importing
 * it). Events are counted as they happen through the narrow hooks the runtime subscribes
 * (`turn`, `modelCall`, `webhook`, `proactive`); adapter states, the outbound line, the inbox
 * backlog and the engine's load are read from `sources` at scrape time, so nothing else keeps a
 * metrics object. Node's default process metrics come along.
 */
export class Metrics {
  private readonly registry = new Registry();
  private readonly turns: Counter<'platform' | 'outcome'>;
  private readonly turnSeconds: Histogram<'platform'>;
  private readonly modelSeconds: Histogram<'model'>;
  private readonly firstTokenSeconds: Histogram<'model'>;
  private readonly modelErrors: Counter<'kind'>;
  private readonly tokens: Counter<'model' | 'type'>;
  private readonly credits: Counter<'platform'>;
  private readonly webhooks: Counter<'outcome'>;
  private readonly proactiveDeliveries: Counter<'platform' | 'outcome'>;
  private readonly models = new Set<string>();

  constructor(sources: MetricsSources, opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.turns = new Counter({ name: 'charbridge_turns_total', help: 'Finished turns by platform and outcome (replied, discarded, model_error, refused, skipped, failed)', labelNames: ['platform', 'outcome'], registers });
    this.turnSeconds = new Histogram({ name: 'charbridge_turn_duration_seconds', help: 'Turns that reached the model, from arrival (queueing included) to the stored reply', labelNames: ['platform'], buckets: LATENCY_BUCKETS, registers });
    this.modelSeconds = new Histogram({ name: 'charbridge_model_duration_seconds', help: 'Model calls, start to last chunk (SDK retries included)', labelNames: ['model'], buckets: LATENCY_BUCKETS, registers });
    this.firstTokenSeconds = new Histogram({ name: 'charbridge_model_first_token_seconds', help: 'Model calls, start to the first text', labelNames: ['model'], buckets: FIRST_TOKEN_BUCKETS, registers });
    this.modelErrors = new Counter({ name: 'charbridge_model_errors_total', help: 'Failed model calls by kind (rate_limited, server_error, client_error, timeout, unreachable, aborted, empty, other)', labelNames: ['kind'], registers });
    this.tokens = new Counter({ name: 'charbridge_tokens_total', help: 'Tokens of replies, by model and type (prompt, completion)', labelNames: ['model', 'type'], registers });
    this.credits = new Counter({ name: 'charbridge_credits_total', help: 'Credits charged to API keys', labelNames: ['platform'], registers });
    this.webhooks = new Counter({ name: 'charbridge_webhook_deliveries_total', help: 'Webhook delivery attempts by outcome (delivered, retrying, failed, dropped)', labelNames: ['outcome'], registers });
    this.proactiveDeliveries = new Counter({ name: 'charbridge_proactive_deliveries_total', help: 'Proactive message deliveries by platform and outcome (delivered, retrying, failed)', labelNames: ['platform', 'outcome'], registers });

    const adapterGauge = (name: string, help: string, pick: (s: AdapterStatus) => number) =>
      new Gauge({
        name, help, labelNames: ['platform'], registers,
        collect() {
          this.reset();
          for (const s of sources.adapters()) this.set({ platform: s.platform }, pick(s));
        },
      });
    // Totals the adapters keep themselves, exposed as counters: read and re-set at each scrape.
    const adapterCounter = (name: string, help: string, pick: (s: AdapterStatus) => number) =>
      new Counter({
        name, help, labelNames: ['platform'], registers,
        collect() {
          this.reset();
          for (const s of sources.adapters()) this.inc({ platform: s.platform }, pick(s));
        },
      });
    adapterGauge('charbridge_platform_connected', '1 while the platform adapter is receiving (polling, webhook set, gateway or socket open)', (s) => (s.connected ? 1 : 0));
    adapterCounter('charbridge_platform_rate_limited_total', '429s (flood waits) received from the platform and waited out', (s) => s.rateLimited);
    adapterCounter('charbridge_platform_sends_total', 'Messages posted, edited or streamed to the platform', (s) => s.sent);
    adapterGauge('charbridge_outbound_queue_depth', 'Sends waiting in the outbound budget', (s) => s.outbound?.queued ?? 0);
    adapterCounter('charbridge_outbound_wait_seconds_total', 'Time started sends waited in the outbound budget (divide by charbridge_outbound_started_total for the mean)', (s) => (s.outbound?.waitedMs ?? 0) / 1000);
    adapterCounter('charbridge_outbound_started_total', 'Sends the outbound budget started', (s) => s.outbound?.started ?? 0);
    let backlog = 0;
    new Gauge({
      name: 'charbridge_inbox_backlog',
      help: 'Platform events claimed but not finished (answering now, or left by a process that died)',
      registers,
      async collect() {
        // A database that does not answer keeps the last value; /ready says the database is down.
        backlog = await sources.inboxBacklog().catch(() => backlog);
        this.set(backlog);
      },
    });
    const engine = (pick: (s: ReturnType<MetricsSources['engine']>) => number) =>
      function (this: Gauge) {
        this.set(pick(sources.engine()));
      };
    new Gauge({ name: 'charbridge_turns_in_flight', help: 'Turns being worked on (queued per chat included)', registers, collect: engine((s) => s.inFlight) });
    new Gauge({ name: 'charbridge_model_calls_active', help: 'Model calls running', registers, collect: engine((s) => s.modelActive) });
    new Gauge({ name: 'charbridge_model_calls_queued', help: 'Turns waiting for a model slot (MODEL_CONCURRENCY)', registers, collect: engine((s) => s.modelQueued) });
    // The event-loop delay is sampled every 100 ms, not prom-client's 10 ms: at 10 the monitor woke
    // an idle process ~190 times a second, most of its idle CPU (8 ms a second against 2); a stall
    // still shows, as the sample after it is late by the stall's length.
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
  }

  /** The Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in Prometheus' text exposition format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  turn(e: TurnFinishedEvent): void {
    this.turns.inc({ platform: e.platform, outcome: e.outcome });
    if (MODEL_TURNS.has(e.outcome)) this.turnSeconds.observe({ platform: e.platform }, e.durationMs / 1000);
    if (e.usage && e.model) {
      const model = this.modelLabel(e.model);
      this.tokens.inc({ model, type: 'prompt' }, e.usage.promptTokens);
      this.tokens.inc({ model, type: 'completion' }, e.usage.completionTokens);
    }
    if (e.credits > 0) this.credits.inc({ platform: e.platform }, e.credits);
  }

  modelCall(e: ModelCallEvent): void {
    const model = this.modelLabel(e.model);
    this.modelSeconds.observe({ model }, e.durationMs / 1000);
    if (e.firstTokenMs !== null) this.firstTokenSeconds.observe({ model }, e.firstTokenMs / 1000);
    if (e.error) this.modelErrors.inc({ kind: e.error });
  }

  private modelLabel(model: string): string {
    if (this.models.has(model)) return model;
    if (this.models.size >= MAX_MODEL_LABELS) return 'other';
    this.models.add(model);
    return model;
  }

  webhook(outcome: WebhookOutcome): void {
    this.webhooks.inc({ outcome });
  }

  proactive(e: ProactiveDeliveryEvent): void {
    this.proactiveDeliveries.inc({ platform: e.platform ?? 'unknown', outcome: e.outcome });
  }
}
