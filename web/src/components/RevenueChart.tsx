// Revenue per currency as horizontal bars (hand-drawn SVG: no chart library for six bars).
// Currencies are never added up or compared: each has its own scale.
import type { RevenueQuery } from '../graphql/generated/graphql';

type Line = RevenueQuery['revenue'][number];

const BARS: { key: 'gross' | 'refunded' | 'disputesLost' | 'net' | 'discounts' | 'mrr'; label: string; tone: string }[] = [
  { key: 'gross', label: 'Gross', tone: 'bar-gross' },
  { key: 'refunded', label: 'Refunded', tone: 'bar-refunded' },
  { key: 'disputesLost', label: 'Disputes lost', tone: 'bar-disputes' },
  { key: 'net', label: 'Net', tone: 'bar-net' },
  { key: 'discounts', label: 'Discounts', tone: 'bar-refunded' },
  { key: 'mrr', label: 'MRR', tone: 'bar-mrr' },
];

const WIDTH = 420;
const LABEL = 100;
const VALUE = 100;
const ROW = 22;

export function RevenueChart({ line }: { line: Line }) {
  // Minor units as a number only to size the bars; every figure shown is the gateway's text.
  const values = BARS.map((b) => Math.max(0, Number(line[b.key].minorUnits)));
  const max = Math.max(1, ...values);
  const span = WIDTH - LABEL - VALUE;
  return (
    <figure className="revenue-chart">
      <figcaption>{line.currency.toUpperCase()}</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${BARS.length * ROW}`} width={WIDTH} height={BARS.length * ROW} role="img"
        aria-label={`Revenue in ${line.currency.toUpperCase()}: ${BARS.map((b) => `${b.label} ${line[b.key].formatted}`).join(', ')}`}>
        {BARS.map((bar, i) => {
          const y = i * ROW;
          const w = Math.round((values[i]! / max) * span);
          return (
            <g key={bar.key}>
              <text x={0} y={y + 15} className="chart-label">{bar.label}</text>
              <rect x={LABEL} y={y + 4} width={Math.max(w, 1)} height={ROW - 8} rx={2} className={bar.tone} />
              <text x={LABEL + Math.max(w, 1) + 6} y={y + 15} className="chart-value">{line[bar.key].formatted}</text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
