import { writeFileSync } from 'node:fs';
import { defineCommand, gatewayOptions } from '../cli/command.js';
import { UsageError } from '../errors.js';

const FORMATS = ['text', 'json', 'asciicast'] as const;

function positive(value: unknown, flag: string, allowZero: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new UsageError(`${flag} expects a ${allowZero ? 'non-negative' : 'positive'} number, not "${String(value)}"`);
  return n;
}

function channelNumber(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--channel expects a channel number (0, 1, 2…), not "${String(value)}"`);
  return n;
}

export default defineCommand({
  name: 'replay',
  summary: 'play a recorded session back with its original timing, or print it as text, JSON or an asciicast',
  args: [{ name: 'id', description: 'session id (from `hoop sessions`)', required: true }],
  options: [
    { flags: '--speed <x>', description: 'playback speed: 2 plays twice as fast (default 1)' },
    { flags: '--skip-idle <seconds>', description: 'cap every pause between statements (or terminal output) at this many seconds' },
    { flags: '--channel <n>', description: "SSH sessions: show this channel's terminal (default: the first shell's)" },
    { flags: '--format <format>', description: 'print instead of playing: text, json (the recorded events, one per line) or asciicast (asciinema v2)', choices: FORMATS },
    { flags: '-o, --out <file>', description: 'write the --format output to this file instead of stdout' },
    { flags: '-c, --config <file>', description: 'read the store of this gateway config directly' },
    ...gatewayOptions,
  ],
  examples: [
    'hoop replay s_1f0c…',
    'hoop replay s_1f0c… --speed 4 --skip-idle 2',
    'hoop replay s_1f0c… --format json --config hoop.yaml',
    'hoop replay s_1f0c… --format asciicast --out session.cast && asciinema play session.cast',
    'hoop replay s_1f0c… --channel 2',
  ],
  async run(ctx, args, options) {
    const speed = positive(options.speed, '--speed', false) ?? 1;
    const skipIdle = positive(options.skipIdle, '--skip-idle', true);
    const playbackOptions = { speed, skipIdleMs: skipIdle === undefined ? null : skipIdle * 1000 };
    let format = options.format as (typeof FORMATS)[number] | undefined;
    if (options.out !== undefined && format === undefined) throw new UsageError('--out needs --format (text, json or asciicast)');
    const channel = channelNumber(options.channel);
    const { loadTimeline } = await import('../replay/source.js');
    const timeline = await loadTimeline(options, args[0]!, channel === undefined ? {} : { channel });
    if (channel !== undefined && timeline.terminal === null) {
      const terminals = timeline.channels.filter((c) => c.terminalEvents > 0).map((c) => c.channel);
      throw new UsageError(
        `session ${args[0]!} has no terminal traffic on channel ${channel}`,
        terminals.length > 0 ? `channels with a terminal: ${terminals.join(', ')}` : 'this session recorded no terminal: leave out --channel',
      );
    }
    if (format === undefined) {
      if (process.stdin.isTTY && process.stdout.isTTY) {
        const [{ createPlayback }, { runReplayPlayer }] = await Promise.all([import('../replay/player-model.js'), import('../replay/player.js')]);
        return runReplayPlayer(createPlayback(timeline, playbackOptions));
      }
      ctx.status('not a terminal: printing the session as --format text');
      format = 'text';
    }
    const [{ formatReplay }, { countsText }] = await Promise.all([import('../replay/format.js'), import('../replay/render.js')]);
    const text = formatReplay(timeline, format, playbackOptions);
    if (typeof options.out === 'string') {
      writeFileSync(options.out, text === '' ? '' : `${text}\n`);
      ctx.status(`wrote ${options.out} (${countsText(timeline)})`);
    } else if (text !== '') ctx.out(text);
    return 0;
  },
});
