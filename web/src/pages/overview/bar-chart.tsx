import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from 'chart.js';
import { useEffect, useRef } from 'react';

// Only what the Overview draws (bars), so the chunk carries no other controllers.
Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

export interface BarChartProps {
  labels: string[];
  values: (number | null)[];
  /** The canvas's accessible name; the numbers themselves are in the visually hidden table the caller renders. */
  ariaLabel: string;
  /** Series name (tooltip). */
  seriesLabel: string;
  color?: string;
  horizontal?: boolean;
  /** Formats a value for the tooltip and the value axis. */
  format?: (v: number) => string;
  height?: number;
}

/** A bar chart created once; later props only replace its data (chart.update without animation). */
export function BarChart({ labels, values, ariaLabel, seriesLabel, color = '#3b5bdb', horizontal = false, format, height = 200 }: BarChartProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<'bar', (number | null)[], string> | null>(null);
  const fmt = useRef(format);
  fmt.current = format;

  useEffect(() => {
    if (!canvas.current) return;
    const tick = (v: string | number) => (fmt.current && typeof v === 'number' ? fmt.current(v) : String(v));
    chart.current = new Chart(canvas.current, {
      type: 'bar',
      data: { labels: [], datasets: [{ label: seriesLabel, data: [], backgroundColor: color }] },
      options: {
        indexAxis: horizontal ? 'y' : 'x',
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          tooltip: { callbacks: { label: (c) => `${seriesLabel}: ${typeof c.raw === 'number' ? tick(c.raw) : '—'}` } },
        },
        scales: horizontal
          ? { x: { beginAtZero: true, ticks: { callback: tick } } }
          : { y: { beginAtZero: true, ticks: { precision: 0, callback: tick } } },
      },
    });
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data.labels = labels;
    c.data.datasets[0].data = values;
    c.update('none');
  }, [labels.join('\u0000'), values.join(',')]);

  return (
    <div style={{ position: 'relative', height }}>
      <canvas ref={canvas} role="img" aria-label={ariaLabel} />
    </div>
  );
}
