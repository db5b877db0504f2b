import { EventEmitter } from 'node:events';

/** Just enough of a TTY for ink: raw mode and readable-style reads; `type` simulates key presses. */
export class FakeTty extends EventEmitter {
  isTTY = true;
  private pending: string[] = [];
  setRawMode(): void {}
  setEncoding(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
  read(): string | null {
    return this.pending.shift() ?? null;
  }
  type(data: string): void {
    this.pending.push(data);
    this.emit('readable');
  }
}

/** A terminal screen that keeps everything written to it. */
export class FakeScreen extends EventEmitter {
  isTTY = true;
  output = '';
  columns = 100;
  rows = 40;
  write(chunk: string, cb?: () => void): boolean {
    this.output += chunk;
    cb?.();
    return true;
  }
}
