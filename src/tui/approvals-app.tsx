import { Box, Text, render, useApp, useInput, useWindowSize } from 'ink';
import { useCallback, useEffect, useRef, useState } from 'react';
import { UsageError } from '../errors.js';
import type { GatewayAuth } from '../tunnel/local-end.js';
import { type ApprovalsClient, HttpApprovalsClient } from './approvals-client.js';
import { type Action, DEFAULT_WINDOW, type KeyPress, elsewhereNotice, initialState, keyAction, selectedRequest, step } from './approvals-model.js';
import { Prompt } from './components/Prompt.js';
import { RequestDetail } from './components/RequestDetail.js';
import { RequestList } from './components/RequestList.js';
import { KeyHelp, StatusBar } from './components/StatusBar.js';

export interface AppProps {
  /** The gateway's approvals API (an in-memory double in tests). */
  readonly client: ApprovalsClient;
  /** The clock for ages and expiry countdowns; tests pin it. */
  readonly clock?: () => number;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The model plus its effects: `step` decides, this runs what it asks for (gateway calls, quitting)
 * and feeds the outcome back in. The state lives in a ref as well so that several events landing
 * before React re-renders each see the state the previous one produced.
 */
function useApprovals(client: ApprovalsClient, exit: (code: number) => void) {
  const [state, setState] = useState(initialState);
  const current = useRef(state);
  // Through a ref, so a new `exit` does not make a new `dispatch` (which would restart the stream).
  const exitRef = useRef(exit);
  exitRef.current = exit;
  const dispatch = useCallback(
    (action: Action): void => {
      const { state: next, effect } = step(current.current, action);
      current.current = next;
      setState(next);
      if (!effect) return;
      switch (effect.kind) {
        case 'quit':
          exitRef.current(0);
          return;
        case 'refresh':
          client.list().then(
            (requests) => dispatch({ type: 'snapshot', requests, refreshed: true }),
            (err: unknown) => dispatch({ type: 'failed', error: message(err) }),
          );
          return;
        case 'approve':
        case 'deny': {
          const call = effect.kind === 'approve' ? client.approve(effect.id, effect.window) : client.deny(effect.id, effect.reason);
          call.then(
            (request) => dispatch({ type: 'result-ok', decision: effect.kind, request, ...(effect.kind === 'approve' && effect.window ? { window: effect.window } : {}) }),
            (err: unknown) => dispatch({ type: 'failed', id: effect.id, error: message(err) }),
          );
          return;
        }
      }
    },
    [client],
  );
  // Keys are read against `current`, not the rendered state: "d" then "r" typed faster than a
  // render must put an "r" in the reason, not refresh.
  const onKey = useCallback((input: string, key: KeyPress) => {
    const action = keyAction(current.current.mode, input, key);
    if (action) dispatch(action);
  }, [dispatch]);
  return { state, dispatch, onKey };
}

/** The approvals screen: live list of held statements, the selected one in full, and the keys to decide. */
export function App({ client, clock = Date.now }: AppProps) {
  const { exit } = useApp();
  const { rows } = useWindowSize();
  const { state, dispatch, onKey } = useApprovals(client, exit);
  const [now, setNow] = useState(clock);

  // Ages and expiry countdowns move even when nothing else happens.
  useEffect(() => {
    const timer = setInterval(() => setNow(clock()), 1000);
    return () => clearInterval(timer);
  }, [clock]);

  useEffect(() => {
    const abort = new AbortController();
    client
      .stream(
        (requests) => dispatch({ type: 'snapshot', requests }),
        (request) => dispatch({ type: 'change', request }),
        abort.signal,
        (error) => dispatch({ type: 'stream-down', error }),
      )
      .catch((err: unknown) => dispatch({ type: 'failed', error: `live updates stopped: ${message(err)}` }));
    return () => abort.abort();
  }, [client, dispatch]);

  useInput(onKey);

  const selected = selectedRequest(state);
  const pending = state.requests.filter((r) => r.status === 'pending').length;
  return (
    <Box flexDirection="column">
      <Text bold>
        hoop approvals <Text dimColor>· {pending} pending</Text>
      </Text>
      <RequestList requests={state.requests} selectedId={state.selectedId} now={now} maxRows={Math.max(5, Math.floor(rows / 3))} />
      {state.mode === 'help' ? <KeyHelp mode="help" /> : selected && <RequestDetail request={selected} now={now} notice={elsewhereNotice(state, selected)} />}
      {state.mode === 'window' && <Prompt label={`approve ${state.target} with a window of`} value={state.input} placeholder={DEFAULT_WINDOW} />}
      {state.mode === 'deny-reason' && <Prompt label={`deny ${state.target}, reason:`} value={state.input} placeholder="(required)" />}
      <StatusBar message={state.message} live={state.live} />
      {state.mode !== 'help' && <KeyHelp mode={state.mode} />}
    </Box>
  );
}

/**
 * `hoop approve` with no id. Resolves to the exit code: 0 after q, 130 after Ctrl+C (the shell's
 * convention for an interrupt).
 */
export async function runApprovalsTui(auth: GatewayAuth, opts: { stdin?: NodeJS.ReadStream; stdout?: NodeJS.WriteStream } = {}): Promise<number> {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  // Ink needs raw mode to read single keys; without a terminal it would throw something obscure.
  if (!stdin.isTTY) {
    throw new UsageError('the approvals screen needs an interactive terminal', 'list with `hoop approvals list`, decide with `hoop approve <id>` or `hoop deny <id> --reason …`');
  }
  const client = new HttpApprovalsClient(auth);
  // The alternate screen keeps a full-screen, constantly redrawn view out of the scrollback.
  // The screen only makes sense live: a person at a terminal gets it even where CI=true is set
  // (ink would otherwise print just the last frame at exit).
  const instance = render(<App client={client} />, { stdin, stdout, alternateScreen: true, interactive: Boolean((stdout as NodeJS.WriteStream).isTTY) });
  const result = await instance.waitUntilExit();
  return typeof result === 'number' ? result : 130;
}
