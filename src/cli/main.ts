import { Command, CommanderError, Option } from 'commander';
import { ExitCode, HoopError, isUserError } from '../errors.js';
import { VERSION } from '../version.js';
import type { CommandContext, CommandSpec } from './command.js';
import { registry } from '../commands/registry.js';

function write(stream: NodeJS.WriteStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}

function reportError(err: unknown): number {
  if (err instanceof HoopError) {
    write(process.stderr, `hoop: ${err.message}`);
    if (err.hint) write(process.stderr, `  hint: ${err.hint}`);
    if (!isUserError(err) && process.env.HOOP_DEBUG) write(process.stderr, String((err as Error).stack));
    return err.exitCode;
  }
  write(process.stderr, `hoop: internal error: ${err instanceof Error ? err.message : String(err)}`);
  write(process.stderr, '  this is a bug in hoop; rerun with HOOP_DEBUG=1 for details and report it');
  if (process.env.HOOP_DEBUG && err instanceof Error) write(process.stderr, String(err.stack));
  return ExitCode.internal;
}

/** Builds the commander program from the registry. Exported for help and completion generation. */
export function buildProgram(specs: readonly CommandSpec[], onRun: (spec: CommandSpec, args: string[], opts: Record<string, unknown>, passThrough: string[]) => void): Command {
  const program = new Command('hoop')
    .description('Access gateway for AI agents and people: verified identity, recorded statements, approvals, masking.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    // `hoop sessions show ID --json`: options after a subcommand belong to the subcommand.
    .enablePositionalOptions()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) })
    .exitOverride();
  const groups = new Map<string, Command>([['', program]]);
  const groupFor = (words: string[]): Command => {
    const key = words.join(' ');
    const existing = groups.get(key);
    if (existing) return existing;
    const parent = groupFor(words.slice(0, -1));
    const group = parent.command(words.at(-1)!).description(`${words.join(' ')} commands`);
    group.exitOverride().enablePositionalOptions();
    groups.set(key, group);
    return group;
  };
  for (const spec of specs) {
    const words = spec.name.split(' ');
    const parent = groupFor(words.slice(0, -1));
    const cmd = parent.command(words.at(-1)!).description(spec.summary).exitOverride().enablePositionalOptions();
    groups.set(spec.name, cmd);
    for (const a of spec.args ?? []) {
      const n = a.variadic ? `${a.name}...` : a.name;
      cmd.argument(a.required ? `<${n}>` : `[${n}]`, a.description);
    }
    for (const o of spec.options ?? []) {
      const opt = new Option(o.flags, o.description);
      if (o.default !== undefined) opt.default(o.default);
      if (o.choices) opt.choices(o.choices);
      cmd.addOption(opt);
    }
    if (spec.examples?.length) cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  $ ${e}`).join('\n')}\n`);
    if (spec.passThrough) cmd.allowExcessArguments(true);
    cmd.action((...actionArgs: unknown[]) => {
      const command = actionArgs.at(-1) as Command;
      const positional = command.args;
      const variadic = spec.args?.some((a) => a.variadic) ?? false;
      // Commander hands everything after `--` over as extra positional arguments.
      const declared = variadic ? positional.length : (spec.args?.length ?? 0);
      onRun(spec, positional.slice(0, declared), command.opts(), spec.passThrough ? positional.slice(declared) : []);
    });
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  let selected: { spec: CommandSpec; args: string[]; opts: Record<string, unknown>; passThrough: string[] } | undefined;
  const program = buildProgram(registry, (spec, args, opts, passThrough) => {
    selected = { spec, args, opts, passThrough };
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : ExitCode.usage;
      return;
    }
    process.exitCode = reportError(err);
    return;
  }
  if (!selected) return;
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const ctx: CommandContext = {
    out: (t) => write(process.stdout, t),
    status: (t) => write(process.stderr, t),
    passThrough: selected.passThrough,
    signal: controller.signal,
  };
  try {
    const code = await selected.spec.run(ctx, selected.args, selected.opts);
    process.exitCode = code ?? 0;
  } catch (err) {
    process.exitCode = reportError(err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
