import { count } from './format';

export interface ChartRow {
  label: string;
  /** One value per series, stacked in series order. */
  values: number[];
}

interface ChartProps {
  title: string;
  /** Names of the stacked series; each gets its own colour (series-0, series-1…). */
  series: string[];
  rows: ChartRow[];
  /** Columns suit a run of days; bars suit named groups (their labels stay readable on a phone). */
  layout: 'columns' | 'bars';
}

const total = (r: ChartRow) => r.values.reduce((a, b) => a + b, 0);

/** What the chart shows, in a sentence, for screen readers (the numbers are in the table below it). */
function summary(p: ChartProps): string {
  if (!p.rows.length) return `${p.title}: no data`;
  const top = p.rows.reduce((a, b) => (total(b) > total(a) ? b : a));
  const sum = p.rows.reduce((s, r) => s + total(r), 0);
  return `${p.title}: ${count(sum)} in all across ${p.rows.length} ${p.layout === 'columns' ? 'days' : 'groups'}; most in ${top.label} (${count(total(top))})`;
}

function Legend({ series }: { series: string[] }) {
  if (series.length < 2) return null;
  return (
    <ul class="legend" aria-hidden="true">
      {series.map((s, i) => (
        <li key={s}>
          <span class={`swatch series-${i}`} />
          {s}
        </li>
      ))}
    </ul>
  );
}

/** A small stacked bar chart in SVG, drawn without a charting library. */
export function BarChart(p: ChartProps) {
  const max = Math.max(1, ...p.rows.map(total));
  return (
    <figure class="chart">
      <figcaption>{p.title}</figcaption>
      <Legend series={p.series} />
      {p.layout === 'columns' ? <Columns {...p} max={max} /> : <Bars {...p} max={max} />}
    </figure>
  );
}

function Columns(p: ChartProps & { max: number }) {
  const width = Math.max(1, p.rows.length) * 10;
  const first = p.rows[0]?.label ?? '';
  const last = p.rows.at(-1)?.label ?? '';
  return (
    <div class="columns">
      <svg viewBox={`0 0 ${width} 100`} preserveAspectRatio="none" role="img" aria-label={summary(p)}>
        {p.rows.map((r, i) => {
          let y = 100;
          return (
            <g key={r.label}>
              <title>{`${r.label}: ${r.values.map((v, s) => `${p.series[s]} ${count(v)}`).join(', ')}`}</title>
              {r.values.map((v, s) => {
                const h = (v / p.max) * 100;
                y -= h;
                return h > 0 ? <rect key={s} class={`series-${s}`} x={i * 10 + 1} y={y} width={8} height={h} /> : null;
              })}
            </g>
          );
        })}
      </svg>
      <div class="axis" aria-hidden="true">
        <span>{first}</span>
        <span>max {count(p.max)}</span>
        <span>{last}</span>
      </div>
    </div>
  );
}

function Bars(p: ChartProps & { max: number }) {
  return (
    <div class="bars" role="img" aria-label={summary(p)}>
      {p.rows.map((r) => {
        let x = 0;
        return (
          <div class="bar-row" key={r.label} aria-hidden="true">
            <span class="bar-label">{r.label}</span>
            <svg viewBox="0 0 100 10" preserveAspectRatio="none">
              {r.values.map((v, s) => {
                const w = (v / p.max) * 100;
                x += w;
                return w > 0 ? <rect key={s} class={`series-${s}`} x={x - w} y={0} width={w} height={10} /> : null;
              })}
            </svg>
            <span class="bar-value">{count(total(r))}</span>
          </div>
        );
      })}
    </div>
  );
}
