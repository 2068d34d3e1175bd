/**
 * Atomic file writes: the bytes go to a temporary file in the target's directory, which is
 * fsynced and renamed over the target, so a reader sees the old file or the complete new one,
 * never a partial write; on failure the temporary file is removed.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { SpeedlimitsError } from './errors.js';

const WRITE_CHUNK = 1 << 30;

function tempPathFor(target: string): string {
  const abs = nodePath.resolve(target);
  return nodePath.join(nodePath.dirname(abs), `.${nodePath.basename(abs)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** An ERR_IO error naming the call, the action and the path, with the original as `cause`. */
export function ioError(fn: string, file: string, action: string, cause: unknown): SpeedlimitsError {
  const c = cause as { message?: unknown; code?: unknown; syscall?: unknown } | null;
  const reason = c && typeof c.message === 'string' ? c.message : String(cause);
  const details: Record<string, unknown> = { path: file };
  if (c && typeof c.code === 'string') details.errno = c.code;
  if (c && typeof c.syscall === 'string') details.syscall = c.syscall;
  const err = new SpeedlimitsError('ERR_IO', `${fn}: cannot ${action} '${file}': ${reason}`, details);
  Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
  return err;
}

function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // best effort: directories cannot be opened/fsynced on every platform
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // ignored
      }
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(dir, 'r');
    await fh.sync();
  } catch {
    // best effort
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Write `chunks` to `path` atomically (see the file comment). Errors are ERR_IO naming `fn`. */
export async function writeFileAtomic(fn: string, path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const tmp = tempPathFor(path);
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(tmp, 'wx', 0o666);
  } catch (e) {
    throw ioError(fn, path, 'write', e);
  }
  try {
    try {
      for (const chunk of chunks) {
        let off = 0;
        while (off < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, off, Math.min(chunk.length - off, WRITE_CHUNK), null);
          off += bytesWritten;
        }
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, path);
  } catch (e) {
    await fs.promises.unlink(tmp).catch(() => undefined);
    throw ioError(fn, path, 'write', e);
  }
  await syncDir(nodePath.dirname(nodePath.resolve(path)));
}

/** Synchronous {@link writeFileAtomic}. */
export function writeFileAtomicSync(fn: string, path: string, chunks: readonly Uint8Array[]): void {
  const tmp = tempPathFor(path);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'wx', 0o666);
  } catch (e) {
    throw ioError(fn, path, 'write', e);
  }
  try {
    try {
      for (const chunk of chunks) {
        let off = 0;
        while (off < chunk.length) off += fs.writeSync(fd, chunk, off, Math.min(chunk.length - off, WRITE_CHUNK));
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw ioError(fn, path, 'write', e);
  }
  syncDirSync(nodePath.dirname(nodePath.resolve(path)));
}

/** Write UTF-8 text atomically. */
export function writeTextAtomic(fn: string, path: string, text: string): Promise<void> {
  return writeFileAtomic(fn, path, [Buffer.from(text, 'utf8')]);
}
