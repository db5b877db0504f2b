import { spawn } from 'node:child_process';

/**
 * Opens a URL in the user's browser when this machine seems to have one (a desktop session, or a
 * Mac/Windows host). On a headless machine it does nothing: the printed URL works from any device.
 */
export function openBrowser(url: string): boolean {
  const platform = process.platform;
  const command = platform === 'darwin' ? 'open' : platform === 'win32' ? 'cmd' : 'xdg-open';
  if (platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return false;
  const args = platform === 'win32' ? ['/c', 'start', '""', url] : [url];
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
    return true;
  } catch {
    return false;
  }
}
