#!/usr/bin/env node
// SSH throughput straight to OpenSSH's sshd and through hoop, in the same run: exec download and
// upload, sftp get and put, and output through a pty (which hoop records byte for byte), with exec
// output recording off (execOutputBytes: 0) and on (the default 64 KiB). Prints one markdown table
// on stdout, progress on stderr. Not a test: timings are noisy, so nothing here asserts beyond
// "every byte arrived". Needs `npm run build` first (it runs dist/ through bin/hoop).
//
//   node bench/ssh.mjs [--size 200] [--pty-size 50] [--reps 3] [--quick]
//
// Everything runs on loopback: its own sshd (a temp sshd_config, host and client keys), a gateway
// with two ssh connections to it (allow-all policy), a service account and `hoop connect`.
//
// How a run is measured: each path gets one SSH connection held open as an OpenSSH ControlMaster,
// and every transfer is a new channel on it (`ssh -S ctl HOST CMD`, `sftp -o ControlPath=ctl`), so
// MB/s is the channel's throughput, not the handshake's. What a new connection costs (for hoop:
// the tunnel, the gateway's SSH handshake and its own to the host) is the separate
// "connect + true" row, measured without multiplexing.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem, userInfo } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, hoopBin, launchGateway, median, onCleanup, peakRssMb, run, stopChild, track, waitForJson, which } from './lib.mjs';

const MB = 1_000_000;
const SSHD = '/usr/sbin/sshd';
/** sshd's privilege-separation directory on Debian: sshd will not start as root without it. */
const PRIVSEP_DIR = '/run/sshd';
/** Base64 lines as base64(1) writes them: what a terminal typically shows. */
const B64_LINE = 76;
const RUN_TIMEOUT_MS = 15 * 60_000;

const { values: args } = parseArgs({
  options: {
    size: { type: 'string' },
    'pty-size': { type: 'string' },
    reps: { type: 'string' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.error('usage: node bench/ssh.mjs [--size MB (default 200; 20 with --quick)] [--pty-size MB (default size/4)] [--reps N (default 3; 1 with --quick)] [--quick]');
  process.exit(0);
}
const sizeMb = positive(args.size ?? (args.quick ? '20' : '200'), '--size');
const ptyMb = positive(args['pty-size'] ?? String(Math.max(1, Math.round(sizeMb / 4))), '--pty-size');
const reps = Math.round(positive(args.reps ?? (args.quick ? '1' : '3'), '--reps'));
const bytes = Math.round(sizeMb * MB);
const ptyBytes = Math.round(ptyMb * MB);

function positive(text, flag) {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`bench: ${flag} expects a positive number, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}

const status = (msg) => console.error(`bench: ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const tool of ['ssh', 'sftp', 'ssh-keygen', SSHD]) {
  if (tool === SSHD ? !existsSync(SSHD) : !which(tool)) {
    console.error(`bench: ${tool} not found; install OpenSSH (apt-get install openssh-client openssh-server)`);
    process.exit(2);
  }
}
if (!existsSync(join(hoopBin, '../../dist/cli/main.js'))) {
  console.error('bench: dist/ is missing; run `npm run build` first');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'hoop-bench-ssh-'));
onCleanup(() => rmSync(work, { recursive: true, force: true }));

// ---- sshd ----

/**
 * sshd runs each connection in its own session (setsid), so a signal to the listener misses them:
 * freeze the listener so it forks no more, then kill it and every descendant found in /proc. This
 * runs before bench/lib's exit cleanup (prependListener), while the descendants are still its own.
 */
let sshdPid = null;
process.prependListener('exit', () => {
  if (sshdPid !== null) killTree(sshdPid);
});

function killTree(pid) {
  try {
    process.kill(pid, 'SIGSTOP');
  } catch {
    return;
  }
  for (const p of [...descendantsOf(pid), pid]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function descendantsOf(root) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const kid of children.get(queue.shift()) ?? []) {
      found.push(kid);
      queue.push(kid);
    }
  }
  return found;
}

function keygen(file, comment) {
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  const [type, blob] = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  return `${type} ${blob}`;
}

async function startSshd() {
  const dir = join(work, 'sshd');
  mkdirSync(dir);
  if (process.getuid?.() === 0 && !existsSync(PRIVSEP_DIR)) mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  const hostPublicKey = keygen(hostKey, 'hoop-bench-host');
  const clientPublicKey = keygen(clientKey, 'hoop-bench-client');
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, `${clientPublicKey}\n`);
  const configPath = join(dir, 'sshd_config');
  const logPath = join(dir, 'sshd.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    writeFileSync(
      configPath,
      [
        'ListenAddress 127.0.0.1',
        `Port ${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        // The temp dir and keys belong to whoever runs the bench, not to the login user's home.
        'StrictModes no',
        'PermitRootLogin prohibit-password',
        'Subsystem sftp internal-sftp',
        'PrintMotd no',
        'PrintLastLog no',
        'UseDNS no',
        'MaxStartups 100',
        'MaxSessions 100',
        // DEBUG1 logs each connection's negotiated cipher, which the report names; nothing per packet.
        'LogLevel DEBUG1',
        '',
      ].join('\n'),
    );
    const logFd = openSync(logPath, 'a');
    // -D: stay in the foreground as our child; -e: log to stderr (the log file), not syslog.
    const child = spawn(SSHD, ['-D', '-e', '-f', configPath], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    sshdPid = child.pid;
    child.once('exit', () => {
      if (sshdPid === child.pid) sshdPid = null;
    });
    const listening = `Server listening on 127.0.0.1 port ${port}.`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const log = readFileSync(logPath, 'utf8');
      if (log.includes(listening)) {
        const user = userInfo().username;
        const knownHosts = join(dir, 'known_hosts');
        writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPublicKey}\n`);
        return { dir, port, user, hostPublicKey, clientKey, knownHosts, logPath };
      }
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        if (sshdPid !== null) killTree(sshdPid);
        // Another process took the port between the probe and sshd's bind: pick another.
        if (/Address already in use|Cannot bind any address/.test(log) && attempt < 5) break;
        throw new Error(`sshd did not start:\n${log.slice(-3000)}`);
      }
      await sleep(50);
    }
  }
}

