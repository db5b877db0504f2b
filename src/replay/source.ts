import { getSession } from '../cli/sessions-source.js';
import { buildTimeline, type SourceEvent, type Timeline, type TimelineOptions } from './timeline.js';

/**
 * A session's timeline from where `hoop sessions show` reads it: the gateway's API by default,
 * or the store directly with `--config`.
 */
export async function loadTimeline(options: Record<string, unknown>, id: string, timelineOptions: TimelineOptions = {}): Promise<Timeline> {
  const { session, events } = await getSession(options, id);
  return buildTimeline(session, events as readonly SourceEvent[], timelineOptions);
}
