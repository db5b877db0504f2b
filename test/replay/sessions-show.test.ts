import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.js';
import { eventLines, terminalSummary } from '../../src/commands/sessions-show.js';
import { recordedEvent } from '../../src/replay/timeline.js';
import { gitEvents, sessionEvents, sshEvents } from './fixtures.js';

const lines = (events: readonly AuditEvent[]): string[] => events.flatMap((e) => eventLines(e));
const ssh = () => sshEvents().map((e) => recordedEvent(e) as AuditEvent);

describe('hoop sessions show, event by event', () => {
  it('prints statements as before', () => {
    const out = lines(sessionEvents().map((e) => recordedEvent(e) as AuditEvent));
    expect(out).toContain('[2025-01-15 09:30:01Z] 1.5ms SELECT 2 (2 rows)');
    expect(out).toContain('  select id, email from customers limit 2');
    expect(out).toContain('[2025-01-15 09:30:34Z] 0.0ms ERROR 42501: hoop: denied by rule no-ddl');
    expect(out).toContain('  params: ["7"]');
  });

  it('prints commands with their decision and exit, shell lines, channels, refused requests and SFTP operations', () => {
    const out = lines(ssh());
    expect(out).toContain('[2025-01-15 09:30:04Z] 12.0ms exec exit 0: allow (rule reads); 6 B out, 0 B in');
    expect(out).toContain('  $ cat /etc/hostname');
    expect(out).toContain('[2025-01-15 09:30:05Z] 4200.0ms exec exit 1: review (rule restarts-reviewed), approved by bob; 48 B out, 0 B in');
    expect(out).toContain('[2025-01-15 09:30:10Z] 12.0ms exec not run: review (rule restarts-reviewed); 0 B out, 0 B in');
    expect(out).toContain('[2025-01-15 09:30:13Z] 12.0ms exec not run: deny (rule no-shutdown); 0 B out, 0 B in');
    expect(out).toContain('[2025-01-15 09:30:01Z] shell command on channel 0 (recorded, not enforced; policy: allow (rule reads))');
    expect(out).toContain('  $ rm -rf /tmp /cache');
    expect(out).toContain('[2025-01-15 09:30:00Z] channel 0 shell (pty xterm-256color 100x30): allow (rule shells)');
    expect(out).toContain('[2025-01-15 09:30:15Z] channel 6 subsystem sftp: allow (rule sftp)');
    expect(out).toContain('[2025-01-15 09:30:02Z] refused direct-tcpip 127.0.0.1:5432: deny (rule no-forwarding): port forwarding is off');
    expect(out).toContain('[2025-01-15 09:30:15Z] sftp write /tmp/report.csv 12.1 KiB: ok');
    expect(out).toContain('[2025-01-15 09:30:15Z] sftp rename /tmp/report.csv -> /srv/report.csv: ok');
    expect(out).toContain('[2025-01-15 09:30:15Z] sftp remove /etc/passwd: permission-denied');
    // Raw terminal traffic is for `hoop replay`.
    expect(out.some((l) => l.includes('Welcome'))).toBe(false);
  });

  it('prints pushes with every ref update', () => {
    const out = lines(gitEvents().map((e) => recordedEvent(e) as AuditEvent));
    expect(out).toContain('[2025-01-15 09:30:01Z] 850.0ms git fetch acme/api.git: allow (rule fetches), exit 0; 300 B in, 50.8 KiB out');
    expect(out).toContain('  wants 2 object(s)');
    expect(out).toContain('[2025-01-15 09:30:02Z] 5400.0ms git push acme/api.git: review (rule pushes-reviewed), exit 1; 2.0 KiB in, 120 B out');
    expect(out).toContain('  update refs/heads/main 1111111..2222222: allow (rule pushes-reviewed), ok');
    expect(out).toContain('  delete refs/heads/old 1111111..0000000: deny (rule no-ref-delete), refused by hoop');
    expect(out).toContain('  create refs/heads/prod 0000000..2222222: deny (rule no-infra-push)');
  });

  it('counts terminal traffic per channel and says how to watch it', () => {
    expect(terminalSummary(ssh(), 's_ssh')).toBe('terminal   channel 0: 11 event(s), channel 5: 3 event(s) (hoop replay s_ssh to watch)');
    expect(terminalSummary(sessionEvents().map((e) => recordedEvent(e) as AuditEvent), 's_replay')).toBeNull();
  });
});