// ---- the gateway and hoop connect ----

const CONN_REC = 'bench-rec';
const CONN_NOREC = 'bench-norec';

async function startGateway(sshd) {
  const dir = join(work, 'gateway');
  mkdirSync(dir);
  const configPath = join(dir, 'hoop.yaml');
  const connection = (name, extra) => `  - name: ${name}
    type: ssh
    host: 127.0.0.1
    port: ${sshd.port}
    user: ${sshd.user}
    privateKey: \${file:${sshd.clientKey}}
    hostKey: ${sshd.hostPublicKey}${extra}
`;
  writeFileSync(
    configPath,
    `listen: 127.0.0.1:0
store: sqlite:./hoop.db
log:
  level: info
policy:
  rules:
    - name: bench-allow-all
      action: allow
connections:
${connection(CONN_REC, '')}${connection(CONN_NOREC, '\n    execOutputBytes: 0')}`,
  );
  return { ...(await launchGateway({ configPath, account: 'bench-ssh' })), dir };
}

async function startConnect(gateway, name) {
  const child = track(
    spawn(process.execPath, [hoopBin, 'connect', name, '--json', '--gateway', gateway.url, '--token', gateway.token], {
      stdio: ['ignore', 'pipe', 'ignore'],
      // Its own config dir: the bench never reads or writes the machine's hoop login.
      env: { ...process.env, HOOP_CONFIG_DIR: join(gateway.dir, `cli-${name}`) },
    }),
  );
  const ready = await waitForJson(child.stdout, (j) => j.status === 'ready', `hoop connect ${name}`, child);
  child.stdout.resume();
  if (typeof ready.sshConfig !== 'string') throw new Error(`hoop connect ${name} printed no sshConfig: ${JSON.stringify(ready)}`);
  return { process: child, sshConfig: ready.sshConfig };
}

