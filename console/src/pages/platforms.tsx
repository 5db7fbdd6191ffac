import { api } from '../api';
import { Alert } from '../components/fields';
import { count, when } from '../components/format';
import { PageTitle } from '../components/layout';
import { useApi } from '../components/use-api';
import { useCharacterNames } from '../components/use-characters';
import type { PlatformsReport, PlatformStatus } from '../types';

const yesNo = (v: boolean | null) => (v === null ? 'not reported' : v ? 'yes' : 'no');
/** A figure only a running adapter knows. */
const live = (n: number | null) => (n === null ? 'not running here' : count(n));

function outboundLine(o: PlatformStatus['outbound']): string {
  if (!o) return 'not running here';
  return `${count(o.queued)} waiting; ${count(Math.round(o.waitedMs / 1000))} s waited in all`;
}

/** What GET /api/v1/platforms says: each adapter's state, the proactive schedule and recent sends. */
export function Platforms() {
  const report = useApi(() => api<PlatformsReport>('/platforms'), []);
  const { nameOf } = useCharacterNames();
  const data = report.data;
  return (
    <>
      <PageTitle>Platforms</PageTitle>
      <p class="actions">
        <button type="button" onClick={report.reload}>
          Refresh
        </button>
      </p>
      <Alert error={report.error} />
      {data ? (
        <>
          <section aria-labelledby="adapters-title">
            <h2 id="adapters-title">Adapters</h2>
            {data.platforms.length ? (
              <div class="table-wrap" role="region" aria-label="Adapters table" tabIndex={0}>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Platform</th>
                      <th scope="col">Mode</th>
                      <th scope="col">Connected</th>
                      <th scope="col">Last event</th>
                      <th scope="col">Last error</th>
                      <th scope="col">429s waited out</th>
                      <th scope="col">Sent</th>
                      <th scope="col">Answering now</th>
                      <th scope="col">Outbound queue</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.platforms.map((p) => (
                      <tr key={p.platform}>
                        <th scope="row">{p.platform}</th>
                        <td>{p.mode}</td>
                        <td>{yesNo(p.connected)}</td>
                        <td>{when(p.lastEventAt)}</td>
                        <td>{p.lastError ? `${p.lastError.message} (${when(p.lastError.at)})` : 'none'}</td>
                        <td>{count(p.rateLimitWaits)}</td>
                        <td>{live(p.sent)}</td>
                        <td>{live(p.inFlight)}</td>
                        <td>{outboundLine(p.outbound)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <p>
                No platform is configured. Set <code>TELEGRAM_BOT_TOKEN</code>, <code>DISCORD_TOKEN</code> or <code>SLACK_BOT_TOKEN</code> (see
                .env.example) and restart.
              </p>
            )}
          </section>
          <section aria-labelledby="proactive-title">
            <h2 id="proactive-title">Proactive messages</h2>
            <dl class="facts">
              <div>
                <dt>Schedule</dt>
                <dd>
                  <code>{data.proactive.cron}</code>
                </dd>
              </div>
              <div>
                <dt>Conversations scheduled</dt>
                <dd>{data.proactive.scheduled}</dd>
              </div>
              <div>
                <dt>Next due</dt>
                <dd>{when(data.proactive.nextDueAt)}</dd>
              </div>
              <div>
                <dt>Defaults</dt>
                <dd>
                  idle {data.proactive.defaults.minIdleMinutes} min, gap {data.proactive.defaults.minGapMinutes} min, {data.proactive.defaults.dailyCap} a day, stop after{' '}
                  {data.proactive.defaults.maxUnanswered} unanswered
                </dd>
              </div>
            </dl>
            <h3>Recent sends</h3>
            {data.proactive.recentSends.length ? (
              <div class="table-wrap" role="region" aria-label="Recent proactive sends" tabIndex={0}>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Conversation</th>
                      <th scope="col">Character</th>
                      <th scope="col">Platform</th>
                      <th scope="col">State</th>
                      <th scope="col">Attempts</th>
                      <th scope="col">Error</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.proactive.recentSends.map((s, i) => (
                      <tr key={`${s.conversationId}:${s.at}:${i}`}>
                        <td>{when(s.at)}</td>
                        <th scope="row">
                          <a href={`/console/conversations/${encodeURIComponent(s.conversationId)}`}>{s.conversationId}</a>
                        </th>
                        <td>{nameOf(s.characterId)}</td>
                        <td>{s.platform ?? '—'}</td>
                        <td>
                          {s.state}
                          {s.forced ? ' (test)' : ''}
                        </td>
                        <td>{s.attempts}</td>
                        <td>{s.error ?? '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <p>No proactive messages yet.</p>
            )}
          </section>
        </>
      ) : null}
    </>
  );
}
