import type { ScenarioResult } from './types.js';

interface Bar {
  scenario: string;
  metric: string;
  order: number;
  system: string;
  value: number;
  label: string;
}

/**
 * One SVG with a panel per charted metric (origin calls, requests per second, ...), a horizontal
 * bar per system, graphql-flight highlighted. Rendered by Vega without a browser or canvas.
 */
export async function renderChart(results: readonly ScenarioResult[]): Promise<string> {
  const bars: Bar[] = [];
  let order = 0;
  for (const result of results) {
    if (result.skipped) continue;
    for (const { metric, title } of result.chart ?? []) {
      order++;
      for (const row of result.rows) {
        const value = row.values[metric];
        if (typeof value !== 'number' || !Number.isFinite(value)) continue;
        bars.push({
          scenario: result.title,
          metric: title,
          order,
          system: row.system,
          value,
          label: value.toLocaleString('en-US', { maximumFractionDigits: value < 10 ? 2 : 0 }),
        });
      }
    }
  }
  const vega = await import('vega');
  const spec = {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    padding: 12,
    autosize: 'pad',
    background: 'white',
    title: {
      text: 'graphql-flight and its peers, measured in one run',
      subtitle: 'graphql-flight in orange; each panel has its own scale',
      anchor: 'start',
    },
    data: [{ name: 'bars', values: bars }],
    layout: { columns: 2, padding: { row: 40, column: 80 }, bounds: 'full', align: 'each' },
    marks: [
      {
        type: 'group',
        from: {
          facet: {
            name: 'panel',
            data: 'bars',
            groupby: ['order', 'scenario', 'metric'],
            aggregate: { ops: ['count'], as: ['n'] },
          },
        },
        sort: { field: 'datum.order' },
        title: {
          text: { signal: '[parent.scenario, parent.metric]' },
          anchor: 'start',
          fontSize: 11,
          limit: 480,
        },
        // A nested group needs its own width signal (the x range refers to it); its height is one
        // 22 px step per system, from the facet's count.
        signals: [{ name: 'width', value: 300 }],
        encode: { update: { width: { signal: 'width' }, height: { signal: 'datum.n * 22' } } },
        scales: [
          {
            name: 'y',
            type: 'band',
            domain: { data: 'panel', field: 'system' },
            range: { step: 22 },
            padding: 0.2,
          },
          {
            name: 'x',
            type: 'linear',
            domain: { data: 'panel', field: 'value' },
            range: 'width',
            nice: true,
            zero: true,
          },
        ],
        axes: [
          { orient: 'left', scale: 'y', labelLimit: 280 },
          { orient: 'bottom', scale: 'x', format: '~s', tickCount: 4 },
        ],
        marks: [
          {
            type: 'rect',
            from: { data: 'panel' },
            encode: {
              enter: {
                y: { scale: 'y', field: 'system' },
                height: { scale: 'y', band: 1 },
                x: { scale: 'x', value: 0 },
                x2: { scale: 'x', field: 'value' },
                fill: { signal: "indexof(datum.system, 'graphql-flight') === 0 ? '#e8590c' : '#868e96'" },
              },
            },
          },
          {
            type: 'text',
            from: { data: 'panel' },
            encode: {
              enter: {
                y: { scale: 'y', field: 'system', band: 0.5 },
                x: { scale: 'x', field: 'value', offset: 4 },
                baseline: { value: 'middle' },
                fontSize: { value: 10 },
                text: { field: 'label' },
              },
            },
          },
        ],
      },
    ],
  };
  const view = new vega.View(vega.parse(spec as never), { renderer: 'none' });
  return view.toSVG();
}