// ---- clients ----

/** Runs a client to completion; resolves with its wall time, stdout byte count and stderr. */
function timed(cmd, argv, { stdin = 'ignore', stdout = 'ignore', keepStdout = false } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = track(spawn(cmd, argv, { stdio: [stdin, stdout, 'pipe'] }));
    let out = 0;
    let text = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      out += d.length;
      if (keepStdout) text += d.toString('utf8');
    });
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (code === 0) resolve({ ms, out, text, stderr });
      else reject(new Error(`${cmd} ${argv.join(' ')} exited with ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`));
    });
    // A stdin pipe stays open (nothing written) until the command ends: a pty session must not see EOF first.
    if (stdin === 'pipe') child.once('exit', () => child.stdin.end());
  });
}

/**
 * One way of reaching the host: `base` are the ssh options (and `dest` the destination) that make
 * a fresh connection; `mux` adds the ControlMaster socket every measured transfer goes through.
 */
function path(name, label, recorded, base, dest) {
  const control = join(work, `ctl-${name}`);
  const mux = ['-o', `ControlPath=${control}`, '-o', 'ControlMaster=no'];
  return { name, label, recorded, base, dest, control, mux, master: null };
}

async function openMaster(p) {
  p.master = track(spawn('ssh', [...p.base, '-o', `ControlPath=${p.control}`, '-o', 'ControlMaster=yes', '-o', 'ControlPersist=no', '-N', p.dest], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  p.master.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const deadline = Date.now() + 30_000;
  while (spawnSync('ssh', [...p.base, ...p.mux, '-O', 'check', p.dest], { stdio: 'ignore' }).status !== 0) {
    if (p.master.exitCode !== null || Date.now() > deadline) throw new Error(`ssh ControlMaster for ${p.label} did not start: ${stderr.trim()}`);
    await sleep(50);
  }
}

/** The cipher each direction negotiated, from `ssh -v` (client side) and sshd's DEBUG1 log (host side). */
function clientCipher(p) {
  const r = spawnSync('ssh', [...p.base, '-v', '-o', 'ControlMaster=no', '-o', 'ControlPath=none', p.dest, 'true'], { encoding: 'utf8' });
  return /kex: server->client cipher: (\S+)/.exec(r.stderr)?.[1] ?? '?';
}

function gatewayToHostCipher(logPath) {
  // sshd logs a connection's ident, then its kex; the bench opens connections one at a time here.
  const log = readFileSync(logPath, 'utf8');
  const at = log.lastIndexOf('remote software version ssh2js');
  if (at < 0) return '?';
  return /kex: server->client cipher: (\S+)/.exec(log.slice(at))?.[1] ?? '?';
}

// ---- the run ----

function machine() {
  const cpu = cpus();
  const load = loadavg()[0].toFixed(2);
  const ssh = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return {
    cores: cpu.length,
    model: cpu[0]?.model?.replace(/\s+/g, ' ').trim() ?? 'cpu',
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: release(),
    load,
    node: process.version,
    openssh: (ssh.stderr || ssh.stdout).trim().split(',')[0],
  };
}

/** Writes `n` random bytes (incompressible, in case a client turns compression on). */
function writeRandom(file, n) {
  const fd = openSync(file, 'w');
  const chunk = 4 * 1024 * 1024;
  for (let left = n; left > 0; left -= chunk) writeSync(fd, randomBytes(Math.min(chunk, left)));
  closeSync(fd);
}

/** About `n` bytes of base64 text (random bytes, 76-column lines, as `base64` prints them): what a terminal shows. */
function writeBase64(file, n) {
  const fd = openSync(file, 'w');
  const perLine = (B64_LINE / 4) * 3;
  const linesPerChunk = 16 * 1024;
  let left = Math.ceil((n * perLine) / (B64_LINE + 1));
  while (left > 0) {
    const raw = randomBytes(Math.min(left, perLine * linesPerChunk));
    left -= raw.length;
    const text = raw.toString('base64');
    const lines = [];
    for (let i = 0; i < text.length; i += B64_LINE) lines.push(text.slice(i, i + B64_LINE));
    writeSync(fd, `${lines.join('\n')}\n`);
  }
  closeSync(fd);
  return statSync(file).size;
}

async function main() {
  const info = machine();
  status(`${info.cores} cores, ${info.memory}, node ${info.node}, ${info.openssh}; ${sizeMb} MB per transfer, pty ${ptyMb} MB, ${reps} rep(s)`);

  const sshd = await startSshd();
  status(`sshd on 127.0.0.1:${sshd.port}`);
  const hostDir = join(work, 'host');
  const clientDir = join(work, 'client');
  mkdirSync(hostDir);
  mkdirSync(clientDir);
  const source = join(work, 'random.bin');
  writeRandom(source, bytes);
  const ptyText = join(work, 'pty.b64');
  const ptyTextBytes = writeBase64(ptyText, ptyBytes);

  const gateway = await startGateway(sshd);
  const rssAfterStart = peakRssMb(gateway.process.pid);
  status(`gateway at ${gateway.url} (pid ${gateway.process.pid})`);
  const tunnels = { rec: await startConnect(gateway, CONN_REC), norec: await startConnect(gateway, CONN_NOREC) };

  const common = ['-q', '-o', 'BatchMode=yes'];
  const directBase = [
    '-F', '/dev/null', ...common,
    '-i', sshd.clientKey,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', `UserKnownHostsFile=${sshd.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'UpdateHostKeys=no',
    '-p', String(sshd.port),
  ];
  const direct = path('direct', 'direct OpenSSH', '—', directBase, `${sshd.user}@127.0.0.1`);
  const hoopOff = path('norec', 'hoop, execOutputBytes: 0', 'exec: byte counts only', ['-F', tunnels.norec.sshConfig, ...common], CONN_NOREC);
  const hoopOn = path('rec', 'hoop, execOutputBytes: 64 KiB (default)', 'exec: first 64 KiB of output', ['-F', tunnels.rec.sshConfig, ...common], CONN_REC);
  const hoopSftp = { ...hoopOn, label: 'hoop', recorded: 'one sftp.op per file (path, bytes)' };
  const hoopPty = { ...hoopOn, label: 'hoop', recorded: 'every byte, masked (terminal.output)' };

  // Connection setup first, one connection at a time, so sshd's log names each one's cipher.
  const ciphers = {
    direct: clientCipher(direct),
    toGateway: clientCipher(hoopOn),
    toHost: gatewayToHostCipher(sshd.logPath),
  };
  status(`ciphers: direct ${ciphers.direct}; hoop: client → gateway ${ciphers.toGateway}, gateway → sshd ${ciphers.toHost}`);

  const connectMs = { direct: [], hoop: [] };
  for (let i = 0; i < Math.max(reps, 3); i++) {
    for (const [key, p] of [['direct', direct], ['hoop', hoopOn]]) {
      const r = await timed('ssh', [...p.base, '-o', 'ControlMaster=no', '-o', 'ControlPath=none', p.dest, 'true']);
      connectMs[key].push(r.ms);
    }
  }
  status(`connect + true: direct ${median(connectMs.direct).toFixed(0)} ms, hoop ${median(connectMs.hoop).toFixed(0)} ms`);

  for (const p of [direct, hoopOff, hoopOn]) await openMaster(p);

  const sftpBatch = (line) => {
    const file = join(clientDir, `batch-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, `${line}\n`);
    return file;
  };
  // sftp takes ssh's options, except that the port is -P.
  const sftpOptions = (p) => [...p.base.map((a) => (a === '-p' ? '-P' : a)), ...p.mux];
  const devNull = () => openSync('/dev/null', 'w');
  const input = () => openSync(source, 'r');

  /** Each transfer: how to run it on a path, and how many bytes it moved (checked). */
  const transfers = [
    {
      name: `exec download (\`cat\` ${sizeMb} MB)`,
      paths: [direct, hoopOff, hoopOn],
      bytes,
      async run(p) {
        const out = devNull();
        try {
          return (await timed('ssh', [...p.base, ...p.mux, p.dest, `cat ${source}`], { stdout: out })).ms;
        } finally {
          closeSync(out);
        }
      },
    },
    {
      name: `exec upload (stdin → \`wc -c\`, ${sizeMb} MB)`,
      paths: [direct, hoopOff, hoopOn],
      bytes,
      async run(p) {
        const inp = input();
        try {
          const r = await timed('ssh', [...p.base, ...p.mux, p.dest, 'wc -c'], { stdin: inp, stdout: 'pipe', keepStdout: true });
          if (Number(r.text.trim()) !== bytes) throw new Error(`${p.label}: the host received ${r.text.trim()} bytes, not ${bytes}`);
          return r.ms;
        } finally {
          closeSync(inp);
        }
      },
    },
    {
      name: `sftp get (${sizeMb} MB)`,
      paths: [direct, hoopSftp],
      bytes,
      async run(p) {
        const local = join(clientDir, 'got.bin');
        const batch = sftpBatch(`get ${source} ${local}`);
        try {
          const r = await timed('sftp', [...sftpOptions(p), '-b', batch, p.dest]);
          const got = statSync(local).size;
          if (got !== bytes) throw new Error(`${p.label}: sftp get brought ${got} bytes, not ${bytes}`);
          return r.ms;
        } finally {
          rmSync(local, { force: true });
          rmSync(batch, { force: true });
        }
      },
    },
    {
      name: `sftp put (${sizeMb} MB)`,
      paths: [direct, hoopSftp],
      bytes,
      async run(p) {
        const remote = join(hostDir, 'put.bin');
        const batch = sftpBatch(`put ${source} ${remote}`);
        try {
          const r = await timed('sftp', [...sftpOptions(p), '-b', batch, p.dest]);
          const got = statSync(remote).size;
          if (got !== bytes) throw new Error(`${p.label}: sftp put stored ${got} bytes, not ${bytes}`);
          return r.ms;
        } finally {
          rmSync(remote, { force: true });
          rmSync(batch, { force: true });
        }
      },
    },
    {
      name: `pty output (\`ssh -tt\`, \`cat\` of ${(ptyTextBytes / MB).toFixed(0)} MB of base64 text)`,
      paths: [direct, hoopPty],
      // Replaced by what the client received: the text plus the CR the pty adds before each newline.
      bytes: ptyTextBytes,
      async run(p) {
        const r = await timed('ssh', [...p.base, ...p.mux, '-tt', p.dest, `cat ${ptyText}`], { stdin: 'pipe', stdout: 'pipe' });
        if (r.out < ptyTextBytes) throw new Error(`${p.label}: the pty delivered ${r.out} bytes of ${ptyTextBytes}`);
        this.received = r.out;
        return r.ms;
      },
    },
  ];

  // Warm-up, not measured: the masters' first channels, the gateway's JIT.
  for (const p of [direct, hoopOff, hoopOn]) await timed('ssh', [...p.base, ...p.mux, p.dest, `head -c 4000000 ${source}`], { stdout: 'pipe' });

  // What a channel costs before any byte moves (the host starts the user's shell for each command):
  // part of every transfer's time below.
  const channelMs = { direct: [], hoop: [] };
  for (let i = 0; i < Math.max(reps, 3); i++) {
    for (const [key, p] of [['direct', direct], ['hoop', hoopOn]]) channelMs[key].push((await timed('ssh', [...p.base, ...p.mux, p.dest, 'true'])).ms);
  }
  status(`new channel + true: direct ${median(channelMs.direct).toFixed(0)} ms, hoop ${median(channelMs.hoop).toFixed(0)} ms`);

  const results = new Map();
  for (let rep = 0; rep < reps; rep++) {
    for (const t of transfers) {
      // Rotated per repetition, so no path is always the one that runs first.
      const order = t.paths.map((_, i) => t.paths[(i + rep) % t.paths.length]);
      for (const p of order) {
        const ms = await t.run(p);
        const key = `${t.name}\0${p.label}`;
        results.set(key, [...(results.get(key) ?? []), ms]);
        status(`rep ${rep + 1}/${reps} · ${t.name} · ${p.label}: ${((t.received ?? t.bytes) / MB / (ms / 1000)).toFixed(1)} MB/s`);
      }
    }
  }

  const gatewayPeak = peakRssMb(gateway.process.pid);
  const connectPeak = Math.max(peakRssMb(tunnels.rec.process.pid), peakRssMb(tunnels.norec.process.pid));
  for (const p of [direct, hoopOff, hoopOn]) if (spawnSync('ssh', [...p.base, ...p.mux, '-O', 'check', p.dest], { stdio: 'ignore' }).status !== 0) status(`warning: the ControlMaster of ${p.label} was gone by the end`);

  // ---- the report ----
  const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
  const rows = [];
  const directConnect = median(connectMs.direct);
  const hoopConnect = median(connectMs.hoop);
  const diff = (a, b) => `${a >= b ? '+' : '−'}${fmt(Math.abs(a - b))} ms`;
  rows.push(`| new connection + \`true\` (no multiplexing) | direct OpenSSH | — | ${fmt(directConnect)} ms | |`);
  rows.push(`| | hoop | session start/end, ssh.exec | ${fmt(hoopConnect)} ms | ${diff(hoopConnect, directConnect)} |`);
  const directChannel = median(channelMs.direct);
  const hoopChannel = median(channelMs.hoop);
  rows.push(`| new channel + \`true\` (open connection) | direct OpenSSH | — | ${fmt(directChannel)} ms | |`);
  rows.push(`| | hoop | ssh.channel, ssh.exec | ${fmt(hoopChannel)} ms | ${diff(hoopChannel, directChannel)} |`);
  for (const t of transfers) {
    const moved = t.received ?? t.bytes;
    const rate = (label) => moved / MB / (median(results.get(`${t.name}\0${label}`) ?? []) / 1000);
    const base = rate(direct.label);
    t.paths.forEach((p, i) => {
      const r = rate(p.label);
      rows.push(`| ${i === 0 ? t.name : ''} | ${p.label} | ${p.recorded} | ${fmt(r, 1)} MB/s | ${p === direct ? '1.00×' : `${fmt(r / base, 2)}×`} |`);
    });
  }

  const lines = [
    '## SSH through hoop vs direct OpenSSH',
    '',
    `${info.cores} × ${info.model}, ${info.memory}, Linux ${info.kernel}; node ${info.node}; ${info.openssh}. ` +
      `Load average (1 min) ${info.load} at start, ${loadavg()[0].toFixed(2)} at end: more than the core count means other work skewed the figures. ` +
      `Median of ${reps} run(s); MB = 10^6 bytes. Ciphers: direct ${ciphers.direct}; through hoop ${ciphers.toGateway} (ssh → gateway) and ${ciphers.toHost} (gateway → sshd).`,
    '',
    '| transfer | path | what hoop records | median | vs direct |',
    '|---|---|---|---:|---:|',
    ...rows,
    '',
    `Gateway peak RSS (VmHWM): ${fmt(gatewayPeak)} MB (${fmt(rssAfterStart)} MB after start); \`hoop connect\` peak RSS: ${fmt(connectPeak)} MB.`,
    '',
    'Each transfer is a new channel on an SSH connection already open (ControlMaster), timed from the client starting to it exiting,',
    'so its time includes the "new channel" row (mostly the host starting the login shell that runs the command).',
    'The first row is what opening a connection costs (through hoop: the tunnel, the gateway\'s handshake, and its own to the host, which it starts at once).',
    'Everything runs on this one machine: the ssh client, `hoop connect`, the gateway and sshd share its cores.',
  ];
  console.log(lines.join('\n'));

  for (const p of [direct, hoopOff, hoopOn]) if (p.master) await stopChild(p.master);
  for (const t of Object.values(tunnels)) await stopChild(t.process);
  await stopChild(gateway.process);
}

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
