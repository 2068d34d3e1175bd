// Headless Chromium driven over the Chrome DevTools Protocol (CDP) through
// --remote-debugging-pipe: Chromium reads JSON commands from its fd 3 and writes JSON responses
// and events to its fd 4, each message terminated by a NUL byte. No WebSocket, no port, no npm
// dependency. Used to check that the HTML reports render in a real browser.
//
//   const r = await loadPageInChromium('/tmp/x/report.html', { evaluate: 'document.title', screenshotPath: '/tmp/x.png' });
//   r.problems  // console errors, uncaught exceptions, log errors, failed/external requests
//
// findChromium() returns null when no browser is installed; callers decide whether to skip.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

/** Where to look for a Chromium binary (first existing wins); $CHROMIUM_PATH overrides. */
export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The Chromium executable to use, or null if none is installed. */
export function findChromium(): string | null {
  const env = process.env.CHROMIUM_PATH;
  if (env) return fs.existsSync(env) ? env : null;
  for (const c of CHROMIUM_CANDIDATES) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

type Json = Record<string, unknown>;
interface CdpMessage {
  id?: number;
  method?: string;
  params?: Json;
  result?: Json;
  error?: { code: number; message: string };
  sessionId?: string;
}
type Listener = (params: Json, sessionId: string | undefined) => void;

/** A CDP connection to one browser process over its debugging pipe. */
export class CdpBrowser {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Json) => void; reject: (e: Error) => void; method: string }>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private buffer: Buffer = Buffer.alloc(0);
  private exited = false;
  private stderrTail = '';
  readonly exitPromise: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly userDataDir: string,
    private readonly commandTimeoutMs: number,
  ) {
    const toBrowser = child.stdio[3] as Writable;
    const fromBrowser = child.stdio[4] as Readable;
    toBrowser.on('error', () => undefined); // EPIPE after the browser exits is reported via exit
    fromBrowser.on('data', (chunk: Buffer) => this.onData(chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    // If this process exits first (a killed test worker), take the browser down with it.
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    this.exitPromise = new Promise((resolve) => {
      const done = (why: string): void => {
        if (this.exited) return;
        this.exited = true;
        process.removeListener('exit', killOnExit);
        const err = new Error(`chromium ${why} while waiting for a reply; stderr tail:\n${this.stderrTail}`);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        resolve();
      };
      child.once('exit', (code, signal) => done(`exited (code ${code}, signal ${signal})`));
      child.once('error', (e) => done(`failed to start (${e.message})`)); // 'exit' may not follow
    });
  }

  /**
   * Start a headless browser (`--headless=new --no-sandbox --disable-gpu --no-first-run`, a fresh
   * temporary profile) and wait until it answers `Browser.getVersion`.
   */
  static async launch(opts: { executable?: string; commandTimeoutMs?: number; extraArgs?: string[] } = {}): Promise<CdpBrowser> {
    const exe = opts.executable ?? findChromium();
    if (!exe) throw new Error(`no Chromium found (looked at $CHROMIUM_PATH and ${CHROMIUM_CANDIDATES.join(', ')})`);
    const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sl-chromium-'));
    const args = [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--no-default-browser-check',
      `--user-data-dir=${userDataDir}`,
      '--remote-debugging-pipe',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-default-apps',
      '--disable-extensions',
      '--disable-sync',
      '--disable-dev-shm-usage',
      '--metrics-recording-only',
      '--mute-audio',
      '--hide-scrollbars',
      '--allow-file-access-from-files',
      ...(opts.extraArgs ?? []),
      'about:blank',
    ];
    let child: ChildProcess;
    try {
      child = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    } catch (e) {
      fs.rmSync(userDataDir, { recursive: true, force: true });
      throw e;
    }
    const browser = new CdpBrowser(child, userDataDir, opts.commandTimeoutMs ?? 30_000);
    const spawnError = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`cannot start ${exe}: ${e.message}`))));
    spawnError.catch(() => undefined);
    try {
      await Promise.race([browser.send('Browser.getVersion'), spawnError]);
    } catch (e) {
      await browser.close();
      throw e;
    }
    return browser;
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let end: number;
    while ((end = this.buffer.indexOf(0)) >= 0) {
      const text = this.buffer.subarray(0, end).toString('utf8');
      this.buffer = this.buffer.subarray(end + 1);
      let msg: CdpMessage;
      try {
        msg = JSON.parse(text) as CdpMessage;
      } catch {
        continue;
      }
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        if (!p) continue;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`CDP ${p.method}: ${msg.error.message} (${msg.error.code})`));
        else p.resolve(msg.result ?? {});
      } else if (msg.method) {
        for (const l of this.listeners.get(msg.method) ?? []) l(msg.params ?? {}, msg.sessionId);
      }
    }
  }

  /** Send a command (to a page when `sessionId` is given) and wait for its result. */
  send(method: string, params: Json = {}, sessionId?: string): Promise<Json> {
    if (this.exited) return Promise.reject(new Error(`CDP ${method}: chromium has exited; stderr tail:\n${this.stderrTail}`));
    const id = this.nextId++;
    const msg: CdpMessage = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`CDP ${method}: no reply within ${this.commandTimeoutMs} ms`));
      }, this.commandTimeoutMs);
      this.pending.set(id, {
        method,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      (this.child.stdio[3] as Writable).write(JSON.stringify(msg) + '\0');
    });
  }

  /** Subscribe to an event; returns the unsubscribe function. */
  on(method: string, listener: Listener): () => void {
    let set = this.listeners.get(method);
    if (!set) this.listeners.set(method, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Resolve with the first `method` event (for `sessionId`, if given) or reject after `timeoutMs`. */
  waitFor(method: string, timeoutMs: number, sessionId?: string): Promise<Json> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`CDP: no ${method} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on(method, (params, sid) => {
        if (sessionId && sid !== sessionId) return;
        clearTimeout(timer);
        off();
        resolve(params);
      });
    });
  }

  /** Close the browser (Browser.close, then SIGKILL after 5 s) and delete its profile. Idempotent. */
  async close(): Promise<void> {
    if (!this.exited) {
      this.send('Browser.close').catch(() => undefined);
      const killTimer = setTimeout(() => {
        if (!this.exited) this.child.kill('SIGKILL');
      }, 5_000);
      await this.exitPromise;
      clearTimeout(killTimer);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        fs.rmSync(this.userDataDir, { recursive: true, force: true });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100)); // the browser's helpers may still be exiting
      }
    }
  }
}

/** A problem seen while loading a page. */
export interface PageProblem {
  kind: 'console' | 'exception' | 'log' | 'request';
  text: string;
}

/** What {@link loadPageInChromium} saw. */
export interface PageResult {
  /** Console errors/warnings, uncaught exceptions, browser log errors, and requests for anything other than the page itself. */
  problems: PageProblem[];
  /** Every URL the page requested. */
  requests: string[];
  /** The value of `evaluate`, if given (JSON-serialisable). */
  value: unknown;
  /** The PNG screenshot's path, if one was requested. */
  screenshotPath?: string;
}

/**
 * Open a local HTML file in headless Chromium, wait for `load`, evaluate `evaluate` (an
 * expression; a Promise result is awaited), optionally save a full-page PNG screenshot, and
 * report problems. The browser is always closed and its profile removed.
 */
export async function loadPageInChromium(
  file: string,
  opts: { evaluate?: string; screenshotPath?: string; width?: number; height?: number; timeoutMs?: number; executable?: string } = {},
): Promise<PageResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const url = pathToFileURL(path.resolve(file)).href;
  const browser = await CdpBrowser.launch({ executable: opts.executable, commandTimeoutMs: timeoutMs });
  try {
    const problems: PageProblem[] = [];
    const requests: string[] = [];
    const { targetId } = (await browser.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await browser.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const mine = (l: Listener): Listener => (p, sid) => {
      if (sid === sessionId) l(p, sid);
    };
    browser.on('Runtime.consoleAPICalled', mine((p) => {
      const type = String(p.type);
      if (type === 'error' || type === 'warning' || type === 'assert') {
        const args = (p.args as Array<{ value?: unknown; description?: string }> | undefined) ?? [];
        problems.push({ kind: 'console', text: `console.${type}: ${args.map((a) => (a.value !== undefined ? String(a.value) : (a.description ?? ''))).join(' ')}` });
      }
    }));
    browser.on('Runtime.exceptionThrown', mine((p) => {
      const d = p.exceptionDetails as { text?: string; exception?: { description?: string } } | undefined;
      problems.push({ kind: 'exception', text: `${d?.text ?? 'exception'} ${d?.exception?.description ?? ''}`.trim() });
    }));
    browser.on('Log.entryAdded', mine((p) => {
      const e = p.entry as { level?: string; text?: string; url?: string } | undefined;
      if (e && (e.level === 'error' || e.level === 'warning')) problems.push({ kind: 'log', text: `${e.level}: ${e.text ?? ''} ${e.url ?? ''}`.trim() });
    }));
    browser.on('Network.requestWillBeSent', mine((p) => {
      const u = String((p.request as { url?: string } | undefined)?.url ?? '');
      requests.push(u);
      if (u !== url && !u.startsWith('data:') && u !== 'about:blank') problems.push({ kind: 'request', text: `request for ${u}` });
    }));
    browser.on('Network.loadingFailed', mine((p) => {
      problems.push({ kind: 'request', text: `loading failed: ${String(p.errorText ?? '')}` });
    }));

    await browser.send('Runtime.enable', {}, sessionId);
    await browser.send('Log.enable', {}, sessionId);
    await browser.send('Network.enable', {}, sessionId);
    await browser.send('Page.enable', {}, sessionId);
    await browser.send('Emulation.setDeviceMetricsOverride', { width: opts.width ?? 1200, height: opts.height ?? 900, deviceScaleFactor: 1, mobile: false }, sessionId);
    const loaded = browser.waitFor('Page.loadEventFired', timeoutMs, sessionId);
    const nav = (await browser.send('Page.navigate', { url }, sessionId)) as { errorText?: string };
    if (nav.errorText) throw new Error(`navigating to ${url} failed: ${nav.errorText}`);
    await loaded;

    let value: unknown;
    if (opts.evaluate !== undefined) {
      const r = (await browser.send('Runtime.evaluate', { expression: opts.evaluate, returnByValue: true, awaitPromise: true }, sessionId)) as {
        result?: { value?: unknown };
        exceptionDetails?: { text?: string; exception?: { description?: string } };
      };
      if (r.exceptionDetails) throw new Error(`evaluate threw: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
      value = r.result?.value;
    }

    let screenshotPath: string | undefined;
    if (opts.screenshotPath !== undefined) {
      const metrics = (await browser.send('Page.getLayoutMetrics', {}, sessionId)) as { cssContentSize?: { width: number; height: number } };
      const size = metrics.cssContentSize ?? { width: opts.width ?? 1200, height: opts.height ?? 900 };
      const shot = (await browser.send(
        'Page.captureScreenshot',
        { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width: Math.ceil(size.width), height: Math.min(16000, Math.ceil(size.height)), scale: 1 } },
        sessionId,
      )) as { data: string };
      fs.writeFileSync(opts.screenshotPath, Buffer.from(shot.data, 'base64'));
      screenshotPath = opts.screenshotPath;
    }
    return { problems, requests, value, screenshotPath };
  } finally {
    await browser.close();
  }
}

