/**
 * The contract between the runner (bench/run.ts) and the scenarios (bench/scenarios/*.ts).
 * A scenario measures several systems in one run, on this machine, and reports medians of rounds;
 * the runner prints one table per scenario with ratios to the scenario's baseline, and writes the
 * JSON results, the Markdown report and the SVG chart.
 */

export interface BenchContext {
  /** `--quick`: a smoke run (whole suite under 2 minutes); figures are indicative only. */
  quick: boolean;
  /** Rounds per measurement (medians are taken over them): 1 in quick mode, 3 to 5 otherwise. */
  rounds: number;
  /** The Redis for fleet scenarios, or undefined when none answers (those scenarios skip). */
  redisUrl: string | undefined;
  /** One line of progress (overwritten in place on a terminal). */
  progress(text: string): void;
}

/** How a metric reads: which direction is better, and whether to print its ratio to the baseline. */
export interface Metric {
  key: string;
  label: string;
  better: 'lower' | 'higher';
  /** Print "x baseline" next to it. */
  ratio?: boolean;
  /** Digits after the point when printed (default 0). */
  digits?: number;
}

/** One system's figures in one scenario: medians over the rounds. `null`: not measurable. */
export interface Row {
  system: string;
  values: Record<string, number | null>;
  /** Short remark printed under the table (e.g. which stampede protection was switched on). */
  note?: string;
  /** Why this system could not be measured: the runner prints it and fails the run. */
  failed?: string;
}

export interface Goal {
  text: string;
  met: boolean;
  /** The measured figure(s) the verdict rests on. */
  detail: string;
}

export interface ScenarioResult {
  id: string;
  title: string;
  /** What was measured and how, in a sentence or two (printed above the table). */
  description: string;
  /** The system the ratios are computed against (one of the rows). */
  baseline: string;
  metrics: Metric[];
  rows: Row[];
  goals?: Goal[];
  /** Set when the scenario could not run (e.g. no Redis): the reason is printed, nothing else. */
  skipped?: string;
  notes?: string[];
  /** Metric keys the chart shows for this scenario (e.g. origin calls, req/s). */
  chart?: Array<{ metric: string; title: string }>;
}

export interface Scenario {
  id: string;
  title: string;
  /** Part of `--quick`? (all are; long ones shorten themselves when ctx.quick). */
  run(ctx: BenchContext): Promise<ScenarioResult>;
}
