import { useState } from 'preact/hooks';
import { api } from '../api';
import { BarChart, type ChartRow } from '../components/bar-chart';
import { Alert, SelectField, TextField } from '../components/fields';
import { count } from '../components/format';
import { PageTitle } from '../components/layout';
import { useApi } from '../components/use-api';
import { useSession } from '../session';
import type { UsageFigures, UsageGroup, UsageReport } from '../types';

const DAY = 86_400_000;
/** Groups shown (largest first): a chart of thousands of characters' bars says nothing. */
const SHOWN_GROUPS = 50;
const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const GROUPS: Array<{ value: UsageGroup; label: string; admin?: boolean }> = [
  { value: 'day', label: 'Day (UTC)' },
  { value: 'character', label: 'Character' },
  { value: 'model', label: 'Model' },
  { value: 'platform', label: 'Platform' },
  { value: 'key', label: 'API key', admin: true },
];

type Row = UsageFigures & { label: string };

/** Every day of the range, with zeros where nothing happened, so a quiet day shows as a gap. */
function everyDay(report: UsageReport): Row[] {
  const byDay = new Map(report.rows.map((r) => [r.group, r]));
  const zero: UsageFigures = { turns: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, credits: 0, modelErrors: 0 };
  const out: Row[] = [];
  for (let t = Date.parse(report.from.slice(0, 10)); t < Date.parse(report.to); t += DAY) {
    const day = utcDate(t);
    out.push({ ...(byDay.get(day) ?? zero), label: day });
  }
  return out;
}

/** Turns, tokens, credits and model errors as charts and a table, by day, character, model, platform or (admin) key. */
export function Usage() {
  const session = useSession();
  const now = Date.now();
  const [form, setForm] = useState({ from: utcDate(now - 29 * DAY), to: utcDate(now), groupBy: 'day' as UsageGroup });
  const [query, setQuery] = useState(form);
  const report = useApi(() => api<UsageReport>('/usage', { query: { ...query, limit: SHOWN_GROUPS } }), [query]);
  const set = (k: keyof typeof form) => (v: string) => setForm((f) => ({ ...f, [k]: v }));

  const data = report.data;
  // Charts show every day (a quiet day is a gap); the table lists only days with usage.
  const rows: Row[] = data ? (data.groupBy === 'day' ? everyDay(data) : data.rows) : [];
  const groupLabel = GROUPS.find((g) => g.value === data?.groupBy)?.label ?? '';
  const layout = data?.groupBy === 'day' ? 'columns' : 'bars';
  const chart = (pick: (r: Row) => number[]): ChartRow[] => rows.map((r) => ({ label: r.label, values: pick(r) }));

  return (
    <>
      <PageTitle>Usage</PageTitle>
      <form
        class="filters"
        aria-label="Usage range"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(form);
        }}
      >
        <TextField id="us-from" label="From" type="date" value={form.from} onInput={set('from')} />
        <TextField id="us-to" label="To" type="date" value={form.to} onInput={set('to')} hint="Both days included (UTC)" />
        <SelectField
          id="us-group"
          label="Group by"
          value={form.groupBy}
          options={GROUPS.filter((g) => !g.admin || session.caller.isAdmin)}
          onChange={set('groupBy')}
        />
        <button type="submit">Show</button>
      </form>
      <Alert error={report.error} />
      {data ? (
        <>
          <dl class="totals" aria-label="Totals for the range">
            <div>
              <dt>Turns</dt>
              <dd>{count(data.totals.turns)}</dd>
            </div>
            <div>
              <dt>Tokens</dt>
              <dd>{count(data.totals.totalTokens)}</dd>
            </div>
            <div>
              <dt>Credits</dt>
              <dd>{count(data.totals.credits)}</dd>
            </div>
            <div>
              <dt>Model errors</dt>
              <dd>{count(data.totals.modelErrors)}</dd>
            </div>
          </dl>
          {data.rows.length ? (
            <>
              <div class="charts">
                <BarChart title="Turns and model errors" series={['Turns', 'Model errors']} rows={chart((r) => [r.turns, r.modelErrors])} layout={layout} />
                <BarChart title="Tokens" series={['Prompt', 'Completion']} rows={chart((r) => [r.promptTokens, r.completionTokens])} layout={layout} />
                <BarChart title="Credits" series={['Credits']} rows={chart((r) => [r.credits])} layout={layout} />
              </div>
              <div class="table-wrap" role="region" aria-label="Usage table" tabIndex={0}>
                <table>
                  <caption>Usage by {groupLabel}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{groupLabel}</th>
                      <th scope="col">Turns</th>
                      <th scope="col">Model errors</th>
                      <th scope="col">Prompt tokens</th>
                      <th scope="col">Completion tokens</th>
                      <th scope="col">Credits</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.rows.map((r) => (
                      <tr key={r.label}>
                        <th scope="row">{r.label}</th>
                        <td>{count(r.turns)}</td>
                        <td>{count(r.modelErrors)}</td>
                        <td>{count(r.promptTokens)}</td>
                        <td>{count(r.completionTokens)}</td>
                        <td>{count(r.credits)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {data.groupsLeftOut ? (
                <p>
                  {count(data.groupsLeftOut)} more with less usage, not shown; the totals above count them.
                </p>
              ) : null}
            </>
          ) : (
            <p>No usage in this range.</p>
          )}
        </>
      ) : report.loading ? (
        <p>Loading usage…</p>
      ) : null}
    </>
  );
}