/**
 * The expression {@link loadPageInChromium} can evaluate to describe every `svg.sl-plot` on a
 * page: its id, size, and for each series element its name, `data-points`, and how much it drew
 * (path length of `d` for paths, number of circles for point groups).
 */
export const DESCRIBE_PLOTS_JS = `(() => Array.from(document.querySelectorAll('svg.sl-plot')).map((svg) => {
  const box = svg.getBoundingClientRect();
  return {
    id: svg.getAttribute('data-plot-id'),
    width: box.width,
    height: box.height,
    noData: svg.querySelector('.sl-nodata') !== null,
    series: Array.from(svg.querySelectorAll('[data-series]:not(.sl-legend-item)')).map((el) => {
      const isPath = el.tagName.toLowerCase() === 'path';
      const bb = el.getBBox();
      return {
        name: el.getAttribute('data-series'),
        tag: el.tagName.toLowerCase(),
        points: Number(el.getAttribute('data-points')),
        dLength: isPath ? (el.getAttribute('d') || '').length : 0,
        pathLength: isPath ? el.getTotalLength() : 0,
        circles: isPath ? 0 : el.querySelectorAll('circle').length,
        bbox: { width: bb.width, height: bb.height },
      };
    }),
  };
}))()`;

/** One plot as {@link DESCRIBE_PLOTS_JS} describes it. */
export interface PlotDescription {
  id: string | null;
  width: number;
  height: number;
  noData: boolean;
  series: Array<{ name: string | null; tag: string; points: number; dLength: number; pathLength: number; circles: number; bbox: { width: number; height: number } }>;
}

