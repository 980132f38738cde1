import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Kind, parse } from 'graphql';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleVariables, GRAPHIQL_TITLE, loadOperationTabs, OPERATIONS_DIR } from '../../src/graphiql.js';
import { startTestServer, TEST_SEED, type TestServer } from '../helpers/server.js';

/** Debian's chromium (.ci/run installs it); CHROMIUM points elsewhere on another machine. */
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** The shop's example operation files, in the order GraphiQL opens them as tabs. */
const OPERATION_FILES = readdirSync(OPERATIONS_DIR)
  .filter((name) => name.endsWith('.graphql'))
  .sort();

/** GraphiQL names a tab after the first operation of its query. */
const TAB_NAMES = OPERATION_FILES.map((file) => {
  const first = parse(readFileSync(join(OPERATIONS_DIR, file), 'utf8')).definitions[0];
  return first?.kind === Kind.OPERATION_DEFINITION ? first.name?.value : undefined;
});

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs `body` in a fresh node process (tsx) whose working directory is an empty temporary one,
 * with `m` bound to src/graphiql.ts and `globalThis.loadedBundle()` telling whether
 * @graphql-yoga/render-graphiql has been resolved yet (a module resolve hook records it).
 * Returns the JSON the body printed.
 */
function inFreshProcess(body: string): { result: unknown; loaded: boolean } {
  const elsewhere = mkdtempSync(join(tmpdir(), 'graphiql-cwd-'));
  try {
    const log = join(elsewhere, 'resolved.log');
    writeFileSync(log, '');
    writeFileSync(
      join(elsewhere, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
       export async function resolve(specifier, context, next) {
         if (specifier.startsWith('@graphql-yoga/render-graphiql')) appendFileSync(${JSON.stringify(log)}, specifier + '\\n');
         return next(specifier, context);
       }`,
    );
    writeFileSync(
      join(elsewhere, 'register.mjs'),
      `import { register } from 'node:module';
       import { readFileSync } from 'node:fs';
       register(${JSON.stringify(pathToFileURL(join(elsewhere, 'hooks.mjs')).href)});
       globalThis.loadedBundle = () => readFileSync(${JSON.stringify(log)}, 'utf8') !== '';`,
    );
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(elsewhere, 'register.mjs')).href,
        '--import',
        pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href,
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'src/graphiql.ts')).href)});\n${body}`,
      ],
      { cwd: elsewhere, encoding: 'utf8', timeout: 30_000 },
    );
    expect(child.stderr).toBe('');
    return { result: JSON.parse(child.stdout), loaded: readFileSync(log, 'utf8') !== '' };
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
}

async function graphiqlPage(t: TestServer): Promise<Response> {
  return t.server.yoga.fetch('http://localhost/graphql', { headers: { accept: 'text/html' } });
}

describe('the GraphiQL options (src/graphiql.ts)', () => {
  it('opens one tab per schema/operations file, each with the token hint and example variables', () => {
    const tabs = loadOperationTabs();
    expect(OPERATION_FILES.length).toBeGreaterThanOrEqual(5);
    expect(tabs).toHaveLength(OPERATION_FILES.length);
    tabs.forEach((tab, index) => {
      const file = OPERATION_FILES[index]!;
      expect(tab.query).toContain(`# schema/operations/${file}\n`);
      expect(tab.query).toContain('npm run token -- 1');
      expect(tab.query).toContain('# {"Authorization": "Bearer <token>"}\n');
      expect(tab.query).toContain(readFileSync(join(OPERATIONS_DIR, file), 'utf8').trim());
      // The tab parses: the hint is comments only.
      expect(() => parse(tab.query)).not.toThrow();
    });
    const products = tabs[OPERATION_FILES.indexOf('products.graphql')]!;
    expect(JSON.parse(products.variables)).toEqual({ ids: ['1'], id: '1' });
    const mutations = tabs[OPERATION_FILES.indexOf('mutations.graphql')]!;
    expect(JSON.parse(mutations.variables)).toEqual({ productId: '1', quantity: 1, id: '1', priceCents: 1 });
    // Optional variables ($limit) are left to the field's default.
    const viewer = tabs[OPERATION_FILES.indexOf('viewer.graphql')]!;
    expect(JSON.parse(viewer.variables)).toEqual({});
  });

  it('gives example values for every required scalar, and leaves out what it cannot make', () => {
    expect(
      exampleVariables(
        parse(
          'query A($a: ID!, $b: Int!, $c: Float!, $d: String!, $e: Boolean!, $f: [[Int!]!]!, $g: Int, $h: Int! = 3, $i: Color!, $j: [Color!]!) { x }',
        ),
      ),
    ).toEqual({ a: '1', b: 1, c: 1, d: '', e: false, f: [[1]], j: [] });
  });

  it('names the file and the problem in one line when an example cannot be read or parsed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'graphiql-ops-'));
    try {
      expect(() => loadOperationTabs(join(dir, 'missing'))).toThrow(
        /^GraphiQL: cannot read the example operations in .*missing: ENOENT/,
      );
      expect(() => loadOperationTabs(dir)).toThrow(`GraphiQL: no *.graphql example operations in ${dir}`);
      writeFileSync(join(dir, 'broken.graphql'), 'query Broken {\n  salesSummary {\n');
      let message = '';
      try {
        loadOperationTabs(dir);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toBe(
        `GraphiQL: example operation ${dir}/broken.graphql: Syntax Error: Expected Name, found <EOF>.`,
      );
      writeFileSync(join(dir, 'broken.graphql'), 'query Script { product(id: "</script>") { id } }');
      expect(() => loadOperationTabs(dir)).toThrow(
        `GraphiQL: example operation ${dir}/broken.graphql contains "<script" or "</script", which the page cannot hold`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are read relative to the package, whatever the working directory (npm start runs dist/)', () => {
    // A process of its own: OPERATIONS_DIR is fixed when the module loads.
    const { result } = inFreshProcess(
      'console.log(JSON.stringify({ dir: m.OPERATIONS_DIR, tabs: m.createGraphiQLOptions().defaultTabs.length }));',
    );
    expect(result).toEqual({ dir: join(ROOT, 'schema/operations/'), tabs: OPERATION_FILES.length });
  }, 40_000);

  it('loads the GraphiQL bundle on the first render only, so a server without GraphiQL never does', () => {
    const { result, loaded } = inFreshProcess(`
      m.createGraphiQLOptions();
      const before = globalThis.loadedBundle();
      const html = await m.renderGraphiQL({ title: 'T' });
      console.log(JSON.stringify({ before, after: globalThis.loadedBundle(), title: html.includes('<title>T</title>') }));`);
    expect(result).toEqual({ before: false, after: true, title: true });
    expect(loaded).toBe(true);
  }, 40_000);
});

describe('GraphiQL outside development', () => {
  it('is off in production', async () => {
    const t = await startTestServer({ config: { nodeEnv: 'production' } });
    try {
      const html = await (await graphiqlPage(t)).text();
      expect(html).not.toContain('GraphiQL');
      expect(html).not.toContain(GRAPHIQL_TITLE);
    } finally {
      await t.close();
    }
  }, 60_000);
});

/**
 * GraphiQL as a developer opens it, in Debian's chromium, with every request that leaves the
 * server's loopback origin aborted and recorded: the page must work offline.
 */
describe('GraphiQL in headless Chromium, offline', () => {
  let t: TestServer;
  let http: HttpServer;
  let origin: string;
  let profile: string;
  let context: BrowserContext | undefined;
  let page: Page;
  /** The customer token the Headers test types in. */
  let token = '';
  /** Requests to anywhere but the server: aborted, and each one fails the suite. */
  const outside: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `no Chromium at ${CHROMIUM}: install it (apt-get install chromium, as .ci/run does) or set CHROMIUM`,
      );
    }
    t = await startTestServer({ config: { nodeEnv: 'development' } });
    http = createHttpServer(t.server.handler);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    profile = mkdtempSync(join(tmpdir(), 'graphiql-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context.setDefaultTimeout(30_000);
    const local = (url: string) =>
      url.startsWith(`${origin}/`) || url.startsWith('data:') || url.startsWith('blob:');
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (local(url)) return route.continue();
      if (!outside.includes(url)) outside.push(url);
      return route.abort('internetdisconnected');
    });
    // Also every request the context sees, in case one is not routed (a worker's).
    context.on('request', (request) => {
      if (!local(request.url()) && !outside.includes(request.url())) outside.push(request.url());
    });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${origin}/graphql`, { waitUntil: 'load' });
    try {
      await page.locator('.graphiql-query-editor').waitFor();
    } catch (error) {
      throw new Error(
        `GraphiQL did not render; requests outside the server: ${outside.join(' ') || 'none'}`,
        {
          cause: error,
        },
      );
    }
  }, 90_000);

  afterAll(async () => {
    try {
      await context?.close();
    } finally {
      await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
      await t?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
    }
  });

  /** The tab named `name` (its title is the first operation's name). */
  const tabOf = (name: string) => page.locator(`.graphiql-tab:has(> .graphiql-tab-button[title="${name}"])`);

  /**
   * Selects the tab named `name` from the keyboard and waits until it is the active one. (The tabs
   * can be dragged to reorder them: a click whose press and release come in the same instant, as
   * Playwright's do, does not select one.)
   */
  async function openTab(name: string): Promise<void> {
    const tab = tabOf(name);
    await tab.locator('.graphiql-tab-button').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => tab.getAttribute('aria-selected'), { timeout: 10_000 }).toBe('true');
  }

  /**
   * Runs `operation` of the active tab: the run button, then the operation when the tab has
   * several. On a loaded machine a click right after a tab switch can be lost (seen in CI, in
   * several tests): when neither the operation menu opens nor the response pane changes within a
   * few seconds, the button is pressed again.
   */
  async function run(operation?: string): Promise<void> {
    const before = await result();
    for (let attempt = 1; ; attempt++) {
      await page.locator('.graphiql-execute-button').click();
      try {
        if (operation === undefined) {
          await expect.poll(result, { timeout: 3_000 }).not.toBe(before);
          return;
        }
        const item = page.getByRole('menuitem', { name: operation, exact: true });
        await item.waitFor({ state: 'visible', timeout: 3_000 });
        await item.click();
        return;
      } catch (error) {
        if (attempt === 4) throw error;
      }
    }
  }

  /** The text of a Monaco editor's rendered lines, joined (Monaco lays out spaces as no-break spaces). */
  const lines = async (editor: string) =>
    ((await page.locator(`${editor} .view-lines`).textContent()) ?? '').replace(/\u00a0/g, ' ');
  const queryEditor = () => lines('.graphiql-query-editor');
  const result = () => lines('.graphiql-response');

  it('is served in development as one self-contained page: no script, style or icon from elsewhere', async () => {
    const response = await graphiqlPage(t);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const html = await response.text();
    expect(html).toContain(`<title>${GRAPHIQL_TITLE}</title>`);
    // Yoga's default page loads GraphiQL from a CDN (unpkg); this one inlines it.
    expect(html).not.toContain('unpkg.com');
    expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
    expect(html).not.toMatch(/<link[^>]*\shref="(https?:)?\/\//i);
    expect(html).toContain('YogaGraphiQL.renderYogaGraphiQL');
    expect(html).toContain('"defaultTabs":[');
  });

  it('renders the editor with the shop operations as tabs, each opening with the Authorization hint', async () => {
    await expect
      .poll(() => page.locator('.graphiql-tab .graphiql-tab-button').allTextContents(), { timeout: 10_000 })
      .toEqual(TAB_NAMES);
    await expect.poll(() => page.title(), { timeout: 10_000 }).toBe(GRAPHIQL_TITLE);
    await expect
      .poll(queryEditor, { timeout: 10_000 })
      .toContain(`# schema/operations/${OPERATION_FILES[0]}`);
    const editor = await queryEditor();
    expect(editor).toContain('# Token: `npm run token -- 1`');
    expect(editor).toContain('# {"Authorization": "Bearer <token>"}');
    expect(editor).toContain(`query ${TAB_NAMES[0]}`);
    expect(outside).toEqual([]);
  });

  it("shows the schema's types in the documentation explorer", async () => {
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.waitFor();
    const link = (name: string) => docs.getByRole('link', { name, exact: true });
    await link('Mutation').waitFor();
    // "All Schema Types" lists the shop's object types.
    for (const type of ['Customer', 'FlightStats', 'Order', 'Product', 'SalesSummary']) {
      await link(type).waitFor({ timeout: 5_000 });
    }
    await link('Query').click();
    await link('salesSummary').waitFor();
    await link('topProducts').waitFor();
    expect(outside).toEqual([]);
  });

  it('runs a tab and shows the result', async () => {
    await openTab('SalesSummary');
    await run();
    await expect.poll(() => result(), { timeout: 15_000 }).toContain(`"orderCount": ${TEST_SEED.orders}`);
    expect(outside).toEqual([]);
  });

  it("runs a tab's example variables, with the operation chosen from the run button", async () => {
    await openTab('Products');
    await run('Products');
    await expect.poll(() => result(), { timeout: 15_000 }).toMatch(/"products": \[\s*\{\s*"id": "1"/);
    expect(outside).toEqual([]);
  });

  it('sends the Authorization header typed in the Headers editor, as the hint says', async () => {
    await openTab('Viewer');
    // Right after a tab switch a click on the run button can be lost (seen once in CI, the
    // response pane left empty): while nothing has been answered, press it again.
    await expect
      .poll(
        async () => {
          const answered = await result();
          if (answered === '') await run();
          return answered;
        },
        { timeout: 15_000, interval: 1_000 },
      )
      .toContain('"viewer": null');
    await page.getByRole('button', { name: 'Headers', exact: true }).click();
    const headers = page.locator('.graphiql-editor-tool .graphiql-editor').last();
    await headers.click();
    token = await t.token(1);
    await page.keyboard.insertText(`{"Authorization": "Bearer ${token}"}`);
    await run();
    await expect.poll(() => result(), { timeout: 15_000 }).toMatch(/"viewer": \{\s*"id": "1"/);
    expect(outside).toEqual([]);
  });

  it('keeps changed tabs across reloads but never the token; cleared site data brings the examples back', async () => {
    const reload = async () => {
      await page.reload({ waitUntil: 'load' });
      await page.locator('.graphiql-query-editor').waitFor();
    };
    const tabNames = () => page.locator('.graphiql-tab .graphiql-tab-button').allTextContents();
    const stored = () => page.evaluate(() => JSON.stringify({ ...window.localStorage }));
    await page.locator('.graphiql-tab-add').click();
    await expect
      .poll(() => tabNames().then((names) => names.length), { timeout: 10_000 })
      .toBe(TAB_NAMES.length + 1);
    const changed = await tabNames();
    const storedTabs = () =>
      page.evaluate(
        () => JSON.parse(window.localStorage.getItem('graphiql:tabState') ?? '{"tabs":[]}').tabs.length,
      );
    await expect.poll(storedTabs, { timeout: 10_000 }).toBe(TAB_NAMES.length + 1);
    await reload();
    await expect.poll(tabNames, { timeout: 10_000 }).toEqual(changed);
    expect(await stored()).not.toContain(token);

    // Cleared from a page of the same origin without GraphiQL: GraphiQL itself may still write
    // its tabs back (a debounced save) after a clear made while it is open (seen once in CI).
    await page.goto(`${origin}/health`, { waitUntil: 'load' });
    await page.evaluate(() => window.localStorage.clear());
    await page.goto(`${origin}/graphql`, { waitUntil: 'load' });
    await page.locator('.graphiql-query-editor').waitFor();
    await expect.poll(tabNames, { timeout: 10_000 }).toEqual(TAB_NAMES);
    expect(outside).toEqual([]);
  }, 60_000);
});