/**
 * Check that every plot drew its data: each series element has data-points > 0 and a non-empty
 * path (positive length, unless a single point) or one circle per point; plots marked "no data"
 * must have no points. Returns the failures (empty when all is well).
 */
export function plotFailures(plots: PlotDescription[], opts: { allowNoData?: string[] } = {}): string[] {
  const failures: string[] = [];
  if (plots.length === 0) failures.push('no svg.sl-plot on the page');
  for (const p of plots) {
    const where = `plot '${p.id}'`;
    if (!(p.width > 0 && p.height > 0)) failures.push(`${where} has size ${p.width}x${p.height}`);
    if (p.noData) {
      if (!opts.allowNoData?.includes(p.id ?? '')) failures.push(`${where} shows "no data"`);
      for (const s of p.series) if (s.points !== 0) failures.push(`${where} shows "no data" but series '${s.name}' has ${s.points} points`);
      continue;
    }
    if (p.series.length === 0) failures.push(`${where} has no series`);
    for (const s of p.series) {
      const sw = `${where}, series '${s.name}'`;
      if (!(s.points > 0)) failures.push(`${sw}: data-points is ${s.points}`);
      if (s.tag === 'path') {
        if (s.dLength === 0) failures.push(`${sw}: empty path d`);
        if (s.points > 1 && !(s.pathLength > 0)) failures.push(`${sw}: path has zero length`);
      } else if (s.circles !== s.points) failures.push(`${sw}: ${s.circles} circles for ${s.points} points`);
    }
  }
  return failures;
}
